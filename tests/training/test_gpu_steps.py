"""What a GPU makes real: bf16-mixed training steps, bf16 teachers under an fp32 loss, the cached step.

Every test here is marked ``gpu`` and skipped without a CUDA device; ``benchmarks/gpu_suite.py`` runs them
(``pytest -m gpu``) on a lent GPU. Tiny models over the tiny corpus of ``distill_fixtures.py``; each GPU result is
compared with the same computation in fp32, so a wrong cast or a lost precision shows as a difference.
"""

from __future__ import annotations

import lightning as L
import pytest
import torch

from babylm.data.tokens.datamodule import TokenizedDataModule
from babylm.data.tokens.teacher_cache import TeacherCacheReader
from babylm.data.tokens.tokenizer import load_tokenizer, save_hf_tokenizer, to_hf_tokenizer
from babylm.models.build import ModelConfig, build_model
from babylm.models.losses import distillation_loss
from babylm.training.causal_lm import CausalLM
from babylm.training.distill import DistillationStudent
from babylm.training.teacher_cache import TeacherCacheConfig, build_teacher_cache
from tests.training.distill_fixtures import (  # noqa: F401
    TINY_SIZES,
    tiny_teachers,
    tiny_tokenized,
    tiny_tokenizer,
    tiny_vocab_size,
)

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
SEQ_LEN = 16


@pytest.fixture()
def data(tiny_tokenizer, tiny_tokenized):
    """Batches of 4 windows of 16 tokens, loaded in the main process."""
    return TokenizedDataModule(tokenizer_path=str(tiny_tokenizer), tokenized_dir=str(tiny_tokenized), seq_len=SEQ_LEN,
                               batch_size=4, eval_samples=8, num_workers=0)


def batch_of(data) -> dict:
    data.setup("fit")
    return {k: v.cuda() for k, v in next(iter(data.train_dataloader())).items()}


def gpu_trainer(tmp_path, **settings) -> L.Trainer:
    defaults = dict(accelerator="gpu", devices=1, precision="bf16-mixed", logger=False, enable_progress_bar=False,
                    enable_model_summary=False, enable_checkpointing=False, limit_val_batches=0,
                    default_root_dir=str(tmp_path))
    return L.Trainer(**{**defaults, **settings})


def weights(module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.model.state_dict().items()}


@pytest.mark.parametrize("arch", ["llama", "gptj"])
def test_bf16_mixed_teacher_step_on_the_gpu_is_the_fp32_step_within_bf16_rounding(arch, tmp_path, data,
                                                                                   tiny_vocab_size):
    L.seed_everything(0, verbose=False)
    module = CausalLM(ModelConfig(arch=arch, **TINY_SIZES), vocab_size=tiny_vocab_size, warmup_steps=1,
                      schedule_steps=3).cuda()
    batch = batch_of(data)
    with torch.no_grad():
        fp32 = module.compute_loss(batch, "train")["loss"]
        with torch.autocast("cuda", dtype=torch.bfloat16):
            bf16 = module.compute_loss(batch, "train")["loss"]
    before = weights(module)

    gpu_trainer(tmp_path, max_steps=3).fit(module, data)

    assert bf16.dtype == torch.float32  # the loss is computed in fp32 from bf16 logits
    torch.testing.assert_close(bf16, fp32, rtol=2e-2, atol=0)
    after = module.model.state_dict()
    assert all(v.dtype == torch.float32 and v.device.type == "cuda" for v in after.values() if v.is_floating_point())
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the optimizer stepped the fp32 master weights
    assert all(torch.isfinite(v).all() for v in after.values() if v.is_floating_point())


def student(tiny_teachers, tiny_tokenizer, tiny_vocab_size, **overrides) -> DistillationStudent:
    L.seed_everything(0, verbose=False)
    settings = dict(teachers=[str(p) for p in tiny_teachers], vocab_size=tiny_vocab_size,
                    tokenizer_path=str(tiny_tokenizer), config=ModelConfig(arch="llama", **TINY_SIZES),
                    learning_rate=1e-2, warmup_steps=1, schedule_steps=4)
    return DistillationStudent(**{**settings, **overrides})


@pytest.fixture(scope="module")
def sharp_teachers(tmp_path_factory, tiny_tokenizer, tiny_vocab_size) -> list[str]:
    """Two tiny teachers with a wide initialisation: clearly peaked outputs, so the KL is far from 0 (the fixtures'
    teachers are nearly uniform, and a KL of 0.003 says nothing about bf16 rounding)."""
    root = tmp_path_factory.mktemp("sharp")
    dirs = []
    for seed, arch in enumerate(("llama", "gptj")):
        torch.manual_seed(seed)
        model = build_model(ModelConfig(arch=arch, **TINY_SIZES, initializer_range=0.3), tiny_vocab_size)
        model.save_pretrained(str(root / arch))
        save_hf_tokenizer(to_hf_tokenizer(load_tokenizer(tiny_tokenizer)), root / arch)
        dirs.append(str(root / arch))
    return dirs


def test_bf16_teachers_under_an_fp32_student_loss_match_fp32_teachers(sharp_teachers, tiny_tokenizer, tiny_vocab_size,
                                                                       data):
    module = student(sharp_teachers, tiny_tokenizer, tiny_vocab_size).cuda()
    ids = batch_of(data)["input_ids"]  # (B, T)
    settings = dict(alpha=0.5, temperature=2.0, reduction="token_mean")
    module.teachers.place(ids.device, torch.float32)
    teachers32 = module.teachers.logits(ids)  # K × (B, T, V)
    module.teachers.place(ids.device, torch.bfloat16)  # what a bf16-mixed run places
    teachers16 = module.teachers.logits(ids)
    with torch.no_grad():
        reference = distillation_loss(module(ids), teachers32, ids, **settings)
        mixed = distillation_loss(module(ids), teachers16, ids, **settings)  # fp32 student, bf16 teachers
    with torch.autocast("cuda", dtype=torch.bfloat16):
        autocast = distillation_loss(module(ids), teachers16, ids, **settings)  # what a bf16-mixed step computes
    autocast.loss.backward()

    assert all(t.dtype == torch.bfloat16 and t.device.type == "cuda" for t in teachers16)
    assert reference.kl > 0.1  # peaked teachers: a KL that rounding could visibly move
    for parts in (mixed, autocast):
        for name in ("loss", "ce", "kl"):
            value, expected = getattr(parts, name), getattr(reference, name)
            assert value.dtype == torch.float32
            torch.testing.assert_close(value.detach(), expected, rtol=3e-2, atol=1e-4)
    torch.testing.assert_close(mixed.ce, reference.ce)  # the teachers' precision does not touch the CE
    grads = [p.grad for p in module.model.parameters()]
    assert all(g is not None and g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)


def test_bf16_mixed_online_distillation_steps_on_the_gpu(tmp_path, tiny_teachers, tiny_tokenizer, tiny_vocab_size,
                                                          data):
    module = student(tiny_teachers, tiny_tokenizer, tiny_vocab_size)
    before = weights(module)
    fit = gpu_trainer(tmp_path, max_steps=3)

    fit.fit(module, data)

    logged = {k: float(v) for k, v in fit.callback_metrics.items() if k.startswith("train/")}
    assert all(torch.isfinite(torch.tensor(logged[k])) for k in ("train/loss", "train/ce", "train/kl"))
    assert logged["train/kl"] > 0
    assert any(not torch.equal(before[k], v.cpu()) for k, v in module.model.state_dict().items())


def read_cache(directory) -> dict[str, torch.Tensor]:
    reader = TeacherCacheReader(directory)
    entries = [reader[w] for w in range(len(reader))]
    return {name: torch.stack([e[name] for e in entries]) for name in entries[0]}


def test_teacher_cache_built_on_the_gpu_matches_the_cpu_build_and_trains_the_student(
        tmp_path, tiny_teachers, tiny_tokenizer, tiny_vocab_size, data):
    teachers = [str(p) for p in tiny_teachers]
    builds = {}
    for device in ("cpu", "cuda"):  # fp32 both: the same target up to the devices' rounding
        config = TeacherCacheConfig(dir=str(tmp_path / device), method="sample", k=12)
        builds[device] = read_cache(build_teacher_cache(data, teachers, 2.0, "token_mean", config, device=device,
                                                        dtype=torch.float32, batch_size=8, progress=False))
    cpu, gpu = builds["cpu"], builds["cuda"]
    torch.testing.assert_close(gpu["teacher_neg_entropy"], cpu["teacher_neg_entropy"], rtol=1e-4, atol=1e-5)
    same_draws = (gpu["teacher_ids"] == cpu["teacher_ids"]).float().mean().item()
    assert same_draws > 0.99  # the same uniforms; only a draw on a CDF boundary may move

    bf16_cache = TeacherCacheConfig(dir=str(tmp_path / "bf16"), method="sample", k=12)
    build_teacher_cache(data, teachers, 2.0, "token_mean", bf16_cache, device="cuda", dtype=torch.bfloat16,
                        batch_size=8, progress=False)
    module = student(tiny_teachers, tiny_tokenizer, tiny_vocab_size, cache=bf16_cache)
    before = weights(module)
    fit = gpu_trainer(tmp_path / "run", max_steps=3)
    fit.fit(module, data)

    assert module.teachers is None  # no teacher was loaded: the targets came from the cache
    assert all(torch.isfinite(torch.tensor(float(fit.callback_metrics[k]))) for k in ("train/loss", "train/kl"))
    assert any(not torch.equal(before[k], v.cpu()) for k, v in module.model.state_dict().items())
