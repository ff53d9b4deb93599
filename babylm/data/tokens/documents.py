"""Documents and bounded pieces of text for the tokenizer: memory follows a piece, never the longest line.

The byte-level BPE tokenizes each *pre-token* (GPT-2's split of text into words, numbers, punctuation and
whitespace runs) on its own, so a text may be cut wherever no pre-token spans the cut without changing a
single token. :func:`safe_cut` finds such a place; the rule (checked by a property test against the
``tokenizers`` pre-tokenizer itself) is:

* just before whitespace that follows a non-space character (``…word| next…``, ``…word|\\n\\nNext…``):
  a pre-token never runs from a non-space character into the whitespace after it, and a run of
  whitespace is split (``\\s+(?!\\S)``) by what follows it only, or
* just after a ``\\n`` that follows a non-space character and precedes one (``…word\\nNext…``).

A stretch of more than ``limit`` characters with neither (one 50 MB word) is cut hard at ``limit``; only
the tokens around such a cut can differ. :func:`bounded_pieces` cuts a line this way, and
:func:`file_pieces` reads a text file line by line in such pieces (1 MiB blocks: never a whole line in
memory), for tokenizer training and the fertility report; :func:`iter_documents` splits the cleaner's
``<s> … </s>`` stream (or blank-line separated plain text) into documents, cutting long ones into pieces,
for the encode stage and perplexity. Only :func:`file_pieces` reads a file; nothing is written.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Iterable, Iterator

BOS, EOS = "<s>", "</s>"
MAX_PIECE_CHARS = 1 << 16
"""Longest piece of text handed to the tokenizer at once (characters); bounds its working memory."""

_READ_BYTES = 1 << 20
_MARKER = re.compile(r"<s>|</s>")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")


_CUT = re.compile(r"(?<=\S)(?=\s)|(?:^|(?<=\S))\n(?=\S)")
"""Where a cut keeps every pre-token: before whitespace that follows a non-space, or after a newline
between non-spaces (the match of the second alternative ends just after the newline)."""


def safe_cut(text: str, limit: int) -> int | None:
    """Return the largest ``0 < i <= limit`` where ``text[:i]`` and ``text[i:]`` keep every pre-token of
    ``text`` by the module's rules, or None when there is none. Requires ``0 < limit < len(text)``."""
    window = 256
    while True:  # look back from the limit in growing windows: usually a place is a few characters away
        begin = max(0, limit - window)
        # the search reaches past the limit: whether text[limit] is whitespace decides a cut there
        cuts = [m.end() for m in _CUT.finditer(text, begin, limit + 2) if 0 < m.end() <= limit]
        if cuts:
            return max(cuts)
        if begin == 0:
            return None
        window *= 16


def bounded_pieces(text: str, limit: int = MAX_PIECE_CHARS) -> Iterator[str]:
    """Yield ``text`` in pieces of at most ``limit`` characters, cut at :func:`safe_cut` places."""
    while len(text) > limit:
        cut = safe_cut(text, limit) or limit  # no safe place: a hard cut
        yield text[:cut]
        text = text[cut:]
    if text:
        yield text


class NotUtf8(ValueError):
    """A text file that is not UTF-8; the message names the file and the byte."""


def file_pieces(path, limit: int = MAX_PIECE_CHARS) -> Iterator[str]:
    """Yield the text of file ``path`` line by line (newline kept), lines longer than ``limit`` characters
    in :func:`bounded_pieces`; reads 1 MiB blocks, so memory never follows the longest line.

    Raises :class:`NotUtf8` naming the file and (about) the byte where decoding failed.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    pending, offset = "", 0
    with open(path, "rb") as handle:
        while True:
            block = handle.read(_READ_BYTES)
            try:
                pending += decoder.decode(block, final=not block)
            except UnicodeDecodeError as error:
                raise NotUtf8(f"{path}: not UTF-8 near byte {offset + max(error.start, 0)}; "
                              "re-run the clean/split stages") from None
            offset += len(block)
            lines = pending.split("\n")
            pending = lines.pop()
            for line in lines:
                yield from bounded_pieces(line + "\n", limit)
            while len(pending) > limit:  # a line still going on: hand over its head
                cut = safe_cut(pending, limit) or limit
                yield pending[:cut]
                pending = pending[cut:]
            if not block:
                break
    if pending:
        yield pending


@dataclass(frozen=True)
class DocPiece:
    """A piece of one document: ``first`` gets ``<s>`` before it, ``last`` gets ``</s>`` after it."""

    text: str
    first: bool
    last: bool


def _marker_events(chunks: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Yield ``("text", s)``, ``("open", "")`` and ``("close", "")`` events from text chunks.

    A chunk ending in a possible marker prefix (``<``, ``</``, ``<s``…) is held back until the next one.
    """
    held = ""
    for chunk in chunks:
        text = held + chunk
        cut = text.rfind("<", max(0, len(text) - 3))
        if cut >= 0 and ("<s>".startswith(text[cut:]) or "</s>".startswith(text[cut:])):
            text, held = text[:cut], text[cut:]
        else:
            held = ""
        yield from _split_markers(text)
    if held:
        yield from _split_markers(held)


def _split_markers(text: str) -> Iterator[tuple[str, str]]:
    position = 0
    for match in _MARKER.finditer(text):
        if match.start() > position:
            yield "text", text[position : match.start()]
        yield ("open" if match.group() == BOS else "close"), ""
        position = match.end()
    if position < len(text):
        yield "text", text[position:]


def iter_documents(chunks: Iterable[str], max_doc_chars: int = MAX_PIECE_CHARS) -> Iterator[DocPiece]:
    """Split streamed text into document pieces; takes text chunks, yields :class:`DocPiece` in order.

    Documents are delimited by ``<s>``…``</s>`` markers; outside markers, by blank lines. Empty
    documents are dropped. A document longer than ``max_doc_chars`` comes in pieces of at most that many
    characters, cut at :func:`safe_cut` places (so its tokens are unchanged unless it has a stretch of
    ``max_doc_chars`` characters without a usable space or line break).
    """
    buffer = ""  # text of the current document not yet emitted
    marked = False  # inside <s> … </s>
    started = False  # a first piece of the current document was already emitted

    def finish() -> Iterator[DocPiece]:
        nonlocal buffer, started
        if buffer.strip() or started:
            yield DocPiece(buffer, first=not started, last=True)
        buffer, started = "", False

    def flush_long() -> Iterator[DocPiece]:
        nonlocal buffer, started
        while len(buffer) > max_doc_chars:
            cut = safe_cut(buffer, max_doc_chars) or max_doc_chars  # no safe place: a hard cut
            head, buffer = buffer[:cut], buffer[cut:]
            if head.strip() or started:
                yield DocPiece(head, first=not started, last=False)
                started = True

    for kind, text in _marker_events(chunks):
        if kind == "open":
            yield from finish()
            marked = True
        elif kind == "close":
            if marked:
                yield from finish()
            marked = False
        elif marked:
            buffer += text
            yield from flush_long()
        else:
            search_from = len(buffer.rstrip())  # a blank line may have begun at the end of the last text
            buffer += text
            while match := _BLANK_LINE.search(buffer, search_from):
                rest = buffer[match.end() :]
                buffer = buffer[: match.start()]
                yield from finish()
                buffer, search_from = rest, 0
            yield from flush_long()
    yield from finish()
