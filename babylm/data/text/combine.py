"""Combine stage: the article text files → one corpus file, one article per block.

Run it::

    python -m babylm.data.text.combine [--input data/britannica_txt] [--output data/combined_encyclopedia.txt]
    python scripts/combine.py --help

Reads ``<input>/volume_XX/part_XX/<stem>.txt`` (written by ``babylm.data.text.convert``) in a stable order —
volume number, part number, then file stem compared case-insensitively (ties broken by the exact stem) —
and writes each article as one block: its non-empty lines (trailing spaces stripped) followed by one
blank line. Blank lines inside an article are dropped, so a blank line always means "next article";
``babylm.data.text.clean`` relies on that. Streaming: one article in memory at a time (plus the sorted list
of paths). A text file that is not valid UTF-8 is skipped with a warning and counted. The output is
written atomically.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Sequence

from babylm.core.arguments import CommandParser, run_command
from babylm.core.atomic import atomic_output
from babylm.core.outputs import stage_outputs
from babylm.data.layout import DEFAULT

log = logging.getLogger(__name__)

_NUMBERED = re.compile(r"^(?:volume|part)_(\d+)$")
_UNNUMBERED = 10**9  # a directory without a number sorts after all numbered ones


class CombineError(ValueError):
    """Bad input to the combine stage (missing directory); the message names it."""


def _number(name: str) -> int:
    match = _NUMBERED.match(name)
    return int(match.group(1)) if match else _UNNUMBERED


def article_sort_key(relative: Path) -> tuple[int, int, str, str]:
    """Sort key of ``volume_XX/part_YY/<stem>.txt`` (relative to the text root): (XX, YY, stem folded, stem)."""
    parts = relative.parts
    volume = _number(parts[0]) if len(parts) >= 3 else _UNNUMBERED
    part = _number(parts[1]) if len(parts) >= 3 else _UNNUMBERED
    return volume, part, relative.stem.casefold(), relative.stem


def article_files(input_dir: Path) -> list[Path]:
    """The article text files under ``input_dir`` in combine order (see :func:`article_sort_key`)."""
    files = [p for p in input_dir.glob("volume_*/part_*/*.txt") if p.is_file() and not p.name.startswith(".")]
    return sorted(files, key=lambda p: article_sort_key(p.relative_to(input_dir)))


def article_block(text: str) -> str:
    """One article as a combined-file block: non-empty lines, right-stripped, then a blank line.

    Returns ``""`` when the text has no non-blank line.
    """
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(lines) + "\n\n" if lines else ""


@dataclass
class CombineStats:
    """What one run of the combine stage did."""

    articles: int = 0
    empty: int = 0
    unreadable: int = 0
    words: int = 0


def combine_files(files: Sequence[Path], sink: IO[str]) -> CombineStats:
    """Write the blocks of ``files`` (in the given order) to ``sink``; returns the counts."""
    stats = CombineStats()
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError) as error:
            log.warning("skipped: %s: unreadable as UTF-8 text (%s); re-run the convert stage", path, error)
            stats.unreadable += 1
            continue
        block = article_block(text)
        if not block:
            stats.empty += 1
            continue
        sink.write(block)
        stats.articles += 1
        stats.words += len(block.split())
    return stats


def combine_tree(input_dir: str | Path, output_path: str | Path) -> CombineStats:
    """Combine every article text file under ``input_dir`` into ``output_path`` (atomic); returns counts."""
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise CombineError(f"{input_dir}: input directory not found; run the convert stage first "
                           "(python -m babylm.data.text.convert)")
    files = article_files(input_dir)
    if not files:
        raise CombineError(f"{input_dir}: no article text files (volume_*/part_*/*.txt); run the convert stage first "
                           "(python -m babylm.data.text.convert), or pass --input the folder it wrote")
    output_path = Path(output_path)
    with stage_outputs(output_path.parent, [output_path.name], "combine", "--output", CombineError), \
            atomic_output(output_path) as sink:  # an error below leaves output_path as it was
        stats = combine_files(files, sink)
        if not stats.articles:
            raise CombineError(f"{input_dir}: all {len(files)} article text files are empty or unreadable; "
                               "run the convert stage again")
    return stats


def build_parser() -> argparse.ArgumentParser:
    """The combine stage's command line."""
    parser = CommandParser(
        prog="python -m babylm.data.text.combine",
        description="Article text files → one file, one article per blank-line separated block, "
                    "in (volume, part, title) order.",
    )
    parser.add_argument("--input", default=str(DEFAULT.text),
                        help="text tree from the convert stage (default: %(default)s)")
    parser.add_argument("--output", default=str(DEFAULT.combined), help="combined file (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the combine stage on ``argv`` (default ``sys.argv[1:]``); returns an exit code (2 on bad input)."""

    def work(args) -> str:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        stats = combine_tree(args.input, args.output)
        return (f"combine: {stats.articles} articles, {stats.words} words ({stats.empty} empty and "
                f"{stats.unreadable} unreadable files skipped) → {args.output}")

    return run_command("combine", argv, build_parser(), work, (CombineError,))


if __name__ == "__main__":
    sys.exit(main())
