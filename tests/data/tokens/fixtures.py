"""A tiny tokenizer and encoded corpus for DataModule/encode tests (and anyone needing ``data/tokenized``).

Import the fixture into a test module: ``from tests.data.tokens.fixtures import tiny_encoding``.
``make_tiny_encoding(root)`` is the plain function behind it: it writes ``root/split/{train,val}.txt`` in
the cleaner's format (``<s>`` line, text, ``</s>`` line, blank line), trains a 400-token byte-level BPE
at ``root/tokenizer.json`` and encodes to ``root/tokenized/<fingerprint>/``. Built in well under a second.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from babylm.data.tokens.encode import encode_splits
from babylm.data.tokens.tokenizer import save_tokenizer, train_tokenizer

WORDS = (
    "the of and a in to is was by for with as on that from at his which or an are be were it this "
    "city river church king county town century island north south water iron coal trade bridge"
).split()


def article_text(rng: random.Random, words: int) -> str:
    """Return a random two-paragraph article of about ``words`` words from a small vocabulary."""
    first = " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."
    second = " ".join(rng.choice(WORDS) for _ in range(max(1, words // 3))).capitalize() + "."
    return f"{first}\n{second}"


def write_split(path: Path, articles: list[str]) -> None:
    """Write ``articles`` to ``path`` in the cleaner's ``<s>``/``</s>`` format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"<s>\n{text}\n</s>\n\n" for text in articles), encoding="utf-8")


@dataclass(frozen=True)
class TinyEncoding:
    """Paths of a tiny encoded corpus."""

    split_dir: Path
    tokenizer_path: Path
    tokenized_dir: Path
    encoded_dir: Path


def make_tiny_encoding(root: Path, train_articles: int = 200, val_articles: int = 30, seed: int = 0) -> TinyEncoding:
    """Build the tiny corpus, tokenizer and encoding under ``root``; returns their paths."""
    rng = random.Random(seed)
    split_dir = root / "split"
    write_split(split_dir / "train.txt", [article_text(rng, rng.randint(20, 120)) for _ in range(train_articles)])
    write_split(split_dir / "val.txt", [article_text(rng, rng.randint(20, 120)) for _ in range(val_articles)])
    tokenizer_path = root / "tokenizer.json"
    save_tokenizer(train_tokenizer([split_dir / "train.txt"], vocab_size=400), tokenizer_path)
    encoded_dir = encode_splits(tokenizer_path, split_dir, root / "tokenized", log=lambda line: None)
    return TinyEncoding(split_dir, tokenizer_path, root / "tokenized", encoded_dir)


@pytest.fixture(scope="session")
def tiny_encoding(tmp_path_factory) -> TinyEncoding:
    """A tiny encoded corpus shared by the session (treat it as read-only)."""
    return make_tiny_encoding(tmp_path_factory.mktemp("tiny_encoding"))
