"""The code passes the project's linter (pyproject.toml ``[tool.ruff]``): lines of at most 120 characters, imports
sorted and used, no undefined names. CI runs it as part of the suite; ``ruff check --fix`` mends most findings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_code_passes_the_linter():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "babylm", "tests", "benchmarks",
                           "scripts", "setup.py"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]


def test_the_linter_skips_no_package_folder():
    """An exclude such as ``"data"`` matches every folder of that name (``babylm/data``, ``tests/data``): the
    linter must see every folder of Python files under ``babylm/`` and ``tests/``."""
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--show-files", "babylm", "tests"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    checked = {Path(line.strip()).resolve().relative_to(REPO_ROOT).as_posix()
               for line in done.stdout.splitlines() if line.strip().endswith(".py")}
    assert {"babylm/data/pipeline.py", "tests/data/test_pipeline.py"} <= checked
    folders = {path.parent.relative_to(REPO_ROOT).as_posix()
               for top in ("babylm", "tests") for path in (REPO_ROOT / top).rglob("*.py")
               if not any(part.startswith((".", "__pycache__")) for part in path.relative_to(REPO_ROOT).parts)}
    assert folders - {str(Path(name).parent.as_posix()) for name in checked} == set()
