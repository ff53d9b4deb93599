"""Perplexity of a causal LM on a text file (e.g. ``data/corpus_split/val.txt``).

Run: ``python -m babylm evaluate --model DIR --tasks perplexity --val-file data/corpus_split/val.txt``.
Reads the text file; writes nothing itself (:mod:`.cli` writes ``perplexity.json``).

The same token stream and windowing as training: the file becomes ``<s> doc </s> <s> doc </s> …`` exactly
as the encode stage builds it (documents between the cleaner's ``<s>``/``</s>`` markers, or separated by
blank lines in a plain file; see :func:`babylm.data.tokens.encode.iter_documents`), cut into consecutive,
non-overlapping ``seq_len`` windows; the last, shorter window is kept when it has at least two tokens. In
each window every token after the first is predicted from the tokens before it in that window.
Perplexity = exp(mean next-token cross-entropy over all predicted tokens), computed in fp32; with the
training ``seq_len`` it is exp of the validation loss the training run logs (up to its window sampling).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from babylm.evaluation import EvaluationError
from babylm.export import max_positions

ENCODE_BATCH_CHARS = 1 << 20  # documents handed to the tokenizer per call


@dataclass
class PerplexityResult:
    """Perplexity of a model on one file, with what it was computed over."""

    file: str
    perplexity: float
    mean_nll: float
    """Mean next-token cross-entropy in nats."""
    predicted_tokens: int
    windows: int
    seq_len: int


def text_token_ids(tokenizer, text: str) -> list[int]:
    """Encode ``text`` as the training token stream ``<s> doc </s> …``; returns the ids.

    Documents come from :func:`babylm.data.tokens.encode.iter_documents`; each is stripped, encoded without
    special tokens and wrapped in the tokenizer's bos (else eos) and eos ids, as the encode stage does.
    """
    from babylm.data.tokens.encode import iter_documents
    from babylm.export import prefix_token_id

    start, end = prefix_token_id(tokenizer), tokenizer.eos_token_id
    ids: list[int] = []
    batch: list = []

    def flush() -> None:
        if not batch:
            return
        texts = []
        for piece in batch:
            piece_text = piece.text.lstrip() if piece.first else piece.text
            texts.append(piece_text.rstrip() if piece.last else piece_text)
        # verbose=False: whole documents are longer than the model context on purpose (cut into windows below)
        for piece, encoded in zip(batch, tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]):
            ids.extend(([start] if piece.first else []) + encoded + ([end] if piece.last and end is not None else []))
        batch.clear()

    size = 0
    for piece in iter_documents([text]):
        batch.append(piece)
        size += len(piece.text)
        if size >= ENCODE_BATCH_CHARS:
            flush()
            size = 0
    flush()
    return ids


def token_windows(ids: list[int], seq_len: int) -> list[list[int]]:
    """Cut ``ids`` into consecutive ``seq_len`` windows, keeping a last shorter one of 2+ tokens."""
    if seq_len < 2:
        raise EvaluationError(f"--seq-len must be at least 2, got {seq_len}")
    windows = [ids[i : i + seq_len] for i in range(0, len(ids), seq_len)]
    return [w for w in windows if len(w) >= 2]


@torch.inference_mode()
def _window_nll(model, window_batch: list[list[int]], device: torch.device) -> float:
    """Summed next-token cross-entropy (nats) over a batch of equal-length windows."""
    input_ids = torch.tensor(window_batch, dtype=torch.long, device=device)  # (B, T)
    logits = model(input_ids=input_ids).logits.float()  # (B, T, V)
    pred, target = logits[:, :-1, :], input_ids[:, 1:]  # (B, T-1, V), (B, T-1)
    return F.cross_entropy(pred.reshape(-1, pred.size(-1)), target.reshape(-1), reduction="sum").item()


def perplexity(
    model,
    tokenizer,
    text_file: str | os.PathLike,
    seq_len: int | None = None,
    batch_size: int = 16,
    max_tokens: int | None = None,
) -> PerplexityResult:
    """Compute the perplexity of ``model`` on ``text_file``; returns a :class:`PerplexityResult`.

    ``seq_len`` defaults to the model's context length; ``max_tokens`` keeps only the first tokens of
    the stream (a quick estimate on a large file). Raises :class:`EvaluationError` for a missing or
    empty file or a window longer than the model accepts.
    """
    path = Path(text_file)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise EvaluationError(f"{path}: text file not found; run the split stage or pass --val-file") from error
    except (OSError, UnicodeDecodeError) as error:
        raise EvaluationError(f"{path}: cannot read as UTF-8 text ({error})") from error
    limit = max_positions(model)
    seq_len = seq_len or limit or 128
    if limit is not None and seq_len > limit:
        raise EvaluationError(f"--seq-len {seq_len} is longer than the model's {limit} positions")
    if batch_size < 1:
        raise EvaluationError(f"--batch-size must be at least 1, got {batch_size}")
    ids = text_token_ids(tokenizer, text)
    if max_tokens is not None:
        ids = ids[:max_tokens]
    windows = token_windows(ids, seq_len)
    if not windows:
        raise EvaluationError(f"{path}: fewer than two tokens, nothing to predict")
    device = next(model.parameters()).device
    full = [w for w in windows if len(w) == seq_len]
    tail = [w for w in windows if len(w) < seq_len]
    total_nll = 0.0
    for begin in range(0, len(full), batch_size):
        total_nll += _window_nll(model, full[begin : begin + batch_size], device)
    for window in tail:
        total_nll += _window_nll(model, [window], device)
    predicted = sum(len(w) - 1 for w in windows)
    mean_nll = total_nll / predicted
    return PerplexityResult(
        file=str(path),
        perplexity=math.exp(mean_nll),
        mean_nll=mean_nll,
        predicted_tokens=predicted,
        windows=len(windows),
        seq_len=seq_len,
    )
