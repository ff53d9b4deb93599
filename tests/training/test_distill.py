"""DistillationStudent under a real Lightning Trainer: frozen teachers, student-only checkpoints, resume.

The CLI-level tests (2-process DDP, the tiny end-to-end recipe) are in ``test_distill_cli.py``.
"""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from babylm.data.tokens.datamodule import TokenizedDataModule
from babylm.models.build import ModelConfig
from babylm.models.losses import causal_lm_loss
from babylm.training.causal_lm import CausalLM, TrainingConfigError
from babylm.training.distill import DistillationStudent
from babylm.training.teachers import TeacherError
from tests.training.distill_fixtures import (  # noqa: F401
    TINY_SIZES,
    tiny_teachers,
    tiny_tokenized,
    tiny_tokenizer,
    tiny_vocab_size,
    write_teacher,
    write_tokenizer,
)

SEQ_LEN = 16


@pytest.fixture()
def make_student(tiny_teachers, tiny_tokenizer, tiny_vocab_size):
    """Build a tiny LLaMA student over the two tiny teachers (seeded, so two calls give the same weights)."""

    def make(**overrides) -> DistillationStudent:
        L.seed_everything(0, verbose=False)
        settings = dict(
            teachers=[str(p) for p in tiny_teachers],
            vocab_size=tiny_vocab_size,
            tokenizer_path=str(tiny_tokenizer),
            config=ModelConfig(arch="llama", **TINY_SIZES),
            learning_rate=1e-2,
            warmup_steps=1,
            schedule_steps=4,
        )
        return DistillationStudent(**{**settings, **overrides})

    return make


@pytest.fixture()
def data(tiny_tokenizer, tiny_tokenized):
    """Batches of 4 windows of 16 tokens from the tiny corpus, loaded in the main process."""
    return TokenizedDataModule(
        tokenizer_path=str(tiny_tokenizer), tokenized_dir=str(tiny_tokenized), seq_len=SEQ_LEN,
        batch_size=4, eval_samples=8, num_workers=0,
    )


def trainer(tmp_path, **settings) -> L.Trainer:
    """A quiet CPU Trainer writing under ``tmp_path``."""
    defaults = dict(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                    enable_model_summary=False, enable_checkpointing=False, default_root_dir=str(tmp_path))
    return L.Trainer(**{**defaults, **settings})


def student_weights(module: CausalLM) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.model.state_dict().items()}


class ModeRecorder(L.Callback):
    """Records (where, student.training, [teacher.training…]) around every training batch and validation."""

    def __init__(self):
        self.seen = []

    def _record(self, where, module):
        self.seen.append((where, module.training, [t.training for t in module.teachers.models]))

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self._record("train", module)

    def on_validation_end(self, trainer, module):
        self._record("validation", module)


def test_training_moves_the_student_and_leaves_teachers_bit_identical_and_in_eval_mode(tmp_path, make_student, data):
    student = make_student()
    teachers_before = [{k: v.clone() for k, v in t.state_dict().items()} for t in student.teachers.models]
    student_before = student_weights(student)
    recorder = ModeRecorder()

    trainer(tmp_path, max_steps=4, val_check_interval=2, limit_val_batches=1, callbacks=[recorder]).fit(student, data)

    for model, before in zip(student.teachers.models, teachers_before):
        after = model.state_dict()
        assert all(torch.equal(before[k], after[k]) for k in before)
    assert any(not torch.equal(student_before[k], v) for k, v in student.model.state_dict().items())
    assert [w for w, _, _ in recorder.seen].count("validation") >= 2
    assert all(student_mode == (where == "train") for where, student_mode, _ in recorder.seen[1:])
    assert all(modes == [False, False] for _, _, modes in recorder.seen)


def test_gradients_and_optimizer_reach_only_the_student(tmp_path, make_student, data):
    student = make_student()
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))

    student.compute_loss(batch, "train")["loss"].backward()

    assert all(p.grad is not None for p in student.model.parameters())
    assert all(p.grad is None and not p.requires_grad for t in student.teachers.models for p in t.parameters())
    fit = trainer(tmp_path, max_steps=1)
    fit.fit(student, data)
    optimized = {id(p) for group in fit.optimizers[0].param_groups for p in group["params"]}
    assert optimized == {id(p) for p in student.model.parameters()}


def test_training_logs_ce_kl_and_mix_and_validation_scores_the_student_alone(tmp_path, make_student, data):
    student = make_student(alpha=0.25, temperature=2.0)
    fit = trainer(tmp_path, max_steps=1, limit_val_batches=2)
    fit.fit(student, data)
    train = {k: float(v) for k, v in fit.callback_metrics.items() if k.startswith("train/")}

    assert train["train/loss"] == pytest.approx(0.25 * train["train/ce"] + 0.75 * 4.0 * train["train/kl"], rel=1e-4)
    assert train["train/kl"] > 0

    validated = fit.validate(student, data, verbose=False)[0]
    batch = next(iter(data.val_dataloader()))
    with torch.no_grad():
        first_batch_ce = causal_lm_loss(student(batch["input_ids"]), batch["input_ids"]).item()
    assert set(validated) == {"val/loss", "val/ppl"}  # no teacher terms: the student alone
    assert validated["val/ppl"] == pytest.approx(torch.exp(torch.tensor(validated["val/loss"])).item(), rel=1e-5)
    assert validated["val/loss"] == pytest.approx(first_batch_ce, rel=0.2)  # 2 batches; the first is one of them


def test_a_hybrid_student_with_masked_windows_mntp_distils_on_its_causal_windows_only_and_takes_a_hybrid_teacher(
        tmp_path, make_student, data, tiny_teachers, tiny_tokenizer, tiny_vocab_size):
    hybrid_teacher = write_teacher(tmp_path / "hybrid", "llama", tiny_tokenizer, tiny_vocab_size, seed=3,
                                   mask_token=True)
    student = make_student(teachers=[str(tiny_teachers[0]), str(hybrid_teacher)], objective="hybrid",
                           hybrid={"masked_share": 0.5}, masked_windows="mntp")  # 2 of each step's 4 windows masked
    assert [t.config.vocab_size for t in student.teachers.models] == [tiny_vocab_size, tiny_vocab_size + 1]
    assert student.model.config.vocab_size == tiny_vocab_size + 1  # the student's own <mask> row
    seen = []
    for teacher in student.teachers.models:
        teacher.register_forward_hook(lambda module, args, kwargs, out: seen.append(tuple(out.logits.shape)),
                                      with_kwargs=True)
    fit = trainer(tmp_path, max_steps=1, limit_val_batches=0)
    fit.fit(student, data)
    train = {k: float(v) for k, v in fit.callback_metrics.items() if k.startswith("train/")}

    # the teachers ran on the 2 causal windows only; the hybrid one's <mask> class is left out of the KL
    assert seen == [(2, SEQ_LEN, tiny_vocab_size), (2, SEQ_LEN, tiny_vocab_size + 1)]
    distilled = 0.5 * train["train/ce"] + 0.5 * 4.0 * train["train/kl"]  # alpha 0.5, T = 2 on the causal windows
    assert train["train/loss"] == pytest.approx((train["train/mntp"] + distilled) / 2, rel=1e-4)  # MNTP alone


def test_a_hybrid_student_takes_teacher_targets_on_the_masked_tokens_by_default(
        tmp_path, make_student, data, tiny_vocab_size):
    student = make_student(objective="hybrid", hybrid={"masked_share": 0.5})  # masked_windows: distill
    seen = []
    for teacher in student.teachers.models:
        teacher.register_forward_hook(lambda module, args, kwargs, out: seen.append(kwargs["input_ids"].clone()),
                                      with_kwargs=True)
    fit = trainer(tmp_path, max_steps=1, limit_val_batches=0)
    fit.fit(student, data)
    train = {k: float(v) for k, v in fit.callback_metrics.items() if k.startswith("train/")}

    # each teacher ran on the 2 masked windows — unmasked: no <mask> id reaches a teacher — and on the 2 causal ones
    assert [tuple(ids.shape) for ids in seen] == [(2, SEQ_LEN)] * 4
    assert all(int(ids.max()) < tiny_vocab_size for ids in seen)
    masked = 0.5 * train["train/mntp"] + 0.5 * 4.0 * train["train/mntp_kl"]  # alpha 0.5, T = 2 on the masked tokens
    causal = 0.5 * train["train/ce"] + 0.5 * 4.0 * train["train/kl"]
    assert train["train/mntp_kl"] > 0
    assert train["train/loss"] == pytest.approx((masked + causal) / 2, rel=1e-4)
    # the ledger counts the teachers' reading of every window, not of the causal half only
    assert student.teacher_forward_words(100.0, 1e6) == pytest.approx(200.0)


def test_masked_windows_distill_with_legacy_batch_sum_is_refused_and_is_ignored_without_the_hybrid_objective(
        make_student):
    with pytest.raises(TrainingConfigError, match="needs reduction token_mean or ensemble_mean, got legacy_batch_sum"):
        make_student(objective="hybrid", hybrid={"masked_share": 0.5}, reduction="legacy_batch_sum")
    assert make_student(reduction="legacy_batch_sum").masked_parts == ("mntp", "mntp_kl")  # a causal student: unused
    assert make_student(objective="hybrid", hybrid={"masked_share": 0.5}, reduction="legacy_batch_sum",
                        masked_windows="mntp").masked_parts == ("mntp",)


def test_teachers_run_in_bf16_when_training_in_bf16(tmp_path, make_student, data):
    student = make_student()

    trainer(tmp_path, max_steps=1, precision="bf16-mixed", limit_val_batches=0).fit(student, data)

    assert all(next(t.parameters()).dtype == torch.bfloat16 for t in student.teachers.models)
    assert next(student.model.parameters()).dtype == torch.float32


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_teachers_follow_the_student_onto_the_gpu_in_bf16(tmp_path, make_student, data):
    student = make_student()

    trainer(tmp_path, accelerator="gpu", max_steps=2, precision="bf16-mixed", limit_val_batches=0).fit(student, data)

    for teacher in student.teachers.models:
        weight = next(teacher.parameters())
        assert weight.device.type == "cuda" and weight.dtype == torch.bfloat16 and not teacher.training


def test_checkpoint_holds_the_student_only_and_resume_matches_an_uninterrupted_run(tmp_path, make_student, data):
    every_two_steps = ModelCheckpoint(dirpath=tmp_path, filename="step{step}", auto_insert_metric_name=False,
                                      every_n_train_steps=2, save_top_k=-1)
    uninterrupted = make_student()
    trainer(tmp_path, max_steps=4, limit_val_batches=0, enable_checkpointing=True,
            callbacks=[every_two_steps]).fit(uninterrupted, data)
    ckpt = tmp_path / "step2.ckpt"

    saved = torch.load(ckpt, map_location="cpu", weights_only=True)
    student_bytes = sum(p.numel() * p.element_size() for p in uninterrupted.model.parameters())
    teacher_bytes = sum(p.numel() * p.element_size() for t in uninterrupted.teachers.models for p in t.parameters())
    assert all(key.startswith("model.") for key in saved["state_dict"])
    assert sum(v.numel() * v.element_size() for v in saved["state_dict"].values()) == student_bytes
    # weights + two AdamW moments + bookkeeping; a teacher's weights would not fit in the slack
    assert ckpt.stat().st_size < 3 * student_bytes + min(teacher_bytes, 64_000)

    resumed = make_student()
    trainer(tmp_path / "resumed", max_steps=4, limit_val_batches=0).fit(resumed, data, ckpt_path=str(ckpt))

    assert resumed.trainer.global_step == 4
    for key, value in student_weights(uninterrupted).items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value)


def test_a_compiled_student_trains_as_the_eager_one_with_the_same_parameter_names(tmp_path, make_student, data):
    eager, compiled = make_student(), make_student(compile_backend="aot_eager")  # inductor: the same, slower to build

    for module in (eager, compiled):
        trainer(tmp_path, max_steps=2, limit_val_batches=0).fit(module, data)

    # nn.Module.compile
    assert compiled.model._compiled_call_impl is not None and eager.model._compiled_call_impl is None
    assert compiled.model.state_dict().keys() == eager.model.state_dict().keys()  # checkpoints and exports unchanged
    for key, value in student_weights(eager).items():
        torch.testing.assert_close(compiled.model.state_dict()[key], value, rtol=1e-4, atol=1e-6)


def test_teacher_with_another_tokenizer_fails_at_start_up_naming_both(tmp_path, make_student, tiny_teachers,
                                                                      tiny_vocab_size):
    other_tokenizer = write_tokenizer(tmp_path, vocab_size=300)
    stranger = write_teacher(tmp_path / "stranger", "gpt2", other_tokenizer, tiny_vocab_size)

    with pytest.raises(TeacherError) as error:
        make_student(teachers=[str(tiny_teachers[0]), str(stranger)])
    assert "stranger" in str(error.value) and "tokenizer-clean.json" in str(error.value)


def test_bad_distillation_settings_fail_at_start_up(make_student):
    with pytest.raises(ValueError, match="temperature"):
        make_student(temperature=-1.0)


def test_reference_student_config_has_the_reference_sizes_and_settings():
    from pathlib import Path

    from babylm.commands.fit import build_parser
    from babylm.models.build import build_model, count_parameters

    config = Path(__file__).resolve().parents[2] / "configs" / "distill.yaml"
    cfg = build_parser().parse_args(["-c", str(config)])
    init = cfg.model.init_args
    assert cfg.model.class_path == "babylm.training.distill.DistillationStudent"
    assert list(init.teachers) == ["checkpoints/Llama-360M", "checkpoints/GPTJ-705M"]
    assert (init.alpha, init.temperature, init.reduction) == (0.5, 2.0, "token_mean")
    assert (cfg.data.batch_size, cfg.data.seq_len, cfg.trainer.max_epochs) == (32, 128, 6)
    assert (init.learning_rate, init.warmup_steps, cfg.trainer.precision) == (2.5e-4, 200, "bf16-mixed")
    assert init.export_dir == "checkpoints/Baby-Llama-58M"
    with torch.device("meta"):  # sizes only
        student = build_model(ModelConfig(**vars(init.config)), vocab_size=16_000)
    assert count_parameters(student)["total"] == 58_343_936  # Baby-Llama-58M
