"""Offline ingest of Project Gutenberg EB1911 slices into the scraper's layout.

Run it::

    python -m babylm.data.sources.gutenberg SLICE.txt [SLICE.txt …] [--out data/britannica_data]
    python -m babylm.data.sources.gutenberg ../shared/data/eb1911/gutenberg-10m/     # a folder: its *.txt
    python scripts/ingest_gutenberg.py --help

Reads Project Gutenberg plain-text ebooks of the 11th edition (one "slice" each, e.g. #19699, *Volume 4,
Part 3, "Brescia" to "Bulgaria"*) and writes one ``<out>/volume_VV/part_PP/<stem>.json`` per article,
``{"url", "title", "content", "timestamp"}`` — what ``babylm.data.wikisource`` writes, so every later
stage runs unchanged. Rules, in order (1–6 in :mod:`babylm.data.sources.gutenberg_text`, 3–4 with
:mod:`babylm.data.sources.gutenberg_furniture`):

1. **Encoding**: a UTF-8 byte-order mark wins; else the header's ``Character set encoding:`` line
   (ISO-8859-1 is read as Windows-1252 when bytes 0x80–0x9F occur, as PG's Latin-1 files sometimes
   hold them); else the file name (``-8.txt`` Latin-1, ``-0.txt`` UTF-8); else UTF-8, falling back to
   Windows-1252. Line ends become ``\\n``.
2. **Boilerplate**: everything up to the ``*** START OF …`` line and from the ``*** END OF …`` line (or
   "End of the Project Gutenberg EBook …") on is dropped, as are the "Produced by" credits, the
   transcriber's notes (a paragraph opening "Transcriber's note" and the closing list of corrections,
   "Corrections made to printed original" onwards), ``* * *`` separators, the editorial notes
   ``(continued from/in part N)`` and ``[_Continued from volume IX slice I._]``, and ``FOOTNOTES:`` label
   lines (the footnotes themselves stay with their article).
3. **Page furniture**: ``[v.04 p.0498]`` page markers (also split over a line end) are removed — the
   last one seen gives the page an article starts on; ``[Illustration…]`` blocks (captions, plate
   titles, figure keys, even across blank lines) and ``[Sidenote: …]`` margin notes are removed. A block
   whose ``]`` the transcription lost (another block opens, or the slice ends, before it) ends before the
   next prose paragraph — not 165,000 words later (BEE-KEEPING's FIG. 19 in #34533).
4. **Tables and diagrams**: a paragraph whose lines are mostly columns (two or more runs of 3+ spaces, or
   ``|`` rules) is dropped; so are ASCII-art separators, and drawings in ASCII — chemical structure diagrams,
   displayed integrals and fractions, stray table rules: two or more lines of ``__``, ``/``, ``\\``, ``|``
   with under 40 % letters, with the atom labels next to them (``NH2``, ``HOOC  COOH``), even inside a prose
   paragraph (DIPHENYL, #32689; 73 blocks in the 66 slices of ``gutenberg-10m``).
5. **Paragraphs** are unwrapped to one line each, runs of spaces collapsed (PG never hyphenates a word
   across lines: a line ending in ``-`` or ``--`` joins the next without a space).
6. **Articles** start at a headword paragraph (:mod:`babylm.data.sources.gutenberg_headwords`): upper-case
   words (two letters or more, starting with a letter) followed by ``,``, `` (``, `` [`` or ``. `` + text —
   never ``.--``, which marks a sub-heading such as ``AUTHORITIES.--``, never a Roman numeral, a title page
   (``VOLUME IX, SLICE II``), a corrections entry (``ARTICLE DUMAS, …:``) or a quoted capital (``"I, _A.
   B._, demand …``); and when the slice's range is known from its title (``"Brescia" to "Bulgaria"``,
   also ``"Dublin" (part) to "Dyeing"``, or the ``[E-Text Edition … - ANDROS to ANISE]`` line), the
   headword's first three letters must lie in the range's (``BRE``–``BUL``), which rejects
   ``BIBLIOGRAPHY``, ``JOHN HERVEY`` (a family member inside BRISTOL) and the like. A headword alone on its
   line above relocated side-notes (``ATOM`` / ``Theories of matter.`` / ``(Gr. atomos …``) opens an
   article too. Every rejected candidate is reported with its reason. Text before the first headword is
   dropped. Bracket codes in a headword are resolved (``BUJN[=U]RD`` → ``BUJNŪRD``). A slice whose title
   names one subject and that has no headword (``Volume 9, Slice 5  English History``) is that one article.
7. **Placement**: volume from the slice title (``Volume 4``); part from the page the article starts on,
   by the scraper's rule (:func:`babylm.data.articles.part_of`) — PG's page numbers are the
   printed ones, so the part can differ slightly from the scan-page part of a scraped article (slices
   without page markers put every article in part 1). Titles are the printed headwords (``BRESCIA``,
   ``BRETEUIL, LOUIS CHARLES AUGUSTE LE TONNELIER, BARON DE``). ``url`` is the ebook's page, ``timestamp``
   the slice file's modification time (so re-ingesting the same files writes identical JSON).
8. **Many slices**: they are read one at a time in book order — volume, then the slice's first headword
   (the order of the input files does not matter) — so memory follows the largest slice, not their number.
   An article running over into the next slice of the same volume (DRAMA, FRANCE, CONVENTION, DIAMETER:
   the next slice opens with the same headword, often ``DRAMA.`` alone or with ``(continued from part
   3)``) is **joined** into one article: the repeated headword paragraph goes, and paragraphs printed at
   the end of one slice and again at the start of the next (CONVENTION's first paragraph in #30935 and
   #32097; DIAMETER's, cut short with ``...``, in #30073) are kept once, the longer copy. An article whose
   beginning is in a slice not given (BULGARIA ``(continued from part 3)`` without #19699) is kept as the
   part there is, and reported. Repeated headwords within a volume get `` (2)``, `` (3)`` in file names;
   no two articles ever share a file (on a case-insensitive disk either): a clash gets the title's hash
   (:func:`babylm.data.articles.safe_stem`), and a file written twice in one run is an error, never a
   silent overwrite.

Inline markup the cleaner handles later (``_italic_``, ``[Greek: …]``, ``[=a]``, ``[1]`` footnote
markers) is left in the content on purpose: the clean stage owns those rules.

**Report.** Beside the articles the ingest records, in ``<out>/ingest_report.json``
(:func:`babylm.data.articles.record_ingest_runs`), per slice: every rejected headword candidate with its
reason, what it left out (PG boilerplate, tables, illustration captions, side-notes, editorial notes,
footnote labels, duplicate paragraphs at a join), counted with their words, the headwords that stood alone,
and the articles joined across slices.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from babylm.core.arguments import CommandParser, int_in_range, run_command
from babylm.data.article_tree import INGEST, TreeError, claim, writing
from babylm.data.articles import (
    EB1911_VOLUMES,
    HASH_SEPARATOR,
    INGEST_REPORT,
    Tally,
    article_relpath,
    clash_key,
    part_of,
    record_ingest_runs,
    safe_stem,
    sanitize,
    title_hash,
    write_article,
)
from babylm.data.layout import DEFAULT
from babylm.data.sources.gutenberg_headwords import fold, headword
from babylm.data.sources.gutenberg_text import (
    GutenbergArticle,
    IngestError,
    SliceInfo,
    cut_slice,
    decode_gutenberg,
    is_table,
    read_slice_info,
    split_articles,
)

__all__ = ["IngestError", "decode_gutenberg", "split_articles", "cut_slice", "headword", "is_table", "slice_files",
           "ingest_slices", "ingest_slice", "main"]


# ------------------------------------------------------------------------------------- 8. many slices
def slice_files(paths: Sequence[str | Path]) -> list[Path]:
    """The slice files named by ``paths``: files as given, folders replaced by their ``*.txt`` (sorted).

    Raises :class:`IngestError` for a path that does not exist or a folder without ``.txt`` files.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.glob("*.txt") if p.is_file())
            if not found:
                raise IngestError(f"{path}: a folder without .txt files; pass Project Gutenberg EB1911 slices")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise IngestError(f"{path}: input file not found")
    return files


def _read(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise IngestError(f"{path}: cannot read ({error.strerror})") from None
    if not raw.strip():
        raise IngestError(f"{path}: the file is empty; pass a Project Gutenberg EB1911 slice (e.g. 19699-8.txt)")
    return decode_gutenberg(raw, path.name)


def book_order(infos: Sequence[tuple[SliceInfo, Path]]) -> list[tuple[SliceInfo, Path]]:
    """Slices sorted as printed: volume, then first headword (accents folded), then file name."""
    return sorted(infos, key=lambda item: (item[0].volume or 0, fold(item[0].first or ""), item[1].name))


def overlap(tail: Sequence[str], head: Sequence[str]) -> int:
    """How many of the last paragraphs of ``tail`` are printed again as the first of ``head`` (each the
    same, or cut short with ``...`` and then the start of the other); 0 when none."""

    def same(a: str, b: str) -> bool:
        a, b = a.rstrip(" .…"), b.rstrip(" .…")
        return a == b or (len(a) >= 40 and b.startswith(a))

    for count in range(min(len(tail), len(head), 5), 0, -1):
        if all(same(tail[len(tail) - count + i], head[i]) for i in range(count)):
            return count
    return 0


@dataclass
class _Pending:
    """The last article of the slice read last: not written until the next slice shows it does not go on."""

    article: GutenbergArticle
    volume: int
    slice_name: str
    url: str
    timestamp: str
    route: str = "headword"


@dataclass
class IngestStats:
    """What one ingest run wrote."""

    files: int = 0
    articles: int = 0
    words: int = 0
    joined: int = 0
    """Articles joined across slices (each counted once)."""
    rejected: Counter = field(default_factory=Counter)
    """Rejected headword candidates by reason (the candidates themselves are in the ingest report)."""


class _Writer:
    """Writes articles under ``out`` with unique file names; keeps the per-slice report entries."""

    def __init__(self, out: Path) -> None:
        self.out, self.stats, self.runs = out, IngestStats(), {}
        self.repeats: Counter = Counter()
        self.taken: set[str] = set()
        self.queued: list[tuple[str, _Pending]] = []

    def flush(self) -> None:
        """Write the queued articles, recorded as the ingest's first (one record update per slice)."""
        claim(self.out, INGEST, [relpath for relpath, _ in self.queued])
        for relpath, pending in self.queued:
            write_article(self.out / relpath, url=pending.url, title=pending.article.title,
                          content=pending.article.content, timestamp=pending.timestamp)
        self.queued.clear()

    def write(self, pending: _Pending) -> None:
        article = pending.article
        self.repeats[(pending.volume, article.title)] += 1
        count = self.repeats[(pending.volume, article.title)]
        key = article.title if count == 1 else f"{article.title} ({count})"
        folder = article_relpath(pending.volume, part_of(article.page or 1), "x")[: -len("x.json")]
        relpath = folder + safe_stem(key) + ".json"
        if clash_key(relpath) in self.taken:  # same name on a case-insensitive disk, or a real "X (2)"
            relpath = folder + f"{sanitize(key)}{HASH_SEPARATOR}{title_hash(key, 16)}.json"
        if clash_key(relpath) in self.taken:
            raise IngestError(f"{relpath}: two articles would share this file ({article.title!r}); "
                              "nothing is overwritten")
        self.taken.add(clash_key(relpath))
        self.queued.append((relpath, pending))
        self.runs[f"gutenberg:{pending.slice_name}"]["articles"][relpath] = pending.route
        self.stats.articles += 1
        self.stats.words += len(article.content.split())


def ingest_slices(paths: Sequence[str | Path], out: str | Path, *, volume: int | None = None) -> IngestStats:
    """Ingest PG slice files (folders: their ``*.txt``) into ``out`` (the scraper layout); returns the counts.

    Rule 8 of the module docstring: book order, one slice in memory at a time, articles continued across
    slices joined. ``volume`` overrides the volume read from each slice title. One writer per tree, into a tree
    of its own only (:mod:`babylm.data.article_tree`). Raises :class:`IngestError` when a file cannot be read or
    is empty, a volume is unknown or outside 1–29, no article is found in a slice, or two articles would share a
    file; :class:`~babylm.data.article_tree.TreeError` when the tree is another writer's or busy.
    """
    out = Path(out)
    infos = []
    for path in slice_files(paths):
        info = read_slice_info(_read(path))
        number = volume or info.volume
        if number is None:
            raise IngestError(f"{path}: no 'Volume N' in its title: is it a Project Gutenberg EB1911 slice? (for one "
                              "that is: python -m babylm.data.sources.gutenberg FILE --volume N)")
        if not 1 <= number <= EB1911_VOLUMES:
            raise IngestError(f"{path}: volume {number} is not one of EB1911's (1–{EB1911_VOLUMES}); give the right "
                              "one: python -m babylm.data.sources.gutenberg FILE --volume N")
        infos.append((info, path))
    with writing(out, INGEST) as out:  # one writer, a tree of its own, what a killed run left removed
        claim(out, INGEST, [INGEST_REPORT])
        return _ingest_in_order(book_order(infos), out, volume)


def _ingest_in_order(infos: Sequence[tuple[SliceInfo, Path]], out: Path, volume: int | None) -> IngestStats:
    """The body of :func:`ingest_slices`, holding the tree's lock: slices in book order, articles written."""
    writer, pending = _Writer(out), None
    for info, path in infos:
        cut = cut_slice(_read(path))
        if not cut.articles:
            raise IngestError(f"{path}: no article headwords found; is it an EB1911 slice from Project Gutenberg?")
        number = volume or info.volume or 0
        url = f"https://www.gutenberg.org/ebooks/{cut.info.ebook}" if cut.info.ebook else path.resolve().as_uri()
        timestamp = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
        run = writer.runs[f"gutenberg:{path.name}"] = {
            "source": "gutenberg", "inputs": [path.name], "articles": {}, "route": cut.route,
            "rejected_headwords": [{"text": text, "reason": reason} for text, reason in cut.rejected],
            "standalone_headwords": cut.standalone, "joined": [], "continued_from_elsewhere": []}
        writer.stats.files += 1
        writer.stats.rejected.update(reason for _, reason in cut.rejected)
        articles = list(cut.articles)
        if pending and pending.volume == number and fold(pending.article.title) == fold(articles[0].title):
            _join(pending, articles.pop(0), run, cut.removed)
            writer.stats.joined += 1
        elif articles[0].continued:
            run["continued_from_elsewhere"].append(articles[0].title)
        run["removed"] = cut.removed.as_dict()
        for article in articles:
            if pending:
                writer.write(pending)
            pending = _Pending(article, number, path.name, url, timestamp, cut.route)
        writer.flush()
    if pending:
        writer.write(pending)
        writer.flush()
    record_ingest_runs(out, writer.runs)
    return writer.stats


def _join(pending: _Pending, continuation: GutenbergArticle, run: dict, removed: Tally) -> None:
    """Append ``continuation`` (the same article, opening the next slice) to ``pending.article``."""
    paragraphs = list(continuation.paragraphs)
    if paragraphs and fold(paragraphs[0]) == fold(continuation.title):
        removed.add("repeated headword", paragraphs.pop(0))
    twice = overlap(pending.article.paragraphs, paragraphs)
    kept = pending.article.paragraphs[: len(pending.article.paragraphs) - twice]
    for paragraph in pending.article.paragraphs[len(kept):]:
        removed.add("duplicate paragraph", paragraph)
    pending.article.paragraphs = kept + paragraphs
    run["joined"].append({"title": pending.article.title, "from": pending.slice_name, "duplicate_paragraphs": twice})


def ingest_slice(path: str | Path, out: str | Path, *, volume: int | None = None) -> IngestStats:
    """Ingest one PG slice file into ``out``: :func:`ingest_slices` of ``[path]``."""
    return ingest_slices([path], out, volume=volume)


def build_parser() -> argparse.ArgumentParser:
    """The Gutenberg ingest's command line."""
    parser = CommandParser(
        prog="python -m babylm.data.sources.gutenberg",
        description="Project Gutenberg EB1911 slices → data/britannica_data/volume_XX/part_XX/<title>.json (offline).",
    )
    parser.add_argument("files", nargs="+", type=Path,
                        help="PG plain-text slice files (e.g. 19699-8.txt) or folders of them")
    parser.add_argument("--out", type=Path, default=DEFAULT.raw,
                        help="output folder (default: %(default)s)")
    parser.add_argument("--volume", type=int_in_range(1, EB1911_VOLUMES),
                        help="volume number (1–29), when the slice title has none")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the Gutenberg ingest on ``argv`` (default ``sys.argv[1:]``); returns an exit code (2 on bad input)."""

    def work(args: argparse.Namespace) -> str:
        stats = ingest_slices(args.files, args.out, volume=args.volume)
        reasons = ", ".join(f"{reason} ×{n}" for reason, n in stats.rejected.most_common())
        return (f"ingest_gutenberg: {stats.files} files, {stats.articles} articles ({stats.joined} joined across "
                f"slices), {stats.words} words → {args.out}; {sum(stats.rejected.values())} headword candidates "
                f"rejected ({reasons or 'none'}; each, and what was left out: {args.out / INGEST_REPORT})")

    return run_command("ingest_gutenberg", argv, build_parser(), work, (IngestError, TreeError))

if __name__ == "__main__":
    sys.exit(main())
