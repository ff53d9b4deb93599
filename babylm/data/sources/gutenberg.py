"""Offline ingest of Project Gutenberg EB1911 slices into the scraper's layout.

Run it::

    python -m babylm.data.sources.gutenberg SLICE.txt [SLICE.txt …] [--out data/britannica_data]
    python scripts/ingest_gutenberg.py --help

Reads Project Gutenberg plain-text ebooks of the 11th edition (one "slice" each, e.g. #19699, *Volume 4,
Part 3, "Brescia" to "Bulgaria"*) and writes one ``<out>/volume_VV/part_PP/<stem>.json`` per article,
``{"url", "title", "content", "timestamp"}`` — what ``babylm.data.wikisource`` writes, so every later
stage runs unchanged. Rules, in order:

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
   titles, figure keys, even across blank lines) and ``[Sidenote: …]`` margin notes are removed.
4. **Tables**: a paragraph whose lines are mostly columns (two or more runs of 3+ spaces, or ``|``
   rules) is dropped; so are ASCII-art separators.
5. **Paragraphs** are unwrapped to one line each, runs of spaces collapsed (PG never hyphenates a word
   across lines: a line ending in ``-`` or ``--`` joins the next without a space).
6. **Articles** start at a headword paragraph (:mod:`babylm.data.sources.gutenberg_headwords`): upper-case
   words (two letters or more, starting with a letter) followed by ``,``, `` (``, `` [`` or ``. `` + text —
   never ``.--``, which marks a sub-heading such as ``AUTHORITIES.--``, never a Roman numeral, a title page
   (``VOLUME IX, SLICE II``), a corrections entry (``ARTICLE DUMAS, …:``) or a quoted capital (``"I, _A.
   B._, demand …``); and when the slice's range is known from its title (``"Brescia" to "Bulgaria"``,
   also ``"Dublin" (part) to "Dyeing"``), the headword's first two letters must lie in the range's
   (``BR``–``BU``), which rejects ``BIBLIOGRAPHY``, ``JOHN HERVEY`` (a family member inside BRISTOL) and
   the like. Every rejected candidate is reported with its reason. Text before the first headword is
   dropped. Bracket codes in a headword are resolved (``BUJN[=U]RD`` → ``BUJNŪRD``).
7. **Placement**: volume from the slice title (``Volume 4``); part from the page the article starts on,
   by the scraper's rule (:func:`babylm.data.articles.part_of`) — PG's page numbers are the
   printed ones, so the part can differ slightly from the scan-page part of a scraped article. Titles
   are the printed headwords (``BRESCIA``, ``BRETEUIL, LOUIS CHARLES AUGUSTE LE TONNELIER, BARON DE``);
   repeated headwords get `` (2)``, `` (3)`` in file names only; stems come from
   :func:`babylm.data.articles.assign_stems`. ``url`` is the ebook's page, ``timestamp`` the slice
   file's modification time (so re-ingesting the same file writes identical JSON).

Inline markup the cleaner handles later (``_italic_``, ``[Greek: …]``, ``[=a]``, ``[1]`` footnote
markers) is left in the content on purpose: the clean stage owns those rules.

**Report.** Beside the articles the ingest records, in ``<out>/ingest_report.json``
(:func:`babylm.data.articles.record_ingest`), every rejected headword candidate with its reason and what it
left out (PG boilerplate, tables, illustration captions, side-notes, editorial notes, footnote labels),
counted with their words. One writer per tree, into a tree of its own only (:mod:`babylm.data.article_tree`).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

from babylm.core.arguments import CommandParser, int_in_range
from babylm.core.atomic import os_error_line
from babylm.data.article_tree import INGEST, TreeError, claim, writing
from babylm.data.articles import (
    EB1911_VOLUMES,
    INGEST_REPORT,
    Tally,
    article_relpath,
    assign_stems,
    number_repeats,
    part_of,
    record_ingest,
    write_article,
)
from babylm.data.sources.gutenberg_headwords import CONTINUED_NOTE, classify_paragraph, headword, remove_continued_notes

__all__ = ["IngestError", "decode_gutenberg", "split_articles", "cut_slice", "headword", "ingest_slice", "main"]


class IngestError(ValueError):
    """An input that cannot be ingested (unreadable, wrong encoding, no articles); the message names it."""


# ------------------------------------------------------------------------------------------- 1. encoding
_DECLARED_ENCODING = re.compile(rb"Character set encoding:\s*([A-Za-z0-9_\-]+)", re.I)
_ENCODING_NAMES = {"iso-8859-1": "latin-1", "iso8859-1": "latin-1", "latin-1": "latin-1", "latin1": "latin-1",
                   "utf-8": "utf-8", "utf8": "utf-8", "ascii": "utf-8", "us-ascii": "utf-8",
                   "windows-1252": "cp1252", "cp1252": "cp1252"}


def decode_gutenberg(raw: bytes, name: str = "<bytes>") -> str:
    """Decode a PG text file's bytes by rule 1 of the module docstring; returns text with ``\\n`` line ends.

    Raises :class:`IngestError` naming ``name`` when a declared UTF-8 file is not valid UTF-8.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    else:
        declared = _DECLARED_ENCODING.search(raw[:20000])
        encoding = _ENCODING_NAMES.get(declared.group(1).decode("ascii").lower(), "") if declared else ""
        if not encoding:
            encoding = "latin-1" if name.endswith("-8.txt") else "utf-8" if name.endswith("-0.txt") else ""
    if encoding == "latin-1" and re.search(rb"[\x80-\x9f]", raw):
        encoding = "cp1252"
    if not encoding:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
    else:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as error:
            if encoding == "cp1252":
                text = raw.decode("latin-1")
            else:
                raise IngestError(f"{name}: not valid {encoding} ({error.reason} at byte {error.start}); "
                                  "is the 'Character set encoding' line right?") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ---------------------------------------------------------------------------------------- 2. boilerplate
_START = re.compile(r"^\*{3}\s*START OF (?:THIS|THE) PROJECT GUTENBERG E-?BOOK.*$", re.M | re.I)
_END = re.compile(r"^(?:\*{3}\s*END OF (?:THIS|THE) PROJECT GUTENBERG E-?BOOK|End of (?:the )?Project Gutenberg'?s? E-?Book).*$", re.M | re.I)
_CORRECTIONS = re.compile(r"^\s*(?:Corrections made to (?:the )?printed original|Transcriber's (?:note|notes)[^\n]*corrections?)[.:]?\s*$", re.M | re.I)
_VOLUME = re.compile(r"Volume\s+([0-9]{1,6})\b", re.I)
_RANGE = re.compile(r'"([^"\n]+)"(?:\s*\(part\))?\s+to\s+"([^"\n]+)"')
_EBOOK = re.compile(r"\[E-?Book\s*#([0-9]{1,9})\]", re.I)


@dataclass(frozen=True)
class SliceInfo:
    """What the PG header says about a slice: volume, ebook number, first/last headword (if given)."""

    volume: int | None
    ebook: int | None
    first: str | None
    last: str | None


def split_boilerplate(text: str, removed: Tally | None = None) -> tuple[SliceInfo, str]:
    """Separate the PG header/footer from the body (rule 2); returns (slice info, body text).

    A text without the ``*** START`` line is taken as body entirely (already stripped). ``removed``, when
    given, counts the header, footer and corrections list as ``boilerplate``.
    """
    start = _START.search(text)
    header, body = (text[: start.start()], text[start.end():]) if start else (text[:3000], text)
    cut = [text[: start.end()]] if start else []
    end = _END.search(body)
    if end:
        cut.append(body[end.start():])
        body = body[: end.start()]
    corrections = _CORRECTIONS.search(body)
    if corrections:
        cut.append(body[corrections.start():])
        body = body[: corrections.start()]
    if removed is not None:
        removed.add("boilerplate", " ".join(cut), count=len(cut))
    title_block = header[header.find("Title:"):] if "Title:" in header else header
    volume = _VOLUME.search(title_block)
    span = _RANGE.search(title_block)
    ebook = _EBOOK.search(header)
    info = SliceInfo(
        volume=int(volume.group(1)) if volume else None,
        ebook=int(ebook.group(1)) if ebook else None,
        first=span.group(1) if span else None,
        last=span.group(2) if span else None,
    )
    return info, body


# ----------------------------------------------------------------------------------- 3. page furniture
PAGE_MARKER = re.compile(r"\[v\.\s*([0-9]{1,4})\s+p\.\s*([0-9]{1,4})\]")  # printed pages: at most ~1,100
_BLOCK_OPENERS = re.compile(r"\[(?:Illustration|Sidenote)\b", re.I)


def remove_bracket_blocks(text: str, removed: Tally | None = None) -> str:
    """Remove ``[Illustration…]`` and ``[Sidenote…]`` blocks, brackets balanced across lines; returns text.

    ``removed``, when given, counts them as ``caption`` and ``sidenote``.
    """
    out, position = [], 0
    for match in _BLOCK_OPENERS.finditer(text):
        if match.start() < position:
            continue
        depth, i = 0, match.start()
        while i < len(text):
            depth += {"[": 1, "]": -1}.get(text[i], 0)
            i += 1
            if depth == 0:
                break
        out.append(text[position: match.start()])
        if removed is not None:
            removed.add("sidenote" if match.group(0).lower() == "[sidenote" else "caption", text[match.start(): i])
        position = i
    out.append(text[position:])
    return "".join(out)


# -------------------------------------------------------------------------------- 4.–5. paragraphs
_COLUMN_GAP = re.compile(r"\S {3,}\S.* {3,}\S|\S {3,}\S|\|")
_SEPARATOR = re.compile(r"^[\s*\-=_.]+$")
_FOOTNOTE_LABEL = re.compile(r"^FOOTNOTES?\s*:?$", re.I)
_PRODUCED_BY = re.compile(r"^(?:Produced by|E-?text prepared by)\b", re.I)
_TRANSCRIBER = re.compile(r"^\[?Transcriber'?s note", re.I)


def is_table(lines: Sequence[str]) -> bool:
    """True when most of a paragraph's ``lines`` are table rows: column gaps of 3+ spaces or ``|`` rules."""
    rows = sum(1 for line in lines if _COLUMN_GAP.search(line.strip()))
    return len(lines) > 0 and rows * 2 >= len(lines) and (rows >= 2 or len(lines) == 1 and "|" in lines[0])


def unwrap(lines: Sequence[str]) -> str:
    """Join a paragraph's lines into one line (rule 5); returns it."""
    out = ""
    for line in (" ".join(line.split()) for line in lines):
        if not line:
            continue
        if not out:
            out = line
        elif out.endswith("-") and not out.endswith(" -"):
            out += line
        else:
            out += " " + line
    return out


def iter_paragraphs(body: str, removed: Tally | None = None) -> Iterator[tuple[str, int | None]]:
    """Yield (unwrapped paragraph, printed page it starts on) from a slice body (rules 2–5).

    ``removed``, when given, counts what is left out by kind (``caption``, ``sidenote``, ``table``,
    ``separator``, ``editorial note``, ``footnote label``, ``credits``).
    """
    tally = removed if removed is not None else Tally()
    body = remove_bracket_blocks(body, tally)
    page: int | None = None
    for block in re.split(r"\n[ \t]*\n", body):
        markers = list(PAGE_MARKER.finditer(block))
        first_page = page
        if markers:
            # A marker at the very start of a paragraph means the paragraph starts on that page.
            if not block[: markers[0].start()].strip():
                first_page = int(markers[0].group(2))
            page = int(markers[-1].group(2))
        block = PAGE_MARKER.sub(" ", block)
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        if all(_SEPARATOR.match(line) for line in lines):
            tally.add("separator")
            continue
        if is_table(lines):
            tally.add("table", block)
            continue
        paragraph = unwrap(lines).strip()
        if _FOOTNOTE_LABEL.match(paragraph):
            tally.add("footnote label", paragraph)
            continue
        if not paragraph or _PRODUCED_BY.match(paragraph) or _TRANSCRIBER.match(paragraph):
            tally.add("credits", paragraph)
            continue
        yield paragraph, first_page


# ----------------------------------------------------------------------------------------- 6. headwords
@dataclass
class GutenbergArticle:
    """One article cut from a slice: printed headword, printed start page, paragraphs."""

    title: str
    page: int | None
    paragraphs: list[str]

    @property
    def content(self) -> str:
        """The article's paragraphs separated by blank lines."""
        return "\n\n".join(self.paragraphs)


@dataclass
class SliceCut:
    """A slice cut into articles, with the headword candidates rejected (text, reason) and what was left out."""

    info: SliceInfo
    articles: list[GutenbergArticle]
    rejected: list[tuple[str, str]]
    removed: Tally


def cut_slice(text: str) -> SliceCut:
    """Cut a decoded slice into articles (rules 2–6), keeping the reasons for every rejected candidate."""
    removed = Tally()
    info, body = split_boilerplate(text, removed)
    articles: list[GutenbergArticle] = []
    rejected: list[tuple[str, str]] = []
    for paragraph, page in iter_paragraphs(body, removed):
        verdict = classify_paragraph(paragraph, info.first, info.last)
        content = remove_continued_notes(paragraph).strip()
        if content != paragraph:
            for note in CONTINUED_NOTE.finditer(paragraph):
                removed.add("editorial note", note.group(0))
            content = content.rstrip(",;: ") if verdict.title else content
        if verdict.reason:
            rejected.append((paragraph[:80], verdict.reason))
        if verdict.title:
            articles.append(GutenbergArticle(verdict.title, page, [content]))
        elif articles and content:
            articles[-1].paragraphs.append(content)
        elif content:
            removed.add("before the first headword", content)
    return SliceCut(info, articles, rejected, removed)


def split_articles(text: str) -> tuple[SliceInfo, list[GutenbergArticle]]:
    """Cut a decoded slice into articles (rules 2–6); returns the slice info and the articles in order."""
    cut = cut_slice(text)
    return cut.info, cut.articles


# ---------------------------------------------------------------------------------------- 7. placement
@dataclass
class IngestStats:
    """What one ingest run wrote."""

    files: int = 0
    articles: int = 0
    words: int = 0
    rejected: Counter = field(default_factory=Counter)
    """Rejected headword candidates by reason (the candidates themselves are in the ingest report)."""


def ingest_slice(path: str | Path, out: str | Path, *, volume: int | None = None) -> IngestStats:
    """Ingest one PG slice file into ``out`` (the scraper layout); returns the counts.

    ``volume`` overrides the volume read from the slice title. Raises :class:`IngestError` when the file
    cannot be read or is empty, the volume is unknown, or no article is found.
    """
    path, out = Path(path), Path(out)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise IngestError(f"{path}: cannot read ({error.strerror})") from None
    if not raw.strip():
        raise IngestError(f"{path}: the file is empty; pass a Project Gutenberg EB1911 slice (e.g. 19699-8.txt)")
    cut = cut_slice(decode_gutenberg(raw, path.name))
    info, articles = cut.info, cut.articles
    volume = volume or info.volume
    if volume is None:
        raise IngestError(f"{path}: no 'Volume N' in the title; pass --volume")
    if not 1 <= volume <= EB1911_VOLUMES:
        raise IngestError(f"{path}: volume {volume} is not one of EB1911's (1–{EB1911_VOLUMES}); pass --volume")
    if not articles:
        raise IngestError(f"{path}: no article headwords found; is it an EB1911 slice from Project Gutenberg?")
    url = f"https://www.gutenberg.org/ebooks/{info.ebook}" if info.ebook else path.resolve().as_uri()
    timestamp = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
    keys = number_repeats([article.title for article in articles])
    stems = assign_stems(keys)
    stats = IngestStats(files=1, rejected=Counter(reason for _, reason in cut.rejected))
    relpaths = [article_relpath(volume, part_of(article.page or 1), stems[key]) for key, article in zip(keys, articles)]
    with writing(out, INGEST) as out:  # one writer, a tree of its own, what a killed run left removed
        claim(out, INGEST, [*relpaths, INGEST_REPORT])  # recorded before written
        for relpath, article in zip(relpaths, articles):
            write_article(out / relpath, url=url, title=article.title, content=article.content, timestamp=timestamp)
            stats.articles += 1
            stats.words += len(article.content.split())
        record_ingest(out, f"gutenberg:{path.name}", {
            "source": "gutenberg", "inputs": [path.name], "articles": dict.fromkeys(relpaths, "headword"),
            "removed": cut.removed.as_dict(),
            "rejected_headwords": [{"text": text, "reason": reason} for text, reason in cut.rejected]})
    return stats


def build_parser() -> argparse.ArgumentParser:
    """The Gutenberg ingest's command line."""
    parser = CommandParser(
        prog="python -m babylm.data.sources.gutenberg",
        description="Project Gutenberg EB1911 slices → data/britannica_data/volume_XX/part_XX/<title>.json (offline).",
    )
    parser.add_argument("files", nargs="+", type=Path, help="PG plain-text slice files (e.g. 19699-8.txt)")
    parser.add_argument("--out", type=Path, default=Path("data/britannica_data"), help="output folder (default: %(default)s)")
    parser.add_argument("--volume", type=int_in_range(1, EB1911_VOLUMES),
                        help="volume number (1–29), when the slice title has none")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the Gutenberg ingest on ``argv`` (default ``sys.argv[1:]``); returns an exit code (2 on bad input)."""
    args = build_parser().parse_args(argv)
    total = IngestStats()
    try:
        for path in args.files:
            stats = ingest_slice(path, args.out, volume=args.volume)
            reasons = ", ".join(f"{reason} ×{n}" for reason, n in stats.rejected.most_common())
            print(f"ingest_gutenberg: {path}: {stats.articles} articles, {stats.words} words; "
                  f"{sum(stats.rejected.values())} headword candidates rejected ({reasons or 'none'})")
            total.files, total.articles, total.words = total.files + 1, total.articles + stats.articles, total.words + stats.words
    except (IngestError, TreeError) as error:
        print(f"ingest_gutenberg: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # an output path that cannot be written (a folder, no permission…)
        print(f"ingest_gutenberg: {os_error_line(error)}", file=sys.stderr)
        return 2
    print(f"ingest_gutenberg: {total.files} files, {total.articles} articles, {total.words} words → {args.out} "
          f"(rejected candidates and what was left out: {args.out / INGEST_REPORT})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
