"""What BabyLM-style checkpointing and the new dashboards cost a training run, side by side with a training step.

Run: ``python benchmarks/bench_milestones.py [--batch 8] [--repeats 3] [--blimp-dir ../shared/data/blimp-dev]``.
Builds a randomly initialised model of the Baby-Llama-58M shape (vocab 16,000, context 128) on the CPU and times,
in one process: an optimizer step (forward + backward + AdamW on ``--batch`` windows), the gradient norm that
``train/grad_norm`` logs (:class:`babylm.training.dashboards.GradNormLogger`), and what each word milestone adds —
the ``chck_<N>M`` export and the BLiMP score on the bundled sample (and on ``--blimp-dir`` with ``--blimp-limit``
pairs per paradigm when given). Prints a machine line and a Markdown table; writes nothing but temporary files.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import machine_line  # noqa: E402


def timed(function, repeats: int, warm_up: bool = True) -> float:
    """Median wall seconds of ``function()`` over ``repeats`` calls (after one warm-up call unless told not to)."""
    if warm_up:
        function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8,
                        help="windows of 128 tokens per optimizer step (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--blimp-dir", default=None,
                        help="BLiMP .jsonl folder also scored (--blimp-limit pairs per paradigm)")
    parser.add_argument("--blimp-limit", type=int, default=20,
                        help="pairs per paradigm of --blimp-dir (default: %(default)s)")
    args = parser.parse_args(argv)

    import torch

    from babylm.data.tokens.tokenizer import save_tokenizer, train_tokenizer
    from babylm.models.build import ModelConfig, build_model
    from babylm.models.export import export_hf
    from babylm.training.milestone_blimp import MilestoneBlimp

    torch.manual_seed(0)
    config = ModelConfig(arch="llama", hidden_size=512, num_layers=16, num_heads=8, intermediate_size=1024)
    from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR, load_blimp_dir

    tmp = Path(tempfile.mkdtemp(prefix="bench-milestones-"))
    texts = [s for p in load_blimp_dir(SAMPLE_BLIMP_DIR) for pair in p.pairs for s in (pair.good, pair.bad)]
    tokenizer = train_tokenizer(texts=texts * 4, vocab_size=16_000, min_frequency=1)  # English-like token lengths
    save_tokenizer(tokenizer, tmp / "tokenizer.json")
    model = build_model(config, tokenizer.get_vocab_size())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = torch.randint(3, tokenizer.get_vocab_size(), (args.batch, 128))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        out = model(input_ids=batch, labels=batch)
        out.loss.backward()
        optimizer.step()

    def grad_norm() -> None:
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        torch.nn.utils.get_total_norm(grads, norm_type=2.0).item()

    step_s = timed(step, args.repeats)
    norm_s = timed(grad_norm, args.repeats * 10)
    export_s = timed(lambda: export_hf(model, tmp / "tokenizer.json", tmp / "chck_1M"), args.repeats)
    sample = MilestoneBlimp()
    sample.load(tmp / "tokenizer.json")
    sample_s = timed(lambda: sample.score(model, 1.0, 1e6, 0), args.repeats)
    rows = [("optimizer step", step_s, f"{args.batch} × 128 tokens"),
            ("gradient norm (train/grad_norm)", norm_s, f"{100 * norm_s / step_s:.2f}% of a step"),
            ("chck_<N>M export", export_s, "once per milestone"),
            (f"BLiMP, bundled sample ({sum(len(p.pairs) for p in sample.paradigms)} pairs)", sample_s,
             "once per milestone")]
    if args.blimp_dir:
        dev = MilestoneBlimp(args.blimp_dir, limit=args.blimp_limit)
        dev.load(tmp / "tokenizer.json")
        dev_s = timed(lambda: dev.score(model, 1.0, 1e6, 0), 1, warm_up=False)
        pairs = sum(len(p.pairs) for p in dev.paradigms)
        rows.append((f"BLiMP, {Path(args.blimp_dir).name} × {args.blimp_limit} pairs ({pairs})", dev_s,
                     f"{pairs / dev_s:.0f} pairs/s"))
    # reference student: batch 32 windows of 128 tokens, ~1.35 tokens per word → 1M words ≈ 330 optimizer steps
    steps_per_million = 1e6 * 1.35 / (32 * 128)
    per_step_32 = step_s * 32 / args.batch
    print(machine_line(check_gpu=False, packages=("torch", "transformers", "lightning"),
                       extra=f"threads {torch.get_num_threads()}"))
    print("\n| what (Baby-Llama-58M shape, CPU) | seconds (median) | note |\n|---|---:|---|")
    for name, seconds, note in rows:
        print(f"| {name} | {seconds:.3f} | {note} |")
    milestone = export_s + sample_s
    print(f"\nOne milestone (export + sample BLiMP) = {milestone:.2f} s ≈ "
          f"{100 * milestone / (steps_per_million * per_step_32):.2f}% of the ≈{steps_per_million:.0f} reference steps "
          f"(32 × 128 tokens) between the 1M-word milestones at this step time.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
