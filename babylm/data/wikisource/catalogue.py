"""Discovery of the EB1911 articles on Wikisource: which pages are articles, and where each one goes.

One API query does it: ``generator=allpages`` over the main-namespace titles starting with
``1911 Encyclopædia Britannica/`` (redirects included and resolved with ``redirects=1``), with
``prop=templates`` restricted to the Page: namespace and ``prop=info`` for the page URL. Continuation
follows the MediaWiki protocol; after every complete batch the catalogue is saved atomically with the
``continue`` token, so a killed discovery resumes where it stopped.

Rules (docs/data.md, section *Scrape*):

* **article** — a page under the prefix that transcludes at least one scan page
  ``Page:EB1911 - Volume NN.djvu/PPP`` and is not front/back matter (:data:`NON_ARTICLE_TITLES`:
  volume listings, prefaces, contributor lists, indexes of the work…). Redirects are resolved to their
  target (a target already seen is not counted twice; one outside the prefix is skipped).
* **volume** — the volume most of its scan pages come from (ties: the lower volume number).
* **part** — ``(first scan page − 1) // 100 + 1`` within that volume: part 1 holds the articles that
  start on scan pages 1–100, part 2 those starting on 101–200, and so on.
* **file** — ``volume_VV/part_PP/<stem>.json`` where the stem comes from :mod:`babylm.data.articles`,
  assigned over the whole catalogue once discovery is complete.
* **overlap** — no scan page goes to two articles twice over: a sub-page (``Brewing/Chemistry``,
  ``Gregory (Popes)/Gregory I``) whose transcluded scan pages of its volume are **all** transcluded by an
  ancestor page that is itself an article is skipped ("covered by its parent page"): the parent already
  holds its text. A sub-page that shares only some scan pages with its ancestor (typically the page where
  the parent's part ends and the sub-page's begins, in different sections) is kept. Both kinds are listed
  under ``overlaps`` in the catalogue and counted in the log. The catalogue sees scan pages, not sections
  (``prop=templates``): a sub-page lying wholly on pages its parent also touches counts as covered. The
  offline dump ingest, which reads the sections, applies the exact rule (:mod:`babylm.data.sources.wikitext`).

Reads and writes ``<out>/discovery.json`` (the catalogue).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from babylm.core.atomic import atomic_write_json
from babylm.core.safe_json import read_json
from babylm.data.articles import (
    EB1911_VOLUMES,
    MAX_SCAN_PAGE,
    NON_ARTICLE_TITLES,
    PREFIX,
    article_relpath,
    assign_stems,
    clash_key,
    is_safe_stem,
    is_scan_page,
    part_of,
    scan_page_key,
)
from babylm.data.wikisource.api import ApiClient, TransientError, is_local

CATALOGUE_VERSION = 1


DISCOVERY_PARAMS: dict[str, str] = {
    "action": "query",
    "generator": "allpages",
    "gapprefix": PREFIX,
    "gapnamespace": "0",
    "gapfilterredir": "all",
    "gaplimit": "max",
    "redirects": "1",
    "prop": "templates|info",
    "inprop": "url",
    "tlnamespace": "104",
    "tllimit": "max",
}


class CatalogueError(Exception):
    """The catalogue file cannot be used (corrupt, or from another wiki); the message says what to do."""


@dataclass
class Article:
    """One article: full page ``title``, ``name`` without the prefix, page ``url``, scan position."""

    title: str
    name: str
    url: str
    volume: int
    first_page: int
    path: str = ""
    pages: list[int] = field(default_factory=list)
    """The scan pages of ``volume`` it transcludes (for the overlap rule)."""

    @property
    def part(self) -> int:
        """The part number: which block of :data:`babylm.data.articles.PAGES_PER_PART` scan pages the article
        starts in."""
        return part_of(self.first_page)


def scan_position(templates: Iterable[str]) -> tuple[int, int] | None:
    """From transcluded page titles return ``(volume, first scan page)``, or None if none is EB1911's.

    The volume is the one most scan pages come from (ties: the lowest); the page is the smallest
    transcluded scan page of that volume.
    """
    pages: dict[int, list[int]] = {}
    for title in templates:
        key = scan_page_key(title)  # None for a volume or page number no EB1911 scan has
        if key is not None:
            pages.setdefault(key[0], []).append(key[1])
    if not pages:
        return None
    counts = Counter({volume: len(numbers) for volume, numbers in pages.items()})
    volume = min(counts, key=lambda v: (-counts[v], v))
    return volume, min(pages[volume])


def classify(title: str, url: str, templates: Iterable[str]) -> tuple[Article | None, str]:
    """Decide whether page ``title`` is an article; returns ``(Article, "")`` or ``(None, reason)``."""
    if not title.startswith(PREFIX) or title == PREFIX:
        return None, "outside the EB1911 prefix"
    name = title[len(PREFIX):]
    if NON_ARTICLE_TITLES.match(name):
        return None, "front/back matter or listing"
    templates = list(templates)
    position = scan_position(templates)
    if position is None:
        return None, "transcludes no EB1911 scan page"
    pages = sorted({key[1] for key in map(scan_page_key, templates) if key is not None and key[0] == position[0]})
    return Article(title=title, name=name, url=url, volume=position[0], first_page=position[1], pages=pages), ""


@dataclass
class Catalogue:
    """The discovery result and its resume state; saved as ``discovery.json``."""

    base_url: str
    articles: dict[str, Article]
    skipped: dict[str, str]
    redirects: dict[str, str]
    complete: bool = False
    continue_params: dict[str, Any] | None = None
    overlaps: dict[str, dict[str, Any]] = field(default_factory=dict)

    def ordered(self) -> list[Article]:
        """Articles in book order: volume, first scan page, name."""
        return sorted(self.articles.values(), key=lambda a: (a.volume, a.first_page, a.name))

    def save(self, path: Path) -> None:
        """Write the catalogue to ``path`` atomically."""
        atomic_write_json(path, {
            "version": CATALOGUE_VERSION,
            "base_url": self.base_url,
            "prefix": PREFIX,
            "complete": self.complete,
            "continue": self.continue_params,
            "articles": [asdict(article) for article in self.ordered()],
            "skipped": self.skipped,
            "redirects": self.redirects,
            "overlaps": self.overlaps,
        })

    @classmethod
    def load(cls, path: Path) -> "Catalogue":
        """Read a catalogue written by :meth:`save`; raises :class:`CatalogueError` if it is unusable.

        Nothing in it is trusted: every field must have its type, and every article path must be
        ``volume_VV/part_PP/<stem>.json`` for the article's own volume and part with a safe, unique stem
        (so an edited file can never make the scraper write outside its output folder).
        """
        try:
            raw = read_json(path)
            if not isinstance(raw, dict) or raw.get("version") != CATALOGUE_VERSION or raw.get("prefix") != PREFIX:
                raise ValueError("unknown version or prefix")
            complete = raw["complete"]
            if not isinstance(complete, bool) or not isinstance(raw["base_url"], str):
                raise ValueError("'complete' or 'base_url' has the wrong type")
            articles = [_article(item, complete) for item in _typed(raw["articles"], list, "articles")]
            seen: dict[str, str] = {}
            for article in articles:
                key = clash_key(article.path)
                if article.path and seen.setdefault(key, article.title) != article.title:
                    raise ValueError(f"articles {seen[key]!r} and {article.title!r} share the path {article.path!r}")
            continue_params = raw["continue"]
            if continue_params is not None and not isinstance(continue_params, dict):
                raise ValueError("'continue' is not an object")
            return cls(base_url=raw["base_url"], articles={a.title: a for a in articles},
                       skipped=_string_map(raw["skipped"], "skipped"),
                       redirects=_string_map(raw["redirects"], "redirects"), complete=complete,
                       continue_params=continue_params, overlaps=_typed(raw.get("overlaps") or {}, dict, "overlaps"))
        except (ValueError, KeyError, TypeError) as error:
            raise CatalogueError(f"{path} is not a usable discovery file ({error}); delete it or pass "
                                 "--rediscover") from error


def _typed(value: Any, kind: type, name: str) -> Any:
    if not isinstance(value, kind):
        raise ValueError(f"'{name}' is not a JSON {'array' if kind is list else 'object'}")
    return value


def _string_map(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"'{name}' is not a map of strings")
    return dict(value)


def _article(item: Any, complete: bool) -> Article:
    """One saved article record, checked field by field; its path must be the one the rules give."""
    item = _typed(item, dict, "articles[]")
    fields = {"title": str, "name": str, "url": str, "volume": int, "first_page": int, "path": str}
    optional = {"pages": list}  # absent in catalogues written before the overlap rule
    if not set(fields) <= set(item) <= set(fields) | set(optional) or not all(
        type(item[k]) is t for k, t in {**fields, **optional}.items() if k in item
    ):
        raise ValueError(f"article record {str(item)[:80]!r} does not have the fields {sorted(fields)}")
    if not all(is_scan_page(item["volume"], page) for page in item.get("pages", [])):
        raise ValueError(f"article {item['title']!r} has scan pages that are not integers 1–{MAX_SCAN_PAGE}")
    article = Article(**item)
    if not is_scan_page(article.volume, article.first_page):
        raise ValueError(f"article {article.title!r} has volume {str(article.volume)[:12]}, first page "
                         f"{str(article.first_page)[:12]} (volumes 1–{EB1911_VOLUMES}, pages 1–{MAX_SCAN_PAGE})")
    file = article.path.rpartition("/")[2]
    stem = file[: -len(".json")] if file.endswith(".json") else ""
    expected = article_relpath(article.volume, article.part, stem)
    if (article.path or complete) and not (is_safe_stem(stem) and article.path == expected):
        raise ValueError(f"article {article.title!r} has the path {article.path!r}, not "
                         f"volume_{article.volume:02d}/part_{article.part:02d}/<stem>.json")
    return article


def discover(client: ApiClient, path: Path, base_url: str, *, rediscover: bool = False,
             log: logging.Logger | None = None) -> Catalogue:
    """Build (or finish, or reload) the catalogue at ``path`` by querying ``client``; returns it.

    A complete catalogue on disk is reused unless ``rediscover``; an incomplete one is resumed from its
    saved ``continue`` token; one from a local server on another port is simply redone. Raises
    :class:`CatalogueError` for a catalogue of another wiki, and the client's errors (GaveUp, ApiError)
    when the wiki cannot be queried.
    """
    log = log or logging.getLogger(__name__)
    catalogue = None
    if path.exists() and not rediscover:
        catalogue = Catalogue.load(path)
    if catalogue is not None and catalogue.base_url != base_url:
        if not (is_local(catalogue.base_url) and is_local(base_url)):
            raise CatalogueError(f"{path} was discovered from {catalogue.base_url}, not {base_url}; use "
                                 "another --out or pass --rediscover")
        log.info("discovery: local server moved from %s; listing again", catalogue.base_url)
        catalogue = None  # a local (sample) server gets a new port each run; listing it again is instant
    if catalogue is not None:
        if catalogue.complete:
            log.info("discovery: reusing %s (%d articles)", path, len(catalogue.articles))
            return catalogue
        log.info("discovery: resuming (%d articles so far)", len(catalogue.articles))
    if catalogue is None:
        catalogue = Catalogue(base_url=base_url, articles={}, skipped={}, redirects={})
    batch: dict[str, dict] = {}
    for data in client.query_continued(DISCOVERY_PARAMS, start=catalogue.continue_params or {},
                                       check=check_discovery_reply):
        query = data.get("query") or {}
        for redirect in query.get("redirects") or []:
            catalogue.redirects[redirect["from"]] = redirect["to"]
        for page in query.get("pages") or []:
            entry = batch.setdefault(page["title"], {"templates": [], "url": "", "missing": False})
            entry["templates"].extend(t["title"] for t in page.get("templates") or [])
            entry["url"] = page.get("canonicalurl") or page.get("fullurl") or entry["url"]
            entry["missing"] = entry["missing"] or bool(page.get("missing") or page.get("invalid"))
        if "batchcomplete" in data or "continue" not in data:
            _absorb(catalogue, batch)
            batch = {}
            catalogue.continue_params = data.get("continue")
            catalogue.complete = "continue" not in data
            if catalogue.complete:
                skipped = resolve_overlaps(catalogue)
                if catalogue.overlaps:
                    log.info("discovery: %d sub-pages covered by their parent skipped, %d partial overlaps kept "
                             "(see 'overlaps' in %s)", skipped, len(catalogue.overlaps) - skipped, path)
                _assign_paths(catalogue)
            catalogue.save(path)
            log.info("discovery: %d articles, %d skipped so far", len(catalogue.articles),
                     len(catalogue.skipped))
    return catalogue


def check_discovery_reply(data: dict) -> None:
    """``check`` for discovery replies: anything but the ``formatversion=2`` shape is a bad answer.

    Raises :class:`TransientError` (so the reply is retried, then the call given up) when ``query`` is not
    an object, ``pages`` or ``redirects`` not lists, a page has no string ``title``, a template link or a
    redirect is not ``{title}`` / ``{from, to}``, or ``continue`` is not an object.
    """
    query = data.get("query", {})
    if not isinstance(query, dict):
        raise TransientError("bad discovery reply: 'query' is not an object")
    pages, redirects = query.get("pages", []), query.get("redirects", [])
    if not isinstance(pages, list) or not isinstance(redirects, list):
        raise TransientError("bad discovery reply: 'pages' or 'redirects' is not a list (formatversion=1 shape?)")
    for page in pages:
        if not isinstance(page, dict) or not isinstance(page.get("title"), str):
            raise TransientError(f"bad discovery reply: a page without a title ({str(page)[:60]})")
        templates = page.get("templates", [])
        if not isinstance(templates, list) or not all(isinstance(t, dict) and isinstance(t.get("title"), str)
                                                      for t in templates):
            raise TransientError(f"bad discovery reply: a template link without a title on {page['title']!r}")
        if not all(isinstance(page.get(key, ""), str) for key in ("canonicalurl", "fullurl")):
            raise TransientError(f"bad discovery reply: a page URL that is not a string on {page['title']!r}")
    if not all(isinstance(r, dict) and isinstance(r.get("from"), str) and isinstance(r.get("to"), str)
               for r in redirects):
        raise TransientError("bad discovery reply: a redirect without 'from' and 'to'")
    if not isinstance(data.get("continue", {}), dict):
        raise TransientError("bad discovery reply: 'continue' is not an object")


def _absorb(catalogue: Catalogue, batch: dict[str, dict]) -> None:
    """Classify the pages of one complete batch into the catalogue (first sighting wins)."""
    for title, entry in batch.items():
        if title in catalogue.articles or title in catalogue.skipped:
            continue
        if entry["missing"]:
            catalogue.skipped[title] = "missing (redirect target does not exist)"
            continue
        article, reason = classify(title, entry["url"], entry["templates"])
        if article is None:
            catalogue.skipped[title] = reason
        else:
            catalogue.articles[title] = article


def resolve_overlaps(catalogue: Catalogue) -> int:
    """Apply the overlap rule (module docstring) to a complete catalogue; returns how many sub-pages it skipped.

    Records every overlap in ``catalogue.overlaps``: ``{sub-page title: {"parent", "shared_pages", "action"}}``.
    """
    skipped = 0
    for title in sorted(catalogue.articles, key=lambda t: (t.count("/"), t)):
        article = catalogue.articles.get(title)
        if article is None or "/" not in article.name:
            continue
        parts = article.name.split("/")
        ancestors = [catalogue.articles.get(PREFIX + "/".join(parts[:i])) for i in range(len(parts) - 1, 0, -1)]
        for parent in (a for a in ancestors if a is not None and a.volume == article.volume):
            shared = set(article.pages) & set(parent.pages)
            if not shared:
                continue
            covered = bool(article.pages) and shared == set(article.pages)
            catalogue.overlaps[title] = {"parent": parent.title, "shared_pages": len(shared),
                                         "action": ("skipped: covered by its parent page" if covered
                                                    else "kept: partial overlap")}
            if covered:
                del catalogue.articles[title]
                catalogue.skipped[title] = (f"covered by its parent page {parent.title} "
                                            "(all its scan pages are the parent's)")
                skipped += 1
            break
    return skipped


def _assign_paths(catalogue: Catalogue) -> None:
    """Give every article its output path (stems are unique across the whole catalogue)."""
    stems = assign_stems(article.name for article in catalogue.articles.values())
    for article in catalogue.articles.values():
        article.path = article_relpath(article.volume, article.part, stems[article.name])
