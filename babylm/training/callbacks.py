"""Lightning callbacks of the training runs: checkpoints (and a BLiMP score) at training-word milestones.

BabyLM asks for intermediate checkpoints by the number of training *words* a model has seen, on Hub branches
named ``chck_1M`` … ``chck_10M``, ``chck_20M`` … ``chck_100M`` and, past the strict-small track,
``chck_200M`` … ``chck_1000M`` (the official evaluation pipeline evaluates those revisions).
:class:`WordMilestoneCheckpoint` saves one at each milestone. It is wired into every training command by the CLI
under the ``word_checkpoints`` key (``--budget.track strict`` sets its ladder, ``--word_checkpoints.milestones
'[1, 5]'``; see ``python -m babylm fit --help``).

Words seen = tokens seen (``CausalLM.tokens_seen``, all ranks) × ``words_per_token`` of the DataModule (training
words ÷ training tokens, counted when the corpus was encoded). Per milestone it writes into ``<dirpath>``:
``words-<N>M.ckpt`` (a Lightning checkpoint, to resume or export from), ``chck_<N>M/`` (a Hugging Face export,
by default; ``python -m babylm hub-repo`` turns these into Hub branches) and, with ``blimp`` (default on), a
BLiMP score logged as ``blimp/accuracy`` against ``blimp/words_seen`` and drawn into ``blimp_vs_words.png``
(:mod:`babylm.training.milestone_blimp`). Every milestone export folder is checked at start-up: one that holds
anything but an export of ours stops the run before training, in one line.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Literal, Optional

import lightning as L
from lightning.pytorch.utilities import rank_zero_info

from babylm.core.outputs import claim_files
from babylm.models.export import check_export_target, export_hf
from babylm.models.tracks import (
    TRACK_MILESTONES,
    crossed_milestones,
    milestone_label,
    revision_name,
)
from babylm.training.checks import RunConfigError
from babylm.training.milestone_blimp import CURVE_FILES, MilestoneBlimp

log = logging.getLogger(__name__)

EXPORT_OPTION = "word_checkpoints.export_hf folder"


class WordMilestoneCheckpoint(L.Callback):
    """Save a checkpoint (and an HF export, and a BLiMP score) each time the training words seen pass a milestone.

    Args:
        milestones: Milestones in millions of words; ``null`` = the ladder of ``track``. ``[]`` turns the callback off.
        track: BabyLM track whose ladder ``milestones: null`` means: ``strict-small`` (1, 2, …, 10, then 20, 30, …,
            100) or ``strict`` (the same, then 200, 300, …, 1000).
        dirpath: Directory for ``words-<N>M.ckpt`` and ``chck_<N>M/``; ``null`` = the directory of the main
            checkpoints (``checkpoint.dirpath``).
        export_hf: Also write a Hugging Face directory ``chck_<N>M/`` per milestone (named like BabyLM's Hub branches).
        words_per_token: Words per token of the training data; ``null`` = the DataModule's ``words_per_token``.
        blimp: Score BLiMP at each milestone (logged as ``blimp/accuracy``; ``blimp_vs_words.png`` in ``dirpath``).
        blimp_dir: Folder of BLiMP ``.jsonl`` files for that score; ``null`` = the bundled 144-pair sample
            (``babylm/resources/blimp_sample``); e.g. ``data/blimp`` with ``blimp_limit: 100``.
        blimp_limit: Pairs per paradigm scored at each milestone (the first ones); ``null`` = all.
        blimp_paradigms: Paradigm names (file stems) to score; ``null`` = every file in ``blimp_dir``.
    """

    def __init__(
        self,
        milestones: Optional[list[float]] = None,
        track: Literal["strict-small", "strict"] = "strict-small",
        dirpath: Optional[str] = None,
        export_hf: bool = True,
        words_per_token: Optional[float] = None,
        blimp: bool = True,
        blimp_dir: Optional[str] = None,
        blimp_limit: Optional[int] = None,
        blimp_paradigms: Optional[list[str]] = None,
    ) -> None:
        values = TRACK_MILESTONES[track] if milestones is None else milestones
        if not all(math.isfinite(m) and m > 0 for m in values):  # a NaN or infinite milestone is never reached
            raise RunConfigError(f"word_checkpoints.milestones must be positive millions of words, got {list(values)}")
        if words_per_token is not None and not (math.isfinite(words_per_token) and words_per_token > 0):
            raise RunConfigError(f"word_checkpoints.words_per_token must be a finite number > 0 (or null), "
                                 f"got {words_per_token}")
        if blimp_limit is not None and blimp_limit < 1:
            raise RunConfigError(f"word_checkpoints.blimp_limit must be at least 1 pair per paradigm (or null), "
                                 f"got {blimp_limit}")
        self.milestones_millions = sorted(set(float(m) for m in values))
        self.dirpath = dirpath
        self.export_hf = export_hf
        self.words_per_token = words_per_token
        self.blimp = MilestoneBlimp(blimp_dir, blimp_limit, blimp_paradigms) if blimp else None
        self.saved: list[float] = []  # milestones (millions) already written; restored on resume
        self._last_step = -1
        self._words_before = 0.0

    # ------------------------------------------------------------------ helpers
    def _ratio(self, trainer: L.Trainer) -> Optional[float]:
        if self.words_per_token is not None:
            return float(self.words_per_token)
        value = getattr(getattr(trainer, "datamodule", None), "words_per_token", None)
        return float(value) if value else None

    def _directory(self, trainer: L.Trainer) -> Path:
        if self.dirpath:
            return Path(self.dirpath)
        main = trainer.checkpoint_callback
        if main is not None and getattr(main, "dirpath", None):
            return Path(main.dirpath)
        return Path(trainer.default_root_dir) / "checkpoints"

    def words_seen(self, trainer: L.Trainer, pl_module: L.LightningModule) -> Optional[float]:
        """Return the training words seen so far (all ranks), or None when words per token is unknown."""
        ratio = self._ratio(trainer)
        tokens = getattr(pl_module, "tokens_seen", None)
        return None if ratio is None or tokens is None else tokens * ratio

    # ------------------------------------------------------------------ hooks
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Check every output a milestone will write (one-line errors now, not hours later); load the BLiMP set.

        Warns once when milestones are set but words per token is unknown (then nothing is saved).
        """
        self._last_step = trainer.global_step
        self._words_before = self.words_seen(trainer, pl_module) or 0.0
        pending = [m for m in self.milestones_millions if m not in self.saved]
        if not pending:
            return
        if self._ratio(trainer) is None:
            log.warning("word_checkpoints: the DataModule has no words_per_token; no word-milestone checkpoints")
            return

        if pl_module.hparams.get("tokenizer_path") is None and (self.export_hf or self.blimp is not None):
            log.warning("word_checkpoints: the model has no tokenizer_path; no milestone exports or BLiMP scores")
            self.export_hf, self.blimp = False, None
        directory = self._directory(trainer)
        if self.export_hf:
            for millions in pending:
                check_export_target(directory / revision_name(millions), EXPORT_OPTION)
        if self.blimp is not None and trainer.is_global_zero:
            claim_files(directory, CURVE_FILES, "fit", "checkpoint.dirpath")
            self.blimp.load(pl_module.hparams.get("tokenizer_path"))

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        """After an optimizer step, save a checkpoint for every milestone passed during that step."""
        if trainer.global_step == self._last_step or trainer.sanity_checking:
            return  # still accumulating gradients: the weights have not changed
        self._last_step = trainer.global_step
        words = self.words_seen(trainer, pl_module)
        if words is None:
            return
        pending = [m for m in self.milestones_millions if m not in self.saved]
        for millions in crossed_milestones(pending, self._words_before / 1e6, words / 1e6):
            self._save(trainer, pl_module, millions, words)
        self._words_before = words

    def _save(self, trainer: L.Trainer, pl_module: L.LightningModule, millions: float, words: float) -> None:
        directory = self._directory(trainer)
        label = milestone_label(millions)
        self.saved.append(millions)  # before saving, so the checkpoint itself records the milestone as done
        # all ranks call; rank 0 writes
        trainer.save_checkpoint(str(directory / f"words-{label}.ckpt"), weights_only=False)
        rank_zero_info(f"word milestone {label}: {words:,.0f} words seen at step {trainer.global_step}; "
                       f"saved {directory / f'words-{label}.ckpt'}")
        if not trainer.is_global_zero:
            return
        if self.export_hf:

            # checked at start-up; refused (one line, the run stops, nothing lost) if a foreign file appeared since
            ledger = pl_module.word_ledger() if hasattr(pl_module, "word_ledger") else None
            export_hf(pl_module.model, pl_module.hparams.get("tokenizer_path"), directory / revision_name(millions),
                      EXPORT_OPTION, ledger, getattr(pl_module, "tokenizer_fingerprint", None), "this run's model")
        if self.blimp is not None:
            entry = self.blimp.score(pl_module.model, millions, words, trainer.global_step)
            for logger in trainer.loggers:
                logger.log_metrics({"blimp/accuracy": entry["accuracy"], "blimp/words_seen": words},
                                   step=trainer.global_step)
            self.blimp.write(directory, f"BLiMP during training ({self.blimp.blimp_dir.name}): {directory.name}")
            rank_zero_info(f"word milestone {label}: BLiMP {100 * entry['accuracy']:.1f}% ({entry['pairs']} pairs)")

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Return the milestones already saved (and the BLiMP curve), so a resumed run does not write them again."""
        return {"saved": list(self.saved), "blimp_curve": list(self.blimp.curve) if self.blimp is not None else []}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the milestones already saved and the BLiMP curve."""
        self.saved = [float(m) for m in state_dict.get("saved", [])]
        if self.blimp is not None:
            self.blimp.curve = list(state_dict.get("blimp_curve", []))
