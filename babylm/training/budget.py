"""BabyLM's word budget for a training run: the ``budget`` keys of ``fit``, and the check made before any step.

``fit`` computes the words the run will train on — optimizer steps (from ``trainer.max_steps`` or
``trainer.max_epochs`` × steps per epoch, whichever ends first) × ``data.batch_size`` windows × ``data.seq_len``
tokens × the encoded corpus's words per token — adds the training words of its teachers (read from their exports'
ledgers, :mod:`babylm.models.ledger`) and, with ``count_teacher_forwards``, the words its teachers read while
producing targets, and refuses a run over the cap in one line before anything is written (exit 2). The track
also sets the word-milestone ladder (``word_checkpoints.track`` is linked from ``budget.track``: one value).

Examples: ``--budget.track strict`` (1B words), ``--budget.cap 50000000`` (a custom cap in words),
``--budget.cap none`` (work outside the competition: nothing refused, the ledger is still written).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Union

from babylm.models.ledger import budget_cap, check_budget


@dataclass
class WordBudget:
    """BabyLM's word budget: the track (its cap and its milestone ladder), or another cap.

    Args:
        track: BabyLM track: ``strict-small`` (a 10M-word corpus: at most 100M words seen by all training together)
            or ``strict`` (100M words: at most 1B). Also sets the ``chck_<N>M`` milestone ladder.
        cap: ``track`` = the track's cap; a number = a cap in words; ``none`` = no cap (work outside the competition).
        count_teacher_forwards: Also count the words the teachers read while producing the student's targets
            (online distillation: every step; a teacher cache: one pass) — the stricter reading of "all text seen
            by all training"; off by default, as those passes train nothing (see docs/budget.md).
    """

    track: Literal["strict-small", "strict"] = "strict-small"
    cap: Union[Literal["track", "none"], int] = "track"
    count_teacher_forwards: bool = False


def planned_steps(max_steps: int, max_epochs: Any, steps_per_epoch: int) -> float:
    """Optimizer steps a run will take: the first of ``max_steps`` (-1/None: no limit) and ``max_epochs`` ×
    ``steps_per_epoch`` (-1/None: no limit); ``inf`` when neither ends it."""
    by_steps = math.inf if max_steps is None or max_steps < 0 else float(max_steps)
    by_epochs = math.inf if max_epochs is None or max_epochs < 0 else float(max_epochs) * steps_per_epoch
    return min(by_steps, by_epochs)


def check_run_budget(budget: WordBudget, trainer, datamodule, model) -> None:
    """Raise :class:`babylm.models.ledger.LedgerError` (one line) when the run would exceed ``budget``.

    Reads ``trainer.max_steps``/``max_epochs``, the DataModule's train windows, batch size, seq_len and words per
    token, and the model's teachers (:meth:`~babylm.training.causal_lm.CausalLM.teacher_entries`).
    """
    cap = budget_cap(budget.cap, budget.track)
    train = datamodule.meta["splits"]["train"]
    steps_per_epoch = (train["tokens"] // datamodule.seq_len) // datamodule.batch_size
    steps = planned_steps(trainer.max_steps, trainer.max_epochs, steps_per_epoch)
    words_per_step = datamodule.batch_size * datamodule.seq_len * datamodule.words_per_token
    own = steps * words_per_step if steps != math.inf else math.inf
    forwards = model.teacher_forward_words(own, float(train["words"])) if own != math.inf else math.inf
    what = f"this run ({steps:,.0f} steps × {words_per_step:,.0f} words)" if own != math.inf else "this run"
    check_budget(own, model.teacher_entries(), forwards, cap, budget.count_teacher_forwards, what)
