"""Benchmark: what the teacher cache's integrity checks cost (issue 24) — on open, and while it is written.

Run: ``python benchmarks/bench_cache_integrity.py`` (defaults: the reference recipe's cache, 16M training tokens,
``sample`` k = 12 → 40 bytes/token = 0.64 GB; ``--tokens``, ``--method``, ``--k``, ``--repeats``, ``--dir``).

A synthetic cache of that size is written with the real :class:`~babylm.data.tokens.teacher_cache_writer
.TeacherCacheWriter` (valid random values: ids below 16,000, draw counts summing to k, Σ p log p in range), then:

* **open**: :class:`~babylm.data.tokens.teacher_cache.TeacherCacheReader` with ``verify=True`` (every shard's sha256
  and every value checked, what ``fit`` does once per process) against ``verify=False`` (meta and sizes only), in
  turn, ``--repeats`` pairs; and sha256 alone over the same bytes, to show what the hashing is of it;
* **write**: the writer's ``write`` (values checked, checksums taken) against plain memmap stores of the same
  batches into a file of the same size, in turn, ``--repeats`` pairs (the teachers' forward passes, which dominate a
  real build, are not part of either).

The files are read from the page cache (just written): a cold read adds the disk's read time to both sides. Prints
the machine line and median [min–max] of each. Writes only into ``--dir`` (a temporary folder by default).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_line  # noqa: E402  (benchmarks/harness.py)

from babylm.data.tokens.teacher_cache import TeacherCacheReader, bytes_per_token, file_shapes  # noqa: E402
from babylm.data.tokens.teacher_cache_writer import TeacherCacheWriter  # noqa: E402

VOCAB, SEQ_LEN, BATCH = 16_000, 128, 256


def batches(windows: int, method: str, k: int, seed: int = 0):
    """Valid random cache values, ``BATCH`` windows at a time: (start, ids, probs, neg_entropy)."""
    rng = np.random.default_rng(seed)
    for start in range(0, windows, BATCH):
        n = min(BATCH, windows - start)
        ids = rng.integers(0, VOCAB, size=(n, SEQ_LEN, k), dtype=np.uint16)
        if method == "sample":  # k draws over k slots: counts summing to k
            slots = rng.integers(0, k, size=(n, SEQ_LEN, k))
            probs = np.zeros((n, SEQ_LEN, k), dtype=np.uint8)
            for j in range(k):
                probs[..., j] = (slots == j).sum(-1)
        else:
            raw = rng.random((n, SEQ_LEN, k)).astype(np.float32)
            probs = (raw / raw.sum(-1, keepdims=True) * 0.9).astype(np.float16)
        neg = -rng.random((n, SEQ_LEN), dtype=np.float32) * np.log(VOCAB)
        yield start, ids, probs, neg


def write_cache(root: Path, windows: int, method: str, k: int) -> tuple[Path, float]:
    components = {"format_version": 2, "method": method, "k": k, "teachers": [{}, {}],
                  "tokens": {"sha256": "0" * 64, "seq_len": SEQ_LEN, "windows": windows, "vocab_size": VOCAB}}
    writer = TeacherCacheWriter(root, components, {})
    seconds = 0.0
    for start, ids, probs, neg in batches(windows, method, k):
        began = time.perf_counter()
        writer.write(start, ids, probs, neg)
        seconds += time.perf_counter() - began
    writer.commit(windows)
    return writer.finish(), seconds


def plain_writes(path: Path, windows: int, method: str, k: int) -> float:
    shapes = file_shapes(windows, SEQ_LEN, k, method)
    maps = {}
    for name, (dtype, shape) in shapes.items():
        with open(path / name, "wb") as handle:
            handle.truncate(int(np.prod(shape)) * np.dtype(dtype).itemsize)
        maps[name] = np.memmap(path / name, dtype=dtype, mode="r+", shape=shape)
    seconds = 0.0
    for start, ids, probs, neg in batches(windows, method, k):
        began = time.perf_counter()
        end = start + len(ids)
        maps["ids.bin"][start:end], maps["probs.bin"][start:end], maps["neg_entropy.bin"][start:end] = ids, probs, neg
        seconds += time.perf_counter() - began
    for memmap in maps.values():
        memmap.flush()
    return seconds


def sha256_only(directory: Path) -> float:
    began = time.perf_counter()
    for name in ("ids.bin", "probs.bin", "neg_entropy.bin"):
        digest = hashlib.sha256()
        with open(directory / name, "rb") as handle:
            while block := handle.read(16 << 20):
                digest.update(block)
    return time.perf_counter() - began


def timed(function) -> float:
    began = time.perf_counter()
    function()
    return time.perf_counter() - began


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{min(values):.2f}–{max(values):.2f}]"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=16_000_000, help="training tokens the cache covers")
    parser.add_argument("--method", choices=["sample", "topk"], default="sample")
    parser.add_argument("--k", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dir", default=None, help="where to write (default: a temporary folder, removed after)")
    args = parser.parse_args(argv)
    print(machine_line(check_gpu=False, packages=("numpy",)))
    root = Path(args.dir or tempfile.mkdtemp(prefix="babylm-cache-integrity-"))
    try:
        windows = args.tokens // SEQ_LEN
        directory, _ = write_cache(root / "caches", windows, args.method, args.k)
        size = sum((directory / n).stat().st_size for n in ("ids.bin", "probs.bin", "neg_entropy.bin"))
        print(f"cache: {windows:,} windows × {SEQ_LEN} tokens, {args.method} k = {args.k} "
              f"({bytes_per_token(args.method, args.k)} B/token): {size / 1e9:.2f} GB")
        verified, unverified, hashing, checked, plain = [], [], [], [], []
        for repeat in range(args.repeats):
            verified.append(timed(lambda: TeacherCacheReader(directory)))
            unverified.append(timed(lambda: TeacherCacheReader(directory, verify=False)))
            hashing.append(sha256_only(directory))
            shutil.rmtree(root / "again", ignore_errors=True)
            checked.append(write_cache(root / "again", windows, args.method, args.k)[1])
            shutil.rmtree(root / "again")
            (root / "plain").mkdir(exist_ok=True)
            plain.append(plain_writes(root / "plain", windows, args.method, args.k))
            shutil.rmtree(root / "plain")
            print(f"repeat {repeat + 1}: open verified {verified[-1]:.2f} s, unverified {unverified[-1]:.3f} s, "
                  f"sha256 alone {hashing[-1]:.2f} s; write checked {checked[-1]:.2f} s, plain {plain[-1]:.2f} s")
        ratios = [c / p for c, p in zip(checked, plain)]
        print(f"open, verified: {spread(verified)} s = {size / 1e9 / statistics.median(verified):.2f} GB/s "
              f"(sha256 alone {spread(hashing)} s; unverified {spread(unverified)} s)")
        print(f"write: checked {spread(checked)} s, plain {spread(plain)} s; "
              f"checked / plain per pair {spread(ratios)}×")
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
