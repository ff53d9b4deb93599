"""Assembling EB1911 articles from Wikisource wikitext, by two routes.

1. **Transclusion** (exact): an article page ``1911 Encyclopædia Britannica/<name>`` is assembled as
   Wikisource shows it — its wikitext with every ``<pages …/>`` tag replaced by the stretches of the scan
   pages it transcludes, pages joined as ProofreadPage joins them (:mod:`babylm.data.sources.transclusion`).
   :func:`transclude` does one article; the caller hands article pages over **parents first** (fewer
   ``/`` in the name), then in book order (volume, first scan page), then by name, and no stretch of a scan
   page is taken twice: a stretch already taken by an earlier article (a parent page that transcludes its
   ``…/Sub`` pages' text, a duplicate page) is left to it and reported as an overlap; an article left
   with nothing is not written.
2. **Headword** (fallback, for the stretches of scan pages that no article page transcludes — all of
   them when the input has no article pages): :func:`by_headword` walks the scan pages in book order; a
   stretch opening with a bold ALL-CAPS headword (``'''ABBESS''' (Lat. …``, also inside a link:
   ``[[Author:…|'''BOMBARDIER, ÉTIENNE''']]``, optionally after templates) starts an article; any other
   stretch continues the article of the stretch before it **only** when nothing else came between (no
   stretch taken by an article page) and it lies on the same or the next scan page of that volume (pages
   with nothing of their own in between, such as plates, are walked through). Else it is an **orphan**:
   reported with its words and left out (the tail of an article begun on a page the input lacks, a
   continuation across missing pages).

Titles: the page name for route 1 (``Abbey``, as the scraper names articles), the headword for route 2
(``ABBEY``). Volume and start page: route 1 — the volume most of its pages come from (ties: the lower) and
its first page there (the scraper's rule); route 2 — the page of its headword.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator
from urllib.parse import quote

from babylm.data.articles import PREFIX, Tally
from babylm.data.sources.transclusion import MAX_PAGES_PER_ARTICLE, Token, join_pages, parse_pages_tags, tokenize
from babylm.data.sources.wikitext_render import layout_paragraphs, render_wikitext, strip_markup

_HEADWORD = re.compile(r"^\s*(?:\{\{[^{}]*\}\}\s*)*(?:\[\[[^\[\]|]*\|\s*)?'''(.+?)'''", re.S)


def scan_url(volume: int, page: int) -> str:
    """The address of scan page ``page`` of ``volume`` on English Wikisource."""
    return f"https://en.wikisource.org/wiki/Page:EB1911_-_Volume_{volume:02d}.djvu/{page}"


def article_url(title: str) -> str:
    """The address of main-namespace page ``title`` on English Wikisource."""
    return "https://en.wikisource.org/wiki/" + quote(title.replace(" ", "_"), safe="/(),'!:")


def section_headword(span: str) -> str | None:
    """The article headword a stretch of page wikitext opens with, or None for a continuation."""
    match = _HEADWORD.match(span)
    if not match:
        return None
    title = " ".join(layout_paragraphs(strip_markup(match.group(1))).split()).rstrip(",.;: ")
    first_word = title.split(" ")[0] if title else ""
    if not any(c.isalpha() for c in first_word) or any(c.islower() for c in first_word):
        return None
    return title


@dataclass
class WikitextArticle:
    """An assembled article: title, placement, route (``transclusion`` or ``headword``), wikitext pieces."""

    title: str
    volume: int
    page: int
    url: str
    route: str
    pieces: list[str] = field(default_factory=list)
    last_page: int = 0

    def render(self, unknown: Counter | None = None, removed: Tally | None = None) -> str:
        """The article's plain text (paragraphs separated by blank lines); pieces are pages, joined as
        :func:`babylm.data.sources.transclusion.join_pages` says."""
        return render_wikitext(join_pages(self.pieces), unknown, removed)


@dataclass(frozen=True)
class Orphan:
    """A stretch of scan page wikitext that continues an article the input does not hold."""

    volume: int
    page: int
    text: str


# ------------------------------------------------------------------------------------------- transclusion
def position_of(wikitext: str) -> tuple[int, int] | None:
    """(volume, first scan page) an article page's ``<pages>`` tags point at, by the scraper's rule; None
    when it transcludes no EB1911 scan page. A tag without ``to`` counts its ``from`` page only."""
    pages: dict[int, list[int]] = {}
    budget = MAX_PAGES_PER_ARTICLE
    for _, tag in parse_pages_tags(wikitext):
        if tag.volume is not None and budget > 0:
            named = tag.pages(None, limit=budget)
            budget -= len(named)
            pages.setdefault(tag.volume, []).extend(named)
    pages = {volume: numbers for volume, numbers in pages.items() if numbers}
    if not pages:
        return None
    volume = min(pages, key=lambda v: (-len(pages[v]), v))
    return volume, min(pages[volume])


@dataclass
class Transcluded:
    """What :func:`transclude` found for one article page."""

    article: WikitextArticle | None
    missing: list[tuple[int, int]] = field(default_factory=list)
    overlaps: list[tuple[str, int, int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def transclude(title: str, wikitext: str, fetch: Callable[[int, int], str | None],
               last_page: Callable[[int], int | None],
               claim: Callable[[int, int, int, str], str | None]) -> Transcluded:
    """Assemble article page ``title`` (route 1 of the module docstring).

    ``fetch(volume, page)`` returns a scan page's wikitext (None when the input lacks it), ``last_page(volume)``
    the highest page of a volume, ``claim(volume, page, token, title)`` records that a text token is taken
    and returns its earlier owner, if any. Returns the article (None when it takes nothing) with the pages
    it lacked, the stretches it left to an earlier article (owner, volume, page) and unreadable attributes.
    """
    result = Transcluded(None)
    pieces: list[str] = []
    used: dict[int, list[int]] = {}
    position = 0
    budget = MAX_PAGES_PER_ARTICLE  # page numbers the tags may still name (a bound on the work, see its docstring)
    exhausted = False
    for match, tag in parse_pages_tags(wikitext):
        pieces.append(wikitext[position: match.start()])
        position = match.end()
        result.problems += [f"unreadable <pages> attribute {error}" for error in tag.errors]
        volume = tag.volume
        if volume is None:
            result.problems.append(f"index {tag.index!r} is not an EB1911 volume")
            continue
        texts = []
        named = tag.pages(last_page(volume), limit=budget + 1)
        if len(named) > budget:
            if not exhausted:  # said once
                result.problems.append(f"its <pages> tags name more than {MAX_PAGES_PER_ARTICLE} scan pages; "
                                       "the rest is left out")
            exhausted, named = True, named[:budget]
        budget -= len(named)
        for page in named:
            page_text = fetch(volume, page)
            if page_text is None:
                result.missing.append((volume, page))
                continue
            tokens = tokenize(page_text)
            taken = []
            for index in tag.select(page, tokens):
                value = tokens[index].value
                if not value.strip():
                    taken.append(value)
                    continue
                owner = claim(volume, page, index, title)
                if owner is None:
                    taken.append(value)
                elif owner != title:
                    result.overlaps.append((owner, volume, page))
            if "".join(taken).strip():
                texts.append("".join(taken))
                used.setdefault(volume, []).append(page)
        pieces.append(join_pages(texts))
    pieces.append(wikitext[position:])
    if used:
        volume = min(used, key=lambda v: (-len(used[v]), v))
        name = title[len(PREFIX):] if title.startswith(PREFIX) else title
        result.article = WikitextArticle(name, volume, min(used[volume]), article_url(title), "transclusion",
                                         ["".join(pieces)], max(used[volume]))
    return result


# ------------------------------------------------------------------------------------------------ headword
def by_headword(pages: Iterable[tuple[int, int, list[Token], set[int]]],
                blank: Callable[[str], bool] = lambda text: not render_wikitext(text),
                ) -> Iterator[WikitextArticle | Orphan]:
    """Route 2 of the module docstring over ``pages``: (volume, page, tokens, tokens already taken), in book
    order. Yields each article when it is complete, and each orphan stretch where it occurs.

    ``blank(wikitext)`` tells a stretch with no text of its own (whitespace, a ``{{nop}}``), which neither
    starts, continues nor interrupts an article.
    """
    current: WikitextArticle | None = None
    tail: list[str] = []  # the parts of current's last piece (joined once, when it is complete)

    def finished() -> WikitextArticle:
        current.pieces[-1] = "".join(tail)
        return current

    for volume, page, tokens, taken in pages:
        pending: list[str] = []  # blank stretches since the article's last piece on this page (layout between pieces)
        for index, token in enumerate(tokens):
            if token.kind != "text":
                continue
            if index in taken:
                if token.value.strip() and current is not None:
                    yield finished()
                    current = None
                continue
            if blank(token.value):
                pending.append(token.value)
                continue
            title = section_headword(token.value)
            if title:
                if current is not None:
                    yield finished()
                current = WikitextArticle(title, volume, page, scan_url(volume, page), "headword", [token.value], page)
                tail = [token.value]
            elif current is not None and current.volume == volume and page - current.last_page <= 1:
                if current.last_page == page:
                    tail += [*pending, token.value]
                else:
                    current.pieces[-1] = "".join(tail)
                    current.pieces.append(token.value)
                    tail = [token.value]
                current.last_page = page
            else:
                if current is not None:
                    yield finished()
                    current = None
                yield Orphan(volume, page, token.value)
            pending = []
        if current is not None and current.volume == volume and page - current.last_page <= 1:
            current.last_page = page  # walked through (a plate page, a blank page): the article reaches on
    if current is not None:
        yield finished()
