"""Where an article starts in a Project Gutenberg EB1911 slice: the headword rules, with a reason for every no.

Pure functions used by :mod:`babylm.data.sources.gutenberg`. A paragraph is a **candidate** when it opens
like a printed headword: a token with an upper-case letter and no lower-case one, or a quoted capital
(``"I, _A. B._, demand …``). :func:`classify_paragraph` accepts a candidate as a headword or names the rule
that rejects it, so the ingest can report every rejection:

==========================  =================================================================================
reason                      rule (real examples from EB1911 slices)
==========================  =================================================================================
``punctuation``             a quoted capital letter is not a headword: ``"I, _A. B._, demand`` is a quoted
                            oath (a quoted headword, ``"FLYING DUTCHMAN," a spectre-ship``, and one opening with
                            the ʿayn apostrophe, ``'ANTARA IBN SHADDAD,``, are headwords).
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
``outside the range``       the headword's first three letters (accents folded, spaces and punctuation out) are
                            outside the slice's range ``"Brescia" to "Bulgaria"`` (BRE–BUL): ``JOHN HERVEY``
                            inside BRISTOL, ``BIBLIOGRAPHY``, ``ARTHROPODA.`` inside ARACHNIDA (APO–ARA).
==========================  =================================================================================

A headword may join two capitalised names with ``and``/``or`` (``EMBER DAYS and EMBER WEEKS,``, ``CARBOLIC ACID or
PHENOL (``); a run of capitals ends before a sentence opened by ``A``/``I`` (``CAPILLARY ACTION. A tube …``).
A ``no text`` candidate is still a headword when it stands alone before the slice's relocated side-notes
(:func:`standalone_headword`: ``ATOM`` / ``  Theories of matter.`` / ``(Gr. atomos …``).

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


def _capitals(text: str) -> int:
    """How many characters ``text`` opens with that are capitals, an apostrophe between capitals counting
    as one (``D'URBAN``, ``B'NAI B'RITH``)."""
    count = 0
    while count < len(text) and (text[count].isalpha() and text[count].isupper() or (
            text[count] in "'’" and count > 0 and text[count + 1: count + 2].isupper())):
        count += 1
    return count


def _caps_run(line: str) -> list[str]:
    """The leading tokens with an upper-case letter and no lower-case one (``BRETEUIL,``, ``LE``, ``DE``), up to
    a sentence opened by ``A`` or ``I`` after a full stop (``CAPILLARY ACTION. A tube``: ``A`` is not in it)."""
    run: list[str] = []
    tokens = line.split(" ")
    for index, token in enumerate(tokens):
        if not token or token[0] in "([_" or any(c.islower() for c in token) or not any(c.isalpha() for c in token):
            break
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if run and run[-1].endswith(".") and token in ("A", "I") and following[:1].islower():
            break
        run.append(token)
    return run


def _joined_run(run: list[str], rest: str) -> tuple[list[str], str]:
    """``EMBER DAYS`` + `` and EMBER WEEKS, the four …`` → one run ``EMBER DAYS and EMBER WEEKS,`` and its rest,
    when the second name is followed by a definition; else ``run`` and ``rest`` unchanged. (Only for a run
    that defines nothing by itself: ``ANEMONE, or WIND-FLOWER`` stays ``ANEMONE``.)"""
    joint = re.match(r" (and|or) (?=[A-Z]{2})", rest)
    if not joint:
        return run, rest
    second = _caps_run(rest[joint.end():])
    after = rest[joint.end() + len(" ".join(second)):]
    if second and any(c.islower() for c in after) and _defines(second, " ".join(second), after, ranged=False):
        return run + [joint.group(1)] + second, after
    return run, rest


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
    letters = _capitals(core)
    if letters == 0 or core[letters: letters + 1].isalpha() or core[letters: letters + 1].isdigit():
        return Verdict()
    single = letters == 1
    if single and not core[1:2] in (",", ".") and not _LETTER_ARTICLE.match(core):
        return Verdict()  # (``F     This is the sixth letter …``: the article on a letter)
    prefix = ""
    if core != line:
        if single:
            return Verdict(reason="punctuation")
        quoted = re.match(r"[\"“]([^\"”]+?)(,?)[\"”]", line)
        if line[0] in "'‘" and len(line) - len(core) == 1:
            prefix = "'"  # the ʿayn of a transliterated name: 'ANTARA, 'AQIBA
        elif not quoted:
            return Verdict(reason="punctuation")
        line = quoted.group(1) + quoted.group(2) + line[quoted.end():] if quoted and not prefix else core
    if _SUB_HEADING.match(line):
        return Verdict(reason="sub-heading")
    run = _caps_run(line)
    rest = line[len(" ".join(run)):]
    if not _defines(run, " ".join(run), rest, ranged=bool(first and last)):
        run, rest = _joined_run(run, rest)
    head = " ".join(run)
    if len(run) == 1 and _ROMAN.fullmatch(run[0]):
        return Verdict(reason="enumeration")
    if single and not _LETTER_ARTICLE.match(line):
        return Verdict(reason="single letter")
    if _CORRECTIONS_ENTRY.match(line):
        return Verdict(reason="corrections list")
    if not any(c.islower() for c in rest):
        if not (continued and not rest.strip(" ,.;:")):
            return Verdict(reason="no text")
    elif not single and not _defines(run, head, rest, ranged=bool(first and last)):  # (a letter's article: above)
        return Verdict(reason="no definition")
    if first and last and not in_range(head, first, last):
        return Verdict(reason="outside the range")
    return Verdict(title=prefix + _title(head))


def _title(head: str) -> str:
    """A headword as a title: bracket codes resolved, PG's subscript underscore out (``C_4H_9OH`` → ``C4H9OH``)."""
    return re.sub(r"_(?=\d)", "", resolve_editorial_brackets(head.rstrip(",.;: ")))


RANGE_LETTERS = 3
"""How many leading letters of a headword (accents folded) are compared with the slice's range."""


def in_range(head: str, first: str, last: str) -> bool:
    """Whether headword ``head`` may lie between a slice's ``first`` and ``last`` headwords: its first
    :data:`RANGE_LETTERS` letters (accents folded, other characters dropped) lie between theirs."""
    key, low, high = (fold(text)[:RANGE_LETTERS] for text in (head, first, last))
    return low <= key <= high


def standalone_headword(paragraph: str, sidenotes: int, after: str, first: str | None, last: str | None) -> str | None:
    """The headword of a paragraph that is nothing but one (``ATOM``, ``ARCHERY,``, ``CHURCH HISTORY.``), when
    the slice relocated side-notes under it: ``sidenotes`` ≥ 1 of them follow, then ``after``, a paragraph that
    is not capitals only. Only with the slice's range known and the headword inside it (section headings
    such as ``HISTORY.`` inside CHILE, or a title page's ``ENCYCLOPAEDIA BRITANNICA``, are outside it or have
    no side-note of lower-case words under them). Returns the title or None.
    """
    line = _FOOTNOTE_REF.sub("", paragraph).strip()
    run = _caps_run(line)
    if not (first and last and sidenotes and run and " ".join(run) == line and any(c.islower() for c in after)):
        return None
    head = line.rstrip(",.;: ")
    if (len(run) == 1 and _ROMAN.fullmatch(run[0]) or sum(c.isalpha() for c in head) < 2
            or not in_range(head, first, last)):
        return None
    return _title(head)


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
