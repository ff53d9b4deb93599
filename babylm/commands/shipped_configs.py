"""Where the shipped training configs are: the repository's ``configs/``, or the package's copy in a wheel install.

Used by :mod:`babylm.commands.fit` (``configs/base.yaml`` is the default config of ``fit``, and ``-c configs/…``
falls back to the shipped copy) and by :mod:`babylm.commands.quickstart`; nothing to run on its own. Reads nothing but
file names; writes nothing.

The YAML files live in ``configs/`` at the repository root, where the README's commands name them; the build
(``setup.py``) also ships them inside the package as ``babylm/configs/``, so that after
``pip install git+https://…`` (no checkout) ``python -m babylm fit -c configs/tiny/teacher_llama.yaml`` still
reads ``base.yaml`` and the named config. A checkout's own ``configs/`` wins over the packaged copy, so your
edits there take effect.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

PACKAGE = Path(__file__).resolve().parents[1]  # the babylm package folder
CANDIDATES = (PACKAGE.parent / "configs", PACKAGE / "configs")  # source checkout, then wheel install


def configs_dir() -> Path | None:
    """Return the folder of the shipped configs (the one holding ``base.yaml``), or None when there is none."""
    for folder in CANDIDATES:
        if (folder / "base.yaml").is_file():
            return folder
    return None


def base_config() -> Path:
    """Return the path of ``base.yaml`` (possibly missing: then :func:`configs_dir` is None)."""
    return (configs_dir() or CANDIDATES[0]) / "base.yaml"


def _shipped_copy(value: str) -> Path | None:
    """The shipped config a missing ``configs/<name>.yaml`` argument means, or None."""
    folder = configs_dir()
    parts = Path(value).parts
    if folder is None or os.path.exists(value) or len(parts) < 2 or parts[0] != "configs":
        return None
    candidate = folder.joinpath(*parts[1:])
    return candidate if candidate.is_file() else None


def resolve_config_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Point ``-c``/``--config configs/…`` arguments that are not under the working directory at the shipped copy.

    Returns the new argv and one notice line per replaced path (an argument that exists, or that names no
    shipped config, is left alone for the CLI to read or report).
    """
    out, notices = [], []
    argv = list(argv)
    index = 0
    while index < len(argv):
        arg = argv[index]
        value, prefix = None, None
        if arg in ("-c", "--config") and index + 1 < len(argv):
            out.append(arg)
            index += 1
            value, prefix = argv[index], ""
        elif arg.startswith("--config="):
            value, prefix = arg[len("--config="):], "--config="
        if value is None:
            out.append(arg)
        else:
            shipped = _shipped_copy(value)
            if shipped is not None:
                notices.append(f"{value} is not under the working directory; reading the shipped copy {shipped}")
            out.append(prefix + str(shipped or value))
        index += 1
    return out, notices
