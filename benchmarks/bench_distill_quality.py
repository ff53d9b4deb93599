"""Benchmark: does a student distilled from a teacher cache match the online one? Val loss and BLiMP, 3 seeds.

Run: ``python benchmarks/bench_distill_quality.py`` (``--help`` for the options). Every step is the real
command line (``python -m babylm …`` in a subprocess) in a workspace outside the repository (``--work``,
default ``/tmp/babylm-distill-quality``; finished steps are re-used on a rerun):

1. ``prepare --source gutenberg`` on the real Project Gutenberg EB1911 slice
   (``../shared/data/eb1911/gutenberg/19699-8.txt``, "use everything" mode with 10% val, or word budgets
   ``--train-words``/``--val-words`` for a shorter run), ``tokenizer``
   (``--vocab-size``, default 4,000), ``encode``;
2. the two tiny teachers (``configs/tiny/teacher_llama.yaml``, ``configs/tiny/teacher_gptj.yaml``),
   ``--teacher-steps`` optimizer steps of ``--batch-size`` windows each;
3. per seed and per variant — ``online`` (the teachers run every step) or a compact form ``sample-K`` /
   ``topk-K`` (``cache-teachers`` first, then ``fit`` from the cache; the sample seed follows the run's
   seed) — the tiny student (``configs/tiny/distill.yaml``) for ``--epochs`` epochs over the train windows,
   the same steps, data order and initialisation for every variant of a seed; the final ``val/loss`` over
   every val window, and BLiMP (``evaluate --blimp-dir ../shared/data/blimp-dev``, mean over paradigms).

Prints the machine line, one row per run (with whole-process wall times of the cache build and of ``fit``)
and a summary per variant (mean ± standard deviation over seeds). Writes only inside ``--work``.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_line  # noqa: E402  (benchmarks/harness.py)

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
TINY = REPO / "configs" / "tiny"


def babylm(work: Path, *args: str) -> float:
    """Run ``python -m babylm args…`` in ``work`` (this checkout's package first); returns its wall seconds."""
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false",
           "PYTHONWARNINGS": "ignore"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "babylm", *args], cwd=work, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench_distill_quality: `babylm {' '.join(args)}` failed ({done.returncode}):\n"
                         f"{done.stderr[-3000:]}")
    return time.perf_counter() - start


def train_windows(work: Path, seq_len: int = 128) -> int:
    """Number of train windows of the workspace's (only) encoding."""
    (meta,) = (work / "data" / "tokenized").glob("*/meta.json")
    return json.loads(meta.read_text())["splits"]["train"]["tokens"] // seq_len


def last_val_loss(run_dir: Path) -> float:
    """The last ``val/loss`` in the run's CSV metrics."""
    (path,) = run_dir.glob("**/metrics.csv")
    with open(path, newline="") as handle:
        return [float(r["val/loss"]) for r in csv.DictReader(handle) if r.get("val/loss")][-1]


def subset_workspace(work: Path, windows: int, seq_len: int = 128) -> Path:
    """``<work>/first-<windows>/``: the workspace's tokenizer, teachers and val split, train = its first
    ``windows`` windows.

    The student runs there, so a cache build and the epochs over the train windows stay CPU-sized while the
    teachers are the ones trained on the whole train split. Rewritten on every call (nothing else is kept there
    but the students' runs).
    """
    import shutil

    import numpy as np

    (meta_path,) = (work / "data" / "tokenized").glob("*/meta.json")
    meta = json.loads(meta_path.read_text())
    train, val = meta["splits"]["train"], meta["splits"]["val"]
    if train["tokens"] < windows * seq_len:
        raise SystemExit(f"bench_distill_quality: --train-windows {windows} is more than the "
                         f"{train['tokens'] // seq_len} there are")
    sub = work / f"first-{windows}"
    out = sub / "data" / "tokenized" / meta_path.parent.name
    out.mkdir(parents=True, exist_ok=True)
    np.fromfile(meta_path.parent / train["bin"], dtype=np.uint16, count=windows * seq_len).tofile(out / train["bin"])
    shutil.copyfile(meta_path.parent / val["bin"], out / val["bin"])
    share = windows * seq_len / train["tokens"]
    meta["splits"]["train"] = {**train, "tokens": windows * seq_len, "words": round(train["words"] * share),
                               "documents": max(1, round(train["documents"] * share))}
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    checkpoints = sub / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(work / "checkpoints" / "tokenizer-clean.json", checkpoints / "tokenizer-clean.json")
    shutil.copytree(work / "checkpoints" / "tokenizer", checkpoints / "tokenizer", dirs_exist_ok=True)
    for teacher in ("Tiny-Llama", "Tiny-GPTJ"):
        if not (checkpoints / teacher).exists():
            (checkpoints / teacher).symlink_to(work / "checkpoints" / teacher)
    return sub


def cache_args(variant: str, seed: int) -> list[str]:
    """The ``model.init_args.cache`` overrides of a variant (``online``: none)."""
    if variant == "online":
        return ["--model.init_args.cache", "null"]
    method, k = variant.rsplit("-", 1)
    return ["--model.init_args.cache.method", method, "--model.init_args.cache.k", k,
            "--model.init_args.cache.seed", str(seed)]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on ``argv``; returns an exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/babylm-distill-quality"),
                        help="workspace (default: %(default)s)")
    parser.add_argument("--gutenberg", type=Path, default=SHARED / "eb1911" / "gutenberg" / "19699-8.txt")
    parser.add_argument("--blimp-dir", type=Path, default=SHARED / "blimp-dev")
    parser.add_argument("--blimp-limit", type=int, default=None, help="pairs per paradigm (default: all)")
    parser.add_argument("--train-words", type=int, default=None,
                        help="train word budget of prepare (default: every word but the val share)")
    parser.add_argument("--val-words", type=int, default=None, help="val word budget (with --train-words)")
    parser.add_argument("--train-windows", type=int, default=None,
                        help="train the students on the first N train windows only (teachers: on all; default: all)")
    parser.add_argument("--vocab-size", type=int, default=4000, help="tokenizer size (default: %(default)s)")
    parser.add_argument("--teacher-steps", type=int, default=300,
                        help="optimizer steps per teacher (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=6,
                        help="student epochs over the train windows (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=32, help="windows per optimizer step (default: %(default)s)")
    parser.add_argument("--teacher-batch-size", type=int, default=32,
                        help="windows per teacher step (default: %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--variants", nargs="+", default=["online", "sample-12", "sample-64", "topk-32"])
    args = parser.parse_args(argv)
    for path in (args.gutenberg, args.blimp_dir):
        if not path.exists():
            raise SystemExit(f"bench_distill_quality: {path} not found (the shared data folder)")
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    print(machine_line(check_gpu=False))
    split = (["--train-words", str(args.train_words), "--val-words", str(args.val_words or args.train_words // 9)]
             if args.train_words else ["--val-fraction", "0.1"])
    babylm(work, "prepare", "--source", "gutenberg", "--gutenberg-file", str(args.gutenberg), *split)
    babylm(work, "tokenizer", "--vocab-size", str(args.vocab_size))
    babylm(work, "encode")
    common = ["--trainer.logger", "lightning.pytorch.loggers.CSVLogger", "--trainer.enable_progress_bar", "false",
              "--data.batch_size", str(args.batch_size), "--data.eval_samples", "100000",
              "--word_checkpoints.milestones", "[]", "--trainer.log_every_n_steps", "50"]
    for name, export in (("teacher_llama", "Tiny-Llama"), ("teacher_gptj", "Tiny-GPTJ")):
        if not (work / "checkpoints" / export / "model.safetensors").is_file():
            seconds = babylm(work, "fit", "-c", str(TINY / f"{name}.yaml"), *common,
                             "--data.batch_size", str(args.teacher_batch_size),
                             "--trainer.logger.save_dir", f"runs/{name}",
                             "--trainer.max_steps", str(args.teacher_steps),
                             "--trainer.val_check_interval", str(args.teacher_steps))
            print(f"teacher {export}: {args.teacher_steps} steps in {seconds:.0f} s, val loss "
                  f"{last_val_loss(work / 'runs' / name):.4f}", flush=True)
    print(f"teachers: {train_windows(work)} train windows, val loss " + ", ".join(
        f"{name} {last_val_loss(work / 'runs' / f'teacher_{name}'):.4f}" for name in ("llama", "gptj")))
    if args.train_windows:
        work = subset_workspace(work, args.train_windows)
    windows = train_windows(work)
    steps = args.epochs * windows // args.batch_size
    print(f"student: {windows} train windows of 128 tokens, batch {args.batch_size}, {args.epochs} epochs = "
          f"{steps} steps; vocabulary {args.vocab_size}")
    print("| variant | seed | cache build s | fit s | final val loss | BLiMP (mean of paradigms) |")
    print("|---|---:|---:|---:|---:|---:|")
    results: dict[str, list[tuple[float, float]]] = {}
    for seed in args.seeds:
        for variant in args.variants:
            run = f"{variant}-seed{seed}"
            settings = ["-c", str(TINY / "distill.yaml"), *common, *cache_args(variant, seed),
                        "--seed_everything", str(seed), "--data.seed", str(seed), "--trainer.max_steps", str(steps),
                        "--trainer.val_check_interval", str(steps)]
            build = 0.0
            if variant != "online":
                build = babylm(work, "cache-teachers", *settings, "--no-progress")
            fit = babylm(work, "fit", *settings, "--trainer.logger.save_dir", f"runs/{run}",
                         "--checkpoint.dirpath", f"checkpoints/{run}",
                         "--model.init_args.export_dir", f"checkpoints/{run}/export",
                         "--model.init_args.export_weights", "last")
            val = last_val_loss(work / "runs" / run)
            limit = ["--limit", str(args.blimp_limit)] if args.blimp_limit else []
            babylm(work, "evaluate", "--model", f"checkpoints/{run}/export", "--blimp-dir", str(args.blimp_dir),
                   "--out", f"runs/eval/{run}", *limit)
            blimp = json.loads((work / "runs" / "eval" / run / "blimp.json").read_text())["overall"]["accuracy"]
            results.setdefault(variant, []).append((val, blimp))
            print(f"| {variant} | {seed} | {build:.0f} | {fit:.0f} | {val:.4f} | {100 * blimp:.2f}% |", flush=True)
    print("\n| variant | val loss (mean ± sd over seeds) | BLiMP % (mean ± sd) |")
    print("|---|---:|---:|")
    for variant, rows in results.items():
        vals, blimps = [r[0] for r in rows], [100 * r[1] for r in rows]
        sd = (lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0)
        print(f"| {variant} | {statistics.mean(vals):.4f} ± {sd(vals):.4f} | "
              f"{statistics.mean(blimps):.2f} ± {sd(blimps):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
