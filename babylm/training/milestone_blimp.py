"""A BLiMP learning curve during training: score a (small, configurable) BLiMP set at each word milestone.

Used by :class:`babylm.training.callbacks.WordMilestoneCheckpoint` (``--word_checkpoints.blimp …``); nothing to run
on its own. Reads BLiMP-format ``.jsonl`` files (default: the bundled ``babylm/resources/blimp_sample``, 144
pairs, under a second per milestone; ``--word_checkpoints.blimp_dir data/blimp --word_checkpoints.blimp_limit
100`` for 100 pairs of each of BLiMP's 67 paradigms) and the run's tokenizer. Writes, into the checkpoint
folder, ``blimp_curve.json`` (one entry per milestone) and ``blimp_vs_words.png``.

The model is scored exactly as ``python -m babylm evaluate`` scores an export (:mod:`babylm.evaluation.blimp`:
summed fp32 log-probabilities after ``<s>``, ties counted by ``ties``), in eval mode and outside autocast, so
``evaluate --model <run folder>`` — which scores the ``chck_*`` exports — draws the same curve.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import torch

from babylm.core.atomic import atomic_write_json
from babylm.data.tokens.tokenizer_files import load_hf_tokenizer
from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR, aggregate, evaluate_blimp, load_blimp_dir
from babylm.evaluation.report import plot_blimp_curve

CURVE_FILES = ("blimp_curve.json", "blimp_vs_words.png")


class MilestoneBlimp:
    """BLiMP paradigms loaded once, scored on the training model at each milestone; keeps the curve.

    Args:
        blimp_dir: Folder of BLiMP ``.jsonl`` files; ``None`` = the bundled sample.
        limit: Pairs per paradigm (the first ones); ``None`` = all.
        paradigms: Paradigm names (file stems) to score; ``None`` = all in the folder.
        ties: How a tie counts: ``wrong`` (ours) or ``correct`` (the BabyLM pipeline's rule).
    """

    def __init__(self, blimp_dir: Optional[str] = None, limit: Optional[int] = None,
                 paradigms: Optional[Sequence[str]] = None, ties: str = "wrong") -> None:

        self.blimp_dir = Path(blimp_dir) if blimp_dir else SAMPLE_BLIMP_DIR
        self.limit, self.paradigm_names, self.ties = limit, list(paradigms) if paradigms else None, ties
        self.paradigms: list = []
        self.tokenizer = None
        self.curve: list[dict] = []

    def load(self, tokenizer_path: str | os.PathLike) -> None:
        """Read the paradigms and the tokenizer (raises the evaluation/tokenizer errors: one line, at start-up)."""

        self.paradigms = load_blimp_dir(self.blimp_dir, paradigms=self.paradigm_names, limit=self.limit)
        self.tokenizer = load_hf_tokenizer(tokenizer_path)

    def score(self, model, millions: float, words: float, step: int) -> dict:
        """Score ``model`` (an HF causal LM) on the paradigms; append and return the curve entry."""

        was_training = model.training
        model.eval()
        try:
            with torch.autocast(device_type=next(model.parameters()).device.type, enabled=False):
                results = evaluate_blimp(model, self.tokenizer, self.paradigms, ties=self.ties)
        finally:
            model.train(was_training)
        summary = aggregate(results)
        entry = {
            "milestone_millions": millions, "words_seen": int(words), "step": step,
            "accuracy": summary["overall"]["accuracy"], "pairs": summary["overall"]["pairs"],
            "ties": summary["overall"]["ties"], "fields": {k: v["accuracy"] for k, v in summary["fields"].items()},
        }
        self.curve = [e for e in self.curve if e["milestone_millions"] != millions] + [entry]
        return entry

    def write(self, directory: Path, title: str) -> None:
        """Write ``blimp_curve.json`` and ``blimp_vs_words.png`` (atomically) into ``directory``."""

        record = {"blimp_dir": str(self.blimp_dir), "limit_per_paradigm": self.limit, "ties_count_as": self.ties,
                  "milestones": sorted(self.curve, key=lambda e: e["milestone_millions"])}
        atomic_write_json(directory / CURVE_FILES[0], record)
        points = [(e["milestone_millions"] * 1e6, e["accuracy"]) for e in record["milestones"]]
        plot_blimp_curve(points, directory / CURVE_FILES[1], title)
