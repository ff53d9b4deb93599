"""``.gitignore`` covers every output the documented commands write (README.md, docs/*.md), by default and in examples.

A fresh user's ``prepare --source gutenberg --data-dir data-gutenberg`` (the README's own example, now in docs/data.md)
showed its whole data folder in ``git status``: only ``/data/*`` was ignored.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT_OPTIONS = ("--data-dir", "--out", "--workdir", "--out-root", "--output-dir", "--checkpoint.dirpath",
                  "--model.init_args.export_dir", "--trainer.default_root_dir", "--push")
# where the commands write when no option is given (argparse defaults, configs/base.yaml, the tiny configs)
DEFAULT_OUTPUTS = ["data/britannica_data", "data/corpus_split", "data/tokenized", "data/blimp", "data/teacher_cache",
                   "checkpoints/tokenizer-clean.json", "checkpoints/tokenizer", "checkpoints/Tiny-Llama", "runs",
                   "runs/eval/Baby-Llama-58M", "runs/quickstart", "runs/recipe/tiny-seed0", "runs/wandb",
                   "lightning_logs", "wandb", ".cache"]


DOCUMENTS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]


def documented_outputs() -> set[str]:
    """Relative output paths in the shell blocks of README.md and docs/*.md: values of output options and ``# → path``
    comments."""
    text = "\n".join(path.read_text(encoding="utf-8") for path in DOCUMENTS)
    found = set()
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for option, value in re.findall(r"(--[\w.-]+)[ =](\S+)", block):
            if option in OUTPUT_OPTIONS:
                found.add(value)
        found.update(path for path in re.findall(r"→ ([\w./<>-]+)", block) if "/" in path)  # not "→ chck_200M …"
    paths = set()
    for value in found:
        value = re.sub(r"<[^>]+>", "x", value).rstrip("/.,")
        if value and not value.startswith(("/", "..", "-")) and not value.isupper():  # DIR: a placeholder
            paths.add(value)
    return paths


def test_every_documented_output_is_ignored():
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    outputs = sorted(documented_outputs() | set(DEFAULT_OUTPUTS))
    assert {"data-gutenberg", "data-dump", "hub/Baby-Llama-58M", "runs/eval/baby-llama"} <= set(outputs)
    probes = [f"{path}/probe.txt" for path in outputs] + [path for path in outputs if Path(path).suffix]
    result = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=REPO_ROOT, input="\n".join(probes),
                            capture_output=True, text=True)
    ignored = set(result.stdout.split())
    assert [p for p in probes if p not in ignored] == []
    kept = subprocess.run(["git", "check-ignore", "--no-index", "data/README.md", "checkpoints/README.md",
                           "configs/base.yaml"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert kept.stdout == ""  # the folders' own READMEs and the configs stay tracked
