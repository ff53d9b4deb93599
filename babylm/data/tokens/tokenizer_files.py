"""Tokenizer files: read the raw ``tokenizers`` JSON, and write/read the Hugging Face tokenizer folder.

Used by the tokenizer stage (:mod:`babylm.data.tokens.tokenizer`), the encode stage, the DataModule and the
export (:mod:`babylm.models.export`); nothing to run on its own. Reads ``tokenizer-clean.json`` or an HF folder
(``tokenizer.json`` + ``tokenizer_config.json``); writes an HF folder with :func:`save_hf_tokenizer`.

**Portable HF files.** transformers 5 saves ``"tokenizer_class": "TokenizersBackend"``, a name that only
transformers 5 knows: transformers 4.x (the BabyLM evaluation pipeline pins 4.51.3) refuses the folder
(``Tokenizer class TokenizersBackend does not exist``). :func:`save_hf_tokenizer` writes
``"PreTrainedTokenizerFast"`` instead, the fast-tokenizer class of every transformers from 4.x to 5.x
(in 5.x an alias of ``TokenizersBackend``); ``tests/test_transformers_compat.py`` loads a fresh export with
transformers 4.51.3 and compares its logits with ours.

**Text is text**: every tokenizer returned here encodes ``<pad>``, ``<s>``, ``</s>`` found in text as the
characters they are (``encode_special_tokens`` / ``split_special_tokens``). **No code runs**: an HF folder
whose ``tokenizer_config.json`` has an ``auto_map`` is refused in one line, and loads pass
``trust_remote_code=False``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from tokenizers import Tokenizer

from babylm.core.atomic import atomic_write_json
from babylm.core.hf_guard import UnsafeFolderError, refuse_remote_code
from babylm.core.safe_json import read_json
from babylm.data.tokens.documents import BOS, EOS

PAD = "<pad>"
SPECIAL_TOKENS = (PAD, BOS, EOS)  # ids 0, 1, 2 in this order
MASK = "<mask>"
"""The hybrid objective's mask token: never in a trained tokenizer, added by the export of a hybrid model at the
first free id (after every other, so no id moves: :func:`add_mask_token`)."""
PORTABLE_TOKENIZER_CLASS = "PreTrainedTokenizerFast"
"""The ``tokenizer_class`` written into ``tokenizer_config.json``: read by transformers 4.x and 5.x alike."""
HF_FILES = frozenset({"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"})
"""What ``save_pretrained`` of our tokenizer writes (the last one by older transformers versions)."""


class TokenizerError(ValueError):
    """A tokenizer file is missing, unreadable or incompatible."""


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Load a ``tokenizers`` JSON file, or the ``tokenizer.json`` inside an HF directory; returns the Tokenizer."""
    path = Path(path)
    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():
        raise TokenizerError(f"{file}: tokenizer not found; train one with python -m babylm tokenizer")
    try:
        tokenizer = Tokenizer.from_file(str(file))
    except Exception as error:  # tokenizers raises a bare Exception on bad JSON
        raise TokenizerError(f"{file}: not a valid tokenizer file ({str(error)[:200]})") from None
    tokenizer.encode_special_tokens = True  # text is text (see the module docstring)
    return tokenizer


def tokenizer_fingerprint(path: str | os.PathLike, without_mask: bool = False) -> str:
    """Return a short sha256 of the tokenizer's vocabulary and merges (stable across re-saves).

    ``without_mask``: fingerprint it as if it had no added :data:`MASK` token, so the export of a hybrid model
    (:func:`add_mask_token`) matches the tokenizer it was trained with.
    """
    tokenizer = load_tokenizer(path)
    canonical = Tokenizer.to_str(tokenizer, pretty=False)
    if without_mask:
        data = json.loads(canonical)
        data["added_tokens"] = [t for t in data.get("added_tokens") or [] if t.get("content") != MASK]
        unmasked = Tokenizer.from_str(json.dumps(data))
        unmasked.encode_special_tokens = True
        canonical = Tokenizer.to_str(unmasked, pretty=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def add_mask_token(tokenizer, mask_id: int) -> None:
    """Give a transformers tokenizer the special token :data:`MASK` at id ``mask_id`` (its current size); in place.

    Raises :class:`TokenizerError` when the id it would get is not ``mask_id`` (the tokenizer is not the one the
    model was trained with). Text is still text: ``"<mask>"`` typed in a sentence stays characters.
    """
    if tokenizer.mask_token is None:
        tokenizer.add_special_tokens({"mask_token": MASK})
    if tokenizer.mask_token_id != mask_id:
        raise TokenizerError(f"the tokenizer's {tokenizer.mask_token} has id {tokenizer.mask_token_id}, but the model "
                             f"was trained with <mask> = {mask_id}; pass the tokenizer the model was trained with")


def to_hf_tokenizer(tokenizer: Tokenizer, model_max_length: int = 128):
    """Wrap a ``tokenizers.Tokenizer`` as a ``PreTrainedTokenizerFast`` with bos/eos/pad set; returns it."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        model_max_length=model_max_length,
        split_special_tokens=True,
    )


def save_hf_tokenizer(tokenizer, folder: str | os.PathLike) -> None:
    """``tokenizer.save_pretrained(folder)`` (a transformers tokenizer), then make ``tokenizer_config.json`` portable.

    The ``tokenizer_class`` becomes :data:`PORTABLE_TOKENIZER_CLASS` (see the module docstring); the file is
    rewritten atomically. Returns nothing.
    """
    tokenizer.save_pretrained(str(folder))
    config_path = Path(folder) / "tokenizer_config.json"
    config = read_json(config_path)
    config["tokenizer_class"] = PORTABLE_TOKENIZER_CLASS
    atomic_write_json(config_path, config)


def load_hf_tokenizer(path: str | os.PathLike):
    """Load a tokenizer for transformers from an HF directory or a ``tokenizers`` JSON file; returns it.

    A bare JSON file gets our special tokens; a directory is read with ``AutoTokenizer`` and
    ``trust_remote_code=False``, after refusing (:class:`TokenizerError`, one line, nothing run) a
    directory whose configuration names custom code (``auto_map``). Either way ``split_special_tokens`` is
    on. Raises :class:`TokenizerError` for anything that cannot be loaded.
    """
    path = Path(path)
    if path.is_dir():
        from transformers import AutoTokenizer

        if not (path / "tokenizer.json").is_file() and not (path / "tokenizer_config.json").is_file():
            raise TokenizerError(f"{path}: no tokenizer files in this directory")
        try:
            refuse_remote_code(path)
        except UnsafeFolderError as error:
            raise TokenizerError(str(error)) from None
        try:
            return AutoTokenizer.from_pretrained(str(path), trust_remote_code=False, split_special_tokens=True)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise TokenizerError(f"{path}: cannot load the tokenizer ({first_line[:200]})") from None
    return to_hf_tokenizer(load_tokenizer(path))

