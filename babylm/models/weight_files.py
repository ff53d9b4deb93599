"""The weight files of an exported model folder: which they are, that their headers are whole, what they store.

Used by :mod:`babylm.models.export` (every load checks the headers first) and the ``recipe`` results page (the
parameters of each model); nothing to run on its own. Reads ``model.safetensors`` or the shards
``model.safetensors.index.json`` names — only their headers (safetensors: a JSON header of names, dtypes and
shapes, then raw bytes; nothing in them runs code); writes nothing.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from babylm.core.safe_json import JsonError, read_json
from babylm.models.export_manifest import ExportError


def safetensors_files(path: Path, prefix: str) -> list[Path]:
    """The weight files of the export ``path``: ``model.safetensors``, or the shards its index names."""
    single, index = path / "model.safetensors", path / "model.safetensors.index.json"
    if single.is_file():
        files = [single]
    else:
        try:
            weight_map = read_json(index).get("weight_map")
        except (JsonError, AttributeError) as error:
            raise ExportError(f"{prefix}{index}: not a safetensors index ({error}); re-export the model") from None
        if not isinstance(weight_map, dict) or not weight_map:
            raise ExportError(f"{prefix}{index}: no weight_map; re-export the model")
        files = [path / name for name in sorted(set(map(str, weight_map.values())))]
    return files


def check_safetensors_headers(path: Path, prefix: str) -> None:
    """Raise :class:`ExportError` unless every safetensors file of ``path`` has a readable header that covers the
    file (a truncated copy fails here; the tensors themselves are not read)."""
    from safetensors import SafetensorError, safe_open

    for file in safetensors_files(path, prefix):
        try:
            with safe_open(str(file), framework="pt") as handle:
                handle.keys()
        except (SafetensorError, OSError) as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
            raise ExportError(
                f"{prefix}{file}: not a readable safetensors file ({reason}); it may be truncated or damaged: "
                "copy it again or re-export the model"
            ) from None


def stored_parameters(folder: str | os.PathLike) -> int:
    """The number of parameters an export stores (weights tied to each other counted once, as saved), read from
    its safetensors headers without loading a tensor. Raises :class:`ExportError` for a missing or damaged file."""
    from safetensors import SafetensorError, safe_open

    total = 0
    for file in safetensors_files(Path(folder), ""):
        try:
            with safe_open(str(file), framework="pt") as handle:
                total += sum(math.prod(handle.get_slice(name).get_shape()) for name in handle.keys())
        except (SafetensorError, OSError) as error:
            raise ExportError(f"{file}: not a readable safetensors file ({error}); re-export the model") from None
    return total
