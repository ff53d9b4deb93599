"""``DistillationStudent``: a small causal LM distilled from an ensemble of frozen teachers.

Run it through the CLI: ``python -m babylm fit -c configs/distill.yaml`` (tiny CPU variant:
``-c configs/tiny/distill.yaml``; ``--help`` lists every argument). Reads batches ``{"input_ids": (B, T)}``
from :class:`babylm.data.tokens.datamodule.TokenizedDataModule` and the teacher directories written by
``python -m babylm export`` (e.g. ``checkpoints/Llama-360M``, ``checkpoints/GPTJ-705M``); at the end of
``fit`` writes the student's Hugging Face export to ``export_dir`` (``checkpoints/Baby-Llama-58M``).

It is a :class:`babylm.models.causal_lm.CausalLM` (same optimizer, schedule, logging, checkpoints and
export) whose :meth:`compute_loss` is the distillation objective of :func:`babylm.models.losses.distillation_loss`:
``alpha * CE + (1 - alpha) * T^2 * KL(teacher_T ‖ student_T)``. Training logs ``train/loss`` (the mix),
``train/ce`` and ``train/kl``; validation and test score the student alone (``val/loss`` = ``val/ce`` and
``val/ppl``), without running the teachers.

The teachers live in :class:`babylm.models.teachers.FrozenTeachers`, outside the module tree: they are not
parameters (so not in the optimizer, DDP or the student's checkpoints), Lightning's ``.train()`` never
reaches them, and every rank loads its own copy and moves it to its own device on the first step (in
bf16 when the Trainer's precision is bf16).
"""

from __future__ import annotations

import logging
from typing import Optional, Sequence

import torch

from babylm.models.causal_lm import CausalLM
from babylm.models.losses import DistillationReduction, check_distillation_settings, distillation_loss
from babylm.models.teachers import FrozenTeachers

log = logging.getLogger(__name__)


class DistillationStudent(CausalLM):
    """A causal LM trained on the labels and on the tempered distributions of frozen teachers.

    Args:
        teachers: Exported Hugging Face directories of the teachers (one or more; any mix of LLaMA, GPT-J and
            GPT-2), e.g. ``[checkpoints/Llama-360M, checkpoints/GPTJ-705M]``. Each must have been trained with
            the student's tokenizer (checked at start-up).
        alpha: Weight of the cross-entropy on the labels; ``1 - alpha`` weighs the distillation term.
        temperature: Softmax temperature T of teachers and student in the KL term (scaled back by T^2).
        reduction: How the KL is reduced: ``token_mean`` (per token, then over teachers), ``ensemble_mean``
            (teacher distributions averaged first) or ``legacy_batch_sum`` (the reference code: mean teacher
            logits, KL summed over positions and divided by the batch size only — for reproducing old runs).
        vocab_size: Vocabulary size; linked from ``data.vocab_size`` and checked against every teacher.
        tokenizer_path: Tokenizer JSON of the student; linked from ``data.tokenizer_path`` and checked against
            each teacher's ``tokenizer.json``.
        **kwargs: Everything else of :class:`~babylm.models.causal_lm.CausalLM` (``config`` — the student
            architecture, default Baby-Llama-58M —, optimizer, schedule, ``export_dir``).
    """

    def __init__(
        self,
        teachers: Sequence[str],
        alpha: float = 0.5,
        temperature: float = 2.0,
        reduction: DistillationReduction = "token_mean",
        vocab_size: int = 16_000,
        tokenizer_path: Optional[str] = None,
        **kwargs,
    ) -> None:
        super().__init__(vocab_size=vocab_size, tokenizer_path=tokenizer_path, **kwargs)
        self.save_hyperparameters({"teachers": [str(t) for t in teachers]})
        check_distillation_settings(alpha, temperature, reduction)  # fail at start-up, not at the first step
        self.teachers = FrozenTeachers(teachers, vocab_size, tokenizer_path)
        log.info(
            "distilling from %d teacher(s), %s parameters in all (student: %s)",
            len(self.teachers), f"{self.teachers.parameter_count():,}", f"{self.parameter_counts['total']:,}",
        )

    def _teacher_dtype(self) -> torch.dtype:
        precision = str(self.trainer.precision) if self._trainer is not None else "32"
        return torch.bfloat16 if precision.startswith("bf16") else torch.float32

    def teacher_logits(self, input_ids: torch.Tensor) -> list[torch.Tensor]:
        """Every teacher's logits for ``input_ids`` (B, T), on this rank's device; returns K × (B, T, V)."""
        self.teachers.place(input_ids.device, self._teacher_dtype())
        return self.teachers.logits(input_ids)

    def compute_loss(self, batch: dict[str, torch.Tensor], stage: str) -> dict[str, torch.Tensor]:
        """Training: the distillation mix (``loss``) with ``ce`` and ``kl``; validation/test: the student's CE.

        Takes a batch ``{"input_ids": (B, T)}`` and the stage; returns a dict of scalar fp32 tensors.
        """
        input_ids = batch["input_ids"]  # (B, T)
        if stage != "train":
            return super().compute_loss(batch, stage)
        student_logits = self(input_ids)  # (B, T, V)
        parts = distillation_loss(
            student_logits,
            self.teacher_logits(input_ids),
            input_ids,
            alpha=self.hparams.alpha,
            temperature=self.hparams.temperature,
            reduction=self.hparams.reduction,
        )
        return {"loss": parts.loss, "ce": parts.ce, "kl": parts.kl}
