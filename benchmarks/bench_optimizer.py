"""Gradient clipping + AdamW step: our optimizer (:func:`babylm.training.causal_lm.adamw`) against the one before.

Run: ``python benchmarks/bench_optimizer.py --help``; CPU default: the Baby-Llama-58M student of
``configs/distill.yaml`` (LLaMA 16 × 512, vocabulary 16,000), fp32, random gradients.

What is timed: ``torch.nn.utils.clip_grad_norm_(params, 1.0)`` then ``optimizer.step()`` — what Lightning runs
once per optimizer step after the backward passes. "before" is ``torch.optim.AdamW`` with torch's default
implementation (the for-loop one on a CPU, foreach on CUDA); "after" is :func:`adamw` (fused where it can run).
Both optimizers hold their own copy of the model, take the same parameter groups and the same gradients, and
run in turn — before, after, before, after … — ``--pairs`` times after one untimed round; the figure is the
median of the pair-by-pair ratios with their min–max (:func:`harness.paired_ratio`). Prints a machine line
and a Markdown table. Writes nothing.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import MIN_PAIRS, alternate, machine_line, median, paired_ratio  # noqa: E402  (benchmarks/harness.py)


def build_parser() -> argparse.ArgumentParser:
    """Return this benchmark's argument parser."""
    parser = argparse.ArgumentParser(prog="python benchmarks/bench_optimizer.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/distill.yaml",
                        help="training YAML whose model is stepped (default: %(default)s)")
    parser.add_argument("--vocab", type=int, default=16_000, help="vocabulary size (default: %(default)s)")
    parser.add_argument("--pairs", type=int, default=7,
                        help=f"timed before/after pairs, at least {MIN_PAIRS} (default: %(default)s)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="default: %(default)s")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Time clip + step of both optimizers in alternation and print the table; returns an exit code."""
    args = build_parser().parse_args(argv)
    import torch
    from bench_vs_hf_trainer import model_config, read_config

    from babylm.models.build import build_model
    from babylm.training.causal_lm import adamw, weight_decay_groups

    cfg = read_config(args.config)
    hp = cfg.model.init_args
    torch.manual_seed(0)
    before_model = build_model(model_config(cfg), args.vocab).to(args.device)
    after_model = copy.deepcopy(before_model)
    for a, b in zip(before_model.parameters(), after_model.parameters()):
        a.grad = torch.randn_like(a) * 1e-3
        b.grad = a.grad.clone()
    hyper = dict(lr=hp.learning_rate, betas=tuple(hp.betas), eps=hp.eps)
    before = torch.optim.AdamW(weight_decay_groups(before_model, hp.weight_decay, hp.no_weight_decay), **hyper)
    after = adamw(weight_decay_groups(after_model, hp.weight_decay, hp.no_weight_decay), **hyper)

    def timed(model, optimizer):
        def run() -> float:
            if args.device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            if args.device == "cuda":
                torch.cuda.synchronize()
            return time.perf_counter() - start
        return run

    sides = [timed(before_model, before), timed(after_model, after)]
    alternate(sides, 1)  # untimed: allocates the optimizer states
    before_s, after_s = alternate(sides, max(MIN_PAIRS, args.pairs))
    parameters = sum(p.numel() for p in after_model.parameters())
    print(machine_line(check_gpu=args.device == "cuda", extra=f"torch threads {torch.get_num_threads()}"))
    print(f"model: {args.config} ({parameters:,} parameters, vocab {args.vocab:,}), fp32, {args.device}")
    print("| optimizer | clip + step, s (median) | min–max |")
    print("|---|---:|---:|")
    print(f"| before: `torch.optim.AdamW` (default implementation) | {median(before_s):.3f} | "
          f"{min(before_s):.3f}–{max(before_s):.3f} |")
    print(f"| after: `adamw` (fused={after.defaults['fused']}) | {median(after_s):.3f} | "
          f"{min(after_s):.3f}–{max(after_s):.3f} |")
    print(f"after / before, pair by pair: {paired_ratio(after_s, before_s)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
