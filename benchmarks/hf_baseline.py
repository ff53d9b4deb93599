"""The baseline: the same recipes written the way the reference work trained, with a plain HF ``Trainer``.

Not part of the package; :mod:`bench_vs_hf_trainer` imports it to compare against our Lightning modules.

* teacher: ``transformers.Trainer`` on an HF causal LM (its built-in shifted CE), AdamW, cosine schedule
  with warm-up, gradient accumulation, ``max_grad_norm``; bf16 via ``TrainingArguments(bf16=True)``.
* distillation: the reference work's ``DistillationTrainer``: a ``Trainer`` whose ``compute_loss`` runs the
  teachers under ``torch.no_grad()``, averages their logits, and mixes
  ``alpha * CE + (1 - alpha) * T² * KLDiv(batchmean)`` of the tempered distributions (our
  ``reduction: legacy_batch_sum``).

Gradient accumulation: a step's loss must be the mean over its whole accumulated batch, as Lightning makes it
for our side (each micro-batch's mean divided by the accumulation steps). The HF ``Trainer`` (transformers 5,
``Trainer.training_step``) divides a ``compute_loss`` result by the accumulation steps unless it counts as
already scaled: by default when ``model_accepts_loss_kwargs`` is true and the Trainer passed a
``num_items_in_batch`` (the scored label count of all the step's micro-batches), or when ``loss_is_scaled_for_ga``
says so. The reference ``DistillationTrainer`` ignored ``num_items_in_batch`` while the Trainer, seeing a
model that accepts loss keyword arguments, skipped the division: its gradients were × the accumulation steps.
:class:`DistillationTrainer` here honours ``num_items_in_batch``. The plain ``Trainer`` of a teacher run is
right as it is (the model's own loss takes ``num_items_in_batch``). ``tests/benchmarks/test_hf_baseline.py``
compares the first optimizer step's gradients of both sides at accumulation 1 and 2.
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
    """The reference work's distillation trainer: averaged teacher logits, KLDiv(batchmean) × T², α-mix.

    ``compute_loss`` honours ``num_items_in_batch`` (see the module docstring), so a step's loss and gradients
    are those of its whole accumulated batch at any micro-batch size.
    """

    def __init__(self, *args, teachers: Sequence[torch.nn.Module], alpha: float = 0.5, temperature: float = 2.0,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.model_accepts_loss_kwargs = True  # count num_items_in_batch and hand it to compute_loss
        self.teachers = list(teachers)
        for teacher in self.teachers:
            teacher.to(self.args.device).eval()
        self.alpha, self.temperature = alpha, temperature

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """Return ``alpha * CE + (1 - alpha) * T² * KL`` of one micro-batch (and the student outputs if asked).

        With ``num_items_in_batch`` (the scored tokens of all the step's micro-batches, counted by the Trainer)
        the loss is this micro-batch's share of the step's mean: CE summed over its tokens / ``num_items_in_batch``
        (the model's own loss does that), and the ``batchmean`` KL weighted by its share of the step's scored
        tokens — exact for windows of equal length, as here. The Trainer then does not divide by the accumulation
        steps. Without it (``None``) both are means over this micro-batch and the Trainer divides.
        """
        if num_items_in_batch is not None:
            inputs = {**inputs, "num_items_in_batch": num_items_in_batch}
        outputs = model(**inputs)
        teacher_inputs = {k: v for k, v in inputs.items() if k != "num_items_in_batch"}
        with torch.no_grad():
            teacher_logits = torch.stack(  # (B, T, V)
                [teacher(**teacher_inputs).logits for teacher in self.teachers]).mean(0)
        kl = F.kl_div(
            F.log_softmax(outputs.logits / self.temperature, dim=-1),
            F.softmax(teacher_logits / self.temperature, dim=-1),
            reduction="batchmean",
        ) * self.temperature**2
        if num_items_in_batch is not None:
            scored = inputs["labels"][..., 1:].ne(-100).sum()  # this micro-batch's share of num_items_in_batch
            kl = kl * scored / num_items_in_batch
        loss = self.alpha * outputs.loss + (1.0 - self.alpha) * kl
        return (loss, outputs) if return_outputs else loss


def training_arguments(output_dir: str, batch: int, micro: int, steps: int, learning_rate: float, warmup: int,
                       weight_decay: float, precision: str, device: str,
                       max_grad_norm: float = 1.0) -> TrainingArguments:
    """Return ``TrainingArguments`` for ``steps`` optimizer steps of ``batch`` windows (``micro`` per forward).

    ``max_grad_norm`` 0 turns clipping off. The optimizer is the Trainer's default (fused AdamW on
    torch >= 2.8).
    """
    return TrainingArguments(
        output_dir=output_dir,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=batch // micro,
        max_steps=steps,
        learning_rate=learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=warmup,
        weight_decay=weight_decay,
        max_grad_norm=max_grad_norm,
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
