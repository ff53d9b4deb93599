"""Our Lightning modules against a plain Hugging Face ``Trainer`` doing the same recipe, side by side.

Run: ``python benchmarks/bench_vs_hf_trainer.py --help``. Typical uses:

* CPU, tiny configs (default without a GPU): ``python benchmarks/bench_vs_hf_trainer.py``
* GPU, reference sizes in bf16:               ``python benchmarks/bench_vs_hf_trainer.py --reference``

For each role — ``teacher`` (a teacher config) and ``distill`` (the student config with its teachers) — and
each implementation — ``babylm`` (:class:`CausalLM` / :class:`DistillationStudent` under a Lightning
``Trainer``) and ``hf-trainer`` (:mod:`hf_baseline`: ``transformers.Trainer`` and the reference work's
``DistillationTrainer``) — one subprocess trains ``--warmup + --steps`` optimizer steps on the same random
token windows, with the same model configs, effective batch, micro-batch, sequence length, learning rate
schedule and precision (read from the YAML through our CLI parser). Teachers are built from the teacher
configs with random weights and saved as HF directories in a temporary folder. Only the last ``--steps``
steps are timed; tokens/s counts the student's (or teacher's) training tokens. Peak memory: the CUDA
allocator's peak on a GPU, the process's peak RSS on a CPU. Prints a machine line and a Markdown table.
Writes nothing outside a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import lightning_step_clock, machine_line, measure_in_child  # noqa: E402  (benchmarks/harness.py)

TINY = {"teacher": "configs/tiny/teacher_llama.yaml", "distill": "configs/tiny/distill.yaml",
        "teachers": ["configs/tiny/teacher_llama.yaml", "configs/tiny/teacher_gptj.yaml"]}
REFERENCE = {"teacher": "configs/teacher_llama_360m.yaml", "distill": "configs/distill.yaml",
             "teachers": ["configs/teacher_llama_360m.yaml", "configs/teacher_gptj_705m.yaml"]}


def read_config(path: str):
    """Parse a training YAML (with ``configs/base.yaml``) through our CLI parser; returns the ``fit`` namespace."""
    from babylm.training_cli import build_parser

    return build_parser().parse_args(["fit", "-c", str(REPO / path)]).fit


def model_config(cfg):
    """The ``ModelConfig`` of a parsed training config."""
    from babylm.models.build import ModelConfig

    return ModelConfig(**vars(cfg.model.init_args.config))


def save_random_teachers(paths: Sequence[str], vocab: int, out_dir: Path) -> list[str]:
    """Build each teacher config's model with random weights and save it as an HF directory; returns the dirs."""
    from babylm.models.build import build_model

    dirs = []
    for index, path in enumerate(paths):
        model = build_model(model_config(read_config(path)), vocab)
        directory = out_dir / f"teacher{index}"
        model.save_pretrained(directory)
        dirs.append(str(directory))
    return dirs


def random_windows(count: int, seq_len: int, vocab: int):
    """A map-style dataset of ``count`` seeded random windows ``{"input_ids", "labels"}`` of ``seq_len`` tokens."""
    import torch
    from torch.utils.data import Dataset

    class RandomWindows(Dataset):
        def __len__(self) -> int:
            return count

        def __getitem__(self, index: int) -> dict:
            if not 0 <= index < count:
                raise IndexError(index)  # ends iteration over the dataset
            tokens = torch.randint(0, vocab, (seq_len,), generator=torch.Generator().manual_seed(index))  # (T,)
            return {"input_ids": tokens, "labels": tokens}

    return RandomWindows()


def measure(role: str, implementation: str, sizes: dict, steps: int, warmup: int, vocab: int, device: str,
            precision: str | None, micro_batch: int | None, reduction: str | None = None) -> dict:
    """Train one (role, implementation) for ``warmup + steps`` optimizer steps; returns its measurements.

    ``reduction`` overrides our distillation's KL reduction (``legacy_batch_sum`` is the baseline's objective);
    the baseline has only its own.
    """
    import torch

    cfg = read_config(sizes[role])
    seq_len, batch = cfg.data.seq_len, cfg.data.batch_size
    micro = micro_batch or cfg.data.micro_batch_size or batch
    precision = precision or (cfg.trainer.precision if device == "cuda" else "32-true")
    args = cfg.model.init_args
    if role == "distill" and implementation == "babylm":
        reduction = reduction or args.reduction
    elif role == "distill":
        reduction = "legacy_batch_sum"  # what the reference DistillationTrainer computes
    total = steps + warmup
    dataset = random_windows(total * batch, seq_len, vocab)
    settings = dict(micro=micro, accumulation=batch // micro, steps=total, learning_rate=args.learning_rate,
                    warmup=min(args.warmup_steps, warmup), weight_decay=args.weight_decay, precision=precision,
                    device=device)
    with tempfile.TemporaryDirectory() as scratch:
        teachers = save_random_teachers(sizes["teachers"], vocab, Path(scratch)) if role == "distill" else []
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        if implementation == "hf-trainer":
            from babylm.models.build import build_model
            from hf_baseline import StepClock

            clock = StepClock(warmup, steps)
            extra = dict(alpha=args.alpha, temperature=args.temperature) if teachers else {}
            fit_hf_trainer(build_model(model_config(cfg), vocab), dataset, teachers, scratch=scratch,
                           callbacks=[clock], **extra, **settings)
            seconds = clock.end - clock.start
        else:
            clock = lightning_step_clock(warmup, total)
            fit_babylm(babylm_module(cfg, teachers, vocab, reduction, settings), dataset, scratch=scratch,
                       callbacks=[clock], **settings)
            seconds = clock.seconds
    peak = (torch.cuda.max_memory_allocated() if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**30
    return {"role": role, "implementation": implementation, "config": sizes[role], "precision": precision,
            "batch": batch, "micro": micro, "seq_len": seq_len, "alpha": getattr(args, "alpha", None),
            "reduction": reduction, "tokens_per_s": steps * batch * seq_len / seconds,
            "seconds_per_step": seconds / steps, "peak_memory_gib": peak}


def babylm_module(cfg, teachers: Sequence[str], vocab: int, reduction: str | None, settings: dict):
    """Our LightningModule for a parsed config: :class:`DistillationStudent` when there are teachers, else :class:`CausalLM`."""
    from babylm.models.causal_lm import CausalLM
    from babylm.models.distill import DistillationStudent

    args = cfg.model.init_args
    common = dict(config=model_config(cfg), vocab_size=vocab, learning_rate=settings["learning_rate"],
                  weight_decay=settings["weight_decay"], warmup_steps=settings["warmup"], schedule_steps=settings["steps"])
    if teachers:
        return DistillationStudent(teachers=teachers, alpha=args.alpha, temperature=args.temperature,
                                   reduction=reduction, **common)
    return CausalLM(**common)


def fit_hf_trainer(model, dataset, teachers: Sequence[str], *, micro: int, accumulation: int, steps: int,
                   learning_rate: float, warmup: int, weight_decay: float, precision: str, device: str, scratch: str,
                   callbacks: Sequence = (), alpha: float = 0.5, temperature: float = 2.0, max_grad_norm: float = 1.0):
    """The baseline side: train ``model`` with the HF ``Trainer`` (or the reference ``DistillationTrainer``).

    Takes the HF model, a map-style dataset of ``{"input_ids", "labels"}`` windows, the teacher directories
    (empty: a teacher run), the recipe (micro-batch, accumulation, optimizer steps, schedule, precision) and
    ``TrainerCallback``s. Returns ``(trainer, TrainOutput)``.
    """
    from transformers import Trainer

    from babylm.export import load_hf_model
    from hf_baseline import DistillationTrainer, training_arguments

    training_args = training_arguments(scratch + "/hf", micro * accumulation, micro, steps, learning_rate, warmup,
                                       weight_decay, precision, device, max_grad_norm=max_grad_norm)
    if teachers:
        # the same safe loader as our teachers: trust_remote_code=False, safetensors only, auto_map refused
        teacher_models = [load_hf_model(t, what="teacher") for t in teachers]
        trainer = DistillationTrainer(model=model, args=training_args, train_dataset=dataset, callbacks=list(callbacks),
                                      teachers=teacher_models, alpha=alpha, temperature=temperature)
    else:
        trainer = Trainer(model=model, args=training_args, train_dataset=dataset, callbacks=list(callbacks))
    return trainer, trainer.train()


def fit_babylm(module, dataset, *, micro: int, accumulation: int, steps: int, precision: str, device: str,
               scratch: str, callbacks: Sequence = (), gradient_clip_val: float | None = 1.0, **unused):
    """Our side: train ``module`` under a Lightning ``Trainer`` with the recipe's batch and clipping; returns the Trainer.

    The learning rate, warm-up and weight decay are the module's own (see :func:`babylm_module`); the other
    keywords of :func:`fit_hf_trainer` are accepted and ignored, so both sides take the same settings.
    """
    import lightning as L
    from torch.utils.data import DataLoader

    trainer = L.Trainer(accelerator=device, devices=1, precision=precision, max_steps=steps,
                        accumulate_grad_batches=accumulation, gradient_clip_val=gradient_clip_val, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=list(callbacks), default_root_dir=scratch, limit_val_batches=0)
    trainer.fit(module, train_dataloaders=DataLoader(dataset, batch_size=micro, shuffle=True, num_workers=0))
    return trainer


def build_parser() -> argparse.ArgumentParser:
    """Return this benchmark's argument parser."""
    parser = argparse.ArgumentParser(prog="python benchmarks/bench_vs_hf_trainer.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", action="store_true", help="reference sizes (Llama-360M teacher; 58M student from 360M + 705M teachers); needs a GPU")
    parser.add_argument("--roles", default="teacher,distill", help="comma-separated: teacher, distill (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed optimizer steps first (default: %(default)s)")
    parser.add_argument("--vocab", type=int, default=16_000, help="vocabulary size (default: %(default)s)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda when available")
    parser.add_argument("--precision", default=None, help="override (default: the config's on GPU, 32-true on CPU)")
    parser.add_argument("--micro-batch", type=int, default=None, help="override the configs' micro-batch size")
    parser.add_argument("--one", nargs=2, metavar=("ROLE", "IMPL"), help=argparse.SUPPRESS)  # child process
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run every (role, implementation) pair in its own subprocess and print the table; returns an exit code."""
    args = build_parser().parse_args(argv)
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    sizes = REFERENCE if args.reference else TINY
    if args.one:
        role, implementation = args.one
        print(json.dumps(measure(role, implementation, sizes, args.steps, args.warmup, args.vocab, device,
                                 args.precision, args.micro_batch)))
        return 0
    print(machine_line())
    print(f"steps timed: {args.steps} (after {args.warmup} untimed), vocab {args.vocab:,}")
    print("| role | implementation | config | precision | batch (micro) | tokens/s | s/step | peak memory GiB |")
    print("|---|---|---|---|---|---:|---:|---:|")
    status = 0
    for role in args.roles.split(","):
        for implementation in ("babylm", "hf-trainer"):
            child = [__file__, "--one", role, implementation, "--steps", str(args.steps),
                     "--warmup", str(args.warmup), "--vocab", str(args.vocab), "--device", device]
            child += ["--reference"] if args.reference else []
            child += ["--precision", args.precision] if args.precision else []
            child += ["--micro-batch", str(args.micro_batch)] if args.micro_batch else []
            r, error = measure_in_child(child, REPO)
            if r is None:
                print(f"| {role} | {implementation} | failed: {error} |")
                status = 2
                continue
            print(f"| {role} | {implementation} | `{r['config']}` | {r['precision']} | {r['batch']} ({r['micro']}) | "
                  f"{r['tokens_per_s']:,.0f} | {r['seconds_per_step']:.3f} | {r['peak_memory_gib']:.2f} |", flush=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
