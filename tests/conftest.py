"""Fixtures shared by every test package.

``shared_data`` is the real EB1911 / Wikisource / BLiMP material in ``../shared/data`` (beside the
repository), ``shared_cases`` the small inputs in ``../shared/cases`` that the project once got wrong. They
are read from there, never copied into the repository. Tests that need them skip with a reason when they
are absent, and fail when they are absent under ``CI=true``.
"""

from __future__ import annotations

import os
from pathlib import Path

# One intra-op thread per test process (and its subprocesses): the suite runs its files in parallel (pytest-xdist,
# one worker per core), and tiny models gain nothing from more threads — while OpenMP's spinning threads on a
# busy machine made one tiny BLiMP test 10× slower. Set before torch is imported anywhere.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
SHARED_CASES = REPO_ROOT.parent / "shared" / "cases"


@pytest.fixture(autouse=True, scope="session")
def _offline_wandb():
    """Tests never talk to Weights & Biases servers."""
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    yield


def _shared(path: Path, what: str) -> Path:
    if not path.is_dir():
        message = f"{what} not found at {path} (the shared/ folder beside the repository)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " — CI must provide it")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``../shared/data``; skips (or fails under CI=true) when it is missing."""
    return _shared(SHARED_DATA, "real test data")


@pytest.fixture(scope="session")
def shared_cases() -> Path:
    """Path to ``../shared/cases`` (small real-shaped inputs with their right results in each README);
    skips (or fails under CI=true) when it is missing."""
    return _shared(SHARED_CASES, "the shared cases")
