"""The teacher cache: compact targets, the sparse loss against the dense one, kill-safe builds, refusals.

Tiny randomly initialised teachers over the tiny corpus (``distill_fixtures.py``); every cache is built with
the real :func:`build_teacher_cache` into ``tmp_path`` and read back through the DataModule.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import re
import shutil
import signal
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from babylm.data.tokens.datamodule import TokenizedDataModule
from babylm.data.tokens.teacher_cache import CacheError
from babylm.models.build import ModelConfig
from babylm.models.chunked_loss import teacher_target
from babylm.models.losses import SparseTargets, distillation_loss, sparse_distillation_loss
from babylm.training.distill import DistillationStudent
from babylm.training.teacher_cache import TeacherCacheConfig, build_teacher_cache, compact_targets, resolve_cache
from babylm.training.teachers import FrozenTeachers
from tests.training.distill_fixtures import (  # noqa: F401
    TINY_SIZES,
    tiny_teachers,
    tiny_tokenized,
    tiny_tokenizer,
    tiny_vocab_size,
    write_teacher,
)

SEQ_LEN = 32
BATCH = 16  # windows per teacher forward in these builds
REDUCTIONS = ["token_mean", "ensemble_mean", "legacy_batch_sum"]


def random_case(vocab: int = 40, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    student = torch.randn(2, 6, vocab, generator=generator).requires_grad_(True)
    teachers = [torch.randn(2, 6, vocab, generator=generator) * 2, torch.randn(2, 6, vocab, generator=generator)]
    return student, teachers, torch.randint(0, vocab, (2, 6), generator=generator)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sparse_loss_equals_the_dense_loss_when_k_is_the_vocabulary(reduction):
    student, teachers, ids = random_case()
    dense = distillation_loss(student, teachers, ids, alpha=0.3, reduction=reduction)
    (dense_grad,) = torch.autograd.grad(dense.loss, student)

    sparse = sparse_distillation_loss(student, compact_targets(teachers, 2.0, reduction, "topk", 40), ids,
                                      alpha=0.3, reduction=reduction, chunk_rows=5)
    (sparse_grad,) = torch.autograd.grad(sparse.loss, student)

    for a, b in ((sparse.loss, dense.loss), (sparse.ce, dense.ce), (sparse.kl, dense.kl)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(sparse_grad, dense_grad, rtol=1e-4, atol=1e-7)


def per_draw(student, teachers, ids, draws: int, k: int = 8):
    """Loss, KL and student gradient of ``draws`` independent sampled caches: (draws,), (draws,), (draws, B, T, V)."""
    batch = student.size(0)
    copies = student.detach().repeat(draws, 1, 1).requires_grad_(True)  # (draws·B, T, V)
    targets = compact_targets([t.repeat(draws, 1, 1) for t in teachers], 2.0, "token_mean", "sample", k, seed=0)
    rows = sparse_distillation_loss(copies, targets, ids.repeat(draws, 1))
    (grad,) = torch.autograd.grad(rows.loss, copies)  # the mean over copies: each copy's gradient / draws
    kls = [sparse_distillation_loss(student,
                                    SparseTargets(*(x[i * batch:(i + 1) * batch] for x in targets[:3]), tail=False),
                                    ids).kl for i in range(draws)]
    return torch.stack(kls), grad.view(draws, *student.shape) * draws


def test_sampled_classes_give_the_dense_gradient_on_average_and_top_k_does_not():
    """Anshumann et al. 2025: sampled classes with count weights are unbiased; truncating to the top k is not."""
    student, teachers, ids = random_case()
    dense = distillation_loss(student, teachers, ids)  # alpha 0.5, T = 2
    (dense_grad,) = torch.autograd.grad(dense.loss, student)
    draws, k = 400, 8
    kls, grads = per_draw(student, teachers, ids, draws=draws, k=k)
    (top_k,) = torch.autograd.grad(
        sparse_distillation_loss(student, compact_targets(teachers, 2.0, "token_mean", "topk", k), ids).loss, student)
    # each draw's gradient is the dense one minus c · (p̂ − p) with c = (1 − alpha) · T / (scored positions), and
    # k·draws·p̂ of a class is Binomial(k·draws, p): its exact spread bounds the mean's deviation
    p = teacher_target([t.reshape(-1, t.size(-1)) for t in teachers], 2.0, "token_mean").p.view_as(student)
    c = 0.5 * 2.0 / (ids.size(0) * (ids.size(1) - 1))
    spread = c * (p * (1 - p) / (k * draws)).sqrt() + c / (k * draws)  # + one draw's step, for rare classes
    deviation = (grads.mean(0) - dense_grad).abs()

    assert (deviation[:, :-1] <= 5 * spread[:, :-1]).all() and (deviation[:, -1] < 1e-7).all()
    assert ((top_k - dense_grad).abs()[:, :-1] > 5 * spread[:, :-1]).any()  # top-k is off by more: a bias
    # the logged KL is an unbiased estimate of the dense one too
    assert kls.mean().item() == pytest.approx(dense.kl.item(), abs=5 * kls.std().item() / math.sqrt(len(kls)))


def test_sampled_slots_hold_distinct_ids_with_counts_that_sum_to_k():
    logits = torch.tensor([[[5.0, 0.0, -math.inf, 1.0]]])  # (1, 1, 4): class 2 has probability 0
    targets = compact_targets([logits], 1.0, "token_mean", "sample", 50, seed=3)

    ids, probs = targets.ids[0, 0].tolist(), targets.probs[0, 0]
    used = [i for i, p in zip(ids, probs.tolist()) if p > 0]
    assert len(used) == len(set(used)) and 2 not in used
    assert probs.sum().item() == pytest.approx(1.0) and (probs * 50).round().eq(probs * 50).all()


# ------------------------------------------------------------------------------------------------ the stage


@pytest.fixture(scope="module")
def data(tiny_tokenizer, tiny_tokenized):
    return TokenizedDataModule(tokenizer_path=str(tiny_tokenizer), tokenized_dir=str(tiny_tokenized), seq_len=SEQ_LEN,
                               batch_size=4, eval_samples=8, num_workers=0)


def build(data, teachers, root: Path, method="sample", k=6, **kwargs) -> Path:
    config = TeacherCacheConfig(dir=str(root), method=method, k=k, seed=5)
    return build_teacher_cache(data, [str(t) for t in teachers], kwargs.pop("temperature", 2.0), "token_mean", config,
                               batch_size=BATCH, progress=False, **kwargs)


def files(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in ("ids.bin", "probs.bin", "neg_entropy.bin")}


@pytest.mark.parametrize("method, k", [("sample", 6), ("topk", 5)])
def test_the_cache_holds_each_windows_compact_targets(data, tiny_teachers, tiny_tokenizer, tiny_vocab_size, tmp_path,
                                                      method, k):
    directory = build(data, tiny_teachers, tmp_path, method=method, k=k)
    reader = data.use_teacher_cache(directory)
    window = 7
    item = data.train_dataloader().dataset[window]
    logits = FrozenTeachers(tiny_teachers, tiny_vocab_size, tiny_tokenizer).logits(item["input_ids"][None])
    uniforms = torch.from_numpy(np.random.default_rng([5, window]).random((SEQ_LEN, k)))[None]
    expected = compact_targets(logits, 2.0, "token_mean", method, k, uniforms=uniforms, value_dtype=torch.float16)

    assert len(reader) == data.train_window_layout()["windows"]
    assert torch.equal(item["teacher_ids"], expected.ids[0])
    torch.testing.assert_close(item["teacher_probs"], expected.probs[0], rtol=1e-3, atol=1e-6)
    torch.testing.assert_close(item["teacher_neg_entropy"], expected.neg_entropy[0], rtol=1e-5, atol=1e-6)
    assert reader.meta["bytes_per_token"] == k * (3 if method == "sample" else 4) + 4


def build_then_die(tokenizer: str, tokenized: str, teachers: list[str], root: str, windows: int) -> None:
    """In a child process: build the cache and SIGKILL this process once ``windows`` windows are written
    (uncommitted)."""
    data = TokenizedDataModule(tokenizer_path=tokenizer, tokenized_dir=tokenized, seq_len=SEQ_LEN, batch_size=4,
                               num_workers=0)

    def die(windows_written):
        if windows_written == windows:
            os.kill(os.getpid(), signal.SIGKILL)  # no finally, no flush, no atexit: as a power cut or an OOM kill

    build(data, teachers, Path(root), on_batch=die, commit_seconds=0.0)


def test_a_killed_build_resumes_to_byte_identical_files(data, tiny_teachers, tiny_tokenizer, tiny_tokenized, tmp_path):
    straight = files(build(data, tiny_teachers, tmp_path / "straight"))
    child = multiprocessing.get_context("spawn").Process(
        target=build_then_die,
        args=(str(tiny_tokenizer), str(tiny_tokenized), [str(t) for t in tiny_teachers], str(tmp_path / "killed"),
              3 * BATCH))
    child.start()
    child.join(timeout=120)

    assert child.exitcode == -signal.SIGKILL
    (partial,) = (tmp_path / "killed").glob("*.partial")
    # the third batch: uncommitted
    assert json.loads((partial / "progress.json").read_text())["windows_done"] == 2 * BATCH
    with open(partial / "ids.bin", "r+b") as handle:  # and a torn write beyond the last commit
        handle.seek(2 * BATCH * SEQ_LEN * 6 * 2)
        handle.write(b"\xff" * 5000)
    resumed = build(data, tiny_teachers, tmp_path / "killed", commit_seconds=0.0)  # the dead process's lock is gone

    assert files(resumed) == straight
    assert not list((tmp_path / "killed").glob("*.partial"))
    assert build(data, tiny_teachers, tmp_path / "killed") == resumed  # up to date: returned as it is


def test_a_build_in_progress_is_locked_and_an_incomplete_one_is_refused_for_training(data, tiny_teachers, tmp_path):
    from babylm.data.tokens.teacher_cache_writer import TeacherCacheWriter

    with pytest.raises(KeyboardInterrupt):
        build(data, tiny_teachers, tmp_path, on_batch=lambda n: (_ for _ in ()).throw(KeyboardInterrupt),
              commit_seconds=0.0)
    config = TeacherCacheConfig(dir=str(tmp_path), method="sample", k=6, seed=5)
    (partial,) = tmp_path.glob("*.partial")
    from babylm.training.teacher_cache import cache_components

    components = cache_components(data.train_window_layout(), [str(t) for t in tiny_teachers], 2.0, "token_mean",
                                  config)
    holder = TeacherCacheWriter(tmp_path, components, {})
    with pytest.raises(CacheError, match="another cache-teachers is building this cache"):
        build(data, tiny_teachers, tmp_path)
    holder.close()
    with pytest.raises(CacheError,
                       match=r"incomplete \(0 of \d+ windows\); resume it with python -m babylm cache-teachers"):
        resolve_cache(data, [str(t) for t in tiny_teachers], 2.0, "token_mean", config)


@pytest.fixture(scope="module")
def built(data, tiny_teachers, tmp_path_factory) -> Path:
    """A finished sample cache (k = 6, seed 5, T = 2) that tests must not change (copy it first)."""
    return build(data, tiny_teachers, tmp_path_factory.mktemp("cache"))


@pytest.mark.parametrize(
    "change, named",
    [
        (dict(temperature=1.0), r"temperature 2\.0 ≠ 1\.0"),
        (dict(k=7), r"k 6 ≠ 7"),
        (dict(method="topk"), r"method sample ≠ topk"),
        (dict(seed=6), r"seed 5 ≠ 6"),
        (dict(teacher_seed=9), r"teacher 1 weights"),
    ],
)
def test_a_cache_made_with_other_settings_is_refused_naming_them(built, data, tiny_teachers, tiny_tokenizer,
                                                                 tiny_vocab_size, tmp_path, change, named):
    teachers = [str(t) for t in tiny_teachers]
    if "teacher_seed" in change:
        teachers[0] = str(write_teacher(tmp_path / "other", "llama", tiny_tokenizer, tiny_vocab_size,
                                        seed=change["teacher_seed"]))
    config = TeacherCacheConfig(dir=str(built.parent), method=change.get("method", "sample"), k=change.get("k", 6),
                                seed=change.get("seed", 5))

    with pytest.raises(CacheError, match=f"the nearest, {built}, was made with other settings .*{named}"):
        resolve_cache(data, teachers, change.get("temperature", 2.0), "token_mean", config)


def test_a_cache_for_other_windows_is_refused(built, tiny_tokenizer, tiny_tokenized):
    other = TokenizedDataModule(tokenizer_path=str(tiny_tokenizer), tokenized_dir=str(tiny_tokenized), seq_len=16,
                                batch_size=4, num_workers=0)

    with pytest.raises(CacheError, match=r"made for other train windows \(cache ≠ data: seq_len 32 ≠ 16; windows"):
        other.use_teacher_cache(built)


def test_a_truncated_or_edited_cache_is_refused(built, data, tmp_path):
    built = Path(shutil.copytree(built, tmp_path / built.name))
    meta = (built / "meta.json").read_text()
    (built / "meta.json").write_text(meta.replace('"temperature": 2.0', '"temperature": 3.0'))
    with pytest.raises(CacheError, match="do not match its fingerprint"):
        data.use_teacher_cache(built)
    (built / "meta.json").write_text(meta)
    with open(built / "probs.bin", "r+b") as handle:
        handle.truncate(100)
    with pytest.raises(CacheError,
                       match=rf"probs\.bin: missing or truncated .*; remove the folder {built} and rebuild"):
        data.use_teacher_cache(built)


def test_a_damaged_cache_is_not_rebuilt_over_and_the_build_says_to_remove_it(built, data, tiny_teachers, tmp_path):
    """cache-teachers on a damaged finished cache gives the same way out as fit (remove it), not a loop."""
    damaged = Path(shutil.copytree(built, tmp_path / built.name))
    with open(damaged / "probs.bin", "r+b") as handle:
        handle.truncate(100)

    with pytest.raises(CacheError, match=rf"remove the folder {damaged} and rebuild"):
        build(data, tiny_teachers, tmp_path)
    assert (damaged / "probs.bin").stat().st_size == 100  # nothing rebuilt over it


def test_a_refused_teacher_leaves_no_partial_cache(data, tiny_teachers, tiny_tokenizer, tmp_path):
    wrong_vocabulary = write_teacher(tmp_path / "wide", "llama", tiny_tokenizer, 999)

    with pytest.raises(ValueError, match="vocab"):
        build(data, [tiny_teachers[0], wrong_vocabulary], tmp_path / "caches")
    assert not (tmp_path / "caches").exists() or not any((tmp_path / "caches").iterdir())


def test_a_cache_dir_that_is_a_file_is_named(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")

    with pytest.raises(CacheError, match=r"model\.init_args\.cache\.dir: .*notes\.txt is a file"):
        TeacherCacheConfig(dir=str(tmp_path / "notes.txt")).validate()


# ------------------------------------------------------------------------------------------------ training


def student(teachers, tokenizer, vocab, cache=None, **kwargs) -> DistillationStudent:
    L.seed_everything(0, verbose=False)
    return DistillationStudent(teachers=[str(t) for t in teachers], vocab_size=vocab, tokenizer_path=str(tokenizer),
                               config=ModelConfig(arch="llama", **TINY_SIZES), learning_rate=1e-2, warmup_steps=1,
                               schedule_steps=4, cache=cache, **kwargs)


class FirstBatch(L.Callback):
    """Keeps the first training batch (seen before any optimizer step)."""

    batch = None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if self.batch is None:
            self.batch = {k: v.clone() for k, v in batch.items()}


def test_a_cached_step_has_the_online_loss_when_the_cache_keeps_every_class(data, tiny_teachers, tiny_tokenizer,
                                                                            tiny_vocab_size, tmp_path):
    config = TeacherCacheConfig(dir=str(tmp_path), method="topk", k=tiny_vocab_size)
    build_teacher_cache(data, [str(t) for t in tiny_teachers], 2.0, "token_mean", config, batch_size=BATCH,
                        progress=False)
    online = student(tiny_teachers, tiny_tokenizer, tiny_vocab_size)
    cached = student(tiny_teachers, tiny_tokenizer, tiny_vocab_size, cache=config)
    first = FirstBatch()
    trainer = L.Trainer(accelerator="cpu", max_steps=1, logger=False, enable_progress_bar=False, limit_val_batches=0,
                        enable_model_summary=False, enable_checkpointing=False, default_root_dir=str(tmp_path),
                        callbacks=[first])

    trainer.fit(cached, data)

    assert cached.teachers is None  # nothing loaded: the cache holds the teachers' outputs
    assert set(first.batch) == {"input_ids", "teacher_ids", "teacher_probs", "teacher_neg_entropy"}
    expected = online.compute_loss({"input_ids": first.batch["input_ids"]}, "train")
    for name in ("loss", "ce", "kl"):
        assert trainer.callback_metrics[f"train/{name}"].item() == pytest.approx(expected[name].item(), rel=2e-3,
                                                                                 abs=1e-4)


def test_a_hybrid_students_masked_windows_take_their_cached_entries_as_the_online_teachers(
        tiny_teachers, tiny_tokenizer, tiny_tokenized, tiny_vocab_size, tmp_path):
    """``masked_windows: distill`` from a cache: the masked windows' entries (the teachers on the unmasked window)
    give the online loss, masked and causal parts alike."""
    def fresh_data():  # the hybrid objective asks its DataModule for window positions: not the shared fixture
        return TokenizedDataModule(tokenizer_path=str(tiny_tokenizer), tokenized_dir=str(tiny_tokenized),
                                   seq_len=SEQ_LEN, batch_size=4, eval_samples=8, num_workers=0)
    config = TeacherCacheConfig(dir=str(tmp_path), method="topk", k=tiny_vocab_size)
    build_teacher_cache(fresh_data(), [str(t) for t in tiny_teachers], 2.0, "token_mean", config, batch_size=BATCH,
                        progress=False)
    hybrid = dict(objective="hybrid", hybrid={"masked_share": 0.5}, masked_windows="distill")
    online = student(tiny_teachers, tiny_tokenizer, tiny_vocab_size, **hybrid)
    cached = student(tiny_teachers, tiny_tokenizer, tiny_vocab_size, cache=config, **hybrid)
    first = FirstBatch()
    trainer = L.Trainer(accelerator="cpu", max_steps=1, logger=False, enable_progress_bar=False, limit_val_batches=0,
                        enable_model_summary=False, enable_checkpointing=False, default_root_dir=str(tmp_path),
                        callbacks=[first])

    trainer.fit(cached, fresh_data())

    online.hybrid.bind(fresh_data(), total_steps=4)
    expected = online.compute_loss({k: first.batch[k] for k in ("input_ids", "position")}, "train")
    for name in ("loss", "mntp", "mntp_kl", "ce", "kl"):
        assert trainer.callback_metrics[f"train/{name}"].item() == pytest.approx(expected[name].item(), rel=2e-3,
                                                                                 abs=1e-4)


# ------------------------------------------------------------------------------- numbers checked before use (issue 24)


def test_top_k_larger_than_the_vocabulary_is_refused_before_any_file_is_written(data, tiny_teachers, tiny_vocab_size,
                                                                              tmp_path):
    """Issue 24: topk with k = 5000 on a 2,000-token vocabulary was a traceback and a 312 MB partial cache."""
    config = TeacherCacheConfig(dir=str(tmp_path / "caches"), method="topk", k=tiny_vocab_size + 1)
    expected = (rf"model\.init_args\.cache\.k is {tiny_vocab_size + 1}, "
                rf".*which has {tiny_vocab_size} \(data\.vocab_size\)")
    with pytest.raises(CacheError, match=expected):
        build_teacher_cache(data, [str(t) for t in tiny_teachers], 2.0, "token_mean", config, progress=False)
    with pytest.raises(CacheError, match=expected):  # and fit says the same, never "resume it"
        resolve_cache(data, [str(t) for t in tiny_teachers], 2.0, "token_mean", config)
    assert not (tmp_path / "caches").exists()


@pytest.mark.parametrize("setting, expected", [
    (dict(seed=-1), r"model\.init_args\.cache\.seed must be a whole number ≥ 0, got -1"),
    (dict(device="cuda:7"), r"--device cuda:7"),
    (dict(device="meta"), r"--device 'meta': not a device this machine runs models on"),
    (dict(batch_size=0), r"--batch-size must be a whole number ≥ 1, got 0"),
    (dict(temperature=float("nan")), r"temperature must be a finite number > 0, got nan"),
    (dict(short_teacher=True), r"has 16 positions but data\.seq_len is 32"),
])
def test_settings_that_cannot_build_a_cache_are_refused_before_any_file_is_written(data, tiny_teachers, tiny_tokenizer,
                                                                                   tiny_vocab_size, tmp_path, setting,
                                                                                   expected):
    teachers = [str(t) for t in tiny_teachers]
    if setting.pop("short_teacher", False):  # GPT-J's position table ends at 16: an IndexError mid-build before
        short = write_teacher(tmp_path / "short", "gptj", tiny_tokenizer, tiny_vocab_size)
        config = json.loads((short / "config.json").read_text())
        (short / "config.json").write_text(json.dumps({**config, "n_positions": 16}))
        teachers[1] = str(short)
    config = TeacherCacheConfig(dir=str(tmp_path / "caches"), seed=setting.pop("seed", 5))
    with pytest.raises(ValueError, match=expected):
        build_teacher_cache(data, teachers, setting.pop("temperature", 2.0), "token_mean", config, progress=False,
                            **setting)
    assert not (tmp_path / "caches").exists()


def test_a_cache_larger_than_the_free_disk_space_is_refused_before_anything_is_created(tmp_path):
    from babylm.data.tokens.teacher_cache_writer import TeacherCacheWriter

    free = shutil.disk_usage(tmp_path).free
    windows = free // (128 * (255 * 3 + 4)) + 1  # a sample cache with k = 255 one window larger than the free space
    components = {"format_version": 2, "method": "sample", "k": 255, "teachers": [{}],
                  "tokens": {"sha256": "0" * 64, "seq_len": 128, "windows": int(windows), "vocab_size": 16000}}
    with pytest.raises(CacheError, match=r"the teacher cache needs [\d,.]+ GiB more but [\d,.]+ GiB are free"):
        TeacherCacheWriter(tmp_path / "caches", components, {})
    assert not (tmp_path / "caches").exists()


# ---------------------------------------------------------------------- what we wrote is what we read (issue 24)


def tamper(directory: Path, name: str, dtype: str, change) -> None:
    """Apply ``change`` (an in-place function of a writable array) to the file ``name`` of ``directory``."""
    values = np.memmap(directory / name, dtype=dtype, mode="r+")
    change(values)
    values.flush()
    del values


def rewrite_checksums(directory: Path) -> None:
    """Make ``meta.json``'s checksums match the files again: what someone hiding a change would do."""
    import hashlib

    meta = json.loads((directory / "meta.json").read_text())
    for shard in meta["checksums"]["shards"]:
        assert shard["end"] == meta["windows"]  # one shard in a tiny cache
        shard["sha256"] = {name: hashlib.sha256((directory / name).read_bytes()).hexdigest()
                           for name in shard["sha256"]}
    (directory / "meta.json").write_text(json.dumps(meta))


def swap_ids(ids):  # a used slot's id for another valid id
    ids[0] = (int(ids[0]) + 1) % 300


CHANGES = {
    "ids swapped for other valid ids": ("ids.bin", "uint16", swap_ids,
                                        r"ids\.bin: windows 0–\d+ do not match the checksum"),
    "counts set to 255": ("probs.bin", "uint8", lambda a: a.__setitem__(slice(0, 6), 255),
                          r"probs\.bin: the draw counts of a position sum to 1530, not k = 6 \(window 0, position 0\)"),
    "counts set to 0": ("probs.bin", "uint8", lambda a: a.__setitem__(slice(0, 6), 0),
                        r"probs\.bin: the draw counts of a position sum to 0, not k = 6 \(window 0, position 0\)"),
    "neg-entropy NaN": ("neg_entropy.bin", "float32", lambda a: a.__setitem__(40, np.nan),
                        r"neg_entropy\.bin: the teacher term Σ p log p is nan, outside \[.*\] "
                        r"\(window 1, position 8\)"),
    "an out-of-range id": ("ids.bin", "uint16", lambda a: a.__setitem__(6 * 33, 65535),
                           r"ids\.bin: class id 65535 is not below the vocabulary size \d+ \(window 1, position 1\)"),
}


@pytest.mark.parametrize("change, hidden", [(change, False) for change in CHANGES] + [
    # (the ids swap only a checksum sees)
    (change, True) for change in CHANGES if change != "ids swapped for other valid ids"])
def test_a_cache_with_changed_bytes_is_refused_in_one_line(built, data, tmp_path, change, hidden):
    """Issue 24: each of these was used silently (rc 0, a KL of 149 or −7.4, nan, or a traceback at the first step);
    ``hidden``: with the checksums rewritten to match, the values themselves are refused."""
    name, dtype, edit, expected = CHANGES[change]
    copy = Path(shutil.copytree(built, tmp_path / built.name))
    tamper(copy, name, dtype, edit)
    if hidden:
        rewrite_checksums(copy)
    with pytest.raises(CacheError, match=expected) as caught:
        data.use_teacher_cache(copy)
    assert "\n" not in str(caught.value) and str(caught.value).endswith(
        f"remove the folder {copy} and rebuild it with python -m babylm cache-teachers -c <the fit config>")


def test_the_cache_as_written_opens_and_its_meta_records_a_checksum_per_shard(built, data):
    meta = json.loads((built / "meta.json").read_text())
    assert meta["format_version"] == 2 and meta["checksums"]["algorithm"] == "sha256"
    assert [s["end"] for s in meta["checksums"]["shards"]] == [meta["windows"]]
    assert len(data.use_teacher_cache(built)) == meta["windows"]


def test_value_limits_of_top_k_probabilities():
    from babylm.data.tokens.teacher_cache_integrity import ValueLimits

    limits = ValueLimits(vocab=10, method="topk", k=2, teachers=2)
    good = np.array([[[0.7, 0.2]]], dtype=np.float16)  # (1 window, 1 position, k = 2)
    assert limits.problem("probs.bin", good, 0) is None
    assert "sum to 1.2" in limits.problem("probs.bin", np.array([[[0.7, 0.5]]], dtype=np.float16), 0)
    assert "negative or not finite" in limits.problem("probs.bin", np.array([[[np.inf, 0.0]]], dtype=np.float16), 3)
    assert limits.problem("neg_entropy.bin", np.array([[0.69]], dtype=np.float32), 0) is None  # ≤ log 2: two teachers
    assert "outside" in limits.problem("neg_entropy.bin", np.array([[-2.5]], dtype=np.float32), 0)  # < −log 11


# ------------------------------------------------------------------ a resumed build trusts only what matches (issue 24)


@pytest.fixture(scope="module")
def stopped(data, tiny_teachers, tmp_path_factory) -> Path:
    """A build stopped after 3 batches (2 committed); returns its ``.partial`` folder (tests change copies)."""
    def stop(windows_written):
        if windows_written == 3 * BATCH:
            raise KeyboardInterrupt
    root = tmp_path_factory.mktemp("stopped")
    with pytest.raises(KeyboardInterrupt):
        build(data, tiny_teachers, root, on_batch=stop, commit_seconds=0.0)
    (partial,) = root.glob("*.partial")
    return partial


@pytest.fixture
def interrupted(stopped, tmp_path) -> Path:
    """A copy of :func:`stopped` of this test's own."""
    return Path(shutil.copytree(stopped, tmp_path / stopped.name))


def reopen(data, tiny_teachers, root: Path):
    from babylm.data.tokens.teacher_cache_writer import TeacherCacheWriter
    from babylm.training.teacher_cache import cache_components

    config = TeacherCacheConfig(dir=str(root), method="sample", k=6, seed=5)
    components = cache_components(data.train_window_layout(), [str(t) for t in tiny_teachers], 2.0, "token_mean",
                                  config)
    writer = TeacherCacheWriter(root, components, {"teacher_paths": [], "teacher_dtype": "float32",
                                                   "batch_size": BATCH})
    writer.close()
    return writer


@pytest.mark.parametrize("edit, kept, notice", [
    ({"windows_done": "abc"}, 2 * BATCH, None),
    ({"windows_done": 10_000}, 2 * BATCH, r"records 10000 windows done but the checksums written with them cover 32"),
    ({"shards": "x"}, 0, r"no list of shard checksums; building the cache from the start"),
])
def test_an_edited_progress_file_is_checked_against_the_files(interrupted, data, tiny_teachers, edit, kept, notice):
    """Issue 24: ``"abc"`` was a traceback, and a larger count a "finished" cache whose last windows were all zero."""
    progress = json.loads((interrupted / "progress.json").read_text())
    (interrupted / "progress.json").write_text(json.dumps({**progress, **edit}))
    writer = reopen(data, tiny_teachers, interrupted.parent)
    assert writer.windows_done == kept
    if notice:
        assert len(writer.notices) == 1 and re.search(notice, writer.notices[0])
    with pytest.raises(CacheError, match=rf"incomplete \({kept} of \d+ windows\)"):  # fit: one line, no traceback
        resolve_cache(data, [str(t) for t in tiny_teachers], 2.0, "token_mean",
                      TeacherCacheConfig(dir=str(interrupted.parent), method="sample", k=6, seed=5))


def test_committed_windows_changed_on_disk_are_built_again(interrupted, data, tiny_teachers):
    tamper(interrupted, "neg_entropy.bin", "float32", lambda a: a.__setitem__(3, -0.5))  # inside the committed windows
    writer = reopen(data, tiny_teachers, interrupted.parent)
    assert writer.windows_done == 0
    assert "windows 0–31 do not match the checksums recorded for them (edited or damaged); building the cache again " \
           "from window 0" in writer.notices[0]


def test_a_progress_file_claiming_every_window_resumes_to_the_cache_a_straight_build_writes(interrupted, built, data,
                                                                                         tiny_teachers, capsys):
    progress = json.loads((interrupted / "progress.json").read_text())
    (interrupted / "progress.json").write_text(
        json.dumps({**progress, "windows_done": data.train_window_layout()["windows"]}))
    resumed = build(data, tiny_teachers, interrupted.parent, commit_seconds=0.0)
    assert files(resumed) == files(built)  # no window left as zeros
    assert "continuing from window 32" in capsys.readouterr().err
