"""The baseline: the same recipes written the way the reference work trained, with a plain HF ``Trainer``.

Not part of the package; :mod:`bench_vs_hf_trainer` imports it to compare against our Lightning modules.

* teacher: ``transformers.Trainer`` on an HF causal LM (its built-in shifted CE), AdamW, cosine schedule
  with warm-up, gradient accumulation, ``max_grad_norm``; bf16 via ``TrainingArguments(bf16=True)``.
* distillation: the reference work's ``DistillationTrainer``: a ``Trainer`` whose ``compute_loss`` runs the
  teachers under ``torch.no_grad()``, averages their logits, and mixes
  ``alpha * CE + (1 - alpha) * T² * KLDiv(batchmean)`` of the tempered distributions.
"""

from __future__ import annotations

import time
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from transformers import Trainer, TrainerCallback, TrainingArguments


class StepClock(TrainerCallback):
    """Times optimizer steps ``warmup+1 … warmup+steps`` (synchronising CUDA) — the timed window."""

    def __init__(self, warmup: int, steps: int) -> None:
        self.warmup, self.steps = warmup, steps
        self.start: Optional[float] = None
        self.end: Optional[float] = None

    @staticmethod
    def _now() -> float:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        """Start the clock after the warm-up steps and stop it after the timed ones."""
        if state.global_step == self.warmup and self.start is None:
            self.start = self._now()
        if state.global_step == self.warmup + self.steps and self.end is None:
            self.end = self._now()


class DistillationTrainer(Trainer):
    """The reference work's distillation trainer: averaged teacher logits, KLDiv(batchmean) × T², α-mix."""

    def __init__(self, *args, teachers: Sequence[torch.nn.Module], alpha: float = 0.5, temperature: float = 2.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.teachers = list(teachers)
        for teacher in self.teachers:
            teacher.to(self.args.device).eval()
        self.alpha, self.temperature = alpha, temperature

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """Return ``alpha * CE + (1 - alpha) * T² * KL`` for a batch (and the student outputs if asked)."""
        outputs = model(**inputs)
        with torch.no_grad():
            teacher_logits = torch.stack([teacher(**inputs).logits for teacher in self.teachers]).mean(0)  # (B, T, V)
        kl = F.kl_div(
            F.log_softmax(outputs.logits / self.temperature, dim=-1),
            F.softmax(teacher_logits / self.temperature, dim=-1),
            reduction="batchmean",
        ) * self.temperature**2
        loss = self.alpha * outputs.loss + (1.0 - self.alpha) * kl
        return (loss, outputs) if return_outputs else loss


def training_arguments(output_dir: str, batch: int, micro: int, steps: int, learning_rate: float, warmup: int,
                       weight_decay: float, precision: str, device: str) -> TrainingArguments:
    """Return ``TrainingArguments`` for ``steps`` optimizer steps of ``batch`` windows (``micro`` per forward)."""
    return TrainingArguments(
        output_dir=output_dir,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=batch // micro,
        max_steps=steps,
        learning_rate=learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=warmup,
        weight_decay=weight_decay,
        max_grad_norm=1.0,
        bf16=precision.startswith("bf16"),
        use_cpu=device == "cpu",
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        eval_strategy="no",
        dataloader_num_workers=0,
        disable_tqdm=True,
        seed=1234,
    )
