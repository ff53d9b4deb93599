"""Fixtures and helpers for the distillation tests: a tiny tokenizer and tiny exported teachers.

Imported by ``test_teachers.py`` and ``test_distill.py`` (``tests/models/conftest.py`` belongs to the
teacher-training tests). Everything is built in ``tmp_path`` directories; nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from babylm.data.tokens.tokenizer import (
    load_tokenizer,
    save_hf_tokenizer,
    save_tokenizer,
    to_hf_tokenizer,
    train_tokenizer,
)
from babylm.data.tokens.tokenizer_files import add_mask_token
from babylm.models.build import ModelConfig, build_model

SUBJECTS = ["The abbey", "A bishop", "The river", "An old town", "The college", "A merchant", "The castle"]
VERBS = ["was founded", "stood", "was rebuilt", "grew", "was burned", "lay", "was granted a charter"]
PLACES = ["near the sea", "on the hill", "in the valley", "by the old road", "beside the cathedral"]
TIMES = ["in the 12th century", "after the war", "under Henry II", "in 1540", "during the reform"]


def tiny_corpus(lines: int = 400) -> list[str]:
    """Deterministic encyclopaedia-like sentences wrapped as ``<s> … </s>`` articles; returns the lines."""
    out = []
    for i in range(lines):
        sentence = (
            f"{SUBJECTS[i % 7]} {VERBS[(i * 3) % 7]} {PLACES[(i * 5) % 5]} {TIMES[(i * 2 + i // 5) % 5]}."
        )
        out.append(f"<s> {sentence} It is mentioned in chapter {i % 13}. </s>")
    return out


def write_tokenizer(directory: Path, vocab_size: int = 320) -> Path:
    """Train a tiny BPE on :func:`tiny_corpus`; write ``tokenizer-clean.json`` (+ HF dir); returns the JSON path."""
    tokenizer = train_tokenizer(texts=tiny_corpus(), vocab_size=vocab_size, min_frequency=1)
    json_path = directory / "tokenizer-clean.json"
    save_tokenizer(tokenizer, json_path, directory / "tokenizer")
    return json_path


TINY_SIZES = dict(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, max_position_embeddings=32)


def write_teacher(directory: Path, arch: str, tokenizer_json: Path | None, vocab_size: int, seed: int = 0,
                  mask_token: bool = False) -> Path:
    """Save a randomly initialised tiny ``arch`` model (+ the tokenizer's HF files) as an exported teacher dir;
    ``mask_token``: as a hybrid model's export (a ``<mask>`` row and token after the last id)."""
    import torch

    torch.manual_seed(seed)
    model = build_model(ModelConfig(arch=arch, **TINY_SIZES), vocab_size, mask_token=mask_token)
    model.save_pretrained(str(directory))
    if tokenizer_json is not None:
        tokenizer = to_hf_tokenizer(load_tokenizer(tokenizer_json))
        if mask_token:
            add_mask_token(tokenizer, vocab_size)
        save_hf_tokenizer(tokenizer, directory)
    return directory


@pytest.fixture(scope="module")
def tiny_tokenizer(tmp_path_factory) -> Path:
    """Path to a tiny ``tokenizer-clean.json`` (HF files in the sibling ``tokenizer/``)."""
    return write_tokenizer(tmp_path_factory.mktemp("tokenizer"))


@pytest.fixture(scope="module")
def tiny_vocab_size(tiny_tokenizer) -> int:
    """Vocabulary size of :func:`tiny_tokenizer`."""
    return load_tokenizer(tiny_tokenizer).get_vocab_size()


@pytest.fixture(scope="module")
def tiny_teachers(tmp_path_factory, tiny_tokenizer, tiny_vocab_size) -> list[Path]:
    """Two exported, randomly initialised tiny teachers sharing the tiny tokenizer: LLaMA and GPT-J."""
    root = tmp_path_factory.mktemp("teachers")
    return [
        write_teacher(root / "llama", "llama", tiny_tokenizer, tiny_vocab_size, seed=1),
        write_teacher(root / "gptj", "gptj", tiny_tokenizer, tiny_vocab_size, seed=2),
    ]


def write_encoded_splits(directory: Path, tokenizer_json: Path) -> Path:
    """Write ``corpus_split/{train,val}.txt`` from :func:`tiny_corpus` and encode them; returns the tokenized root."""
    from babylm.data.tokens.encode import encode_splits

    lines = tiny_corpus()
    split_dir = directory / "corpus_split"
    split_dir.mkdir(parents=True, exist_ok=True)
    (split_dir / "train.txt").write_text("\n".join(lines[:340]) + "\n", encoding="utf-8")
    (split_dir / "val.txt").write_text("\n".join(lines[340:]) + "\n", encoding="utf-8")
    root = directory / "tokenized"
    encode_splits(tokenizer_json, split_dir, root, log=lambda line: None)
    return root


@pytest.fixture(scope="module")
def tiny_tokenized(tmp_path_factory, tiny_tokenizer) -> Path:
    """Root of the tiny corpus encoded with :func:`tiny_tokenizer` (``<fingerprint>/{train,val}.bin``)."""
    return write_encoded_splits(tmp_path_factory.mktemp("data"), tiny_tokenizer)
