"""Our Lightning modules against a plain Hugging Face ``Trainer`` doing the same recipe, side by side.

Run: ``python benchmarks/bench_vs_hf_trainer.py --help``. Typical uses:

* CPU, tiny configs (default without a GPU): ``python benchmarks/bench_vs_hf_trainer.py``
* GPU, reference sizes in bf16:               ``python benchmarks/bench_vs_hf_trainer.py --reference``

For each role — ``teacher`` (a teacher config) and ``distill`` (the student config with its teachers) — and
each implementation — ``babylm`` (:class:`CausalLM` / :class:`DistillationStudent` under a Lightning
``Trainer``) and ``hf-trainer`` (:mod:`hf_baseline`: ``transformers.Trainer`` and the reference work's
``DistillationTrainer``) — a subprocess trains ``--warmup + --steps`` optimizer steps on the same random
token windows, with the same model configs, effective batch, micro-batch, sequence length, learning rate
schedule and precision (read from the YAML through our CLI parser). Teachers are built from the teacher
configs with random weights and saved as HF directories in a temporary folder. Only the last ``--steps``
steps are timed; tokens/s counts the student's (or teacher's) training tokens. Peak memory: the CUDA
allocator's peak on a GPU, the process's peak RSS on a CPU.

Paired repeats: a role's sides run in turn, ``--pairs`` rounds (teacher: baseline, ours; distillation: baseline,
ours on the baseline's objective ``legacy_batch_sum``, ours on our default ``token_mean``), and each of our runs
is divided by the baseline run of its round; the table gives each side's median and the median ratio with its
min–max (:func:`harness.paired_ratio`). Prints a machine line with the load average, progress on stderr, and a
Markdown table. Writes nothing outside a temporary directory.
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import sys
import tempfile
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    MIN_PAIRS,
    alternate,
    lightning_step_clock,
    load_average,
    machine_line,
    measure_in_child,
    median,
    paired_ratio,
)

TINY = {"teacher": "configs/tiny/teacher_llama.yaml", "distill": "configs/tiny/distill.yaml",
        "teachers": ["configs/tiny/teacher_llama.yaml", "configs/tiny/teacher_gptj.yaml"]}
REFERENCE = {"teacher": "configs/teacher_llama_360m.yaml", "distill": "configs/distill.yaml",
             "teachers": ["configs/teacher_llama_360m.yaml", "configs/teacher_gptj_705m.yaml"]}


@functools.lru_cache(maxsize=1)
def cli_parser():
    """Our CLI's parser, built once (building it takes seconds: every class's signature is read)."""
    from babylm.commands.fit import build_parser

    return build_parser("fit")


def read_config(path: str):
    """Parse a training YAML (with ``configs/base.yaml``) through our CLI parser; returns the ``fit`` namespace."""
    return cli_parser().parse_args(["-c", str(REPO / path)])


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
            seconds = _run_hf_trainer(cfg, teachers, dataset, batch, micro, total, warmup, steps, precision, device,
                                      vocab, scratch)
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
    """Our LightningModule for a parsed config: :class:`DistillationStudent` when there are teachers, else
    :class:`CausalLM`."""
    from babylm.training.causal_lm import CausalLM
    from babylm.training.distill import DistillationStudent

    args = cfg.model.init_args
    common = dict(config=model_config(cfg), vocab_size=vocab, learning_rate=settings["learning_rate"],
                  weight_decay=settings["weight_decay"], warmup_steps=settings["warmup"],
                  schedule_steps=settings["steps"])
    if teachers:
        return DistillationStudent(teachers=teachers, alpha=args.alpha, temperature=args.temperature,
                                   reduction=reduction, **common)
    return CausalLM(**common)


def _run_hf_trainer(cfg, teachers, dataset, batch, micro, total, warmup, steps, precision, device, vocab,
                    scratch) -> float:
    """Train the baseline on a parsed config for ``total`` optimizer steps; returns the seconds of the last
    ``steps``."""
    from hf_baseline import StepClock

    from babylm.models.build import build_model

    args = cfg.model.init_args
    clock = StepClock(warmup, steps)
    extra = dict(alpha=args.alpha, temperature=args.temperature) if teachers else {}
    fit_hf_trainer(build_model(model_config(cfg), vocab), dataset, teachers, micro=micro, accumulation=batch // micro,
                   steps=total, learning_rate=args.learning_rate, warmup=min(args.warmup_steps, warmup),
                   weight_decay=args.weight_decay, precision=precision, device=device, scratch=scratch,
                   callbacks=[clock], **extra)
    return clock.end - clock.start


def fit_hf_trainer(model, dataset, teachers: Sequence[str], *, micro: int, accumulation: int, steps: int,
                   learning_rate: float, warmup: int, weight_decay: float, precision: str, device: str, scratch: str,
                   callbacks: Sequence = (), alpha: float = 0.5, temperature: float = 2.0, max_grad_norm: float = 1.0):
    """The baseline side: train ``model`` with the HF ``Trainer`` (or the reference ``DistillationTrainer``).

    Takes the HF model, a map-style dataset of ``{"input_ids", "labels"}`` windows, the teacher directories
    (empty: a teacher run), the recipe (micro-batch, accumulation, optimizer steps, schedule, precision) and
    ``TrainerCallback``s. Returns ``(trainer, TrainOutput)``.
    """
    from hf_baseline import DistillationTrainer, training_arguments
    from transformers import Trainer

    from babylm.models.export import load_hf_model

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
    """Our side: train ``module`` under a Lightning ``Trainer`` with the recipe's batch and clipping; returns the
    Trainer.

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


# the sides of each row, run in turn (A B A B … / A B C A B C …); the first is the baseline every ratio divides by
ROWS = {
    "teacher": [("hf-trainer", None), ("babylm", None)],
    "distill": [("hf-trainer", None), ("babylm", "legacy_batch_sum"), ("babylm", "token_mean")],
}
LABELS = {None: "", "legacy_batch_sum": " — same objective (`legacy_batch_sum`)",
          "token_mean": " — our default (`token_mean`)"}


def build_parser() -> argparse.ArgumentParser:
    """Return this benchmark's argument parser."""
    parser = argparse.ArgumentParser(prog="python benchmarks/bench_vs_hf_trainer.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", action="store_true",
                        help="reference sizes (Llama-360M teacher; 58M student from 360M + 705M teachers); "
                             "needs a GPU")
    parser.add_argument("--roles", default="teacher,distill",
                        help="comma-separated: teacher, distill (default: %(default)s)")
    parser.add_argument("--pairs", type=int, default=MIN_PAIRS,
                        help=f"rounds of the sides in turn, at least {MIN_PAIRS} (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=5, help="timed optimizer steps per run (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed optimizer steps first (default: %(default)s)")
    parser.add_argument("--vocab", type=int, default=16_000, help="vocabulary size (default: %(default)s)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda when available")
    parser.add_argument("--precision", default=None, help="override (default: the config's on GPU, 32-true on CPU)")
    parser.add_argument("--micro-batch", type=int, default=None, help="override the configs' micro-batch size")
    parser.add_argument("--one", nargs=2, metavar=("ROLE", "IMPL"), help=argparse.SUPPRESS)  # child process
    parser.add_argument("--reduction", default=None, help=argparse.SUPPRESS)  # child process: our KL reduction
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run each role's sides in turn, each run in its own subprocess, and print the table; returns an exit code."""
    args = build_parser().parse_args(argv)
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    sizes = REFERENCE if args.reference else TINY
    if args.one:
        role, implementation = args.one
        print(json.dumps(measure(role, implementation, sizes, args.steps, args.warmup, args.vocab, device,
                                 args.precision, args.micro_batch, args.reduction)))
        return 0
    if args.pairs < MIN_PAIRS:
        print(f"error: --pairs {args.pairs}: at least {MIN_PAIRS} pairs are needed for a median ratio", file=sys.stderr)
        return 2
    print(machine_line(extra=load_average()))
    print(f"{args.pairs} rounds of the sides in turn, each run its own process; {args.steps} steps timed after "
          f"{args.warmup} untimed; vocab {args.vocab:,}")
    table = ["| role | implementation | config | precision | batch (micro) | tokens/s (median) | "
             "peak memory GiB (median) | ours / baseline tokens/s: median [min–max] |",
             "|---|---|---|---|---|---:|---:|---|"]
    for role in args.roles.split(","):
        def side(implementation: str, reduction: str | None, role: str = role):
            def run() -> dict:
                child = [__file__, "--one", role, implementation, "--steps", str(args.steps),
                         "--warmup", str(args.warmup), "--vocab", str(args.vocab), "--device", device]
                child += ["--reference"] if args.reference else []
                child += ["--precision", args.precision] if args.precision else []
                child += ["--micro-batch", str(args.micro_batch)] if args.micro_batch else []
                child += ["--reduction", reduction] if reduction else []
                result, error = measure_in_child(child, REPO)
                if result is None:
                    raise SystemExit(f"{role} {implementation} failed: {error}")
                return result
            return run

        def progress(round_index: int, side_index: int, r: dict) -> None:
            print(f"  {role} round {round_index + 1}: {r['implementation']} {r['reduction'] or ''} "
                  f"{r['tokens_per_s']:,.0f} tokens/s", file=sys.stderr, flush=True)

        runs = alternate([side(*s) for s in ROWS[role]], args.pairs, progress)
        baseline = [r["tokens_per_s"] for r in runs[0]]
        for (implementation, reduction), results in zip(ROWS[role], runs):
            first = results[0]
            speed = [r["tokens_per_s"] for r in results]
            ratio = "baseline" if results is runs[0] else str(paired_ratio(speed, baseline))
            table.append(f"| {role} | {implementation}{LABELS[reduction]} | `{first['config']}` | "
                         f"{first['precision']} | {first['batch']} ({first['micro']}) | {median(speed):,.0f} | "
                         f"{median([r['peak_memory_gib'] for r in results]):.2f} | {ratio} |")
    print("\n".join(table))
    print(f"after: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
