"""Reading EB1911 wikitext: Wikimedia's XML dumps (streamed) and JSON page lists, into an on-disk page store.

Inputs (any mix, any number):

* a **MediaWiki XML export or dump** — ``.xml``, ``.xml.bz2`` or ``.xml.gz``, e.g. Wikimedia's own
  ``enwikisource-YYYYMMDD-pages-articles.xml.bz2`` (several GB; export schema 0.10/0.11:
  ``<mediawiki><page><title>…</title><ns>…</ns><redirect title=…/><revision><text>…</text></revision></page>``).
  It is **streamed**: bz2 is decompressed on the fly, ``lxml.etree.iterparse`` yields one ``<page>`` at a
  time and every page element is cleared (and unlinked from the tree) once read, so memory does not grow
  with the dump. A progress bar (tqdm, on a terminal) follows the compressed bytes read. A damaged compressed
  file (a bad CRC or block, a truncated download) is named as such, with the file, never as "malformed XML".
* a **JSON list or JSON Lines** of ``{"title", "text"}`` records (any namespace) or of
  ``{"volume", "page_number", "raw_text"}`` scan-page records.

Only EB1911 pages are kept (:func:`eb1911_kind`): **article pages** in the main namespace (ns 0) under
``1911 Encyclopædia Britannica/`` and **scan pages** ``Page:EB1911 - Volume NN.djvu/PPP`` (ns 104); a redirect
is recorded as one and never read as an article. Everything else (other works, talk pages…) is skipped as
it streams by. Kept pages go into a :class:`PageStore` — an SQLite file in a temporary folder — so the
assembly step reads one article's pages at a time: memory stays flat whatever the input size (about the
SQLite page cache plus one article). A page seen twice keeps its last copy (a later revision, a later file).
"""

from __future__ import annotations

import bz2
import gzip
import re
import sqlite3
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator

import lxml.etree

from babylm.core.safe_json import JsonError, loads
from babylm.data.articles import (
    EB1911_VOLUMES,
    MAX_SCAN_PAGE,
    PREFIX,
    is_scan_page,
    replace_lone_surrogates,
    scan_page_key,
)

SCAN_TITLE = re.compile(r"^Page:EB1911 - Volume ([0-9]+)\.djvu/([0-9]+)$")
"""The shape of a scan page title; :func:`babylm.data.articles.scan_page_key` also checks its numbers."""
_NAMESPACE = re.compile(r"-?[0-9]{1,9}")
SCAN_NAMESPACE = 104
"""The Page: namespace on English Wikisource."""


class DumpError(ValueError):
    """An input that cannot be read (missing, malformed XML or JSON, wrong record shape); the message names it."""


@dataclass(frozen=True)
class WikiPage:
    """One page read from an input: title, namespace (None when the input does not say), text, redirect target."""

    title: str
    ns: int | None
    text: str
    redirect: str | None = None


def eb1911_kind(title: str, ns: int | None) -> str | None:
    """``"article"`` for a main-namespace page under the EB1911 prefix, ``"scan"`` for an EB1911 scan page,
    None for anything else. ``ns`` None (JSON inputs) is judged by the title alone."""
    if title.startswith(PREFIX) and len(title) > len(PREFIX) and ns in (0, None):
        return "article"
    if ns in (SCAN_NAMESPACE, None) and scan_page_key(title) is not None:
        return "scan"
    return None


# ------------------------------------------------------------------------------------------------ reading
class _Progress:
    """A tqdm bar over the bytes of ``raw`` read so far (shown only on a terminal)."""

    def __init__(self, raw: IO[bytes], total: int, name: str, enabled: bool) -> None:
        self.raw, self.last = raw, 0
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=None, file=sys.stderr)

    def update(self) -> None:
        if self.bar is not None:
            position = self.raw.tell()
            self.bar.update(position - self.last)
            self.last = position

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def iter_xml_pages(stream: IO[bytes]) -> Iterator[WikiPage]:
    """Every ``<page>`` of a MediaWiki XML export read from ``stream``, streamed with bounded memory."""
    for _, element in lxml.etree.iterparse(stream, events=("end",), tag="{*}page", huge_tree=True):
        title = element.findtext("{*}title") or ""
        ns_text = (element.findtext("{*}ns") or "").strip()
        redirect = element.find("{*}redirect")
        texts = element.findall("{*}revision/{*}text")
        yield WikiPage(
            title=title,
            ns=int(ns_text) if _NAMESPACE.fullmatch(ns_text) else None,
            text=(texts[-1].text or "") if texts else "",
            redirect=redirect.get("title", "") if redirect is not None else None,
        )
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]


def _whole_number(value: object) -> int | None:
    """A JSON number or digit string holding a whole number → that int (``42``, ``42.0``, ``"042"``); None for
    anything else (``4.5``, ``1e400`` read as infinity, NaN, a bool, a string of over 9 digits or non-ASCII digits)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None  # is_integer() is False for inf and NaN
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]{1,9}\s*", value):
        return int(value)
    return None


def _record_page(record: object, source: str) -> WikiPage:
    if isinstance(record, dict) and {"raw_text", "volume", "page_number"} <= record.keys():
        volume, page = _whole_number(record["volume"]), _whole_number(record["page_number"])
        if volume is None or page is None:
            raise DumpError(f"{source}: 'volume' and 'page_number' must be integers")
        if not is_scan_page(volume, page):
            shown = " page ".join(str(number) if len(str(number)) < 12 else str(number)[:8] + "…"
                                  for number in (volume, page))
            raise DumpError(f"{source}: volume {shown} is not an EB1911 scan page (volumes 1–{EB1911_VOLUMES}, "
                            f"pages 1–{MAX_SCAN_PAGE})")
        return WikiPage(f"Page:EB1911 - Volume {volume:02d}.djvu/{page}", SCAN_NAMESPACE,
                        replace_lone_surrogates(str(record["raw_text"])))
    if isinstance(record, dict) and "title" in record and "text" in record:
        redirect = record.get("redirect")
        return WikiPage(replace_lone_surrogates(str(record["title"])),
                        record.get("ns") if isinstance(record.get("ns"), int) else None,
                        replace_lone_surrogates(str(record["text"])),
                        replace_lone_surrogates(str(redirect)) if redirect else None)
    raise DumpError(f"{source}: expected objects with 'title'+'text' or 'volume'+'page_number'+'raw_text'")


CHECK_AHEAD_BYTES = 4 << 20
"""How far past an XML error a compressed input is read to tell a damaged download from malformed XML."""


class _Decompressing:
    """A bz2 or gzip input being decompressed, remembering why a read failed: lxml turns a read error into
    "malformed XML … line 1, column 1", which hid a corrupt download (bad CRC, bad block) behind a wrong message."""

    def __init__(self, path: Path, raw: IO[bytes]) -> None:
        self.path, self.kind = path, "bz2" if path.name.lower().endswith(".bz2") else "gzip"
        self.stream = bz2.BZ2File(raw) if self.kind == "bz2" else gzip.GzipFile(fileobj=raw)
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            return self.stream.read(size)
        except (OSError, EOFError, zlib.error) as error:
            if not (isinstance(error, OSError) and error.errno is not None):  # a disk error is not the file's fault
                self.error = error
            raise

    def damaged(self) -> bool:
        """Whether a read failed, or fails within the next few MB: a bad bz2 block is only detected at its end
        (blocks hold at most 900 kB), after lxml may already have choked on its garbage."""
        if self.error is None:
            try:
                for _ in range(CHECK_AHEAD_BYTES // (1 << 20)):
                    if not self.read(1 << 20):
                        break
            except (OSError, EOFError, zlib.error):
                pass
        return self.error is not None

    def message(self) -> str:
        """One line naming the file: truncated or corrupt, and what to do."""
        truncated = isinstance(self.error, EOFError)
        what = "truncated (it ends before the end of the compressed stream)" if truncated else \
            f"corrupt ({self.error or 'bad data'})"
        return (f"{self.path}: the {self.kind} file is {what}; the download is damaged: download it again "
                "(and compare its checksum with the one published beside it)")


def iter_input(path: str | Path, progress: bool = False) -> Iterator[WikiPage]:
    """Every page of one input file (XML export/dump, JSON list or JSON Lines), in file order.

    Raises :class:`DumpError` naming the file when it cannot be read or parsed.
    """
    path = Path(path)
    name = path.name.lower()
    compressed = None
    try:
        if name.endswith((".xml", ".xml.bz2", ".xml.gz")):
            with open(path, "rb") as raw:
                compressed = _Decompressing(path, raw) if name.endswith((".bz2", ".gz")) else None
                bar = _Progress(raw, path.stat().st_size, path.name, progress)
                try:
                    for count, page in enumerate(iter_xml_pages(compressed or raw)):
                        if count % 256 == 0:
                            bar.update()
                        yield page
                finally:
                    bar.update()
                    bar.close()
            return
        text = path.read_text(encoding="utf-8-sig")  # a leading byte-order mark is not part of the JSON
    except (OSError, EOFError, zlib.error, lxml.etree.XMLSyntaxError) as error:
        if compressed is not None and compressed.damaged():  # lxml reports a failed read as malformed XML
            raise DumpError(compressed.message()) from None
        if isinstance(error, lxml.etree.XMLSyntaxError):
            raise DumpError(f"{path}: malformed XML ({error})") from None
        raise DumpError(f"{path}: cannot read ({error})") from None
    except UnicodeDecodeError as error:
        raise DumpError(f"{path}: not UTF-8 ({error.reason} at byte {error.start})") from None
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
        raise DumpError(f"{path}: {where}{error}; expected a JSON list, JSON Lines or XML") from None
    for record in records if isinstance(records, list) else [records]:
        yield _record_page(record, str(path))


# -------------------------------------------------------------------------------------------------- store
class PageStore:
    """The EB1911 pages of the inputs, in an SQLite file: scan pages by (volume, page), article pages by title.

    Also holds the bookkeeping of assembly (which scan-page stretches are taken, staged articles), so
    nothing grows in memory with the corpus. Use as a context manager; the file is the caller's to delete.
    """

    def __init__(self, path: str | Path) -> None:
        self.db = sqlite3.connect(str(path))
        self.db.executescript(
            """
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
            CREATE TABLE IF NOT EXISTS scans (volume INTEGER, page INTEGER, text TEXT, PRIMARY KEY (volume, page));
            CREATE TABLE IF NOT EXISTS articles (title TEXT PRIMARY KEY, text TEXT);
            CREATE TABLE IF NOT EXISTS redirects (title TEXT PRIMARY KEY, target TEXT);
            CREATE TABLE IF NOT EXISTS claims (volume INTEGER, page INTEGER, token INTEGER, owner TEXT,
                                               PRIMARY KEY (volume, page, token));
            CREATE TABLE IF NOT EXISTS staged (id INTEGER PRIMARY KEY, title TEXT, volume INTEGER, page INTEGER,
                                               url TEXT, route TEXT, content TEXT);
            """
        )
        self.added = {"scan": 0, "article": 0, "redirect": 0, "other": 0}

    def __enter__(self) -> "PageStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.commit()
        self.db.close()

    def add(self, page: WikiPage) -> str | None:
        """Keep ``page`` if it is an EB1911 page; returns its kind (``scan``, ``article``, ``redirect``) or None."""
        kind = eb1911_kind(page.title, page.ns)
        if kind == "scan":
            volume, number = scan_page_key(page.title)  # numbers checked: SQLite integers are 64-bit
            self.db.execute("INSERT OR REPLACE INTO scans VALUES (?, ?, ?)", (volume, number, page.text))
        elif kind == "article" and (page.redirect is not None or page.text.lstrip().upper().startswith("#REDIRECT")):
            kind = "redirect"
            self.db.execute("INSERT OR REPLACE INTO redirects VALUES (?, ?)", (page.title, page.redirect or ""))
        elif kind == "article":
            self.db.execute("INSERT OR REPLACE INTO articles VALUES (?, ?)", (page.title, page.text))
        self.added[kind or "other"] += 1
        return kind

    def count(self, table: str) -> int:
        """Rows in ``table`` (``scans``, ``articles``, ``redirects``, ``staged``)."""
        return self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def scan(self, volume: int, page: int) -> str | None:
        """The wikitext of scan page ``page`` of ``volume``, or None when the inputs lack it."""
        row = self.db.execute("SELECT text FROM scans WHERE volume = ? AND page = ?", (volume, page)).fetchone()
        return row[0] if row else None

    def last_page(self, volume: int) -> int | None:
        """The highest scan page of ``volume`` in the inputs (stands for a ``<pages>`` tag's missing ``to``)."""
        return self.db.execute("SELECT MAX(page) FROM scans WHERE volume = ?", (volume,)).fetchone()[0]

    def iter_scans(self) -> Iterator[tuple[int, int, str]]:
        """(volume, page, wikitext) of every scan page, in book order."""
        yield from self.db.execute("SELECT volume, page, text FROM scans ORDER BY volume, page")

    def iter_articles(self) -> Iterator[tuple[str, str]]:
        """(title, wikitext) of every non-redirect article page, by title."""
        yield from self.db.execute("SELECT title, text FROM articles ORDER BY title")

    def claim(self, volume: int, page: int, token: int, owner: str) -> str | None:
        """Give text token ``token`` of a scan page to ``owner``; returns the earlier owner when it had one."""
        row = self.db.execute("SELECT owner FROM claims WHERE volume = ? AND page = ? AND token = ?",
                              (volume, page, token)).fetchone()
        if row:
            return row[0]
        self.db.execute("INSERT INTO claims VALUES (?, ?, ?, ?)", (volume, page, token, owner))
        return None

    def claimed(self, volume: int, page: int) -> set[int]:
        """The text tokens of one scan page already taken by an article page."""
        return {row[0] for row in self.db.execute("SELECT token FROM claims WHERE volume = ? AND page = ?",
                                                  (volume, page))}

    def stage(self, title: str, volume: int, page: int, url: str, route: str, content: str) -> None:
        """Keep one assembled article until every title is known (file names are assigned over all of them)."""
        self.db.execute("INSERT INTO staged (title, volume, page, url, route, content) VALUES (?, ?, ?, ?, ?, ?)",
                        (title, volume, page, url, route, content))

    def iter_staged(self) -> Iterator[tuple[str, int, int, str, str, str]]:
        """(title, volume, page, url, route, content) of the staged articles, in book order (volume, page, staging)."""
        yield from self.db.execute("SELECT title, volume, page, url, route, content FROM staged "
                                   "ORDER BY volume, page, id")

    def staged_places(self) -> Iterator[tuple[str, int, int]]:
        """(title, volume, page) of the staged articles in the order of :meth:`iter_staged`."""
        yield from self.db.execute("SELECT title, volume, page FROM staged ORDER BY volume, page, id")


def load_inputs(paths: Iterable[str | Path], store: PageStore,
                progress: bool = False) -> list[tuple[str, dict[str, int]]]:
    """Stream every input into ``store``; returns, per input in order, how many scan/article/redirect/other
    pages it held.

    Raises :class:`DumpError` naming an input that cannot be read or holds no EB1911 page.
    """
    per_input: list[tuple[str, dict[str, int]]] = []
    for path in paths:
        counts = {"scan": 0, "article": 0, "redirect": 0, "other": 0}
        for page in iter_input(path, progress):
            counts[store.add(page) or "other"] += 1
        if not (counts["scan"] or counts["article"] or counts["redirect"]):
            raise DumpError(f"{path}: no EB1911 pages found ('Page:EB1911 - Volume NN.djvu/PPP' or "
                            f"'{PREFIX}…'); is it an English Wikisource dump?")
        per_input.append((str(path), counts))
    store.db.commit()
    return per_input
