"""The word ledger: how many corpus words all the training behind a model consumed, against BabyLM's budget.

BabyLM (2025, kept for 2026) caps training at 10 epochs' worth of the track's words, and the training data of
ancillary models counts: "If you use ancillary models … the training data for these models is counted towards
your … word budget" (FAQ, https://babylm.github.io/faqs.html); "the sum of all text seen by all training can not
surpass the amount of text allowed" (call for papers 2025, arXiv:2502.10645; 2026, arXiv:2602.20092). Caps per
track: :data:`babylm.models.tracks.TRACK_WORD_CAPS`.

A run's ledger (``word_ledger.json`` beside an export's weights, ``checkpoint["word_ledger"]`` in a checkpoint):

* ``own_words`` — corpus words this run trained on (tokens seen × the corpus's words per token; repeats count);
* ``teachers`` — each model whose outputs it learnt from: its export and its ``total_words`` (read from that
  export's own ledger, so a chain of distillations adds up), or ``null`` = unknown (no ledger: exported before
  babylm kept one, or elsewhere) unless declared (``model.init_args.teacher_words``);
* ``teacher_forward_words`` — words the frozen teachers read while producing targets (online distillation:
  every student step; a teacher cache: one pass over the train windows), per teacher, summed;
* ``total_words`` — own + teachers' totals: **the project's reading of the rule**. Teacher forward passes do
  not train the teacher; the text they read is the student's own training text, already counted once;
* ``total_words_with_forwards`` — the other reading, where a teacher's forward pass is also "text seen".
  ``--budget.count_teacher_forwards true`` makes the start-up check use it.

Pure functions and the file's reading and writing; nothing here trains.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from babylm.core.safe_json import JsonError, read_json
from babylm.models.tracks import TRACK_WORD_CAPS

LEDGER_FILE = "word_ledger.json"
LEDGER_FORMAT = 1
RULE = ("BabyLM: all training together sees at most 10 epochs of the track's words, teachers' training included "
        "(https://babylm.github.io/faqs.html)")
COUNTING = ("teacher training counts; teacher forward passes read the student's own training text and are not "
            "counted again (total_words_with_forwards counts them)")


class LedgerError(ValueError):
    """A ledger that cannot be read, or a run that would exceed its word budget (one-line message)."""


def ledger_record(own_words: float, teachers: Sequence[dict], teacher_forward_words: float = 0.0,
                  **facts: Any) -> dict:
    """The ledger of a run: ``own_words`` (words), ``teachers`` (``[{"path", "total_words" | None, "source"}]``),
    ``teacher_forward_words`` (words, all teachers summed) and any plain ``facts`` (tokens, words per token…).

    The totals are ``None`` (unknown) when a teacher's words are unknown: never a guess.
    """
    known = [t.get("total_words") for t in teachers]
    unknown = any(words is None for words in known)
    teacher_total = None if unknown else float(sum(known))
    total = None if teacher_total is None else float(own_words) + teacher_total
    return {
        "format": LEDGER_FORMAT,
        "own_words": float(own_words),
        "teachers": [dict(t) for t in teachers],
        "teacher_words": teacher_total,
        "teacher_forward_words": float(teacher_forward_words),
        "total_words": total,
        "total_words_with_forwards": None if total is None else total + float(teacher_forward_words),
        "counting": COUNTING,
        **facts,
    }


def read_ledger(folder: Union[str, os.PathLike]) -> Optional[dict]:
    """The ledger of an exported model folder, or None when it has none.

    Raises :class:`LedgerError` naming the file when one is there but unreadable or without ``total_words``.
    """
    path = Path(folder) / LEDGER_FILE
    if not path.is_file():
        return None
    try:
        ledger = read_json(path)
    except JsonError as error:
        raise LedgerError(f"{error}; re-export the model, or remove {path} and declare its words") from error
    total = ledger.get("total_words", "missing") if isinstance(ledger, dict) else "missing"
    if total is not None and not (isinstance(total, (int, float)) and math.isfinite(total) and total >= 0):
        raise LedgerError(f"{path}: total_words is {total!r}, not a number of words; re-export the model")
    return ledger


def teacher_entry(folder: Union[str, os.PathLike], declared: Optional[float] = None) -> dict:
    """``{"path", "total_words", "source"}`` for a teacher export: its ledger's total (``source: "ledger"``), else
    the ``declared`` words (``"declared"``), else ``total_words: None`` (``"unknown"``)."""
    ledger = read_ledger(folder)
    if ledger is not None and ledger.get("total_words") is not None:
        return {"path": str(folder), "total_words": float(ledger["total_words"]), "source": "ledger"}
    if declared is not None:
        return {"path": str(folder), "total_words": float(declared), "source": "declared"}
    return {"path": str(folder), "total_words": None, "source": "unknown"}


def ledger_json(record: dict) -> str:
    """The file text of a ledger (sorted keys, one trailing newline)."""
    return json.dumps(record, indent=2, sort_keys=True) + "\n"


def words(value: Optional[float]) -> str:
    """``12,345,678 words`` or ``unknown``."""
    return "unknown" if value is None else f"{value:,.0f} words"


def card_line(record: Optional[dict]) -> str:
    """One line of a model card: the words all the training behind the model consumed."""
    if record is None:
        return "Training words: unknown (exported without a word ledger)."
    teachers = len(record.get("teachers") or [])
    return (f"Training words: {words(record.get('total_words'))} in all — this model {words(record.get('own_words'))}"
            + (f", its {teachers} teacher(s) {words(record.get('teacher_words'))}" if teachers else "")
            + f"; teacher forward passes {words(record.get('teacher_forward_words'))} more (not counted: "
              f"see {LEDGER_FILE}).")


def budget_cap(cap: Union[str, int, float, None], track: str) -> Optional[float]:
    """The word cap a run is held to: ``"track"`` → the track's (100M strict-small, 1B strict), a number → itself,
    ``"none"``/None → no cap (work outside the competition)."""
    if cap is None or cap == "none":
        return None
    if cap == "track":
        return float(TRACK_WORD_CAPS[track])
    return float(cap)


def check_budget(planned_own: float, teachers: Sequence[dict], planned_forwards: float, cap: Optional[float],
                 count_forwards: bool, what: str) -> None:
    """Raise :class:`LedgerError` (one line with the numbers and the fix) when a run's planned words — its own
    (``planned_own``, words; ``inf`` when unbounded), its teachers' totals, and with ``count_forwards`` the teachers'
    forward passes — exceed ``cap`` words; or when a teacher's words are unknown under a cap."""
    if cap is None:
        return
    unknown = [t["path"] for t in teachers if t.get("total_words") is None]
    if unknown:
        raise LedgerError(
            f"teacher {unknown[0]} has no word ledger ({LEDGER_FILE}: exported before babylm kept one, or "
            f"elsewhere), so the run's total cannot be checked against the {cap:,.0f}-word budget; declare its "
            "training words with --model.init_args.teacher_words, or use --budget.cap none outside the competition")
    if math.isinf(planned_own):
        raise LedgerError(f"{what} has no end (trainer.max_epochs and max_steps unset or -1), so it would exceed the "
                          f"{cap:,.0f}-word budget; set --trainer.max_epochs or --trainer.max_steps")
    teacher_words = sum(t["total_words"] for t in teachers)
    total = planned_own + teacher_words + (planned_forwards if count_forwards else 0.0)
    if total > cap:
        parts = f"{planned_own:,.0f} words for {what}"
        if teachers:
            parts += f" + {teacher_words:,.0f} for its teachers' training"
        if count_forwards and planned_forwards:
            parts += f" + {planned_forwards:,.0f} for teacher forward passes"
        raise LedgerError(
            f"word budget exceeded: {parts} = {total:,.0f} > {cap:,.0f} ({RULE}); train fewer epochs here "
            "(--trainer.max_epochs / --trainer.max_steps) or in the teachers, or use --budget.cap none for work "
            "outside the competition")
