"""Loss functions: small, pure tensor functions with hand-checked unit tests.

``causal_lm_loss`` is next-token cross-entropy; ``distillation_loss`` (the student's objective) mixes it
with a temperature-scaled KL to one or more teachers. All losses are computed in fp32 whatever the
precision of the logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def shift_for_next_token(logits: torch.Tensor, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Align predictions with targets: position t predicts token t+1.

    Takes ``logits`` (B, T, V) and ``input_ids`` (B, T); returns ``(logits[:, :-1], input_ids[:, 1:])``.
    """
    return logits[:, :-1, :], input_ids[:, 1:]  # (B, T-1, V), (B, T-1)


def causal_lm_loss(logits: torch.Tensor, input_ids: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Mean next-token cross-entropy in fp32.

    Takes ``logits`` (B, T, V) and ``input_ids`` (B, T) (targets are ``input_ids`` shifted by one; entries
    equal to ``ignore_index`` are skipped); returns a scalar tensor.
    """
    pred, target = shift_for_next_token(logits, input_ids)  # (B, T-1, V), (B, T-1)
    return F.cross_entropy(pred.float().reshape(-1, pred.size(-1)), target.reshape(-1), ignore_index=ignore_index)
