"""Where the data stages read and write by default: the one place for every default path of the data stages.

Everything lands under one data directory (``prepare --data-dir``, default ``data``): :class:`Layout` names each
stage's output under it, and :data:`DEFAULT` is the layout of ``data/`` that every stage's own options default to
(``python -m babylm.data.text.clean --input data/combined_encyclopedia.txt`` …). The tokenizer goes under
``checkpoints/`` beside the models that use it. Nothing to run on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA_DIR = "data"
TOKENIZER_PATH = "checkpoints/tokenizer-clean.json"  # the tokenizers JSON (fit's data.tokenizer_path)
TOKENIZER_HF_DIR = "checkpoints/tokenizer"  # the same tokenizer as Hugging Face files


@dataclass(frozen=True)
class Layout:
    """Where each stage reads and writes, under the data directory ``root``."""

    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "britannica_data"

    @property
    def text(self) -> Path:
        return self.root / "britannica_txt"

    @property
    def combined(self) -> Path:
        return self.root / "combined_encyclopedia.txt"

    @property
    def cleaned(self) -> Path:
        return self.root / "encyclopedia_cleaned.txt"

    @property
    def split_dir(self) -> Path:
        return self.root / "corpus_split"

    @property
    def stamps(self) -> Path:
        return self.root / ".pipeline"

    @property
    def tokenized(self) -> Path:
        return self.root / "tokenized"


DEFAULT = Layout(Path(DATA_DIR))
