"""Peak memory and time of ``evaluate --tasks perplexity --max-tokens N`` on a file that is one huge line.

Run: ``python benchmarks/bench_perplexity_memory.py [--mb 50] [--max-tokens 2000] [--runs 2] [--baseline-repo DIR]``.

Builds, in a temporary folder, a tiny random LLaMA exported with a byte-level BPE (2,000 tokens, the quick
start's size) trained on the real EB1911 Gutenberg slice in ``../shared/data``, and a text file that is
that slice with its line breaks turned into spaces, repeated to ``--mb`` megabytes on ONE line (one
document, no line break to cut at). Then runs ``python -m babylm evaluate --tasks perplexity --max-tokens N``
on it as a user would, each run a fresh process, and reports its wall time and peak RSS (the process's own
``ru_maxrss``). With ``--baseline-repo`` (another checkout, e.g. a ``git worktree`` of an older commit) the
same command runs from there too, the two alternating run by run, and the ratios are printed.
Writes only into its temporary folder.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))

from harness import machine_line  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "eb1911" / "gutenberg" / "19699-8.txt"


def build_inputs(work: Path, megabytes: int) -> tuple[Path, Path]:
    """Write the tiny model folder and the one-line text file into ``work``; returns (model dir, text file)."""
    from babylm.data.tokens.tokenizer import to_hf_tokenizer, train_tokenizer
    from babylm.models.build import ModelConfig, build_model

    prose = re.sub(r"\s+", " ", SHARED.read_text(encoding="latin-1")).strip()
    tokenizer = train_tokenizer(texts=[prose[i : i + 10_000] for i in range(0, len(prose), 10_000)], vocab_size=2_000)
    model = build_model(ModelConfig(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128,
                                    max_position_embeddings=128), tokenizer.get_vocab_size())
    model_dir = work / "model"
    model.save_pretrained(str(model_dir))
    to_hf_tokenizer(tokenizer).save_pretrained(str(model_dir))
    text = work / "one_line.txt"
    target = megabytes * 1_000_000
    with open(text, "w", encoding="utf-8") as handle:
        written = 0
        while written < target:
            handle.write(prose + " ")
            written += len(prose) + 1
        handle.write("\n")
    return model_dir, text


def run_once(repo: Path, model_dir: Path, text: Path, max_tokens: int, out: Path) -> tuple[float, float]:
    """Run the evaluate command from ``repo`` once; returns (wall seconds, peak RSS in GiB)."""
    command = [sys.executable, "-m", "babylm", "evaluate", "--model", str(model_dir), "--tasks", "perplexity",
               "--val-file", str(text), "--max-tokens", str(max_tokens), "--out", str(out), "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": str(repo), "TOKENIZERS_PARALLELISM": "false"}
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed in {repo}: {process.stderr.read().decode()[-2000:]}")
    process.stderr.close()
    return seconds, usage.ru_maxrss / 2**20  # ru_maxrss is in KiB on Linux


def main() -> int:
    """Build the inputs, time the command (and the baseline), print a Markdown table; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=50, help="size of the one-line file in MB (default: %(default)s)")
    parser.add_argument("--max-tokens", type=int, default=2000,
                        help="--max-tokens of the command (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=2, help="runs of each checkout (default: %(default)s)")
    parser.add_argument("--baseline-repo", type=Path, default=None, help="another checkout to run side by side")
    args = parser.parse_args()
    if not SHARED.is_file():
        print(f"needs the EB1911 Gutenberg slice at {SHARED}", file=sys.stderr)
        return 2
    print(machine_line(check_gpu=False, packages=("torch", "transformers", "tokenizers")))
    repos = {"this checkout": REPO, **({"baseline": args.baseline_repo.resolve()} if args.baseline_repo else {})}
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        model_dir, text = build_inputs(work, args.mb)
        print(f"input: {text.stat().st_size / 1e6:.1f} MB on one line; --max-tokens {args.max_tokens}")
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in repos}
        for run in range(args.runs):
            for name, repo in repos.items():  # alternate, so drift of the machine hits both alike
                results[name].append(run_once(repo, model_dir, text, args.max_tokens,
                                              work / f"out-{run}-{len(results[name])}"))
    print("\n| checkout | wall time (s, median) | peak RSS (GiB, median) |")
    print("|---|---:|---:|")
    medians = {}
    for name, rows in results.items():
        medians[name] = (statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows))
        print(f"| {name} | {medians[name][0]:.1f} | {medians[name][1]:.2f} |")
    if "baseline" in medians:
        this, base = medians["this checkout"], medians["baseline"]
        print(f"\nbaseline / this checkout: time ×{base[0] / this[0]:.1f}, peak RSS ×{base[1] / this[1]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
