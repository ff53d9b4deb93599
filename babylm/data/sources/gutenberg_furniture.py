"""What is not prose in a Project Gutenberg EB1911 slice: page furniture, tables and drawings (rules 3–4).

Pure functions on text, used by :mod:`babylm.data.sources.gutenberg_text` (which cuts a slice into articles;
:mod:`babylm.data.sources.gutenberg` documents the rules in order):

* :data:`PAGE_MARKER` — ``[v.04 p.0498]`` printed-page markers;
* :func:`remove_bracket_blocks` — ``[Illustration…]`` and ``[Sidenote…]`` blocks, also when the transcription
  lost their ``]`` (rule 3);
* :func:`is_table` — a paragraph that is mostly table rows (rule 4);
* :func:`remove_diagrams` — ASCII drawings inside a paragraph: structure diagrams with their atom labels,
  displayed formulas, stray table rules (rule 4).
"""

from __future__ import annotations

import re
from typing import Sequence

from babylm.data.articles import Tally

__all__ = ["PAGE_MARKER", "remove_bracket_blocks", "is_table", "is_drawing_line", "remove_diagrams"]


PAGE_MARKER = re.compile(r"\[v\.\s*([0-9]{1,4})\s+p\.\s*([0-9]{1,4})\]")  # printed pages: at most ~1,100
_BLOCK_OPENERS = re.compile(r"\[(?:Illustration|Sidenote)\b", re.I)
_PROSE_AFTER_BLANK = re.compile(r"\n[ \t]*\n(?=[^\s\[][^\n]*\n[^\n]*\S)")
"""Where an unclosed block ends: a blank line, then an unindented paragraph of two lines or more (prose)."""


def _block_end(text: str, start: int) -> tuple[int, bool]:
    """Where the bracket block opening at ``start`` ends, and whether its ``]`` was found (False: unclosed).

    A block is closed by its balanced ``]``; a second block opener met before it (never nested in print)
    or the end of the text means the transcription lost the ``]``: the block then ends before the first
    prose paragraph after it (two lines or more, unindented) — captions and figure keys are indented or short.
    """
    depth, i = 0, start
    while i < len(text):
        char = text[i]
        if char == "[" and depth == 1 and _BLOCK_OPENERS.match(text, i):
            break
        depth += {"[": 1, "]": -1}.get(char, 0)
        i += 1
        if depth == 0:
            return i, True
    prose = _PROSE_AFTER_BLANK.search(text, start, i)
    return (prose.start() if prose else i), False


def remove_bracket_blocks(text: str, removed: Tally | None = None) -> str:
    """Remove ``[Illustration…]`` and ``[Sidenote…]`` blocks, brackets balanced across lines; returns text.

    ``removed``, when given, counts them as ``caption`` and ``sidenote``, and the blocks whose ``]`` the
    transcription lost (see :func:`_block_end`) also as ``unclosed caption``.
    """
    out, position = [], 0
    for match in _BLOCK_OPENERS.finditer(text):
        if match.start() < position:
            continue
        end, closed = _block_end(text, match.start())
        out.append(text[position: match.start()])
        if removed is not None:
            block = text[match.start(): end]
            removed.add("sidenote" if match.group(0).lower() == "[sidenote" else "caption", block)
            if not closed:
                removed.add("unclosed caption", block)
        position = end
    out.append(text[position:])
    return "".join(out)


_COLUMN_GAP = re.compile(r"\S {3,}\S.* {3,}\S|\S {3,}\S|\|")


def is_table(lines: Sequence[str]) -> bool:
    """True when most of a paragraph's ``lines`` are table rows: column gaps of 3+ spaces or ``|`` rules."""
    rows = sum(1 for line in lines if _COLUMN_GAP.search(line.strip()))
    return len(lines) > 0 and rows * 2 >= len(lines) and (rows >= 2 or len(lines) == 1 and "|" in lines[0])


_DRAWING_MARK = re.compile(r"__|[/\\|]")
_ATOM_LABEL = re.compile(r"(?:[A-Z][A-Za-z0-9]{0,5}|[=,-])(?:\s+(?:[A-Z][A-Za-z0-9]{0,5}|[=,-]))*")


def is_drawing_line(line: str) -> bool:
    """True for a line of a structure diagram drawn in ASCII (``/  \\__/  \\ ,``): it has drawing marks (``__``,
    ``/``, ``\\``, ``|``) and fewer than 40 % letters among its visible characters."""
    visible = "".join(line.split())
    return bool(_DRAWING_MARK.search(visible)) and sum(c.isalpha() for c in visible) < 0.4 * len(visible)


def remove_diagrams(lines: Sequence[str]) -> tuple[list[str], list[str]]:
    """A paragraph's lines without its ASCII structure diagrams (rule 4): runs of two or more drawing lines
    (:func:`is_drawing_line`) and the atom labels directly above or below them (``NH2``, ``HOOC  COOH``,
    ``N = N``). Returns (kept, removed). DIPHENYL's four diagrams (#32689) are the example."""
    drop = [False] * len(lines)
    drawing = [is_drawing_line(line) for line in lines]
    start = 0
    while start < len(lines):
        end = start
        while end < len(lines) and drawing[end]:
            end += 1
        if end - start >= 2:
            while start > 0 and _ATOM_LABEL.fullmatch(lines[start - 1].strip()):
                start -= 1
            while end < len(lines) and _ATOM_LABEL.fullmatch(lines[end].strip()):
                end += 1
            drop[start:end] = [True] * (end - start)
        start = max(end, start + 1)
    return [line for line, d in zip(lines, drop) if not d], [line for line, d in zip(lines, drop) if d]
