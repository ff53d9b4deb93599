"""BabyLM's tracks: their word budgets, the word-milestone ladders and the Hub revision names of checkpoints.

**Budgets.** Since 2025 (kept for 2026) BabyLM caps training at 10 epochs' worth of the track's data: at most
100M words seen for ``strict-small`` (a 10M-word corpus) and 1B for ``strict`` (100M words); the training data of
ancillary models (teachers) counts, and "the sum of all text seen by all training can not surpass the amount of
text allowed" (BabyLM call for papers 2025 and its FAQ, https://babylm.github.io; :data:`TRACK_WORD_CAPS`).

BabyLM asks for intermediate checkpoints by the number of training *words* a model has seen, on Hub branches
named ``chck_1M`` … ``chck_10M``, ``chck_20M`` … ``chck_100M`` and, past the strict-small track,
``chck_200M`` … ``chck_1000M`` (the official evaluation pipeline evaluates those revisions; BabyLM 2025 call for
papers, https://babylm.github.io). Pure functions and constants; used by the training callbacks, the learning
curve (:mod:`babylm.evaluation.curve`) and ``hub-repo``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

#: BabyLM's strict-small ladder: 1M … 10M in steps of 1M, then 20M … 100M in steps of 10M (millions of words).
DEFAULT_MILESTONES_MILLIONS: tuple[float, ...] = tuple(range(1, 11)) + tuple(range(20, 101, 10))
#: The strict track (1B words) continues with 200M … 1000M in steps of 100M.
STRICT_MILESTONES_MILLIONS: tuple[float, ...] = DEFAULT_MILESTONES_MILLIONS + tuple(range(200, 1001, 100))
TRACK_MILESTONES = {"strict-small": DEFAULT_MILESTONES_MILLIONS, "strict": STRICT_MILESTONES_MILLIONS}
#: Words seen by all training together, per track (10 epochs of the track's 10M / 100M words).
TRACK_WORD_CAPS = {"strict-small": 100_000_000, "strict": 1_000_000_000}
_REVISION = re.compile(r"^chck_(?P<millions>\d+(?:\.\d+)?)M$")


def milestone_label(millions: float) -> str:
    """Return the file-name label of a milestone given in millions of words: ``1`` → ``"1M"``, ``0.5`` → ``"0.5M"``."""
    return f"{millions:g}M"


def crossed_milestones(milestones: Sequence[float], before: float, after: float) -> list[float]:
    """Return the milestones (in words) in ``(before, after]``, ascending: those passed during one step."""
    return sorted(m for m in milestones if before < m <= after)


def revision_name(millions: float) -> str:
    """Return BabyLM's Hub revision (branch) name of a milestone in millions of words: ``10`` → ``"chck_10M"``."""
    return f"chck_{millions:g}M"


def revision_millions(name: str) -> float | None:
    """Return the millions of words a revision name stands for (``"chck_10M"`` → ``10.0``), or None for other names."""
    match = _REVISION.match(name)
    return float(match["millions"]) if match else None


def milestone_exports(run_dir: str | os.PathLike) -> list[tuple[float, Path]]:
    """Return ``[(millions of words, export folder), …]`` for the ``chck_<N>M/`` exports in ``run_dir``, by words."""
    run_dir = Path(run_dir)
    found = []
    for entry in run_dir.iterdir() if run_dir.is_dir() else ():
        millions = revision_millions(entry.name)
        if millions is not None and (entry / "config.json").is_file():
            found.append((millions, entry))
    return sorted(found)


