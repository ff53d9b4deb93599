"""Tiny, randomly initialised exported models for the evaluation and generation tests.

A model directory here looks like an export (``config.json``, ``model.safetensors``,
``generation_config.json``, ``tokenizer.json``, ``tokenizer_config.json``) but is built directly with
``build_model`` + ``save_pretrained``, so these tests do not depend on the training code.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from babylm.data.tokens.tokenizer import load_hf_tokenizer, save_hf_tokenizer, to_hf_tokenizer, train_tokenizer
from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR
from babylm.models.build import ModelConfig, build_model
from babylm.training.causal_lm import CausalLM  # imported at collection: Lightning's log handler binds the real stderr

EXTRA_TEXT = [
    "The city of Bruges was a great centre of the wool trade in the middle ages.",
    "Brewing is the preparation of beer from malt and hops, an art known to the ancients.",
    "Who should the bishop praise after visiting the cathedral?",
]


def train_tiny_tokenizer(vocab_size: int = 600):
    """Train a byte-level BPE on the bundled sample pairs plus a few sentences; returns the Tokenizer."""
    texts = list(EXTRA_TEXT)
    for path in sorted(SAMPLE_BLIMP_DIR.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            texts += [record["sentence_good"], record["sentence_bad"]]
    return train_tokenizer(texts=texts, vocab_size=vocab_size, min_frequency=2)


def tiny_config(arch: str, **overrides) -> ModelConfig:
    """Return a 2-layer, 32-wide config of ``arch``; a large init range gives clearly non-uniform outputs."""
    values = dict(arch=arch, hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64,
                  max_position_embeddings=128, initializer_range=0.2)
    values.update(overrides)
    return ModelConfig(**values)


def save_tiny_model(out_dir: Path, arch: str, tokenizer, seed: int = 0, **overrides):
    """Build a random tiny ``arch`` model, save it with the HF tokenizer into ``out_dir``; returns the model."""
    torch.manual_seed(seed)
    model = build_model(tiny_config(arch, **overrides), tokenizer.get_vocab_size())
    model.save_pretrained(str(out_dir))
    save_hf_tokenizer(to_hf_tokenizer(tokenizer), out_dir)
    return model


def tiny_checkpoint(path: Path, tokenizer_path: Path, arch: str = "llama", objective: str = "causal") -> Path:
    """Write a Lightning-style checkpoint of an untrained tiny CausalLM (``state_dict`` + hyper-parameters) at ``path``.

    Enough for ``python -m babylm export`` (which reads only those two entries); returns ``path``. ``objective``
    ``hybrid`` gives the model its ``<mask>`` row (and the export its ``<mask>`` token).
    """
    vocab = len(load_hf_tokenizer(tokenizer_path))
    module = CausalLM(tiny_config(arch), vocab_size=vocab, tokenizer_path=str(tokenizer_path), objective=objective)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, path)
    return path
