"""Refuse, before anything is loaded, a Hugging Face folder that would run code or unpickle weights.

Used by :mod:`babylm.models.export` (which evaluation, generation and the distillation teachers load through) and
by the benchmarks; nothing to run on its own. Reads ``config.json`` and ``tokenizer_config.json`` of a
folder and lists its weight files; writes nothing.

Two ways a model folder can run code when transformers loads it:

* ``auto_map`` in ``config.json`` or ``tokenizer_config.json`` names a Python class (a ``.py`` file beside
  the config, or a Hub repository) that ``from_pretrained(..., trust_remote_code=True)`` would import — and
  that transformers offers to run after a prompt (or a 15–20 s wait) when ``trust_remote_code`` is unset
  (transformers docs, "Customizing models"/"Sharing custom models"). We always pass
  ``trust_remote_code=False`` and refuse any ``auto_map`` first, so the answer is one line, at once.
* pickle weights (``pytorch_model.bin``): unpickling can run code; ``torch.load(weights_only=True)`` refuses
  most payloads but not with a readable message. We load only safetensors (``model.safetensors`` or a
  sharded ``model.safetensors.index.json``), which holds tensors and nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path

from babylm.core.safe_json import JsonError, read_json

CODE_CONFIGS = ("config.json", "tokenizer_config.json")
SAFETENSORS = ("model.safetensors", "model.safetensors.index.json")


class UnsafeFolderError(ValueError):
    """A model or tokenizer folder asks to run code, or holds no safetensors weights (one-line message)."""


def _auto_map_targets(value) -> list[str]:
    """The class references of an ``auto_map`` value (``"file.Class"``, ``["a.B", "a.C"]`` or a dict of them)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [item for entry in value for item in _auto_map_targets(entry)]
    if isinstance(value, dict):
        return [item for entry in value.values() for item in _auto_map_targets(entry)]
    return []


def refuse_remote_code(folder: str | os.PathLike) -> None:
    """Raise :class:`UnsafeFolderError` when ``config.json`` or ``tokenizer_config.json`` in ``folder`` has an
    ``auto_map`` (custom code transformers would import) or is not a JSON object; returns nothing otherwise.

    A missing file is fine (the caller decides whether it is required).
    """
    for name in CODE_CONFIGS:
        path = Path(folder) / name
        if not path.is_file():
            continue
        try:
            record = read_json(path)
        except JsonError as error:
            raise UnsafeFolderError(f"{error}; re-export the model") from None
        if not isinstance(record, dict):
            raise UnsafeFolderError(f"{path}: expected a JSON object; re-export the model")
        if record.get("auto_map"):
            targets = sorted({t.split("--")[-1].split(".")[0] + ".py" for t in _auto_map_targets(record["auto_map"])})
            code = ", ".join(targets) or "custom code"
            raise UnsafeFolderError(
                f"{path}: auto_map asks to run code from the model folder ({code}); babylm never runs code "
                "from a model folder: use a model of an architecture transformers ships, or remove auto_map"
            )


def require_safetensors(folder: str | os.PathLike) -> None:
    """Raise :class:`UnsafeFolderError` unless ``folder`` holds safetensors weights; returns nothing."""
    folder = Path(folder)
    if any((folder / name).is_file() for name in SAFETENSORS):
        return
    pickled = sorted(p.name for p in folder.glob("*.bin")) + sorted(p.name for p in folder.glob("*.pt"))
    found = f" (found {', '.join(pickled[:3])}: pickle, which can run code)" if pickled else ""
    raise UnsafeFolderError(
        f"no model.safetensors in {folder}{found}; babylm loads only safetensors weights: re-export the model "
        "with python -m babylm export"
    )
