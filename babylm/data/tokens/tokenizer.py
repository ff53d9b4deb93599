"""Byte-level BPE tokenizer: train on ``train.txt``, save as ``tokenizer-clean.json`` and as HF files.

Run: ``python scripts/train_tokenizer.py --help`` (or ``python -m babylm.data.tokens.tokenizer``).
Reads ``data/corpus_split/train.txt`` (and ``val.txt`` for the fertility report); writes
``checkpoints/tokenizer-clean.json`` (the raw ``tokenizers`` file) and ``checkpoints/tokenizer/``
(``tokenizer.json`` + ``tokenizer_config.json``, loadable with ``AutoTokenizer.from_pretrained``).

Special tokens are fixed: ``<pad>`` = 0, ``<s>`` = 1, ``</s>`` = 2. Encoding with special tokens
prepends ``<s>`` (a ``TemplateProcessing`` post-processor), so the first word of a sentence is scored in
evaluation. The literal markers ``<s>``/``</s>`` that the cleaner writes around each article are matched
as the special tokens themselves. Training skips those markers (they are not text, and would
otherwise cost merges such as ``Ġ</``).

The command also writes ``<out stem>.report.json`` beside the tokenizer (vocabulary size, training time,
fertility = tokens per word on val, input hashes); when the inputs and settings are unchanged and the
outputs exist it reports "up to date" and does not retrain (``--force`` retrains).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
SPECIAL_TOKENS = (PAD, BOS, EOS)  # ids 0, 1, 2 in this order
DEFAULT_VOCAB_SIZE = 16_000
_MARKERS = re.compile(r"</?s>")
_LINES_PER_BATCH = 1000


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
        tokenizer.train_from_iterator(_text_lines(paths), trainer=trainer)
    _add_bos_template(tokenizer)
    return tokenizer


def _text_lines(paths: Sequence[str]) -> Iterator[list[str]]:
    """Yield batches of the files' lines (newline kept) with the ``<s>``/``</s>`` markers removed."""
    batch: list[str] = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                text = _MARKERS.sub("", line)
                if text.strip():
                    batch.append(text)
                if len(batch) >= _LINES_PER_BATCH:
                    yield batch
                    batch = []
    if batch:
        yield batch


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


def fertility(tokenizer: Tokenizer, path: str | os.PathLike) -> dict:
    """Measure tokens per word on a text file (markers removed, line by line, no special tokens).

    Returns ``{"words": int, "tokens": int, "tokens_per_word": float}``; a *word* is a
    whitespace-separated piece of text, as in the split stage's word counts.
    """
    words = tokens = 0
    for batch in _text_lines([str(path)]):
        words += sum(len(line.split()) for line in batch)
        tokens += sum(len(e.ids) for e in tokenizer.encode_batch_fast(batch, add_special_tokens=False))
    return {"words": words, "tokens": tokens, "tokens_per_word": tokens / words if words else float("nan")}


def file_sha256(path: str | os.PathLike) -> str:
    """Return the hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def report_path(json_path: str | os.PathLike) -> Path:
    """Return where the training report of the tokenizer at ``json_path`` lives (``<stem>.report.json``)."""
    json_path = Path(json_path)
    return json_path.with_name(json_path.stem + ".report.json")


def train_and_report(
    train: Sequence[str | os.PathLike],
    val: str | os.PathLike | None,
    out: str | os.PathLike = "checkpoints/tokenizer-clean.json",
    hf_dir: str | os.PathLike | None = "checkpoints/tokenizer",
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    min_frequency: int = 2,
    force: bool = False,
) -> dict:
    """Train on ``train``, save to ``out`` (+ ``hf_dir``), measure fertility on ``val``; returns the report.

    The report (also written to :func:`report_path`) holds the settings, input hashes, vocabulary size,
    training seconds, fertility and fingerprint. Unchanged inputs/settings with existing outputs are not
    retrained (the old report comes back with ``"up_to_date": True``) unless ``force``.
    """
    for path in [*train, *([val] if val else [])]:
        if not Path(path).is_file():
            raise TokenizerError(f"{path}: text file not found; run the split stage first (or pass --train/--val)")
    inputs = {
        "train": [{"path": str(Path(p).resolve()), "sha256": file_sha256(p)} for p in train],
        "val": {"path": str(Path(val).resolve()), "sha256": file_sha256(val)} if val else None,
        "vocab_size": vocab_size,
        "min_frequency": min_frequency,
        "hf_dir": str(Path(hf_dir).resolve()) if hf_dir else None,
    }
    previous = _read_report(out)
    outputs_exist = Path(out).is_file() and (hf_dir is None or (Path(hf_dir) / "tokenizer.json").is_file())
    if not force and previous is not None and previous.get("inputs") == inputs and outputs_exist:
        if previous.get("fingerprint") == tokenizer_fingerprint(out):
            return {**previous, "up_to_date": True}
    start = time.perf_counter()
    tokenizer = train_tokenizer(list(train), vocab_size=vocab_size, min_frequency=min_frequency)
    seconds = time.perf_counter() - start
    save_tokenizer(tokenizer, out, hf_dir)
    report = {
        "inputs": inputs,
        "vocab_size": tokenizer.get_vocab_size(),
        "training_seconds": round(seconds, 3),
        "val_fertility": fertility(tokenizer, val) if val else None,
        "fingerprint": tokenizer_fingerprint(out),
        "tokenizer": str(Path(out)),
        "hf_dir": str(hf_dir) if hf_dir else None,
    }
    from babylm.atomic import atomic_write_json

    atomic_write_json(report_path(out), report)
    return {**report, "up_to_date": False}


def _read_report(out: str | os.PathLike) -> dict | None:
    try:
        report = json.loads(report_path(out).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def build_parser() -> argparse.ArgumentParser:
    """Return the argparse parser of the tokenizer command."""
    parser = argparse.ArgumentParser(
        prog="python scripts/train_tokenizer.py",
        description="Train the byte-level BPE tokenizer on train.txt; write tokenizer-clean.json, HF tokenizer "
        "files and a report (training time, tokens per word on val).",
    )
    parser.add_argument("--train", nargs="+", default=["data/corpus_split/train.txt"], help="training text file(s) (default: %(default)s)")
    parser.add_argument("--val", default="data/corpus_split/val.txt", help='text for the fertility report; "" to skip (default: %(default)s)')
    parser.add_argument("--vocab-size", type=int, default=DEFAULT_VOCAB_SIZE, help="vocabulary size incl. 3 specials and 256 bytes (default: %(default)s)")
    parser.add_argument("--min-frequency", type=int, default=2, help="least count of a pair to be merged (default: %(default)s)")
    parser.add_argument("--out", default="checkpoints/tokenizer-clean.json", help="tokenizer JSON to write (default: %(default)s)")
    parser.add_argument("--hf-dir", default="checkpoints/tokenizer", help='folder for the HF tokenizer files; "" to skip (default: %(default)s)')
    parser.add_argument("--force", action="store_true", help="retrain even when inputs and settings are unchanged")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tokenizer command on ``argv``; returns 0, or 2 with a one-line error on bad input."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    if args.vocab_size < len(SPECIAL_TOKENS) + 256:
        print(f"tokenizer: error: --vocab-size {args.vocab_size} is below 259 (3 specials + 256 bytes)", file=sys.stderr)
        return 2
    try:
        report = train_and_report(args.train, args.val or None, args.out, args.hf_dir or None,
                                  args.vocab_size, args.min_frequency, force=args.force)
    except (TokenizerError, UnicodeDecodeError) as error:
        print(f"tokenizer: error: {error}", file=sys.stderr)
        return 2
    state = "up to date" if report["up_to_date"] else f"trained in {report['training_seconds']:.1f} s"
    line = f"{args.out}: {state}, vocabulary {report['vocab_size']:,}, fingerprint {report['fingerprint']}"
    if report["val_fertility"]:
        line += f", val fertility {report['val_fertility']['tokens_per_word']:.3f} tokens/word"
    print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
