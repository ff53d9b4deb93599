"""Loss functions: small, pure tensor functions with hand-checked unit tests.

``causal_lm_loss`` is next-token cross-entropy; ``mntp_loss`` its masked form (masked next-token prediction);
``distillation_loss`` (the student's objective) mixes it
with a temperature-scaled KL to one or more teachers' logits, and ``sparse_distillation_loss`` is the same
objective against the compact teacher targets of a teacher cache (:mod:`babylm.training.teacher_cache`).
All losses are computed in fp32 whatever the precision of the logits; the two distillation losses work in
row chunks (:mod:`babylm.models.chunked_loss`), so no full fp32 copy of any teacher's distribution is held.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F

from babylm.models.chunked_loss import SparseTarget, attach_gradient, fused_rows, teacher_target


def causal_lm_loss(logits: torch.Tensor, input_ids: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Mean next-token cross-entropy in fp32.

    Takes ``logits`` (B, T, V) and ``input_ids`` (B, T) (targets are ``input_ids`` shifted by one; entries
    equal to ``ignore_index`` are skipped); returns a scalar tensor.
    """
    # shift the targets, not the logits: slicing (B, T, V) would copy the largest tensor of the step
    target = F.pad(input_ids[:, 1:], (0, 1), value=ignore_index)  # (B, T): the last position has no target
    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=ignore_index)


def mntp_loss(logits: torch.Tensor, input_ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Masked next-token prediction (GPT-BERT's MNTP): cross-entropy on the masked tokens, in fp32.

    Takes ``logits`` (B, T, V) of the *masked* input, the *original* ``input_ids`` (B, T) and ``targets`` (B, T)
    bool, true where a token was chosen for masking (:func:`babylm.data.tokens.masking.mask_spans`). A chosen token
    at position k+1 is predicted from the output at position k — the same head and shift as
    :func:`causal_lm_loss`; unchosen positions are no targets. Reduction: each window's mean over its targets, then
    the mean over the windows that have one (a window without a target adds nothing; 0 when none has one) — so,
    as for causal CE, where every window has T − 1 targets, a step's loss does not depend on how its windows are
    split into micro-batches or devices (a per-token mean over a micro-batch would: windows have different
    numbers of masked tokens). Returns a scalar tensor. Source: Charpentier & Samuel 2024, arXiv:2410.24159, §2.
    """
    labels = F.pad(input_ids[:, 1:].masked_fill(~targets[:, 1:], -100), (0, 1), value=-100)  # (B, T): shifted
    token_ce = F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=-100, reduction="none")  # (B, T)
    counts = targets[:, 1:].sum(dim=1)  # (B,): position 0 has no position before it
    per_window = token_ce.sum(dim=1) / counts.clamp(min=1)  # (B,)
    return per_window.sum() / (counts > 0).sum().clamp(min=1)  # over the windows with a target


# ---------------------------------------------------------------------------------------------------------
# Distillation (the student's objective)
# ---------------------------------------------------------------------------------------------------------

DistillationReduction = Literal["token_mean", "ensemble_mean", "legacy_batch_sum"]
DISTILLATION_REDUCTIONS: tuple[str, ...] = ("token_mean", "ensemble_mean", "legacy_batch_sum")


class DistillationLoss(NamedTuple):
    """The parts of :func:`distillation_loss`, each a scalar fp32 tensor; only ``loss`` carries a gradient."""

    loss: torch.Tensor
    """The objective: ``alpha * ce + (1 - alpha) * temperature**2 * kl``."""
    ce: torch.Tensor
    """Next-token cross-entropy of the student against the labels (temperature 1), detached."""
    kl: torch.Tensor
    """KL(teacher_T ‖ student_T) under the chosen reduction, before the ``temperature**2`` factor, detached."""


class SparseTargets(NamedTuple):
    """Compact teacher targets for a batch, as a teacher cache stores them (see :mod:`babylm.training.teacher_cache`).

    ``ids`` (B, T, k) int64 class ids; ``probs`` (B, T, k) float weights of those classes in the tempered
    teacher distribution (0 = an unused slot); ``neg_entropy`` (B, T) the teacher-only term Σ p log p of the
    KL; ``tail``: whether the mass 1 − Σ probs is a tail bucket (top-k) or absent (sampled classes, whose
    weights sum to 1).
    """

    ids: torch.Tensor
    probs: torch.Tensor
    neg_entropy: torch.Tensor
    tail: bool


class DistillationSettingsError(ValueError):
    """``alpha``, ``temperature`` or ``reduction`` of the distillation loss is out of range."""


def check_distillation_settings(alpha: float, temperature: float, reduction: str) -> None:
    """Raise :class:`DistillationSettingsError` (a ``ValueError``) naming the bad setting; returns nothing.

    Valid: ``alpha`` in [0, 1], ``temperature`` finite and > 0, ``reduction`` one of :data:`DISTILLATION_REDUCTIONS`.
    """
    if not 0.0 <= alpha <= 1.0:
        raise DistillationSettingsError(f"distillation loss: alpha must be in [0, 1], got {alpha}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise DistillationSettingsError(
            f"distillation loss: temperature must be a finite number > 0, got {temperature}"
        )
    if reduction not in DISTILLATION_REDUCTIONS:
        raise DistillationSettingsError(
            f"distillation loss: reduction must be one of {', '.join(DISTILLATION_REDUCTIONS)}, got {reduction!r}"
        )




def _row_weights(input_ids: torch.Tensor, reduction: str, ignore_index: int, window_mean: bool = False):
    """Targets (N) and the per-row weights of CE and KL (N each), with their normalisers, for a (B, T) batch.

    CE (and the KL of ``token_mean``/``ensemble_mean``) count the positions 0..T-2 whose target is not
    ``ignore_index`` — a mean over them all, or with ``window_mean`` each window's mean, then the mean over the
    windows that have a target; ``legacy_batch_sum`` counts every position and divides by the
    batch size.
    """
    targets = F.pad(input_ids[:, 1:], (0, 1), value=ignore_index).reshape(-1)  # (N): the last position has no target
    scored = (targets != ignore_index).float()  # (N)
    if window_mean:
        if reduction == "legacy_batch_sum":
            raise DistillationSettingsError("distillation loss: window_mean needs reduction token_mean or "
                                            "ensemble_mean (legacy_batch_sum counts every position)")
        per_window = scored.view(input_ids.shape)  # (B, T)
        counts = per_window.sum(dim=1, keepdim=True)  # (B, 1)
        windows = (counts > 0).sum().clamp(min=1)  # the windows with a target: the mean is over them
        ce_mean = (per_window / counts.clamp(min=1.0) / windows).reshape(-1)
    else:
        ce_mean = scored / scored.sum().clamp(min=1.0)
    if reduction == "legacy_batch_sum":
        kl_mean = torch.full_like(scored, 1.0 / input_ids.size(0))
    else:
        kl_mean = ce_mean
    return targets, ce_mean, kl_mean


def _mix(student: torch.Tensor, input_ids: torch.Tensor, teacher, alpha: float, temperature: float, reduction: str,
         ignore_index: int, chunk_rows: Optional[int], window_mean: bool = False) -> DistillationLoss:
    """The objective from per-row losses of the chunked computation (see :func:`distillation_loss`)."""
    vocab = student.size(-1)
    targets, ce_mean, kl_mean = _row_weights(input_ids, reduction, ignore_index, window_mean)
    kl_scale = (1.0 - alpha) * temperature**2
    rows = fused_rows(
        student.reshape(-1, vocab), targets, alpha * ce_mean, kl_scale * kl_mean, temperature, teacher,
        with_grad=student.requires_grad, chunk_rows=chunk_rows,
    )
    ce = torch.where(ce_mean > 0, rows.ce, 0.0).mul(ce_mean).sum()
    kl = torch.where(kl_mean > 0, rows.kl, 0.0).mul(kl_mean).sum()
    loss = attach_gradient(student, alpha * ce + kl_scale * kl, rows.grad)
    return DistillationLoss(loss=loss, ce=ce, kl=kl)


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: Sequence[torch.Tensor],
    input_ids: torch.Tensor,
    alpha: float = 0.5,
    temperature: float = 2.0,
    reduction: DistillationReduction = "token_mean",
    ignore_index: int = -100,
    chunk_rows: Optional[int] = None,
    window_mean: bool = False,
) -> DistillationLoss:
    """Mix next-token CE with a temperature-scaled KL from one or more teachers, in fp32.

    Takes ``student_logits`` (B, T, V), ``teacher_logits`` (a non-empty sequence of (B, T, V) tensors, any
    float dtype; inference-mode tensors are fine, nothing of them is saved for backward), ``input_ids``
    (B, T) (the labels; CE targets are shifted by one and ``ignore_index`` entries are skipped), ``alpha``
    in [0, 1] (weight of CE), ``temperature`` > 0, ``reduction``, ``chunk_rows`` (positions per chunk of the
    computation; the default suits CPU and GPU) and ``window_mean`` (CE and KL: each window's mean over its
    scored positions, then the mean over the windows that have one — for windows with different numbers of
    targets, such as the hybrid objective's masked windows with unchosen positions set to ``ignore_index``; not
    with ``legacy_batch_sum``):

    - ``"token_mean"`` (default): KL(p_k ‖ q) per teacher k and per scored position (the T-1 positions CE
      scores, minus ignored targets), averaged over positions and then over teachers.
    - ``"ensemble_mean"``: the teachers' tempered distributions are averaged first, p̄ = mean_k p_k, then
      KL(p̄ ‖ q) is averaged over the same positions. Its gradient equals ``token_mean``'s (both are
      −Σ p̄ log q plus a teacher-only constant); only the logged KL differs, by the ensemble's disagreement.
    - ``"legacy_batch_sum"``: the reference BabyLlama code — teacher *logits* averaged, KL summed over all
      T positions and the vocabulary and divided by the batch size only (``KLDivLoss("batchmean")``), so
      the KL scale grows with T. Kept to reproduce old results.

    A class a teacher gives probability 0 (logit −inf) contributes 0 to the KL (0·log 0 = 0). Returns a
    :class:`DistillationLoss` ``(loss, ce, kl)`` with ``loss = alpha * ce + (1 - alpha) * temperature**2 * kl``;
    only ``loss`` has a gradient (computed with the loss, chunk by chunk: :mod:`babylm.models.chunked_loss`).
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
    vocab = student_logits.size(-1)
    flat = [logits.reshape(-1, vocab) for logits in teacher_logits]  # K × (N, V), views

    def teacher(start: int, end: int):
        return teacher_target([logits[start:end] for logits in flat], temperature, reduction)

    return _mix(student_logits, input_ids, teacher, alpha, temperature, reduction, ignore_index, chunk_rows,
                window_mean)


def sparse_distillation_loss(
    student_logits: torch.Tensor,
    targets: SparseTargets,
    input_ids: torch.Tensor,
    alpha: float = 0.5,
    temperature: float = 2.0,
    reduction: DistillationReduction = "token_mean",
    ignore_index: int = -100,
    chunk_rows: Optional[int] = None,
    window_mean: bool = False,
) -> DistillationLoss:
    """:func:`distillation_loss` against compact teacher targets (a teacher cache) instead of teacher logits.

    Takes ``student_logits`` (B, T, V), :class:`SparseTargets` (ids and probs (B, T, k), neg_entropy (B, T))
    built for the same ``temperature`` and ``reduction`` (the ensemble and the temperature are folded into
    them), and the rest as :func:`distillation_loss`. The KL per position is ``neg_entropy − Σ_j probs_j ·
    log q[ids_j]`` (plus ``−t · log Q_tail`` for a top-k tail bucket of mass ``t``). With every class kept
    (k = V) it equals :func:`distillation_loss`; with classes sampled from the teacher distribution
    (Anshumann et al., ACL 2025, "Sparse Logit Sampling") its gradient is an unbiased estimate of the dense
    one. Returns :class:`DistillationLoss`.
    """
    check_distillation_settings(alpha, temperature, reduction)
    expected = tuple(student_logits.shape[:2])
    if tuple(targets.ids.shape[:2]) != expected or targets.ids.shape != targets.probs.shape:
        raise ValueError(
            f"sparse distillation loss: targets have shape {tuple(targets.ids.shape)} (probs "
            f"{tuple(targets.probs.shape)}) but the student's logits have batch and length {expected}"
        )
    k = targets.ids.size(-1)
    ids, probs = targets.ids.reshape(-1, k), targets.probs.reshape(-1, k)  # (N, k)
    neg_entropy = targets.neg_entropy.reshape(-1)  # (N)

    def teacher(start: int, end: int):
        return SparseTarget(ids[start:end], probs[start:end], neg_entropy[start:end], targets.tail)

    return _mix(student_logits, input_ids, teacher, alpha, temperature, reduction, ignore_index, chunk_rows,
                window_mean)
