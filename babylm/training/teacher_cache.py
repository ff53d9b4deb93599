"""The ``cache-teachers`` stage: run the frozen teachers once over every training window, store compact targets.

Run: ``python -m babylm cache-teachers -c configs/distill.yaml`` (:mod:`babylm.commands.cache_teachers`) — the
same YAML (and overrides) as ``fit``; ``--help`` lists the stage's own options. Reads the
encoded train split (``data/tokenized/<tokenizer>/train.bin``) and the teacher directories of
``model.init_args.teachers``; writes ``<model.init_args.cache.dir>/<fingerprint>/`` (default
``data/teacher_cache/``; format: :mod:`babylm.data.tokens.teacher_cache`). ``fit`` with the same config
then trains the student from it (:class:`babylm.training.distill.DistillationStudent` with ``cache`` set).

What is stored per position is the teachers' ensemble target at the distillation temperature, folded for
the configured ``reduction`` (:func:`babylm.models.chunked_loss.teacher_target`), in one of two compact forms
(:func:`compact_targets`):

* ``sample`` (default): k classes drawn with replacement from the target, stored as distinct ids with
  counts (weight = count / k), plus the exact Σ p log p. As in "Sparse Logit Sampling: Accelerating
  Knowledge Distillation in LLMs" (Anshumann et al., ACL 2025), the student's gradient against these
  weights is an unbiased estimate of the dense one (E[weights] = p). 3 bytes per slot: k = 12 → 40 B/token.
* ``topk``: the k most probable classes with their probabilities (fp16), and the remaining mass as a tail
  bucket matched against the student's mass outside those k. Biased (the tail's shape is lost), exact when
  k = V. 4 bytes per slot: k = 32 → 132 B/token.

The stage runs the teachers in inference mode, batched (``--batch-size`` windows), in bf16 when the config's
precision is bf16 (``--precision`` overrides), on one device (``--device``, default CUDA when present). Under
DDP, one process builds the whole cache before ``fit`` and every rank reads it. It is resumable and kill-safe:
windows are committed every few seconds (memmaps flushed, then ``progress.json`` atomically); a rerun
continues after the last commit with the same batch size and precision, so a killed and resumed build writes
byte-identical files; the finished folder is renamed into place in one step.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Optional, Sequence

import numpy as np
import torch

from babylm.data.tokens.teacher_cache import (
    FORMAT_VERSION,
    CacheError,
    TeacherCacheReader,
    cache_fingerprint,
    find_cache,
)
from babylm.data.tokens.teacher_cache_writer import TeacherCacheWriter
from babylm.data.tokens.tokenizer import file_sha256
from babylm.models.chunked_loss import DEFAULT_CHUNK_ELEMENTS, plogq, teacher_target
from babylm.models.export import resolve_device
from babylm.models.losses import SparseTargets, check_distillation_settings
from babylm.training.teachers import FrozenTeachers, check_teacher_context

CacheMethod = Literal["sample", "topk"]
COMMIT_SECONDS = 10.0


@dataclass
class TeacherCacheConfig:
    """Where the teacher cache lives and what it stores (``model.init_args.cache``)."""

    dir: str = "data/teacher_cache"
    """Root of the caches; each lives in ``<dir>/<fingerprint>/``."""
    method: CacheMethod = "sample"
    """``sample``: k classes drawn from the teachers' target (unbiased); ``topk``: the k most probable + tail mass."""
    k: int = 12
    """Draws per position (``sample``) or classes kept per position (``topk``)."""
    seed: int = 1234
    """Seed of the draws (``sample``; window w uses the generator seeded with (seed, w))."""

    def validate(self, vocab_size: Optional[int] = None) -> None:
        """Raise :class:`CacheError` naming the bad field; with ``vocab_size`` (the data's), ``k`` is checked against
        it.

        ``sample`` stores draw counts in one byte (k ≤ 255; k may exceed the vocabulary: draws repeat); ``topk``
        keeps k distinct classes, so k ≤ ``vocab_size`` (and the 2-byte ids hold at most 65,535).
        """
        if self.method not in ("sample", "topk"):
            raise CacheError(f"model.init_args.cache.method must be sample or topk, got {self.method!r}")
        limit = 255 if self.method == "sample" else 65_535
        if type(self.k) is not int or not 1 <= self.k <= limit:
            raise CacheError(f"model.init_args.cache.k must be in 1…{limit} for {self.method}, got {self.k}")
        if self.method == "topk" and vocab_size is not None and self.k > vocab_size:
            raise CacheError(f"model.init_args.cache.k is {self.k}, but top-k keeps k distinct classes of the "
                             f"vocabulary, which has {vocab_size:,} (data.vocab_size); use k ≤ {vocab_size}")
        if type(self.seed) is not int or self.seed < 0:
            raise CacheError(f"model.init_args.cache.seed must be a whole number ≥ 0, got {self.seed!r}")
        if Path(self.dir).exists() and not Path(self.dir).is_dir():
            raise CacheError(f"model.init_args.cache.dir: {self.dir} is a file; give a folder for the teacher caches")


def _sample_slots(p: torch.Tensor, uniforms: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``uniforms.size(-1)`` classes per row of ``p`` (c, V) by inverse CDF; returns distinct ids and counts
    (c, k)."""
    cdf = p.double().cumsum(-1)  # (c, V)
    draws = torch.searchsorted(cdf, uniforms.double() * cdf[:, -1:], right=True).clamp_(max=p.size(-1) - 1)  # (c, k)
    ordered = draws.sort(-1).values
    first = torch.ones_like(ordered, dtype=torch.bool)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    slot = first.long().cumsum(-1) - 1  # (c, k): the slot of each draw's class
    ids = torch.zeros_like(ordered).scatter_(1, slot, ordered)
    counts = torch.zeros_like(ordered, dtype=torch.float32).scatter_add_(1, slot,
                                                                         torch.ones_like(ordered, dtype=torch.float32))
    return ids, counts


def compact_targets(
    teacher_logits: Sequence[torch.Tensor],
    temperature: float,
    reduction: str,
    method: str,
    k: int,
    uniforms: Optional[torch.Tensor] = None,
    seed: int = 0,
    value_dtype: torch.dtype = torch.float32,
    chunk_rows: Optional[int] = None,
) -> SparseTargets:
    """The compact form of the teachers' tempered target, as the cache stores it.

    Takes K teacher logits (…, V) (any float dtype), the temperature and reduction the student distils with,
    ``method`` (``sample`` or ``topk``), ``k``, for ``sample`` the uniforms in [0, 1) of the draws (…, k)
    (default: drawn from a CPU generator seeded with ``seed``), ``value_dtype`` the stored probabilities'
    precision (``topk``; the tail and Σ p log p are computed from the rounded values) and ``chunk_rows``.
    Returns :class:`~babylm.models.losses.SparseTargets` (ids (…, k), probs (…, k) fp32, neg_entropy (…)).
    ``sample``: ids are the distinct drawn classes (unused slots id 0, weight 0), probs = count / k, and
    neg_entropy the exact Σ p log p of the target; ``topk``: the k most probable classes in decreasing order,
    and neg_entropy that of the coarse distribution (the k classes and the tail bucket) plus, for
    ``token_mean``, the teachers' disagreement (their mean Σ p_k log p_k minus the mixture's), so the logged
    KL is the dense one when k = V.
    """
    vocab = teacher_logits[0].size(-1)
    if method not in ("sample", "topk") or k < 1 or (method == "topk" and k > vocab):
        raise ValueError(f"compact targets: method must be sample or topk, k ≥ 1 (top-k: ≤ {vocab}), "
                         f"got {method!r}, {k}")
    lead = teacher_logits[0].shape[:-1]
    flat = [logits.reshape(-1, vocab) for logits in teacher_logits]  # K × (N, V)
    rows = flat[0].size(0)
    if method == "sample" and uniforms is None:
        uniforms = torch.rand((rows, k), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    if uniforms is not None:
        uniforms = uniforms.reshape(rows, k).to(flat[0].device)
    ids = torch.empty((rows, k), dtype=torch.long, device=flat[0].device)
    probs = torch.empty((rows, k), dtype=torch.float32, device=flat[0].device)
    neg_entropy = torch.empty(rows, dtype=torch.float32, device=flat[0].device)
    step = chunk_rows or max(1, DEFAULT_CHUNK_ELEMENTS // vocab)
    for start in range(0, rows, step):
        end = min(rows, start + step)
        target = teacher_target([logits[start:end] for logits in flat], temperature, reduction)  # (c, V), (c)
        if method == "sample":
            ids[start:end], counts = _sample_slots(target.p, uniforms[start:end])
            probs[start:end] = counts / k
            neg_entropy[start:end] = target.neg_entropy
        else:
            values, ids[start:end] = target.p.topk(k, dim=-1)
            values = values.to(value_dtype).float()  # (c, k)
            tail = (1.0 - values.sum(-1)).clamp_(min=0.0)  # (c)
            probs[start:end] = values
            coarse = plogq(values, values.log()) + torch.where(tail > 0, tail * tail.log(), 0.0)  # (c)
            # + the teachers' disagreement (token_mean's Σ p log p minus the mixture's), so k = V gives the dense KL
            mixture = torch.linalg.vecdot(target.p, torch.log(target.p).clamp_(min=torch.finfo(torch.float32).min))
            neg_entropy[start:end] = coarse + (target.neg_entropy - mixture)
    return SparseTargets(ids.view(*lead, k), probs.view(*lead, k), neg_entropy.view(lead), tail=method == "topk")


def teacher_weight_files(path: str | os.PathLike) -> list[Path]:
    """The ``*.safetensors`` files of an exported teacher directory; :class:`CacheError` when it holds no export."""
    directory = Path(path)
    weights = sorted(directory.glob("*.safetensors"))
    if not (directory / "config.json").is_file() or not weights:
        raise CacheError(f"teacher {directory}: no exported model there (config.json and *.safetensors); "
                         f"export the teacher first (python -m babylm export …)")
    return weights


def teacher_digest(path: str | os.PathLike) -> dict:
    """``{"config_sha256", "weights_sha256"}`` of an exported teacher directory (all its ``*.safetensors``)."""

    directory, weights = Path(path), teacher_weight_files(path)
    digest = hashlib.sha256()
    for file in weights:
        digest.update(f"{file.name}:{file_sha256(file)}\n".encode())
    return {"config_sha256": file_sha256(directory / "config.json"), "weights_sha256": digest.hexdigest()}


def cache_components(layout: dict, teachers: Sequence[str], temperature: float, reduction: str,
                     config: TeacherCacheConfig) -> dict:
    """What a cache's fingerprint covers: train windows ``layout``, teachers' weights, temperature, reduction,
    method, k, seed.

    The settings are checked first against the data (``k`` against the vocabulary): :class:`CacheError`.
    """
    config.validate(int(layout["vocab_size"]))
    return {
        "format_version": FORMAT_VERSION, "tokens": dict(layout), "teachers": [teacher_digest(t) for t in teachers],
        "temperature": float(temperature), "reduction": reduction, "method": config.method, "k": int(config.k),
        "seed": int(config.seed) if config.method == "sample" else None,
    }


def resolve_cache(datamodule, teachers: Sequence[str], temperature: float, reduction: str,
                  config: TeacherCacheConfig) -> Path:
    """The finished cache for this run (DataModule's train windows + settings), or :class:`CacheError` in one line."""
    components = cache_components(datamodule.train_window_layout(), teachers, temperature, reduction, config)
    return find_cache(config.dir, components)


TEACHER_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def _resumed_settings(writer: TeacherCacheWriter) -> tuple[torch.dtype, int]:
    """The teachers' dtype and batch size the build started with (``writer.info``), checked: :class:`CacheError`."""
    dtype, batch_size = writer.info.get("teacher_dtype"), writer.info.get("batch_size")
    if dtype not in TEACHER_DTYPES or type(batch_size) is not int or batch_size < 1:
        raise CacheError(f"{writer.partial / 'progress.json'}: teacher_dtype {dtype!r} / batch_size {batch_size!r} "
                         f"are not settings this stage writes (edited?); remove the folder {writer.partial} to start "
                         "over")
    return TEACHER_DTYPES[dtype], batch_size


def build_teacher_cache(
    datamodule,
    teachers: Sequence[str],
    temperature: float,
    reduction: str,
    config: TeacherCacheConfig,
    device: Optional[str] = None,
    dtype: torch.dtype = torch.float32,
    batch_size: int = 32,
    progress: bool = True,
    on_batch: Optional[Callable[[int], None]] = None,
    commit_seconds: float = COMMIT_SECONDS,
) -> Path:
    """Build (or resume) the cache of ``teachers`` over the DataModule's train windows; returns its folder.

    ``datamodule`` is a :class:`~babylm.data.tokens.datamodule.TokenizedDataModule`; ``dtype`` the teachers'
    parameter dtype; ``batch_size`` windows per forward; ``on_batch(windows_written)`` is called after each
    batch is written (before it is committed); written windows are committed every ``commit_seconds``. A
    resumed build keeps the dtype and batch size it started with; a finished one is checked and returned as
    it is. Every setting is checked against the data and the teachers before anything is written (k against
    the vocabulary, each teacher's vocabulary, tokenizer and context against the data's, the device, the disk
    space). Raises :class:`CacheError` (a bad setting, locked by another build, values that cannot be a target),
    :class:`~babylm.training.teachers.TeacherError` or :class:`~babylm.models.export.ExportError` (the device).
    What a resumed build could not keep of the previous one is printed on stderr, one line each.
    """
    from tqdm.auto import tqdm

    check_distillation_settings(0.5, temperature, reduction)
    if type(batch_size) is not int or batch_size < 1:
        raise CacheError(f"--batch-size must be a whole number ≥ 1, got {batch_size!r}")
    if dtype not in TEACHER_DTYPES.values():
        raise CacheError(f"the teachers run in float32 or bfloat16, not {dtype}")
    layout = datamodule.train_window_layout()
    components = cache_components(layout, teachers, temperature, reduction, config)
    info = {"teacher_paths": [str(t) for t in teachers], "teacher_dtype": str(dtype).removeprefix("torch."),
            "batch_size": int(batch_size)}
    finished = Path(config.dir) / cache_fingerprint(components)
    if finished.is_dir():  # up to date: validated, not rebuilt
        TeacherCacheReader(finished, components)
        return finished
    # the device and the teachers (vocabulary, tokenizer, context) are checked before anything is written, so a
    # refused setting leaves no partial cache behind
    device = resolve_device(device or "auto")
    for teacher in teachers:
        check_teacher_context(teacher, layout["seq_len"])
    frozen = FrozenTeachers(teachers, layout["vocab_size"], datamodule.tokenizer_path)
    writer = TeacherCacheWriter(config.dir, components, info)
    try:
        for notice in writer.notices:
            print(f"teacher cache: {notice}", file=sys.stderr)
        dtype, batch_size = _resumed_settings(writer)
        windows, seq_len, k = writer.windows, writer.seq_len, writer.k
        if writer.windows_done < windows:
            frozen.place(device, dtype)
            entry = datamodule.meta["splits"]["train"]
            tokens = np.memmap(datamodule.encoded_dir / entry["bin"], dtype="uint16", mode="r",
                               shape=(windows, seq_len))
            bar = tqdm(total=windows, initial=writer.windows_done, unit="window", desc="teacher cache",
                       disable=not progress, file=sys.stderr)
            last_commit = time.monotonic()
            for start in range(writer.windows_done, windows, batch_size):
                end = min(windows, start + batch_size)
                input_ids = torch.from_numpy(tokens[start:end].astype(np.int64)).to(device)  # (n, T)
                uniforms = None
                if config.method == "sample":
                    uniforms = torch.from_numpy(np.stack(  # (n, T, k)
                        [np.random.default_rng([config.seed, w]).random((seq_len, k)) for w in range(start, end)]))
                with torch.inference_mode():
                    compact = compact_targets(frozen.logits(input_ids), temperature, reduction, config.method, k,
                                              uniforms=uniforms, value_dtype=torch.float16)
                probs = compact.probs.cpu().numpy()
                values = np.rint(probs * k).astype(np.uint8) if config.method == "sample" else probs.astype(np.float16)
                writer.write(start, compact.ids.cpu().numpy().astype(np.uint16), values,
                             compact.neg_entropy.cpu().numpy())
                bar.update(end - start)
                if on_batch is not None:
                    on_batch(end)
                if end == windows or time.monotonic() - last_commit >= commit_seconds:
                    writer.commit(end)
                    last_commit = time.monotonic()
            bar.close()
        return writer.finish()
    finally:
        writer.close()
