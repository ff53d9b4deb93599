"""Teacher-cache files: compact teacher targets for every training window, as plain memmaps + ``meta.json``.

Written by ``python -m babylm cache-teachers`` (the computing side is :mod:`babylm.training.teacher_cache`, which
uses :class:`~babylm.data.tokens.teacher_cache_writer.TeacherCacheWriter`); read by the DataModule
(:class:`TeacherCacheReader`, handed to
:meth:`babylm.data.tokens.datamodule.TokenizedDataModule.use_teacher_cache`), which gives each training
window its entries. This module knows the file format only; it never imports torch models.

Layout of ``data/teacher_cache/<fingerprint>/`` (window ``w``, position ``t``, slot ``j``; W windows of T
tokens, k slots per position):

* ``ids.bin`` — ``uint16`` (W, T, k): class ids of the slots;
* ``probs.bin`` — the slots' weights in the tempered teacher target: ``float16`` probabilities (``topk``) or
  ``uint8`` draw counts (``sample``; the weight is count / k); unused slots have weight 0;
* ``neg_entropy.bin`` — ``float32`` (W, T): the teacher-only term Σ p log p of the KL at each position;
* ``meta.json`` — format version, fingerprint and its components (token file, window layout, teachers'
  weights, temperature, reduction, method, k, seed), the value encoding, bytes per token, how it was built,
  and the sha256 of every shard of windows of each file (``checksums``).

A build in progress lives in ``<fingerprint>.partial/`` with ``progress.json`` (windows done and the checksums
of what is written, committed after the memmaps are flushed) and a lock; the finished folder is renamed into
place in one step, so a folder without ``.partial`` is always complete. The fingerprint is the first 16 hex
digits of the sha256 of the components as canonical JSON.

**What we wrote is what we read** (:mod:`.teacher_cache_integrity`): opening a finished cache reads it once,
checking each shard against its sha256 and every value against what a teacher target can be (ids below the
vocabulary, draw counts summing to k, finite probabilities and Σ p log p in range), so a changed byte is one
line naming the file and the window, never a silent or ``nan`` run. A resumed build trusts ``progress.json``
only as far as the files on disk match the checksums it records, and rebuilds from there. Before anything
is created, the free disk space is checked against the cache's size.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from babylm.core.safe_json import JsonError, read_json
from babylm.data.tokens.teacher_cache_integrity import (
    IntegrityError,
    ValueLimits,
    parse_shards,
    row_bytes,
    verify_files,
)
from babylm.data.tokens.tokenizer import file_sha256

FORMAT_VERSION = 2  # 2: per-shard sha256 in meta.json and progress.json
CHUNK_BYTES = 16 << 20  # bytes of all files read at a time when a cache is verified
VALUE_DTYPES = {"topk": "float16", "sample": "uint8"}
BUILD_HINT = "python -m babylm cache-teachers -c <the fit config>"


def rebuild_hint(directory: Path) -> str:
    """What to do about a damaged finished cache: ``cache-teachers`` never deletes one, so the user removes it."""
    return f"remove the folder {directory} and rebuild it with {BUILD_HINT}"


class CacheError(ValueError):
    """A teacher cache is missing, incomplete, corrupt, being built, or was made for other settings."""


def cache_fingerprint(components: dict) -> str:
    """Return the 16-hex-digit fingerprint of the cache ``components`` (sha256 of their canonical JSON)."""
    canonical = json.dumps(components, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:16]


def bytes_per_token(method: str, k: int) -> int:
    """Bytes the cache stores per training token: k × (2-byte id + value) + a 4-byte neg-entropy."""
    return k * (2 + np.dtype(VALUE_DTYPES[method]).itemsize) + 4


def file_shapes(windows: int, seq_len: int, k: int, method: str) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{file name: (dtype, shape)}`` of a cache of ``windows`` windows of ``seq_len`` tokens, ``k`` slots."""
    return {
        "ids.bin": ("uint16", (windows, seq_len, k)),
        "probs.bin": (VALUE_DTYPES[method], (windows, seq_len, k)),
        "neg_entropy.bin": ("float32", (windows, seq_len)),
    }


def _describe(components: dict) -> dict[str, object]:
    """Flatten components into ``{readable name: value}`` for naming what differs between two caches."""
    tokens = components.get("tokens", {})
    teachers = components.get("teachers", [])
    return {
        "token file (train.bin)": tokens.get("sha256"), "seq_len": tokens.get("seq_len"),
        "windows": tokens.get("windows"), "vocab_size": tokens.get("vocab_size"),
        "teachers": len(teachers),
        **{f"teacher {i + 1} weights": t for i, t in enumerate(teachers)},
        **{key: components.get(key) for key in ("temperature", "reduction", "method", "k", "seed", "format_version")},
    }


def differences(found: dict, wanted: dict) -> list[str]:
    """Names of the settings in which cache components ``found`` differ from ``wanted``
    (e.g. ``temperature 1.0 ≠ 2.0``)."""
    a, b = _describe(found), _describe(wanted)
    out = []
    for name in b:
        if a.get(name) != b[name]:
            short = isinstance(b[name], (int, float, str, type(None))) and len(str(b[name])) < 20
            out.append(f"{name} {a.get(name)} ≠ {b[name]}" if short else name)
    return out


def window_layout(token_file: str | os.PathLike, num_tokens: int, seq_len: int, vocab_size: int) -> dict:
    """The cache key of a split's windows: ``{"sha256"`` of the token file, ``"seq_len"``, ``"windows"``,
    ``"vocab_size"}``."""
    return {"sha256": file_sha256(token_file), "seq_len": int(seq_len), "windows": int(num_tokens) // int(seq_len),
            "vocab_size": int(vocab_size)}


def open_for_windows(directory: str | os.PathLike, layout: dict) -> "TeacherCacheReader":
    """Open the finished cache in ``directory`` for train windows of ``layout`` (:func:`window_layout`).

    Raises :class:`CacheError` (one line, naming what differs) when the cache was made for other windows.
    """
    reader = TeacherCacheReader(directory)
    if reader.components.get("tokens") != layout:
        changed = "; ".join(differences(reader.components, {**reader.components, "tokens": layout}))
        raise CacheError(f"{directory}: made for other train windows (cache ≠ data: {changed}); "
                         f"rebuild it with {BUILD_HINT}")
    return reader


def _read_json(path: Path) -> Optional[dict]:
    try:
        value = read_json(path)
    except JsonError:
        return None
    return value if isinstance(value, dict) else None


def _windows_done(progress_path: Path, windows: int) -> str:
    """How many windows a partial build's ``progress.json`` has checksums for, for messages ("?" when it cannot say;
    a resumed build verifies them against the files)."""
    if not progress_path.exists():
        return "0"
    shards = (_read_json(progress_path) or {}).get("shards")
    end = shards[-1].get("end") if isinstance(shards, list) and shards and isinstance(shards[-1], dict) else 0
    return f"{end:,}" if type(end) is int and 0 <= end <= windows else "?"


def find_cache(root: str | os.PathLike, components: dict) -> Path:
    """Return the finished cache folder for ``components`` under ``root``, or raise :class:`CacheError` (one line).

    The message says what to do: build it, resume an incomplete build, or which settings differ from the
    caches that exist (the nearest one is named). The files' contents are verified when the cache is opened
    for training (:func:`open_for_windows`), not here.
    """
    root = Path(root)
    fingerprint = cache_fingerprint(components)
    directory = root / fingerprint
    if directory.is_dir():
        TeacherCacheReader(directory, components, verify=False)  # meta, components and file sizes
        return directory
    partial = root / f"{fingerprint}.partial"
    if partial.is_dir():
        windows = components["tokens"]["windows"]
        raise CacheError(f"{partial}: the teacher cache for this run is incomplete "
                         f"({_windows_done(partial / 'progress.json', windows)} of {windows:,} windows); "
                         f"resume it with {BUILD_HINT}")
    others = []
    for meta_path in sorted(root.glob("*/meta.json")) if root.is_dir() else []:
        meta = _read_json(meta_path)
        if meta and isinstance(meta.get("components"), dict):
            others.append((len(differences(meta["components"], components)), meta_path.parent, meta["components"]))
    if not others:
        raise CacheError(f"{directory}: no teacher cache for this run (fingerprint {fingerprint}); "
                         f"build it with {BUILD_HINT}")
    _, nearest, found = min(others, key=lambda item: item[0])
    raise CacheError(
        f"{directory}: no teacher cache for this run; the nearest, {nearest}, was made with other settings "
        f"(cache ≠ run: {'; '.join(differences(found, components))}); build one for this run with {BUILD_HINT}"
    )


def value_limits(components: dict, method: str, k: int) -> ValueLimits:
    """What the values of a cache of ``components`` may be (vocabulary, method, k, number of teachers)."""
    return ValueLimits(int(components["tokens"]["vocab_size"]), method, k, len(components.get("teachers") or [1]))


def _chunk_windows(shapes: dict) -> int:
    return max(1, CHUNK_BYTES // max(1, sum(row_bytes(shapes).values())))


class TeacherCacheReader:
    """The finished cache in ``directory``; item ``w`` is window ``w``'s entries as tensors.

    ``reader[w]`` → ``{"teacher_ids": int64 (T, k), "teacher_probs": float32 (T, k), "teacher_neg_entropy":
    float32 (T,)}``. The memmaps open lazily in the reading process (DataLoader workers open their own) and
    are never pickled. Raises :class:`CacheError` naming the file when ``meta.json`` is missing or not ours,
    when ``expected`` components are given and differ, when a file's size does not match, and (``verify``, the
    default) when a shard of a file differs from its sha256 or holds a value no teacher target has.
    """

    def __init__(self, directory: str | os.PathLike, expected: Optional[dict] = None, verify: bool = True):
        self.directory = Path(directory)
        meta = _read_json(self.directory / "meta.json")
        if meta is None or meta.get("format_version") != FORMAT_VERSION or meta.get("method") not in VALUE_DTYPES:
            raise CacheError(f"{self.directory / 'meta.json'}: missing or not a teacher cache of format "
                             f"{FORMAT_VERSION}; {rebuild_hint(self.directory)}")
        try:
            self.components: dict = meta["components"]
            self.method: str = meta["method"]
            self.k, self.windows, self.seq_len = int(meta["k"]), int(meta["windows"]), int(meta["seq_len"])
            self.scale = float(meta["value_scale"])
            fingerprint = meta["fingerprint"]
            limits = value_limits(self.components, self.method, self.k)
            self._shapes = file_shapes(self.windows, self.seq_len, self.k, self.method)
            checksums = meta["checksums"]
            shards = parse_shards(checksums["shards"], checksums["shard_windows"], self.windows, list(self._shapes))
            if not shards or shards[-1][1] != self.windows:
                raise IntegrityError(f"the checksums cover {shards[-1][1] if shards else 0} of {self.windows} windows")
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise CacheError(f"{self.directory / 'meta.json'}: malformed ({error}); "
                             f"{rebuild_hint(self.directory)}") from None
        if fingerprint != cache_fingerprint(self.components):
            raise CacheError(f"{self.directory / 'meta.json'}: its settings do not match its fingerprint (edited?); "
                             f"{rebuild_hint(self.directory)}")
        if expected is not None and self.components != expected:
            raise CacheError(f"{self.directory}: made with other settings (cache ≠ run: "
                             f"{'; '.join(differences(self.components, expected))}); {rebuild_hint(self.directory)}")
        self.meta = meta
        for name, (dtype, shape) in self._shapes.items():
            path = self.directory / name
            size = int(np.prod(shape)) * np.dtype(dtype).itemsize
            if not path.is_file() or path.stat().st_size != size:
                raise CacheError(f"{path}: missing or truncated (expected {size:,} bytes); "
                                 f"{rebuild_hint(self.directory)}")
        self._maps: Optional[dict[str, np.memmap]] = None
        if verify:
            problem = verify_files(self.directory, self._open(), shards, limits, _chunk_windows(self._shapes))
            if problem is not None:
                raise CacheError(f"{problem}; {rebuild_hint(self.directory)}")

    def __len__(self) -> int:
        return self.windows

    def _open(self) -> dict[str, np.memmap]:
        if self._maps is None:
            self._maps = {name: np.memmap(self.directory / name, dtype=dtype, mode="r", shape=shape)
                          for name, (dtype, shape) in self._shapes.items()}
        return self._maps

    def __getitem__(self, window: int) -> dict[str, torch.Tensor]:
        maps = self._open()
        probs = maps["probs.bin"][window].astype(np.float32)  # (T, k)
        if self.scale != 1.0:
            probs /= self.scale
        return {
            "teacher_ids": torch.from_numpy(maps["ids.bin"][window].astype(np.int64)),  # (T, k)
            "teacher_probs": torch.from_numpy(probs),
            "teacher_neg_entropy": torch.from_numpy(
                np.array(maps["neg_entropy.bin"][window], dtype=np.float32)),  # (T,)
        }

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_maps"] = None
        return state
