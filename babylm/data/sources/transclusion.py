"""ProofreadPage transclusion: which stretches of which scan pages an EB1911 article page shows.

On Wikisource an article is a main-namespace page (``1911 Encyclopædia Britannica/Abbey``) whose wikitext
transcludes scan pages with ProofreadPage's tag::

    <pages index="EB1911 - Volume 01.djvu" from=42 to=53 fromsection="s5" tosection="s1" />

and a scan page marks the stretches belonging to different articles with Labeled Section Transclusion
(LST) tags, ``<section begin="Bolt, Robert" />`` … ``<section end="Bolt, Robert" />`` (names may hold
spaces, commas and accents). Pure functions; no I/O. Used by :mod:`babylm.data.sources.wikitext`.

**Our reading of the extensions** (ProofreadPage's ``PagesTagParser`` and LST's ``#lst`` as documented for
MediaWiki; no source of either is bundled here, so this is the behaviour we implement and test):

* **Attributes** ``index``, ``from``, ``to``, ``step``, ``include``, ``exclude``, ``fromsection``,
  ``tosection``, ``onlysection`` (quoted or not; others such as ``header`` are ignored).
* **Pages**: when ``from``, ``to`` or ``include`` is given: the range ``from``…``to`` every ``step`` pages
  (``from`` defaults to 1, ``to`` to the last page of the index — here the highest page of that volume
  in the input), plus the ``include`` list (``"1-3,5"``), minus the ``exclude`` list, in ascending order.
  A tag with none of the three (it would show the index's table of contents) transcludes nothing.
* **Per page**, the first rule that applies:

  1. the ``from`` page with ``fromsection``: ``{{#lst:page|fromsection|T}}`` where T is ``tosection`` when
     this is also the ``to`` page, else ``fromsection`` itself — i.e. only that section;
  2. the ``to`` page with ``tosection``: ``{{#lst:page||tosection}}`` — from the top of the page to the
     end of that section;
  3. ``onlysection``: ``{{#lst:page|onlysection}}`` on every page;
  4. otherwise the whole page.

* **LST** ``{{#lst:page|B|E}}``: find a ``begin`` tag named B, take the text until an ``end`` tag named E
  (other sections' tags inside are skipped, their text taken), and repeat from there for the next B — so a
  section that occurs twice on a page is taken twice; a section never closed runs to the end of the page;
  a B that does not occur takes nothing. With B empty the text runs from the top of the page to the first
  end tag named E, once. **Text outside every section** is therefore taken only by rules 2 and 4 (whole
  pages and the top of a ``to`` page), never when a page's section is asked for by rules 1 and 3.
  Section names are compared after trimming and collapsing spaces, case-sensitively.
* ``<noinclude>`` … ``</noinclude>`` (page headers and footers) is never transcluded;
  ``<includeonly>`` tags are dropped, their content kept.
* **Pages are joined** (:func:`join_pages`) with ProofreadPage's page separator, a space, after trailing
  whitespace is trimmed — so a sentence runs on across a page break — except that a page whose text
  starts with a line break opens a new paragraph (Wikisource's convention for a paragraph beginning at
  the top of a page), and a page ending in a hyphen right after a letter is joined to the next without a
  space, the hyphen kept (``north-`` + ``west``; words broken across pages are marked ``{{hws}}``/``{{hwe}}``
  by Wikisource's proofreaders, which render the whole word).

A page is cut into **tokens** (:func:`tokenize`): text stretches and section tags. Text tokens are the units
an article takes (:func:`select`); the ingest uses their indices to make sure no stretch is taken twice.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import re
from dataclasses import dataclass, field
from typing import Iterator

from babylm.data.articles import EB1911_VOLUMES, MAX_SCAN_PAGE

_NOINCLUDE = re.compile(r"<noinclude\b[^<>]*>.*?(?:</noinclude\s*>|\Z)", re.S | re.I)
_INCLUDEONLY = re.compile(r"</?includeonly\s*>", re.I)
_SECTION_TAG = re.compile(
    r"<section\s+(begin|end)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'/>]+))\s*/?\s*>", re.I
)
_PAGES_TAG = re.compile(r"<pages\b((?:[^<>\"']|\"[^\"]*\"|'[^']*')*?)/?\s*>(?:\s*</pages\s*>)?", re.I)
_ATTRIBUTE = re.compile(r"(?<![A-Za-z])([A-Za-z]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>/]+))")
_LETTER_HYPHEN = re.compile(r"[^\W\d_]-")
_EB1911_INDEX = re.compile(r"^EB1911 - Volume ([0-9]{1,2})\.djvu$")


def section_name(name: str) -> str:
    """A section name as compared: trimmed, inner runs of spaces collapsed
    (``" Bolt,  Robert "`` → ``Bolt, Robert``)."""
    return " ".join(name.replace("_", " ").split())


@dataclass(frozen=True)
class Token:
    """A stretch of a page: ``kind`` is ``text`` (``value`` = wikitext), ``begin`` or ``end`` (``value`` = name)."""

    kind: str
    value: str


def tokenize(page_text: str) -> list[Token]:
    """Cut one scan page's wikitext into text and section-tag tokens (``<noinclude>`` removed)."""
    text = _INCLUDEONLY.sub("", _NOINCLUDE.sub("", page_text))
    tokens: list[Token] = []
    position = 0
    for tag in _SECTION_TAG.finditer(text):
        if tag.start() > position:
            tokens.append(Token("text", text[position: tag.start()]))
        name = next(group for group in tag.groups()[1:] if group is not None)
        tokens.append(Token(tag.group(1).lower(), section_name(name)))
        position = tag.end()
    if position < len(text):
        tokens.append(Token("text", text[position:]))
    return tokens


def lst(tokens: list[Token], begin: str, end: str = "") -> list[int]:
    """Indices of the text tokens ``{{#lst:page|begin|end}}`` takes (see the module docstring).

    ``end`` empty means ``begin``; ``begin`` empty means from the top of the page (once).
    """
    begin, end = section_name(begin), section_name(end) or section_name(begin)
    taken: list[int] = []
    i, count = 0, len(tokens)
    while i < count:
        if begin:
            while i < count and not (tokens[i].kind == "begin" and tokens[i].value == begin):
                i += 1
            if i >= count:
                break
            i += 1
        closed = False
        while i < count:
            token = tokens[i]
            if token.kind == "end" and token.value == end:
                closed = True
                break
            if token.kind == "text":
                taken.append(i)
            i += 1
        if not closed or not begin:
            break
        i += 1
    return taken


def sections_at(tokens: list[Token]) -> list[str | None]:
    """For each token, the name of the innermost section open around it (None outside every section)."""
    open_names: list[str | None] = []  # a closed section's entry becomes None (removed lazily from the top)
    where: dict[str, list[int]] = {}  # name → indices of its open entries, innermost last
    names: list[str | None] = []
    for token in tokens:
        if token.kind == "begin":
            where.setdefault(token.value, []).append(len(open_names))
            open_names.append(token.value)
        elif token.kind == "end" and where.get(token.value):
            open_names[where[token.value].pop()] = None
            while open_names and open_names[-1] is None:
                open_names.pop()
        names.append(open_names[-1] if open_names else None)
    return names


def join_pages(texts: list[str]) -> str:
    """The transcluded texts of consecutive pages joined as the module docstring says."""
    pieces: list[str] = []
    for text in texts:
        text_stripped = text.strip()
        if not text_stripped:
            continue
        if pieces:
            if re.match(r"[ \t]*\n", text):
                pieces.append("\n\n")
            elif not _LETTER_HYPHEN.fullmatch(pieces[-1][-2:]):
                pieces.append(" ")
        pieces.append(text_stripped)
    return "".join(pieces)


# -------------------------------------------------------------------------------------------- <pages>
MAX_PAGES_PER_ARTICLE = 2000
"""The most scan page numbers one article page's ``<pages>`` tags may name, together (the longest EB1911 articles
span some 150 pages, a whole volume about 1,000). Past it the rest is left out and reported, so the work of
assembling an article is bounded by this, never by a number inside a tag (``to=99999999``)."""

PageRanges = tuple[tuple[int, int], ...]
"""Inclusive page ranges, e.g. ``include="1-3,5"`` → ``((1, 3), (5, 5))``."""


@dataclass(frozen=True)
class PagesTag:
    """One ``<pages … />`` tag: its index, the page selection and the section attributes.

    Page numbers are at most :data:`~babylm.data.articles.MAX_SCAN_PAGE` (larger ones were cut to it when the
    tag was read, and reported in ``errors``)."""

    index: str
    start: int | None = None
    stop: int | None = None
    step: int = 1
    include: PageRanges = ()
    exclude: PageRanges = ()
    fromsection: str = ""
    tosection: str = ""
    onlysection: str = ""
    errors: tuple[str, ...] = field(default=(), compare=False)

    @property
    def volume(self) -> int | None:
        """The EB1911 volume of the index (``EB1911 - Volume 01.djvu`` → 1), None for any other index (a volume
        outside 1–29 included)."""
        match = _EB1911_INDEX.match(" ".join(self.index.replace("_", " ").split()))
        volume = int(match.group(1)) if match else None
        return volume if volume is not None and 1 <= volume <= EB1911_VOLUMES else None

    def iter_pages(self, last_page: int | None = None) -> Iterator[int]:
        """The page numbers transcluded, ascending, one at a time (nothing is materialised, so a wide range costs
        only what the caller takes of it); ``last_page`` stands for a missing ``to``."""
        if self.start is None and self.stop is None and not self.include:
            return
        sources: list[range] = [range(low, high + 1) for low, high in self.include]
        if self.start is not None or self.stop is not None:
            start = self.start if self.start is not None else 1
            stop = self.stop if self.stop is not None else (last_page if last_page is not None else start)
            sources.append(range(start, min(stop, MAX_SCAN_PAGE) + 1, max(self.step, 1)))
        excluded = sorted(self.exclude)
        lows = [low for low, _ in excluded]
        highs = list(itertools.accumulate((high for _, high in excluded), max))  # highest end up to each range
        previous = None
        for page in heapq.merge(*sources):
            if page == previous:
                continue
            previous = page
            at = bisect.bisect_right(lows, page)
            if at and highs[at - 1] >= page:
                continue
            yield page

    def pages(self, last_page: int | None = None, limit: int = MAX_PAGES_PER_ARTICLE) -> list[int]:
        """The first ``limit`` page numbers transcluded, ascending; ``last_page`` stands for a missing ``to``."""
        return list(itertools.islice(self.iter_pages(last_page), limit))

    def select(self, page: int, tokens: list[Token]) -> list[int]:
        """Indices of the text tokens of scan page ``page`` this tag transcludes (rules 1–4)."""
        if page == self.start and self.fromsection:
            return lst(tokens, self.fromsection, self.tosection if page == self.stop and self.tosection else "")
        if page == self.stop and self.tosection:
            return lst(tokens, "", self.tosection)
        if self.onlysection:
            return lst(tokens, self.onlysection)
        return [i for i, token in enumerate(tokens) if token.kind == "text"]


_PAGE_NUMBER = re.compile(r"[0-9]+")


def _page_number(text: str, errors: list[str], label: str) -> int | None:
    """An ASCII page number, cut to :data:`MAX_SCAN_PAGE` (reported in ``errors`` as ``label``); None when it is
    not one."""
    if not _PAGE_NUMBER.fullmatch(text):
        return None
    if len(text) > len(str(MAX_SCAN_PAGE)) or int(text) > MAX_SCAN_PAGE:
        errors.append(f"{label} (above page {MAX_SCAN_PAGE})")
        return MAX_SCAN_PAGE + 1 if label.startswith(("from", "include", "exclude")) else MAX_SCAN_PAGE
    return int(text)


def _page_ranges(value: str, errors: list[str], key: str) -> PageRanges:
    """``"1-3,5"`` → ((1, 3), (5, 5)); what cannot be read is added to ``errors`` as ``"<key> <item>"``."""
    ranges: list[tuple[int, int]] = []
    for item in re.split(r"[,\s]+", value.strip()):
        if not item:
            continue
        bounds = item.split("-")
        numbers = [_page_number(bound, errors, f"{key} {item}") for bound in bounds] if len(bounds) <= 2 else [None]
        if None in numbers:
            errors.append(f"{key} {item}")
        elif numbers[0] <= MAX_SCAN_PAGE:
            ranges.append((numbers[0], min(numbers[-1], MAX_SCAN_PAGE)))
    return tuple(ranges)


def parse_pages_tags(wikitext: str) -> list[tuple[re.Match, PagesTag]]:
    """Every ``<pages …/>`` tag in an article's wikitext, in order: (its match, the parsed tag)."""
    tags = []
    for match in _PAGES_TAG.finditer(wikitext):
        attributes = {
            attribute.group(1).lower(): next(group for group in attribute.groups()[1:] if group is not None)
            for attribute in _ATTRIBUTE.finditer(match.group(1))
        }
        errors: list[str] = []

        def number(key: str) -> int | None:
            value = attributes.get(key, "").strip()
            parsed = _page_number(value, errors, f"{key}={value}")
            if parsed is None and value:
                errors.append(f"{key}={value}")
            return parsed

        tag = PagesTag(
            index=attributes.get("index", ""), start=number("from"), stop=number("to"), step=number("step") or 1,
            include=_page_ranges(attributes.get("include", ""), errors, "include"),
            exclude=_page_ranges(attributes.get("exclude", ""), errors, "exclude"),
            fromsection=section_name(attributes.get("fromsection", "")),
            tosection=section_name(attributes.get("tosection", "")),
            onlysection=section_name(attributes.get("onlysection", "")), errors=tuple(errors),
        )
        tags.append((match, tag))
    return tags
