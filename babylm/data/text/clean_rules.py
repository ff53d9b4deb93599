"""The cleaner's rules: named, documented, pure ``str → str`` functions on the text of one article.

Each rule is a :class:`CleanRule` in :data:`RULES`, applied in that order by
:func:`babylm.data.text.clean.clean_text`. Lossless rules are on by default; the two lossy ones
(``strip_accents``, ``recase_headwords``) are off unless asked for. No rule removes accents, Greek,
digits or ordinary punctuation except where its name says so. The input text is one article: lines are
paragraphs (or the hard-wrapped lines of an OCR page); the output has one paragraph per line where the
input had one, no empty lines and no leading or trailing spaces.

Rules (in order):

``unicode``            invisible characters out (soft hyphen, zero-width, BOM, bidi marks, control
                       characters), NFC normalisation, exotic spaces → space, typographic ligatures
                       (ﬁ, ﬂ …) → letters, CR/LF → LF.
``markup``             residual wiki and HTML markup: templates, tables, files, links, ``'''``/``''``,
                       known HTML tags, entities (rendered as in ``babylm.data.sources.wikitext_render``), and
                       Project Gutenberg ``_italic_`` underscores (also an italic suffix glued to a
                       number: ``38_a_`` → ``38a``).
``page_markers``       page furniture: Gutenberg ``[v.04 p.0498]`` markers (also when broken across a line),
                       ``[Illustration: …]`` captions and ``[Sidenote: …]`` margin notes; OCR page-number
                       lines and the ALL-CAPS running head printed next to them.
``footnote_markers``   ``[1]``-style footnote references; ``[Footnote 3: …]`` keeps its text.
``editorial_brackets`` transcribers' notations resolved: ``[Greek: bios]`` → ``bios``, ``[alpha]`` → ``α``,
                       ``[=a]`` → ``ā`` (and ``[)i]``, ``['s]``, ``[vs]``… diacritics), ``[root]`` → ``√``,
                       ``[inf]`` → ``∞``; ``[signed]`` and ``[Transcriber's note: …]`` removed.
``sub_superscripts``   Gutenberg's ``C_{12}H_{22}O_{11}`` → ``C12H22O11``, ``W_l`` → ``Wl``, ``x^{2}`` → ``x²``.
``hyphenation``        a line-end hyphen between lower-case letters: a broken word is joined (``hazard-⏎ous``
                       → ``hazardous``), a compound keeps its hyphen (``twenty-⏎one`` → ``twenty-one``),
                       decided from the corpus's own evidence (:mod:`babylm.data.text.hyphenation`).
``quotes``             curly and low quotation marks → ``"`` and ``'``; primes (′ ″) and guillemets stay.
``dashes``             Gutenberg's ``--`` → ``—`` (the em dash Wikisource text already uses).
``whitespace``         runs of spaces and tabs → one space, lines stripped, empty lines dropped.
``strip_accents``      (lossy, off by default) combining marks removed: ``Bréquigny`` → ``Brequigny``.
``recase_headwords``   (lossy, off by default) the ALL-CAPS headword opening an article in title case:
                       ``BRESCIA (anc. Brixia)`` → ``Brescia (anc. Brixia)``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from babylm.data.sources.gutenberg_markup import resolve_editorial_brackets
from babylm.data.sources.wikitext_render import strip_markup
from babylm.data.text.hyphenation import HyphenEvidence
from babylm.data.text.hyphenation import join_hyphenated_words as _join_hyphenated_words


@dataclass(frozen=True)
class CleanRule:
    """A named cleaning rule: ``apply`` maps the text of one article to its cleaned text."""

    name: str
    apply: Callable[[str], str]
    lossy: bool = False

    @property
    def summary(self) -> str:
        """First line of the rule's docstring."""
        return (self.apply.__doc__ or "").strip().splitlines()[0]


def _until_stable(function: Callable[[str], str], text: str, limit: int = 8) -> str:
    """Apply ``function`` until the text stops changing (at most ``limit`` times)."""
    for _ in range(limit):
        changed = function(text)
        if changed == text:
            break
        text = changed
    return text


# ------------------------------------------------------------------------------------------------ unicode
_INVISIBLE = re.compile(
    "[\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u202a-\u202e\u2066-\u2069"
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
)
_LINE_BREAKS = re.compile("\r\n?|[\u2028\u2029\x85]")
_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_LIGATURES = {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
_LIGATURE = re.compile("|".join(_LIGATURES))


def normalise_unicode(text: str) -> str:
    """Invisible and control characters out, NFC, exotic spaces → space, ligatures → letters."""
    text = _LINE_BREAKS.sub("\n", text)
    text = _INVISIBLE.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text = _SPACES.sub(" ", text)
    return _LIGATURE.sub(lambda m: _LIGATURES[m.group(0)], text)


# ------------------------------------------------------------------------------------------------- markup
# _italic_ as Gutenberg marks it; may span a line break of hard-wrapped text (at most 300 characters).
_PG_ITALIC = re.compile(r"(?<![\w_])_(?=[^\s_])([^_]{0,300}?[^\s_])_(?![\w_])")
# An italic letter suffix glued to a number, as PG marks folio and section references: 38_a_, 12_b_, 3_rd_.
_PG_ITALIC_SUFFIX = re.compile(r"(?<=\d)_([A-Za-z]{1,3})_(?![\w_])")


def remove_markup(text: str) -> str:
    """Residual wiki/HTML markup and Gutenberg ``_italic_`` underscores removed, their text kept."""

    def once(value: str) -> str:
        value = strip_markup(value)
        value = _PG_ITALIC_SUFFIX.sub(r"\1", value)
        return _PG_ITALIC.sub(r"\1", value)

    return _until_stable(once, text)


# ------------------------------------------------------------------------------------------- page_markers
_PG_PAGE_MARKER = re.compile(r"\[v\.\s*\d+\s+p\.\s*\d+\]")
# [Illustration], [Illustration: …] and [Sidenote: …], allowing one level of nested brackets inside.
_PG_BLOCK = re.compile(r"\[(?:Illustration|Sidenote)(?:[:.][^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*)?\]", re.I)
_PAGE_NUMBER_LINE = re.compile(r"[ \t]*\d{1,4}[ \t]*")
# A running head: upper-case words (with the joiners OCR turns dashes into), no lower-case letters.
_RUNNING_HEAD_LINE = re.compile(r"[ \t]*[A-ZÀ-ÞÆŒ][A-ZÀ-ÞÆŒ0-9 ,.'’&\-—–^~]{0,60}[ \t]*")


def remove_page_markers(text: str) -> str:
    """Page markers, illustration captions, side-notes, OCR page numbers and running heads removed."""
    text = _PG_PAGE_MARKER.sub("", text)
    text = _until_stable(lambda value: _PG_BLOCK.sub("", value), text)
    lines = text.split("\n")
    numbers = {i for i, line in enumerate(lines) if _PAGE_NUMBER_LINE.fullmatch(line)}
    if not numbers:
        return text
    drop = set(numbers)
    for i in numbers:
        for j in (i - 1, i + 1):
            if 0 <= j < len(lines) and j not in numbers and _RUNNING_HEAD_LINE.fullmatch(lines[j]):
                if any(c.isalpha() for c in lines[j]):
                    drop.add(j)
    return "\n".join(line for i, line in enumerate(lines) if i not in drop)


# --------------------------------------------------------------------------------------- footnote_markers
_FOOTNOTE_REF = re.compile(r"\[\d{1,3}\]")
_FOOTNOTE_BLOCK = re.compile(r"\[Footnote\s*\d*\s*:\s*([^\[\]]*)\]", re.I)


def remove_footnote_markers(text: str) -> str:
    """``[1]`` footnote references removed; ``[Footnote 1: text]`` keeps its text."""

    def once(value: str) -> str:
        value = _FOOTNOTE_BLOCK.sub(r"\1", value)
        return _FOOTNOTE_REF.sub("", value)

    return _until_stable(once, text)


# ------------------------------------------------------------------------------------- sub_superscripts
_SUBSCRIPT = re.compile(r"(?<=[A-Za-z0-9)\]])_(?:\{([^{}\s]{1,12})\}|([0-9]+|[A-Za-z]{1,3}(?![A-Za-z0-9])))")
_SUPERSCRIPT = re.compile(r"(?<=\S)\^(?:\{([^{}\s]{1,12})\}|([0-9]+|[A-Za-z]{1,2}(?![a-z0-9])))")
_SUPERSCRIPT_DIGITS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def resolve_sub_superscripts(text: str) -> str:
    """Gutenberg ``C_{12}H_{22}`` → ``C12H22``, ``W_l`` → ``Wl``, ``x^{2}`` → ``x²``, ``XIII^{me}`` → ``XIIIme``."""

    def superscript(match: re.Match) -> str:
        body = match.group(1) or match.group(2)
        return body.translate(_SUPERSCRIPT_DIGITS) if body.isdigit() else body

    def once(value: str) -> str:
        value = _SUBSCRIPT.sub(lambda m: m.group(1) or m.group(2), value)
        return _SUPERSCRIPT.sub(superscript, value)

    return _until_stable(once, text)


# ------------------------------------------------------------------------------------------- hyphenation
def join_hyphenated_words(text: str) -> str:
    """Line-end hyphens: ``hazard-⏎ous`` → ``hazardous``, ``twenty-⏎one`` → ``twenty-one`` (evidence: the text)."""
    return _join_hyphenated_words(text)


def hyphenation_rule(evidence: HyphenEvidence | None, decisions: Counter | None = None) -> CleanRule:
    """The ``hyphenation`` rule deciding from ``evidence`` (a whole corpus's) and counting its ``decisions``."""

    def apply(text: str) -> str:
        return _join_hyphenated_words(text, evidence, decisions)

    apply.__doc__ = join_hyphenated_words.__doc__
    return CleanRule("hyphenation", apply)


# ------------------------------------------------------------------------------------------ quotes, dashes
_DOUBLE_QUOTES = re.compile("[\u201c\u201d\u201e\u201f\u301d\u301e\uff02]")
_SINGLE_QUOTES = re.compile("[\u2018\u2019\u201a\u201b\uff07]")


def normalise_quotes(text: str) -> str:
    """Curly and low quotation marks → ``"`` and ``'`` (apostrophes included)."""
    return _SINGLE_QUOTES.sub("'", _DOUBLE_QUOTES.sub('"', text))


_DOUBLE_HYPHEN = re.compile(r"(?<!-)--(?!-)")


def normalise_dashes(text: str) -> str:
    """Gutenberg's ``--`` (exactly two hyphens) → ``—``."""
    return _DOUBLE_HYPHEN.sub("—", text)


# ------------------------------------------------------------------------------------------- whitespace
_HORIZONTAL_SPACE = re.compile(r"[ \t\x0b\x0c]+")


def normalise_whitespace(text: str) -> str:
    """Runs of spaces/tabs → one space, lines stripped, empty lines dropped."""
    lines = (_HORIZONTAL_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


# ------------------------------------------------------------------------------------------------ lossy
def strip_accents(text: str) -> str:
    """(lossy) Combining marks removed after NFD: ``Bréquigny`` → ``Brequigny``, ``βίος`` → ``βιος``."""
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", kept)


_ROMAN_NUMERAL = re.compile(r"[IVXLCDM]+\.?,?")
_PARTICLES = {"of", "the", "and", "de", "du", "des", "di", "da", "von", "van", "der", "den", "la", "le", "y",
              "or", "on", "in"}


def _title_case_word(word: str, first: bool) -> str:
    if _ROMAN_NUMERAL.fullmatch(word) and len(word.rstrip(".,")) > 1:
        return word
    if any(c.isdigit() for c in word):
        return word.lower()  # 3RD → 3rd
    bare = word.rstrip(".,;:").lower()
    if not first and bare in _PARTICLES:
        return word.lower()
    out, capitalise, previous = [], True, ""
    for c in word:
        out.append(c.upper() if capitalise else c.lower())
        if c in "-(":
            capitalise = True
        elif c in "'’":
            capitalise = len(previous) == 1  # D'AUBRAY → D'Aubray, but BRIGHT'S → Bright's
        else:
            capitalise = False
        previous = previous + c if c.isalpha() else ""
    return "".join(out)


def recase_headwords(text: str) -> str:
    """(lossy) The ALL-CAPS headword opening the article → title case (``BREST, a`` → ``Brest, a``)."""
    first_line, newline, rest = text.partition("\n")
    words = first_line.split(" ")
    recased, letters = [], 0
    for i, word in enumerate(words):
        has_lower = any(c.islower() for c in word)
        if has_lower or word.startswith(("(", "[")) or not any(c.isalpha() for c in word):
            break
        letters += sum(c.isalpha() for c in word)
        recased.append(_title_case_word(word, first=not recased))
    if letters < 2:
        return text
    return " ".join(recased + words[len(recased):]) + newline + rest


RULES: tuple[CleanRule, ...] = (
    CleanRule("unicode", normalise_unicode),
    CleanRule("markup", remove_markup),
    CleanRule("page_markers", remove_page_markers),
    CleanRule("footnote_markers", remove_footnote_markers),
    CleanRule("editorial_brackets", resolve_editorial_brackets),
    CleanRule("sub_superscripts", resolve_sub_superscripts),
    CleanRule("hyphenation", join_hyphenated_words),
    CleanRule("quotes", normalise_quotes),
    CleanRule("dashes", normalise_dashes),
    CleanRule("strip_accents", strip_accents, lossy=True),
    CleanRule("recase_headwords", recase_headwords, lossy=True),
    CleanRule("whitespace", normalise_whitespace),
)
"""Every rule, in the order they are applied."""

RULE_NAMES = tuple(rule.name for rule in RULES)
LOSSY_RULE_NAMES = tuple(rule.name for rule in RULES if rule.lossy)


def select_rules(*, strip_accents: bool = False, recase_headwords: bool = False,
                 hyphenation: CleanRule | None = None) -> tuple[CleanRule, ...]:
    """The lossless rules plus the lossy ones switched on; returns them in application order.

    ``hyphenation`` replaces the default hyphenation rule (e.g. one deciding from corpus evidence,
    :func:`hyphenation_rule`).
    """
    wanted = {"strip_accents": strip_accents, "recase_headwords": recase_headwords}
    rules = tuple(rule for rule in RULES if not rule.lossy or wanted[rule.name])
    if hyphenation is not None:
        rules = tuple(hyphenation if rule.name == "hyphenation" else rule for rule in rules)
    return rules
