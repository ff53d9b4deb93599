"""Building a teacher cache's files: :class:`TeacherCacheWriter` (create or resume, commit, finish), one process
at a time.

Used by the ``cache-teachers`` stage (:mod:`babylm.training.teacher_cache`), which computes the values; the file
format, the reader and the lookup are :mod:`babylm.data.tokens.teacher_cache`, the checksums and value checks
:mod:`babylm.data.tokens.teacher_cache_integrity`. Writes ``<root>/<fingerprint>.partial/`` (the three memmaps,
``progress.json``, ``lock``) and renames it to ``<root>/<fingerprint>/`` with its ``meta.json`` when done.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from pathlib import Path

import numpy as np

from babylm.core.atomic import atomic_write_json
from babylm.core.safe_json import JsonError, read_json
from babylm.data.tokens.teacher_cache import (
    FORMAT_VERSION,
    VALUE_DTYPES,
    CacheError,
    bytes_per_token,
    cache_fingerprint,
    file_shapes,
    value_limits,
)
from babylm.data.tokens.teacher_cache_integrity import (
    IntegrityError,
    ShardDigests,
    check_values,
    digest_range,
    parse_shards,
)


def check_free_space(root: str | os.PathLike, shapes: dict, partial: Path) -> None:
    """Raise :class:`CacheError` when the disk under ``root`` lacks the space the files of ``shapes`` still need.

    Blocks already allocated to a partial build's files (``partial``) count as had; nothing is created.
    """
    needed = sum(int(np.prod(shape)) * np.dtype(dtype).itemsize for dtype, shape in shapes.values())
    for name in shapes:
        with contextlib.suppress(OSError):
            needed -= (partial / name).stat().st_blocks * 512
    probe = Path(os.path.abspath(root))
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed > free:
        raise CacheError(f"{root}: the teacher cache needs {needed / 2**30:,.2f} GiB more but "
                         f"{free / 2**30:,.2f} GiB are free on that disk; free some space or set "
                         "model.init_args.cache.dir to a larger disk")


class TeacherCacheWriter:
    """Create or resume the build of the cache for ``components`` under ``root`` (one process at a time).

    ``windows_done`` tells where to continue. :meth:`write` fills windows in order (their values checked, their
    checksums taken), :meth:`commit` makes them durable (memmaps flushed, then ``progress.json`` written
    atomically with the checksums), :meth:`finish` writes ``meta.json`` and renames the folder into place.
    Raises :class:`CacheError` when the cache already exists, the disk lacks the space, or another process holds
    the build's lock. ``info`` (how it is built) goes into ``meta.json``; a resumed build keeps the ``info`` it
    started with (returned as :attr:`info`). A resumed build keeps the windows whose checksums in ``progress.json``
    match the files; :attr:`notices` says (one line each) what it could not keep and why.
    """

    def __init__(self, root: str | os.PathLike, components: dict, info: dict):
        method, k, tokens = components["method"], int(components["k"]), components["tokens"]
        self.fingerprint = cache_fingerprint(components)
        self.final = Path(root) / self.fingerprint
        if self.final.exists():
            raise CacheError(f"{self.final}: the teacher cache for these settings exists already")
        self.partial = Path(root) / f"{self.fingerprint}.partial"
        self.components, self.method, self.k = components, method, k
        self.windows, self.seq_len = int(tokens["windows"]), int(tokens["seq_len"])
        shapes = file_shapes(self.windows, self.seq_len, k, method)
        check_free_space(root, shapes, self.partial)  # before anything is created
        self.partial.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.partial / "lock", "a+")  # noqa: SIM115 - held until finish()
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise CacheError(f"{self.partial}: another cache-teachers is building this cache") from None
        self.notices: list[str] = []
        self._limits = value_limits(components, method, k)
        self._maps, whole = {}, True
        for name, (dtype, shape) in shapes.items():
            path = self.partial / name
            size = int(np.prod(shape)) * np.dtype(dtype).itemsize
            if not path.is_file() or path.stat().st_size != size:
                whole = False  # a file of the wrong size cannot hold committed windows
                with open(path, "wb") as handle:
                    handle.truncate(size)  # sparse zeros
            self._maps[name] = np.memmap(path, dtype=dtype, mode="r+", shape=shape)
        self.digests = ShardDigests(shapes)
        self.info = info
        if whole:
            self._resume(info)
        elif (self.partial / "progress.json").exists():
            self.notices.append(f"{self.partial}: its files are not of the cache's sizes; "
                                "building the cache from the start")
        self.windows_done = self.digests.done

    def _resume(self, info: dict) -> None:
        """Keep the committed windows that ``progress.json`` records and the files still match (see the class doc)."""
        path = self.partial / "progress.json"
        if not path.exists():
            return
        try:
            progress = read_json(path)
            if not isinstance(progress, dict) or progress.get("fingerprint") != self.fingerprint:
                raise IntegrityError("not the progress record of this cache")
            kept = progress.get("info")
            if (not isinstance(kept, dict) or set(kept) != set(info)
                    or any(type(kept[key]) is not type(info[key]) for key in info)):
                raise IntegrityError("its build settings (info) are not this stage's")
            shards = parse_shards(progress.get("shards"), self.digests.size, self.windows, list(self._maps))
        except (JsonError, IntegrityError) as error:
            self.notices.append(f"{path}: {str(error).removeprefix(f'{path}: ')}; building the cache from the start")
            return
        for start, end, digests in shards:
            hashers = digest_range(self._maps, start, end)
            if any(hashers[name].hexdigest() != digests[name] for name in hashers):
                self.notices.append(f"{path}: windows {start:,}–{end - 1:,} do not match the checksums recorded "
                                    f"for them (edited or damaged); building the cache again from window {start:,}")
                break
            self.digests.keep(end, hashers)
        recorded = progress.get("windows_done")
        if not self.notices and recorded != self.digests.done:
            self.notices.append(f"{path}: records {recorded!r} windows done but the checksums written with them cover "
                                f"{self.digests.done:,}; continuing from window {self.digests.done:,}")
        if self.digests.done:
            self.info = kept

    def write(self, start: int, ids: np.ndarray, probs: np.ndarray, neg_entropy: np.ndarray) -> None:
        """Store windows ``start … start+n-1``: ``ids`` (n, T, k) uint16, ``probs`` (n, T, k), ``neg_entropy`` (n, T).

        Windows are written in order from :attr:`windows_done` on. Raises :class:`CacheError` when the values cannot
        be a teacher target (see :mod:`.teacher_cache_integrity`); they are then not counted as written.
        """
        if start != self.digests.done:
            raise CacheError(f"{self.partial}: windows must be written in order "
                             f"(next is {self.digests.done}, got {start})")
        end = start + len(ids)
        for name, values in (("ids.bin", ids), ("probs.bin", probs), ("neg_entropy.bin", neg_entropy)):
            self._maps[name][start:end] = values
        stored = {name: memmap[start:end] for name, memmap in self._maps.items()}  # as stored (fp16, uint8 …)
        problem = check_values(stored, self._limits, start)
        if problem is not None:  # never committed: a resumed build writes these windows again
            raise CacheError(f"the teachers' outputs cannot be a distillation target ({problem}); is a teacher's "
                             "export damaged? check it with python -m babylm evaluate --model <teacher>")
        self.digests.update(stored)

    def commit(self, windows_done: int) -> None:
        """Make windows ``0 … windows_done-1`` durable: flush the memmaps, then record them and their checksums
        atomically."""
        if windows_done != self.digests.done:
            raise CacheError(f"{self.partial}: {windows_done} windows cannot be committed, "
                             f"{self.digests.done} are written")
        for memmap in self._maps.values():
            memmap.flush()
        atomic_write_json(self.partial / "progress.json", {
            "fingerprint": self.fingerprint, "windows_done": windows_done, "info": self.info,
            "shard_windows": self.digests.size, "shards": self.digests.record()})
        self.windows_done = windows_done

    def finish(self) -> Path:
        """Write ``meta.json`` (with every shard's checksums) and rename the finished folder into place; returns it."""
        if self.windows_done != self.windows or self.digests.done != self.windows:
            raise CacheError(f"{self.partial}: only {self.windows_done} of {self.windows} windows are done")
        self.commit(self.windows)
        self.digests.finish()
        self._maps = {}
        scale = float(self.k) if self.method == "sample" else 1.0
        meta = {
            "format_version": FORMAT_VERSION, "fingerprint": self.fingerprint, "components": self.components,
            "method": self.method, "k": self.k, "windows": self.windows, "seq_len": self.seq_len,
            "value_dtype": VALUE_DTYPES[self.method], "value_scale": scale,
            "bytes_per_token": bytes_per_token(self.method, self.k), **self.info,
            "checksums": {"algorithm": "sha256", "shard_windows": self.digests.size, "shards": self.digests.shards},
        }
        atomic_write_json(self.partial / "meta.json", meta)
        os.replace(self.partial, self.final)
        with contextlib.suppress(OSError):
            (self.final / "progress.json").unlink()
            (self.final / "lock").unlink()
        self.close()
        return self.final

    def close(self) -> None:
        """Release the lock (the partial build stays, to be resumed)."""
        if not self._lock.closed:
            self._lock.close()
