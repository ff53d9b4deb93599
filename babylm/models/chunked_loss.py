"""The distillation loss computed in row chunks, its gradient taken in the same pass.

Used by :mod:`babylm.models.losses` (the public functions) and by the teacher-cache builder
(:func:`teacher_target`); nothing to run on its own, reads and writes nothing.

Why: over (B, T, V) logits with V = 16,000, the tempered softmaxes of the student and of every teacher
are the biggest tensors of a small student's step. Autograd would keep an fp32 copy of each for the
backward pass. Here the rows (positions) are processed ``chunk_rows`` at a time: a chunk of student logits
is cast to fp32, the teachers' target distribution for those rows is built (one teacher's fp32 chunk at a
time), and the per-row CE, the per-row KL and the gradient of the weighted loss with respect to the
student's logits are computed together. Only that gradient, one (N, V) tensor in the student logits' dtype,
is kept for the backward pass (:class:`_PrecomputedGradient`), as fused cross-entropy kernels do.

The formulas, per row with student logits ``s``, tempered ``z = s / T``, ``q = softmax(z)`` and teacher
target ``p`` (entries summing to ``m``; ``m = 1`` except for a truncated top-k):

* CE = logsumexp(s) − s[target];  dCE/ds = softmax(s) − onehot(target).
* KL(p ‖ q) = Σ p log p − Σ p log q (the first term is the teacher-only ``neg_entropy``; 0·log 0 = 0, so a
  teacher that gives a class −inf contributes nothing there);  dKL/ds = (m·q − p) / T.
* top-k with a tail bucket (``tail=True``): the teacher's remaining mass t = 1 − m is matched against the
  student's mass outside the k classes, Q = Σ_{j∉k} q_j: an extra −t·log Q, whose gradient is
  t·(q − r) / T with r = q restricted to the classes outside the k and renormalised.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Sequence

import torch

# elements per chunk: 256 rows × 16,000 = 16 MiB per fp32 (rows, V) buffer, ~7 such buffers live at once.
# Much smaller chunks pay each op's fixed cost too often (starting its threads; on a loaded CPU, waiting
# for a descheduled one: ~7 ms per op measured at 32 rows); buffers of 32 MiB and more are fresh mmaps
# from glibc every time, page-faulted in again (1024 rows: 2.5× the minor faults of 256).
DEFAULT_CHUNK_ELEMENTS = 1 << 22


class DenseTarget(NamedTuple):
    """A teacher target for a chunk of rows: probabilities ``p`` (c, V) and ``neg_entropy`` Σ p log p (c)."""

    p: torch.Tensor
    neg_entropy: torch.Tensor


class SparseTarget(NamedTuple):
    """A compact teacher target for a chunk of rows.

    ``ids`` (c, k) int64 class ids, ``probs`` (c, k) fp32 weights (entries with weight 0 are padding),
    ``neg_entropy`` (c) the teacher-only term of the KL, ``tail``: whether 1 − Σ probs is a tail bucket.
    """

    ids: torch.Tensor
    probs: torch.Tensor
    neg_entropy: torch.Tensor
    tail: bool


def plogq(p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """Σ p · log q over the last dimension with 0 · log 0 = 0 (and 0 · −inf = 0); returns (…)."""
    return torch.where(p > 0, p * log_q, 0.0).sum(-1)


def _finite_(log_p: torch.Tensor) -> torch.Tensor:
    """Replace −inf log-probabilities by the most negative float, in place, so that 0 · log 0 = 0 in a dot product."""
    return log_p.clamp_(min=torch.finfo(log_p.dtype).min)


def _tempered(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``logits / temperature`` as a new fp32 tensor (cast first, so bf16 logits are not rounded again)."""
    if logits.dtype == torch.float32:
        return logits * (1.0 / temperature)
    return logits.float().mul_(1.0 / temperature)


def teacher_target(logits: Sequence[torch.Tensor], temperature: float, reduction: str) -> DenseTarget:
    """The tempered teacher distribution that ``reduction`` distils towards, for one chunk of rows.

    Takes K teacher logit chunks (c, V) of any float dtype (each cast to fp32 in turn). ``token_mean`` and
    ``ensemble_mean``: p̄ = mean_k softmax(l_k / T) with Σ p log p = mean_k Σ p_k log p_k (``token_mean``:
    the mean of the teachers' KLs) or Σ p̄ log p̄ (``ensemble_mean``: the KL to the mixture);
    ``legacy_batch_sum``: p = softmax(mean_k l_k / T) (the reference code averages logits). Classes a teacher
    gives −inf have p = 0 and add nothing to Σ p log p. Returns a :class:`DenseTarget`.
    """
    if reduction == "legacy_batch_sum":
        mean = logits[0].float()
        for chunk in logits[1:]:
            mean = mean + chunk.float()
        log_p = torch.log_softmax(mean * (1.0 / (len(logits) * temperature)), dim=-1)  # (c, V)
        p = log_p.exp()
        return DenseTarget(p, torch.linalg.vecdot(p, _finite_(log_p)))
    share = 1.0 / len(logits)
    p_mean, neg_entropy = None, None
    for chunk in logits:
        log_p = torch.log_softmax(_tempered(chunk, temperature), dim=-1)  # (c, V)
        p = log_p.exp()
        h = torch.linalg.vecdot(p, _finite_(log_p))  # (c): Σ p log p
        if p_mean is None:
            p_mean, neg_entropy = p.mul_(share), h.mul_(share)
        else:
            p_mean.add_(p, alpha=share)
            neg_entropy.add_(h, alpha=share)
    if reduction == "ensemble_mean":
        neg_entropy = torch.linalg.vecdot(p_mean, _finite_(torch.log(p_mean)))
    return DenseTarget(p_mean, neg_entropy)


class RowLosses(NamedTuple):
    """Per-row ``ce`` (N) and ``kl`` (N) in fp32, and ``grad`` (N, V) of the weighted loss (or None)."""

    ce: torch.Tensor
    kl: torch.Tensor
    grad: Optional[torch.Tensor]


def _kl_part(log_q: torch.Tensor, q: torch.Tensor, target) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row −Σ p log q (c) and the un-tempered gradient of the KL w.r.t. z = s / T (c, V), for one chunk.

    ``log_q`` (finite) and ``q`` are the student's tempered log-probabilities and probabilities; ``q`` is
    overwritten with the gradient.
    """
    if isinstance(target, DenseTarget):
        return -torch.linalg.vecdot(target.p, log_q), q.sub_(target.p)  # Σ p = 1: the gradient is q − p
    ids, probs = target.ids, target.probs.float()
    cross = -plogq(probs, log_q.gather(1, ids))  # (c)
    mass = probs.sum(-1, keepdim=True)  # (c, 1)
    if not target.tail:
        return cross, q.mul_(mass).scatter_add_(1, ids, -probs)  # (c, V): m·q − p
    tail = (1.0 - mass).clamp_(min=0.0)  # (c, 1)
    outside = log_q.scatter(1, ids, float("-inf"))  # (c, V): log q of the classes outside the k
    log_tail = torch.logsumexp(outside, dim=-1, keepdim=True)  # (c, 1): log Q
    none_outside = torch.isinf(log_tail)  # k = V: no tail bucket at all
    tail, log_tail = tail.masked_fill_(none_outside, 0.0), log_tail.masked_fill_(none_outside, 0.0)
    cross = cross - torch.where(tail > 0, tail * log_tail, 0.0).squeeze(1)
    r = outside.sub_(log_tail).exp_().mul_(tail)  # (c, V): t · q renormalised outside the k
    return cross, q.mul_(mass + tail).scatter_add_(1, ids, -probs).sub_(r)  # m·q − p + t·(q − r)


def fused_rows(
    student: torch.Tensor,
    targets: torch.Tensor,
    ce_weight: torch.Tensor,
    kl_weight: torch.Tensor,
    temperature: float,
    teacher: Callable[[int, int], DenseTarget | SparseTarget],
    with_grad: bool,
    chunk_rows: Optional[int] = None,
) -> RowLosses:
    """CE and KL of every row, and the gradient of Σ (ce_weight·CE + kl_weight·KL), chunk by chunk.

    Takes ``student`` logits (N, V) of any float dtype, ``targets`` (N) int64 next-token ids (any value where
    ``ce_weight`` is 0), ``ce_weight`` and ``kl_weight`` (N) fp32, the temperature, ``teacher(start, end)``
    giving the target of rows ``start:end``, whether to compute the gradient, and ``chunk_rows`` (default:
    about 4M elements per chunk). Returns :class:`RowLosses`; the gradient has the student logits' dtype.
    """
    rows, vocab = student.shape
    step = chunk_rows or max(1, DEFAULT_CHUNK_ELEMENTS // vocab)
    ce_rows = torch.empty(rows, dtype=torch.float32, device=student.device)
    kl_rows = torch.empty(rows, dtype=torch.float32, device=student.device)
    grad = torch.empty_like(student) if with_grad else None
    inv_t = 1.0 / temperature
    with torch.no_grad():
        for start in range(0, rows, step):
            end = min(rows, start + step)
            s = student[start:end]  # (c, V), any float dtype
            target = targets[start:end].clamp(min=0, max=vocab - 1)[:, None]  # (c, 1)
            log_p1 = torch.log_softmax(s, dim=-1, dtype=torch.float32)  # (c, V): CE at temperature 1
            ce_rows[start:end] = log_p1.gather(1, target).squeeze(1).neg()
            log_q = torch.log_softmax(_tempered(s, temperature), dim=-1)  # (c, V)
            q = log_q.exp()
            teacher_part = teacher(start, end)
            cross, kl_grad = _kl_part(_finite_(log_q), q, teacher_part)
            kl_rows[start:end] = teacher_part.neg_entropy.float() + cross
            if grad is not None:
                ce_grad = log_p1.exp_()  # (c, V): softmax(s)
                ce_grad.scatter_add_(1, target, torch.full_like(target, -1.0, dtype=torch.float32))
                ce_grad.mul_(ce_weight[start:end, None]).addcmul_(kl_grad, kl_weight[start:end, None] * inv_t)
                grad[start:end] = ce_grad
    return RowLosses(ce_rows, kl_rows, grad)


class _PrecomputedGradient(torch.autograd.Function):
    """``value`` as a function of ``logits`` whose gradient was computed in the forward pass (``grad``)."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, value: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(grad)
        return value.clone()

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (grad,) = ctx.saved_tensors
        return grad * grad_output.to(grad.dtype), None, None


def attach_gradient(logits: torch.Tensor, value: torch.Tensor, grad: Optional[torch.Tensor]) -> torch.Tensor:
    """Return ``value`` (a scalar) carrying ``grad`` (shaped like ``logits``) as its gradient w.r.t. ``logits``."""
    if grad is None or not logits.requires_grad:
        return value
    return _PrecomputedGradient.apply(logits, value, grad.view_as(logits))
