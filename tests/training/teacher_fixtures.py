"""Fixtures for the teacher-training tests: a tiny tokenized corpus and helpers to run the real CLI.

Imported by ``tests/models/conftest.py`` and by ``tests/test_export.py``/``tests/test_cli.py``.

``tiny_data`` (session) writes a deterministic encyclopaedia-like corpus, trains a ~400-token byte-level
BPE on it with :func:`train_tokenizer` and encodes it with the real encode stage, in a temporary directory
built once per session (even when two test packages import the fixture); nothing is downloaded.
``fit_argv(tmp_path, …)`` builds the argv of a short tiny-teacher run whose outputs all land in
``tmp_path``; ``run_cli(argv)`` runs ``python -m babylm`` in-process.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from babylm.data.tokens.encode import encode_splits
from babylm.data.tokens.tokenizer import save_tokenizer, train_tokenizer

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_LLAMA = REPO_ROOT / "configs" / "tiny" / "teacher_llama.yaml"
TINY_GPTJ = REPO_ROOT / "configs" / "tiny" / "teacher_gptj.yaml"

PLACES = ["Brescia", "Bristol", "Bruges", "Brunswick", "Buda", "Bukhara", "Burgos", "Bulgaria"]
THINGS = ["cathedral", "bridge", "university", "harbour", "castle", "market", "abbey", "library"]
CENTURIES = ["12th", "13th", "14th", "15th", "16th", "17th", "18th"]
VERBS = ["was founded", "was rebuilt", "was enlarged", "was destroyed", "was restored", "was endowed"]


def article(rng: random.Random) -> str:
    """One short article: a headword and a few templated sentences (learnable structure, some variety)."""
    place = rng.choice(PLACES)
    sentences = [f"{place.upper()}, a town of Europe."]
    for _ in range(rng.randint(4, 9)):
        thing, verb, century = rng.choice(THINGS), rng.choice(VERBS), rng.choice(CENTURIES)
        sentences.append(f"The {thing} of {place} {verb} in the {century} century.")
    return " ".join(sentences)


@dataclass(frozen=True)
class TinyData:
    """Where the tiny corpus lives: the tokenizer JSON and the root of the encoded splits."""

    root: Path
    tokenizer_path: Path
    tokenized_dir: Path


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> TinyData:
    """Corpus (≈20k train words, ≈2k val words) → tokenizer → encoded ``uint16`` splits."""
    root = tmp_path_factory.getbasetemp() / "tiny_teacher_corpus"
    data = TinyData(root=root, tokenizer_path=root / "tokenizer-clean.json", tokenized_dir=root / "tokenized")
    if (root / "done").is_file():  # built by the same fixture imported elsewhere in this session
        return data
    rng = random.Random(7)
    split_dir = root / "corpus_split"
    split_dir.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", 260), ("val", 30)):
        text = "\n".join(f"<s> {article(rng)} </s>" for _ in range(count))
        (split_dir / f"{split}.txt").write_text(text + "\n", encoding="utf-8")
    tokenizer = train_tokenizer([split_dir / "train.txt"], vocab_size=400, min_frequency=2)
    save_tokenizer(tokenizer, data.tokenizer_path)
    encode_splits(data.tokenizer_path, split_dir, data.tokenized_dir, log=lambda line: None)
    (root / "done").write_text("ok\n")
    return data


def fit_argv(tmp_path: Path, data: TinyData, *extra: str, config: Path = TINY_LLAMA, logger: str = "csv") -> list[str]:
    """Argv of ``fit`` with a tiny config whose every output (checkpoints, export, logs) is under ``tmp_path``.

    ``logger``: ``csv`` (metrics.csv under ``tmp_path/runs``), ``none``, or ``configured`` (the YAML's W&B).
    """
    argv = [
        "fit", "-c", str(config),
        "--data.tokenizer_path", str(data.tokenizer_path),
        "--data.tokenized_dir", str(data.tokenized_dir),
        "--checkpoint.dirpath", str(tmp_path / "ckpt"),
        "--model.init_args.export_dir", str(tmp_path / "export"),
        "--trainer.default_root_dir", str(tmp_path / "runs"),
        "--trainer.enable_progress_bar", "false",
        "--trainer.enable_model_summary", "false",
    ]
    if logger == "csv":
        argv += ["--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
                 "--trainer.logger.save_dir", str(tmp_path / "runs")]
    elif logger == "none":
        argv += ["--trainer.logger", "false"]
    elif logger != "configured":  # "configured": the YAML's WandbLogger
        raise ValueError(f"logger must be csv, none or configured, got {logger!r}")
    return argv + list(extra)


def run_cli(argv: list[str]) -> int:
    """Run ``python -m babylm <argv>`` in this process; returns the exit code."""
    from babylm.cli import main

    return main(argv)
