"""Virtual environments for the tests that need another install than this one (transformers 4.x, a wheel).

``compat_python(requirement)`` returns the Python of a venv made with ``--system-site-packages`` (torch and the
rest come from this environment) plus ``requirement`` from PyPI, cached in the git-ignored ``.cache/venvs/``
of the repository, so only the first run pays for it (≈ 20 s). A venv whose build did not finish has no
``ready.json`` and is built again. When the venv cannot be built (no network, no PyPI), the test skips with
the reason — and fails under ``CI=true``, where it must work. ``new_venv(path)`` makes a fresh one.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE = REPO_ROOT / ".cache" / "venvs"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess in another venv: no PYTHONPATH (it would bring this checkout's code)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update({"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "WANDB_MODE": "offline", **extra})
    return env


def unavailable(reason: str) -> None:
    """Skip the test with ``reason``, or fail it under ``CI=true``."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " — CI must be able to build it")
    pytest.skip(reason)


def new_venv(path: Path) -> Path:
    """Create a venv at ``path`` that sees this environment's packages; returns its Python."""
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(path)], check=True, timeout=300,
                   capture_output=True)
    return path / "bin" / "python"


def pip_install(python: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """``python -m pip install --quiet ARGS`` in that venv; returns the finished process (not checked)."""
    command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=clean_env())


def compat_python(requirement: str) -> Path:
    """The Python of a cached venv with ``requirement`` (e.g. ``transformers==4.51.3``) installed; builds it once."""
    name = requirement.replace("==", "-").replace("/", "_") + f"-py{sys.version_info.major}{sys.version_info.minor}"
    folder = CACHE / name
    python = folder / "bin" / "python"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; the others wait and reuse it
        if (folder / "ready.json").is_file() and python.exists():
            return python
        shutil.rmtree(folder, ignore_errors=True)  # an unfinished build of ours (no ready.json)
        try:
            new_venv(folder)
            done = pip_install(python, requirement)
        except (OSError, subprocess.SubprocessError) as error:
            unavailable(f"cannot build a venv with {requirement} in {folder}: {error}")
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
            unavailable(f"cannot install {requirement} into {folder} (no network to PyPI?): {last}")
        (folder / "ready.json").write_text(json.dumps({"requirement": requirement}) + "\n")
    return python
