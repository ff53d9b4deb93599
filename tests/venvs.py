"""Virtual environments for the tests that need another install than this one (transformers 4.x, a wheel).

``compat_python(requirement)`` returns the Python of a venv that sees this environment's packages (torch and the rest
come from here, see :func:`new_venv`) plus ``requirement`` from PyPI, cached in the git-ignored ``.cache/venvs/`` of the
repository, so only the first run pays for it (≈ 20 s); it is rebuilt for another outer environment. A venv whose build
did not finish has no ``ready.json`` and is built again. When the venv cannot be built (no network, no PyPI), the test
skips with the reason — and fails under ``CI=true``, where it must work. ``new_venv(path)`` makes a fresh one.
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


def package_dirs() -> list[str]:
    """The site-packages folders this interpreter imports from, in its order: a virtualenv's, a conda env's, the
    user site, the base interpreter's — whichever this one is (``--system-site-packages`` would give only the base
    interpreter's, missing everything installed in an active virtualenv)."""
    return [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]


def new_venv(path: Path) -> Path:
    """Create a venv at ``path`` that sees this environment's packages after its own; returns its Python.

    The venv's own site-packages come first (what is installed into it wins, e.g. transformers 4.51.3 over this
    environment's 5.x); then :func:`package_dirs`, listed in a ``.pth`` file (plain paths: no code runs).
    """
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300, capture_output=True)
    python = path / "bin" / "python"
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True, timeout=60, env=clean_env()).stdout.strip()
    (Path(own) / "babylm-tests-outer-env.pth").write_text("".join(f"{d}\n" for d in package_dirs()))
    return python


def pip_install(python: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """``python -m pip install --quiet ARGS`` in that venv; returns the finished process (not checked)."""
    command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=clean_env())


def _read(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def compat_python(requirement: str) -> Path:
    """The Python of a cached venv with ``requirement`` (e.g. ``transformers==4.51.3``) installed; builds it once."""
    name = requirement.replace("==", "-").replace("/", "_") + f"-py{sys.version_info.major}{sys.version_info.minor}"
    folder = CACHE / name
    python = folder / "bin" / "python"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; the others wait and reuse it
        ready = {"requirement": requirement, "sees": package_dirs()}  # another outer environment: build it again
        if (folder / "ready.json").is_file() and python.exists() and _read(folder / "ready.json") == ready:
            return python
        shutil.rmtree(folder, ignore_errors=True)  # ours: unfinished, or built for another environment
        try:
            new_venv(folder)
            done = pip_install(python, requirement)
        except (OSError, subprocess.SubprocessError) as error:
            unavailable(f"cannot build a venv with {requirement} in {folder}: {error}")
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
            unavailable(f"cannot install {requirement} into {folder} (no network to PyPI?): {last}")
        (folder / "ready.json").write_text(json.dumps(ready) + "\n")
    return python
