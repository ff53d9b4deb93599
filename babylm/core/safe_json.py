"""Reading JSON that may be damaged or hostile: state files, article files, server replies.

``json.loads`` raises ``RecursionError`` (not ``ValueError``) on deeply nested input such as ``[`` × 100000,
rejects a UTF-8 byte-order mark, and accepts escapes of lone surrogates (``"\\ud800"``) that no UTF-8 file
can hold. :func:`loads` and :func:`read_json` turn every one of these into :class:`JsonError` (a
``ValueError``) with a short reason, so each caller can report one line naming its file or field; a
leading BOM is accepted. :func:`lone_surrogate` finds the surrogate escapes a caller may reject.
Reads only the file it is given; writes nothing.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonError(ValueError):
    """Bytes that are not usable JSON; the message says why (and names the file for :func:`read_json`)."""


def loads(data: str | bytes) -> Any:
    """Parse JSON text or UTF-8 bytes (a leading BOM is accepted); returns the value.

    Raises :class:`JsonError` for bytes that are not UTF-8, text that is not JSON, and nesting deeper than
    the interpreter can parse (``json`` raises ``RecursionError`` there).
    """
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise JsonError(f"not UTF-8 ({error.reason} at byte {error.start})") from None
    elif data.startswith("\ufeff"):
        data = data[1:]
    try:
        return json.loads(data)
    except json.JSONDecodeError as error:
        raise JsonError(f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    except RecursionError:
        raise JsonError("not valid JSON (nested too deeply)") from None
    except ValueError as error:  # e.g. an integer with too many digits
        raise JsonError(f"not valid JSON ({error})") from None


def read_json(path: str | os.PathLike) -> Any:
    """Read and parse the JSON file ``path``; returns the value.

    Raises :class:`JsonError` naming ``path`` when it cannot be read or parsed (see :func:`loads`).
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise JsonError(f"{path}: cannot read ({error.strerror or error})") from None
    try:
        return loads(raw)
    except JsonError as error:
        raise JsonError(f"{path}: {error}") from None


def lone_surrogate(value: Any) -> str | None:
    """Return a description of the first lone surrogate in the strings of ``value`` (keys included), or None.

    Such a string came from a ``"\\udXXX"`` escape; it cannot be written as UTF-8. Walks lists and dicts
    without recursion.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            match = _SURROGATE.search(item)
            if match:
                return f"a lone surrogate U+{ord(match.group()):04X} (not text) at character {match.start()}"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None
