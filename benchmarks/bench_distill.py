"""Benchmark: distillation throughput (student tokens/s, teacher forwards included) and the teachers' share of it.

Run: ``python benchmarks/bench_distill.py --config tiny`` (CPU) or ``--config reference`` (GPU: Baby-Llama-58M
from Llama-360M + GPTJ-705M, bf16-mixed). ``--help`` for the options.

Reads the sizes from the shipped YAML: the student and batch from ``configs/distill.yaml`` (or
``configs/tiny/distill.yaml``), the teachers from ``configs/teacher_{llama_360m,gptj_705m}.yaml`` (or
``configs/tiny/teacher_{llama,gptj}.yaml``); context 128 (``configs/base.yaml``). Teachers are randomly
initialised and written to a temporary folder (they are loaded from disk like real ones); the data are
random token windows (speed does not depend on the text). Writes nothing else.

It runs the real :class:`~babylm.training.distill.DistillationStudent` under a Lightning ``Trainer`` for
``--warmup`` + ``--steps`` optimizer steps and times the measured steps (from batch start to batch end,
optimizer step included) and, inside them, the teacher forwards (``DistillationStudent.teacher_logits``),
synchronising CUDA around each. For comparison it then trains the same student alone (plain ``CausalLM``).
Prints a machine line and one result line per run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_line  # noqa: E402  (benchmarks/harness.py)

REPO = Path(__file__).resolve().parent.parent
CONFIG_FILES = {
    "tiny": ("configs/tiny/distill.yaml", ["configs/tiny/teacher_llama.yaml", "configs/tiny/teacher_gptj.yaml"]),
    "reference": ("configs/distill.yaml", ["configs/teacher_llama_360m.yaml", "configs/teacher_gptj_705m.yaml"]),
}


def read_sizes(config: str) -> tuple[dict, list[dict], int]:
    """Return (student ModelConfig fields, [teacher ModelConfig fields…], batch size) from the shipped YAML."""
    import yaml

    def load(path: str) -> dict:
        return yaml.safe_load((REPO / path).read_text(encoding="utf-8"))

    student_file, teacher_files = CONFIG_FILES[config]
    student = load(student_file)
    teachers = [load(path)["model"]["init_args"]["config"] for path in teacher_files]
    return student["model"]["init_args"]["config"], teachers, int(student["data"]["batch_size"])


class StepTimer:
    """Lightning callback timing the training steps after ``warmup`` (CUDA-synchronised)."""

    def __init__(self, warmup: int, cuda: bool):
        import lightning as L

        class _Callback(L.Callback):
            def on_train_batch_start(cb, trainer, module, batch, batch_idx):
                self._sync()
                self._start = time.perf_counter()

            def on_train_batch_end(cb, trainer, module, outputs, batch, batch_idx):
                self._sync()
                if batch_idx >= self.warmup:
                    self.step_seconds += time.perf_counter() - self._start
                    self.steps += 1

        self.warmup, self.cuda = warmup, cuda
        self.step_seconds, self.steps, self._start = 0.0, 0, 0.0
        self.callback = _Callback()

    def _sync(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()


def time_teacher_forwards(module, timer: StepTimer) -> list[float]:
    """Wrap ``module.teacher_logits`` to add its (synchronised) duration after warm-up; returns the live total."""
    total = [0.0]
    inner = module.teacher_logits

    def timed(input_ids):
        timer._sync()
        start = time.perf_counter()
        out = inner(input_ids)
        timer._sync()
        if module.trainer.global_step >= timer.warmup:
            total[0] += time.perf_counter() - start
        return out

    module.teacher_logits = timed
    return total


def run(module, batch_size: int, seq_len: int, vocab_size: int, steps: int, warmup: int, precision: str, cuda: bool):
    """Train ``module`` for ``warmup + steps`` steps on random windows; returns (StepTimer, teacher seconds or None)."""
    import lightning as L
    import torch

    class RandomWindows(torch.utils.data.Dataset):
        def __len__(self):
            return batch_size * (steps + warmup)

        def __getitem__(self, index):
            generator = torch.Generator().manual_seed(index)
            return {"input_ids": torch.randint(0, vocab_size, (seq_len,), generator=generator)}

    timer = StepTimer(warmup, cuda)
    teacher_total = time_teacher_forwards(module, timer) if hasattr(module, "teacher_logits") else None
    trainer = L.Trainer(
        accelerator="gpu" if cuda else "cpu", devices=1, precision=precision, max_steps=steps + warmup,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        limit_val_batches=0, callbacks=[timer.callback],
    )
    trainer.fit(module, torch.utils.data.DataLoader(RandomWindows(), batch_size=batch_size, num_workers=0))
    return timer, (teacher_total[0] if teacher_total is not None else None)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on ``argv``; returns an exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIG_FILES), default="tiny",
                        help="sizes to use (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="windows per step (default: the config's data.batch_size)")
    parser.add_argument("--seq-len", type=int, default=128, help="tokens per window (default: %(default)s)")
    parser.add_argument("--vocab-size", type=int, default=16_000, help="vocabulary size (default: %(default)s)")
    parser.add_argument("--precision", default=None,
                        help="Lightning precision (default: bf16-mixed on GPU, 32-true on CPU)")
    parser.add_argument("--reduction", default="token_mean",
                        choices=["token_mean", "ensemble_mean", "legacy_batch_sum"],
                        help="KL reduction of the distillation loss (default: %(default)s)")
    parser.add_argument("--no-plain", action="store_true", help="skip the student-alone comparison run")
    args = parser.parse_args(argv)

    os.environ.setdefault("WANDB_MODE", "offline")
    import lightning as L
    import torch

    from babylm.models.build import ModelConfig, build_model
    from babylm.training.causal_lm import CausalLM
    from babylm.training.distill import DistillationStudent

    cuda = torch.cuda.is_available()
    if args.config == "reference" and not cuda:
        print("bench_distill: note: the reference config on a CPU is very slow; use --steps 2", file=sys.stderr)
    precision = args.precision or ("bf16-mixed" if cuda else "32-true")
    student_fields, teacher_fields, config_batch = read_sizes(args.config)
    batch_size = args.batch_size or config_batch
    print(machine_line(extra=f"{torch.get_num_threads()} torch threads"))
    print(f"config {args.config}: batch {batch_size} × {args.seq_len} tokens, vocab {args.vocab_size}, "
          f"precision {precision}, reduction {args.reduction}, {args.steps} timed steps after {args.warmup}")

    def student_config() -> ModelConfig:
        return ModelConfig(**{**student_fields, "max_position_embeddings": args.seq_len})

    common = dict(vocab_size=args.vocab_size, config=student_config(), warmup_steps=1,
                  schedule_steps=args.steps + args.warmup)
    tokens = batch_size * args.seq_len
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for index, fields in enumerate(teacher_fields):
            teacher = build_model(ModelConfig(**{**fields, "max_position_embeddings": args.seq_len}), args.vocab_size)
            if precision.startswith("bf16"):
                teacher = teacher.to(torch.bfloat16)  # half the bytes on disk; loaded and cast back as in training
            teacher.save_pretrained(f"{tmp}/teacher{index}")
            paths.append(f"{tmp}/teacher{index}")
            del teacher
        L.seed_everything(0, verbose=False)
        student = DistillationStudent(teachers=paths, reduction=args.reduction, **common)
        counts = f"student {student.parameter_counts['total'] / 1e6:.2f}M, teachers " + " + ".join(
            f"{m.num_parameters() / 1e6:.2f}M ({m.config.model_type})" for m in student.teachers.models
        )
        print(f"parameters: {counts}")
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        timer, teacher_seconds = run(student, batch_size, args.seq_len, args.vocab_size, args.steps, args.warmup,
                                     precision, cuda)
        memory = f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if cuda else ""
        print(
            f"distillation: {tokens * timer.steps / timer.step_seconds:,.0f} student tokens/s "
            f"({timer.step_seconds / timer.steps * 1000:.0f} ms/step), teacher forwards "
            f"{100 * teacher_seconds / timer.step_seconds:.0f}% of step time{memory}"
        )
        del student
    if not args.no_plain:
        L.seed_everything(0, verbose=False)
        plain = CausalLM(**common)
        timer, _ = run(plain, batch_size, args.seq_len, args.vocab_size, args.steps, args.warmup, precision, cuda)
        print(f"student alone: {tokens * timer.steps / timer.step_seconds:,.0f} tokens/s "
              f"({timer.step_seconds / timer.steps * 1000:.0f} ms/step)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
