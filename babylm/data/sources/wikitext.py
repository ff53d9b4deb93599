"""Offline ingest of Wikisource EB1911 wikitext — Wikimedia's dump or page lists — into the scraper's layout.

Run it::

    python -m babylm.data.sources.wikitext enwikisource-YYYYMMDD-pages-articles.xml.bz2 [--out data/britannica_data]
    python -m babylm.data.sources.wikitext PAGES.json [PAGES.jsonl …]
    python scripts/ingest_wikitext.py --help

Inputs (:mod:`babylm.data.sources.dump`): Wikimedia's XML dump of English Wikisource (``.xml.bz2``, streamed
with bounded memory and a progress bar), any MediaWiki XML export, or JSON lists / JSON Lines of pages.
The EB1911 pages are kept: **article pages** (``1911 Encyclopædia Britannica/…``, namespace 0) and **scan
pages** (``Page:EB1911 - Volume NN.djvu/PPP``, namespace 104); redirects and other works are skipped.

Writes one ``<out>/volume_VV/part_PP/<stem>.json`` per article, ``{"url", "title", "content",
"timestamp"}``, as ``babylm.data.wikisource`` does, and ``<out>/ingest_report.json``. Rules:

1. **Articles as Wikisource assembles them** (:mod:`babylm.data.sources.wikitext_assembly`, route
   *transclusion*): every article page that transcludes scan pages with ProofreadPage's ``<pages …/>`` tag
   and is not front/back matter (:data:`babylm.data.articles.NON_ARTICLE_TITLES`) becomes one article,
   assembled exactly as the tag says (:mod:`babylm.data.sources.transclusion`); no stretch of a scan page
   goes to two articles (parents first; overlaps reported).
2. **Fallback** (route *headword*): the stretches of scan pages that no article page transcludes are cut
   into articles at bold ALL-CAPS headwords; a stretch that continues nothing in reach is an orphan,
   reported and left out.
3. Each article's wikitext is rendered by :func:`babylm.data.sources.wikitext_render.render_wikitext` —
   EB1911 templates to their text, tables, figures, footnotes and formulas out (counted).
4. Placement and file names: volume and start page as in the module above; part by the scraper's rule
   (:func:`babylm.data.articles.part_of`); stems from :func:`babylm.data.articles.assign_stems`, a repeated
   title within a volume getting `` (2)`` … in its file name only. ``url``: the article page (route 1) or
   the scan page it starts on (route 2); ``timestamp``: the newest input's modification time (re-ingesting
   the same inputs writes identical JSON).

The report (``ingest_report.json``, also summarised on the console) gives articles per route, orphan spans,
overlaps, pages transcluded but missing from the input, redirects and non-articles skipped, unknown
templates and what rendering left out (tables, captions, footnotes, formulas, margin headings), with words.

Memory: pages go into an SQLite file in a temporary folder inside ``<out>`` (``.pages.sqlite.<random>.tmp/``,
deleted afterwards, and by the next run if this one is killed); assembly reads one article's pages at a time,
so memory is flat in the input's size. One writer per tree, and only into a tree of its own
(:mod:`babylm.data.article_tree`): every file written is listed in ``<out>/.babylm-ingest.json``
first, and a tree holding files this ingest did not write is refused in one line. Disk: about the EB1911 pages'
wikitext twice (pages and staged articles), ~0.5 GB for all of EB1911.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Sequence

from babylm.core.arguments import CommandParser, run_command
from babylm.core.atomic import temporary_folder
from babylm.data.article_tree import INGEST, TreeError, claim, writing
from babylm.data.articles import (
    INGEST_REPORT,
    NON_ARTICLE_TITLES,
    PREFIX,
    Tally,
    article_relpath,
    assign_stems,
    number_repeats,
    part_of,
    record_ingest,
    scan_page_key,
    write_article,
)
from babylm.data.layout import DEFAULT
from babylm.data.sources.dump import SCAN_TITLE as PAGE_TITLE
from babylm.data.sources.dump import DumpError, PageStore, iter_input, load_inputs
from babylm.data.sources.transclusion import tokenize
from babylm.data.sources.wikitext_assembly import (
    Orphan,
    WikitextArticle,
    by_headword,
    position_of,
    section_headword,
    transclude,
)

__all__ = ["IngestError", "ScanPage", "PAGE_TITLE", "read_pages", "page_sections", "section_headword",
           "assemble_articles", "ingest_pages", "IngestStats", "main"]

IngestError = DumpError
WRITER = INGEST
"""An input that cannot be ingested (unreadable, unknown format, no EB1911 pages); the message names it."""


@dataclass(frozen=True)
class ScanPage:
    """The wikitext of one scan page ``Page:EB1911 - Volume <volume>.djvu/<page>``."""

    volume: int
    page: int
    text: str


def read_pages(path: str | Path) -> list[ScanPage]:
    """The EB1911 scan pages in one input (XML export/dump, JSON list or JSON Lines), in file order."""
    pages = []
    for page in iter_input(path):
        key = scan_page_key(page.title)
        if key is not None and page.ns in (104, None):
            pages.append(ScanPage(*key, page.text))
    return pages


def page_sections(text: str) -> list[str]:
    """The non-blank text stretches of one page's wikitext, in order (``<noinclude>`` and section tags out)."""
    return [token.value for token in tokenize(text) if token.kind == "text" and token.value.strip()]


def assemble_articles(pages: Iterable[ScanPage]) -> tuple[list[WikitextArticle], list[Orphan]]:
    """Assemble articles from scan ``pages`` alone by headword (route 2; any order, sorted here)."""
    unique = {(page.volume, page.page): page for page in pages}
    walk = ((v, p, tokenize(unique[v, p].text), set()) for v, p in sorted(unique))
    articles, orphans = [], []
    for item in by_headword(walk):
        (orphans if isinstance(item, Orphan) else articles).append(item)
    return articles, orphans


# ------------------------------------------------------------------------------------------------ ingest
@dataclass
class IngestStats:
    """What one wikitext ingest read and wrote."""

    pages: int = 0
    article_pages: int = 0
    redirects: int = 0
    duplicate_pages: int = 0
    articles: int = 0
    routes: Counter = field(default_factory=Counter)
    words: int = 0
    orphans: int = 0
    orphan_words: int = 0
    overlaps: int = 0
    missing_pages: int = 0
    skipped: Counter = field(default_factory=Counter)
    empty: int = 0
    unknown_templates: Counter = field(default_factory=Counter)
    removed: Tally = field(default_factory=Tally)


def _transclusion_route(store: PageStore, stats: IngestStats, report: dict) -> None:
    """Route 1: stage every article page that transcludes scan pages, parents first, then in book order."""
    positions = []
    for title, text in store.iter_articles():
        name = title[len(PREFIX):]
        position = position_of(text)
        if NON_ARTICLE_TITLES.match(name):
            stats.skipped["front/back matter or listing"] += 1
        elif position is None:
            stats.skipped["transcludes no EB1911 scan page"] += 1
        else:
            positions.append((name.count("/"), *position, title))
    for _, _, _, title in sorted(positions):
        text = store.db.execute("SELECT text FROM articles WHERE title = ?", (title,)).fetchone()[0]
        found = transclude(title, text, store.scan, store.last_page, store.claim)
        stats.missing_pages += len(found.missing)
        if found.missing:
            report["missing_pages"].append({"article": title, "pages": [f"{v:02d}/{p}" for v, p in found.missing][:20]})
        for owner, volume, page in found.overlaps:
            stats.overlaps += 1
            report["overlaps"].append({"article": title, "taken_by": owner, "page": f"{volume:02d}/{page}"})
        if found.problems:
            report["problems"].append({"article": title, "problems": found.problems})
        if found.article is None:
            stats.skipped["nothing left to take (every stretch taken by an earlier article)" if found.overlaps
                          else "its scan pages are not in the input"] += 1
            continue
        _stage(store, found.article, stats)


def _stage(store: PageStore, article: WikitextArticle, stats: IngestStats) -> None:
    content = article.render(stats.unknown_templates, stats.removed)
    if not content:
        stats.empty += 1
        return
    store.stage(article.title, article.volume, article.page, article.url, article.route, content)


def _headword_route(store: PageStore, stats: IngestStats, report: dict) -> None:
    """Route 2: the stretches of scan pages no article page took, cut at headwords."""
    walk = ((volume, page, tokenize(text), store.claimed(volume, page)) for volume, page, text in store.iter_scans())
    for item in by_headword(walk):
        if isinstance(item, Orphan):
            words = len(WikitextArticle("", 0, 0, "", "", [item.text]).render().split())
            stats.orphans += 1
            stats.orphan_words += words
            stats.removed.add("orphan span", words=words)
            report["orphans"].append({"page": f"{item.volume:02d}/{item.page}", "words": words})
        else:
            _stage(store, item, stats)


def ingest_pages(paths: Sequence[str | Path], out: str | Path, progress: bool = False) -> IngestStats:
    """Ingest the EB1911 wikitext in ``paths`` into ``out`` (the scraper layout); returns the counts.

    ``progress`` shows a progress bar while XML inputs stream in. Raises :class:`IngestError` when an input
    cannot be read, is empty or holds no EB1911 page.
    """
    out = Path(out)
    for path in paths:
        if Path(path).is_file() and Path(path).stat().st_size == 0:
            raise IngestError(f"{path}: the file is empty; pass an English Wikisource dump, XML export, "
                              "JSON or JSON Lines of EB1911 pages")
    newest = max(Path(path).stat().st_mtime for path in paths) if paths else 0.0
    timestamp = datetime.fromtimestamp(newest, timezone.utc).isoformat(timespec="seconds")
    stats = IngestStats()
    report: dict = {"source": "wikitext", "inputs": sorted(Path(p).name for p in paths), "articles": {},
                    "orphans": [], "overlaps": [], "missing_pages": [], "problems": []}
    with writing(out, WRITER) as out:
        scratch = temporary_folder(out / "pages.sqlite")  # in the tree: a killed run's is removed by the next
        try:
            with PageStore(scratch / "pages.sqlite") as store:
                _assemble(paths, store, stats, report, progress)
                _write_staged(store, out, timestamp, stats, report)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        report.update(
            pages=stats.pages, article_pages=stats.article_pages, redirects=stats.redirects,
            duplicate_pages=stats.duplicate_pages, skipped=dict(stats.skipped),
            unknown_templates=dict(stats.unknown_templates.most_common()), removed=stats.removed.as_dict(),
        )
        record_ingest(out, "wikitext:" + ",".join(report["inputs"]), report)
    return stats


def _assemble(paths: Sequence[str | Path], store: PageStore, stats: IngestStats, report: dict, progress: bool) -> None:
    """Stream the inputs into ``store`` and stage every article, by both routes."""
    for _, counts in load_inputs(paths, store, progress):
        stats.duplicate_pages += counts["scan"]
    stats.pages = store.count("scans")
    stats.duplicate_pages -= stats.pages
    stats.article_pages, stats.redirects = store.count("articles"), store.count("redirects")
    _transclusion_route(store, stats, report)
    _headword_route(store, stats, report)


def _write_staged(store: PageStore, out: Path, timestamp: str, stats: IngestStats, report: dict) -> None:
    """Name the staged articles, record them as this ingest's (before writing), write them."""
    places = list(store.staged_places())
    keys = number_repeats([title for title, _, _ in places], [volume for _, volume, _ in places])
    stems = assign_stems(keys)
    relpaths = [article_relpath(volume, part_of(page), stems[key]) for key, (_, volume, page) in zip(keys, places)]
    claim(out, WRITER, [*relpaths, INGEST_REPORT])
    for relpath, (title, volume, page, url, route, content) in zip(relpaths, store.iter_staged()):
        write_article(out / relpath, url=url, title=title, content=content, timestamp=timestamp)
        report["articles"][relpath] = route
        stats.articles += 1
        stats.routes[route] += 1
        stats.words += len(content.split())


def build_parser() -> argparse.ArgumentParser:
    """The wikitext ingest's command line."""
    parser = CommandParser(
        prog="python -m babylm.data.sources.wikitext",
        description="Wikisource EB1911 wikitext (the Wikimedia dump, an XML export, JSON pages) "
                    "→ data/britannica_data/volume_XX/part_XX/<title>.json (offline).",
    )
    parser.add_argument("files", nargs="+", type=Path, help="enwikisource-…-pages-articles.xml.bz2, XML export "
                        "(.xml, .xml.bz2, .xml.gz), JSON list or JSON Lines of pages")
    parser.add_argument("--out", type=Path, default=DEFAULT.raw, help="output folder (default: %(default)s)")
    return parser


def summary_lines(stats: IngestStats, out: Path) -> list[str]:
    """The console summary of one ingest."""
    routes = ", ".join(f"{n} by {route}" for route, n in sorted(stats.routes.items())) or "none"
    lines = [
        f"{stats.pages} scan pages, {stats.article_pages} article pages ({stats.redirects} redirects skipped) → "
        f"{stats.articles} articles ({routes}), {stats.words} words → {out}",
        f"left out: {stats.orphans} orphan spans ({stats.orphan_words} words), {stats.overlaps} stretches "
        f"already taken by another article, {stats.missing_pages} transcluded pages missing from the input; "
        f"details in {out / 'ingest_report.json'}",
    ]
    if stats.unknown_templates:
        names = ", ".join(f"{name} ×{count}" for name, count in stats.unknown_templates.most_common(10))
        lines.append(f"templates without a rule (rendered as their arguments): {names}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the wikitext ingest on ``argv`` (default ``sys.argv[1:]``); returns an exit code (2 on bad input)."""

    def work(args) -> str:
        stats = ingest_pages(args.files, args.out, progress=True)
        return "\n".join(f"ingest_wikitext: {line}" for line in summary_lines(stats, args.out))

    return run_command("ingest_wikitext", argv, build_parser(), work, (IngestError, TreeError))


if __name__ == "__main__":
    sys.exit(main())
