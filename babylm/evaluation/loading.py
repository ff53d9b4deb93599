"""Load an exported model directory (ours, or any Hugging Face causal LM saved locally) for scoring.

Used by BLiMP scoring, perplexity and generation. Reads ``config.json`` + weights (safetensors) and the
tokenizer files in the directory; never runs remote code; always loads fp32 weights (scores are fp32).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from babylm.evaluation import EvaluationError


def resolve_device(name: str = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` into a ``torch.device``; ``auto`` prefers CUDA."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise EvaluationError(f"--device {name!r} is not a device name; use auto, cpu or cuda") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EvaluationError(f"--device {name}: CUDA is not available here; use --device cpu")
    return device


def load_exported(model_dir: str | os.PathLike, device: str | torch.device = "cpu"):
    """Load the causal LM and tokenizer saved in ``model_dir``; returns ``(model, tokenizer)``.

    The model is fp32, in eval mode, on ``device``; the tokenizer is a transformers tokenizer. Raises
    :class:`EvaluationError` when the directory holds no model or no tokenizer.
    """
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    from babylm.data.tokenizer import TokenizerError, load_hf_tokenizer

    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise EvaluationError(
            f"{path}: no config.json, so not an exported model directory; "
            "export a checkpoint first (python -m babylm export --help)"
        )
    try:
        tokenizer = load_hf_tokenizer(path)
    except (TokenizerError, OSError, ValueError) as error:
        raise EvaluationError(f"{path}: cannot load the tokenizer ({error}); re-export the model") from error
    hf_logging.disable_progress_bar()
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise EvaluationError(f"{path}: cannot load the model ({message})") from error
    model.to(torch.device(device) if isinstance(device, str) else device)
    model.eval()
    return model, tokenizer


def prefix_token_id(tokenizer) -> int:
    """Return the id scored sentences start after: the tokenizer's bos, else its eos (GPT-2 style models)."""
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    raise EvaluationError(
        "the tokenizer defines neither a bos nor an eos token, so there is no start-of-text token to score after"
    )


def max_positions(model) -> int | None:
    """Return the longest sequence ``model`` accepts (``max_position_embeddings``/``n_positions``), or None."""
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "n_ctx"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None
