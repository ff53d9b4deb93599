"""Benchmark: causal-only against the hybrid objective (GPT-BERT's MNTP beside causal LM) at two mixes, over seeds.

Run (from the repository root, with a recipe whose data are encoded):

    python benchmarks/bench_hybrid.py --config configs/<small preset>.yaml --blimp-dir ../shared/data/blimp-dev \\
        --seeds 1 2 3 [--mixes 0.0625 0.9375] [--steps N] [--override data.batch_size=32 …] [--work DIR]
    python benchmarks/bench_hybrid.py --config configs/tiny/teacher_llama.yaml --mixes 0.5 --dry-run

Every step is the real command line (``python -m babylm …`` in a subprocess, run in ``--cwd``, default the current
directory, so the configs' relative data paths hold). Per seed, the variants — ``causal`` (``objective: causal``)
and ``hybrid-<share>`` for each ``--mixes`` share (``objective: hybrid``, ``hybrid.masked_share``) — train the same
model from the same initialisation (``--seed_everything``) on the same windows in the same order (``--data.seed``)
for the same optimizer steps, so the same tokens and words; then, for each run:

* ``validate`` on the last checkpoint → the final **val loss** (causal next-token CE over the fixed val subset,
  comparable across objectives);
* ``evaluate --backend causal`` and, for hybrid runs, ``evaluate --backend mntp`` on the export → **BLiMP** (mean
  over paradigms) with both backends (``--blimp-dir``, ``--blimp-limit``, ``--ties``);
* **tokens/s**: the mean of the run's logged ``train/tokens_per_s`` (training steps only; start-up and validation
  excluded), and the words seen (``train/words_seen``, equal across variants by construction);
* with ``--clock``, **CPU s/step**: the median process-CPU seconds of an optimizer step (``step_clock.py``) — on a
  shared machine a fairer speed figure than tokens/s; ``--speed-only`` skips validate and evaluate (a paired speed
  run: the variants alternate, seed after seed).

A distillation config works too (the student's objective is set the same way). ``--hybrid-override KEY=VALUE``
sets a fit option of the hybrid runs only and ``--tag`` names them ``hybrid-<share>-<tag>`` (e.g. a student's
``model.init_args.masked_windows=mntp``); ``--no-causal`` leaves the causal run out (run elsewhere). Seeds run
side by side with one ``--work`` each are summarised together by ``--report WORK …``.

Prints the machine line, one row per run and a summary per variant (mean ± sd over seeds); writes every run,
export and report under ``--work`` (default ``runs/bench_hybrid``) and ``results.json`` there. ``--dry-run``
prints the commands and checks each with the real parsers (``fit``'s config parser, ``evaluate``'s options, the
mix against the batch size) without running anything — the test of this script (tests/benchmarks/) runs that, and
one tiny run read back with :func:`read_run`, so it cannot rot.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_line  # noqa: E402  (benchmarks/harness.py)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MIXES = (1 / 16, 15 / 16)  # GPT-BERT's causal-focus (the BabyLM 2025 baseline) and masked-focus (its default)


def variants(mixes: Sequence[float], causal: bool = True, tag: str = "") -> list[tuple[str, Optional[float]]]:
    """``[("causal", None), ("hybrid-<share>[-<tag>]", share), …]`` (without the causal run when ``causal`` is
    false)."""
    suffix = f"-{tag}" if tag else ""
    return [*([("causal", None)] if causal else []), *((f"hybrid-{share:g}{suffix}", share) for share in mixes)]


def fit_args(configs: Sequence[Path], work: Path, run: str, seed: int, share: Optional[float],
             steps: Optional[int], overrides: Sequence[str], hybrid_overrides: Sequence[str] = (),
             clock: bool = False) -> list[str]:
    """The ``fit`` options of one run: the configs, the objective, the seeds, and every output under ``work``
    (with ``clock``, :class:`step_clock.StepClock`'s per-step times in ``work/clock/<run>.json``)."""
    args = [arg for config in configs for arg in ("-c", str(config))]
    args += ["--seed_everything", str(seed), "--data.seed", str(seed),
             "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
             "--trainer.logger.save_dir", str(work / "runs" / run), "--trainer.default_root_dir", str(work / "runs"),
             "--trainer.enable_progress_bar", "false", "--checkpoint.dirpath", str(work / "checkpoints" / run),
             "--model.init_args.export_dir", str(work / "exports" / run), "--model.init_args.export_weights", "last",
             "--word_checkpoints.milestones", "[]"]
    if share is None:
        args += ["--model.init_args.objective", "causal"]
    else:
        args += ["--model.init_args.objective", "hybrid", "--model.init_args.hybrid.masked_share", repr(share)]
    if steps is not None:
        args += ["--trainer.max_steps", str(steps), "--trainer.max_epochs", "-1"]
    if clock:
        args += ["--trainer.callbacks+=step_clock.StepClock",
                 "--trainer.callbacks.out", str(work / "clock" / f"{run}.json")]
    for override in [*overrides, *(hybrid_overrides if share is not None else ())]:
        key, _, value = override.partition("=")
        args += [f"--{key}", value]
    return args


def validate_args(fit: Sequence[str], work: Path, run: str) -> list[str]:
    """The ``validate`` options: the run's own config on its last checkpoint, logged beside it."""
    return [*fit, "--ckpt_path", str(work / "checkpoints" / run / "last.ckpt"),
            "--trainer.logger.save_dir", str(work / "runs" / f"{run}-validate")]


def evaluate_args(work: Path, run: str, backend: str, blimp_dir: Path, limit: Optional[int], ties: str) -> list[str]:
    """The ``evaluate`` options of one run and backend (reports in ``work/eval/<run>-<backend>``)."""
    args = ["--model", str(work / "exports" / run), "--backend", backend, "--blimp-dir", str(blimp_dir),
            "--out", str(work / "eval" / f"{run}-{backend}"), "--ties", ties]
    return args + (["--limit", str(limit)] if limit else [])


def _csv_column(run_dir: Path, name: str) -> list[float]:
    values = []
    for path in sorted(run_dir.glob("**/metrics.csv")):
        with open(path, newline="") as handle:
            values += [float(row[name]) for row in csv.DictReader(handle) if row.get(name)]
    return values


CLOCK_WARMUP = 10  # optimizer steps left out of the CPU-time median (allocator and first-call costs)


def read_run(work: Path, run: str, hybrid: bool, speed_only: bool = False) -> dict:
    """One run's figures from its files: ``val_loss``, ``blimp_causal``, ``blimp_mntp`` (None for a causal run),
    ``tokens_per_s`` and ``words_seen`` — and ``cpu_s_per_step``, the median process-CPU seconds of an optimizer
    step after the first :data:`CLOCK_WARMUP`, when the run had ``--clock``; with ``speed_only``, the speeds
    alone."""
    def blimp(backend: str) -> float:
        report = json.loads((work / "eval" / f"{run}-{backend}" / "blimp.json").read_text())
        return report["overall"]["accuracy"]

    speeds, words = _csv_column(work / "runs" / run, "train/tokens_per_s"), _csv_column(work / "runs" / run,
                                                                                         "train/words_seen")
    clock = work / "clock" / f"{run}.json"
    cpu = [step["cpu_s"] for step in json.loads(clock.read_text())["steps"][CLOCK_WARMUP:]] if clock.is_file() else []
    row = {"tokens_per_s": statistics.mean(speeds) if speeds else None,
           "cpu_s_per_step": statistics.median(cpu) if cpu else None, "words_seen": words[-1] if words else None}
    if speed_only:
        return {"val_loss": None, "blimp_causal": None, "blimp_mntp": None, **row}
    return {"val_loss": _csv_column(work / "runs" / f"{run}-validate", "val/loss")[-1],
            "blimp_causal": blimp("causal"), "blimp_mntp": blimp("mntp") if hybrid else None, **row}


def _cell(value: Optional[float], scale: float, form: str) -> str:
    return "—" if value is None else form.format(scale * value)


def mean_sd(values: Sequence[Optional[float]], scale: float = 1.0, digits: int = 4) -> str:
    """``"mean ± sd"`` of the values that are there (sd 0 for one value; ``"—"`` for none)."""
    values = [scale * v for v in values if v is not None]
    if not values:
        return "—"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f}"


def summary(results: dict[str, list[dict]]) -> list[str]:
    """The summary table's lines: per variant, mean ± sd over seeds of every figure."""
    lines = ["| variant | seeds | val loss | BLiMP causal % | BLiMP mntp % | tokens/s | CPU s/step |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for variant, rows in results.items():
        def column(key):
            return [row.get(key) for row in rows]
        lines.append(f"| {variant} | {len(rows)} | {mean_sd(column('val_loss'))} | "
                     f"{mean_sd(column('blimp_causal'), 100, 2)} | {mean_sd(column('blimp_mntp'), 100, 2)} | "
                     f"{mean_sd(column('tokens_per_s'), 1, 0)} | {mean_sd(column('cpu_s_per_step'), 1, 3)} |")
    return lines


def report(works: Sequence[Path]) -> list[str]:
    """The summary table of earlier runs' ``results.json`` under each of ``works`` (e.g. seeds run side by side
    with one ``--work`` each), merged by variant."""
    results: dict[str, list[dict]] = {}
    for work in works:
        path = work / "results.json"
        if not path.is_file():
            why = "its run has not finished" if work.is_dir() else "no such folder"
            raise SystemExit(f"bench_hybrid: --report {work}: no results.json there ({why})")
        for variant, rows in json.loads(path.read_text())["runs"].items():
            results.setdefault(variant, []).extend(rows)
    return summary(results)


def babylm(cwd: Path, *args: str) -> float:
    """Run ``python -m babylm args…`` in ``cwd`` (this checkout's package first); returns its wall seconds."""
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "benchmarks")]),
           "TOKENIZERS_PARALLELISM": "false",
           "PYTHONWARNINGS": "ignore"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "babylm", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench_hybrid: `babylm {' '.join(args)}` failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def _reason(error: BaseException) -> str:
    """The line(s) of a parser error that say what is wrong: under jsonargparse's "Problem with given class_path"
    (the model's own complaint, not the Union report around it), else its first line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if line.startswith("- Problem with given class_path"):
            detail = []
            for inner in lines[index + 1:]:
                if inner.startswith("- "):
                    break
                detail.append(inner)
            return " ".join(detail)
    return lines[0] if lines else str(error)


def check_commands(commands: list[list[str]], cwd: Path) -> None:
    """Parse every command with the real parsers (``fit``/``validate``: the command's config parser and the mix
    against ``data.batch_size``; ``evaluate``: its options); raise SystemExit naming the first that fails."""
    from jsonargparse import ArgumentError

    from babylm.commands.evaluate import build_parser as evaluate_parser
    from babylm.commands.fit import build_parser as training_parser
    from babylm.data.tokens.masking import MaskingError, masked_per_step

    here = Path.cwd()
    os.chdir(cwd)
    try:
        for command in commands:
            name, options = command[0], command[1:]
            try:
                if name == "evaluate":
                    evaluate_parser().parse_args(options)
                    continue
                config = training_parser(name).parse_args(options)
                if config.get("model.init_args.objective") == "hybrid":
                    masked_per_step(config.get("model.init_args.hybrid").masked_share, config.get("data.batch_size"))
            except (ArgumentError, MaskingError, SystemExit) as error:
                raise SystemExit(f"bench_hybrid: a `babylm {name}` of the plan would fail: {_reason(error)}") from None
    finally:
        os.chdir(here)


def main(argv: Optional[list[str]] = None) -> int:
    """Run the benchmark on ``argv``; returns an exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, action="append",
                        help="a training config (repeat to compose; base.yaml is read first by fit itself)")
    parser.add_argument("--blimp-dir", type=Path, default=REPO.parent / "shared" / "data" / "blimp-dev",
                        help="BLiMP JSONL files (default: %(default)s)")
    parser.add_argument("--blimp-limit", type=int, default=None, help="pairs per paradigm (default: all)")
    parser.add_argument("--ties", choices=("wrong", "correct"), default="wrong", help="evaluate's tie rule")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--mixes", type=float, nargs="+", default=list(DEFAULT_MIXES),
                        help="masked shares of the hybrid runs (default: 1/16 and 15/16)")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per run (default: the config's)")
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="a fit option for every run, e.g. data.batch_size=32 (repeatable)")
    parser.add_argument("--work", type=Path, default=Path("runs") / "bench_hybrid",
                        help="outputs (default: %(default)s)")
    parser.add_argument("--cwd", type=Path, default=Path.cwd(), help="where the commands run (default: here)")
    parser.add_argument("--hybrid-override", action="append", default=[], metavar="KEY=VALUE",
                        help="a fit option for the hybrid runs only, e.g. model.init_args.masked_windows=mntp")
    parser.add_argument("--tag", default="", help="appended to the hybrid runs' names (hybrid-<share>-<tag>)")
    parser.add_argument("--no-causal", action="store_true", help="leave out the causal-only run (run elsewhere)")
    parser.add_argument("--clock", action="store_true",
                        help="time every optimizer step's process-CPU seconds (benchmarks/step_clock.py): a speed "
                             "figure that other processes' load changes far less than tokens/s")
    parser.add_argument("--speed-only", action="store_true", help="train only (no validate, no evaluate)")
    parser.add_argument("--dry-run", action="store_true", help="print and check the commands; run nothing")
    parser.add_argument("--report", type=Path, nargs="+", metavar="WORK",
                        help="print the summary of finished runs' results.json under these --work folders; run nothing")
    args = parser.parse_args(argv)
    if args.report:
        print("\n".join(report(args.report)))
        return 0
    if not args.config:
        parser.error("--config is required (unless --report)")
    cwd = args.cwd.resolve()
    configs = [c if c.is_absolute() else (cwd / c) for c in args.config]
    work = args.work if args.work.is_absolute() else cwd / args.work
    plan = []  # (variant, seed, run, hybrid, [commands])
    for seed in args.seeds:
        for variant, share in variants(args.mixes, not args.no_causal, args.tag):
            run = f"{variant}-seed{seed}"
            fit = fit_args(configs, work, run, seed, share, args.steps, args.override, args.hybrid_override,
                           args.clock)
            commands = [["fit", *fit]] + ([] if args.speed_only else [["validate", *validate_args(fit, work, run)]])
            for backend in () if args.speed_only else ("causal", "mntp") if share is not None else ("causal",):
                commands.append(["evaluate", *evaluate_args(work, run, backend, args.blimp_dir, args.blimp_limit,
                                                            args.ties)])
            plan.append((variant, seed, run, share is not None, commands))
    if not args.speed_only and not args.blimp_dir.is_dir():  # before a dry run says the plan is fine
        raise SystemExit(f"bench_hybrid: --blimp-dir {args.blimp_dir} not found")
    if args.dry_run:
        for *_, commands in plan:
            for command in commands:
                print("python -m babylm " + " ".join(command))
        check_commands([c for *_, commands in plan for c in commands], cwd)
        print(f"bench_hybrid: {sum(len(c) for *_, c in plan)} commands checked (dry run: nothing ran)")
        return 0
    print(machine_line())
    print("| variant | seed | fit s | val loss | BLiMP causal % | BLiMP mntp % | tokens/s | CPU s/step | words seen |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    results: dict[str, list[dict]] = {}
    for variant, seed, run, hybrid, commands in plan:
        seconds = [babylm(cwd, *command) for command in commands]
        row = {"seed": seed, "fit_seconds": round(seconds[0], 1), **read_run(work, run, hybrid, args.speed_only)}
        results.setdefault(variant, []).append(row)
        cells = [_cell(row["val_loss"], 1, "{:.4f}"), _cell(row["blimp_causal"], 100, "{:.2f}"),
                 _cell(row["blimp_mntp"], 100, "{:.2f}"), _cell(row["tokens_per_s"], 1, "{:.0f}"),
                 _cell(row["cpu_s_per_step"], 1, "{:.3f}"), _cell(row["words_seen"], 1, "{:,.0f}")]
        print(f"| {variant} | {seed} | {seconds[0]:.0f} | " + " | ".join(cells) + " |", flush=True)
    print("\n" + "\n".join(summary(results)))
    work.mkdir(parents=True, exist_ok=True)
    temporary = work / ".results.json.tmp"
    temporary.write_text(json.dumps({"machine": machine_line(), "argv": argv or sys.argv[1:], "runs": results},
                                    indent=2))
    temporary.replace(work / "results.json")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except SystemExit as stop:  # a refusal (one line) is exit code 2, as babylm's own commands
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
            raise SystemExit(2) from None
        raise
