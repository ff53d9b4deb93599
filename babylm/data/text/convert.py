"""Convert stage: article JSON → plain text files, content only.

Run it::

    python -m babylm.data.text.convert [--input data/britannica_data] [--output data/britannica_txt] [--force]
    python scripts/convert.py --help

Reads every ``<input>/volume_XX/part_XX/<stem>.json`` written by the scraper or an ingest
(``{"url", "title", "content", "timestamp"}``) and writes ``<output>/volume_XX/part_XX/<stem>.txt`` holding
the ``content`` field only: line ends normalised to ``\\n``, trailing spaces removed, leading and trailing
blank lines dropped, one final newline. Nothing else is changed (cleaning is the clean stage's job).

Resumable and incremental: a text file newer than its JSON is left alone (``--force`` rewrites all).
A JSON file that is malformed (not UTF-8, not JSON, nested too deeply), not an object, without a string
``content``, with a lone surrogate escape (``"\\ud800"``, not text) in it or with empty content is skipped
with a warning and counted, never stopping the run (a leading UTF-8 byte-order mark is accepted); a text
file left from an earlier version of it, and any text file whose JSON no longer exists, is removed, so the
output tree always mirrors the input — but only text files convert wrote (listed in
``<output>/.babylm-convert.json``) or that mirror an article: a stray ``volume_*/part_*/*.txt`` of anyone
else's is refused with one line (exit 2), never deleted.
``progress.json``, ``scraper.log`` and other files outside ``volume_*/part_*/`` are ignored.
Each text file is written atomically; one convert at a time per output tree (``.convert.lock``), and the
temporary files a killed run left there are removed at the next start.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from babylm.core.arguments import CommandParser, run_command
from babylm.core.atomic import (
    LockBusy,
    atomic_write_json,
    atomic_write_text,
    exclusive_lock,
    remove_stale_temporaries,
)
from babylm.core.safe_json import JsonError, loads, lone_surrogate, read_json
from babylm.data.layout import DEFAULT

log = logging.getLogger(__name__)

ARTICLE_GLOB = "volume_*/part_*/*.json"
"""Where the article JSON files sit under the input directory."""


class ConvertError(ValueError):
    """A JSON article that cannot be converted, or a missing input directory; the message names it."""


def article_content(record: object, source: str = "<record>") -> str:
    """Return the normalised ``content`` of one parsed article JSON ``record``.

    Raises :class:`ConvertError` naming ``source`` when the record is not an object, has no string
    ``content``, or the content is empty (only whitespace).
    """
    if not isinstance(record, dict):
        raise ConvertError(f"{source}: expected a JSON object with a 'content' field, found {type(record).__name__}")
    content = record.get("content")
    if not isinstance(content, str):
        raise ConvertError(f"{source}: field 'content' is missing or not a string")
    surrogate = lone_surrogate(content)
    if surrogate:
        raise ConvertError(f"{source}: field 'content' holds {surrogate}")
    text = normalise_content(content)
    if not text:
        raise ConvertError(f"{source}: field 'content' is empty")
    return text


def normalise_content(content: str) -> str:
    """Line ends → ``\\n``, trailing spaces stripped, outer blank lines dropped, one final newline.

    Returns ``""`` for content that is only whitespace.
    """
    lines = [line.rstrip() for line in content.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def read_article_json(path: Path) -> str:
    """Read one article JSON file; returns its normalised content or raises :class:`ConvertError`."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConvertError(f"{path}: cannot read ({error.strerror})") from None
    try:
        record = loads(raw)
    except JsonError as error:
        raise ConvertError(f"{path}: malformed: {error}") from None
    return article_content(record, str(path))


def iter_article_jsons(input_dir: Path) -> Iterator[Path]:
    """The article JSON files under ``input_dir`` (``volume_*/part_*/*.json``), sorted by path."""
    return iter(sorted(p for p in input_dir.glob(ARTICLE_GLOB) if p.is_file() and not p.name.startswith(".")))


@dataclass
class ConvertStats:
    """What one run of the convert stage did."""

    converted: int = 0
    up_to_date: int = 0
    skipped: int = 0
    removed_stale: int = 0


LOCK = ".convert.lock"
MANIFEST = ".babylm-convert.json"
"""In the output directory: the text files convert wrote (relative paths); only those are ever removed as stale."""


def _written_before(output_dir: Path) -> set[str]:
    """The text files (relative POSIX paths) the manifest of ``output_dir`` lists; empty without one."""
    try:
        record = read_json(output_dir / MANIFEST)
    except JsonError:
        return set()
    files = record.get("files") if isinstance(record, dict) else None
    return {name for name in files if isinstance(name, str)} if isinstance(files, list) else set()


def convert_tree(input_dir: str | Path, output_dir: str | Path, *, force: bool = False) -> ConvertStats:
    """Convert every article JSON under ``input_dir`` into a text file under ``output_dir``.

    Returns the counts. Text files of convert's that no article mirrors any more are removed; so are those of
    skipped articles. Raises :class:`ConvertError`, before writing or removing anything, when ``input_dir`` is
    not a directory or holds no article JSON, and when ``output_dir`` holds a ``volume_*/part_*/*.txt`` that no
    article mirrors and that convert did not write (not in ``.babylm-convert.json``): it is never deleted, and
    would otherwise enter the corpus.
    """
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    if not input_dir.is_dir():
        raise ConvertError(f"{input_dir}: input directory not found; run the scrape or an ingest stage first")
    articles = list(iter_article_jsons(input_dir))
    if not articles:
        raise ConvertError(f"{input_dir}: no article JSON files (volume_*/part_*/*.json); run the scrape or an ingest "
                           "stage first, or pass --input the folder they wrote")
    if output_dir.exists() and not output_dir.is_dir():
        raise ConvertError(f"--output {output_dir} is a file, not a folder; pass a folder path")
    output_dir.mkdir(parents=True, exist_ok=True)
    try:
        with exclusive_lock(output_dir / LOCK, f"another convert is writing to {output_dir}; wait for it"):
            for folder in output_dir.glob("volume_*/part_*/"):  # what a killed run left (we hold the lock)
                remove_stale_temporaries(folder)
            return _convert_locked(articles, input_dir, output_dir, force)
    except LockBusy as error:
        raise ConvertError(str(error)) from None


def _convert_locked(articles: list[Path], input_dir: Path, output_dir: Path, force: bool) -> ConvertStats:
    """The body of :func:`convert_tree`, run while it holds the output tree's lock."""
    mirrors = {output_dir / p.relative_to(input_dir).with_suffix(".txt") for p in articles}
    existing = set(output_dir.glob("volume_*/part_*/*.txt")) if output_dir.is_dir() else set()
    ours = {output_dir / name for name in _written_before(output_dir)} | mirrors
    foreign = sorted(existing - ours)
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise ConvertError(
            f"{output_dir} holds {foreign[0].relative_to(output_dir)}{more}, which convert did not write and no "
            "article mirrors; it would enter the corpus: move it away, or use another --output"
        )
    stats = ConvertStats()
    expected: set[Path] = set()
    for json_path in articles:
        txt_path = output_dir / json_path.relative_to(input_dir).with_suffix(".txt")
        if not force and txt_path.exists() and txt_path.stat().st_mtime_ns >= json_path.stat().st_mtime_ns:
            expected.add(txt_path)
            stats.up_to_date += 1
            continue
        try:
            text = read_article_json(json_path)
        except ConvertError as error:
            log.warning("skipped: %s", error)
            stats.skipped += 1
            continue  # not in ``expected``: a stale text file for it is removed below
        atomic_write_text(txt_path, text)
        expected.add(txt_path)
        stats.converted += 1
    for txt_path in sorted(existing - expected):  # convert's own (checked above)
        txt_path.unlink(missing_ok=True)
        stats.removed_stale += 1
    if expected or existing:
        written = sorted(p.relative_to(output_dir).as_posix() for p in expected)
        atomic_write_json(output_dir / MANIFEST, {"written_by": "babylm convert", "format": 1, "files": written})
    return stats


def build_parser() -> argparse.ArgumentParser:
    """The convert stage's command line."""
    parser = CommandParser(
        prog="python -m babylm.data.text.convert",
        description="Article JSON (volume_XX/part_XX/<title>.json) → text files with the content only.",
    )
    parser.add_argument("--input", default=str(DEFAULT.raw), help="scraped/ingested JSON tree (default: %(default)s)")
    parser.add_argument("--output", default=str(DEFAULT.text), help="text tree to write (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="rewrite every text file, even up-to-date ones")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the convert stage on ``argv`` (default ``sys.argv[1:]``); returns an exit code (2 on bad input)."""

    def work(args) -> str:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        stats = convert_tree(args.input, args.output, force=args.force)
        return (f"convert: {stats.converted} converted, {stats.up_to_date} up to date, {stats.skipped} skipped "
                f"(malformed or empty), {stats.removed_stale} stale text files removed → {args.output}")

    return run_command("convert", argv, build_parser(), work, (ConvertError,))


if __name__ == "__main__":
    sys.exit(main())
