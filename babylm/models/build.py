"""Hugging Face causal-LM architectures (LLaMA, GPT-J, GPT-2) from one typed config.

``ModelConfig`` is what a YAML ``model.init_args.config`` block holds; :func:`build_model` turns it into a
randomly initialised ``LlamaForCausalLM`` / ``GPTJForCausalLM`` / ``GPT2LMHeadModel`` with SDPA attention
(GPT-J: eager, transformers has no SDPA kernel for it),
so exported weights load with ``AutoModelForCausalLM.from_pretrained``. The vocabulary size is not part of
the config: it comes from the tokenizer (linked from the DataModule), so it is typed once.

Reference sizes (vocab 16,000, context 128; counts from :func:`count_parameters`):
Llama-360M (24 layers, hidden 1024, 8 heads, FFN 3072), GPTJ-705M (24 layers, hidden 1536, 16 heads,
FFN 6144), Baby-Llama-58M (16 layers, hidden 512, 8 heads, FFN 1024). See docs/training.md for exact counts.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, Mapping, Optional

import torch

log = logging.getLogger(__name__)

Architecture = Literal["llama", "gptj", "gpt2"]


@dataclass
class ModelConfig:
    """Architecture of a causal LM (the vocabulary size comes from the tokenizer)."""

    arch: Architecture = "llama"
    """Model family: ``llama`` (RMSNorm, SwiGLU, rotary), ``gptj`` (parallel block, rotary) or ``gpt2``."""
    hidden_size: int = 512
    """Width of the residual stream (d_model)."""
    num_layers: int = 16
    """Number of transformer blocks."""
    num_heads: int = 8
    """Attention heads per layer; must divide ``hidden_size``."""
    intermediate_size: int = 1024
    """Feed-forward width (LLaMA ``intermediate_size``; GPT-J/GPT-2 ``n_inner``)."""
    max_position_embeddings: int = 128
    """Longest sequence the model accepts (the training context)."""
    num_key_value_heads: Optional[int] = None
    """LLaMA only: grouped-query attention heads (None = ``num_heads``)."""
    rotary_dim: Optional[int] = None
    """GPT-J only: rotary dimensions per head (None = 64, the GPT-J default, capped at the head size)."""
    dropout: float = 0.0
    """Dropout on residual, attention and embeddings (LLaMA supports attention dropout only)."""
    tie_word_embeddings: bool = False
    """Share input embedding and output projection weights."""
    initializer_range: float = 0.02
    """Std of the normal initialisation."""

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field when the sizes are inconsistent."""
        for name in ("hidden_size", "num_layers", "num_heads", "intermediate_size", "max_position_embeddings"):
            if getattr(self, name) <= 0:
                raise ValueError(f"model config: {name} must be positive, got {getattr(self, name)}")
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"model config: hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}"
            )


# ModelConfig fields that do not change the weights' shapes or meaning (a resumed run may change them)
TRAINING_ONLY_FIELDS = ("dropout", "initializer_range")


def model_differences(saved: Mapping[str, Any], config: ModelConfig | Mapping[str, Any],
                      vocab_size: Optional[int] = None, class_path: Optional[str] = None,
                      objective: Optional[str] = None) -> list[str]:
    """What makes the model saved in a checkpoint another model than ``config``: ``["arch gptj ≠ llama", …]``.

    ``saved`` is the checkpoint's ``hyper_parameters`` (``config`` as a dict, ``vocab_size``, and ``_class_path``
    when LightningCLI built the module); ``config``, ``vocab_size`` and ``class_path`` describe the run (None:
    not compared). Compared: the class, every :class:`ModelConfig` field but :data:`TRAINING_ONLY_FIELDS`
    (architecture and sizes), the vocabulary size and the ``objective`` (``hybrid`` adds a ``<mask>`` row; a
    checkpoint without one was ``causal``). Each entry reads ``<field> <checkpoint's> ≠ <run's>``;
    an empty list means the same model. A checkpoint without a model config gives ``["config (none saved)"]``.
    """
    saved_config = saved.get("config")
    if not isinstance(saved_config, Mapping):
        return ["config (none saved)"]
    run = asdict(config) if isinstance(config, ModelConfig) else dict(config)
    differences = []
    saved_class = saved.get("_class_path")
    if class_path is not None and saved_class is not None and saved_class != class_path:
        differences.append(f"model.class_path {saved_class} ≠ {class_path}")
    for field in fields(ModelConfig):
        if field.name in TRAINING_ONLY_FIELDS:
            continue
        before, now = saved_config.get(field.name, field.default), run.get(field.name, field.default)
        if before != now:
            differences.append(f"{field.name} {before} ≠ {now}")
    if vocab_size is not None and saved.get("vocab_size") is not None and int(saved["vocab_size"]) != int(vocab_size):
        differences.append(f"vocab_size {saved['vocab_size']} ≠ {vocab_size}")
    if objective is not None and saved.get("objective", "causal") != objective:
        differences.append(f"objective {saved.get('objective', 'causal')} ≠ {objective}")
    return differences


def hf_config(config: ModelConfig, vocab_size: int, bos_token_id: int = 1, eos_token_id: int = 2,
              pad_token_id: int = 0):
    """Return the transformers ``PretrainedConfig`` for ``config`` with ``vocab_size`` and special-token ids."""
    config.validate()
    special = dict(bos_token_id=bos_token_id, eos_token_id=eos_token_id, pad_token_id=pad_token_id)
    gpt_style = dict(  # GPT-J and GPT-2 share these field names
        vocab_size=vocab_size,
        n_embd=config.hidden_size,
        n_layer=config.num_layers,
        n_head=config.num_heads,
        n_inner=config.intermediate_size,
        n_positions=config.max_position_embeddings,
        resid_pdrop=config.dropout,
        embd_pdrop=config.dropout,
        attn_pdrop=config.dropout,
        tie_word_embeddings=config.tie_word_embeddings,
        initializer_range=config.initializer_range,
    )
    if config.arch == "llama":
        from transformers import LlamaConfig

        return LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=config.hidden_size,
            intermediate_size=config.intermediate_size,
            num_hidden_layers=config.num_layers,
            num_attention_heads=config.num_heads,
            num_key_value_heads=config.num_key_value_heads or config.num_heads,
            max_position_embeddings=config.max_position_embeddings,
            attention_dropout=config.dropout,
            tie_word_embeddings=config.tie_word_embeddings,
            initializer_range=config.initializer_range,
            **special,
        )
    if config.arch == "gptj":
        from transformers import GPTJConfig

        head_dim = config.hidden_size // config.num_heads
        return GPTJConfig(rotary_dim=min(config.rotary_dim or 64, head_dim), **gpt_style, **special)
    if config.arch == "gpt2":
        from transformers import GPT2Config

        return GPT2Config(**gpt_style, **special)
    raise ValueError(f"model config: arch must be one of llama, gptj, gpt2, got {config.arch!r}")


def attention_implementation(arch: Architecture) -> str:
    """Return the attention kernel used for ``arch``: SDPA, except ``eager`` for GPT-J.

    transformers (5.x) has no SDPA path for GPT-J and refuses ``attn_implementation="sdpa"`` for it.
    """
    return "eager" if arch == "gptj" else "sdpa"


def build_model(config: ModelConfig, vocab_size: int, bos_token_id: int = 1, eos_token_id: int = 2,
                pad_token_id: int = 0, mask_token: bool = False):
    """Build a randomly initialised HF causal LM (SDPA attention where available) for ``config``; returns the model.

    With ``mask_token`` (the hybrid objective, :mod:`babylm.training.hybrid`) the model has one embedding row more
    than the tokenizer, for ``<mask>`` at id ``vocab_size`` — after every existing id, so no id moves and the
    token files stay valid — and its config records ``mask_token_id`` (the export adds ``<mask>`` to the tokenizer
    from it, :func:`babylm.models.export.export_hf`).
    """
    from transformers import AutoModelForCausalLM

    hf = hf_config(config, vocab_size, bos_token_id, eos_token_id, pad_token_id)
    if mask_token:
        hf.vocab_size, hf.mask_token_id = vocab_size + 1, vocab_size
    model = AutoModelForCausalLM.from_config(hf, attn_implementation=attention_implementation(config.arch))
    counts = count_parameters(model)
    log.info(
        "built %s: %s parameters (%s without embeddings)",
        config.arch, f"{counts['total']:,}", f"{counts['non_embedding']:,}",
    )
    return model


def count_parameters(model: torch.nn.Module) -> dict[str, int]:
    """Return ``{"total", "embedding", "non_embedding"}`` parameter counts (tied weights counted once)."""
    unique = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in unique.values())
    embedding_ids = set()
    for module in model.modules():
        if isinstance(module, torch.nn.Embedding):
            embedding_ids.add(id(module.weight))
    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if output is not None:
        embedding_ids.add(id(output.weight))
    embedding = sum(unique[i].numel() for i in embedding_ids if i in unique)
    return {"total": total, "embedding": embedding, "non_embedding": total - embedding}
