"""Perplexity of a causal LM on a text file (e.g. ``data/corpus_split/val.txt``).

Run: ``python -m babylm evaluate --model DIR --tasks perplexity --val-file data/corpus_split/val.txt``.
Reads the text file; writes nothing itself (:mod:`.cli` writes ``perplexity.json``).

The same token stream and windowing as training: the file becomes ``<s> doc </s> <s> doc </s> …`` exactly
as the encode stage builds it (documents between the cleaner's ``<s>``/``</s>`` markers, or separated by
blank lines in a plain file; see :func:`babylm.data.tokens.documents.iter_documents`), cut into consecutive,
non-overlapping ``seq_len`` windows; the last, shorter window is kept when it has at least two tokens. In
each window every token after the first is predicted from the tokens before it in that window.
Perplexity = exp(mean next-token cross-entropy over all predicted tokens), computed in fp32; with the
training ``seq_len`` it is exp of the validation loss the training run logs (up to its window sampling).

Streaming: the file is read in 1 MiB chunks, documents are tokenized a batch at a time (a long document in
pieces of at most 64 Ki characters, cut where the cut leaves its tokens unchanged), and windows are scored
as they fill, so memory is bounded by a chunk, not by the file; with ``max_tokens`` reading and tokenizing
stop as soon as that many tokens are known.
"""

from __future__ import annotations

import codecs
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import torch
import torch.nn.functional as F

from babylm.data.tokens.documents import iter_documents
from babylm.evaluation import EvaluationError
from babylm.models.export import max_positions, prefix_token_id

ENCODE_BATCH_CHARS = 1 << 20  # most characters handed to the tokenizer per call
FIRST_BATCH_CHARS = 1 << 16  # the first calls are small (doubling up to ENCODE_BATCH_CHARS): max_tokens stops early
PIECE_CHARS = 1 << 16  # longest piece of one document tokenized at once
READ_BYTES = 1 << 20


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


def _file_chunks(path: Path, read_bytes: int = READ_BYTES) -> Iterator[str]:
    """Yield the UTF-8 text of ``path`` in chunks; a decoding error names the file and byte offset."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    offset = 0
    try:
        handle = open(path, "rb")
    except FileNotFoundError as error:
        raise EvaluationError(f"{path}: text file not found; run the split stage (python -m babylm prepare) "
                              "or pass --val-file") from error
    except OSError as error:
        raise EvaluationError(f"{path}: cannot read ({error})") from error
    with handle:
        while block := handle.read(read_bytes):
            try:
                yield decoder.decode(block)
            except UnicodeDecodeError as error:
                raise EvaluationError(f"{path}: not UTF-8 near byte {offset + error.start}") from error
            offset += len(block)
        yield decoder.decode(b"", final=True)


def iter_token_ids(tokenizer, chunks: Iterable[str]) -> Iterator[list[int]]:
    """Encode streamed text as the training token stream ``<s> doc </s> …``; yields the ids a batch at a time.

    Documents come from :func:`babylm.data.tokens.documents.iter_documents`; each is stripped, encoded without
    special tokens and wrapped in the tokenizer's bos (else eos) and eos ids, as the encode stage does.
    """

    start, end = prefix_token_id(tokenizer), tokenizer.eos_token_id
    batch: list = []

    def encode() -> list[int]:
        texts = []
        for piece in batch:
            piece_text = piece.text.lstrip() if piece.first else piece.text
            texts.append(piece_text.rstrip() if piece.last else piece_text)
        ids: list[int] = []
        # verbose=False: whole documents are longer than the model context on purpose (cut into windows below)
        for piece, encoded in zip(batch, tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]):
            ids.extend(([start] if piece.first else []) + encoded + ([end] if piece.last and end is not None else []))
        batch.clear()
        return ids

    size, budget = 0, FIRST_BATCH_CHARS
    for piece in iter_documents(chunks, max_doc_chars=PIECE_CHARS):  # long documents come in safe pieces
        batch.append(piece)
        size += len(piece.text)
        if size >= budget:
            yield encode()
            size, budget = 0, min(2 * budget, ENCODE_BATCH_CHARS)
    if batch:
        yield encode()


def text_token_ids(tokenizer, text: str) -> list[int]:
    """Encode ``text`` as the training token stream ``<s> doc </s> …``; returns the ids (see :func:`iter_token_ids`)."""
    return [token for block in iter_token_ids(tokenizer, [text]) for token in block]


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
    the stream (a quick estimate on a large file: reading stops there). Raises :class:`EvaluationError`
    for a missing, unreadable or empty file, a window longer than the model accepts, or bad settings.
    """
    path = Path(text_file)
    limit = max_positions(model)
    if seq_len is None:  # 0 is not 'the default': it is refused below
        seq_len = limit or 128
    if limit is not None and seq_len > limit:
        raise EvaluationError(f"--seq-len {seq_len} is longer than the model's {limit} positions")
    if seq_len < 2:
        raise EvaluationError(f"--seq-len must be at least 2, got {seq_len}")
    if batch_size < 1:
        raise EvaluationError(f"--batch-size must be at least 1, got {batch_size}")
    if max_tokens is not None and max_tokens < 2:
        raise EvaluationError(f"--max-tokens must be at least 2, got {max_tokens}")
    device = next(model.parameters()).device
    total_nll, predicted, windows = 0.0, 0, 0
    full: list[list[int]] = []
    buffer: list[int] = []
    taken = 0
    for block in iter_token_ids(tokenizer, _file_chunks(path)):
        if max_tokens is not None:
            block = block[: max_tokens - taken]
        taken += len(block)
        buffer.extend(block)
        while len(buffer) >= seq_len:
            full.append(buffer[:seq_len])
            del buffer[:seq_len]
            if len(full) == batch_size:
                total_nll += _window_nll(model, full, device)
                predicted, windows, full = predicted + batch_size * (seq_len - 1), windows + batch_size, []
        if max_tokens is not None and taken >= max_tokens:
            break
    if full:
        total_nll += _window_nll(model, full, device)
        predicted, windows = predicted + len(full) * (seq_len - 1), windows + len(full)
    if len(buffer) >= 2:  # the last, shorter window
        total_nll += _window_nll(model, [buffer], device)
        predicted, windows = predicted + len(buffer) - 1, windows + 1
    if not windows:
        raise EvaluationError(f"{path}: fewer than two tokens, nothing to predict")
    mean_nll = total_nll / predicted
    return PerplexityResult(
        file=str(path),
        perplexity=math.exp(mean_nll),
        mean_nll=mean_nll,
        predicted_tokens=predicted,
        windows=windows,
        seq_len=seq_len,
    )
