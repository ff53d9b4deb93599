"""Loss functions: small, pure tensor functions with hand-checked unit tests.

``causal_lm_loss`` is next-token cross-entropy; ``distillation_loss`` (the student's objective) mixes it
with a temperature-scaled KL to one or more teachers. All losses are computed in fp32 whatever the
precision of the logits.
"""

from __future__ import annotations

from typing import Literal, NamedTuple, Sequence

import torch
import torch.nn.functional as F


def causal_lm_loss(logits: torch.Tensor, input_ids: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Mean next-token cross-entropy in fp32.

    Takes ``logits`` (B, T, V) and ``input_ids`` (B, T) (targets are ``input_ids`` shifted by one; entries
    equal to ``ignore_index`` are skipped); returns a scalar tensor.
    """
    # shift the targets, not the logits: slicing (B, T, V) would copy the largest tensor of the step
    target = F.pad(input_ids[:, 1:], (0, 1), value=ignore_index)  # (B, T): the last position has no target
    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=ignore_index)


# ---------------------------------------------------------------------------------------------------------
# Distillation (the student's objective)
# ---------------------------------------------------------------------------------------------------------

DistillationReduction = Literal["token_mean", "ensemble_mean", "legacy_batch_sum"]
DISTILLATION_REDUCTIONS: tuple[str, ...] = ("token_mean", "ensemble_mean", "legacy_batch_sum")


class DistillationLoss(NamedTuple):
    """The parts of :func:`distillation_loss`, each a scalar fp32 tensor."""

    loss: torch.Tensor
    """The objective: ``alpha * ce + (1 - alpha) * temperature**2 * kl``."""
    ce: torch.Tensor
    """Next-token cross-entropy of the student against the labels (temperature 1)."""
    kl: torch.Tensor
    """KL(teacher_T ‖ student_T) under the chosen reduction, before the ``temperature**2`` factor."""


def _teacher_side(teachers: Sequence[torch.Tensor], temperature: float, reduction: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher half of KL(p ‖ q) = Σ p log p − Σ p log q, which needs no gradient.

    Takes K teacher logits (…, V) in fp32; returns ``(target, neg_entropy)``: the distribution the student's
    log-probabilities are weighted by (…, V), and the per-position constant Σ p log p (…), both for ``reduction``.
    For ``token_mean`` the mean over teachers of KL(p_k ‖ q) is mean_k Σ p_k log p_k − Σ p̄ log q, so the
    target is the mean distribution p̄ and the constant the mean of the teachers' Σ p_k log p_k.
    """
    # written for speed: the (…, V) tensors are the biggest in a small student's step; in-place where safe
    with torch.no_grad():
        if reduction == "legacy_batch_sum":
            mean_logits = teachers[0].clone()
            for logits in teachers[1:]:
                mean_logits.add_(logits)
            log_p = F.log_softmax(mean_logits.mul_(1.0 / (len(teachers) * temperature)), dim=-1)  # (…, V)
            target = log_p.exp()
            return target, torch.linalg.vecdot(target, log_p)
        target, neg_entropy, share = None, None, 1.0 / len(teachers)
        for logits in teachers:
            log_p = F.log_softmax(logits * (1.0 / temperature), dim=-1)  # (…, V)
            p = log_p.exp()
            h = torch.linalg.vecdot(p, log_p)  # (…): Σ p log p
            if target is None:
                target, neg_entropy = p.mul_(share), h.mul_(share)
            else:
                target.add_(p, alpha=share)
                neg_entropy.add_(h, alpha=share)
        if reduction == "ensemble_mean":
            neg_entropy = torch.special.xlogy(target, target).sum(-1)  # Σ p̄ log p̄ (0 log 0 = 0)
        return target, neg_entropy


def _token_kl(student_logits: torch.Tensor, teachers: Sequence[torch.Tensor], temperature: float, reduction: str) -> torch.Tensor:
    """KL(teacher_T ‖ student_T) per position for ``reduction``, from fp32 logits (…, V); returns (…)."""
    target, neg_entropy = _teacher_side(teachers, temperature, reduction)
    vocab = student_logits.size(-1)
    # cross-entropy with probability targets: −Σ p log q, fused softmax + backward
    cross = F.cross_entropy(
        (student_logits / temperature).reshape(-1, vocab), target.reshape(-1, vocab), reduction="none"
    ).view(neg_entropy.shape)  # (…)
    return neg_entropy + cross


class DistillationSettingsError(ValueError):
    """``alpha``, ``temperature`` or ``reduction`` of the distillation loss is out of range."""


def check_distillation_settings(alpha: float, temperature: float, reduction: str) -> None:
    """Raise :class:`DistillationSettingsError` (a ``ValueError``) naming the bad setting; returns nothing.

    Valid: ``alpha`` in [0, 1], ``temperature`` > 0, ``reduction`` one of :data:`DISTILLATION_REDUCTIONS`.
    """
    if not 0.0 <= alpha <= 1.0:
        raise DistillationSettingsError(f"distillation loss: alpha must be in [0, 1], got {alpha}")
    if temperature <= 0:
        raise DistillationSettingsError(f"distillation loss: temperature must be positive, got {temperature}")
    if reduction not in DISTILLATION_REDUCTIONS:
        raise DistillationSettingsError(
            f"distillation loss: reduction must be one of {', '.join(DISTILLATION_REDUCTIONS)}, got {reduction!r}"
        )


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: Sequence[torch.Tensor],
    input_ids: torch.Tensor,
    alpha: float = 0.5,
    temperature: float = 2.0,
    reduction: DistillationReduction = "token_mean",
    ignore_index: int = -100,
) -> DistillationLoss:
    """Mix next-token CE with a temperature-scaled KL from one or more teachers, in fp32.

    Takes ``student_logits`` (B, T, V), ``teacher_logits`` (a non-empty sequence of (B, T, V) tensors, any
    float dtype), ``input_ids`` (B, T) (the labels; CE targets are shifted by one and ``ignore_index``
    entries are skipped), ``alpha`` in [0, 1] (weight of CE), ``temperature`` > 0 and ``reduction``:

    - ``"token_mean"`` (default): KL(p_k ‖ q) per teacher k and per scored position (the T-1 positions CE
      scores, minus ignored targets), averaged over positions and then over teachers.
    - ``"ensemble_mean"``: the teachers' tempered distributions are averaged first, p̄ = mean_k p_k, then
      KL(p̄ ‖ q) is averaged over the same positions. Its gradient equals ``token_mean``'s (both are
      −Σ p̄ log q plus a teacher-only constant); only the logged KL differs, by the ensemble's disagreement.
    - ``"legacy_batch_sum"``: the reference BabyLlama code — teacher *logits* averaged, KL summed over all
      T positions and the vocabulary and divided by the batch size only (``KLDivLoss("batchmean")``), so
      the KL scale grows with T. Kept to reproduce old results.

    Returns a :class:`DistillationLoss` ``(loss, ce, kl)`` with
    ``loss = alpha * ce + (1 - alpha) * temperature**2 * kl``.
    """
    check_distillation_settings(alpha, temperature, reduction)
    if len(teacher_logits) == 0:
        raise ValueError("distillation loss: at least one teacher's logits are needed")
    for index, logits in enumerate(teacher_logits):
        if logits.shape != student_logits.shape:
            raise ValueError(
                f"distillation loss: teacher {index} logits have shape {tuple(logits.shape)} but the student's "
                f"have {tuple(student_logits.shape)} (same batch, length and vocabulary are required)"
            )

    student = student_logits.float()  # (B, T, V)
    ce = causal_lm_loss(student, input_ids, ignore_index=ignore_index)
    teachers = [logits.float() for logits in teacher_logits]  # K × (B, T, V)

    kl_per_position = _token_kl(student, teachers, temperature, reduction)  # (B, T)
    if reduction == "legacy_batch_sum":
        kl = kl_per_position.sum() / student.size(0)  # all T positions, divided by the batch size only
    else:
        # the positions CE scores: 0..T-2 with a target that is not ignore_index (the last has no target)
        mask = torch.zeros_like(kl_per_position)  # (B, T)
        mask[:, :-1] = (input_ids[:, 1:] != ignore_index).to(mask.dtype)
        kl = (kl_per_position * mask).sum() / mask.sum().clamp(min=1.0)

    loss = alpha * ce + (1.0 - alpha) * temperature**2 * kl
    return DistillationLoss(loss=loss, ce=ce, kl=kl)
