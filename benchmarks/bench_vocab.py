"""Vocabulary size for strict-small, from evidence: fertility and the validation loss per word of a small model.

Run: ``python benchmarks/bench_vocab.py --split-dir DATA/corpus_split --work DIR [--vocab 8000 16000]
[--words 200000] [--seeds 1 2 3] [--val-words 100000]``.

For each vocabulary size, through the real commands (``python -m babylm tokenizer``, ``encode``, ``fit``,
``evaluate``): a byte-level BPE trained on ``train.txt`` (its fertility, tokens per word, on ``val.txt`` from
the tokenizer's report), the splits encoded, then per seed the model of ``--config`` (default the tiny Llama:
2 layers, hidden 64, lr 2e-3) trained on the same number of training **words** (``--words``; the optimizer
steps follow from the train split's own tokens per word, ``--batch`` windows of 128 tokens per step) and scored
on the same validation **text** (the first ``--val-words`` words of ``val.txt``, whole articles): the
validation loss per word = mean next-token NLL × predicted tokens ÷ words of that text, in nats (and bits).
Loss per token is not comparable across vocabularies (a token of an 8K vocabulary carries less text); loss
per word is. Each tokenizer's first token of a 128-token window is not predicted (≈ 0.8 % of tokens, alike
for both sizes). Prints a machine line and a Markdown table (mean ± sd over seeds). Writes only under
``--work``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import load_average, machine_line  # noqa: E402  (benchmarks/harness.py)

REPO = Path(__file__).resolve().parent.parent


def babylm(*argv: str) -> float:
    """Run ``python -m babylm argv…`` from the repository root; returns its wall seconds (raises on failure)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "babylm", *argv], cwd=REPO, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"babylm {argv[0]} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return time.perf_counter() - start


def val_subset(val: Path, words: int, out: Path) -> int:
    """The first whole articles of ``val`` (cleaned format) holding ≥ ``words`` words, written to ``out``; returns
    their word count (the ``<s>``/``</s>`` markers are not words)."""
    kept, total, article = [], 0, []
    for line in val.read_text(encoding="utf-8").splitlines(keepends=True):
        article.append(line)
        if line.strip() == "</s>":
            kept += article
            total += sum(len(x.split()) for x in article if x.strip() not in ("<s>", "</s>"))
            article = []
            if total >= words:
                break
    out.write_text("".join(kept), encoding="utf-8")
    return total


def run_vocab(vocab: int, args: argparse.Namespace, val_file: Path, val_words: int) -> dict:
    work = args.work / f"vocab{vocab}"
    tokenizer = work / "tokenizer-clean.json"
    babylm("tokenizer", "--train", str(args.split_dir / "train.txt"), "--val", str(args.split_dir / "val.txt"),
           "--vocab-size", str(vocab), "--out", str(tokenizer), "--hf-dir", "")
    fertility = json.loads(tokenizer.with_suffix(".report.json").read_text())["val_fertility"]["tokens_per_word"]
    babylm("encode", "--tokenizer", str(tokenizer), "--split-dir", str(args.split_dir),
           "--out-root", str(work / "tokenized"))
    meta = json.loads(next((work / "tokenized").glob("*/meta.json")).read_text())["splits"]["train"]
    steps = math.ceil(args.words * meta["tokens"] / meta["words"] / (args.batch * 128))
    losses, seconds = [], []
    for seed in args.seeds:
        run = work / f"seed{seed}"
        seconds.append(babylm(
            "fit", "-c", args.config, "--data.tokenizer_path", str(tokenizer),
            "--data.tokenized_dir", str(work / "tokenized"), "--trainer.max_steps", str(steps),
            "--trainer.val_check_interval", str(steps), "--data.batch_size", str(args.batch),
            "--seed_everything", str(seed), "--data.seed", str(seed), "--word_checkpoints.milestones", "[]",
            "--checkpoint.dirpath", str(run / "ckpt"), "--checkpoint.save_top_k", "0",
            "--checkpoint.save_last", "false", "--model.init_args.export_dir", str(run / "export"),
            "--model.init_args.export_weights", "last", "--trainer.default_root_dir", str(run / "runs"),
            "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"))
        babylm("evaluate", "--model", str(run / "export"), "--tasks", "perplexity", "--val-file", str(val_file),
               "--out", str(run / "eval"))
        result = json.loads((run / "eval" / "perplexity.json").read_text())
        losses.append(result["mean_nll"] * result["predicted_tokens"] / val_words)
    return {"vocab": vocab, "fertility": fertility, "steps": steps, "losses": losses, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split-dir", type=Path, required=True,
                        help="folder with train.txt and val.txt (cleaned format)")
    parser.add_argument("--work", type=Path, required=True, help="scratch folder for tokenizers, token files and runs")
    parser.add_argument("--vocab", type=int, nargs="+", default=[8000, 16000])
    parser.add_argument("--words", type=int, default=200_000, help="training words per run (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=16, help="windows of 128 tokens per step (default: %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--val-words", type=int, default=100_000, help="words of val.txt scored (default: %(default)s)")
    parser.add_argument("--config", default="configs/tiny/teacher_llama.yaml",
                        help="model and optimiser (default: %(default)s)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    val_file = args.work / "val_subset.txt"
    val_words = val_subset(args.split_dir / "val.txt", args.val_words, val_file)
    print(machine_line(check_gpu=False, extra=load_average()))
    print(f"\n{args.config}, {args.words:,} training words per run, {args.batch} × 128-token windows per step; "
          f"val: first {val_words:,} words of val.txt\n")
    print("| vocabulary | val fertility (tokens/word) | steps | val loss per word, nats (mean ± sd) | bits per word | "
          "s per run |\n|---:|---:|---:|---:|---:|---:|")
    for vocab in args.vocab:
        row = run_vocab(vocab, args, val_file, val_words)
        mean, sd = statistics.mean(row["losses"]), statistics.stdev(row["losses"]) if len(row["losses"]) > 1 else 0.0
        print(f"| {vocab:,} | {row['fertility']:.3f} | {row['steps']} | {mean:.3f} ± {sd:.3f} "
              f"({', '.join(f'{x:.3f}' for x in row['losses'])}) | {mean / math.log(2):.3f} | "
              f"{statistics.median(row['seconds']):.0f} |", flush=True)


if __name__ == "__main__":
    main()
