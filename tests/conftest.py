"""Fixtures shared by every test package.

``shared_data`` is the real EB1911 / Wikisource / BLiMP material in ``../shared/data`` (beside the
repository). It is read from there, never copied into the repository. Tests that need it skip with a
reason when it is absent, and fail when it is absent under ``CI=true``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def _offline_wandb():
    """Tests never talk to Weights & Biases servers."""
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``../shared/data``; skips (or fails under CI=true) when it is missing."""
    if not SHARED_DATA.is_dir():
        message = f"real test data not found at {SHARED_DATA} (the shared/ folder beside the repository)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " — CI must provide it")
        pytest.skip(message)
    return SHARED_DATA
