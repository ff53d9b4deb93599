"""Integrity of the teacher-cache files: checksums written with the files, checked on open, and value checks.

Used by :mod:`babylm.data.tokens.teacher_cache` (the writer records checksums as it writes, the reader verifies
them and the values when a cache is opened); nothing to run on its own, reads the cache files it is given.

**Shards.** The windows are cut into shards of ``shard_windows`` windows (about :data:`SHARD_BYTES` of all three
files together; the last shard may be shorter). Each shard has one sha256 per file (``ids.bin``, ``probs.bin``,
``neg_entropy.bin``) over that file's bytes of the shard's windows. The writer hashes the arrays it writes, in
order, so the record costs no extra read; ``progress.json`` of a build in progress holds the finished shards and
the digest of the shard being written so far, and a resumed build re-reads only what it keeps (verifying it). The
finished cache's ``meta.json`` holds every shard's digests.

**Values that cannot be right** are refused whatever the checksums say (a cache written wrongly, or a
``meta.json`` rewritten to match damaged files): a class id not below the vocabulary; for ``sample``, draw
counts of a position that do not sum to k (so every weight is count / k and the weights sum to 1); for ``topk``,
probabilities that are not finite, negative, or sum to more than 1; a teacher term Σ p log p that is not finite
or outside what a distribution over V classes (and K teachers' disagreement, for top-k) allows. A KL computed
from such values is what the issue saw: 149 for counts of 255, −7.4 for counts of 0, ``nan`` for one NaN.

Cost: one streaming read of the cache per open (numbers in BENCHMARKS.md, "Teacher-cache integrity").
"""

from __future__ import annotations

import hashlib
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Mapping, Optional

import numpy as np

SHARD_BYTES = 64 << 20  # all three files' bytes per shard
NEG_ENTROPY_TOLERANCE = 1e-3  # fp32 sums over V terms, and fp16-rounded top-k probabilities
TOPK_MASS_TOLERANCE = 1e-2
VERIFY_THREADS = 4


class IntegrityError(ValueError):
    """Cache bytes that differ from their checksums, or values that cannot be a teacher target (one line)."""


def row_bytes(shapes: Mapping[str, tuple[str, tuple[int, ...]]]) -> dict[str, int]:
    """Bytes of one window in each file of ``shapes`` (``{name: (dtype, (W, …))}``)."""
    return {name: int(np.prod(shape[1:], dtype=np.int64)) * np.dtype(dtype).itemsize
            for name, (dtype, shape) in shapes.items()}


def shard_windows(shapes: Mapping[str, tuple[str, tuple[int, ...]]]) -> int:
    """Windows per shard: as many as fit in :data:`SHARD_BYTES` of all files together (at least 1)."""
    return max(1, SHARD_BYTES // max(1, sum(row_bytes(shapes).values())))


def _hashers(names) -> dict[str, "hashlib._Hash"]:
    return {name: hashlib.sha256() for name in names}


class ShardDigests:
    """The sha256 of each file over each shard of windows, fed in window order as the windows are written.

    ``shards`` holds the finished shards' ``{"end": window, "sha256": {file: hex}}``; :meth:`record` adds the
    shard in progress (its digest so far). ``done`` is the number of windows fed.
    """

    def __init__(self, shapes: Mapping[str, tuple[str, tuple[int, ...]]], size: Optional[int] = None):
        self.names = list(shapes)
        self.size = size or shard_windows(shapes)
        self.shards: list[dict] = []
        self.done = 0
        self._running = _hashers(self.names)

    def update(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Feed the next windows (``{file: array of n windows}``, all of the same n), split at shard boundaries."""
        count = len(next(iter(arrays.values())))
        offset = 0
        while offset < count:
            take = min(count - offset, self.size - self.done % self.size)
            for name in self.names:
                self._running[name].update(np.ascontiguousarray(arrays[name][offset:offset + take]))
            offset += take
            self.done += take
            if self.done % self.size == 0:
                self._close_shard()

    def _close_shard(self) -> None:
        self.shards.append({"end": self.done, "sha256": {n: h.hexdigest() for n, h in self._running.items()}})
        self._running = _hashers(self.names)

    def keep(self, end: int, hashers: dict) -> None:
        """Take the next shard, verified on disk up to window ``end`` (``hashers``: its running sha256 per file)."""
        self.done = end
        if end % self.size == 0:
            self._running = hashers
            self._close_shard()
        else:
            self._running = hashers  # the shard in progress: its digest continues

    def finish(self) -> None:
        """Close the last, shorter shard (when the windows do not fill it)."""
        if self.done % self.size:
            self._close_shard()

    def record(self) -> list[dict]:
        """The shards' digests for ``progress.json``: the finished ones and the one in progress (its digest so far)."""
        running = [] if self.done % self.size == 0 else [
            {"end": self.done, "sha256": {n: h.copy().hexdigest() for n, h in self._running.items()}}]
        return [dict(s) for s in self.shards] + running


def parse_shards(record: object, size: int, windows: int, names) -> list[tuple[int, int, dict[str, str]]]:
    """``[(start, end, {file: sha256}), …]`` from a recorded shard list, or :class:`IntegrityError` saying what
    is wrong.

    Shards must be contiguous from window 0, each ``size`` windows long but the last (which may be shorter), end
    at most at ``windows``, and carry a 64-hex-digit sha256 for each of ``names``.
    """
    if not isinstance(record, list):
        raise IntegrityError("no list of shard checksums")
    out, start = [], 0
    for index, shard in enumerate(record):
        end = shard.get("end") if isinstance(shard, dict) else None
        digests = shard.get("sha256") if isinstance(shard, dict) else None
        last = index == len(record) - 1
        if (type(end) is not int or not (start < end <= min(windows, start + size))
                or (not last and end != start + size)):
            raise IntegrityError(f"shard {index} does not cover windows {start}… in steps of {size}")
        if not isinstance(digests, dict) or set(digests) != set(names) or not all(
                isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)
                for v in digests.values()):
            raise IntegrityError(f"shard {index} has no sha256 for each file")
        out.append((start, end, dict(digests)))
        start = end
    return out


def digest_range(maps: Mapping[str, np.memmap], start: int, end: int) -> dict[str, "hashlib._Hash"]:
    """Running sha256 of each file's windows ``start … end-1`` (read from the memmaps); returns the hash objects."""
    hashers = _hashers(maps)
    for name, memmap in maps.items():
        hashers[name].update(np.ascontiguousarray(memmap[start:end]))
    return hashers


def _sum_slots(values: np.ndarray, dtype) -> np.ndarray:
    """Σ over the last (slot) axis of ``values`` (…, k) in ``dtype``: one add per slot, several times faster than
    ``sum(-1)`` over a short last axis."""
    total = values[..., 0].astype(dtype)
    for slot in range(1, values.shape[-1]):
        total += values[..., slot]
    return total


class ValueLimits:
    """What a cache's values may be: ``vocab`` classes, ``method`` and ``k``, ``teachers`` (for top-k's bound)."""

    def __init__(self, vocab: int, method: str, k: int, teachers: int):
        self.vocab, self.method, self.k = int(vocab), method, int(k)
        self.low = -math.log(self.vocab + 1) - NEG_ENTROPY_TOLERANCE  # a distribution over V classes (+ top-k's tail)
        spread = math.log(max(1, teachers)) if method == "topk" else 0.0  # token_mean's teachers' disagreement
        self.high = spread + NEG_ENTROPY_TOLERANCE

    def problem(self, name: str, values: np.ndarray, first_window: int) -> Optional[str]:
        """What is wrong with ``values`` (windows from ``first_window`` on) of the file ``name``, or None."""
        if name == "ids.bin":
            largest = int(values.max(initial=0))
            if largest >= self.vocab:
                return self._at(f"class id {largest} is not below the vocabulary size {self.vocab:,}",
                                values >= self.vocab, first_window)
        elif name == "probs.bin" and self.method == "sample":
            sums = _sum_slots(values, np.uint16)  # (n, T): k ≤ 255 counts of ≤ 255 each
            if (sums != self.k).any():
                bad = sums != self.k
                found = int(sums[bad][0])
                return self._at(f"the draw counts of a position sum to {found}, not k = {self.k}", bad, first_window)
        elif name == "probs.bin":
            bad = ~np.isfinite(values) | (values < 0)
            if bad.any():
                return self._at("a top-k probability is negative or not finite", bad, first_window)
            mass = _sum_slots(values, np.float32)  # (n, T)
            if (mass > 1 + TOPK_MASS_TOLERANCE).any():
                return self._at(f"the top-k probabilities of a position sum to {float(mass.max()):.3g} (> 1)",
                                mass > 1 + TOPK_MASS_TOLERANCE, first_window)
        elif name == "neg_entropy.bin":
            bad = ~np.isfinite(values) | (values < self.low) | (values > self.high)
            if bad.any():
                value = float(values[bad][0])
                return self._at(f"the teacher term Σ p log p is {value:g}, outside [{self.low:.3g}, {self.high:.3g}]",
                                bad, first_window)
        return None

    @staticmethod
    def _at(what: str, bad: np.ndarray, first_window: int) -> str:
        where = np.argwhere(bad)[0]
        position = f", position {int(where[1])}" if len(where) > 1 else ""
        return f"{what} (window {first_window + int(where[0]):,}{position})"


def check_values(arrays: Mapping[str, np.ndarray], limits: ValueLimits, first_window: int) -> Optional[str]:
    """The first problem of ``arrays`` (``{file: windows}``) under ``limits``, as ``"<file>: <what>"``, or None."""
    for name, values in arrays.items():
        problem = limits.problem(name, values, first_window)
        if problem is not None:
            return f"{name}: {problem}"
    return None


def _verify_shard(directory: Path, maps: Mapping[str, np.memmap], shard, limits: ValueLimits,
                  chunk_windows: int) -> Optional[str]:
    start, end, digests = shard
    hashers = _hashers(maps)
    for first in range(start, end, chunk_windows):
        last = min(end, first + chunk_windows)
        for name, memmap in maps.items():
            values = np.ascontiguousarray(memmap[first:last])
            hashers[name].update(values)
            problem = limits.problem(name, values, first)
            if problem is not None:
                return f"{directory / name}: {problem}"
    for name, hasher in hashers.items():
        if hasher.hexdigest() != digests[name]:
            return (f"{directory / name}: windows {start:,}–{end - 1:,} do not match the checksum written with the "
                    "cache (changed or damaged on disk)")
    return None


def verify_files(directory: Path, maps: Mapping[str, np.memmap], shards, limits: ValueLimits,
                 chunk_windows: int) -> Optional[str]:
    """Check every shard's digests and values, streaming ``chunk_windows`` windows at a time.

    ``shards`` are :func:`parse_shards`' ranges; shards are checked on up to :data:`VERIFY_THREADS` threads
    (``hashlib`` and numpy's reductions release the GIL). Returns the first problem (in window order) as one
    phrase naming the file, or None.
    """
    pool = ThreadPoolExecutor(max_workers=max(1, min(VERIFY_THREADS, os.cpu_count() or 1, len(shards))))
    try:
        for problem in pool.map(lambda shard: _verify_shard(directory, maps, shard, limits, chunk_windows), shards):
            if problem is not None:
                return problem
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # the shards not started yet are not read
    return None
