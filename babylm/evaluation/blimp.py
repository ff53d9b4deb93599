"""BLiMP minimal-pair evaluation: load paradigm JSONL files, score pairs with a causal LM, aggregate.

Run: ``python -m babylm evaluate --model checkpoints/Baby-Llama-58M --tasks blimp`` (see :mod:`.cli`).
Reads BLiMP JSONL files (one paradigm per file: ``sentence_good``, ``sentence_bad``, ``field``,
``linguistics_term``, ``UID``, ``pairID``, …) from a directory — BLiMP itself, BabyLM's ``blimp_filtered`` /
``blimp_fast`` (the same schema, fewer pairs), or the BLiMP supplement (``supplement_filtered``,
``supplement_fast``: only the two sentences; the file name is the paradigm); writes nothing itself
(:mod:`.report` does).

Scoring: a sentence's score is the summed log-probability of all its tokens after a start token (the
tokenizer's ``<s>``, or its eos when it has no bos), computed in fp32. The sentence is encoded without
special tokens and the start token is prepended here, so any local HF causal LM is scored the same way.
Sentences are batched with right padding: in a causal model a real token only attends to earlier (real)
tokens, so padding cannot change its score for any architecture; the attention mask is passed anyway.
Padding does change the float rounding (the kernels a CPU picks depend on the batch's shape), so each
distinct token sequence is scored exactly once and every copy of it gets that one score: identical
sentences get identical scores whatever their batch neighbours (real BLiMP has 7 pairs whose two
sentences are the same string: ``passive_1`` ×2, ``principle_A_case_2`` ×5).

Ties: a pair is correct when the good sentence scores strictly higher; by default (``ties="wrong"``) a tie
counts as wrong, and ties are always reported. ``ties="correct"`` is the rule of lm-evaluation-harness and
of the official BabyLM evaluation pipeline, which take the argmax over ``[good, bad]`` and so give a tie to
the first choice, the good sentence; use it to compare with numbers computed there.

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
from typing import Callable, Iterable, Literal, Sequence

import torch

from babylm.evaluation import EvaluationError
from babylm.models.export import max_positions, prefix_token_id

SENTENCE_KEYS = ("sentence_good", "sentence_bad")
LABEL_KEYS = ("field", "linguistics_term", "UID")
REQUIRED_KEYS = SENTENCE_KEYS + LABEL_KEYS
SUPPLEMENT = "supplement"
"""field and phenomenon of a pair without ``field`` (the BLiMP supplement's files; its UID is the file name)."""
TieRule = Literal["wrong", "correct"]
TIE_RULES: tuple[str, ...] = ("wrong", "correct")
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


def pair_is_correct(good: float, bad: float, ties: TieRule = "wrong") -> bool:
    """Whether a pair with these summed log-probabilities counts as correct under the tie rule ``ties``."""
    return good > bad or (ties == "correct" and good == bad)


@dataclass
class ParadigmResult:
    """Scores of one paradigm: per-pair log-probabilities (good, bad), the pair ids of ties, the tie rule."""

    uid: str
    field: str
    phenomenon: str
    pair_ids: list[str]
    good_logprobs: list[float]
    bad_logprobs: list[float]
    ties: list[str] = dataclass_field(default_factory=list)
    tie_rule: TieRule = "wrong"
    """How ties count: ``wrong`` (ours, strict) or ``correct`` (lm-evaluation-harness, BabyLM pipeline)."""

    @property
    def pairs(self) -> int:
        """Number of pairs scored."""
        return len(self.pair_ids)

    @property
    def correct(self) -> int:
        """Pairs whose good sentence scored higher than the bad one (equal too, when ties count as correct)."""
        return sum(pair_is_correct(g, b, self.tie_rule) for g, b in zip(self.good_logprobs, self.bad_logprobs))

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

    A line with ``field`` must also have ``linguistics_term`` and ``UID`` (BLiMP, and BabyLM's filtered BLiMP); a
    line without ``field`` (the BLiMP supplement) belongs to the paradigm named by the file, in field and phenomenon
    ``supplement`` — the official BabyLM pipeline's rule. Raises :class:`BlimpDataError` naming ``file:line`` for a
    line that is not a JSON object, lacks a required key, has an empty sentence, or belongs to another paradigm
    than the first line. A UTF-8 byte-order mark at the start of the file is accepted.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # a byte-order mark at the start is allowed
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
        except RecursionError as error:  # e.g. "[" × 100000: json recurses once per level
            raise BlimpDataError(f"{where}: not valid JSON (nested too deeply)") from error
        if not isinstance(record, dict):
            raise BlimpDataError(f"{where}: expected a JSON object with {', '.join(SENTENCE_KEYS)} "
                                 f"(and {', '.join(LABEL_KEYS)})")
        labelled = "field" in record  # the BLiMP supplement's files have no field/UID: the pipeline's rule
        for key in SENTENCE_KEYS + (LABEL_KEYS if labelled else ()):
            value = record.get(key)
            if not isinstance(value, str) or not value.strip():
                raise BlimpDataError(f"{where}: field {key!r} is missing or not a non-empty string")
        if labelled:
            this = (record["UID"], _normalise_field(record["field"]), record["linguistics_term"])
        else:
            this = (path.stem, SUPPLEMENT, SUPPLEMENT)
        if header is None:
            header = this
        elif this != header:
            raise BlimpDataError(
                f"{where}: UID/field/linguistics_term {this} differ from the file's first pair {header}; "
                "keep one paradigm per file"
            )
        pairs.append(MinimalPair(record["sentence_good"], record["sentence_bad"], str(record.get("pairID", len(pairs))),
                                 number))
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
    :class:`BlimpDataError` when the directory or a named paradigm is missing, or ``limit`` is below 1.
    """
    directory = Path(directory)
    if limit is not None and limit < 1:
        raise BlimpDataError(f"--limit must be at least 1 (pairs per paradigm), got {limit}")
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


class SentenceTooLong(EvaluationError):
    """A sentence encodes to more tokens than the model's positions (the message says which and where)."""


def encode_sentences(model, tokenizer, sentences: Sequence[str], where: Sequence[str] | None = None) -> list[list[int]]:
    """Encode each sentence as ``[start, *ids]`` (ids without special tokens); returns the id lists.

    ``where`` gives each sentence's place for messages (``file:line (good)``). Raises
    :class:`EvaluationError` for a sentence that encodes to no token, :class:`SentenceTooLong` for one longer
    than the model's positions, naming its place.
    """
    start = prefix_token_id(tokenizer)
    encoded = tokenizer(list(sentences), add_special_tokens=False)["input_ids"]
    sequences = [[start, *ids] for ids in encoded]
    limit = max_positions(model)
    for index, (sentence, ids) in enumerate(zip(sentences, sequences)):
        place = f"{where[index]}: " if where is not None else ""
        if len(ids) < 2:
            raise EvaluationError(f"{place}sentence {sentence!r} encodes to no tokens")
        if limit is not None and len(ids) > limit:
            raise SentenceTooLong(
                f"{place}sentence {sentence[:60]!r}{'…' if len(sentence) > 60 else ''} is {len(ids)} tokens with the "
                f"start token, longer than the model's {limit} positions; shorten or remove it"
            )
    return sequences


@torch.inference_mode()
def score_sequences(model, sequences: Sequence[Sequence[int]], batch_size: int = 64) -> list[float]:
    """Summed fp32 log-probability of each id sequence after its first (start) token; one float per sequence.

    Each distinct sequence is scored once and its copies share that score, so identical sentences get
    identical scores whatever else is in the batch. Distinct sequences are sorted by length and batched
    (``batch_size`` at a time, right-padded) to waste little compute; ``model``'s device is used.
    """
    if batch_size < 1:
        raise EvaluationError(f"--batch-size must be at least 1, got {batch_size}")
    distinct = list(dict.fromkeys(tuple(ids) for ids in sequences))
    distinct.sort(key=len, reverse=True)
    device = next(model.parameters()).device
    scores: dict[tuple[int, ...], float] = {}
    for begin in range(0, len(distinct), batch_size):
        batch = distinct[begin : begin + batch_size]
        width = len(batch[0])
        input_ids = torch.full((len(batch), width), batch[0][0], dtype=torch.long)  # (B, T); filler is masked
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
        scores.update(zip(batch, totals.tolist()))
    return [scores[tuple(ids)] for ids in sequences]


def sentence_logprobs(model, tokenizer, sentences: Sequence[str], batch_size: int = 64) -> list[float]:
    """Summed fp32 log-probability of each sentence after the start token; returns one float per sentence.

    ``model`` is an HF causal LM (its device is used), ``tokenizer`` a transformers tokenizer. Identical
    sentences get identical scores (:func:`score_sequences`).
    """
    return score_sequences(model, encode_sentences(model, tokenizer, sentences), batch_size)


def encode_paradigm(model, tokenizer, paradigm: Paradigm) -> list[list[int]]:
    """Encode a paradigm's good sentences then its bad ones; errors name the file, line and which sentence."""
    pairs = paradigm.pairs
    sentences = [p.good for p in pairs] + [p.bad for p in pairs]
    where = ([f"{paradigm.path}:{p.line} (sentence_good)" for p in pairs]
             + [f"{paradigm.path}:{p.line} (sentence_bad)" for p in pairs])
    return encode_sentences(model, tokenizer, sentences, where)


def _result(paradigm: Paradigm, scores: Sequence[float], ties: TieRule) -> ParadigmResult:
    n = len(paradigm.pairs)
    good, bad = list(scores[:n]), list(scores[n:])
    pair_ids = [p.pair_id for p in paradigm.pairs]
    tied = [pid for pid, g, b in zip(pair_ids, good, bad) if g == b]
    return ParadigmResult(paradigm.uid, paradigm.field, paradigm.phenomenon, pair_ids, good, bad, tied, ties)


def score_paradigm(model, tokenizer, paradigm: Paradigm, batch_size: int = 64,
                   ties: TieRule = "wrong") -> ParadigmResult:
    """Score every pair of ``paradigm``; returns its :class:`ParadigmResult` (ties listed by pair id).

    ``ties`` is the tie rule (``wrong`` or ``correct``, see the module doc).
    """
    return _result(paradigm, score_sequences(model, encode_paradigm(model, tokenizer, paradigm), batch_size), ties)


def evaluate_blimp(
    model,
    tokenizer,
    paradigms: Iterable[Paradigm],
    batch_size: int = 64,
    progress: Callable[[ParadigmResult], None] | None = None,
    ties: TieRule = "wrong",
    scorer: Callable[..., list[float]] = score_sequences,
) -> list[ParadigmResult]:
    """Score each paradigm in turn (calling ``progress(result)`` after each); returns the results.

    ``scorer(model, sequences, batch_size)`` gives the sentence scores: :func:`score_sequences` (causal), or the
    MNTP backend's (:func:`babylm.evaluation.mntp.scorer_for`).

    Every sentence is encoded and checked against the model's context first, so a sentence that is too
    long stops the run before any scoring, naming its file and line. A sentence met again in a later
    paradigm reuses its score.
    """
    if ties not in TIE_RULES:
        raise EvaluationError(f"--ties {ties!r}: choose {' or '.join(TIE_RULES)}")
    paradigms = list(paradigms)
    encoded = [encode_paradigm(model, tokenizer, paradigm) for paradigm in paradigms]
    known: dict[tuple[int, ...], float] = {}
    results = []
    for paradigm, sequences in zip(paradigms, encoded):
        todo = [ids for ids in sequences if tuple(ids) not in known]
        known.update(zip(map(tuple, todo), scorer(model, todo, batch_size)))
        result = _result(paradigm, [known[tuple(ids)] for ids in sequences], ties)
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
    ``pair_accuracy`` (correct / all pairs) and ``ties_count_as`` (the tie rule). Every level reports
    ``pairs`` and ``ties``.
    """
    if not results:
        raise EvaluationError("no BLiMP paradigms were scored")
    rules = {r.tie_rule for r in results}
    if len(rules) > 1:
        raise EvaluationError(f"paradigm results were scored with different tie rules {sorted(rules)}")
    pairs = sum(r.pairs for r in results)
    return {
        "overall": {
            "accuracy": fmean(r.accuracy for r in results),
            "pair_accuracy": sum(r.correct for r in results) / pairs,
            "paradigms": len(results),
            "pairs": pairs,
            "ties": sum(len(r.ties) for r in results),
            "ties_count_as": rules.pop(),
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
