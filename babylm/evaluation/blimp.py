"""BLiMP minimal-pair evaluation: load paradigm JSONL files, score pairs with a causal LM, aggregate.

Run: ``python -m babylm evaluate --model checkpoints/Baby-Llama-58M --tasks blimp`` (see :mod:`.cli`).
Reads BLiMP JSONL files (one paradigm per file: ``sentence_good``, ``sentence_bad``, ``field``,
``linguistics_term``, ``UID``, ``pairID``, …) from a directory; writes nothing itself (:mod:`.report` does).

Scoring: a sentence's score is the summed log-probability of all its tokens after a start token (the
tokenizer's ``<s>``, or its eos when it has no bos), computed in fp32. The sentence is encoded without
special tokens and the start token is prepended here, so any local HF causal LM is scored the same way.
Sentences are batched with right padding: in a causal model a real token only attends to earlier (real)
tokens, so padding cannot change its score for any architecture; the attention mask is passed anyway.
A pair is correct when the good sentence scores strictly higher; a tie counts as wrong and is reported.

Aggregation: accuracy per paradigm; per phenomenon (``linguistics_term``), per field and overall as the
mean over paradigms (every upstream paradigm has 1,000 pairs, so this equals the per-pair mean there).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from statistics import fmean
from typing import Callable, Iterable, Sequence

import torch

from babylm.evaluation import EvaluationError
from babylm.export import max_positions, prefix_token_id

REQUIRED_KEYS = ("sentence_good", "sentence_bad", "field", "linguistics_term", "UID")
SAMPLE_BLIMP_DIR = Path(__file__).resolve().parent.parent / "resources" / "blimp_sample"
"""Original minimal pairs shipped with the package (BLiMP's schema), for the offline quick start."""


class BlimpDataError(EvaluationError):
    """A BLiMP file or directory is missing or malformed (the message names file and line)."""


@dataclass(frozen=True)
class MinimalPair:
    """One BLiMP item: the acceptable and the unacceptable sentence, with its id and source line."""

    good: str
    bad: str
    pair_id: str
    line: int


@dataclass
class Paradigm:
    """All pairs of one BLiMP paradigm (one JSONL file)."""

    uid: str
    field: str
    phenomenon: str
    path: Path
    pairs: list[MinimalPair]


@dataclass
class ParadigmResult:
    """Scores of one paradigm: per-pair log-probabilities (good, bad) and the pair ids of ties."""

    uid: str
    field: str
    phenomenon: str
    pair_ids: list[str]
    good_logprobs: list[float]
    bad_logprobs: list[float]
    ties: list[str] = dataclass_field(default_factory=list)

    @property
    def pairs(self) -> int:
        """Number of pairs scored."""
        return len(self.pair_ids)

    @property
    def correct(self) -> int:
        """Pairs whose good sentence scored strictly higher than the bad one."""
        return sum(g > b for g, b in zip(self.good_logprobs, self.bad_logprobs))

    @property
    def accuracy(self) -> float:
        """``correct / pairs`` (0.0 for an empty paradigm)."""
        return self.correct / self.pairs if self.pairs else 0.0


# ─── data ─────────────────────────────────────────────────────────────────────


def _normalise_field(name: str) -> str:
    # Upstream spells the same field both "syntax_semantics" and "syntax/semantics" (principle_A_case_2).
    return name.replace("/", "_")


def load_paradigm(path: str | os.PathLike, limit: int | None = None) -> Paradigm:
    """Read one BLiMP JSONL file (at most ``limit`` pairs); returns a :class:`Paradigm`.

    Raises :class:`BlimpDataError` naming ``file:line`` for a line that is not a JSON object, lacks a
    required key, has an empty sentence, or belongs to another paradigm than the first line.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as error:
        raise BlimpDataError(f"{path}: BLiMP file not found") from error
    except (OSError, UnicodeDecodeError) as error:
        raise BlimpDataError(f"{path}: cannot read as UTF-8 text ({error})") from error
    pairs: list[MinimalPair] = []
    header: tuple[str, str, str] | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise BlimpDataError(f"{where}: not valid JSON ({error.msg} at column {error.colno})") from error
        if not isinstance(record, dict):
            raise BlimpDataError(f"{where}: expected a JSON object with {', '.join(REQUIRED_KEYS)}")
        for key in REQUIRED_KEYS:
            value = record.get(key)
            if not isinstance(value, str) or not value.strip():
                raise BlimpDataError(f"{where}: field {key!r} is missing or not a non-empty string")
        this = (record["UID"], _normalise_field(record["field"]), record["linguistics_term"])
        if header is None:
            header = this
        elif this != header:
            raise BlimpDataError(
                f"{where}: UID/field/linguistics_term {this} differ from the file's first pair {header}; "
                "keep one paradigm per file"
            )
        pairs.append(MinimalPair(record["sentence_good"], record["sentence_bad"], str(record.get("pairID", len(pairs))), number))
        if limit is not None and len(pairs) >= limit:
            break
    if header is None:
        raise BlimpDataError(f"{path}: no minimal pairs in this file")
    return Paradigm(uid=header[0], field=header[1], phenomenon=header[2], path=path, pairs=pairs)


def load_blimp_dir(
    directory: str | os.PathLike, paradigms: Sequence[str] | None = None, limit: int | None = None
) -> list[Paradigm]:
    """Load every ``*.jsonl`` paradigm in ``directory`` (or only the named ``paradigms``, by file stem).

    ``limit`` keeps the first pairs of each paradigm. Returns paradigms sorted by file name; raises
    :class:`BlimpDataError` when the directory or a named paradigm is missing.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise BlimpDataError(f"{directory}: BLiMP directory not found; pass --blimp-dir DIR holding BLiMP .jsonl files")
    files = {p.stem: p for p in sorted(directory.glob("*.jsonl"))}
    if not files:
        raise BlimpDataError(f"{directory}: no .jsonl files; pass --blimp-dir DIR holding BLiMP .jsonl files")
    if paradigms:
        unknown = [name for name in paradigms if name not in files]
        if unknown:
            raise BlimpDataError(
                f"{directory}: no paradigm file for {', '.join(unknown)} (available: {', '.join(files)})"
            )
        files = {name: files[name] for name in paradigms}
    return [load_paradigm(path, limit=limit) for path in files.values()]


# ─── scoring ──────────────────────────────────────────────────────────────────


@torch.inference_mode()
def sentence_logprobs(model, tokenizer, sentences: Sequence[str], batch_size: int = 64) -> list[float]:
    """Summed fp32 log-probability of each sentence after the start token; returns one float per sentence.

    ``model`` is an HF causal LM (its device is used), ``tokenizer`` a transformers tokenizer. Sentences
    are sorted by length and batched (``batch_size`` sentences, right-padded) to waste little compute.
    """
    if batch_size < 1:
        raise EvaluationError(f"--batch-size must be at least 1, got {batch_size}")
    start = prefix_token_id(tokenizer)
    encoded = tokenizer(list(sentences), add_special_tokens=False)["input_ids"]
    sequences = [[start, *ids] for ids in encoded]
    limit = max_positions(model)
    for sentence, ids in zip(sentences, sequences):
        if len(ids) < 2:
            raise EvaluationError(f"sentence {sentence!r} encodes to no tokens")
        if limit is not None and len(ids) > limit:
            raise EvaluationError(
                f"sentence {sentence[:60]!r}… is {len(ids)} tokens with the start token, "
                f"longer than the model's {limit} positions"
            )
    device = next(model.parameters()).device
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]), reverse=True)
    scores = [0.0] * len(sequences)
    for begin in range(0, len(order), batch_size):
        batch = [sequences[i] for i in order[begin : begin + batch_size]]
        width = len(batch[0])
        input_ids = torch.full((len(batch), width), start, dtype=torch.long)  # (B, T); filler is masked
        attention_mask = torch.zeros((len(batch), width), dtype=torch.long)  # (B, T)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention_mask[row, : len(ids)] = 1
        input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits.float()  # (B, T, V)
        pred, target = logits[:, :-1, :], input_ids[:, 1:]  # (B, T-1, V), (B, T-1)
        token_logprobs = pred.gather(-1, target.unsqueeze(-1)).squeeze(-1) - pred.logsumexp(-1)  # (B, T-1)
        # where, not multiply: a padded position's value must not leak in even if it were inf/nan.
        real = attention_mask[:, 1:].bool()  # (B, T-1)
        totals = torch.where(real, token_logprobs, torch.zeros_like(token_logprobs)).sum(-1)  # (B,)
        for index, total in zip(order[begin : begin + batch_size], totals.tolist()):
            scores[index] = total
    return scores


def score_paradigm(model, tokenizer, paradigm: Paradigm, batch_size: int = 64) -> ParadigmResult:
    """Score every pair of ``paradigm``; returns its :class:`ParadigmResult` (ties listed by pair id)."""
    sentences = [p.good for p in paradigm.pairs] + [p.bad for p in paradigm.pairs]
    scores = sentence_logprobs(model, tokenizer, sentences, batch_size=batch_size)
    n = len(paradigm.pairs)
    good, bad = scores[:n], scores[n:]
    pair_ids = [p.pair_id for p in paradigm.pairs]
    ties = [pid for pid, g, b in zip(pair_ids, good, bad) if g == b]
    return ParadigmResult(paradigm.uid, paradigm.field, paradigm.phenomenon, pair_ids, good, bad, ties)


def evaluate_blimp(
    model,
    tokenizer,
    paradigms: Iterable[Paradigm],
    batch_size: int = 64,
    progress: Callable[[ParadigmResult], None] | None = None,
) -> list[ParadigmResult]:
    """Score each paradigm in turn (calling ``progress(result)`` after each); returns the results."""
    results = []
    for paradigm in paradigms:
        result = score_paradigm(model, tokenizer, paradigm, batch_size=batch_size)
        results.append(result)
        if progress is not None:
            progress(result)
    return results


# ─── aggregation ──────────────────────────────────────────────────────────────


def _group(results: Sequence[ParadigmResult], key: Callable[[ParadigmResult], str]) -> dict[str, dict]:
    groups: dict[str, list[ParadigmResult]] = {}
    for result in results:
        groups.setdefault(key(result), []).append(result)
    return {
        name: {
            "accuracy": fmean(r.accuracy for r in members),
            "paradigms": len(members),
            "pairs": sum(r.pairs for r in members),
            "ties": sum(len(r.ties) for r in members),
        }
        for name, members in sorted(groups.items())
    }


def aggregate(results: Sequence[ParadigmResult]) -> dict:
    """Summarise paradigm results; returns ``{"overall", "fields", "phenomena", "paradigms"}``.

    ``overall``/``fields``/``phenomena`` accuracies are means over paradigms; ``overall`` also carries
    ``pair_accuracy`` (correct / all pairs). Every level reports ``pairs`` and ``ties``.
    """
    if not results:
        raise EvaluationError("no BLiMP paradigms were scored")
    pairs = sum(r.pairs for r in results)
    return {
        "overall": {
            "accuracy": fmean(r.accuracy for r in results),
            "pair_accuracy": sum(r.correct for r in results) / pairs,
            "paradigms": len(results),
            "pairs": pairs,
            "ties": sum(len(r.ties) for r in results),
        },
        "fields": _group(results, lambda r: r.field),
        "phenomena": _group(results, lambda r: r.phenomenon),
        "paradigms": {
            r.uid: {
                "field": r.field,
                "phenomenon": r.phenomenon,
                "accuracy": r.accuracy,
                "correct": r.correct,
                "pairs": r.pairs,
                "ties": len(r.ties),
                "tied_pair_ids": r.ties,
            }
            for r in sorted(results, key=lambda r: r.uid)
        },
    }
