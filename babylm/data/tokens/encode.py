"""Encode the text splits once into ``uint16`` token files that the DataModule memory-maps.

Run: ``python -m babylm encode --help`` (also ``python scripts/encode.py``, ``python -m babylm.data.tokens.encode``).
Reads ``data/corpus_split/{train,val}.txt`` and the tokenizer (``checkpoints/tokenizer-clean.json``);
writes ``data/tokenized/<tokenizer-fingerprint>/{train,val}.bin`` (raw little-endian ``uint16`` ids, one
packed stream per split) and ``meta.json`` (tokenizer fingerprint and vocabulary size, source size, mtime
and sha256, token, word and document counts per split). ``meta.json`` is written last, every file
atomically, so a killed run never leaves a ``.bin`` that ``meta.json`` vouches for but is incomplete.

The token stream is ``<s> doc </s> <s> doc </s> …``. Documents are the text between the cleaner's
literal ``<s>``/``</s>`` markers; text outside markers (a plain file) is split into documents at blank
lines. Each document is stripped, encoded without special tokens and wrapped in ``<s>``/``</s>`` by this
module, so a marked file never gets a doubled ``<s>``, and the newlines between articles are not tokens.

Reading is streamed (1 MiB chunks; a document longer than ``max_doc_chars`` is cut at a line break
that is also a pre-token boundary, which leaves its tokens unchanged), batches of documents go to
``Tokenizer.encode_batch`` (Rust threads; a second batch is parsed while one is encoded). A split is
re-used when its source has the same size and mtime as recorded (or, if only the mtime moved, the same
sha256) and its ``.bin`` is intact; otherwise it is rebuilt.
"""

from __future__ import annotations

import argparse
import codecs
import hashlib
import os
import re
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from babylm.core.arguments import CommandParser, run_command
from babylm.core.atomic import (
    LockBusy,
    atomic_output,
    atomic_write_json,
    exclusive_lock,
    remove_stale_temporaries,
)
from babylm.core.safe_json import JsonError, read_json
from babylm.data.layout import DEFAULT, TOKENIZER_PATH
from babylm.data.tokens.documents import EOS, MAX_PIECE_CHARS, DocPiece, iter_documents
from babylm.data.tokens.tokenizer import BOS, TokenizerError, file_sha256, load_tokenizer, tokenizer_fingerprint

FORMAT_VERSION = 1  # bump when the token stream layout changes: old encodings are then rebuilt
DTYPE = "uint16"
MAX_VOCAB = 65_535
DEFAULT_SPLITS = ("train", "val")
_SPLIT_NAME = re.compile(r"[A-Za-z0-9_-]+")
READ_BYTES = 1 << 20
BATCH_CHARS = 1 << 20
MAX_DOC_CHARS = MAX_PIECE_CHARS
_REFILL = "split a corpus that has text into it (python -m babylm prepare, or --split-dir a folder of non-empty splits)"



class EncodeError(ValueError):
    """Token files are missing, stale, or cannot be built from the given inputs."""


def _read_text_chunks(path: Path, digest: "hashlib._Hash", read_bytes: int = READ_BYTES) -> Iterator[str]:
    """Yield the UTF-8 text of ``path`` in chunks, feeding every byte into ``digest``."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    offset = 0
    with open(path, "rb") as handle:
        while block := handle.read(read_bytes):
            digest.update(block)
            try:
                yield decoder.decode(block)
            except UnicodeDecodeError as error:
                raise EncodeError(
                    f"{path}: not UTF-8 near byte {offset + error.start}; re-run the clean/split stages"
                ) from error
            offset += len(block)
        yield decoder.decode(b"", final=True)


def _batches(pieces: Iterable[DocPiece], batch_chars: int) -> Iterator[list[DocPiece]]:
    batch: list[DocPiece] = []
    size = 0
    for piece in pieces:
        batch.append(piece)
        size += len(piece.text)
        if size >= batch_chars:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _encode_batch(tokenizer, batch: list[DocPiece], bos_id: int, eos_id: int) -> tuple[np.ndarray, int]:
    """Encode one batch; returns (uint16 ids of the batch in order, number of words)."""
    texts = []
    for piece in batch:
        text = piece.text.lstrip() if piece.first else piece.text
        texts.append(text.rstrip() if piece.last else text)
    encodings = tokenizer.encode_batch_fast(texts, add_special_tokens=False)
    parts = []
    for piece, encoding in zip(batch, encodings):
        if piece.first:
            parts.append(np.array([bos_id], dtype=np.uint16))
        parts.append(np.asarray(encoding.ids, dtype=np.uint16))
        if piece.last:
            parts.append(np.array([eos_id], dtype=np.uint16))
    words = sum(len(text.split()) for text in texts)
    return np.concatenate(parts), words


@dataclass(frozen=True)
class SplitStats:
    """What :func:`encode_file` wrote: token, word and document counts, and the source's sha256."""

    tokens: int
    words: int
    documents: int
    sha256: str


def encode_file(
    tokenizer,
    source: str | os.PathLike,
    out_bin: str | os.PathLike,
    batch_chars: int = BATCH_CHARS,
    max_doc_chars: int = MAX_DOC_CHARS,
) -> SplitStats:
    """Tokenize text file ``source`` into the ``uint16`` stream ``out_bin`` (atomically); returns its stats.

    ``tokenizer`` is a ``tokenizers.Tokenizer`` with ``<s>``/``</s>`` in its vocabulary.
    """
    source = Path(source)
    tokenizer.encode_special_tokens = True  # text is text: "<pad>" or "<s>" in it never become special ids
    bos_id, eos_id = tokenizer.token_to_id(BOS), tokenizer.token_to_id(EOS)
    if bos_id is None or eos_id is None:
        raise EncodeError(f"the tokenizer has no {BOS}/{EOS} tokens; train it with python -m babylm tokenizer")
    digest = hashlib.sha256()
    pieces = iter_documents(_read_text_chunks(source, digest), max_doc_chars=max_doc_chars)
    tokens = words = documents = 0
    pending: deque[Future] = deque()
    with ThreadPoolExecutor(max_workers=1) as pool, atomic_output(out_bin, "wb") as out:

        def drain(keep: int) -> None:
            nonlocal tokens, words
            while len(pending) > keep:
                ids, batch_words = pending.popleft().result()
                out.write(ids.tobytes())
                tokens += len(ids)
                words += batch_words

        for batch in _batches(pieces, batch_chars):
            documents += sum(piece.last for piece in batch)
            pending.append(pool.submit(_encode_batch, tokenizer, batch, bos_id, eos_id))
            drain(keep=1)  # encode one batch while the next is read and parsed
        drain(keep=0)
    return SplitStats(tokens=tokens, words=words, documents=documents, sha256=digest.hexdigest())


def read_meta(out_dir: str | os.PathLike) -> dict | None:
    """Return the checked ``meta.json`` of an encoding directory, or None when there is none.

    Raises :class:`EncodeError` naming the file (and ``encode --force``) when it exists but is damaged,
    of another format version, or has a field of the wrong type (see :func:`check_meta`).
    """
    path = Path(out_dir) / "meta.json"
    if not path.is_file():
        return None
    try:
        return check_meta(read_json(path))
    except (JsonError, ValueError) as error:
        reason = str(error).removeprefix(f"{path}: ")
        raise EncodeError(f"{path}: {reason}; run `python -m babylm encode --force` to rebuild it") from None


def check_meta(meta: object) -> dict:
    """Return ``meta`` if it has the shape :func:`encode_splits` writes, else raise ``ValueError`` naming
    the first wrong field (a split's ``bin`` must be ``<split>.bin``: never a path elsewhere)."""

    def need(ok: bool, field: str, what: str) -> None:
        if not ok:
            raise ValueError(f"field '{field}' {what}")

    def count(value: object) -> bool:
        return type(value) is int and value >= 0

    need(isinstance(meta, dict), "(top level)", "is not a JSON object")
    need(meta.get("format_version") == FORMAT_VERSION, "format_version",
         f"is {meta.get('format_version')!r}, not {FORMAT_VERSION} (written by another version)")
    need(meta.get("dtype") == DTYPE, "dtype", f"is not {DTYPE!r}")
    tokenizer = meta.get("tokenizer")
    need(isinstance(tokenizer, dict) and isinstance(tokenizer.get("fingerprint"), str)
         and isinstance(tokenizer.get("path"), str), "tokenizer", "is not {fingerprint, path, vocab_size}")
    need(count(tokenizer.get("vocab_size")) and 0 < tokenizer["vocab_size"] <= MAX_VOCAB + 1, "tokenizer.vocab_size",
         "is not a vocabulary size that fits uint16")
    splits = meta.get("splits")
    need(isinstance(splits, dict), "splits", "is not a JSON object")
    for name, entry in splits.items():
        need(isinstance(entry, dict) and entry.get("bin") == f"{name}.bin", f"splits.{name}.bin",
             f"is not '{name}.bin'")
        for key in ("tokens", "words", "documents"):
            need(count(entry.get(key)), f"splits.{name}.{key}", "is not a count")
        source = entry.get("source")
        need(isinstance(source, dict) and isinstance(source.get("path"), str) and isinstance(source.get("sha256"), str)
             and count(source.get("size")) and type(source.get("mtime_ns")) is int,
             f"splits.{name}.source", "is not {path, size, mtime_ns, sha256}")
    return meta


def _reusable(entry: dict | None, source: Path, out_dir: Path) -> bool:
    """Whether a recorded split still matches its source and its ``.bin`` (cheap checks first)."""
    if not entry:
        return False
    try:
        if (out_dir / entry["bin"]).stat().st_size != entry["tokens"] * 2:
            return False
        stat = source.stat()
        recorded = entry["source"]
        if stat.st_size != recorded["size"]:
            return False
        if stat.st_mtime_ns == recorded["mtime_ns"]:
            return True
        if file_sha256(source) != recorded["sha256"]:
            return False
        recorded["mtime_ns"] = stat.st_mtime_ns  # same bytes, touched: remember the new mtime
        return True
    except OSError:
        return False


def _previous_meta(out_dir: Path, fingerprint: str, log: Callable[[str], None]) -> dict | None:
    """The meta.json a rebuild may re-use splits from: None when missing, damaged or of another tokenizer."""
    try:
        old = read_meta(out_dir)
    except EncodeError as error:
        log(f"{error.args[0].split(';')[0]}; rebuilding every split")
        return None
    if old is not None and old["tokenizer"]["fingerprint"] != fingerprint:
        return None
    return old


def encode_splits(
    tokenizer_path: str | os.PathLike = TOKENIZER_PATH,
    split_dir: str | os.PathLike = DEFAULT.split_dir,
    out_root: str | os.PathLike = DEFAULT.tokenized,
    splits: Sequence[str] = DEFAULT_SPLITS,
    force: bool = False,
    batch_chars: int = BATCH_CHARS,
    max_doc_chars: int = MAX_DOC_CHARS,
    log: Callable[[str], None] = print,
) -> Path:
    """Encode ``split_dir/<split>.txt`` for each split; returns ``out_root/<fingerprint>`` (holding meta.json).

    Splits whose source and ``.bin`` are unchanged are re-used unless ``force``. ``log`` receives one
    line per split. Raises :class:`EncodeError` (missing or empty split, vocabulary over 65,535) or
    ``TokenizerError`` (missing or invalid tokenizer).
    """
    tokenizer = load_tokenizer(tokenizer_path)
    vocab_size = tokenizer.get_vocab_size()
    if vocab_size > MAX_VOCAB:
        raise EncodeError(
            f"{tokenizer_path}: vocabulary of {vocab_size:,} does not fit uint16 token files (at most 65,535); "
            "train a smaller tokenizer"
        )
    fingerprint = tokenizer_fingerprint(tokenizer_path)
    out_dir = Path(out_root) / fingerprint
    for split in splits:
        if not _SPLIT_NAME.fullmatch(split):
            raise EncodeError(f"--splits: {split!r} is not a split name (letters, digits, '_' and '-', e.g. train)")
    sources = {split: Path(split_dir) / f"{split}.txt" for split in splits}
    for split, source in sources.items():
        if not source.is_file():
            raise EncodeError(f"{source}: {split} split not found; "
                              "run the split stage first (python -m babylm prepare)")
        if source.stat().st_size == 0:
            raise EncodeError(f"{source}: the {split} split is empty; {_REFILL}")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise EncodeError(f"cannot create {out_dir}: {error.strerror or error}; check --out-root") from None
    busy = f"another encode is writing to {out_dir}; wait for it"
    try:
        with exclusive_lock(out_dir / ".encode.lock", busy):
            remove_stale_temporaries(out_dir)  # left by a killed run; we hold the lock, so none is live
            return _encode_locked(tokenizer, fingerprint, tokenizer_path, sources, out_dir, force, batch_chars,
                                  max_doc_chars, log)
    except LockBusy as error:
        raise EncodeError(str(error)) from None


def _encode_locked(tokenizer, fingerprint: str, tokenizer_path, sources: dict[str, Path], out_dir: Path, force: bool,
                   batch_chars: int, max_doc_chars: int, log: Callable[[str], None]) -> Path:
    """The body of :func:`encode_splits`, run while holding the encoding folder's lock."""
    splits = list(sources)
    vocab_size = tokenizer.get_vocab_size()
    old = _previous_meta(out_dir, fingerprint, log)
    old_splits = (old or {}).get("splits", {})
    kept = {} if force else {
        split: old_splits[split] for split in splits if _reusable(old_splits.get(split), sources[split], out_dir)
    }
    meta = {
        "format_version": FORMAT_VERSION,
        "dtype": DTYPE,
        "tokenizer": {"fingerprint": fingerprint, "path": str(Path(tokenizer_path).resolve()),
                      "vocab_size": vocab_size},
        # splits not asked for this time stay as recorded
        "splits": {**{k: v for k, v in old_splits.items() if k not in sources}, **kept},
    }
    if len(kept) == len(splits):
        atomic_write_json(out_dir / "meta.json", meta)  # same content unless a source was only touched
        for split in splits:
            log(f"{split}: up to date ({kept[split]['tokens']:,} tokens) in {out_dir}")
        return out_dir
    # Record only what is still valid before rebuilding, so a killed run never vouches for a stale .bin.
    atomic_write_json(out_dir / "meta.json", meta)
    for split in splits:
        if split in kept:
            log(f"{split}: up to date ({kept[split]['tokens']:,} tokens)")
            continue
        source = sources[split]
        stat = source.stat()
        start = time.perf_counter()
        stats = encode_file(tokenizer, source, out_dir / f"{split}.bin", batch_chars, max_doc_chars)
        seconds = time.perf_counter() - start
        if stats.documents == 0:  # only blank lines or empty <s></s> markers: nothing to train or validate on
            (out_dir / f"{split}.bin").unlink(missing_ok=True)  # ours, just written, vouched for by no meta.json
            raise EncodeError(f"{source}: the {split} split holds no text (only blank lines or markers); {_REFILL}")
        meta["splits"][split] = {
            "bin": f"{split}.bin",
            "tokens": stats.tokens,
            "words": stats.words,
            "documents": stats.documents,
            "source": {"path": str(source.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                       "sha256": stats.sha256},
        }
        rate = stats.tokens / seconds if seconds > 0 else float("inf")
        log(f"{split}: {stats.tokens:,} tokens, {stats.words:,} words, {stats.documents:,} documents "
            f"in {seconds:.1f} s ({rate:,.0f} tokens/s)")
        atomic_write_json(out_dir / "meta.json", meta)
    return out_dir


def build_parser() -> argparse.ArgumentParser:
    """Return the argparse parser of the encode command."""
    parser = CommandParser(
        prog="python -m babylm encode",
        description="Tokenize data/corpus_split/{train,val}.txt into uint16 token files + meta.json "
        "under data/tokenized/<tokenizer-fingerprint>/ (re-used when unchanged).",
    )
    parser.add_argument("--tokenizer", default=TOKENIZER_PATH, help="tokenizer JSON (default: %(default)s)")
    parser.add_argument("--split-dir", default=str(DEFAULT.split_dir),
                        help="folder with <split>.txt (default: %(default)s)")
    parser.add_argument("--out-root", default=str(DEFAULT.tokenized), help="output root (default: %(default)s)")
    parser.add_argument("--splits", nargs="+", default=list(DEFAULT_SPLITS),
                        help="splits to encode (default: train val)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the encode command on ``argv``; returns 0, or 2 with a one-line error on bad input."""

    def work(args) -> str:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
        out_dir = encode_splits(args.tokenizer, args.split_dir, args.out_root, args.splits, force=args.force)
        return f"token files and meta.json in {out_dir}"

    return run_command("babylm encode: error", argv, build_parser(), work, (EncodeError, TokenizerError))


if __name__ == "__main__":
    raise SystemExit(main())
