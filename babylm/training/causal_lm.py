"""``CausalLM``: the LightningModule that trains a causal language model (a teacher, or any plain LM).

Run it through the CLI: ``python -m babylm fit -c configs/teacher_llama_360m.yaml`` (``--help`` lists every
argument below). It reads batches ``{"input_ids": LongTensor (B, T)}`` from
:class:`babylm.data.tokens.datamodule.TokenizedDataModule` and, when ``export_dir`` is set, writes a Hugging Face
directory there at the end of ``fit`` (see :mod:`babylm.models.export`). Checkpoints are written by the Trainer.

What it does:

* next-token cross-entropy (:func:`babylm.models.losses.causal_lm_loss`) through the overridable
  :meth:`CausalLM.causal_loss` hook — :class:`babylm.training.distill.DistillationStudent` overrides only that;
* with ``objective: hybrid``, GPT-BERT's masked next-token prediction on a share of each step's windows beside it
  (:mod:`babylm.training.hybrid`; the model gets a ``<mask>`` row, the export a ``<mask>`` token);
* AdamW with decoupled weight decay over ``self.model`` only, in two parameter groups (no decay on biases,
  norms and input embeddings unless configured otherwise), in torch's fused implementation where it can run
  (see :func:`adamw`);
* a linear warm-up then cosine decay of the learning rate, stepped once per optimizer step;
* logs ``train/loss``, ``train/ppl``, ``train/lr``, ``train/tokens_per_s``, ``train/tokens_seen``,
  ``train/words_seen`` and, per validation run, ``val/loss`` and ``val/ppl``; the training losses are means
  over all windows of an optimizer step, whatever the gradient accumulation (and over all ranks under DDP).

Gradient clipping and accumulation are Trainer settings (``trainer.gradient_clip_val``; the DataModule derives
``accumulate_grad_batches`` from the effective batch size and the number of devices).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict
from typing import Literal, Optional, Sequence

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info

from babylm.data.tokens.tokenizer_files import tokenizer_fingerprint
from babylm.models.build import ModelConfig, build_model, count_parameters, model_differences
from babylm.models.export import checkpoint_tokenizer, export_checkpoint, export_hf
from babylm.models.ledger import ledger_record
from babylm.models.losses import causal_lm_loss, mntp_loss
from babylm.models.optim import (  # noqa: F401 (FUSED_ADAMW_DEVICES, weight_decay_groups re-exported)
    FUSED_ADAMW_DEVICES,
    adamw,
    warmup_cosine,
    weight_decay_groups,
)
from babylm.training.checks import TrainingConfigError, check_ckpt_tokenizer, check_optimizer_settings
from babylm.training.hybrid import HybridConfig, HybridObjective

log = logging.getLogger(__name__)

NoDecayKind = Literal["bias", "norm", "embedding"]




class CausalLM(L.LightningModule):
    """A Hugging Face causal LM trained with next-token cross-entropy.

    Args:
        config: Architecture of the model (family, sizes, dropout); the vocabulary size is separate.
        vocab_size: Vocabulary size; linked from ``data.vocab_size`` by the CLI, so it is never typed by hand.
        tokenizer_path: Tokenizer JSON the model is trained with; linked from ``data.tokenizer_path``. The HF
            export copies it, so the exported directory loads with ``AutoTokenizer``.
        learning_rate: Peak learning rate of AdamW, reached at the end of the warm-up.
        weight_decay: Decoupled (AdamW) weight decay of the parameters not listed in ``no_weight_decay``.
        betas: AdamW ``(beta1, beta2)``.
        eps: AdamW epsilon.
        no_weight_decay: Parameter kinds without weight decay: ``bias``, ``norm`` (normalisation layers) and
            ``embedding`` (input embeddings, and the output projection when tied to them).
        warmup_steps: Optimizer steps of linear warm-up from 0 to ``learning_rate``.
        schedule_steps: Length of the warm-up + cosine schedule in optimizer steps; ``null`` takes the Trainer's
            estimate of the whole run (``max_steps``, or ``max_epochs`` × steps per epoch).
        min_lr_ratio: Learning rate at the end of the cosine, as a fraction of ``learning_rate``.
        export_dir: When set, a Hugging Face directory (safetensors, config, tokenizer) is written here at the
            end of ``fit``, e.g. ``checkpoints/Llama-360M`` (relative to the working directory). It replaces a
            previous export there; a folder holding anything else, or holding the checkpoints, is refused at
            start-up.
        export_weights: Which weights that export holds: ``last`` (the end of training) or ``best`` (the
            checkpoint with the best monitored validation loss, as the reference work's
            ``load_best_model_at_end``; falls back to the last weights when no best checkpoint exists).
        compile_backend: ``torch.compile`` the model with this backend (``inductor``: generated kernels, the
            fast one; the first steps then include compiling); ``null``: no compilation. Checkpoints and
            exports are the same either way. See BENCHMARKS.md for what it gains.
        objective: ``causal`` (next-token prediction) or ``hybrid`` (GPT-BERT's masked next-token prediction on a
            share of each step's windows beside causal LM; adds a ``<mask>`` token; docs/hybrid.md).
        hybrid: Settings of the hybrid objective (share of masked windows, masking rates, spans).
    """

    def __init__(
        self,
        config: ModelConfig = ModelConfig(),
        vocab_size: int = 16_000,
        tokenizer_path: Optional[str] = None,
        learning_rate: float = 3e-4,
        weight_decay: float = 0.1,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        no_weight_decay: Sequence[NoDecayKind] = ("bias", "norm", "embedding"),
        warmup_steps: int = 300,
        schedule_steps: Optional[int] = None,
        min_lr_ratio: float = 0.0,
        export_dir: Optional[str] = None,
        export_weights: Literal["last", "best"] = "last",
        compile_backend: Optional[str] = None,
        objective: Literal["causal", "hybrid"] = "causal",
        hybrid: HybridConfig = HybridConfig(),
    ) -> None:
        super().__init__()
        model_config = config if isinstance(config, ModelConfig) else ModelConfig(**config)
        try:
            model_config.validate()
        except ValueError as error:
            raise TrainingConfigError(str(error)) from error
        hybrid = hybrid if isinstance(hybrid, HybridConfig) else HybridConfig(**hybrid)
        self.hybrid = HybridObjective(hybrid, vocab_size) if objective == "hybrid" else None  # checks the settings
        check_optimizer_settings(learning_rate, weight_decay, betas, eps, warmup_steps, schedule_steps, min_lr_ratio)
        self.save_hyperparameters()
        # Plain types only in the hyper-parameters, so a checkpoint loads with torch.load(weights_only=True).
        self.save_hyperparameters({"config": asdict(model_config), "no_weight_decay": list(no_weight_decay),
                                   "hybrid": asdict(hybrid)})
        self.model_config = model_config
        self.model = build_model(model_config, vocab_size, mask_token=self.hybrid is not None)
        counts = count_parameters(self.model)
        rank_zero_info(
            f"{model_config.arch} model: {counts['total']:,} parameters "
            f"({counts['embedding']:,} embedding, {counts['non_embedding']:,} non-embedding)"
        )
        self.parameter_counts = counts
        self.tokens_seen = 0  # global (all ranks) training tokens consumed; saved in checkpoints
        self._clock: Optional[tuple[float, int, int]] = None  # (time, tokens_seen, global_step) at last step
        self._val_sums: dict[str, torch.Tensor] = {}
        self._step_sums: Optional[tuple[int, torch.Tensor]] = None  # (optimizer step, (2, P) sums and window counts)
        self._val_windows = 0
        self._ce_is_loss = True

    # ------------------------------------------------------------------ model and loss
    def configure_model(self) -> None:
        """Compile the model in place when ``compile_backend`` is set (once; parameter names stay the same)."""
        backend = self.hparams.get("compile_backend")
        if backend and not getattr(self, "_compiled", False):
            self.model.compile(backend=backend)
            self._compiled = True

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Return the logits (B, T, V) for ``input_ids`` (B, T)."""
        return self.model(input_ids=input_ids, use_cache=False).logits

    causal_parts: tuple[str, ...] = ("ce",)
    """What :meth:`causal_loss` returns besides ``loss`` (the hybrid objective logs them, :mod:`.hybrid`)."""

    def setup(self, stage: str) -> None:
        """For ``fit`` with the hybrid objective: bind it to the DataModule (batch size, seed, window positions)."""
        if stage == "fit" and self.hybrid is not None:
            self.hybrid.bind(getattr(self.trainer, "datamodule", None))

    def compute_loss(self, batch: dict[str, torch.Tensor], stage: str) -> dict:
        """The objective: :meth:`causal_loss`, or in training with ``objective: hybrid`` the hybrid mix of it and MNTP.

        Returns a dict of scalar tensors with at least ``"loss"`` (what is optimised) and ``"ce"`` (next-token
        cross-entropy, from which perplexity is reported); every other entry is logged as ``<stage>/<name>``, a
        mean over the windows, or over ``windows/<name>`` (an int) of them when that key is there.
        """
        if self.hybrid is not None and stage == "train":
            return self.hybrid.loss(self, batch)
        return self.causal_loss(batch, stage)

    def causal_loss(self, batch: dict[str, torch.Tensor], stage: str) -> dict[str, torch.Tensor]:
        """The causal objective; subclasses override this (and only this) to change what is optimised.

        Takes a batch ``{"input_ids": (B, T)}`` and the stage (``"train"``, ``"val"`` or ``"test"``); returns
        ``{"loss", "ce"}`` here (and :attr:`causal_parts`): scalar tensors, ``ce`` the next-token cross-entropy.
        """
        logits = self(batch["input_ids"])  # (B, T, V)
        ce = causal_lm_loss(logits, batch["input_ids"])
        return {"loss": ce, "ce": ce}

    masked_parts: tuple[str, ...] = ("mntp",)
    """What :meth:`masked_loss` returns besides ``loss``."""

    def masked_loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor], targets: torch.Tensor) -> dict:
        """The loss of the hybrid objective's masked windows (:mod:`.hybrid`): MNTP here; a subclass may add to it.

        Takes the ``logits`` (b, T, V + 1) of the masked input, the windows' ``batch`` (their original
        ``input_ids`` (b, T), and cache entries where a student has them) and ``targets`` (b, T) bool, the chosen
        tokens; returns ``{"loss", "mntp"}`` (and :attr:`masked_parts`), scalar fp32 tensors.
        """
        mntp = mntp_loss(logits, batch["input_ids"], targets)
        return {"loss": mntp, "mntp": mntp}

    # ------------------------------------------------------------------ training
    def _words_per_token(self) -> Optional[float]:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        value = getattr(datamodule, "words_per_token", None)
        return float(value) if value else None

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """One micro-batch: compute and log the loss; returns the loss to back-propagate."""
        parts = self.compute_loss(batch, "train")
        self.tokens_seen += batch["input_ids"].numel() * self.trainer.world_size
        self._log_step_means(parts, batch["input_ids"].size(0))
        self.log("train/lr", self.trainer.optimizers[0].param_groups[0]["lr"], on_step=True, on_epoch=False)
        self.log("train/tokens_seen", float(self.tokens_seen), on_step=True, on_epoch=False)
        words_per_token = self._words_per_token()
        if words_per_token is not None:
            self.log("train/words_seen", self.tokens_seen * words_per_token, on_step=True, on_epoch=False)
        return parts["loss"]

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        """After each optimizer step, log the training throughput (all ranks' tokens per second)."""
        now, step = time.perf_counter(), self.trainer.global_step
        if self._clock is None:
            self._clock = (now, self.tokens_seen, step)
            return
        start, tokens, last_step = self._clock
        if step != last_step and now > start:
            self.log("train/tokens_per_s", (self.tokens_seen - tokens) / (now - start), on_step=True, on_epoch=False)
            self._clock = (now, self.tokens_seen, step)

    def on_train_epoch_start(self) -> None:
        """Restart the throughput clock (data-loader start-up is not training time)."""
        self._clock = None

    def on_validation_end(self) -> None:
        """Restart the throughput clock (validation is not training time)."""
        self._clock = None

    def _log_step_means(self, parts: dict, windows: int) -> None:
        """Log ``train/<part>`` and ``train/ppl`` as means over every window of the current optimizer step so far.

        Under gradient accumulation Lightning writes the values logged by the step's last micro-batch; logging
        the running mean makes that the whole step's mean (all ranks', under DDP), not one micro-batch's. A part
        with a ``windows/<part>`` count is a mean over that many windows (the hybrid objective's per-mode parts);
        a part no window of the step has had yet is not logged.
        """
        names = [n for n, v in parts.items() if not n.startswith("windows/") and not (n == "ce" and v is parts["loss"])]
        names.append("ce")
        counts = torch.tensor([float(parts.get(f"windows/{n}", windows)) for n in names], device=self.device)
        values = torch.stack([torch.stack([parts[n].detach().float() for n in names]) * counts, counts])  # (2, P + 1)
        if self.trainer.world_size > 1:  # sums of every rank's windows
            values = self.trainer.strategy.reduce(values, reduce_op="sum")
        step = self.trainer.global_step
        if self._step_sums is None or self._step_sums[0] != step:
            self._step_sums = (step, torch.zeros_like(values))
        sums = self._step_sums[1] + values
        self._step_sums = (step, sums)
        means, seen = sums[0] / sums[1].clamp(min=1.0), sums[1].tolist()
        for name, mean, count in zip(names[:-1], means, seen):
            if count:
                self.log(f"train/{name}", mean, on_step=True, on_epoch=False, prog_bar=name == "loss")
        if seen[-1]:
            self.log("train/ppl", torch.exp(means[-1]), on_step=True, on_epoch=False)  # exp of the mean CE

    # ------------------------------------------------------------------ validation / test
    def _eval_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        parts = self.compute_loss(batch, stage)
        self._ce_is_loss = parts["ce"] is parts["loss"]
        windows = batch["input_ids"].size(0)
        for name, value in parts.items():  # weighted by windows: a short last batch counts for what it holds
            self._val_sums[name] = self._val_sums.get(name, 0.0) + value.detach().float() * windows
        self._val_windows += windows

    def _eval_epoch_end(self, stage: str) -> None:
        if not self._val_windows:
            return
        windows = self.trainer.strategy.reduce(torch.tensor(float(self._val_windows), device=self.device),
                                               reduce_op="sum")
        for name, total in self._val_sums.items():
            # sum over every rank's windows, divided by the number of windows: a mean per window
            mean = self.trainer.strategy.reduce(total, reduce_op="sum") / windows
            if name == "ce":
                self.log(f"{stage}/ppl", torch.exp(mean))  # exp of the mean CE, not a mean of perplexities
                if self._ce_is_loss:
                    continue
            self.log(f"{stage}/{name}", mean, prog_bar=name == "loss")
        self._val_sums, self._val_windows = {}, 0

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """Accumulate the validation losses of one batch."""
        self._eval_step(batch, "val")

    def on_validation_epoch_end(self) -> None:
        """Log ``val/loss`` and ``val/ppl`` (means over the validation windows, all ranks)."""
        self._eval_epoch_end("val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """Accumulate the test losses of one batch."""
        self._eval_step(batch, "test")

    def on_test_epoch_end(self) -> None:
        """Log ``test/loss`` and ``test/ppl``."""
        self._eval_epoch_end("test")

    # ------------------------------------------------------------------ optimisation
    def total_schedule_steps(self) -> int:
        """Return the schedule length in optimizer steps (``schedule_steps`` or the Trainer's estimate)."""
        if self.hparams.schedule_steps:
            return int(self.hparams.schedule_steps)
        estimate = self.trainer.estimated_stepping_batches
        if not math.isfinite(estimate):
            raise TrainingConfigError(
                "model.schedule_steps: the run has no fixed length (no max_steps and no max_epochs); "
                "set trainer.max_steps, trainer.max_epochs or model.init_args.schedule_steps"
            )
        return int(estimate)

    def configure_optimizers(self):
        """AdamW over ``self.model`` (frozen teachers of a subclass stay out) with warm-up + cosine per step."""
        hp = self.hparams
        groups = weight_decay_groups(self.model, hp.weight_decay, hp.no_weight_decay)
        mixed = self._trainer is not None and str(self.trainer.precision).endswith("-mixed")
        optimizer = adamw(groups, mixed, lr=hp.learning_rate, betas=tuple(hp.betas), eps=hp.eps)
        total, warmup, floor = self.total_schedule_steps(), int(hp.warmup_steps), float(hp.min_lr_ratio)

        def multiplier(step: int) -> float:
            return warmup_cosine(step, warmup, total, floor)

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, multiplier)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1}}

    # ------------------------------------------------------------------ checkpoints and export
    @property
    def tokenizer_fingerprint(self) -> Optional[str]:
        """Fingerprint of ``tokenizer_path`` (:func:`~babylm.data.tokens.tokenizer.tokenizer_fingerprint`), read once,
        when first asked for (at the start of training): what every checkpoint and export of this model records."""
        path = self.hparams.get("tokenizer_path")
        if path is not None and getattr(self, "_tokenizer_print", None) is None:
            self._tokenizer_print = tokenizer_fingerprint(path)
        return getattr(self, "_tokenizer_print", None) if path is not None else None

    def on_fit_start(self) -> None:
        """Record the parameter counts with the run's hyper-parameters (W&B config, CSV hparams.yaml), and read the
        tokenizer's fingerprint (what the checkpoints and exports of this run record)."""
        _ = self.tokenizer_fingerprint
        for logger in self.loggers:
            logger.log_hyperparams({f"parameters/{name}": count for name, count in self.parameter_counts.items()})

    def teacher_entries(self) -> list[dict]:
        """The models whose outputs this one learns from (:func:`babylm.models.ledger.teacher_entry`); none here."""
        return []

    def teacher_forward_words(self, own_words: float, train_words: float) -> float:
        """Words the teachers read while producing targets for ``own_words`` of training (none here)."""
        return 0.0

    def word_ledger(self) -> Optional[dict]:
        """This run's word ledger (:func:`babylm.models.ledger.ledger_record`), or None without a DataModule that
        knows its words per token."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        ratio = self._words_per_token()
        if ratio is None:
            return None
        own = self.tokens_seen * ratio
        train_words = float(datamodule.meta["splits"]["train"]["words"]) if hasattr(datamodule, "meta") else own
        return ledger_record(own, self.teacher_entries(), self.teacher_forward_words(own, train_words),
                             tokens_seen=int(self.tokens_seen), words_per_token=ratio, train_corpus_words=train_words)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Store the global token counter, the word ledger and the tokenizer's path and fingerprint beside the
        weights."""
        checkpoint["tokens_seen"] = int(self.tokens_seen)
        ledger = self.word_ledger()
        if ledger is not None:
            checkpoint["word_ledger"] = ledger
        if self.tokenizer_fingerprint is not None:
            checkpoint["tokenizer"] = {"path": str(self.hparams.tokenizer_path),
                                       "fingerprint": self.tokenizer_fingerprint}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Refuse a checkpoint of another model (:class:`TrainingConfigError` naming the fields) or of another
        tokenizer (:class:`~babylm.training.checks.RunConfigError` naming both fingerprints), then restore the global
        token counter (0 for checkpoints that lack it)."""
        check_ckpt_tokenizer("the checkpoint", checkpoint_tokenizer(checkpoint), self.hparams.get("tokenizer_path"),
                             "model.init_args.tokenizer_path", source="")
        saved = checkpoint.get("hyper_parameters")
        if isinstance(saved, dict) and "config" in saved:  # (the CLI checks this before anything is built)
            differences = model_differences(saved, self.model_config, self.hparams.get("vocab_size"),
                                            objective=self.hparams.get("objective", "causal"))
            if differences:
                raise TrainingConfigError(
                    f"the checkpoint holds another model than this one ({'; '.join(differences)}; checkpoint ≠ "
                    "this model): load this model's checkpoint, or build the model the checkpoint was trained as"
                )
        self.tokens_seen = int(checkpoint.get("tokens_seen", 0))

    def on_fit_end(self) -> None:
        """Write the Hugging Face export to ``export_dir`` (rank 0 only) when one is configured."""
        if not self.hparams.export_dir or not self.trainer.is_global_zero:
            return
        if self.trainer.interrupted:
            log.warning("fit was interrupted: no export written to %s", self.hparams.export_dir)
            return

        best = getattr(self.trainer.checkpoint_callback, "best_model_path", "") or ""
        # named in the message if the folder is not an export (checked at start-up too)
        option = "model.init_args.export_dir"
        if self.hparams.export_weights == "best" and best:  # (the checkpoint's own tokenizer fingerprint is checked)
            out = export_checkpoint(best, self.hparams.export_dir, self.hparams.tokenizer_path, option)
            print(f"exported the best checkpoint ({best}) to {out}")
            return
        if self.hparams.export_weights == "best":
            log.warning("no best checkpoint was saved (is a ModelCheckpoint monitoring val/loss?): "
                        "exporting the last weights")
        out = export_hf(self.model, self.hparams.tokenizer_path, self.hparams.export_dir, option, self.word_ledger(),
                        self.tokenizer_fingerprint, "this run's model")
        print(f"exported the trained model to {out}")
