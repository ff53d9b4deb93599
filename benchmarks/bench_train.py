"""Training throughput of the teacher configs: tokens/s, peak memory and (on a GPU) model FLOPs utilisation.

Run: ``python benchmarks/bench_train.py --help``. Typical uses:

* CPU, the tiny configs (default when no GPU):   ``python benchmarks/bench_train.py``
* GPU, both reference teachers in bf16:          ``python benchmarks/bench_train.py --reference``

Each config runs in its own subprocess (so peak memory is that config's alone): the config's model
(:class:`babylm.training.causal_lm.CausalLM`), effective batch, micro-batch and precision are read from the
YAML through the real CLI parser, and a Lightning ``Trainer`` runs ``--warmup + --steps`` optimizer steps
on random token windows of the config's ``seq_len`` (vocabulary ``--vocab``, 16,000 by default: the real
tokenizer size). Only the last ``--steps`` steps are timed. Prints a machine line, then one Markdown row per
config. Reads the YAML configs; writes nothing but Lightning's own scratch files in a temporary directory.

MFU = achieved model FLOPs / peak dense bf16 FLOPs of the GPU, with model FLOPs per token
= 6 × (parameters − input embeddings) + 12 × layers × hidden × seq_len (the attention scores; the PaLM
appendix's estimate). Pass ``--peak-tflops`` for a GPU missing from the table below.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import lightning_step_clock, machine_line, measure_in_child  # noqa: E402  (benchmarks/harness.py)

REPO = Path(__file__).resolve().parent.parent
TINY = ["configs/tiny/teacher_llama.yaml", "configs/tiny/teacher_gptj.yaml"]
REFERENCE = ["configs/teacher_llama_360m.yaml", "configs/teacher_gptj_705m.yaml"]
# dense bf16 peak (no sparsity), TFLOP/s
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100 SXM": 989.0, "H100 80GB HBM3": 989.0, "H100 PCIe": 756.0, "H100": 989.0,
                    "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10G": 70.0}


def peak_tflops(device_name: str) -> Optional[float]:
    """Dense bf16 peak TFLOP/s of a GPU by name (longest matching key), or None when unknown."""
    for key in sorted(PEAK_BF16_TFLOPS, key=len, reverse=True):
        if key in device_name:
            return PEAK_BF16_TFLOPS[key]
    return None


def flops_per_token(model, num_layers: int, hidden: int, seq_len: int) -> float:
    """Training FLOPs per token: 6 × non-input-embedding parameters + 12 × layers × hidden × seq_len."""
    params = {id(p): p.numel() for p in model.parameters()}
    embedding = model.get_input_embeddings().weight
    dense = sum(params.values()) - (embedding.numel() if id(embedding) in params else 0)
    output = model.get_output_embeddings()
    if output is not None and output.weight is embedding:
        dense += embedding.numel()  # a tied output projection is still a matmul
    return 6.0 * dense + 12.0 * num_layers * hidden * seq_len


def measure(config_path: str, steps: int, warmup: int, vocab: int, device: str,
            micro_batch: Optional[int], precision: Optional[str]) -> dict:
    """Train ``config_path``'s model for warmup + steps optimizer steps; returns the measurements as a dict."""
    import lightning as L
    import torch
    from bench_vs_hf_trainer import read_config  # the one config reader of the benchmarks (our CLI's fit parser)
    from torch.utils.data import DataLoader, Dataset

    from babylm.models.build import ModelConfig
    from babylm.training.causal_lm import CausalLM

    cfg = read_config(config_path)
    seq_len, batch = cfg.data.seq_len, cfg.data.batch_size
    micro = micro_batch or cfg.data.micro_batch_size or batch
    precision = precision or (cfg.trainer.precision if device == "cuda" else "32-true")
    model_config = ModelConfig(**vars(cfg.model.init_args.config))
    module = CausalLM(model_config, vocab_size=vocab, warmup_steps=2, schedule_steps=steps + warmup)

    class RandomWindows(Dataset):
        def __len__(self) -> int:
            return (steps + warmup) * batch

        def __getitem__(self, index: int) -> dict:
            generator = torch.Generator().manual_seed(index)
            return {"input_ids": torch.randint(0, vocab, (seq_len,), generator=generator)}  # (T,)

    clock = lightning_step_clock(warmup, warmup + steps)
    with tempfile.TemporaryDirectory() as scratch:
        trainer = L.Trainer(
            accelerator=device, devices=1, precision=precision, max_steps=steps + warmup,
            accumulate_grad_batches=batch // micro, gradient_clip_val=1.0, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, callbacks=[clock], default_root_dir=scratch,
            limit_val_batches=0,
        )
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        trainer.fit(module, train_dataloaders=DataLoader(RandomWindows(), batch_size=micro, num_workers=0))
    seconds = clock.seconds
    tokens_per_s = steps * batch * seq_len / seconds
    result = {
        "config": config_path, "arch": model_config.arch, "params": module.parameter_counts["total"],
        "precision": precision, "batch": batch, "micro_batch": micro, "seq_len": seq_len, "vocab": vocab,
        "steps": steps, "tokens_per_s": tokens_per_s, "seconds_per_step": seconds / steps,
    }
    if device == "cuda":
        name = torch.cuda.get_device_name(0)
        result["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
        result["flops_per_token"] = flops_per_token(module.model, model_config.num_layers, model_config.hidden_size,
                                                    seq_len)
        result["device"] = name
    else:
        result["peak_memory_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # process peak RSS
    return result


def markdown_row(result: dict, peak: Optional[float]) -> str:
    """One table row: config, parameters, precision, batch, tokens/s, s/step, peak memory, MFU."""
    mfu = "—"
    if "flops_per_token" in result and peak:
        mfu = f"{100 * result['tokens_per_s'] * result['flops_per_token'] / (peak * 1e12):.1f}%"
    return (f"| `{result['config']}` | {result['params']:,} | {result['precision']} | {result['batch']} "
            f"({result['micro_batch']}×{result['batch'] // result['micro_batch']}) | {result['tokens_per_s']:,.0f} | "
            f"{result['seconds_per_step']:.3f} | {result['peak_memory_gib']:.2f} | {mfu} |")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of this benchmark."""
    parser = argparse.ArgumentParser(prog="python benchmarks/bench_train.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="*", help=f"configs to measure (default: {' '.join(TINY)})")
    parser.add_argument("--reference", action="store_true", help=f"measure {' and '.join(REFERENCE)} (needs a GPU)")
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed optimizer steps first (default: %(default)s)")
    parser.add_argument("--vocab", type=int, default=16_000, help="vocabulary size (default: %(default)s)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda when available")
    parser.add_argument("--micro-batch", type=int, default=None, help="override the config's micro-batch size")
    parser.add_argument("--precision", default=None, help="override (default: config's on GPU, 32-true on CPU)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="GPU dense bf16 peak for MFU (default: table)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # child process: one config, JSON out
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns 0 (or 2 when a config fails)."""
    args = build_parser().parse_args(argv)
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.one:
        print(json.dumps(measure(args.configs[0], args.steps, args.warmup, args.vocab, device, args.micro_batch,
                                 args.precision)))
        return 0
    configs = args.configs or (REFERENCE if args.reference else TINY)
    print(machine_line())
    print("| config | parameters | precision | batch (micro×accum) | tokens/s | s/step | peak memory GiB | MFU |")
    print("|---|---:|---|---|---:|---:|---:|---:|")
    status = 0
    for config in configs:
        child = [__file__, config, "--one", "--steps", str(args.steps), "--warmup", str(args.warmup),
                 "--vocab", str(args.vocab), "--device", device]
        child += ["--micro-batch", str(args.micro_batch)] if args.micro_batch else []
        child += ["--precision", args.precision] if args.precision else []
        result, error = measure_in_child(child, REPO)
        if result is None:
            print(f"| `{config}` | failed: {error} |")
            status = 2
            continue
        peak = args.peak_tflops or (peak_tflops(result.get("device", "")) if device == "cuda" else None)
        print(markdown_row(result, peak))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
