"""The word ledger's arithmetic and files (babylm.models.ledger) and the budget's step count (babylm.training.budget).

The end-to-end checks (two tiny teachers and a student, an over-budget run refused before any step) are in
``tests/training/test_distill_cli.py``.
"""

from __future__ import annotations

import json
import math

import pytest

from babylm.models.ledger import (
    LEDGER_FILE,
    LedgerError,
    budget_cap,
    card_line,
    check_budget,
    ledger_json,
    ledger_record,
    read_ledger,
    teacher_entry,
)
from babylm.training.budget import planned_steps


def test_a_students_total_adds_its_teachers_totals_and_keeps_forward_passes_apart():
    teachers = [{"path": "a", "total_words": 20e6, "source": "ledger"},
                {"path": "b", "total_words": 20e6, "source": "ledger"}]
    record = ledger_record(60e6, teachers, teacher_forward_words=120e6)
    assert record["teacher_words"] == 40e6 and record["total_words"] == 100e6
    assert record["total_words_with_forwards"] == 220e6


def test_an_unknown_teacher_makes_the_totals_unknown_never_zero():
    record = ledger_record(5.0, [{"path": "x", "total_words": None, "source": "unknown"}])
    assert record["teacher_words"] is None and record["total_words"] is None
    assert card_line(record).startswith("Training words: unknown in all")
    assert card_line(None) == "Training words: unknown (exported without a word ledger)."


def test_teacher_entries_read_the_ledger_then_the_declaration(tmp_path):
    assert teacher_entry(tmp_path) == {"path": str(tmp_path), "total_words": None, "source": "unknown"}
    assert teacher_entry(tmp_path, 7.0)["source"] == "declared"
    (tmp_path / LEDGER_FILE).write_text(ledger_json(ledger_record(3.0, [])))
    assert teacher_entry(tmp_path, 7.0) == {"path": str(tmp_path), "total_words": 3.0, "source": "ledger"}
    assert json.loads((tmp_path / LEDGER_FILE).read_text())["own_words"] == 3.0


@pytest.mark.parametrize("text", ["{", '{"total_words": "many"}', '{"total_words": -1}', "[]"])
def test_a_damaged_ledger_is_one_line(tmp_path, text):
    (tmp_path / LEDGER_FILE).write_text(text)
    with pytest.raises(LedgerError, match=LEDGER_FILE):
        read_ledger(tmp_path)


def test_caps_of_the_tracks():
    assert budget_cap("track", "strict-small") == 100e6 and budget_cap("track", "strict") == 1e9
    assert budget_cap("none", "strict") is None and budget_cap(123, "strict") == 123.0


def test_the_check_names_the_numbers_and_the_fix():
    teachers = [{"path": "t", "total_words": 40e6}]
    check_budget(60e6, teachers, 60e6, 100e6, False, "this run")  # exactly at the cap: allowed
    with pytest.raises(LedgerError) as refused:
        check_budget(60e6, teachers, 60e6, 100e6, True, "this run")
    message = str(refused.value)
    assert ("60,000,000 words for this run + 40,000,000 for its teachers' training + 60,000,000 for teacher "
            "forward") in message
    assert "= 160,000,000 > 100,000,000" in message and "--budget.cap none" in message and "\n" not in message
    with pytest.raises(LedgerError, match="no word ledger"):
        check_budget(1.0, [{"path": "t", "total_words": None}], 0.0, 100e6, False, "this run")
    with pytest.raises(LedgerError, match="has no end"):
        check_budget(math.inf, [], 0.0, 100e6, False, "this run")
    check_budget(math.inf, [{"path": "t", "total_words": None}], math.inf, None, True, "this run")  # no cap


@pytest.mark.parametrize("max_steps, max_epochs, expected", [
    (-1, 6, 600.0), (250, 6, 250.0), (1000, 6, 600.0), (-1, None, math.inf), (None, -1, math.inf), (5, -1, 5.0),
])
def test_planned_steps_take_the_first_limit(max_steps, max_epochs, expected):
    assert planned_steps(max_steps, max_epochs, steps_per_epoch=100) == expected
