"""Frozen teachers for distillation: exported Hugging Face directories loaded for inference only.

Used by :class:`babylm.training.distill.DistillationStudent`; nothing to run on its own. Reads each teacher
directory written by ``python -m babylm export`` (``config.json``, ``model.safetensors``, ``tokenizer.json``)
through :func:`babylm.models.export.load_hf_model` (no custom code, no pickle) and the student's tokenizer file;
writes nothing.

Teachers are held in :class:`FrozenTeachers`, a plain Python container rather than an ``nn.Module``, on
purpose: the Lightning module's ``.train()``, ``.parameters()``, ``state_dict()``, DDP's parameter
broadcast and the precision plugin's module conversion never reach them. So they stay in eval mode, stay
out of the optimizer and out of student checkpoints, and each rank loads its own copy from disk and moves
it to its own device (:meth:`FrozenTeachers.place`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import torch

from babylm.core.safe_json import JsonError, read_json
from babylm.data.tokens.tokenizer import TokenizerError, tokenizer_fingerprint
from babylm.models.export import ExportError, export_manifest, load_hf_model

log = logging.getLogger(__name__)


class TeacherError(ValueError):
    """A teacher directory is missing, or its vocabulary or tokenizer differs from the student's."""


def load_teacher(path: str | os.PathLike, vocab_size: int, tokenizer_path: str | os.PathLike | None = None):
    """Load one exported teacher for inference; returns the frozen HF model (eval mode, no gradients).

    Takes the teacher directory, the student's ``vocab_size`` and, when given, the student's tokenizer
    (a ``tokenizers`` JSON file or an HF directory). Raises :class:`TeacherError`, naming both sides, when
    the directory or its ``config.json`` is missing, when the vocabulary sizes differ (a hybrid teacher's one
    extra ``<mask>`` row aside: its logits are read without it, :meth:`FrozenTeachers.logits`), or when the teacher
    directory's ``tokenizer.json`` is missing or is not the student's tokenizer; and, before the model is
    loaded, when the folder asks to run code (``auto_map``) or holds only pickle weights (see
    :func:`babylm.models.export.load_hf_model`). Never runs remote code.
    """

    directory = Path(path)
    if not (directory / "config.json").is_file():
        raise TeacherError(
            f"teacher {directory}: no exported model there (config.json missing); train the teacher and export "
            f"it first (python -m babylm fit … then python -m babylm export …)"
        )
    if tokenizer_path is not None:
        check_same_tokenizer(directory, tokenizer_path)
    try:
        model = load_hf_model(directory, what="teacher")
    except ExportError as error:
        raise TeacherError(str(error)) from error
    hybrid = getattr(model.config, "mask_token_id", None) == vocab_size == model.config.vocab_size - 1  # + <mask>
    if model.config.vocab_size != vocab_size and not hybrid:
        student = f" ({tokenizer_path})" if tokenizer_path is not None else ""
        raise TeacherError(
            f"teacher {directory} has a vocabulary of {model.config.vocab_size} tokens but the student's "
            f"tokenizer{student} has {vocab_size}; student and teachers must share one tokenizer"
        )
    model.eval()
    model.requires_grad_(False)
    log.info("teacher %s: %s, %s parameters", directory, model.config.model_type, f"{model.num_parameters():,}")
    return model


def check_same_tokenizer(teacher_dir: str | os.PathLike, tokenizer_path: str | os.PathLike) -> None:
    """Raise :class:`TeacherError` unless ``teacher_dir/tokenizer.json`` is the tokenizer at ``tokenizer_path``.

    Compares :func:`babylm.data.tokens.tokenizer.tokenizer_fingerprint` of both (vocabulary, merges, specials; the
    ``<mask>`` a hybrid teacher's export adds after the last id aside), and, for an export of ours, the fingerprint
    its manifest records for the weights; returns nothing.
    """

    teacher_file = Path(teacher_dir) / "tokenizer.json"
    if not teacher_file.is_file():
        raise TeacherError(
            f"teacher {teacher_dir}: no tokenizer.json beside the model, so it cannot be checked against the "
            f"student's tokenizer {tokenizer_path}; re-export the teacher with python -m babylm export"
        )
    try:
        student_print = tokenizer_fingerprint(tokenizer_path)
    except TokenizerError as error:
        raise TeacherError(f"student tokenizer: {error}") from error
    teacher_print = tokenizer_fingerprint(teacher_file, without_mask=True)  # a hybrid teacher's adds <mask>
    record = export_manifest(teacher_dir)  # an export of ours records the tokenizer its weights were trained with
    trained_with = record.get("tokenizer_fingerprint") if record else None
    if isinstance(trained_with, str) and trained_with != teacher_print:
        raise TeacherError(
            f"teacher {teacher_dir}: its tokenizer.json is tokenizer {teacher_print}, but its weights were trained "
            f"with tokenizer {trained_with} (.babylm-export.json); it was replaced after the export: re-export the "
            "teacher"
        )
    if teacher_print != student_print:
        raise TeacherError(
            f"teacher {teacher_dir} was trained with another tokenizer (fingerprint {teacher_print}) than the "
            f"student's {tokenizer_path} (fingerprint {student_print}); distil with the teachers' tokenizer"
        )


def teacher_positions(teacher_dir: str | os.PathLike) -> int | None:
    """The context length ``teacher_dir/config.json`` declares (``max_position_embeddings``, ``n_positions`` or
    ``n_ctx``), or None when it cannot be read (the teacher's own checks report that)."""
    try:
        record = read_json(Path(teacher_dir) / "config.json")
    except JsonError:
        return None
    for key in ("max_position_embeddings", "n_positions", "n_ctx"):
        value = record.get(key) if isinstance(record, dict) else None
        if type(value) is int and value > 0:
            return value
    return None


def check_teacher_context(teacher_dir: str | os.PathLike, seq_len: int | None) -> None:
    """Raise :class:`TeacherError` when the teacher has fewer positions than ``seq_len`` (the data's windows).

    Its logits past its context would come from rotary positions it never trained (LLaMA) or stop the run with an
    ``IndexError`` (GPT-J, GPT-2: their position tables end there). Returns nothing.
    """
    positions = teacher_positions(teacher_dir)
    if positions is not None and seq_len and positions < seq_len:
        raise TeacherError(
            f"teacher {teacher_dir} has {positions} positions but data.seq_len is {seq_len}: it cannot score "
            f"{seq_len}-token windows; train the teachers with --data.seq_len {seq_len} too, or lower data.seq_len"
        )


class FrozenTeachers:
    """One or more frozen teachers, kept outside the ``nn.Module`` tree of the student.

    Built from teacher directories (see :func:`load_teacher`); ``models`` holds the HF models in order.
    """

    def __init__(self, paths: Sequence[str | os.PathLike], vocab_size: int,
                 tokenizer_path: str | os.PathLike | None = None):
        """Load every teacher in ``paths`` (at least one) against the student's ``vocab_size`` and tokenizer."""
        if not paths:
            raise TeacherError("distillation needs at least one teacher directory (model.init_args.teachers)")
        self.paths = [str(p) for p in paths]
        self.vocab_size = vocab_size
        self.models = [load_teacher(p, vocab_size, tokenizer_path) for p in self.paths]

    def __len__(self) -> int:
        return len(self.models)

    def place(self, device: torch.device, dtype: torch.dtype = torch.float32) -> None:
        """Move every teacher to ``device`` and cast its parameters (not buffers) to ``dtype`` (no-op when there)."""
        for model in self.models:
            weight = next(model.parameters())
            if weight.device != device or weight.dtype != dtype:
                model.to(device=device)
                # cast parameters only: buffers such as LLaMA's rotary inv_freq and GPT-J's embed_positions
                # stay fp32, as under bf16-mixed training and HF's from_pretrained(dtype=bf16)
                for parameter in model.parameters():
                    parameter.data = parameter.data.to(dtype)
            model.eval()  # defensive: nothing in this package switches a teacher to train mode

    def logits(self, input_ids: torch.Tensor) -> list[torch.Tensor]:
        """Run every teacher on ``input_ids`` (B, T) under ``torch.inference_mode()``; returns K × (B, T, V).

        The returned tensors are inference tensors in the teachers' dtype: they can be read anywhere but not
        saved for backward, which the distillation losses never do (they take their gradient in the forward
        pass, :mod:`babylm.models.chunked_loss`), so no copy of the largest tensors of the step is made.
        """
        with torch.inference_mode():  # a hybrid teacher's <mask> class (id V, never a target) is left out
            return [model(input_ids=input_ids, use_cache=False).logits[..., : self.vocab_size]
                    for model in self.models]  # K × (B, T, V)

    def parameter_count(self) -> int:
        """Total parameters over all teachers."""
        return sum(model.num_parameters() for model in self.models)
