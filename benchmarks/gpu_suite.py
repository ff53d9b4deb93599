"""The GPU suite: every GPU check and figure of the project in one command, sized for a lent H200.

A lent GPU comes by chance, for 15 minutes of device time in all, so everything is prepared beforehand on the CPU:

    python benchmarks/gpu_suite.py --prepare            # here: wheels → .whl/, data → .gpu/ (both ignored, carried)
    python benchmarks/gpu_suite.py --print-device-call  # the exact device run calls (command, carry, timeout_s)
    python benchmarks/gpu_suite.py --dry-run            # every part on the CPU at tiny shapes, in seconds (tested)

On the device (what ``--print-device-call`` prints): ``python3 benchmarks/gpu_suite.py --parts core --budget 380
--out $OUT``, then ``--parts train10m --budget 225``. docs/gpu.md has the whole procedure and the budget split.

Parts (``--parts``, comma-separated; ``core`` = the first five, ``all`` = every one):

* ``tests`` — ``pytest -m gpu`` over the test files that carry the ``gpu`` mark;
* ``throughput`` — training tokens/s, MFU and peak memory of both teachers, the student (eager and compiled),
  online and cached distillation, the cache build, the HF-Trainer baseline (``gpu_throughput.py``);
* ``blimp`` — BLiMP pairs/s of the 58M student, GPU scores against CPU scores (``gpu_runs.py``);
* ``realrun`` — bf16-mixed vs fp32 loss curves on the real Gutenberg EB1911 slice (``gpu_runs.py``);
* ``recipe`` — the reference recipe's wall time by arithmetic from the measured rates (``gpu_report.py``);
* ``train10m`` — the student alone on the 10M-word corpus for ``--train-seconds``, val loss and BLiMP (optional).

Writes under ``--out`` (default ``runs/gpu_suite``): ``suite.json`` (every figure, rewritten after each part),
``summary.md`` (the BENCHMARKS.md section), ``pytest.txt`` and ``realrun.png``. The suite keeps to ``--budget``
seconds: a part that cannot finish before the deadline (less what the later parts need) is skipped, and says so.
Exit code 0 when every part ran, 1 when one failed or was skipped, 2 for a usage or preparation error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_prepare import PrepareError, device_calls, prepare  # noqa: E402  (benchmarks/)
from gpu_setup import DATA, REPO, Setup, SetupError, device_setup, dry_run_setup  # noqa: E402

PARTS = ("tests", "throughput", "blimp", "realrun", "recipe", "train10m")
# the durations that fit the device calls of gpu_prepare.CALLS (docs/gpu.md, "Budget")
DEVICE_DEFAULTS = {"seconds": 6.0, "realrun_seconds": 15.0, "train_seconds": 165.0}
ALIASES = {"core": list(PARTS[:5]), "all": list(PARTS)}


def parse_parts(text: str) -> list[str]:
    """``"core"``, ``"all"`` or names from :data:`PARTS`, comma-separated → the parts in suite order."""
    chosen: set[str] = set()
    for name in (t.strip() for t in text.split(",") if t.strip()):
        if name not in PARTS and name not in ALIASES:
            raise argparse.ArgumentTypeError(f"unknown part {name!r}; choose from {', '.join((*PARTS, *ALIASES))}")
        chosen.update(ALIASES.get(name, [name]))
    if not chosen:
        raise argparse.ArgumentTypeError("no part chosen")
    return [p for p in PARTS if p in chosen]


def estimate(part: str, setup: Setup) -> float:
    """Seconds a part needs on the GPU (what later parts reserve from the deadline); ~0 in a dry run."""
    if setup.dry_run:
        return 0.0
    return {"tests": 75.0, "throughput": 120.0, "blimp": 25.0, "realrun": 4.5 * setup.realrun_seconds + 25.0,
            "recipe": 0.0, "train10m": setup.train_seconds + 45.0}[part]


def gpu_test_files(root: Path = REPO / "tests") -> list[str]:
    """Test files (relative to the repository) that mark a test ``gpu``."""
    return sorted(str(p.relative_to(REPO)) for p in root.rglob("test_*.py")
                  if "mark.gpu" in p.read_text(encoding="utf-8"))


def run_tests(setup: Setup, suite: dict, report) -> dict:
    """``pytest -m gpu`` over :func:`gpu_test_files` in a child process; counts from its JUnit XML."""
    xml = setup.scratch / "pytest.xml"
    files = gpu_test_files()
    # a worker per file on the GPU machine (pytest-xdist, the project's addopts); none in a dry run on a small CPU
    workers = "0" if setup.dry_run else str(min(4, len(files)))
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", "-n", workers,
               f"--junitxml={xml}", *files]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    left = setup.remaining()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env,
                          timeout=max(30.0, left) if math.isfinite(left) else None)
    if setup.out is not None:
        (setup.out / "pytest.txt").write_text(done.stdout[-200_000:] + done.stderr[-50_000:], encoding="utf-8")
    if not xml.is_file():
        tail = (done.stderr or done.stdout).strip()[-500:]
        raise RuntimeError(f"pytest wrote no report (exit {done.returncode}): {tail}")
    suite_xml = ElementTree.parse(xml).getroot()
    suite_xml = suite_xml if suite_xml.tag == "testsuite" else suite_xml.find("testsuite")
    counts = {k: int(suite_xml.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    failures = [f"{case.get('classname')}::{case.get('name')}" for case in suite_xml.iter("testcase")
                if case.find("failure") is not None or case.find("error") is not None]
    result = {"command": f"pytest -m gpu -n {workers} " + " ".join(files),
              "exit_code": done.returncode, "passed": counts["tests"] - counts["failures"] - counts["errors"]
              - counts["skipped"], "failed": counts["failures"], "errors": counts["errors"],
              "skipped": counts["skipped"], "failures": failures}
    report("tests", result)
    if done.returncode not in (0, 5) or failures:
        raise RuntimeError(f"{len(failures)} GPU test(s) failed: {', '.join(failures)} (see pytest.txt)")
    return result


def run_throughput(setup: Setup, suite: dict, report) -> dict:
    from gpu_throughput import run_throughput as measure

    return {"seconds_per_row": setup.seconds, "precision": setup.precision, **measure(setup, report)}


def run_blimp(setup: Setup, suite: dict, report) -> dict:
    from gpu_runs import run_blimp as measure

    return measure(setup, report)


def run_realrun(setup: Setup, suite: dict, report) -> dict:
    from gpu_runs import run_realrun as measure

    return measure(setup, report)


def run_recipe(setup: Setup, suite: dict, report) -> dict:
    """The recipe arithmetic from this run's throughput rows and the corpus's train tokens."""
    from gpu_report import recipe_time
    from gpu_throughput import data_module, role

    rows = suite["parts"].get("throughput", {}).get("rows")
    if not rows:
        raise RuntimeError("the recipe arithmetic needs the throughput part in the same run "
                           "(--parts throughput,recipe)")
    tokens = int(data_module(setup, setup.corpus, 1, 1).meta["splits"]["train"]["tokens"])
    epochs = {"teachers": [int(role(p)[0].trainer.max_epochs or 1) for p in setup.teachers],
              "student": int(role(setup.student)[0].trainer.max_epochs or 1)}
    return recipe_time(rows, tokens, epochs)


def run_train10m(setup: Setup, suite: dict, report) -> dict:
    from gpu_runs import run_train10m as measure

    return measure(setup, report)


RUNNERS = {"tests": run_tests, "throughput": run_throughput, "blimp": run_blimp, "realrun": run_realrun,
           "recipe": run_recipe, "train10m": run_train10m}


def write(out: Path, suite: dict) -> None:
    """Write ``suite.json`` and ``summary.md`` atomically (after every part: a killed run keeps what it measured)."""
    from gpu_report import markdown

    from babylm.core.atomic import atomic_write_json, atomic_write_text

    atomic_write_json(out / "suite.json", suite)
    atomic_write_text(out / "summary.md", markdown(suite))


def build_parser() -> argparse.ArgumentParser:
    """Return the suite's argument parser."""
    parser = argparse.ArgumentParser(prog="python benchmarks/gpu_suite.py", description=__doc__.split("\n\n")[0],
                                     epilog="On a lent GPU run what --print-device-call prints (docs/gpu.md).")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--prepare", action="store_true", help="CPU side: wheels → .whl/, tokenized corpora and BLiMP → "
                      ".gpu/ (needs ../shared/data and PyPI; run it in the checkout whose session gets the GPU)")
    mode.add_argument("--print-device-call", action="store_true",
                      help="print the device run calls (command, carry, timeout_s) as JSON, and exit")
    mode.add_argument("--dry-run", action="store_true", help="every part on the CPU at tiny shapes, in seconds")
    parser.add_argument("--parts", type=parse_parts, default=ALIASES["core"],
                        help=f"comma-separated from {', '.join(PARTS)}; core = the first five, all (default: core)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "gpu_suite",
                        help="output folder (default: %(default)s)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds the suite may take (default: 380; a dry run: no limit)")
    parser.add_argument("--seconds", type=float, default=None, help="timed seconds per throughput row (default: 6)")
    parser.add_argument("--realrun-seconds", type=float, default=None, help="bf16 seconds of realrun (default: 15)")
    parser.add_argument("--train-seconds", type=float, default=None, help="training seconds of train10m (default: 165)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak for MFU (default: 790, H200)")
    parser.add_argument("--data", type=Path, default=None,
                        help=f"the prepared folder (default: {DATA}); with --dry-run: tiny shapes over it, a CPU "
                             f"check of what --prepare wrote (default there: a synthetic corpus)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite (or --prepare / --print-device-call); returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.print_device_call:
        print(json.dumps(device_calls(), indent=2, ensure_ascii=False))
        return 0
    if args.prepare:
        try:
            prepare()
        except PrepareError as error:
            print(f"gpu_suite --prepare: {error}", file=sys.stderr)
            return 2
        return 0
    os.environ.setdefault("WANDB_MODE", "disabled")
    import torch

    threads = torch.get_num_threads()
    if args.dry_run:  # tiny shapes gain nothing from threads, and on a busy CPU waiting threads stall each step
        torch.set_num_threads(1)
    try:
        return run_suite(args, argv)
    finally:
        torch.set_num_threads(threads)


def run_suite(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Build the setup, run the chosen parts in order within the budget, write the outputs; returns the exit code."""
    started = time.monotonic()
    overrides = {k: v for k, v in (("seconds", args.seconds), ("realrun_seconds", args.realrun_seconds),
                                   ("train_seconds", args.train_seconds), ("peak_tflops", args.peak_tflops))
                 if v is not None}
    if not args.dry_run:
        overrides = {**DEVICE_DEFAULTS, **overrides}
    scratch = tempfile.TemporaryDirectory(prefix="gpu-suite-")
    try:
        setup = (dry_run_setup(Path(scratch.name), args.data, **overrides) if args.dry_run
                 else device_setup(args.data or DATA, scratch=Path(scratch.name), **overrides))
    except SetupError as error:
        print(f"gpu_suite: {error}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    setup.out = args.out
    budget = args.budget if args.budget is not None else (float("inf") if args.dry_run else 380.0)
    from harness import machine_line

    suite = {"command": "python benchmarks/gpu_suite.py " + " ".join(argv if argv is not None else sys.argv[1:]),
             "machine": machine_line(packages=("torch", "lightning", "transformers")), "device": device_name(setup),
             "peak_tflops": setup.peak_tflops, "budget_seconds": budget if math.isfinite(budget) else None,
             "notes": setup.notes, "parts": {}}
    print(suite["machine"], flush=True)

    def report(name: str, row: dict) -> None:
        brief = ", ".join(f"{k} {v:,.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
                          if isinstance(v, (int, float)) and not isinstance(v, bool))
        print(f"[{time.monotonic() - started:5.0f} s] {name}: {brief}", flush=True)

    for index, part in enumerate(args.parts):
        setup.deadline = started + budget - sum(estimate(p, setup) for p in args.parts[index + 1:])
        part_started = time.monotonic()
        if setup.remaining() < 0.5 * estimate(part, setup):
            reason = f"{setup.remaining():.0f} s left for it in the budget"
            suite["parts"][part] = {"status": "skipped", "reason": reason}
        else:
            try:
                result = RUNNERS[part](setup, suite, report)
                suite["parts"][part] = {"status": "partial" if result.get("failed_rows") else "ok", **result}
            except Exception as error:  # one part's failure must not lose the others' figures
                suite["parts"][part] = {"status": "failed", "error": f"{type(error).__name__}: {error}",
                                        "traceback": traceback.format_exc()[-4000:]}
                print(traceback.format_exc(), file=sys.stderr, flush=True)
        suite["parts"][part]["seconds"] = time.monotonic() - part_started
        suite["wall_seconds"] = time.monotonic() - started
        print(f"[{suite['wall_seconds']:5.0f} s] part {part}: {suite['parts'][part]['status']}", flush=True)
        write(args.out, suite)
    scratch.cleanup()
    print((args.out / "summary.md").read_text(encoding="utf-8"))
    return 0 if all(p["status"] == "ok" for p in suite["parts"].values()) else 1


def device_name(setup: Setup) -> str:
    """The GPU's name, or ``"CPU (dry run)"`` / ``"CPU"``."""
    import torch

    if setup.device == "cuda":
        return torch.cuda.get_device_name(0)
    return "CPU (dry run)" if setup.dry_run else "CPU"


if __name__ == "__main__":
    raise SystemExit(main())
