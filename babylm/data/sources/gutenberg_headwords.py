"""Where an article starts in a Project Gutenberg EB1911 slice: the headword rules, with a reason for every no.

Pure functions used by :mod:`babylm.data.sources.gutenberg`. A paragraph is a **candidate** when it opens
like a printed headword: a token with an upper-case letter and no lower-case one, or a quoted capital
(``"I, _A. B._, demand …``). :func:`classify_paragraph` accepts a candidate as a headword or names the rule
that rejects it, so the ingest can report every rejection:

==========================  =================================================================================
reason                      rule (real examples from EB1911 slices)
==========================  =================================================================================
``punctuation``             a headword starts with a letter: ``"I, _A. B._, demand`` is a quoted oath.
``single letter``           a headword has two or more letters (``B, C. Further stages …``), except the
                            articles on the letters themselves, which say so within their first words
                            (``A, the first letter of the alphabet``).
``enumeration``             a Roman numeral alone (``II. _The Province of Britain_``) numbers a section.
``sub-heading``             upper-case words then ``.--`` or ``—`` (``AUTHORITIES.--``, ``BREWING OPERATIONS.--``).
``corrections list``        a transcriber's corrections entry (``ARTICLE DUMAS, ALEXANDRE: "He wrote …``).
``no text``                 nothing but upper-case words (title page ``VOLUME IX, SLICE II``, ``PLATE I.``,
                            headings ``ROMAN BRITAIN``) — except an article continued from the previous
                            slice, whose opening paragraph is only ``DUBLIN, [_Continued from …_]``.
``no definition``           the words after the headword do not start a definition: a headword is followed
                            by ``,`` ``(`` ``[`` or ``. Text``; with the slice's range known, a single word
                            followed by lower-case text is forgiven (``BRÉZÉ the name of …``, a printing slip).
``outside the range``       the headword's first two letters (accents folded) are outside the slice's range
                            ``"Brescia" to "Bulgaria"`` (BR–BU): ``JOHN HERVEY`` inside BRISTOL, ``BIBLIOGRAPHY``.
==========================  =================================================================================

An accepted headword has PG's bracket codes resolved (``BUJN[=U]RD`` → ``BUJNŪRD``) and trailing punctuation
removed. Reference: the printed conventions of the 11th edition as transcribed by Project Gutenberg.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from babylm.data.sources.gutenberg_markup import resolve_editorial_brackets

_SUB_HEADING = re.compile(r"^[^a-z]*\.\s*(?:--|—)")
_FOOTNOTE_REF = re.compile(r"\[\d+\]")
_ROMAN = re.compile(r"[IVXLC]+\.?,?")
_LETTER_ARTICLE = re.compile(r"^[A-Z][,.]?\s.{0,60}?\bletter\b")
_CORRECTIONS_ENTRY = re.compile(r"^ARTICLES?\s[^a-z]*:")
CONTINUED_NOTE = re.compile(
    r"\s*(?:\[_?\s*continued (?:from|in|on)\b[^\[\]]*\]|_?\(_?\s*continued (?:from|in|on)\b[^()]*\)_?)", re.I
)
"""An editorial note that an article runs over from (or into) another slice: ``[_Continued from volume IX
slice I._]``, ``(_continued from part 2_)``. Removed wherever it occurs."""


@dataclass(frozen=True)
class Verdict:
    """What a paragraph is: a headword (``title``), a rejected candidate (``reason``), or neither (both None)."""

    title: str | None = None
    reason: str | None = None


def fold(text: str) -> str:
    """Upper-case letters of ``text`` with accents removed (``Bréquigny`` → ``BREQUIGNY``)."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if c.isalpha() and not unicodedata.combining(c)).upper()


def remove_continued_notes(paragraph: str) -> str:
    """``paragraph`` without ``[_Continued from …_]`` / ``(_continued from part N_)`` notes."""
    return CONTINUED_NOTE.sub("", paragraph)


def _caps_run(line: str) -> list[str]:
    """The leading tokens with an upper-case letter and no lower-case one (``BRETEUIL,``, ``LE``, ``DE``)."""
    run: list[str] = []
    for token in line.split(" "):
        if not token or token[0] in "([_" or any(c.islower() for c in token) or not any(c.isalpha() for c in token):
            break
        run.append(token)
    return run


def classify_paragraph(paragraph: str, first: str | None = None, last: str | None = None) -> Verdict:
    """Decide whether ``paragraph`` opens an article; ``first``/``last`` is the slice's range if known.

    Returns ``Verdict(title=…)`` for a headword, ``Verdict(reason=…)`` for a rejected candidate (reasons in
    the module docstring) and ``Verdict()`` for an ordinary paragraph. A candidate opens with an upper-case
    word of two letters or more (after any leading quotation marks), or with a single capital directly
    followed by ``,`` or ``.``; ``A compromise …`` or ``R_2 = …`` are ordinary paragraphs.
    """
    continued = CONTINUED_NOTE.search(paragraph) is not None
    line = _FOOTNOTE_REF.sub("", remove_continued_notes(paragraph)).strip()
    core = line.lstrip("\"'“‘")
    letters = next((i for i, c in enumerate(core) if not (c.isalpha() and c.isupper())), len(core))
    if letters == 0 or core[letters: letters + 1].isalpha() or core[letters: letters + 1].isdigit():
        return Verdict()
    single = letters == 1
    if single and not core[1:2] in (",", "."):
        return Verdict()
    if core != line:
        return Verdict(reason="punctuation")
    if _SUB_HEADING.match(line):
        return Verdict(reason="sub-heading")
    run = _caps_run(line)
    head = " ".join(run)
    rest = line[len(head):]
    if len(run) == 1 and _ROMAN.fullmatch(run[0]):
        return Verdict(reason="enumeration")
    if single and not _LETTER_ARTICLE.match(line):
        return Verdict(reason="single letter")
    if _CORRECTIONS_ENTRY.match(line):
        return Verdict(reason="corrections list")
    if not any(c.islower() for c in rest):
        if not (continued and not rest.strip(" ,.;:")):
            return Verdict(reason="no text")
    elif not _defines(run, head, rest, ranged=bool(first and last)):
        return Verdict(reason="no definition")
    if first and last:
        key, low, high = fold(run[0])[:2], fold(first)[:2], fold(last)[:2]
        if not (low <= key <= high):
            return Verdict(reason="outside the range")
    return Verdict(title=resolve_editorial_brackets(head.rstrip(",.;: ")))


def _defines(run: list[str], head: str, rest: str, ranged: bool) -> bool:
    """Whether the text after the headword starts a definition (``,`` ``(`` ``[`` or ``. Text``)."""
    if any(token.endswith(",") for token in run) or rest.startswith((" (", " [", ",")):
        return True
    if head.endswith(".") and rest.strip() and not rest.lstrip().startswith("-"):
        return True
    # With the range as a safety net, a missing comma (``BRÉZÉ the name of …``) is forgiven.
    return ranged and len(run) == 1 and sum(c.isalpha() for c in run[0]) >= 3 and re.match(r" [a-z]", rest) is not None


def headword(paragraph: str, first: str | None = None, last: str | None = None) -> str | None:
    """The headword opening ``paragraph``, or None (see :func:`classify_paragraph`)."""
    return classify_paragraph(paragraph, first, last).title
