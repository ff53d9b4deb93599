"""Span masking of token windows for masked next-token prediction (MNTP), and which windows of a step are masked.

Pure functions on token-id tensors, used by the hybrid objective (:mod:`babylm.training.hybrid`); nothing to run,
nothing read or written. The scheme is GPT-BERT's (Charpentier & Samuel, "GPT or BERT: why not both?", CoNLL-BabyLM
2024, arXiv:2410.24159; ``pretraining/dataset.py`` of github.com/ltgoslo/gpt-bert, ``SpanMaskingStrategy``):

* **Documents.** A packed window holds pieces of several documents, ``<s> … </s> <s> … </s>``; a new document
  starts at each ``<s>``, after each ``</s>`` and at the window's start (:func:`document_ids`).
* **Eligible tokens** (:func:`eligible_positions`): not a special token (``<pad>``, ``<s>``, ``</s>``, ``<mask>``),
  not the first token of a document and not the window's first token — the token before a target predicts it
  (MNTP's shift), so a target always has a predecessor in its own document.
* **Spans.** The window is cut into spans of 1 to ``max_span`` tokens (lengths uniform, as GPT-BERT), also cut
  wherever an ineligible token interrupts, so a span never crosses a special token or a document boundary. Each
  span draws a random score; the spans with the lowest scores are masked until exactly ``k`` tokens are chosen,
  ``k = ⌊rate × eligible + u⌋`` with ``u ~ U[0, 1)`` (stochastic rounding: the expected share is ``rate``); the
  last span taken may be cut short to hit ``k`` (it keeps its first tokens).
* **Replacement**, decided once per span (GPT-BERT): with probability ``random_p`` (0.1) every token of the span
  becomes a random non-special token, with ``keep_p`` (0.1) the span stays as it is, otherwise (0.8) each token
  becomes ``<mask>``. Every chosen token is a target, whatever replaced it.
* **Rate schedule** (:func:`masking_rate`): linear from ``start`` to ``end`` over the run (GPT-BERT: 30% → 15%).

Randomness comes from one ``torch.Generator`` per window, seeded by (seed, the window's position in the training
order; :func:`row_generator`), so a window's mask does not depend on the batch it shares or the device count.

**Which windows are masked** (:func:`masked_per_step`, :func:`masked_rows`): of the ``batch_size`` windows of an
optimizer step, those in slots ``0 … m − 1`` (slot = position % batch_size), ``m = share × batch_size`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np
import torch

KIND_NONE, KIND_MASK, KIND_RANDOM, KIND_KEEP = 0, 1, 2, 3
"""Values of :attr:`Masked.kinds`: not chosen; replaced by ``<mask>``; by a random token; kept."""


class MaskingError(ValueError):
    """A masking setting is out of range (the message names it)."""


@dataclass(frozen=True)
class SpanMasking:
    """What :func:`mask_spans` needs to know about the vocabulary, and the replacement probabilities."""

    mask_id: int
    """Id of ``<mask>``."""
    vocab_size: int
    """Random replacements are drawn from ``range(vocab_size)`` minus ``special_ids`` and ``mask_id``."""
    bos_id: int = 1
    eos_id: int = 2
    special_ids: tuple[int, ...] = (0, 1, 2)
    """Never masked and never drawn as random replacements (``<pad>``, ``<s>``, ``</s>``; ``<mask>`` too)."""
    random_p: float = 0.1
    keep_p: float = 0.1
    max_span: int = 3

    def validate(self) -> None:
        """Raise :class:`MaskingError` naming the setting when a probability or size is out of range."""
        if not (0.0 <= self.random_p and 0.0 <= self.keep_p and self.random_p + self.keep_p <= 1.0):
            raise MaskingError(f"masking: random_p {self.random_p} and keep_p {self.keep_p} must be ≥ 0 and sum to ≤ 1")
        if self.max_span < 1:
            raise MaskingError(f"masking: max_span must be at least 1, got {self.max_span}")
        if len(self.allowed_random()) == 0:
            raise MaskingError(f"masking: no non-special token below vocab_size {self.vocab_size} to draw")

    def allowed_random(self) -> torch.Tensor:
        """The ids a random replacement is drawn from (1-D LongTensor)."""
        excluded = torch.tensor(sorted({*self.special_ids, self.mask_id}), dtype=torch.long)
        ids = torch.arange(self.vocab_size, dtype=torch.long)
        return ids[~torch.isin(ids, excluded)]


class Masked(NamedTuple):
    """The result of :func:`mask_spans`; every tensor is (B, T)."""

    input_ids: torch.Tensor
    """What the model reads: the window with the chosen tokens replaced (long)."""
    targets: torch.Tensor
    """Chosen positions (bool): the original token there is predicted from the position before."""
    span_ids: torch.Tensor
    """For a chosen position, its span's number (unique within the row); −1 elsewhere (long)."""
    kinds: torch.Tensor
    """:data:`KIND_NONE`, :data:`KIND_MASK`, :data:`KIND_RANDOM` or :data:`KIND_KEEP` per position (long)."""


def document_ids(input_ids: torch.Tensor, bos_id: int = 1, eos_id: int = 2) -> torch.Tensor:
    """Number the documents of each packed window: (B, T) long ids in → (B, T) long, 0 for the window's first.

    A document starts at each ``bos_id``, after each ``eos_id`` (a ``</s> <s>`` pair starts one document, not
    two) and at the window's start.
    """
    starts = input_ids == bos_id  # (B, T)
    starts[:, 1:] |= input_ids[:, :-1] == eos_id
    starts[:, 0] = False
    return starts.long().cumsum(dim=1)  # (B, T)


def eligible_positions(input_ids: torch.Tensor, masking: SpanMasking) -> torch.Tensor:
    """(B, T) bool: positions that may be masked — not special, not ``<mask>``, not a document's or the window's
    first position (each has a predecessor in its own document, which predicts it)."""
    excluded = torch.tensor(sorted({*masking.special_ids, masking.mask_id}), dtype=input_ids.dtype,
                            device=input_ids.device)
    documents = document_ids(input_ids, masking.bos_id, masking.eos_id)  # (B, T)
    first = torch.ones_like(input_ids, dtype=torch.bool)
    first[:, 1:] = documents[:, 1:] != documents[:, :-1]
    return ~torch.isin(input_ids, excluded) & ~first


def masking_rate(step: int, total_steps: int, start: float = 0.3, end: float = 0.15) -> float:
    """The share of eligible tokens masked at optimizer ``step``: linear from ``start`` (step 0) to ``end``
    (step ``total_steps`` and after), as GPT-BERT's ``mask_p_start``/``mask_p_end``."""
    progress = min(1.0, max(0.0, step / max(1, total_steps)))
    return start + (end - start) * progress


def row_generator(seed: int, position: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from ``(seed, position)`` by NumPy's ``SeedSequence`` (independent streams)."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(position)]).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def _draws(generator: torch.Generator, length: int, max_span: int, choices: int) -> torch.Tensor:
    """One window's random numbers: span lengths, span scores, span replacement draws, random-token indices and
    the rounding draw, as a (5, T) float64 tensor (all exactly representable)."""
    lengths = torch.randint(1, max_span + 1, (length,), generator=generator).double()
    scores = torch.rand(length, generator=generator, dtype=torch.float64)
    replace = torch.rand(length, generator=generator, dtype=torch.float64)
    tokens = torch.randint(0, choices, (length,), generator=generator).double()
    rounding = torch.rand(1, generator=generator, dtype=torch.float64).expand(length)
    return torch.stack([lengths, scores, replace, tokens, rounding])


def mask_spans(input_ids: torch.Tensor, rate: float, generators: Sequence[torch.Generator],
               masking: SpanMasking) -> Masked:
    """Mask spans of each window (see the module doc); returns :class:`Masked`.

    Takes ``input_ids`` (B, T) long on the CPU, the masking ``rate`` in [0, 1] (share of eligible tokens), one
    generator per row and the settings. Raises :class:`MaskingError` for a rate outside [0, 1] or a generator
    count that is not B.
    """
    if not 0.0 <= rate <= 1.0:
        raise MaskingError(f"masking: rate must be in [0, 1], got {rate}")
    batch, length = input_ids.shape
    if len(generators) != batch:
        raise MaskingError(f"masking: {len(generators)} generators for {batch} windows")
    allowed = masking.allowed_random()
    draws = torch.stack([_draws(g, length, masking.max_span, len(allowed)) for g in generators])  # (B, 5, T)
    lengths, scores, replace, tokens, rounding = draws.unbind(1)  # each (B, T)
    eligible = eligible_positions(input_ids, masking)  # (B, T)

    ends = lengths.long().cumsum(dim=1)  # (B, T): end of each drawn span
    starts = torch.zeros(batch, length * masking.max_span + 1, dtype=torch.bool)
    starts.scatter_(1, ends - lengths.long(), True)  # span starts; those at or past T are cut off below
    starts = starts[:, :length]
    starts[:, 1:] |= eligible[:, 1:] & ~eligible[:, :-1]  # an interruption (special, new document) cuts a span
    starts[:, 0] = True
    span = starts.long().cumsum(dim=1) - 1  # (B, T): span number of each position

    score = scores.gather(1, span).masked_fill(~eligible, float("inf"))  # (B, T): a span's positions share it
    count = eligible.sum(dim=1)  # (B,)
    k = torch.minimum(torch.floor(count * rate + rounding[:, 0]).long(), count)  # (B,)
    order = torch.argsort(score, dim=1, stable=True)  # spans by score; within a span, by position
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(length).expand(batch, length))  # (B, T)
    chosen = rank < k[:, None]  # (B, T)

    draw = replace.gather(1, span)  # (B, T): one replacement draw per span
    kinds = torch.where(draw < masking.random_p, KIND_RANDOM, torch.where(draw < masking.random_p + masking.keep_p,
                                                                           KIND_KEEP, KIND_MASK))
    kinds = torch.where(chosen, kinds, KIND_NONE)  # (B, T)
    replaced = torch.where(kinds == KIND_MASK, masking.mask_id, input_ids)
    replaced = torch.where(kinds == KIND_RANDOM, allowed[tokens.long()], replaced)
    return Masked(replaced, chosen, torch.where(chosen, span, -1), kinds)


def masked_per_step(share: float, batch_size: int) -> int:
    """Windows per optimizer step trained with MNTP: ``share × batch_size``, which must be a whole number.

    Raises :class:`MaskingError` naming both settings otherwise, or when ``share`` is outside [0, 1].
    """
    if not 0.0 <= share <= 1.0:
        raise MaskingError(f"masked_share must be in [0, 1], got {share}")
    exact = share * batch_size
    count = round(exact)
    if abs(exact - count) > 1e-6:
        raise MaskingError(
            f"masked_share {share} × data.batch_size {batch_size} = {exact:g} windows per step, not a whole number; "
            f"choose a multiple of 1/{batch_size} (e.g. {max(1, int(exact)) / batch_size:g}) or another batch size"
        )
    return count


def masked_rows(positions: torch.Tensor, batch_size: int, masked: int) -> torch.Tensor:
    """(B,) bool: which windows of a micro-batch are masked, from their positions (B,) in the training order."""
    return positions % batch_size < masked
