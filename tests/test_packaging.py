"""A wheel install works without the checkout: the configs ship inside the package and ``fit`` finds them.

The wheel is built from a copy of the sources (so nothing is written into the repository), installed with
``--no-deps`` into a fresh venv that sees this environment's packages (``tests/venvs.py``: whether this is a
virtualenv, a conda env or the system interpreter), and run from a folder outside the
repository, with no ``PYTHONPATH`` — as after ``pip install git+https://…``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from babylm.commands.shipped_configs import resolve_config_args
from tests.training.teacher_fixtures import tiny_data  # noqa: F401 (fixture)
from tests.venvs import REPO_ROOT, clean_env, new_venv, pip_install, unavailable

SOURCES = ("setup.py", "setup.cfg", "pyproject.toml", "README.md", "babylm", "configs")

pytestmark = pytest.mark.slow


def build_wheel(tmp_path: Path) -> Path:
    """Build the wheel from a copy of the sources; returns its path (skips/fails when it cannot be built)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (REPO_ROOT / name).is_dir() else shutil.copy2
        copy(REPO_ROOT / name, source / name,
             **({"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}))
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path / "dist"), str(source)]
    done = subprocess.run([*command, "--no-build-isolation"], capture_output=True, text=True, timeout=300,
                          env=clean_env())
    if done.returncode != 0:  # an older setuptools here: let pip fetch the build requirements
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=clean_env())
    if done.returncode != 0:
        unavailable(f"cannot build the wheel: {(done.stderr.strip().splitlines() or ['pip wheel failed'])[-1]}")
    (wheel,) = (tmp_path / "dist").glob("babylm-*.whl")
    return wheel


def test_a_wheel_install_trains_with_the_shipped_configs_from_outside_the_repository(tiny_data, tmp_path):
    wheel = build_wheel(tmp_path)
    python = new_venv(tmp_path / "venv")
    installed = pip_install(python, "--no-deps", str(wheel))
    assert installed.returncode == 0, installed.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def babylm(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(python), "-m", "babylm", *args], cwd=elsewhere, capture_output=True, text=True,
                              timeout=300, env=clean_env())

    where = subprocess.run([str(python), "-c", "import babylm; print(babylm.__file__)"], cwd=elsewhere,
                           capture_output=True, text=True, env=clean_env())
    assert str(tmp_path / "venv") in where.stdout  # the installed copy, not this checkout

    done = babylm("fit", "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: python -m babylm fit"), done.stderr[-2000:]

    check = ("from babylm.commands.recipe_preset import available_presets, load_preset, preset_file; "
             "print(available_presets(), load_preset(preset_file('tiny')).student.config)")
    done = subprocess.run([str(python), "-c", check], cwd=elsewhere, capture_output=True, text=True, env=clean_env())
    assert done.returncode == 0 and "'tiny'" in done.stdout, done.stderr[-2000:]  # the recipe presets ship too,
    assert str(tmp_path / "venv") in done.stdout  # and the quick start's model configs are found in the package

    done = babylm("fit", "-c", "configs/tiny/teacher_llama.yaml", "--trainer.max_steps", "2",
                  "--trainer.val_check_interval", "2", "--trainer.logger", "false",
                  "--trainer.enable_progress_bar", "false", "--data.tokenizer_path", str(tiny_data.tokenizer_path),
                  "--data.tokenized_dir", str(tiny_data.tokenized_dir),
                  "--word_checkpoints.milestones", "[]")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "reading the shipped copy" in done.stderr  # configs/… is not under the working directory
    saved = (elsewhere / "checkpoints" / "tiny_teacher_llama" / "config.yaml").read_text()
    assert "gradient_clip_val: 1.0" in saved and "seed_everything: 1234" in saved  # base.yaml was read
    assert (elsewhere / "checkpoints" / "Tiny-Llama" / "model.safetensors").is_file()


def test_config_arguments_that_exist_are_left_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    argv = ["fit", "-c", "configs/tiny/teacher_llama.yaml", "--config=configs/base.yaml", "--trainer.max_steps", "1"]
    assert resolve_config_args(argv) == (argv, [])
    monkeypatch.chdir(tmp_path)
    new, notices = resolve_config_args(argv)
    assert new[2] == str(REPO_ROOT / "configs" / "tiny" / "teacher_llama.yaml")
    assert new[3] == f"--config={REPO_ROOT / 'configs' / 'base.yaml'}" and len(notices) == 2
    assert resolve_config_args(["fit", "-c", "configs/no_such.yaml"]) == (["fit", "-c", "configs/no_such.yaml"], [])
