"""The README's contract: its two set-up commands are what CI runs, in a fresh virtualenv (``.ci/run``)."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    """The command lines of the first two ``bash`` blocks under the README's "Two commands" heading."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Two commands"):]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)[:2]
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_ci_runs_the_readme_commands_in_a_fresh_virtualenv():
    commands = readme_commands()
    assert len(commands) == 2 and "python -m babylm quickstart" in commands[0] and "pytest" in commands[1]
    lines = [line.strip() for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()]
    venv = lines.index("python -m venv .ci/venv")
    assert lines[venv + 1] == ". .ci/venv/bin/activate"
    assert lines[venv + 2:venv + 4] == commands
