"""The hybrid objective: masked next-token prediction (MNTP) beside causal LM, on a stock Hugging Face model.

Used by :class:`babylm.training.causal_lm.CausalLM` (and so by the distillation student) when
``model.init_args.objective: hybrid``; settings under ``model.init_args.hybrid`` (:class:`HybridConfig`). Nothing
to run on its own; reads and writes nothing. The method is GPT-BERT's (Charpentier & Samuel, "GPT or BERT: why
not both?", arXiv:2410.24159; github.com/ltgoslo/gpt-bert), without its architecture changes: see docs/hybrid.md.

Per optimizer step, ``masked_share × data.batch_size`` windows (exactly; the slots ``0 … m − 1`` of the step, by
each window's position in the training order, :mod:`babylm.data.tokens.windows`) are **masked** and the rest stay
**causal** — the same windows on 1 or N devices, with any micro-batch size, and after a resume:

* a masked window has spans of its tokens replaced (:func:`babylm.data.tokens.masking.mask_spans`, seeded by the
  window's position, at the scheduled rate), attends bidirectionally within each of its documents and never
  across them (a 4-D float mask, :func:`babylm.models.attention.document_attention_mask`), and is trained with
  :meth:`CausalLM.masked_loss <babylm.training.causal_lm.CausalLM.masked_loss>` — MNTP
  (:func:`babylm.models.losses.mntp_loss`, a masked token at k+1 predicted from the output at k) for a plain LM;
  a student may add its teachers' targets there (``masked_windows: distill``);
* a causal window is trained exactly as without the hybrid objective (:meth:`CausalLM.causal_loss`: next-token
  CE for a plain LM, the distillation mix for a student).

A micro-batch's loss is the window-weighted mean of the two, ``(n_scored · MNTP + n_causal · causal) / n``: the
mean over its windows of each window's own loss (MNTP: the mean over the window's masked tokens; ``n_scored``
counts the masked windows with at least one chosen token — at a low rate a short window may have none, and then
it adds nothing, nor does it pull the logged ``train/mntp`` down), so an optimizer step's loss and gradient do not
depend on the micro-batch size or the device count. (GPT-BERT takes a per-token mean per GPU, which weighs tokens
by how its GPUs split the batch.) Logged, each as the mean over its own windows of the optimizer step (all ranks):
``train/mntp``, ``train/ce`` (and ``train/ppl``; a student also ``train/kl``, and ``train/mntp_kl`` with
``masked_windows: distill``) and ``train/mask_rate`` (the share of eligible tokens actually masked, per window).
Validation and test stay causal (``val/loss`` is the causal CE, comparable with causal-only runs).

The ``<mask>`` token is id ``data.vocab_size`` (one embedding row more than the tokenizer; no id moves, the token
files stay valid); the export adds it to the tokenizer (:func:`babylm.models.export.export_hf`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

import torch

from babylm.data.tokens.masking import (
    MaskingError,
    SpanMasking,
    eligible_positions,
    mask_spans,
    masked_per_step,
    masked_rows,
    masking_rate,
    row_generator,
)
from babylm.models.attention import document_attention_mask

log = logging.getLogger(__name__)


class HybridConfigError(ValueError):
    """A ``model.init_args.hybrid.*`` setting is invalid or does not fit the data settings."""


@dataclass
class HybridConfig:
    """Settings of the hybrid objective (used only with ``objective: hybrid``)."""

    masked_share: float = 0.0625
    """Share of each optimizer step's windows trained with MNTP (the rest causal); ``masked_share × data.batch_size``
    must be whole. GPT-BERT: 15/16 = 0.9375 masked-focus (its default), 0.5 mixed, 1/16 = 0.0625 causal-focus (the
    BabyLM 2025 baseline) — our default, from the small preset's measurement (BENCHMARKS.md "The hybrid objective":
    masked-focus cost 1.1 nats of causal val loss and 3.4 BLiMP points there, causal-focus 0.085 nats and none
    measurable)."""
    mask_rate_start: float = 0.3
    """Share of a masked window's eligible tokens masked at step 0 (GPT-BERT's mask_p_start)."""
    mask_rate_end: float = 0.15
    """Share masked at the end of the schedule, reached linearly (GPT-BERT's mask_p_end; "Should you mask 15%?",
    Wettig et al. 2023, argues for higher rates: set both to e.g. 0.4 for a constant 40%)."""
    random_p: float = 0.1
    """Chance that a chosen span becomes random tokens instead of <mask>."""
    keep_p: float = 0.1
    """Chance that a chosen span stays unchanged (still a target)."""
    max_span: int = 3
    """Longest masked span, in tokens (lengths drawn uniformly from 1 … max_span)."""

    def validate(self) -> None:
        """Raise :class:`HybridConfigError` naming the setting when one is out of range."""
        if not 0.0 <= self.masked_share <= 1.0:
            raise HybridConfigError(f"model.init_args.hybrid.masked_share must be in [0, 1], got {self.masked_share}")
        for name in ("mask_rate_start", "mask_rate_end"):  # a rate of 0 would leave masked windows nothing to learn
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise HybridConfigError(f"model.init_args.hybrid.{name} must be in (0, 1], got {value} (to train "
                                        "without masked windows, set masked_share 0 or objective causal)")
        if not (0.0 <= self.random_p and 0.0 <= self.keep_p and self.random_p + self.keep_p <= 1.0):
            raise HybridConfigError(f"model.init_args.hybrid.random_p {self.random_p} and keep_p {self.keep_p} must be "
                                    "≥ 0 with a sum ≤ 1")
        if self.max_span < 1:
            raise HybridConfigError(f"model.init_args.hybrid.max_span must be at least 1, got {self.max_span}")


def attention_dtype(model: torch.nn.Module, device: torch.device) -> torch.dtype:
    """The dtype attention runs in: autocast's when it is on (bf16-mixed), else the model's weights'."""
    if torch.is_autocast_enabled(device.type):
        return torch.get_autocast_dtype(device.type)
    return next(model.parameters()).dtype


class HybridObjective:
    """The hybrid objective bound to a model's vocabulary (``<mask>`` = ``vocab_size``) and, by :meth:`bind`, to the
    data's batch size and seed."""

    def __init__(self, config: HybridConfig, vocab_size: int) -> None:
        config.validate()
        self.config = config
        self.masking = SpanMasking(mask_id=vocab_size, vocab_size=vocab_size, random_p=config.random_p,
                                   keep_p=config.keep_p, max_span=config.max_span)
        self.batch_size: Optional[int] = None
        self.masked: Optional[int] = None  # masked windows per optimizer step
        self.seed = 0
        self._total_steps: Optional[int] = None

    def bind(self, datamodule, total_steps: Optional[int] = None) -> None:
        """Take the effective batch size and seed of ``datamodule`` and ask it for window positions.

        Raises :class:`HybridConfigError` (one line) when the DataModule cannot give positions, or when
        ``masked_share × batch_size`` is not whole. ``total_steps`` (else read at the first step) ends the rate
        schedule.
        """
        if not hasattr(datamodule, "use_positions"):
            raise HybridConfigError("model.init_args.objective hybrid needs the TokenizedDataModule (data:), which "
                                    "gives each window its position in the training order")
        try:
            self.masked = masked_per_step(self.config.masked_share, datamodule.batch_size)
        except MaskingError as error:
            raise HybridConfigError(f"model.init_args.hybrid.{error}") from None
        self.batch_size, self.seed = datamodule.batch_size, int(datamodule.seed)
        self._total_steps = total_steps
        datamodule.use_positions()
        log.info("hybrid objective: %d masked + %d causal windows per optimizer step, mask rate %.2f → %.2f",
                 self.masked, self.batch_size - self.masked, self.config.mask_rate_start, self.config.mask_rate_end)

    def rate(self, step: int, module) -> float:
        """The masking rate at optimizer ``step`` (the schedule's length is read from ``module``, a CausalLM, once)."""
        if self._total_steps is None:
            self._total_steps = module.total_schedule_steps()
        return masking_rate(step, self._total_steps, self.config.mask_rate_start, self.config.mask_rate_end)

    def loss(self, module, batch: dict[str, torch.Tensor]) -> dict:
        """The training loss of one micro-batch of ``module`` (a CausalLM) and its logged parts (see the module doc).

        ``batch``: ``{"input_ids": (B, T), "position": (B,), …}`` (teacher-cache entries of a student too). Returns
        ``{"loss", "mask_rate", <module.masked_parts>…, <module.causal_parts>…, "windows/<part>": int}``: the same
        keys in every micro-batch (a part with no window here has weight 0), as the step-mean logging under DDP
        needs.
        """
        if self.masked is None or "position" not in batch:
            raise HybridConfigError("model.init_args.objective hybrid: the batch has no window positions; train with "
                                    "the TokenizedDataModule (data:) through python -m babylm fit")
        input_ids, positions = batch["input_ids"], batch["position"]  # (B, T), (B,)
        masked = masked_rows(positions, self.batch_size, self.masked)  # (B,)
        n_masked = int(masked.sum())
        n_causal = input_ids.size(0) - n_masked
        zero = input_ids.new_zeros((), dtype=torch.float32)
        parts: dict = {"mask_rate": zero, "windows/mask_rate": n_masked}
        for name in module.masked_parts:
            parts[name], parts[f"windows/{name}"] = zero, 0
        total = zero
        if n_masked:
            rows = {k: v[masked] for k, v in batch.items() if k != "position"}
            masked_parts, parts["mask_rate"], scored = self._masked_loss(module, rows, positions[masked])
            total = total + scored * masked_parts["loss"]  # a window without a chosen token adds nothing
            for name in module.masked_parts:
                parts[name], parts[f"windows/{name}"] = masked_parts[name].detach(), scored
        causal = {name: zero for name in module.causal_parts}
        if n_causal:
            keep = ~masked
            causal = module.causal_loss({k: v[keep] for k, v in batch.items() if k != "position"}, "train")
            total = total + n_causal * causal["loss"]
        for name in module.causal_parts:
            parts[name], parts[f"windows/{name}"] = causal[name].detach(), n_causal
        parts["loss"] = total / input_ids.size(0)
        return parts

    def _masked_loss(self, module, rows: dict[str, torch.Tensor], positions: torch.Tensor):
        """The loss of the windows ``rows`` (``input_ids`` (b, T) and any cache entries) at ``positions`` (b,),
        masked: :meth:`CausalLM.masked_loss` of their logits; returns (its parts, the realised rate, the number of
        windows with at least one chosen token — the windows its means are over)."""
        input_ids = rows["input_ids"]  # (b, T)
        steps = (positions // self.batch_size).tolist()
        generators = [row_generator(self.seed, p) for p in positions.tolist()]
        originals = input_ids.cpu()
        masked = mask_spans(originals, self.rate(steps[0], module), generators, self.masking)
        eligible = eligible_positions(originals, self.masking).sum(dim=1).clamp(min=1)  # (b,)
        device = input_ids.device
        inputs, targets = masked.input_ids.to(device), masked.targets.to(device)  # (b, T) each
        attention = document_attention_mask(inputs, self.masking.bos_id, self.masking.eos_id,
                                            attention_dtype(module.model, device))  # (b, 1, T, T)
        logits = module.model(input_ids=inputs, attention_mask=attention, use_cache=False).logits  # (b, T, V + 1)
        realised = (masked.targets.sum(dim=1) / eligible).mean().to(device=device, dtype=torch.float32)  # per window
        return module.masked_loss(logits, rows, targets), realised, int(masked.targets[:, 1:].any(dim=1).sum())
