"""LightningDataModule over the encoded token files: fixed ``seq_len`` windows, seeded order.

Used by LightningCLI as ``data:`` (``python -m babylm fit --help`` lists the options). Reads
``data/tokenized/<tokenizer-fingerprint>/{train,val}.bin`` + ``meta.json`` written by
:mod:`babylm.data.tokens.encode`; it only memory-maps them, it never tokenizes. Writes nothing.

Windows. Window ``i`` of a split is tokens ``[i*seq_len, (i+1)*seq_len)`` of its packed stream: no
padding, no overlap, the same windows every epoch (the tail shorter than one window is unused).
Batches are ``{"input_ids": LongTensor (B, seq_len)}``; the model shifts them for next-token loss.

Order and devices. Every epoch uses one permutation of all train windows drawn from ``(seed, epoch)``,
cut to a whole number of effective batches (``batch_size`` windows per optimizer step). The permutation
is dealt in ``micro_batch_size`` chunks round-robin to the ranks, so each optimizer step sees the same
``batch_size`` windows on 1 or N devices, and rank shards are disjoint. The samplers subclass
``DistributedSampler``, so Lightning keeps them instead of inserting its own. Gradient accumulation is
derived: ``batch_size // (micro_batch_size * world_size)``. The dataset and samplers live in
:mod:`babylm.data.tokens.windows`; with :meth:`TokenizedDataModule.use_positions` every train item also
carries its ``"position"`` in the training order (step = position // batch_size), for the hybrid objective.

Teacher cache. With :meth:`TokenizedDataModule.use_teacher_cache` (called by a distillation student that
trains from ``data/teacher_cache/<fingerprint>/``), every train item also carries that window's cached
teacher entries (``teacher_ids``, ``teacher_probs``, ``teacher_neg_entropy``; see
:mod:`babylm.data.tokens.teacher_cache`); validation and test batches never do.

Validation uses a fixed subset of ``eval_samples`` val windows drawn once from ``seed`` (``test`` uses
every val window). Resuming ``fit --ckpt_path …`` continues with the window that would have come next:
the train DataLoader is *stateful* for Lightning (``state_dict``/``load_state_dict``), recording the
number of windows consumed (optimizer steps × ``batch_size``).
"""

from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path
from typing import Callable, Optional

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from babylm.data.layout import DEFAULT, TOKENIZER_PATH
from babylm.data.tokens.encode import DTYPE, EncodeError, read_meta
from babylm.data.tokens.teacher_cache import TeacherCacheReader, open_for_windows, window_layout
from babylm.data.tokens.tokenizer import load_tokenizer, tokenizer_fingerprint
from babylm.data.tokens.windows import (  # noqa: F401 (epoch_permutation re-exported: the order's public name)
    SubsetSampler,
    TrainWindowSampler,
    WindowDataset,
    epoch_permutation,
)

log = logging.getLogger(__name__)

_ENCODE_HINT = "python -m babylm encode --tokenizer {tokenizer} --out-root {root}"
_SCAN_TOKENS = 1 << 24  # token ids checked per step when a token file is opened (32 MiB of uint16)


class DataConfigError(ValueError):
    """A ``data.*`` setting is invalid or inconsistent with the trainer (e.g. batch sizes that do not divide)."""


class ResumableDataLoader(DataLoader):
    """A DataLoader that Lightning checkpoints: its state is the number of windows consumed in training.

    ``windows_consumed`` is a callable (bound to the trainer's optimizer-step count) read when a
    checkpoint is saved; on restore the sampler skips that many windows.
    """

    def __init__(self, *args, windows_consumed: Callable[[], int], fingerprint: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self._windows_consumed = windows_consumed
        self._fingerprint = fingerprint

    def state_dict(self) -> dict:
        """Return ``{"windows_consumed": int, **data fingerprint}`` for the checkpoint."""
        return {"windows_consumed": int(self._windows_consumed()), **self._fingerprint}

    def load_state_dict(self, state_dict: dict) -> None:
        """Resume the sampler after ``state_dict["windows_consumed"]`` windows (warns if the data changed)."""
        changed = {k: (state_dict.get(k), v) for k, v in self._fingerprint.items() if state_dict.get(k) != v}
        if changed:
            log.warning("resuming with different data settings %s (checkpoint, now): data order differs", changed)
        self.sampler.resume(int(state_dict.get("windows_consumed", 0)))


class TokenizedDataModule(L.LightningDataModule):
    """Packed, fixed-length token windows from ``data/tokenized`` for causal-LM training."""

    _teacher_cache: Optional[TeacherCacheReader] = None
    _train_layout: Optional[dict] = None
    _positions = False

    def __init__(
        self,
        tokenizer_path: str = TOKENIZER_PATH,
        tokenized_dir: str = str(DEFAULT.tokenized),
        seq_len: int = 128,
        batch_size: int = 128,
        micro_batch_size: Optional[int] = None,
        eval_samples: int = 8192,
        num_workers: int = 2,
        seed: int = 1234,
    ):
        """Check the encoded splits against the tokenizer; the vocabulary size is known from here on.

        Args:
            tokenizer_path: Tokenizer JSON the splits were encoded with (its fingerprint selects the folder).
            tokenized_dir: Root of the encoded splits (``<fingerprint>/meta.json`` below it), or one
                encoding folder holding ``meta.json`` itself.
            seq_len: Tokens per training window (the model's context length).
            batch_size: Effective (global) batch: windows per optimizer step, whatever the device count.
            micro_batch_size: Windows per device per forward pass (None = an equal share of batch_size per
                device, no accumulation); gradient accumulation makes up the rest.
            eval_samples: Size of the fixed, seeded validation subset (in windows; all if fewer).
            num_workers: DataLoader worker processes per device (0 = load in the main process), started by
                ``forkserver`` (``spawn`` where there is none), never forked from the training process.
            seed: Seed of the per-epoch train order and of the validation subset.
        """
        super().__init__()
        self.save_hyperparameters()
        for name, value in (("seq_len", seq_len), ("batch_size", batch_size), ("eval_samples", eval_samples)):
            if value < 1:
                raise DataConfigError(f"data.{name} must be at least 1, got {value}")
        if micro_batch_size is not None and micro_batch_size < 1:
            raise DataConfigError(f"data.micro_batch_size must be at least 1 (or null), got {micro_batch_size}")
        if num_workers < 0:
            raise DataConfigError(f"data.num_workers must be 0 or more, got {num_workers}")
        if seed < 0:  # numpy's generators take no negative seed: it would stop the run at its first epoch
            raise DataConfigError(f"data.seed must be 0 or more, got {seed}")
        self.seq_len = seq_len
        self.batch_size = batch_size
        self._micro_batch_setting = micro_batch_size
        self.micro_batch_size = micro_batch_size or batch_size  # resolved per device count in accumulation()
        self.eval_samples = eval_samples
        self.num_workers = num_workers
        self.seed = seed
        self._tokenizer_path = str(tokenizer_path)
        self.encoded_dir, self.meta = _find_encoding(tokenizer_path, tokenized_dir)
        self._vocab_size = int(self.meta["tokenizer"]["vocab_size"])
        self._check_split("train", self.batch_size)
        self._check_split("val", 1)

    @property
    def vocab_size(self) -> int:
        """Vocabulary size of the tokenizer (link it to the model's embedding size)."""
        return self._vocab_size

    @property
    def tokenizer_path(self) -> str:
        """Path of the tokenizer JSON the splits were encoded with."""
        return self._tokenizer_path

    @property
    def words_per_token(self) -> float:
        """Training words per training token, counted at encode time (for word-milestone checkpoints)."""
        train = self.meta["splits"]["train"]
        return train["words"] / max(1, train["tokens"])

    def _check_split(self, split: str, min_windows: int) -> None:
        entry = self.meta["splits"].get(split)
        hint = _ENCODE_HINT.format(tokenizer=self._tokenizer_path, root=self.encoded_dir.parent)
        if entry is None:
            raise EncodeError(f"{self.encoded_dir / 'meta.json'}: no {split} split; run `{hint}`")
        path = self.encoded_dir / entry["bin"]
        if not path.is_file() or path.stat().st_size != 2 * entry["tokens"]:
            raise EncodeError(f"{path}: missing or truncated (meta.json expects {entry['tokens']:,} tokens); "
                              f"run `{hint} --force`")
        source = Path(entry["source"]["path"])
        if source.is_file() and source.stat().st_size != entry["source"]["size"]:
            raise EncodeError(f"{path}: {source} changed since it was encoded; run `{hint}`")
        _check_token_ids(path, entry["tokens"], self._vocab_size, f"{hint} --force")
        windows = entry["tokens"] // self.seq_len
        if windows < min_windows:
            need = f"{min_windows} windows (data.batch_size)" if min_windows > 1 else "one window"
            raise EncodeError(
                f"{path}: {split} split has {entry['tokens']:,} tokens = {windows} windows of seq_len "
                f"{self.seq_len}, fewer than {need}; use more text or a smaller data.seq_len/batch_size"
            )

    def _dataset(self, split: str) -> WindowDataset:
        entry = self.meta["splits"][split]
        extras = self._teacher_cache if split == "train" else None
        return WindowDataset(self.encoded_dir / entry["bin"], entry["tokens"], self.seq_len, extras)

    def train_window_layout(self) -> dict:
        """What fixes the train windows (token file's sha256, seq_len, windows, vocab_size); teacher caches are
        keyed by it."""
        if self._train_layout is None:
            entry = self.meta["splits"]["train"]
            self._train_layout = window_layout(self.encoded_dir / entry["bin"], entry["tokens"], self.seq_len,
                                               self.vocab_size)
        return self._train_layout

    def use_teacher_cache(self, directory: str | Path) -> TeacherCacheReader:
        """Hand every train window its entries of the finished teacher cache in ``directory``; returns the reader.

        Raises :class:`~babylm.data.tokens.teacher_cache.CacheError` (one line) when it is not a finished cache
        or was made for other train windows. Call before the train DataLoader is built (a module's ``setup``).
        """
        self._teacher_cache = open_for_windows(directory, self.train_window_layout())
        return self._teacher_cache

    def use_positions(self) -> None:
        """Give every train item its ``"position"`` in the training order (:mod:`babylm.data.tokens.windows`).

        Called by a module whose objective depends on it (the hybrid objective) before the train DataLoader is built.
        """
        self._positions = True

    def _rank_world(self) -> tuple[int, int]:
        trainer = self.trainer
        if trainer is None:
            return 0, 1
        return trainer.global_rank, trainer.world_size

    def accumulation(self, world_size: int) -> int:
        """Return gradient-accumulation steps for ``world_size`` devices (error if it does not divide).

        With ``micro_batch_size`` unset, each device takes an equal share of the batch (no accumulation).
        """
        if self._micro_batch_setting is None:
            if self.batch_size % world_size:
                raise DataConfigError(
                    f"data.batch_size {self.batch_size} cannot be shared equally by {world_size} device(s); "
                    f"make it a multiple of {world_size} or set data.micro_batch_size"
                )
            self.micro_batch_size = self.batch_size // world_size
        per_step = self.micro_batch_size * world_size
        if self.batch_size % per_step:
            raise DataConfigError(
                f"data.batch_size {self.batch_size} is not a multiple of data.micro_batch_size "
                f"{self.micro_batch_size} × {world_size} device(s); change one of them"
            )
        return self.batch_size // per_step

    def setup(self, stage: str) -> None:
        """Derive ``trainer.accumulate_grad_batches`` from the effective batch size (once a trainer is attached)."""
        trainer = self.trainer
        if trainer is None:
            return
        accumulate = self.accumulation(trainer.world_size)
        current = trainer.accumulate_grad_batches
        if current not in (1, accumulate):
            raise DataConfigError(
                f"trainer.accumulate_grad_batches={current} conflicts with data.batch_size {self.batch_size} "
                f"(derived accumulation {accumulate}); set data.batch_size and data.micro_batch_size instead"
            )
        trainer.accumulate_grad_batches = accumulate

    def _loader_kwargs(self) -> dict:
        workers = self.num_workers
        # Workers start from a fresh process, never forked from this one: a forked worker keeps every page of the
        # model alive that the optimizer then rewrites (on a CPU run 2.9 GB per worker for GPT-J 705M; BENCHMARKS.md).
        forkserver = "forkserver" in multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if forkserver else "spawn") if workers else None
        if workers and forkserver:
            context.set_forkserver_preload([__name__])  # workers fork from a server that has imported torch once
        return {"batch_size": self.micro_batch_size, "num_workers": workers, "persistent_workers": workers > 0,
                "pin_memory": torch.cuda.is_available(), "multiprocessing_context": context}

    def train_dataloader(self) -> ResumableDataLoader:
        """Return this rank's train loader (resumable; order fixed by seed and epoch)."""
        rank, world = self._rank_world()
        self.accumulation(world)
        dataset = self._dataset("train")
        sampler = TrainWindowSampler(dataset, self.batch_size, self.micro_batch_size, self.seed, rank, world,
                                     self._positions)
        fingerprint = {"seed": self.seed, "seq_len": self.seq_len, "batch_size": self.batch_size,
                       "train_windows": len(dataset)}
        return ResumableDataLoader(dataset, sampler=sampler, drop_last=False, windows_consumed=self._windows_consumed,
                                   fingerprint=fingerprint, **self._loader_kwargs())

    def _windows_consumed(self) -> int:
        trainer = self.trainer
        return 0 if trainer is None else trainer.global_step * self.batch_size

    def validation_indices(self) -> np.ndarray:
        """Return the sorted val window indices of the fixed validation subset (seeded, ``eval_samples`` long)."""
        total = self.meta["splits"]["val"]["tokens"] // self.seq_len
        if total <= self.eval_samples:
            return np.arange(total)
        rng = np.random.default_rng([self.seed, 1])  # 1: a stream apart from the train epochs' (seed, epoch)
        return np.sort(rng.choice(total, size=self.eval_samples, replace=False))

    def _eval_loader(self, indices: np.ndarray) -> DataLoader:
        rank, world = self._rank_world()
        dataset = self._dataset("val")
        sampler = SubsetSampler(dataset, indices, rank, world)
        return DataLoader(dataset, sampler=sampler, **self._loader_kwargs())

    def val_dataloader(self) -> DataLoader:
        """Return this rank's share of the fixed validation subset."""
        return self._eval_loader(self.validation_indices())

    def test_dataloader(self) -> DataLoader:
        """Return this rank's share of every val window (the whole validation split)."""
        return self._eval_loader(np.arange(self.meta["splits"]["val"]["tokens"] // self.seq_len))


def _check_token_ids(path: Path, tokens: int, vocab_size: int, fix: str) -> None:
    """Raise :class:`EncodeError` naming ``path`` if any of its ``tokens`` uint16 ids is ``>= vocab_size``.

    Reads the memmap in chunks of :data:`_SCAN_TOKENS` ids (memory stays bounded; about 0.1 s per 100M
    tokens), so a damaged file is caught when it is opened, not as an ``IndexError`` mid-training.
    """
    if tokens == 0:
        return
    ids = np.memmap(path, dtype=DTYPE, mode="r", shape=(tokens,))
    try:
        for start in range(0, tokens, _SCAN_TOKENS):
            chunk = ids[start : start + _SCAN_TOKENS]
            largest = int(chunk.max())
            if largest >= vocab_size:
                where = start + int(np.argmax(chunk >= vocab_size))
                raise EncodeError(f"{path}: token id {largest} (first bad one at position {where:,}) is not below the "
                                  f"vocabulary size {vocab_size:,}; the file is damaged: run `{fix}`")
    finally:
        del ids


def _find_encoding(tokenizer_path: str | Path, tokenized_dir: str | Path) -> tuple[Path, dict]:
    """Locate and read the encoding made with this tokenizer; returns (folder, meta). Clear error otherwise."""
    load_tokenizer(tokenizer_path)  # TokenizerError naming the file when it is missing or invalid
    fingerprint = tokenizer_fingerprint(tokenizer_path)
    root = Path(tokenized_dir)
    hint = _ENCODE_HINT.format(tokenizer=tokenizer_path, root=root)
    direct = read_meta(root)  # EncodeError naming the file when one exists but is damaged
    if direct is not None:  # tokenized_dir is one encoding folder
        found = direct["tokenizer"]["fingerprint"]
        if found != fingerprint:
            raise EncodeError(
                f"{root / 'meta.json'}: encoded with tokenizer {found}, but {tokenizer_path} is {fingerprint}; "
                f"run `{_ENCODE_HINT.format(tokenizer=tokenizer_path, root=root.parent)}`"
            )
        return root, direct
    meta = read_meta(root / fingerprint)
    if meta is None:
        others = sorted(p.parent.name for p in root.glob("*/meta.json") if p.parent.name != fingerprint) \
            if root.is_dir() else []
        also = f" (found encodings for other tokenizers: {', '.join(others)})" if others else ""
        raise EncodeError(f"{root / fingerprint / 'meta.json'}: no encoding for tokenizer {tokenizer_path}{also}; "
                          f"run `{hint}`")
    if meta["tokenizer"]["fingerprint"] != fingerprint:
        raise EncodeError(f"{root / fingerprint / 'meta.json'}: records tokenizer {meta['tokenizer']['fingerprint']}, "
                          f"not {fingerprint}; run `{hint} --force`")
    return root / fingerprint, meta
