"""Benchmark: BLiMP scoring speed (pairs per second) for a tiny model and the Baby-Llama-58M architecture.

Run: ``python benchmarks/bench_blimp.py --help``; e.g. ``python benchmarks/bench_blimp.py --pairs 50``.
Reads BLiMP JSONL files (default ``../shared/data/blimp-dev`` beside the repository, else the bundled
sample) and, if given, a tokenizer (default: a small BPE trained here on the BLiMP sentences, so nothing
else is needed). Models are randomly initialised — speed does not depend on the weights — with a 16,000
token vocabulary as in the reference recipe. Writes nothing; prints a machine line and one row per model
and batch size, scoring through :func:`babylm.evaluation.blimp.evaluate_blimp`, the code path of
``python -m babylm evaluate``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_line  # noqa: E402  (benchmarks/harness.py)

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_BLIMP = REPO_ROOT.parent / "shared" / "data" / "blimp-dev"

MODELS = {
    # name: ModelConfig fields (llama unless said otherwise)
    "tiny": dict(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128, max_position_embeddings=128),
    "baby-llama-58m": dict(hidden_size=512, num_layers=16, num_heads=8, intermediate_size=1024,
                           max_position_embeddings=128),
}


def build_parser() -> argparse.ArgumentParser:
    """Return the benchmark's argument parser."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blimp-dir", default=None,
                        help=f"BLiMP .jsonl folder (default: {SHARED_BLIMP} if present, else the bundled sample)")
    parser.add_argument("--paradigms", type=int, default=4,
                        help="number of paradigms to use, first by name (default: %(default)s)")
    parser.add_argument("--pairs", type=int, default=25, help="pairs per paradigm (default: %(default)s)")
    parser.add_argument("--models", default="tiny,baby-llama-58m",
                        help=f"comma-separated, from {', '.join(MODELS)} (default: %(default)s)")
    parser.add_argument("--batch-sizes", default="1,16,64",
                        help="sentences per forward pass to compare (default: %(default)s)")
    parser.add_argument("--vocab-size", type=int, default=16_000, help="model vocabulary size (default: %(default)s)")
    parser.add_argument("--tokenizer", default=None,
                        help="tokenizer JSON or HF dir (default: a BPE trained on the BLiMP sentences)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="timed runs per setting; the median is reported (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    return parser


def time_scoring(model, tokenizer, paradigms, batch_size: int, repeats: int) -> float:
    """Median wall seconds of scoring ``paradigms`` with :func:`evaluate_blimp` (after one warm-up paradigm).

    ``model`` is an HF causal LM on its device (CUDA is synchronised around each run), ``repeats`` the timed runs.
    """
    import torch

    from babylm.evaluation.blimp import evaluate_blimp

    device = next(model.parameters()).device
    evaluate_blimp(model, tokenizer, paradigms[:1], batch_size=batch_size)  # warm-up
    timings = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        evaluate_blimp(model, tokenizer, paradigms, batch_size=batch_size)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; prints the machine line and a table; returns 0."""
    args = build_parser().parse_args(argv)
    import torch

    from babylm.data.tokens.tokenizer import load_hf_tokenizer, to_hf_tokenizer, train_tokenizer
    from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR, load_blimp_dir
    from babylm.models.build import ModelConfig, build_model, count_parameters
    from babylm.models.export import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    blimp_dir = (Path(args.blimp_dir) if args.blimp_dir
                 else (SHARED_BLIMP if SHARED_BLIMP.is_dir() else SAMPLE_BLIMP_DIR))
    names = sorted(p.stem for p in blimp_dir.glob("*.jsonl"))[: args.paradigms]
    paradigms = load_blimp_dir(blimp_dir, paradigms=names, limit=args.pairs)
    pairs = sum(len(p.pairs) for p in paradigms)
    sentences = [s for p in paradigms for pair in p.pairs for s in (pair.good, pair.bad)]

    if args.tokenizer:
        tokenizer = load_hf_tokenizer(args.tokenizer)
        tokenizer_note = args.tokenizer
    else:
        all_text = [json.loads(line)["sentence_good"] for path in sorted(blimp_dir.glob("*.jsonl"))
                    for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        tokenizer = to_hf_tokenizer(train_tokenizer(texts=all_text, vocab_size=4000, min_frequency=2))
        tokenizer_note = f"BPE trained on {blimp_dir.name} good sentences, {len(tokenizer)} tokens"
    tokens = sum(len(ids) + 1 for ids in tokenizer(sentences, add_special_tokens=False)["input_ids"])

    print(machine_line(packages=("torch", "transformers"), extra=f"torch threads {torch.get_num_threads()}"))
    print(f"data: {blimp_dir} — {len(paradigms)} paradigms × {args.pairs} pairs = {pairs} pairs, "
          f"{tokens / len(sentences):.1f} tokens per sentence with <s> ({tokenizer_note})")
    print(f"scoring: fp32, summed log-probabilities, right-padded length-sorted batches; median of {args.repeats} runs")
    print(f"{'model':<16} {'params':>8} {'batch':>6} {'pairs/s':>9} {'tokens/s':>9} {'seconds':>8}")
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        torch.manual_seed(0)
        model = build_model(ModelConfig(arch="llama", **MODELS[name]),
                            max(args.vocab_size, len(tokenizer))).to(device).eval()
        params = count_parameters(model)["total"]
        for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
            seconds = time_scoring(model, tokenizer, paradigms, batch_size, args.repeats)
            print(f"{name:<16} {params / 1e6:>7.1f}M {batch_size:>6} {pairs / seconds:>9.1f} "
                  f"{tokens / seconds:>9.0f} {seconds:>8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
