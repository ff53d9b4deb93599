"""Benchmark: the distillation loss alone (forward + backward), chunked against unchunked, dense against cached.

Run: ``python benchmarks/bench_distill_loss.py`` (``--help`` for the options; defaults: batch 32 × 128
positions, vocabulary 16,000, two teachers, fp32, 5 interleaved rounds).

Side by side in one process, in interleaved rounds (A B C … A B C …, so a machine whose speed drifts
affects every variant alike), each variant's forward and backward over random logits:

* ``unchunked`` — the previous implementation (below, kept here as the baseline): whole-tensor fp32
  softmaxes of every teacher and an autograd soft-target cross-entropy;
* ``chunked`` — :func:`babylm.models.losses.distillation_loss` (rows in chunks, gradient in the same pass);
* ``topk-K`` / ``sample-K`` — :func:`babylm.models.losses.sparse_distillation_loss` against targets of the
  teacher cache (:func:`babylm.training.teacher_cache.compact_targets`), when ``--cached`` is given.

Prints the machine line, then per variant the median seconds and the median ratio to ``unchunked`` over
the rounds, and the peak RSS growth of the process (CPU) or the CUDA allocator's peak per variant (GPU).
Writes nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_line  # noqa: E402  (benchmarks/harness.py)


def unchunked_distillation_loss(student, teachers, input_ids, alpha=0.5, temperature=2.0):
    """The ``token_mean`` loss as ``losses.py`` computed it before chunking (the baseline of this benchmark)."""
    import torch
    import torch.nn.functional as F

    from babylm.models.losses import causal_lm_loss

    student = student.float()
    ce = causal_lm_loss(student, input_ids)
    with torch.no_grad():
        target, neg_entropy, share = None, None, 1.0 / len(teachers)
        for logits in teachers:
            log_p = F.log_softmax(logits.float() * (1.0 / temperature), dim=-1)  # (B, T, V)
            p = log_p.exp()
            h = torch.linalg.vecdot(p, log_p)
            if target is None:
                target, neg_entropy = p.mul_(share), h.mul_(share)
            else:
                target.add_(p, alpha=share)
                neg_entropy.add_(h, alpha=share)
    vocab = student.size(-1)
    cross = F.cross_entropy((student / temperature).reshape(-1, vocab), target.reshape(-1, vocab), reduction="none")
    kl_rows = neg_entropy + cross.view(neg_entropy.shape)  # (B, T)
    mask = torch.zeros_like(kl_rows)
    mask[:, :-1] = 1.0
    kl = (kl_rows * mask).sum() / mask.sum()
    return alpha * ce + (1 - alpha) * temperature**2 * kl


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on ``argv``; returns an exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32, help="windows (default: %(default)s)")
    parser.add_argument("--seq-len", type=int, default=128, help="positions per window (default: %(default)s)")
    parser.add_argument("--vocab", type=int, default=16_000, help="vocabulary size (default: %(default)s)")
    parser.add_argument("--teachers", type=int, default=2, help="teachers (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default: %(default)s)")
    parser.add_argument("--cached", nargs="*", default=[], metavar="METHOD-K",
                        help="also time cached targets, e.g. topk-32 sample-12 (default: none)")
    parser.add_argument("--chunk-rows", type=int, default=None, help="rows per chunk (default: the library's)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                        help="logits dtype (default: %(default)s)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    args = parser.parse_args(argv)

    import resource

    import torch

    from babylm.models.losses import SparseTargets, distillation_loss, sparse_distillation_loss
    from babylm.training.teacher_cache import compact_targets

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = getattr(torch, args.dtype)
    print(machine_line(extra=f"{torch.get_num_threads()} torch threads"))
    print(f"loss forward+backward: batch {args.batch} × {args.seq_len} positions, vocab {args.vocab:,}, "
          f"{args.teachers} teachers, {args.dtype} logits, {device}, {args.rounds} interleaved rounds")
    generator = torch.Generator().manual_seed(0)
    shape = (args.batch, args.seq_len, args.vocab)
    student = (torch.randn(shape, generator=generator) * 2).to(device=device, dtype=dtype).requires_grad_(True)
    teachers = [(torch.randn(shape, generator=generator) * 3).to(device=device, dtype=dtype)
                for _ in range(args.teachers)]
    ids = torch.randint(0, args.vocab, shape[:2], generator=generator).to(device)

    variants = {
        "unchunked": lambda: unchunked_distillation_loss(student, teachers, ids),
        "chunked": lambda: distillation_loss(student, teachers, ids, chunk_rows=args.chunk_rows).loss,
    }
    for spec in args.cached:
        method, k = spec.rsplit("-", 1)
        compact = compact_targets(teachers, 2.0, "token_mean", method, int(k), seed=0)
        sparse = SparseTargets(compact.ids.to(device), compact.probs.to(device), compact.neg_entropy.to(device),
                               tail=method == "topk")
        variants[spec] = (lambda sparse=sparse:
                          sparse_distillation_loss(student, sparse, ids, chunk_rows=args.chunk_rows).loss)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    times: dict[str, list[float]] = {name: [] for name in variants}
    peaks: dict[str, float] = {}
    for round_ in range(args.rounds + 1):  # round 0 warms up
        for name, run in variants.items():
            student.grad = None
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            sync()
            start = time.perf_counter()
            run().backward()
            sync()
            if round_:
                times[name].append(time.perf_counter() - start)
            grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 2**20
            peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else grown
            peaks[name] = max(peaks.get(name, 0.0), peak)
    base = times["unchunked"]
    memory = "CUDA peak GiB" if device.type == "cuda" else "peak RSS growth GiB (first to run pays most)"
    print(f"| variant | median s | min s | max s | time / unchunked (median of rounds) | {memory} |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, values in times.items():
        ratio = statistics.median(v / b for v, b in zip(values, base))
        print(f"| {name} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} | {ratio:.2f} | "
              f"{peaks[name]:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
