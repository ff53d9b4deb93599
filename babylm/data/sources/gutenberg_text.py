"""One Project Gutenberg EB1911 slice, read and cut into articles: pure functions, no files written.

Used by the ingest (:mod:`babylm.data.sources.gutenberg`, which documents the rules 1–7 in order); this module
implements rules 1–6 — encoding, boilerplate, page furniture, tables, paragraphs, headwords:

* :func:`decode_gutenberg` — bytes → text with ``\\n`` line ends (rule 1);
* :func:`split_boilerplate` — the PG header/footer off, and what the header says: volume, ebook number and
  the slice's alphabetical range (rule 2);
* :func:`iter_paragraphs` — page markers, ``[Illustration…]``/``[Sidenote…]`` blocks, tables, ASCII
  structure diagrams and separators out, paragraphs unwrapped (rules 3–5);
* :func:`cut_slice` — the articles, at headwords (rule 6, :mod:`babylm.data.sources.gutenberg_headwords`),
  with every rejected candidate and everything left out counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from babylm.data.articles import Tally
from babylm.data.sources.gutenberg_furniture import (
    PAGE_MARKER,
    is_drawing_line,
    is_table,
    remove_bracket_blocks,
    remove_diagrams,
)
from babylm.data.sources.gutenberg_headwords import (
    CONTINUED_NOTE,
    Verdict,
    classify_paragraph,
    fold,
    remove_continued_notes,
    standalone_headword,
)

__all__ = ["IngestError", "SliceInfo", "GutenbergArticle", "SliceCut", "decode_gutenberg", "split_boilerplate",
           "read_slice_info", "remove_bracket_blocks", "is_table", "is_drawing_line", "remove_diagrams", "unwrap",
           "iter_paragraphs", "cut_slice", "split_articles"]


class IngestError(ValueError):
    """An input that cannot be ingested (unreadable, wrong encoding, no articles); the message names it."""


# ------------------------------------------------------------------------------------------- 1. encoding
_DECLARED_ENCODING = re.compile(rb"Character set encoding:\s*([A-Za-z0-9_\-]+)", re.I)
_ENCODING_NAMES = {"iso-8859-1": "latin-1", "iso8859-1": "latin-1", "latin-1": "latin-1", "latin1": "latin-1",
                   "utf-8": "utf-8", "utf8": "utf-8", "ascii": "utf-8", "us-ascii": "utf-8",
                   "windows-1252": "cp1252", "cp1252": "cp1252"}


def decode_gutenberg(raw: bytes, name: str = "<bytes>") -> str:
    """Decode a PG text file's bytes by rule 1 of the ingest; returns text with ``\\n`` line ends.

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
_END = re.compile(r"^(?:\*{3}\s*END OF (?:THIS|THE) PROJECT GUTENBERG E-?BOOK|"
                  r"End of (?:the )?Project Gutenberg'?s? E-?Book).*$", re.M | re.I)
_CORRECTIONS = re.compile(r"^\s*(?:Corrections made to (?:the )?printed original|"
                          r"Transcriber's (?:note|notes)[^\n]*corrections?)[.:]?\s*$", re.M | re.I)
_VOLUME = re.compile(r"Volume\s+([0-9]{1,6})\b", re.I)
_RANGE = re.compile(r'"([^"\n]+)"(?:\s*\(part\))?\s+to\s+"([^"\n]+)"')
_ETEXT_RANGE = re.compile(r"\[E-Text Edition of Volume [^\]\n]* - ([^\]\n]+?) to ([^\]\n]+?)\]")
_TITLE = re.compile(r"^Title:[^\n]*(?:\n[ \t]+\S[^\n]*)*", re.M)
_SLICE_NUMBERING = re.compile(r"^.*?Volume\s+\d+(?:,\s*Part\s+\d+)?(?:,\s*Slice\s+\d+)?\s*", re.I | re.S)
_EBOOK = re.compile(r"\[E-?Book\s*#([0-9]{1,9})\]", re.I)


@dataclass(frozen=True)
class SliceInfo:
    """What a slice says about itself: volume, ebook number, its first/last headword (if given) and, for a
    slice that is one article (``Volume 9, Slice 5  English History``), that article's name (``subject``)."""

    volume: int | None
    ebook: int | None
    first: str | None
    last: str | None
    subject: str | None = None


def read_slice_info(text: str) -> SliceInfo:
    """What the PG header (and, for the older "Part" series, the E-Text line) of a decoded slice says.

    The range is the title's ``"First" to "Last"`` (``(part)`` allowed), else the body's ``[E-Text Edition of
    Volume II - Part 01 of 16 - ANDROS to ANISE]``. A title naming one subject instead (``English History``,
    ``"Conduction, Electric"``) of the *Encyclopaedia Britannica* gives ``subject``, and that subject as both
    ends of the range.
    """
    start = _START.search(text)
    header = text[: start.start()] if start else text[:3000]
    title = _TITLE.search(header)
    title_block = " ".join(title.group(0).split()) if title else header
    volume, span, ebook = _VOLUME.search(title_block), _RANGE.search(title_block), _EBOOK.search(header)
    first, last, subject = (span.group(1), span.group(2), None) if span else (None, None, None)
    if not span and title:
        rest = _SLICE_NUMBERING.sub("", title_block[len("Title:"):], count=1).strip().strip('"“”').strip()
        if volume and "britannica" in title_block.lower() and rest and not re.search(r"\bto\b", rest) \
                and any(c.isalpha() for c in rest):
            first = last = subject = rest
        else:
            etext = _ETEXT_RANGE.search(text[start.end() if start else 0:][:20000])
            first, last = (etext.group(1).strip(), etext.group(2).strip()) if etext else (None, None)
    return SliceInfo(volume=int(volume.group(1)) if volume else None, ebook=int(ebook.group(1)) if ebook else None,
                     first=first, last=last, subject=subject)


def split_boilerplate(text: str, removed: Tally | None = None) -> tuple[SliceInfo, str]:
    """Separate the PG header/footer from the body (rule 2); returns (slice info, body text).

    A text without the ``*** START`` line is taken as body entirely (already stripped). ``removed``, when
    given, counts the header, footer and corrections list as ``boilerplate``.
    """
    start = _START.search(text)
    body = text[start.end():] if start else text
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
    return read_slice_info(text), body


# ------------------------------------------------------------- 3.–4. page furniture, tables, drawings
# (babylm.data.sources.gutenberg_furniture)

# -------------------------------------------------------------------------------- 4.–5. paragraphs
_SEPARATOR = re.compile(r"^[\s*\-=_.]+$")
_FOOTNOTE_LABEL = re.compile(r"^FOOTNOTES?\s*:?$", re.I)
_PRODUCED_BY = re.compile(r"^(?:Produced by|E-?text prepared by)\b", re.I)
_TRANSCRIBER = re.compile(r"^\[?Transcriber'?s note", re.I)
SIDENOTE_WORDS = 8
"""A relocated side-note is one indented line of at most this many words (``  Theories of matter.``)."""


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


@dataclass(frozen=True)
class Paragraph:
    """One unwrapped paragraph of a slice body: its text, the printed page it starts on (if known), and
    whether it is a relocated side-note (one indented line of a few words with a lower-case letter)."""

    text: str
    page: int | None
    sidenote: bool = False


def iter_paragraphs(body: str, removed: Tally | None = None) -> Iterator[Paragraph]:
    """Yield the unwrapped :class:`Paragraph` s of a slice body (rules 2–5).

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
        lines, diagram = remove_diagrams(lines)
        if diagram:
            tally.add("diagram", "\n".join(diagram))
            if not lines:
                continue
        paragraph = unwrap(lines).strip()
        if _FOOTNOTE_LABEL.match(paragraph):
            tally.add("footnote label", paragraph)
            continue
        if not paragraph or _PRODUCED_BY.match(paragraph) or _TRANSCRIBER.match(paragraph):
            tally.add("credits", paragraph)
            continue
        sidenote = (len(lines) == 1 and lines[0][:1] in " \t" and len(paragraph.split()) <= SIDENOTE_WORDS
                    and any(c.islower() for c in paragraph))
        yield Paragraph(paragraph, first_page, sidenote)


# ----------------------------------------------------------------------------------------- 6. headwords
@dataclass
class GutenbergArticle:
    """One article cut from a slice: printed headword, printed start page, paragraphs, and whether its
    headword carried a ``(continued from …)`` note (it began in an earlier slice)."""

    title: str
    page: int | None
    paragraphs: list[str]
    continued: bool = False

    @property
    def content(self) -> str:
        """The article's paragraphs separated by blank lines."""
        return "\n\n".join(self.paragraphs)


@dataclass
class SliceCut:
    """A slice cut into articles, with the headword candidates rejected (text, reason) and what was left out;
    ``route`` is ``headword`` or, for a slice that is one article named by its title, ``title page``."""

    info: SliceInfo
    articles: list[GutenbergArticle]
    rejected: list[tuple[str, str]]
    removed: Tally
    route: str = "headword"
    standalone: list[str] = field(default_factory=list)
    """Headwords that stand alone on their line, their definition after a relocated side-note (``ATOM``)."""


def cut_slice(text: str) -> SliceCut:
    """Cut a decoded slice into articles (rules 2–6), keeping the reasons for every rejected candidate.

    A slice whose title names one subject and in which no headword is found (``Volume 9, Slice 5 English
    History``: the whole slice is the article ``ENGLISH HISTORY.--The general account …``) becomes that one
    article, from the paragraph that opens with the subject's name.
    """
    removed = Tally()
    info, body = split_boilerplate(text, removed)
    paragraphs = list(iter_paragraphs(body, removed))
    articles: list[GutenbergArticle] = []
    rejected: list[tuple[str, str]] = []
    before: list[str] = []
    standalone: list[str] = []
    index = 0
    while index < len(paragraphs):
        paragraph, page = paragraphs[index].text, paragraphs[index].page
        index += 1
        verdict = classify_paragraph(paragraph, info.first, info.last)
        if verdict.reason == "no text":
            verdict, index, paragraph = (_standalone(paragraph, paragraphs, index, info, removed)
                                         or (verdict, index, paragraph))
            if verdict.title:
                standalone.append(verdict.title)
        content = remove_continued_notes(paragraph).strip()
        if content != paragraph:
            for note in CONTINUED_NOTE.finditer(paragraph):
                removed.add("editorial note", note.group(0))
            content = content.rstrip(",;: ") if verdict.title else content
        if verdict.reason:
            rejected.append((paragraph[:80], verdict.reason))
        if verdict.title:
            articles.append(GutenbergArticle(verdict.title, page, [content], continued=content != paragraph))
        elif articles and content:
            articles[-1].paragraphs.append(content)
        elif content:
            before.append(content)
    route = "headword"
    found = _subject_article(info.subject, before, paragraphs) if not articles and info.subject else None
    if found:
        articles, route, before = [found[0]], "title page", before[: found[1]]
    for content in before:
        removed.add("before the first headword", content)
    return SliceCut(info, articles, rejected, removed, route, standalone)


def _standalone(paragraph: str, paragraphs: Sequence[Paragraph], index: int, info: SliceInfo,
                removed: Tally) -> tuple[Verdict, int, str] | None:
    """A headword standing alone before relocated side-notes (:func:`standalone_headword`): the verdict, the
    index of the next paragraph to read and the article's first paragraph — joined with the definition when
    that continues the headword (``ATOM`` … ``(Gr. atomos, …``; the side-notes between are then dropped)."""
    notes = 0
    while index + notes < len(paragraphs) and paragraphs[index + notes].sidenote:
        notes += 1
    after = paragraphs[index + notes].text if index + notes < len(paragraphs) else ""
    title = standalone_headword(paragraph, notes, after, info.first, info.last)
    if title is None:
        return None
    if after[:1] == "(" or after[:1].islower():
        for note in paragraphs[index: index + notes]:
            removed.add("sidenote", note.text)
        return Verdict(title=title), index + notes + 1, f"{paragraph} {after}"
    return Verdict(title=title), index, paragraph


def _subject_article(subject: str, before: list[str],
                     paragraphs: Sequence[Paragraph]) -> tuple[GutenbergArticle, int] | None:
    """The one article of a slice named by its title, from the first paragraph opening with ``subject`` in
    capitals, and that paragraph's position in ``before``; None when no paragraph does."""
    for position, paragraph in enumerate(before):
        head = re.match(r"[^a-z]*?(?=\.?--|[,.(]|$)", paragraph)
        if head and fold(head.group(0)) == fold(subject) and not any(c.islower() for c in head.group(0)) \
                and any(c.islower() for c in paragraph):  # text after it: not the contents list's entry
            page = next((p.page for p in paragraphs if p.text.startswith(paragraph[:60])), None)
            return GutenbergArticle(head.group(0).strip(), page, before[position:]), position
    return None


def split_articles(text: str) -> tuple[SliceInfo, list[GutenbergArticle]]:
    """Cut a decoded slice into articles (rules 2–6); returns the slice info and the articles in order."""
    cut = cut_slice(text)
    return cut.info, cut.articles
