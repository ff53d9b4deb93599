"""Byte-level BPE tokenizer: train on ``train.txt``, save as ``tokenizer-clean.json`` and as HF files.

Run: ``python scripts/train_tokenizer.py --help`` (or ``python -m babylm.data.tokenizer``).
Reads ``data/corpus_split/train.txt`` (and ``val.txt`` for the fertility report); writes
``checkpoints/tokenizer-clean.json`` (the raw ``tokenizers`` file) and ``checkpoints/tokenizer/``
(``tokenizer.json`` + ``tokenizer_config.json``, loadable with ``AutoTokenizer.from_pretrained``).

Special tokens are fixed: ``<pad>`` = 0, ``<s>`` = 1, ``</s>`` = 2. Encoding with special tokens
prepends ``<s>`` (a ``TemplateProcessing`` post-processor), so the first word of a sentence is scored in
evaluation. The literal markers ``<s>``/``</s>`` that the cleaner writes around each article are matched
as the special tokens themselves.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable, Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
SPECIAL_TOKENS = (PAD, BOS, EOS)  # ids 0, 1, 2 in this order
DEFAULT_VOCAB_SIZE = 16_000


class TokenizerError(ValueError):
    """A tokenizer file is missing, unreadable or incompatible."""


def new_byte_level_bpe() -> Tokenizer:
    """Return an untrained byte-level BPE tokenizer with our pre-tokenizer, decoder and ``<s>`` template."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def _add_bos_template(tokenizer: Tokenizer) -> None:
    bos_id = tokenizer.token_to_id(BOS)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )


def train_tokenizer(
    files: Sequence[str | os.PathLike] | None = None,
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    min_frequency: int = 2,
    texts: Iterable[str] | None = None,
) -> Tokenizer:
    """Train a byte-level BPE on text ``files`` (or an iterable of ``texts``); returns the Tokenizer.

    ``vocab_size`` counts the three special tokens and the 256 byte symbols; a corpus too small to reach
    it yields a smaller vocabulary.
    """
    if vocab_size > 65_535:
        raise TokenizerError(f"vocab_size {vocab_size} does not fit the uint16 token files; use at most 65,535")
    tokenizer = new_byte_level_bpe()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    if texts is not None:
        tokenizer.train_from_iterator(texts, trainer=trainer)
    else:
        paths = [str(f) for f in files or []]
        for path in paths:
            if not Path(path).is_file():
                raise TokenizerError(f"{path}: training text not found; run the split stage first")
        tokenizer.train(paths, trainer=trainer)
    _add_bos_template(tokenizer)
    return tokenizer


def to_hf_tokenizer(tokenizer: Tokenizer, model_max_length: int = 128):
    """Wrap a ``tokenizers.Tokenizer`` as a ``PreTrainedTokenizerFast`` with bos/eos/pad set; returns it."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        model_max_length=model_max_length,
    )


def save_tokenizer(tokenizer: Tokenizer, json_path: str | os.PathLike, hf_dir: str | os.PathLike | None = None) -> None:
    """Save ``tokenizer`` to ``json_path`` (atomically) and, if given, HF files into ``hf_dir``; returns nothing."""
    from babylm.atomic import atomic_write_text

    atomic_write_text(json_path, tokenizer.to_str(pretty=True))
    if hf_dir is not None:
        to_hf_tokenizer(tokenizer).save_pretrained(str(hf_dir))


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Load a ``tokenizers`` JSON file, or the ``tokenizer.json`` inside an HF directory; returns the Tokenizer."""
    path = Path(path)
    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():
        raise TokenizerError(f"{file}: tokenizer not found; train one with scripts/train_tokenizer.py")
    try:
        return Tokenizer.from_file(str(file))
    except Exception as error:  # tokenizers raises a bare Exception on bad JSON
        raise TokenizerError(f"{file}: not a valid tokenizer file ({error})") from error


def load_hf_tokenizer(path: str | os.PathLike):
    """Load a tokenizer for transformers from an HF directory or a ``tokenizers`` JSON file; returns it.

    A bare JSON file gets our special tokens; a directory is read with ``AutoTokenizer``.
    """
    path = Path(path)
    if path.is_dir():
        from transformers import AutoTokenizer

        if not (path / "tokenizer.json").is_file() and not (path / "tokenizer_config.json").is_file():
            raise TokenizerError(f"{path}: no tokenizer files in this directory")
        return AutoTokenizer.from_pretrained(str(path))
    return to_hf_tokenizer(load_tokenizer(path))


def tokenizer_fingerprint(path: str | os.PathLike) -> str:
    """Return a short sha256 of the tokenizer's vocabulary and merges (stable across re-saves)."""
    tokenizer = load_tokenizer(path)
    canonical = Tokenizer.to_str(tokenizer, pretty=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
