"""Frozen teachers: loading exported directories, start-up checks that name both sides, inference only."""

from __future__ import annotations

import pytest
import torch

from babylm.models.losses import distillation_loss
from babylm.training.teachers import FrozenTeachers, TeacherError, load_teacher
from tests.training.distill_fixtures import (  # noqa: F401
    tiny_teachers,
    tiny_tokenizer,
    tiny_vocab_size,
    write_teacher,
    write_tokenizer,
)


def test_teachers_load_frozen_in_eval_mode(tiny_teachers, tiny_tokenizer, tiny_vocab_size):
    teachers = FrozenTeachers(tiny_teachers, tiny_vocab_size, tiny_tokenizer)

    assert [type(m).__name__ for m in teachers.models] == ["LlamaForCausalLM", "GPTJForCausalLM"]
    for model in teachers.models:
        assert not model.training
        assert not any(p.requires_grad for p in model.parameters())


def test_teacher_logits_carry_no_graph_and_can_enter_the_distillation_loss(tiny_teachers, tiny_tokenizer,
                                                                           tiny_vocab_size):
    teachers = FrozenTeachers(tiny_teachers, tiny_vocab_size, tiny_tokenizer)
    input_ids = torch.randint(0, tiny_vocab_size, (2, 8))

    logits = teachers.logits(input_ids)

    assert [tuple(x.shape) for x in logits] == [(2, 8, tiny_vocab_size)] * 2
    assert all(not x.requires_grad for x in logits)  # inference tensors: no copy of the step's largest tensors
    student = torch.randn(2, 8, tiny_vocab_size, requires_grad=True)
    distillation_loss(student, logits, input_ids).loss.backward()
    assert student.grad is not None and student.grad.abs().sum() > 0


def test_place_casts_to_bf16(tiny_teachers, tiny_vocab_size):
    teachers = FrozenTeachers(tiny_teachers[:1], tiny_vocab_size)
    teachers.place(torch.device("cpu"), torch.bfloat16)

    assert next(teachers.models[0].parameters()).dtype == torch.bfloat16
    assert teachers.logits(torch.randint(0, tiny_vocab_size, (1, 4)))[0].dtype == torch.bfloat16
    # rotary frequencies stay fp32, as under bf16-mixed training: bf16 angles drift by ~0.1 rad at position 127
    buffers = dict(teachers.models[0].named_buffers())
    assert buffers and all(b.dtype == torch.float32 for name, b in buffers.items() if "inv_freq" in name)


def test_missing_teacher_directory_is_a_clear_error(tmp_path, tiny_vocab_size):
    with pytest.raises(TeacherError, match=r"teacher .*Llama-360M: no exported model there .*export"):
        load_teacher(tmp_path / "Llama-360M", tiny_vocab_size)


def test_vocabulary_mismatch_names_teacher_and_student(tmp_path, tiny_tokenizer, tiny_vocab_size):
    teacher = write_teacher(tmp_path / "big-vocab", "gpt2", None, tiny_vocab_size + 7)

    with pytest.raises(TeacherError) as error:
        load_teacher(teacher, tiny_vocab_size)
    message = str(error.value)
    assert "big-vocab" in message and str(tiny_vocab_size + 7) in message and str(tiny_vocab_size) in message


def test_tokenizer_mismatch_names_both_tokenizers(tmp_path, tiny_teachers, tiny_vocab_size):
    other = write_tokenizer(tmp_path, vocab_size=300)

    with pytest.raises(TeacherError) as error:
        load_teacher(tiny_teachers[0], tiny_vocab_size, other)
    message = str(error.value)
    assert str(tiny_teachers[0]) in message and str(other) in message and "another tokenizer" in message


def test_teacher_without_tokenizer_cannot_be_checked(tmp_path, tiny_tokenizer, tiny_vocab_size):
    teacher = write_teacher(tmp_path / "bare", "llama", None, tiny_vocab_size)

    with pytest.raises(TeacherError, match="no tokenizer.json"):
        load_teacher(teacher, tiny_vocab_size, tiny_tokenizer)


def test_no_teachers_is_an_error(tiny_vocab_size):
    with pytest.raises(TeacherError, match="at least one teacher"):
        FrozenTeachers([], tiny_vocab_size)
