"""Fixtures for the evaluation tests: one tiny tokenizer and a tiny exported model per architecture."""

from __future__ import annotations

import pytest

from tests.evaluation.tiny_models import save_tiny_model, train_tiny_tokenizer

ARCHS = ("llama", "gpt2", "gptj")


@pytest.fixture(scope="session")
def tiny_tokenizer():
    """A byte-level BPE (~600 tokens) trained on the bundled sample pairs."""
    return train_tiny_tokenizer()


@pytest.fixture(scope="session")
def exported_models(tmp_path_factory, tiny_tokenizer) -> dict:
    """``{arch: model_dir}`` for llama, gpt2 and gptj: random tiny models saved like an export."""
    root = tmp_path_factory.mktemp("exported")
    dirs = {}
    for arch in ARCHS:
        save_tiny_model(root / arch, arch, tiny_tokenizer)
        dirs[arch] = root / arch
    return dirs


@pytest.fixture(scope="session")
def llama_dir(exported_models):
    """The tiny LLaMA model directory."""
    return exported_models["llama"]
