"""The optimizer of every babylm model: AdamW parameter groups, the fastest AdamW that can run, warm-up + cosine.

Pure torch, used by :class:`babylm.training.causal_lm.CausalLM` (``configure_optimizers``) and
``benchmarks/bench_optimizer.py``; nothing to run, nothing read or written. Sources: torch.optim.AdamW's
documentation (decoupled weight decay; the fused, foreach and for-loop implementations compute the same update)
and the reference BabyLlama recipe (linear warm-up, then cosine decay).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn


def _is_norm(module: nn.Module) -> bool:
    # LayerNorm, RMSNorm and the HF classes (LlamaRMSNorm, …) all carry "Norm" in the class name.
    return isinstance(module, (nn.LayerNorm, nn.GroupNorm)) or "norm" in type(module).__name__.lower()


def weight_decay_groups(model: nn.Module, weight_decay: float, no_decay: Sequence[str]) -> list[dict]:
    """Split the trainable parameters of ``model`` into AdamW groups with and without weight decay.

    Takes the model, the decay coefficient and the kinds exempt from decay (``"bias"``: every parameter named
    ``bias``; ``"norm"``: parameters of normalisation layers; ``"embedding"``: ``nn.Embedding`` weights, which
    includes a tied output projection). Returns ``[{"params", "weight_decay"}, …]`` with each parameter once
    (tied weights are shared tensors); empty groups are left out.
    """
    unknown = set(no_decay) - {"bias", "norm", "embedding"}
    if unknown:
        raise ValueError(f"no_weight_decay: unknown kinds {sorted(unknown)}; use bias, norm, embedding")
    embedding_ids = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    decay, exempt, seen = [], [], set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if id(param) in seen or not param.requires_grad:
                continue
            seen.add(id(param))
            skip = (
                ("bias" in no_decay and name == "bias")
                or ("norm" in no_decay and _is_norm(module))
                or ("embedding" in no_decay and id(param) in embedding_ids)
            )
            (exempt if skip else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": exempt, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


# the devices torch 2.13's fused AdamW kernels run on (torch/utils/_foreach_utils.py,
# _get_fused_kernels_supported_devices); any other device gets torch's own default (foreach where it can)
FUSED_ADAMW_DEVICES = ("cpu", "cuda", "xpu", "mps")


def adamw(groups: list[dict], mixed_precision: bool = False, **hyper) -> torch.optim.AdamW:
    """``torch.optim.AdamW`` over ``groups`` in the fastest implementation that can run here.

    Fused (one kernel over all parameters, what ``transformers.Trainer`` uses by default) when every parameter
    is a floating-point tensor on a device with fused kernels (:data:`FUSED_ADAMW_DEVICES`) and the Trainer does
    not run mixed precision; otherwise torch's default, which is the multi-tensor ``foreach`` implementation on
    CUDA. Lightning refuses gradient clipping with a fused optimizer under ``*-mixed`` precision (its AMP plugin
    expects to unscale gradients itself), hence the exception. ``hyper`` are AdamW's keyword arguments (``lr``,
    ``betas``, ``eps``). All implementations compute the same update (torch.optim.AdamW docs); a test checks it
    against the for-loop one.
    """
    params = [p for group in groups for p in group["params"]]
    fused = not mixed_precision and all(p.is_floating_point() and p.device.type in FUSED_ADAMW_DEVICES for p in params)
    return torch.optim.AdamW(groups, fused=fused or None, **hyper)


def warmup_cosine(step: int, warmup_steps: int, total_steps: int, min_lr_ratio: float) -> float:
    """Learning-rate multiplier at optimizer ``step``: linear 0→1 over ``warmup_steps``, then cosine to
    ``min_lr_ratio``.

    Takes the step (0-based), the warm-up length, the total schedule length and the final ratio; returns a float
    in [0, 1]. Past ``total_steps`` the multiplier stays at ``min_lr_ratio``.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
