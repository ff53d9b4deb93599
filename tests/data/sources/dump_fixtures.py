"""Generated Wikisource dumps in Wikimedia's XML export schema 0.11, with the articles they must assemble to.

:func:`eb1911_site` lays out a made-up EB1911: per volume a run of articles over scan pages, each page
holding the article stretches between LST section tags named after the article (names with spaces, commas
and accents, as real pages have), and one main-namespace article page per article with ProofreadPage's
``<pages index=… from=… to=… fromsection=… tosection=… />`` tag, plus redirects. It also returns the text each
article must have once assembled and rendered. :func:`write_dump` writes pages (and filler pages of other
works, in both namespaces) as ``<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/">`` XML,
bz2-compressed when the name ends in ``.bz2`` — as several bz2 streams, like Wikimedia's multistream dumps,
compressed in parallel so that a dump of hundreds of MB is written in seconds. Used by the tests and by
``benchmarks/bench_wikitext_dump.py``.
"""

from __future__ import annotations

import bz2
import random
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator
from xml.sax.saxutils import escape, quoteattr

PREFIX = "1911 Encyclopædia Britannica/"
SLOTS_PER_PAGE = 3
NAMES = ("Bolt, Robert", "Bombardier, Étienne", "Bölsche, Wilhelm", "Ābū Bakr", "Brest-Litovsk", "Bric à Brac",
         "O'Brien, William", "Bruges")
WORDS = ("the", "of", "and", "a", "town", "river", "was", "born", "church", "abbey", "in", "with", "by", "king",
         "which", "his", "castle", "bridge", "1832", "French", "English", "province", "called", "north-west")


@dataclass
class Site:
    """A generated EB1911: scan pages, article pages, redirects, and what each article must read."""

    scans: dict[tuple[int, int], str] = field(default_factory=dict)
    articles: dict[str, str] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    expected: dict[str, str] = field(default_factory=dict)
    headwords: dict[str, str] = field(default_factory=dict)

    def pages(self) -> Iterator[tuple[str, int, str, str | None]]:
        """(title, ns, text, redirect target) of every page: scan pages, article pages, redirects."""
        for (volume, page), text in sorted(self.scans.items()):
            yield f"Page:EB1911 - Volume {volume:02d}.djvu/{page}", 104, text, None
        for title, text in self.articles.items():
            yield title, 0, text, None
        for title, target in self.redirects.items():
            yield title, 0, f"#REDIRECT [[{target}]]", target


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def eb1911_site(volumes: int = 1, pages: int = 6, seed: int = 0, words_per_slot: int = 12) -> Site:
    """A made-up EB1911 of ``volumes`` × ``pages`` scan pages, 3 article stretches a page; articles run over
    1–5 stretches (so across pages), each with an article page transcluding it and a redirect to it."""
    rng = random.Random(seed)
    site = Site()
    bold = "'" * 3
    for volume in range(1, volumes + 1):
        slots: list[tuple[str, str]] = []  # (article name, stretch wikitext) in reading order
        number = 0
        while len(slots) < pages * SLOTS_PER_PAGE:
            number += 1
            name = f"{NAMES[number % len(NAMES)]} {volume}-{number}"
            headword = name.upper()
            length = min(rng.choice((1, 1, 2, 3, 5)), pages * SLOTS_PER_PAGE - len(slots))
            first = _sentence(rng, words_per_slot)
            texts = [f"{bold}{headword},{bold} {first}"] + [_sentence(rng, words_per_slot) for _ in range(length - 1)]
            slots += [(name, text) for text in texts]
            site.expected[name] = " ".join([f"{headword}, {first}", *texts[1:]])
            site.headwords[name] = headword
        spans: dict[str, list[int]] = {}
        for page in range(1, pages + 1):
            body: list[tuple[str, str]] = []  # one section per article on a page, as on Wikisource
            for name, text in slots[(page - 1) * SLOTS_PER_PAGE: page * SLOTS_PER_PAGE]:
                if body and body[-1][0] == name:
                    body[-1] = (name, body[-1][1] + " " + text)
                else:
                    body.append((name, text))
                    spans.setdefault(name, []).append(page)
            body = [f'<section begin="{name}" />{text}\n<section end="{name}" />' for name, text in body]
            header = f'<noinclude><pagequality level="4" user="X" />{{{{EB1911 Page Heading|{page}|HEAD}}}}</noinclude>'
            site.scans[volume, page] = header + "\n".join(body) + "<noinclude>{{smallrefs}}</noinclude>"
        for name, used in spans.items():
            first_page, last_page = min(used), max(used)
            site.articles[PREFIX + name] = (
                f"{{{{EB1911|volume={volume}|page={first_page}|previous=[[../Prev/]]}}}}\n"
                f'<pages index="EB1911 - Volume {volume:02d}.djvu" from={first_page} to={last_page} '
                f'fromsection="{name}" tosection="{name}" />\n{{{{DEFAULTSORT:{name}}}}}\n[[Category:EB1911 articles]]'
            )
            site.redirects[PREFIX + name + " (variant)"] = PREFIX + name
    return site


def filler_pages(count: int, seed: int = 1, words: int = 900,
                 distinct: int = 64) -> Iterator[tuple[str, int, str, None]]:
    """``count`` pages of other works (alternately main namespace and Page: namespace), ~6 kB each, drawn
    from ``distinct`` different bodies (more bodies: a dump that compresses less)."""
    rng = random.Random(seed)
    vocabulary = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
                  for _ in range(20000)]
    bodies = [" ".join(rng.choices(vocabulary, k=words)) for _ in range(distinct)]
    for i in range(count):
        if i % 2:
            yield f"Page:Some Other Book.djvu/{i}", 104, bodies[i % len(bodies)] + f" {i}", None
        else:
            yield f"Some Other Work/Chapter {i}", 0, bodies[i % len(bodies)] + f" {i}", None


def _page_xml(page_id: int, title: str, ns: int, text: str, redirect: str | None) -> str:
    redirect_xml = f"    <redirect title={quoteattr(redirect)} />\n" if redirect else ""
    return (
        f"  <page>\n    <title>{escape(title)}</title>\n    <ns>{ns}</ns>\n    <id>{page_id}</id>\n{redirect_xml}"
        f"    <revision>\n      <id>{page_id}</id>\n      <timestamp>2024-01-01T00:00:00Z</timestamp>\n"
        f"      <model>wikitext</model>\n      <format>text/x-wiki</format>\n"
        f"      <text bytes=\"{len(text.encode())}\" xml:space=\"preserve\">{escape(text)}</text>\n"
        f"    </revision>\n  </page>\n"
    )


HEADER = (
    '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="0.11" xml:lang="en">\n'
    "  <siteinfo>\n    <sitename>Wikisource</sitename>\n    <dbname>enwikisource</dbname>\n"
    '    <namespaces>\n      <namespace key="0" case="first-letter" />\n'
    '      <namespace key="104" case="first-letter">Page</namespace>\n    </namespaces>\n  </siteinfo>\n'
)
FOOTER = "</mediawiki>\n"


def _compress(chunk: str) -> bytes:
    return bz2.compress(chunk.encode("utf-8"), 1)


def _chunks(pages: Iterable[tuple[str, int, str, str | None]], chunk_pages: int) -> Iterator[str]:
    yield HEADER
    pieces: list[str] = []
    for page_id, page in enumerate(pages, start=1):
        pieces.append(_page_xml(page_id, *page))
        if len(pieces) == chunk_pages:
            yield "".join(pieces)
            pieces = []
    yield "".join(pieces) + FOOTER


def write_dump(path: Path, pages: Iterable[tuple[str, int, str, str | None]], chunk_pages: int = 2000,
               workers: int = 2) -> int:
    """Write ``pages`` (title, ns, text, redirect) as a schema-0.11 XML dump at ``path``; returns its size in bytes.

    ``.bz2``: one bz2 stream per ``chunk_pages`` pages (a multistream file), compressed by ``workers``
    processes with a few chunks in flight, so memory stays small however large the dump.
    """
    with open(path, "wb") as sink:
        if not path.name.endswith(".bz2"):
            for chunk in _chunks(pages, chunk_pages):
                sink.write(chunk.encode("utf-8"))
        elif workers <= 1:
            for chunk in _chunks(pages, chunk_pages):
                sink.write(_compress(chunk))
        else:
            with ProcessPoolExecutor(workers) as pool:
                in_flight: deque = deque()
                for chunk in _chunks(pages, chunk_pages):
                    in_flight.append(pool.submit(_compress, chunk))
                    if len(in_flight) > 2 * workers:
                        sink.write(in_flight.popleft().result())
                while in_flight:
                    sink.write(in_flight.popleft().result())
    return path.stat().st_size
