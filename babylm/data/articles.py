"""The article record every acquisition path writes, and where it goes: ``volume_VV/part_PP/<stem>.json``.

One definition shared by the scraper (:mod:`babylm.data.wikisource`) and the offline ingests
(:mod:`babylm.data.sources`), so the layout the text stages read is defined once:

* **record** — each file holds exactly ``{"url", "title", "content", "timestamp"}`` and is written
  atomically (:func:`write_article`).
* **part** — ``(first scan page − 1) // 100 + 1`` within the volume (:func:`part_of`).
* **stem** — a safe, unique file name from the article title (:func:`assign_stems`). The rule:

1. The title is Unicode-normalised (NFC); characters that are illegal or risky in a file name on Linux,
   macOS or Windows — ``/ \\ : * ? " < > |``, control and format characters, unpaired surrogates — and
   ``~`` (reserved for the suffix below) become ``_``. Leading/trailing spaces and dots are dropped,
   Windows device names (``CON``, ``NUL``, ``COM0``, ``LPT¹``, ``CONIN$`` …, with or without an
   extension: :data:`WINDOWS_DEVICES`) get a ``_`` prefix and the result is cut to
   :data:`MAX_STEM_BYTES` UTF-8 bytes. An empty result becomes ``_``.
2. If that changed the title in any way, ``~`` plus the first 8 hex digits of the title's SHA-1 is
   appended, so two titles that sanitise alike (``A/B`` and ``A:B``) still get different names.
3. Across a whole set of titles (:func:`assign_stems`), names that would clash on a case-insensitive or
   normalisation-insensitive file system (``Apple`` and ``apple``) all get the hash suffix too.

A stem without ``~`` is therefore exactly the title; the title itself is always kept, intact, inside the
JSON file. Everything here but :func:`write_article` and the ingest report's reader/writer is a pure function.

**Ingest report.** The offline ingests also write ``<out>/ingest_report.json`` (:func:`record_ingest`): per
run (keyed by its input files), the route each article came by, the headword candidates rejected and why,
and what was left out (tables, captions, footnotes, orphan spans…, counted with their words). The quality
report (:mod:`babylm.data.text.quality`) reads it; the text stages never need it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Hashable, Iterable, Sequence

from babylm.core.atomic import atomic_write_json

MAX_STEM_BYTES = 150
"""Cap on the sanitised part of a stem, in UTF-8 bytes (file systems allow 255 per name)."""

HASH_SEPARATOR = "~"
_HASH_HEX = 8

_ILLEGAL = re.compile(r'[<>:"/\\|?*~\x00-\x1f\x7f-\x9f]')
# Unicode categories replaced by "_": control, format (zero-width, bidi marks), surrogate, private use,
# unassigned, line/paragraph separators.
_SURROGATES = re.compile("[\ud800-\udfff]")
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"}
    | {f"{prefix}{digit}" for prefix in ("COM", "LPT") for digit in "0123456789¹²³"}
)
"""Names Windows reserves for devices, with any extension (``NUL.txt``): Microsoft's *Naming Files, Paths,
and Namespaces* lists CON, PRN, AUX, NUL, COM0–COM9, COM¹–COM³, LPT0–LPT9, LPT¹–LPT³; CONIN$/CONOUT$
(console buffers) and CLOCK$ (MS-DOS) are reserved too. Matched case-insensitively."""


PREFIX = "1911 Encyclopædia Britannica/"
"""Title prefix of the EB1911 main-namespace pages on English Wikisource (articles, sub-pages, front matter)."""

NON_ARTICLE_TITLES = re.compile(
    r"^(Volume \d+|Vol \d+(/.*)?|IndexPage|Index to .*|Contributors|List of contributors|"
    r"Prefatory Note.*|Classified (Table of Contents|table of contents|List of Articles).*|"
    r"Rules and Abbreviations|.*/Plates)$"
)
"""Leaf titles (after :data:`PREFIX`) of front/back matter and listings: not articles even when scan-backed.
Shared by the scraper's catalogue and the dump ingest, so both call the same pages articles."""

EB1911_VOLUMES = 29
"""EB1911's volumes are numbered 1–29 (29 is the index volume); any other volume number in an input is not EB1911's."""

MAX_SCAN_PAGE = 9999
"""The highest scan page number an input may name (a volume's scan has about 1,000 pages). Numbers read from
inputs and server replies are checked against it before use, so a title such as
``Page:EB1911 - Volume 01.djvu/99999999999999999999`` is not an EB1911 page rather than a crash."""

_SCAN_PAGE_TITLE = re.compile(r"Page:EB1911 - Volume ([0-9]{1,6})\.djvu/([0-9]{1,6})")


def scan_page_key(title: str) -> tuple[int, int] | None:
    """``Page:EB1911 - Volume 01.djvu/42`` → ``(1, 42)``; None for any other title, and for a volume outside 1–29 or a
    page outside 1–:data:`MAX_SCAN_PAGE` (ASCII digits only)."""
    match = _SCAN_PAGE_TITLE.fullmatch(title)
    if match is None:
        return None
    volume, page = int(match.group(1)), int(match.group(2))
    return (volume, page) if is_scan_page(volume, page) else None


def is_scan_page(volume: object, page: object) -> bool:
    """Whether ``volume`` and ``page`` are integers naming a possible EB1911 scan page (volume 1–29, page
    1–:data:`MAX_SCAN_PAGE`)."""
    return (type(volume) is int and type(page) is int and 1 <= volume <= EB1911_VOLUMES
            and 1 <= page <= MAX_SCAN_PAGE)


PAGES_PER_PART = 100
"""Scan pages per part folder: part 1 holds the articles starting on scan pages 1–100, part 2 on 101–200…"""


def part_of(first_page: int) -> int:
    """Return the part holding an article that starts on scan page ``first_page`` (1-based)."""
    return (max(first_page, 1) - 1) // PAGES_PER_PART + 1


def article_relpath(volume: int, part: int, stem: str) -> str:
    """Return ``volume_VV/part_PP/<stem>.json``, an article's path relative to the output folder."""
    return f"volume_{volume:02d}/part_{part:02d}/{stem}.json"


def is_safe_stem(stem: str) -> bool:
    """Whether ``stem`` is harmless as one file name inside an article folder (e.g. read from a state file).

    True for every stem this module makes: non-empty, at most 255 bytes with ``.json``, no path separator
    or other character that :func:`sanitize` replaces (``~`` of the hash suffix aside), no control or
    format character, not starting or ending with a space or dot (so never ``.``, ``..`` or a hidden file).
    """
    if not stem or stem[0] in " ." or stem[-1] in " ." or len(stem.encode("utf-8", "surrogatepass")) > 250:
        return False
    if _ILLEGAL.search(stem.replace(HASH_SEPARATOR, "_")):
        return False
    return not any(unicodedata.category(char) in _BAD_CATEGORIES for char in stem)


def write_article(path: str | os.PathLike, *, url: str, title: str, content: str, timestamp: str) -> None:
    """Write one article record to ``path`` atomically; returns nothing.

    A lone surrogate in a field (from a ``"\\ud800"`` escape in a server reply or input file; not text,
    and not writable as UTF-8) becomes U+FFFD.
    """
    record = {"url": url, "title": title, "content": content, "timestamp": timestamp}
    atomic_write_json(path, {key: replace_lone_surrogates(value) for key, value in record.items()})


def replace_lone_surrogates(text: str) -> str:
    """Return ``text`` with every lone surrogate (a ``"\\ud800"`` JSON escape: not text, not writable as UTF-8)
    replaced by U+FFFD."""
    return _SURROGATES.sub("\ufffd", text)


def number_repeats(titles: Sequence[str], groups: Sequence[Hashable] | None = None) -> list[str]:
    """Tell repeated titles apart: the second ``X`` (within its group) becomes ``X (2)``, the third ``X (3)``.

    Takes the titles in order and, optionally, a group per title (e.g. its volume: repeats are counted
    within a group); returns one key per title, suitable for :func:`assign_stems`, all distinct within a group:
    a number that is already another title of the group (a real ``X (2)``) is skipped.
    """
    group_of = (lambda index: groups[index]) if groups is not None else (lambda index: None)
    seen: Counter = Counter()
    used = {(group_of(index), title) for index, title in enumerate(titles)}
    keys = []
    for index, title in enumerate(titles):
        group = group_of(index)
        seen[(group, title)] += 1
        key = title
        if seen[(group, title)] > 1:  # skip a number that is already a real title of the group ("X (2)")
            while (group, key := f"{title} ({seen[(group, title)]})") in used:
                seen[(group, title)] += 1
            used.add((group, key))
        keys.append(key)
    return keys



def sanitize(title: str) -> str:
    """Return ``title`` made safe as one file-name component (no suffix, no extension).

    Takes any string; returns a non-empty string of at most :data:`MAX_STEM_BYTES` UTF-8 bytes with no
    path separator, no ``~``, no control characters, not starting or ending with a space or dot and not
    a Windows device name.
    """
    text = unicodedata.normalize("NFC", title.encode("utf-8", "replace").decode("utf-8"))
    text = _ILLEGAL.sub("_", text)
    text = "".join("_" if unicodedata.category(char) in _BAD_CATEGORIES else char for char in text)
    text = _truncate_utf8(text.strip(" ."), MAX_STEM_BYTES).rstrip(" .")
    if not text:
        return "_"
    if is_windows_device(text):
        text = _truncate_utf8("_" + text, MAX_STEM_BYTES).rstrip(" .")
    return text


def is_windows_device(name: str) -> bool:
    """Whether Windows would open a device for file name ``name`` (see :data:`WINDOWS_DEVICES`): the part
    before the first dot, trailing spaces dropped, is a device name in any letter case."""
    return name.split(".")[0].rstrip(" ").upper() in WINDOWS_DEVICES


def title_hash(title: str, length: int = _HASH_HEX) -> str:
    """Return the first ``length`` hex digits of the SHA-1 of ``title`` (UTF-8, surrogates escaped)."""
    return hashlib.sha1(title.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def safe_stem(title: str) -> str:
    """Return the file stem of one title on its own: :func:`sanitize`, plus ``~hash`` if that was lossy.

    Unique among titles that do not differ only in letter case or Unicode normalisation; use
    :func:`assign_stems` for a set of titles.
    """
    clean = sanitize(title)
    return clean if clean == title else f"{clean}{HASH_SEPARATOR}{title_hash(title)}"


def clash_key(stem: str) -> str:
    """Return the key under which two stems name the same file on a case/normalisation-insensitive disk."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", stem).casefold())


def assign_stems(titles: Iterable[str]) -> dict[str, str]:
    """Give every distinct title a file stem that is unique even on case-insensitive file systems.

    Takes the titles (duplicates are ignored); returns ``{title: stem}``. Deterministic: the same set of
    titles always gets the same stems, whatever their order.
    """
    unique = sorted(set(titles))
    stems = {title: safe_stem(title) for title in unique}
    groups: dict[str, list[str]] = {}
    for title, stem in stems.items():
        groups.setdefault(clash_key(stem), []).append(title)
    for members in groups.values():
        if len(members) > 1:
            for title in members:
                if stems[title] == title:  # not yet suffixed
                    stems[title] = f"{title}{HASH_SEPARATOR}{title_hash(title)}"
    return _break_remaining_ties(stems)


def _break_remaining_ties(stems: dict[str, str]) -> dict[str, str]:
    """Lengthen the hash of suffixed stems that still clash (a truncated-SHA-1 coincidence)."""
    length = _HASH_HEX
    while True:
        seen: dict[str, str] = {}
        clashing: set[str] = set()
        for title in sorted(stems):
            key = clash_key(stems[title])
            if key in seen:
                clashing.update({title, seen[key]})
            seen[key] = title
        if not clashing:
            return stems
        length += 8
        for title in clashing:
            stems[title] = f"{sanitize(title)}{HASH_SEPARATOR}{title_hash(title, length)}"


def _truncate_utf8(text: str, max_bytes: int) -> str:
    """Cut ``text`` to at most ``max_bytes`` UTF-8 bytes without splitting a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", "ignore")


# ------------------------------------------------------------------------------------------ ingest report
INGEST_REPORT = "ingest_report.json"
"""File name of the ingest report beside the article folders (``<out>/ingest_report.json``)."""


class Tally:
    """What an ingest left out, by kind (``table``, ``caption``, ``footnote``…): how many, and their words."""

    def __init__(self) -> None:
        self.kinds: dict[str, list[int]] = {}

    def add(self, kind: str, text: str = "", count: int = 1, words: int | None = None) -> None:
        """Count ``count`` removals of ``kind`` holding the words of ``text`` (or ``words`` words)."""
        entry = self.kinds.setdefault(kind, [0, 0])
        entry[0] += count
        entry[1] += len(text.split()) if words is None else words

    def as_dict(self) -> dict[str, dict[str, int]]:
        """``{kind: {"count": n, "words": w}}``, kinds sorted."""
        return {kind: {"count": n, "words": w} for kind, (n, w) in sorted(self.kinds.items())}


def read_ingest_report(out: str | os.PathLike) -> dict:
    """The ingest report in folder ``out`` (``{"version": 1, "runs": {…}}``); an empty one when there is none
    or it is unreadable."""
    try:
        report = json.loads((Path(out) / INGEST_REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"version": 1, "runs": {}}
    if not isinstance(report, dict) or not isinstance(report.get("runs"), dict):
        return {"version": 1, "runs": {}}
    return report


def record_ingest(out: str | os.PathLike, key: str, run: dict) -> None:
    """Add (or replace) the report ``run`` of one ingest run under ``key`` in ``<out>/ingest_report.json``
    (written atomically); re-ingesting the same inputs replaces their entry instead of adding a second."""
    record_ingest_runs(out, {key: run})


def record_ingest_runs(out: str | os.PathLike, runs: dict[str, dict]) -> None:
    """:func:`record_ingest` for several runs ``{key: run}`` at once (one write)."""
    report = read_ingest_report(out)
    report["runs"].update(runs)
    atomic_write_json(Path(out) / INGEST_REPORT, report)
