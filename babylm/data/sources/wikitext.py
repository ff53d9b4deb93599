"""Offline ingest of Wikisource EB1911 page wikitext into the scraper's layout.

Run it::

    python -m babylm.data.sources.wikitext PAGES [PAGES …] [--out data/britannica_data]
    python scripts/ingest_wikitext.py --help

``PAGES`` holds the wikitext of scan pages ``Page:EB1911 - Volume NN.djvu/PPP`` — what the Wikisource
dumps hold — in any of these forms:

* a MediaWiki XML export or dump (``.xml`` or ``.xml.bz2``; other pages in it are ignored),
* a JSON list, or JSON Lines, of ``{"title": "Page:EB1911 - Volume 01.djvu/42", "text": …}`` or of
  ``{"volume": 1, "page_number": 42, "raw_text": …}`` objects.

Writes one ``<out>/volume_VV/part_PP/<stem>.json`` per article, ``{"url", "title", "content",
"timestamp"}``, as ``babylm.data.wikisource`` does. Rules:

1. Pages are taken in (volume, page) order; ``<noinclude>`` headers and footers (page quality, running
   heads) are dropped. Each page is cut into its ``<section begin=… />`` … ``<section end=… />`` spans (a
   page without section tags is one span).
2. A span whose wikitext opens with a bold ALL-CAPS headword (``'''ABBESS''' (Lat. …``, optionally after
   templates) starts an article; any other span continues the current article, across pages. Spans
   continuing an article that began before the first page given are skipped and counted.
3. Each article's wikitext is rendered by :func:`babylm.data.sources.wikitext_render.render_wikitext` — EB1911
   templates to their text, tables, files, references and formulas out — into paragraphs.
4. Title: the headword's text without trailing punctuation (``'''ABBEVILLE,'''`` → ``ABBEVILLE``).
   Volume: the page's. Part: the scraper's rule (:func:`babylm.data.articles.part_of`) on the
   scan page the article starts on — the same placement a scrape of that article gets. Stems come from
   :func:`babylm.data.articles.assign_stems`; a repeated headword gets `` (2)`` … in its file name only.
   ``url``: the Wikisource scan page the article starts on; ``timestamp``: the input file's modification
   time (re-ingesting the same file writes identical JSON).

Memory: all EB1911 pages of the inputs are held as text (about 6 kB a page) while articles are assembled.
"""

from __future__ import annotations

import argparse
import bz2
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import lxml.etree

from babylm.atomic import os_error_line
from babylm.data.articles import article_relpath, assign_stems, number_repeats, part_of, write_article
from babylm.data.sources.wikitext_render import layout_paragraphs, render_wikitext, strip_markup
from babylm.safe_json import JsonError, loads

PAGE_TITLE = re.compile(r"^Page:EB1911 - Volume (\d+)\.djvu/(\d+)$")
_NOINCLUDE = re.compile(r"<noinclude\b[^>]*>.*?(?:</noinclude\s*>|\Z)", re.S | re.I)
_SECTION_TAG = re.compile(r"<section\s+(begin|end)\s*=\s*[\"']?([^\"'/>\s]+)[\"']?\s*/?>", re.I)
_HEADWORD = re.compile(r"^\s*(?:\{\{[^{}]*\}\}\s*)*'''(.+?)'''", re.S)


class IngestError(ValueError):
    """An input that cannot be ingested (unreadable, unknown format, no pages); the message names it."""


@dataclass(frozen=True)
class ScanPage:
    """The wikitext of one scan page ``Page:EB1911 - Volume <volume>.djvu/<page>``."""

    volume: int
    page: int
    text: str

    @property
    def url(self) -> str:
        """The page's address on English Wikisource."""
        return f"https://en.wikisource.org/wiki/Page:EB1911_-_Volume_{self.volume:02d}.djvu/{self.page}"


# ----------------------------------------------------------------------------------------------- reading
def _page_from_record(record: object, source: str) -> ScanPage | None:
    if not isinstance(record, dict):
        raise IngestError(f"{source}: expected objects with 'title'+'text' or 'volume'+'page_number'+'raw_text'")
    if "raw_text" in record and "volume" in record and "page_number" in record:
        try:
            return ScanPage(int(record["volume"]), int(record["page_number"]), str(record["raw_text"]))
        except (TypeError, ValueError, OverflowError):
            raise IngestError(f"{source}: 'volume' and 'page_number' must be integers") from None
    if "title" in record and "text" in record:
        match = PAGE_TITLE.match(str(record["title"]))
        return ScanPage(int(match.group(1)), int(match.group(2)), str(record["text"])) if match else None
    raise IngestError(f"{source}: expected objects with 'title'+'text' or 'volume'+'page_number'+'raw_text'")


def _pages_from_xml(stream) -> Iterator[ScanPage]:
    for _, element in lxml.etree.iterparse(stream, events=("end",), tag="{*}page", huge_tree=True):
        title = element.findtext("{*}title") or ""
        match = PAGE_TITLE.match(title)
        if match:
            texts = element.findall(".//{*}revision/{*}text")
            yield ScanPage(int(match.group(1)), int(match.group(2)), texts[-1].text or "" if texts else "")
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]


def read_pages(path: str | Path) -> list[ScanPage]:
    """Read the EB1911 scan pages in ``path`` (XML export/dump, JSON list or JSON Lines); returns them.

    Raises :class:`IngestError` naming the file when it cannot be read or parsed.
    """
    path = Path(path)
    name = path.name.lower()
    try:
        if name.endswith((".xml", ".xml.bz2")):
            opener = bz2.open if name.endswith(".bz2") else open
            with opener(path, "rb") as stream:
                return list(_pages_from_xml(stream))
        text = path.read_text(encoding="utf-8-sig")  # a leading byte-order mark is not part of the JSON
    except (OSError, EOFError) as error:
        raise IngestError(f"{path}: cannot read ({error})") from None
    except lxml.etree.XMLSyntaxError as error:
        raise IngestError(f"{path}: malformed XML ({error})") from None
    except UnicodeDecodeError as error:
        raise IngestError(f"{path}: not UTF-8 ({error.reason} at byte {error.start})") from None
    where = ""
    try:
        if text.lstrip().startswith("["):
            records = loads(text)
        else:
            records = []
            for number, line in enumerate(text.splitlines(), 1):
                where = f"line {number}: "
                if line.strip():
                    records.append(loads(line))
    except JsonError as error:
        raise IngestError(f"{path}: {where}{error}; expected a JSON list, JSON Lines or XML") from None
    pages = [_page_from_record(record, str(path)) for record in records]
    return [page for page in pages if page is not None]


# -------------------------------------------------------------------------------------------- assembling
def page_sections(text: str) -> list[str]:
    """The ``<section>`` spans of one page's wikitext, in order (rule 1); the whole page if it has none."""
    text = _NOINCLUDE.sub("", text)
    tags = list(_SECTION_TAG.finditer(text))
    if not tags:
        return [text] if text.strip() else []
    spans, open_at = [], None
    for tag in tags:
        if tag.group(1).lower() == "begin":
            open_at = tag.end()
        elif open_at is not None:
            spans.append(text[open_at: tag.start()])
            open_at = None
    if open_at is not None:
        spans.append(text[open_at:])
    return spans


def section_headword(section: str) -> str | None:
    """The article headword a section opens with (rule 2, 4), or None for a continuation."""
    match = _HEADWORD.match(section)
    if not match:
        return None
    title = " ".join(layout_paragraphs(strip_markup(match.group(1))).split()).rstrip(",.;: ")
    first_word = title.split(" ")[0] if title else ""
    if not any(c.isalpha() for c in first_word) or any(c.islower() for c in first_word):
        return None
    return title


@dataclass
class WikitextArticle:
    """An article assembled from page sections: headword, start page, raw wikitext pieces."""

    title: str
    start: ScanPage
    pieces: list[str] = field(default_factory=list)

    def render(self, unknown: Counter | None = None) -> str:
        """The article's plain text (paragraphs separated by blank lines)."""
        return render_wikitext("\n".join(self.pieces), unknown)


def assemble_articles(pages: Iterable[ScanPage]) -> tuple[list[WikitextArticle], int]:
    """Assemble articles from ``pages`` (any order; sorted here); returns (articles, orphan spans skipped)."""
    articles: list[WikitextArticle] = []
    orphans = 0
    for page in sorted(pages, key=lambda p: (p.volume, p.page)):
        for section in page_sections(page.text):
            title = section_headword(section)
            if title:
                articles.append(WikitextArticle(title, page, [section]))
            elif articles and articles[-1].start.volume == page.volume:
                articles[-1].pieces.append(section)
            elif section.strip():
                orphans += 1
    return articles, orphans


# ----------------------------------------------------------------------------------------------- writing
@dataclass
class IngestStats:
    """What one wikitext ingest wrote."""

    pages: int = 0
    duplicate_pages: int = 0
    articles: int = 0
    words: int = 0
    orphans: int = 0
    empty: int = 0
    unknown_templates: Counter = field(default_factory=Counter)


def ingest_pages(paths: Sequence[str | Path], out: str | Path) -> IngestStats:
    """Ingest the scan pages in ``paths`` into ``out`` (the scraper layout); returns the counts.

    Raises :class:`IngestError` when an input cannot be read or holds no EB1911 page.
    """
    out = Path(out)
    pages: list[ScanPage] = []
    newest = 0.0
    for path in paths:
        found = read_pages(path)
        if not found:
            raise IngestError(f"{path}: no 'Page:EB1911 - Volume NN.djvu/PPP' pages found")
        pages.extend(found)
        newest = max(newest, Path(path).stat().st_mtime)
    timestamp = datetime.fromtimestamp(newest, timezone.utc).isoformat(timespec="seconds")
    # overlapping inputs (a dump plus an export, a file given twice) hold the same scan page twice: keep the
    # last copy, as the XML reader keeps a page's last revision, so no article is assembled twice
    unique = {(page.volume, page.page): page for page in pages}
    articles, orphans = assemble_articles(unique.values())
    stats = IngestStats(pages=len(unique), orphans=orphans, duplicate_pages=len(pages) - len(unique))
    keys = number_repeats([article.title for article in articles], [article.start.volume for article in articles])
    stems = assign_stems(keys)
    for key, article in zip(keys, articles):
        content = article.render(stats.unknown_templates)
        if not content:
            stats.empty += 1
            continue
        relpath = article_relpath(article.start.volume, part_of(article.start.page), stems[key])
        write_article(out / relpath, url=article.start.url, title=article.title, content=content, timestamp=timestamp)
        stats.articles += 1
        stats.words += len(content.split())
    return stats


def build_parser() -> argparse.ArgumentParser:
    """The wikitext ingest's command line."""
    parser = argparse.ArgumentParser(
        prog="python -m babylm.data.sources.wikitext",
        description="Wikisource 'Page:EB1911 - Volume NN.djvu/PPP' wikitext → data/britannica_data/volume_XX/part_XX/<title>.json (offline).",
    )
    parser.add_argument("files", nargs="+", type=Path, help="XML export/dump (.xml, .xml.bz2), JSON list or JSON Lines of pages")
    parser.add_argument("--out", type=Path, default=Path("data/britannica_data"), help="output folder (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the wikitext ingest on ``argv`` (default ``sys.argv[1:]``); returns an exit code (2 on bad input)."""
    args = build_parser().parse_args(argv)
    try:
        stats = ingest_pages(args.files, args.out)
    except IngestError as error:
        print(f"ingest_wikitext: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # an output path that cannot be written (a folder, no permission…)
        print(f"ingest_wikitext: {os_error_line(error)}", file=sys.stderr)
        return 2
    print(
        f"ingest_wikitext: {stats.pages} pages → {stats.articles} articles, {stats.words} words "
        f"({stats.orphans} continuation spans without their start skipped) → {args.out}"
    )
    if stats.unknown_templates:
        names = ", ".join(f"{name} ×{count}" for name, count in stats.unknown_templates.most_common(10))
        print(f"ingest_wikitext: templates without a rule (rendered as nothing): {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
