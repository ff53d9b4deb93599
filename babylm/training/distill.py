"""``DistillationStudent``: a small causal LM distilled from an ensemble of frozen teachers.

Run it through the CLI: ``python -m babylm fit -c configs/distill.yaml`` (tiny CPU variant:
``-c configs/tiny/distill.yaml``; ``--help`` lists every argument). Reads batches ``{"input_ids": (B, T)}``
from :class:`babylm.data.tokens.datamodule.TokenizedDataModule` and the teacher directories written by
``python -m babylm export`` (e.g. ``checkpoints/Llama-360M``, ``checkpoints/GPTJ-705M``); at the end of
``fit`` writes the student's Hugging Face export to ``export_dir`` (``checkpoints/Baby-Llama-58M``).

It is a :class:`babylm.training.causal_lm.CausalLM` (same optimizer, schedule, logging, checkpoints and
export) whose :meth:`causal_loss` is the distillation objective of :func:`babylm.models.losses.distillation_loss`:
``alpha * CE + (1 - alpha) * T^2 * KL(teacher_T ‖ student_T)``. Training logs ``train/loss`` (the mix),
``train/ce`` and ``train/kl``; validation and test score the student alone (``val/loss`` = ``val/ce`` and
``val/ppl``), without running the teachers.

Two ways to get the teachers' targets, one objective:

* **online** (``cache: null``): the teachers live in :class:`babylm.training.teachers.FrozenTeachers`, outside
  the module tree: they are not parameters (so not in the optimizer, DDP or the student's checkpoints),
  Lightning's ``.train()`` never reaches them, and every rank loads its own copy and moves it to its own
  device on the first step (in bf16 when the Trainer's precision is bf16, CPU included). Loss:
  :func:`babylm.models.losses.distillation_loss`.
* **from a teacher cache** (``cache: {method, k, …}``): ``python -m babylm cache-teachers`` with the same
  config ran the teachers once (:mod:`babylm.training.teacher_cache`); at the start of ``fit`` the cache whose
  fingerprint matches this run (train windows, teachers' weights, temperature, reduction, method, k, seed) is
  found — or the run is refused in one line naming what differs — and the DataModule hands each window its
  entries. No teacher is loaded. Loss: :func:`babylm.models.losses.sparse_distillation_loss`, same ``alpha``,
  ``T²`` scaling and logged ``ce``/``kl``.
"""

from __future__ import annotations

import logging
from typing import Literal, Optional, Sequence

import torch

from babylm.models.ledger import LedgerError, teacher_entry
from babylm.models.losses import (
    DistillationReduction,
    SparseTargets,
    check_distillation_settings,
    distillation_loss,
    sparse_distillation_loss,
)
from babylm.training.causal_lm import CausalLM, TrainingConfigError
from babylm.training.teacher_cache import TeacherCacheConfig, resolve_cache, teacher_weight_files
from babylm.training.teachers import FrozenTeachers, TeacherError, check_same_tokenizer, check_teacher_context

log = logging.getLogger(__name__)


class DistillationStudent(CausalLM):
    """A causal LM trained on the labels and on the tempered distributions of frozen teachers.

    Args:
        teachers: Exported Hugging Face directories of the teachers (one or more; any mix of LLaMA, GPT-J and
            GPT-2), e.g. ``[checkpoints/Llama-360M, checkpoints/GPTJ-705M]``. Each must have been trained with
            the student's tokenizer (checked at start-up).
        alpha: Weight of the cross-entropy on the labels; ``1 - alpha`` weighs the distillation term.
        temperature: Softmax temperature T of teachers and student in the KL term (scaled back by T^2).
        reduction: How the KL is reduced: ``token_mean`` (per token, then over teachers), ``ensemble_mean``
            (teacher distributions averaged first) or ``legacy_batch_sum`` (the reference code: mean teacher
            logits, KL summed over positions and divided by the batch size only — for reproducing old runs).
        vocab_size: Vocabulary size; linked from ``data.vocab_size`` and checked against every teacher.
        tokenizer_path: Tokenizer JSON of the student; linked from ``data.tokenizer_path`` and checked against
            each teacher's ``tokenizer.json``.
        cache: Train from a teacher cache built by ``python -m babylm cache-teachers`` with the same config
            (``method`` sample or topk, ``k``, ``seed``, ``dir``) instead of running the teachers every step;
            ``null`` distils online.
        teacher_words: Training words of each teacher, in ``teachers``' order, for teachers whose export has no
            ``word_ledger.json`` (exported before babylm kept one, or elsewhere); ``null`` entries (or no list)
            read each teacher's ledger. Counted in this run's word ledger and budget (:mod:`babylm.models.ledger`).
        masked_windows: With ``objective: hybrid`` (ignored otherwise), what a masked window is trained with:
            ``distill`` (the distillation mix on its masked tokens: CE, and KL to the teachers' predictions of those
            tokens from the unmasked window; the default: 0.25 nats of val loss and 1.4 BLiMP points better than
            ``mntp`` on every seed of BENCHMARKS.md "The hybrid objective") or ``mntp`` (MNTP cross-entropy only, no
            teacher term; the teachers then read the causal windows only). Causal windows always get the
            distillation mix. docs/hybrid.md.
        **kwargs: Everything else of :class:`~babylm.training.causal_lm.CausalLM` (``config`` — the student
            architecture, default Baby-Llama-58M —, optimizer, schedule, ``export_dir``).
    """

    def __init__(
        self,
        teachers: Sequence[str],
        alpha: float = 0.5,
        temperature: float = 2.0,
        reduction: DistillationReduction = "token_mean",
        vocab_size: int = 16_000,
        tokenizer_path: Optional[str] = None,
        cache: Optional[TeacherCacheConfig] = None,
        teacher_words: Optional[list[Optional[float]]] = None,
        masked_windows: Literal["mntp", "distill"] = "distill",
        **kwargs,
    ) -> None:
        super().__init__(vocab_size=vocab_size, tokenizer_path=tokenizer_path, **kwargs)
        if self.hybrid is not None and masked_windows == "distill" and reduction == "legacy_batch_sum":
            raise TrainingConfigError("model.init_args.masked_windows distill (the default) needs reduction token_mean "
                                      "or ensemble_mean, got legacy_batch_sum; or set masked_windows mntp")
        if isinstance(cache, dict):
            cache = TeacherCacheConfig(**cache)
        # plain types only in the hyper-parameters, so a checkpoint loads with torch.load(weights_only=True)
        self.save_hyperparameters({"teachers": [str(t) for t in teachers],
                                   "cache": vars(cache).copy() if cache else None})
        check_distillation_settings(alpha, temperature, reduction)  # fail at start-up, not at the first step
        declared = list(teacher_words or [])
        if len(declared) > len(teachers) or any(w is not None and not 0 <= w < float("inf") for w in declared):
            raise TrainingConfigError(f"model.init_args.teacher_words {declared}: one number of words (or null) per "
                                      f"teacher, {len(teachers)} in all, each 0 or more")
        declared += [None] * (len(teachers) - len(declared))
        try:
            self._teacher_entries = [teacher_entry(path, words) for path, words in zip(teachers, declared)]
        except LedgerError as error:
            raise TeacherError(f"teacher {error}") from error
        self.cache_config = cache
        self.teachers: Optional[FrozenTeachers] = None
        for path in teachers:  # a teacher that cannot score the student's windows is refused before anything runs
            check_teacher_context(path, self.model_config.max_position_embeddings)
        if cache is not None:
            cache.validate(vocab_size)  # k against the vocabulary, before the cache is looked for
            if not teachers:
                raise TeacherError("distillation needs at least one teacher directory (model.init_args.teachers)")
            for path in teachers:  # only checked here and fingerprinted in setup: the cache holds their outputs
                teacher_weight_files(path)
                if tokenizer_path is not None:
                    check_same_tokenizer(path, tokenizer_path)
            log.info("distilling from a teacher cache (%s, k=%d) of %d teacher(s)", cache.method, cache.k,
                     len(teachers))
            return
        self.teachers = FrozenTeachers(teachers, vocab_size, tokenizer_path)
        log.info(
            "distilling from %d teacher(s), %s parameters in all (student: %s)",
            len(self.teachers), f"{self.teachers.parameter_count():,}", f"{self.parameter_counts['total']:,}",
        )

    causal_parts = ("ce", "kl")

    def teacher_entries(self) -> list[dict]:
        """Every teacher's export and training words (from its ledger, declared, or unknown)."""
        return [dict(entry) for entry in self._teacher_entries]

    def teacher_forward_words(self, own_words: float, train_words: float) -> float:
        """Words the teachers read: every student step online (its causal windows only, with the hybrid objective);
        one pass over the train windows from a cache."""
        if self.cache_config is not None:
            return train_words * len(self._teacher_entries)
        masked = self.hybrid is not None and self.hparams.masked_windows == "mntp"  # masked windows read no teacher
        causal_share = 1.0 - (self.hybrid.config.masked_share if masked else 0.0)
        return own_words * causal_share * len(self._teacher_entries)

    def setup(self, stage: str) -> None:
        """For ``fit`` from a cache: find this run's cache (or refuse in one line) and hand it to the DataModule."""
        super().setup(stage)  # the hybrid objective, when set
        if stage != "fit" or self.cache_config is None:
            return
        datamodule = getattr(self.trainer, "datamodule", None)
        if not hasattr(datamodule, "use_teacher_cache"):
            raise TrainingConfigError("model.init_args.cache: training from a teacher cache needs the "
                                      "TokenizedDataModule (data:), which hands each window its cached entries")
        hp = self.hparams
        directory = resolve_cache(datamodule, hp.teachers, hp.temperature, hp.reduction, self.cache_config)
        datamodule.use_teacher_cache(directory)
        log.info("teacher cache: %s", directory)

    def _teacher_dtype(self) -> torch.dtype:
        precision = str(self.trainer.precision) if self._trainer is not None else "32"
        return torch.bfloat16 if precision.startswith("bf16") else torch.float32

    def _student_logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The student's logits (B, T, V) over the teachers' vocabulary (a hybrid student's ``<mask>`` column cut)."""
        logits = self(input_ids)  # (B, T, V) or, hybrid, (B, T, V + 1)
        return logits if logits.size(-1) == self.hparams.vocab_size else logits[..., : self.hparams.vocab_size]

    def teacher_logits(self, input_ids: torch.Tensor) -> list[torch.Tensor]:
        """Every teacher's logits for ``input_ids`` (B, T), on this rank's device; returns K × (B, T, V)."""
        if self.teachers is None:
            raise TrainingConfigError("this student trains from a teacher cache (model.init_args.cache): "
                                      "no teachers are loaded")
        self.teachers.place(input_ids.device, self._teacher_dtype())
        return self.teachers.logits(input_ids)

    def causal_loss(self, batch: dict[str, torch.Tensor], stage: str) -> dict[str, torch.Tensor]:
        """Training: the distillation mix (``loss``) with ``ce`` and ``kl``; validation/test: the student's CE.

        Takes a batch ``{"input_ids": (B, T)}`` — with ``teacher_ids``/``teacher_probs`` (B, T, k) and
        ``teacher_neg_entropy`` (B, T) when training from a cache — and the stage; returns a dict of scalar
        fp32 tensors. A hybrid student (``objective: hybrid``) gets here with its causal windows only (its masked
        windows: :meth:`masked_loss`), and its ``<mask>`` class, which no teacher has, is left out of this loss.
        """
        if stage != "train":
            return super().causal_loss(batch, stage)
        parts = self._distill(self._student_logits(batch["input_ids"]), batch, batch["input_ids"])
        return {"loss": parts.loss, "ce": parts.ce, "kl": parts.kl}

    @property
    def masked_parts(self) -> tuple[str, ...]:
        """What :meth:`masked_loss` returns besides ``loss``: ``mntp``, and ``mntp_kl`` with ``masked_windows:
        distill``."""
        return ("mntp", "mntp_kl") if self.hparams.masked_windows == "distill" else ("mntp",)

    def masked_loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor], targets: torch.Tensor) -> dict:
        """A hybrid student's masked windows: MNTP alone (``masked_windows: mntp``), or (``distill``) the
        distillation mix on the chosen tokens only — ``mntp`` the CE over the teachers' vocabulary (the ``<mask>``
        class left out), ``mntp_kl`` the KL to the teachers' distributions at the same positions, computed on the
        *unmasked* window (online, or the window's cache entries), each window's mean, then the mean over the windows
        with a chosen token.

        Takes the masked input's ``logits`` (b, T, V + 1), the windows' ``batch`` (original ``input_ids`` (b, T),
        cache entries) and ``targets`` (b, T) bool; returns scalar fp32 tensors.
        """
        if self.hparams.masked_windows != "distill":
            return super().masked_loss(logits, batch, targets)
        labels = batch["input_ids"].masked_fill(~targets, -100)  # (b, T): only the chosen tokens are targets
        parts = self._distill(logits[..., : self.hparams.vocab_size], batch, labels, window_mean=True)
        return {"loss": parts.loss, "mntp": parts.ce, "mntp_kl": parts.kl}

    def _distill(self, student_logits: torch.Tensor, batch: dict[str, torch.Tensor], labels: torch.Tensor,
                 window_mean: bool = False):
        """The distillation mix of ``student_logits`` (B, T, V) against ``labels`` (B, T; -100: no target) and the
        teachers' targets for ``batch["input_ids"]`` (online, or the batch's cache entries)."""
        hp = self.hparams
        settings = dict(alpha=hp.alpha, temperature=hp.temperature, reduction=hp.reduction, window_mean=window_mean)
        if self.cache_config is not None:
            if "teacher_ids" not in batch:
                raise TrainingConfigError("model.init_args.cache is set but the batch has no teacher-cache entries; "
                                          "train with the TokenizedDataModule (data:)")
            targets = SparseTargets(batch["teacher_ids"], batch["teacher_probs"], batch["teacher_neg_entropy"],
                                    tail=self.cache_config.method == "topk")
            return sparse_distillation_loss(student_logits, targets, labels, **settings)
        return distillation_loss(student_logits, self.teacher_logits(batch["input_ids"]), labels, **settings)
