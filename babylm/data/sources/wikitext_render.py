"""Render EB1911 Wikisource wikitext to plain prose.

Pure functions, no I/O. :func:`render_wikitext` turns the wikitext of one article (or one page section)
into paragraphs of plain text separated by blank lines. Used by the Wikisource ingest
(``babylm.data.sources.wikitext``) and, as a safety net for markup that reaches the corpus some other way,
by the cleaner's ``markup`` rule (``babylm.data.text.clean``).

Rules, applied in this order (each documented where it is defined):

1. **Dropped with their content**: HTML comments, ``<noinclude>`` (page headers and footers),
   ``<math>`` (formulas never enter the prose; only a bare symbol such as ``<math>P</math>`` or
   ``<math>x_1</math>`` is kept, as ``P`` / ``x1``, so that "at any point P" still reads), ``<ref>``
   footnotes, ``<score>``, ``<timeline>``, ``<gallery>``, ``<table>`` (HTML tables).
2. **Templates**, innermost first (:mod:`babylm.data.sources.wikitext_templates`): text-bearing ones render
   to their text (``{{sc|Abbot}}`` → ``Abbot``, ``{{EB1911 lkpl|abbot}}`` → ``abbot``, ``{{Greek|βίος}}`` →
   ``βίος``, ``{{EB1911 tfrac|3|8}}`` → ``3/8``, ``{{lb|200}}`` → ``200 lb``); layout, running heads,
   margin headings, figures, numbered equations and footnote markers render to nothing. An unknown
   template renders to its positional arguments (never silently to nothing) and its name is counted in
   the ``unknown`` counter passed by the caller, so a user can see what to add.
3. **Wiki tables** (``{|`` … ``|}``), **files/images** (``[[File:…]]``, ``[[Image:…]]``) and **category
   links** (``[[Category:…]]``) are dropped; links ``[[target|text]]`` keep their text, external links
   ``[url text]`` keep their text.
4. **Emphasis** ``'''``/``''`` and the ``«B»``/``«I»`` markers of pre-assembled article files are removed.
5. **Superscripts** of digits become superscript digits (``10<sup>3</sup>`` → ``10³``, never ``103``; as
   the Gutenberg path writes ``x^{2}``), other ``<sup>``/``<sub>`` keep their text (``H<sub>2</sub>O`` →
   ``H2O``). **Remaining tags** are removed, their content kept (``<span>``, ``<poem>`` …; ``<br>`` is a
   line break); **entities** are decoded (``&nbsp;`` → space).

What rules 1–3 leave out can be counted, with its words, in a :class:`babylm.data.articles.Tally` passed
as ``removed``: ``footnote``, ``formula``, ``table``, ``caption`` (files and figures), ``sidenote`` (margin
headings), ``other`` (scores, timelines, galleries).
6. **Layout**: a single newline inside a paragraph is a space (wikitext semantics); poem lines and
   list/indent lines (``:``, ``*``, ``#``) become paragraphs of their own.
"""

from __future__ import annotations

import html
import re
from collections import Counter

from babylm.data.articles import Tally
from babylm.data.sources.wikitext_templates import TEMPLATES, render_templates, superscript

__all__ = ["TEMPLATES", "render_templates", "render_math", "strip_markup", "layout_paragraphs", "render_wikitext"]

# ---------------------------------------------------------------------------------------------------------
# 1. Elements dropped with their content.
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_DROPPED_ELEMENTS = ("noinclude", "math", "ref", "score", "timeline", "gallery", "chem", "hiero")
_DROPPED_PAIR = re.compile(
    r"<(%s)(?:\s[^<>]*)?(?<!/)>.*?(?:</\1\s*>|\Z)" % "|".join(_DROPPED_ELEMENTS), re.S | re.I
)
_DROPPED_SELF_CLOSING = re.compile(r"<(?:%s|references|pagequality|section)\b[^<>]*/\s*>" % "|".join(_DROPPED_ELEMENTS), re.I)
_DROPPED_STRAY = re.compile(r"</?(?:%s|references)\b[^<>]*>" % "|".join(_DROPPED_ELEMENTS), re.I)
# <math> that is only a symbol or a short list of symbols (P, \\mathrm{O}, \\tau, q_{1}, x, y, z) is kept
# as text; anything else is a formula and is dropped.
_MATH = re.compile(r"<math\b[^<>]*>(.*?)</math\s*>", re.S | re.I)
_MATH_SPACING = re.compile(r"\\[!,;: ]|\\(?:quad|qquad)\b")
_MATH_FONT = re.compile(r"\\(?:mathrm|mathit|mathbf|mathfrak|mathsf|mathcal|text|rm|it)\s*\{([^{}]*)\}")
_MATH_SUBSCRIPT = re.compile(r"_\{?([0-9A-Za-z])\}?")
_GREEK_LETTERS = dict(zip(
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau upsilon phi "
    "chi psi omega".split(), "αβγδεζηθικλμνξπρστυφχψω"))
_GREEK_LETTERS.update({name.capitalize(): letter.upper() for name, letter in _GREEK_LETTERS.items()})
_MATH_GREEK = re.compile(r"\\(%s)\b" % "|".join(_GREEK_LETTERS))
_SIMPLE_SYMBOLS = re.compile(r"[A-Za-z\u0370-\u03ff0-9']{1,3}(?:, ?[A-Za-z\u0370-\u03ff0-9']{1,3}){0,3}")


def render_math(match: re.Match) -> str:
    """``<math>`` → its symbols when it is only a symbol or a short list of them, else nothing."""
    body = _MATH_SPACING.sub("", match.group(1))
    body = _MATH_FONT.sub(r"\1", body)
    body = _MATH_GREEK.sub(lambda m: _GREEK_LETTERS[m.group(1)], body)
    body = _MATH_SUBSCRIPT.sub(r"\1", body).strip()
    return body if _SIMPLE_SYMBOLS.fullmatch(body) else ""


_HTML_TABLE_OPEN = re.compile(r"<table\b[^<>]*>", re.I)
_HTML_TABLE_TAG = re.compile(r"<(/?)table\b[^<>]*>", re.I)

# ---------------------------------------------------------------------------------------------------------
# 3. Tables, files, links.
_FILE_LINK_START = re.compile(r"\[\[\s*(?:File|Image|Media|Datei|Bild)\s*:", re.I)
_WIKI_LINK = re.compile(r"\[\[([^\[\]|]*)(?:\|([^\[\]]*))?\]\]")
_EXTERNAL_LINK = re.compile(r"\[(?:https?:)?//[^\s\]]+(?:\s+([^\]]*))?\]")
_TABLE_OPEN = re.compile(r"^[ \t:]*\{\|", re.M)
_CATEGORY_LINK = re.compile(r"\[\[\s*Category\s*:[^\[\]]*\]\]", re.I)


def _balanced_end(text: str, start: int, opener: str, closer: str) -> int:
    """Index just past the ``closer`` that balances the ``opener`` at ``start`` (nesting counted); ``len(text)``
    when it is never closed."""
    depth, i = 0, start
    while i < len(text):
        if text.startswith(opener, i):
            depth, i = depth + 1, i + len(opener)
        elif text.startswith(closer, i):
            depth, i = depth - 1, i + len(closer)
            if depth == 0:
                return i
        else:
            i += 1
    return len(text)


def drop_wiki_tables(text: str, removed: Tally | None = None) -> str:
    """Remove wiki tables (``{|`` at a line start … matching ``|}``), nested ones included; returns text."""
    while True:
        start_match = _TABLE_OPEN.search(text)
        if not start_match:
            return text
        end = _balanced_end(text, start_match.start(), "{|", "|}")
        if removed is not None:
            removed.add("table", re.sub(r"[|!{}]+|\b\w+=\S+", " ", text[start_match.start(): end]))
        text = text[: start_match.start()] + "\n" + text[end:]


def drop_html_tables(text: str, removed: Tally | None = None) -> str:
    """Remove ``<table>`` … ``</table>`` elements with their content (nesting respected); returns text."""
    while True:
        start_match = _HTML_TABLE_OPEN.search(text)
        if not start_match:
            return text
        depth, end = 0, len(text)
        for tag in _HTML_TABLE_TAG.finditer(text, start_match.start()):
            depth += -1 if tag.group(1) else 1
            if depth == 0:
                end = tag.end()
                break
        if removed is not None:
            removed.add("table", _ANY_TAG.sub(" ", text[start_match.start(): end]))
        text = text[: start_match.start()] + "\n" + text[end:]


def drop_file_links(text: str, removed: Tally | None = None) -> str:
    """Remove ``[[File:…]]``/``[[Image:…]]`` (captions with nested links included) and ``[[Category:…]]``
    links; returns text."""
    text = _CATEGORY_LINK.sub("", text)
    while True:
        start_match = _FILE_LINK_START.search(text)
        if not start_match:
            return text
        end = _balanced_end(text, start_match.start(), "[[", "]]")
        if removed is not None:
            removed.add("caption", text[start_match.start(): end].split("|")[-1].rstrip("]"))
        text = text[: start_match.start()] + text[end:]


def render_links(text: str) -> str:
    """``[[target|text]]`` → text, ``[[target]]`` → target, ``[url text]`` → text; returns text."""
    while True:
        rendered = _WIKI_LINK.sub(lambda m: m.group(2) if m.group(2) is not None else m.group(1), text)
        rendered = _EXTERNAL_LINK.sub(lambda m: m.group(1) or "", rendered)
        if rendered == text:
            return rendered
        text = rendered


# ---------------------------------------------------------------------------------------------------------
# 4.–6. Emphasis, tags, entities, layout.
_EMPHASIS = re.compile(r"'{2,5}")
_FOREIGN_MARKERS = re.compile(r"«/?[BI]»")
_BREAK_TAG = re.compile(r"<br\s*/?\s*>", re.I)
_POEM = re.compile(r"<poem\b[^<>]*>(.*?)(?:</poem\s*>|\Z)", re.S | re.I)
# Tags MediaWiki (and HTML) would interpret; anything else between < and > is text, as on the wiki.
HTML_TAG_NAMES = (
    "a abbr b big blockquote br caption center cite code dd del div dl dt em font h1 h2 h3 h4 h5 h6 hr i "
    "img includeonly ins kbd li nowiki ol onlyinclude p pagequality poem pre q s samp section small span "
    "strike strong sub sup table tbody td templatestyles tfoot th thead tr tt u ul var wbr"
).split()
_ANY_TAG = re.compile(r"</?(?:%s)(?:\s[^<>]*)?/?>" % "|".join(HTML_TAG_NAMES), re.I)
_LIST_MARKER = re.compile(r"^[ \t]*[:*#;]+[ \t]*", re.M)
_HEADING = re.compile(r"^[ \t]*(=+)[ \t]*(.*?)[ \t]*\1[ \t]*$", re.M)
_MAGIC_WORD = re.compile(r"__[A-Z]+__")


_SUPERSCRIPT_TAG = re.compile(r"<sup\b[^<>]*>([^<>]*)</sup\s*>", re.I)
_REMOVED_KIND = {"ref": "footnote", "math": "formula", "noinclude": ""}


def strip_markup(text: str, unknown: Counter | None = None, removed: Tally | None = None) -> str:
    """Rules 1–5 of the module docstring on ``text``; keeps newlines as they are; returns text.

    ``unknown`` counts templates without a rule; ``removed`` what rules 1–3 leave out (both optional).
    """
    tally = removed if removed is not None else Tally()
    text = _COMMENT.sub("", text)

    def math(match: re.Match) -> str:
        kept = render_math(match)
        if not kept:
            tally.add("formula", match.group(1))
        return kept

    def dropped(match: re.Match) -> str:
        kind = _REMOVED_KIND.get(match.group(1).lower(), "other")
        if kind:
            tally.add(kind, _ANY_TAG.sub(" ", match.group(0)))
        return ""

    text = _MATH.sub(math, text)
    text = _DROPPED_PAIR.sub(dropped, text)
    text = _DROPPED_SELF_CLOSING.sub("", text)
    text = _DROPPED_STRAY.sub("", text)
    text = drop_html_tables(text, tally)
    text = render_templates(text, unknown, tally)
    text = drop_wiki_tables(text, tally)
    text = drop_file_links(text, tally)
    text = render_links(text)
    text = _SUPERSCRIPT_TAG.sub(lambda m: superscript(m.group(1)) if m.group(1).strip().isdigit() else m.group(1), text)
    text = _MAGIC_WORD.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = _FOREIGN_MARKERS.sub("", text)
    # Poem lines are lines of verse: each becomes its own paragraph.
    text = _POEM.sub(lambda m: "\n\n" + re.sub(r"\n+", "\n\n", m.group(1).strip()) + "\n\n", text)
    text = _BREAK_TAG.sub("\n", text)
    text = _ANY_TAG.sub("", text)
    text = html.unescape(text)
    return text


def layout_paragraphs(text: str) -> str:
    """Join the lines of each paragraph with spaces (rule 6); returns paragraphs separated by blank lines."""
    text = _HEADING.sub(lambda m: "\n\n" + m.group(2) + "\n\n", text)
    text = _LIST_MARKER.sub("\n\n", text)
    paragraphs = []
    for block in re.split(r"\n[ \t\xa0]*\n", text):
        joined = " ".join(block.split())
        if joined:
            paragraphs.append(joined)
    return "\n\n".join(paragraphs)


def render_wikitext(text: str, unknown: Counter | None = None, removed: Tally | None = None) -> str:
    """Render EB1911 wikitext to plain paragraphs separated by blank lines; returns the text.

    ``unknown`` (optional) counts the names of templates with no rule in :data:`TEMPLATES`; ``removed``
    (optional) counts what was left out, by kind, with its words.
    """
    return layout_paragraphs(strip_markup(text, unknown, removed))
