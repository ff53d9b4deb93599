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
