"""Byte-level BPE tokenizer: train on ``train.txt``, save as ``tokenizer-clean.json`` and as HF files.

Run: ``python -m babylm tokenizer --help`` (also ``python scripts/train_tokenizer.py``,
``python -m babylm.data.tokens.tokenizer``). Reads ``data/corpus_split/train.txt`` (and ``val.txt`` for the
fertility report); writes ``checkpoints/tokenizer-clean.json`` (the raw ``tokenizers`` file) and
``checkpoints/tokenizer/`` (``tokenizer.json`` + ``tokenizer_config.json``, loadable with
``AutoTokenizer.from_pretrained`` in transformers 4.x and 5.x; see :mod:`.tokenizer_files`).

Special tokens are fixed: ``<pad>`` = 0, ``<s>`` = 1, ``</s>`` = 2. Encoding with special tokens
prepends ``<s>`` (a ``TemplateProcessing`` post-processor), so the first word of a sentence is scored in
evaluation. **Text is text**: every tokenizer this module returns encodes the strings ``<pad>``, ``<s>``
and ``</s>`` found in text as the characters they are (``tokenizers``' ``encode_special_tokens``,
transformers' ``split_special_tokens``; saved in the HF files too), so a special id only ever comes from
the post-processor or from the encode stage, which reads the cleaner's ``<s>``/``</s>`` article markers
itself. Training skips those markers (they are not text, and would otherwise cost merges such as ``Ġ</``).
Training and the fertility report read the text in bounded pieces (:mod:`babylm.data.tokens.documents`),
so memory follows :data:`~babylm.data.tokens.documents.MAX_PIECE_CHARS`, not the longest line.

Reading and writing the files (raw JSON, HF folder; no code from a folder ever runs) is
:mod:`babylm.data.tokens.tokenizer_files`; its names are importable from here too.

The command also writes ``<out stem>.report.json`` beside the tokenizer (vocabulary size, training time,
fertility = tokens per word on val, input hashes); when the inputs and settings are unchanged and the
outputs exist it reports "up to date" and does not retrain (``--force`` retrains). The tokenizer, the HF
files and the report are written only once training and the report succeeded (each file atomically);
an empty training text is an error.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from babylm.core.arguments import CommandParser, positive_int, run_command
from babylm.core.atomic import (
    LockBusy,
    atomic_write_json,
    atomic_write_text,
    exclusive_lock,
    remove_stale_temporaries,
    temporary_folder,
    temporary_target,
    usual_permissions,
)
from babylm.core.outputs import OutputError, check_writable, claim_files
from babylm.core.safe_json import JsonError, read_json
from babylm.data.layout import DEFAULT, TOKENIZER_HF_DIR, TOKENIZER_PATH
from babylm.data.tokens.documents import BOS, MAX_PIECE_CHARS, NotUtf8, bounded_pieces, file_pieces
from babylm.data.tokens.tokenizer_files import (  # noqa: F401 (re-exported: the tokenizer's public names)
    HF_FILES,
    PAD,
    SPECIAL_TOKENS,
    TokenizerError,
    load_hf_tokenizer,
    load_tokenizer,
    save_hf_tokenizer,
    to_hf_tokenizer,
    tokenizer_fingerprint,
)

DEFAULT_VOCAB_SIZE = 16_000
_MARKERS = re.compile(r"</?s>")
_PIECES_PER_BATCH = 1000


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
    piece_chars: int = MAX_PIECE_CHARS,
    show_progress: bool = False,
) -> Tokenizer:
    """Train a byte-level BPE on text ``files`` (or an iterable of ``texts``); returns the Tokenizer.

    ``vocab_size`` counts the three special tokens and the 256 byte symbols; a corpus too small to reach
    it yields a smaller vocabulary. Text reaches the trainer in pieces of at most ``piece_chars``
    characters (:func:`~babylm.data.tokens.documents.bounded_pieces`: the same merges as whole lines).
    ``show_progress`` draws the ``tokenizers`` trainer's own progress bars (reading, counting pairs, merges)
    on stderr. Raises :class:`TokenizerError` when the files hold no text or are not UTF-8.
    """
    if vocab_size > 65_535:
        raise TokenizerError(f"vocab_size {vocab_size} does not fit the uint16 token files; use at most 65,535")
    tokenizer = new_byte_level_bpe()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=show_progress,
    )
    if texts is not None:
        pieces = (piece for text in texts for piece in bounded_pieces(text, piece_chars))
        tokenizer.train_from_iterator(pieces, trainer=trainer)
    else:
        paths = [str(f) for f in files or []]
        for path in paths:
            if not Path(path).is_file():
                raise TokenizerError(f"{path}: training text not found; "
                                     "run the split stage first (python -m babylm prepare)")
        seen = [0]
        tokenizer.train_from_iterator(_text_lines(paths, seen, piece_chars), trainer=trainer)
        if not seen[0]:
            raise TokenizerError(f"{', '.join(paths)}: no text to train on (empty, or only <s>/</s> markers); "
                                 "run the split stage first (python -m babylm prepare)")
    _add_bos_template(tokenizer)
    tokenizer.encode_special_tokens = True
    return tokenizer


def _text_lines(paths: Sequence[str], seen: list[int] | None = None,
                limit: int = MAX_PIECE_CHARS) -> Iterator[list[str]]:
    """Yield batches of the files' text: lines (newline kept) with the ``<s>``/``</s>`` markers removed,
    a line longer than ``limit`` characters in pieces (see :mod:`babylm.data.tokens.documents`).

    Batches hold at most 1000 pieces or about ``limit`` characters. ``seen[0]`` counts the
    pieces yielded. Raises :class:`TokenizerError` naming the file and byte on text that is not UTF-8.
    """
    batch: list[str] = []
    size = 0
    try:
        for path in paths:
            for piece in file_pieces(path, limit):
                text = _MARKERS.sub("", piece)
                if not text.strip():
                    continue
                batch.append(text)
                size += len(text)
                if seen is not None:
                    seen[0] += 1
                if len(batch) >= _PIECES_PER_BATCH or size >= limit:
                    yield batch
                    batch, size = [], 0
    except NotUtf8 as error:
        raise TokenizerError(str(error)) from None
    if batch:
        yield batch


def save_tokenizer(tokenizer: Tokenizer, json_path: str | os.PathLike, hf_dir: str | os.PathLike | None = None) -> None:
    """Save ``tokenizer`` to ``json_path`` and, if given, HF files into ``hf_dir``; returns nothing.

    Every file is written atomically: the HF files are saved into a temporary folder beside ``hf_dir``
    and renamed into it one by one.
    """
    atomic_write_text(json_path, tokenizer.to_str(pretty=True))
    if hf_dir is not None:
        staged = temporary_folder(hf_dir)
        try:
            save_hf_tokenizer(to_hf_tokenizer(tokenizer), staged)
            usual_permissions(staged)  # the files keep their mode when moved out of the (0700) staging folder
            Path(hf_dir).mkdir(parents=True, exist_ok=True)
            for file in staged.iterdir():
                os.replace(file, Path(hf_dir) / file.name)
        finally:
            shutil.rmtree(staged, ignore_errors=True)


def check_outputs(out: str | os.PathLike, hf_dir: str | os.PathLike | None) -> None:
    """Raise :class:`TokenizerError` unless ``out`` may be (over)written as a file and ``hf_dir`` holds
    nothing but tokenizer files of ours (the command never overwrites what it did not write)."""
    out = Path(out)
    if out.is_dir():
        raise TokenizerError(f"--out {out} is a folder; give the tokenizer file to write, "
                             f"e.g. {out / 'tokenizer-clean.json'}")
    if hf_dir is None:
        return
    hf_dir = Path(hf_dir)
    if hf_dir.exists() and not hf_dir.is_dir():
        raise TokenizerError(f"--hf-dir {hf_dir} is a file; give a folder for the HF tokenizer files")
    foreign = sorted(p.name for p in hf_dir.iterdir() if p.name not in HF_FILES and temporary_target(p.name) is None) \
        if hf_dir.is_dir() else []
    if foreign:
        raise TokenizerError(f"--hf-dir {hf_dir} holds {foreign[0]}, which this command did not write; "
                             "pass an empty or new folder")


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
    out: str | os.PathLike = TOKENIZER_PATH,
    hf_dir: str | os.PathLike | None = TOKENIZER_HF_DIR,
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    min_frequency: int = 2,
    force: bool = False,
    log: Callable[[str], None] | None = None,
    show_progress: bool = False,
) -> dict:
    """Train on ``train``, save to ``out`` (+ ``hf_dir``), measure fertility on ``val``; returns the report.

    ``log`` gets a line as each step starts (training, fertility, saving); ``show_progress`` draws the
    trainer's progress bars (:func:`train_tokenizer`).
    The report (also written to :func:`report_path`) holds the settings, input hashes, vocabulary size,
    training seconds, fertility and fingerprint. Unchanged inputs/settings with existing outputs are not
    retrained (the old report comes back with ``"up_to_date": True``) unless ``force``.
    """
    for path in [*train, *([val] if val else [])]:
        if not Path(path).is_file():
            raise TokenizerError(f"{path}: text file not found; run the split stage first "
                                 "(python -m babylm prepare) or pass --train/--val")
    check_outputs(out, hf_dir)
    out = Path(out)
    try:
        lock = exclusive_lock(out.with_name(f".{out.name}.lock"),
                              f"another tokenizer run is writing {out}; wait for it")
        with lock:
            _remove_stale_outputs(out, hf_dir)
            check_writable(out.parent, [out.name, report_path(out).name], "tokenizer", "--out")  # never a file of yours
            return _train_and_report_locked(train, val, out, hf_dir, vocab_size, min_frequency, force,
                                            log or (lambda line: None), show_progress)
    except (LockBusy, OutputError) as error:
        raise TokenizerError(str(error)) from None


def _remove_stale_outputs(out: Path, hf_dir: str | os.PathLike | None) -> None:
    """Temporary files and folders of ours that a killed run left (we hold the lock: none is live)."""
    remove_stale_temporaries(out.parent, [out.name, report_path(out).name])
    if hf_dir is not None:
        remove_stale_temporaries(Path(hf_dir).parent, [Path(hf_dir).name])
        remove_stale_temporaries(hf_dir, HF_FILES)


def _train_and_report_locked(train, val, out: Path, hf_dir, vocab_size: int, min_frequency: int, force: bool,
                             log: Callable[[str], None], show_progress: bool) -> dict:
    """The body of :func:`train_and_report`; nothing is written unless training and the report succeed."""
    inputs = {
        "train": [{"path": str(Path(p).resolve()), "sha256": file_sha256(p)} for p in train],
        "val": {"path": str(Path(val).resolve()), "sha256": file_sha256(val)} if val else None,
        "vocab_size": vocab_size,
        "min_frequency": min_frequency,
        "hf_dir": str(Path(hf_dir).resolve()) if hf_dir else None,
    }
    previous = _read_report(out)
    outputs_exist = out.is_file() and (hf_dir is None or (Path(hf_dir) / "tokenizer.json").is_file())
    if not force and previous is not None and previous.get("inputs") == inputs and outputs_exist:
        try:
            if previous.get("fingerprint") == tokenizer_fingerprint(out):
                return {**previous, "up_to_date": True}
        except TokenizerError:
            pass  # a damaged tokenizer file: train again
    start = time.perf_counter()
    size = sum(Path(p).stat().st_size for p in train) / 1e6
    log(f"training a {vocab_size:,}-token byte-level BPE on {', '.join(map(str, train))} ({size:,.1f} MB)…")
    tokenizer = train_tokenizer(list(train), vocab_size=vocab_size, min_frequency=min_frequency,
                                show_progress=show_progress)
    seconds = time.perf_counter() - start
    log(f"trained in {seconds:.1f} s" + (f"; measuring tokens per word on {val}…" if val else ""))
    val_fertility = fertility(tokenizer, val) if val else None  # before anything is written
    claim_files(out.parent, [out.name, report_path(out).name], "tokenizer", "--out")  # recorded before written
    save_tokenizer(tokenizer, out, hf_dir)
    report = {
        "inputs": inputs,
        "vocab_size": tokenizer.get_vocab_size(),
        "training_seconds": round(seconds, 3),
        "val_fertility": val_fertility,
        "fingerprint": tokenizer_fingerprint(out),
        "tokenizer": str(out),
        "hf_dir": str(hf_dir) if hf_dir else None,
    }
    atomic_write_json(report_path(out), report)
    return {**report, "up_to_date": False}


def _read_report(out: str | os.PathLike) -> dict | None:
    try:
        report = read_json(report_path(out))
    except JsonError:
        return None
    return report if isinstance(report, dict) else None


def build_parser() -> argparse.ArgumentParser:
    """Return the argparse parser of the tokenizer command."""
    parser = CommandParser(
        prog="python -m babylm tokenizer",
        description="Train the byte-level BPE tokenizer on train.txt; write tokenizer-clean.json, HF tokenizer "
        "files and a report (training time, tokens per word on val).",
    )
    parser.add_argument("--train", nargs="+", default=[str(DEFAULT.split_dir / "train.txt")],
                        help="training text file(s) (default: %(default)s)")
    parser.add_argument("--val", default=str(DEFAULT.split_dir / "val.txt"),
                        help='text for the fertility report; "" to skip (default: %(default)s)')
    parser.add_argument("--vocab-size", type=positive_int, default=DEFAULT_VOCAB_SIZE,
                        help="vocabulary size incl. 3 specials and 256 bytes (default: %(default)s)")
    parser.add_argument("--min-frequency", type=positive_int, default=2,
                        help="least count of a pair to be merged (default: %(default)s)")
    parser.add_argument("--out", default=TOKENIZER_PATH, help="tokenizer JSON to write (default: %(default)s)")
    parser.add_argument("--hf-dir", default=TOKENIZER_HF_DIR,
                        help='folder for the HF tokenizer files; "" to skip (default: %(default)s)')
    parser.add_argument("--force", action="store_true", help="retrain even when inputs and settings are unchanged")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tokenizer command on ``argv``; returns 0, or 2 with a one-line error on bad input."""

    def work(args) -> str:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
        if args.vocab_size < len(SPECIAL_TOKENS) + 256:
            raise TokenizerError(f"--vocab-size {args.vocab_size} is below 259 (3 specials + 256 bytes)")
        report = train_and_report(args.train, args.val or None, args.out, args.hf_dir or None,
                                  args.vocab_size, args.min_frequency, force=args.force,
                                  log=lambda line: print(line, file=sys.stderr, flush=True),
                                  show_progress=sys.stderr.isatty())
        state = "up to date" if report["up_to_date"] else f"trained in {report['training_seconds']:.1f} s"
        line = f"{args.out}: {state}, vocabulary {report['vocab_size']:,}, fingerprint {report['fingerprint']}"
        if report["val_fertility"]:
            line += f", val fertility {report['val_fertility']['tokens_per_word']:.3f} tokens/word"
        return line

    return run_command("babylm tokenizer: error", argv, build_parser(), work, (TokenizerError,))


if __name__ == "__main__":
    raise SystemExit(main())
