"""Token windows and their order: the dataset over a token file and the samplers that deal windows to ranks.

Used by :class:`babylm.data.tokens.datamodule.TokenizedDataModule` (which documents the order); nothing to run on
its own. Reads a ``uint16`` token file by memory map; writes nothing.

Window ``i`` of a split is tokens ``[i*seq_len, (i+1)*seq_len)`` of its packed stream. Every epoch uses one
permutation of all train windows drawn from ``(seed, epoch)``, cut to a whole number of effective batches and
dealt in ``micro_batch_size`` chunks round-robin to the ranks (:class:`TrainWindowSampler`).

**Positions.** A window's *position* is its place in the training order over all epochs: ``epoch ×
windows_per_epoch + its index in the epoch's order``. So ``position // batch_size`` is the optimizer step that
trains on it and ``position % batch_size`` its slot in that step, whatever the number of devices and the
micro-batch size. With ``positions=True`` the sampler yields ``(window, position)`` pairs and every item carries
``"position"`` (a scalar LongTensor): the hybrid objective (:mod:`babylm.training.hybrid`) picks a step's masked
windows and seeds their masks with it, so one device and N devices mask the same windows the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler

from babylm.data.tokens.encode import DTYPE
from babylm.data.tokens.teacher_cache import TeacherCacheReader


class WindowDataset(Dataset):
    """Fixed windows of ``seq_len`` tokens over a ``uint16`` token file; item ``i`` is window ``i``.

    The memmap is opened lazily in the process that reads (each DataLoader worker opens its own), and
    never pickled. ``extras`` (e.g. a :class:`TeacherCacheReader`), when given, adds ``extras[i]``'s
    entries to item ``i``. An index ``(i, position)`` gives window ``i`` with ``"position"`` added (see the
    module doc).
    """

    def __init__(self, path: str | Path, num_tokens: int, seq_len: int, extras: Optional[TeacherCacheReader] = None):
        self.path = str(path)
        self.seq_len = seq_len
        self.num_windows = num_tokens // seq_len
        self.extras = extras
        self._windows: Optional[np.memmap] = None

    def __len__(self) -> int:
        return self.num_windows

    def _open(self) -> np.memmap:
        if self._windows is None:
            self._windows = np.memmap(self.path, dtype=DTYPE, mode="r", shape=(self.num_windows, self.seq_len))
        return self._windows

    def __getitem__(self, index: Union[int, tuple[int, int]]) -> dict[str, torch.Tensor]:
        index, position = index if isinstance(index, tuple) else (index, None)
        window = self._open()[index]  # (seq_len,) uint16
        item = {"input_ids": torch.from_numpy(window.astype(np.int64))}
        if position is not None:
            item["position"] = torch.tensor(position, dtype=torch.long)
        if self.extras is not None:
            item.update(self.extras[index])
        return item

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_windows"] = None
        return state


def epoch_permutation(num_windows: int, seed: int, epoch: int) -> np.ndarray:
    """Return the window order of ``epoch``: a permutation of ``range(num_windows)`` fixed by (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(num_windows)


class TrainWindowSampler(DistributedSampler):
    """Seeded per-epoch shuffle of all windows, dealt to ranks in micro-batch chunks; resumable.

    Yields this rank's window indices for the epoch set by :meth:`set_epoch` — or ``(window, position)`` pairs
    when ``positions`` is true (see the module doc). The epoch is cut to ``steps_per_epoch * batch_size``
    windows; its chunk ``c`` (``micro_batch_size`` windows) goes to rank ``c % world_size``. :meth:`resume`
    skips the windows consumed before a checkpoint.
    """

    def __init__(self, dataset: WindowDataset, batch_size: int, micro_batch_size: int, seed: int,
                 rank: int = 0, world_size: int = 1, positions: bool = False):
        super().__init__(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True)
        self.num_windows = len(dataset)
        self.batch_size = batch_size
        self.micro_batch_size = micro_batch_size
        self.steps_per_epoch = self.num_windows // batch_size
        self.windows_per_epoch = self.steps_per_epoch * batch_size
        self.positions = positions
        self._resume_at: Optional[tuple[int, int]] = None  # (epoch, windows already consumed in it)

    def __len__(self) -> int:
        return self.windows_per_epoch // self.num_replicas

    def resume(self, windows_consumed: int) -> None:
        """Start the next iteration after ``windows_consumed`` windows (counted over all ranks and epochs)."""
        epoch, offset = divmod(windows_consumed, self.windows_per_epoch)
        self.epoch = epoch
        self._resume_at = (epoch, offset)

    def _mine(self, values: np.ndarray) -> np.ndarray:
        """This rank's share of one epoch's ``values`` (one per place in the order), resume offset applied."""
        chunks = values.reshape(-1, self.micro_batch_size)  # (chunks, micro_batch_size)
        mine = chunks[self.rank :: self.num_replicas].reshape(-1)
        if self._resume_at is not None and self._resume_at[0] == self.epoch:
            # offset is a whole number of effective batches, so this rank's share is offset / world_size
            mine = mine[self._resume_at[1] // self.num_replicas :]
        return mine

    def __iter__(self) -> Iterator:
        order = epoch_permutation(self.num_windows, self.seed, self.epoch)[: self.windows_per_epoch]
        windows = self._mine(order)
        positions = self._mine(np.arange(self.windows_per_epoch) + self.epoch * self.windows_per_epoch)
        self._resume_at = None
        if self.positions:
            return iter(zip(windows.tolist(), positions.tolist()))
        return iter(windows.tolist())


class SubsetSampler(DistributedSampler):
    """Fixed window indices, dealt round-robin to ranks (trimmed to equal shares so no rank waits)."""

    def __init__(self, dataset: WindowDataset, indices: np.ndarray, rank: int = 0, world_size: int = 1):
        super().__init__(dataset, num_replicas=world_size, rank=rank, shuffle=False, drop_last=True)
        usable = len(indices) - len(indices) % world_size
        self.indices = np.asarray(indices[:usable])[rank::world_size]

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices.tolist())
