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
_DROPPED_SELF_CLOSING = re.compile(
    r"<(?:%s|references|pagequality|section)\b[^<>]*/\s*>" % "|".join(_DROPPED_ELEMENTS), re.I
)
_DROPPED_STRAY = re.compile(r"</?(?:%s|references)\b[^<>]*>" % "|".join(_DROPPED_ELEMENTS), re.I)
# <math> that is only a symbol or a short list of symbols (P, \\mathrm{O}, \\tau, q_{1}, x, y, z) is kept
# as text; anything else is a formula and is dropped.
_MATH_TAG = re.compile(r"<math\b[^<>]*>|</math\s*>", re.I)
_MATH_SPACING = re.compile(r"\\[!,;: ]|\\(?:quad|qquad)\b")
_MATH_FONT = re.compile(r"\\(?:mathrm|mathit|mathbf|mathfrak|mathsf|mathcal|text|rm|it)\s*\{([^{}]*)\}")
_MATH_SUBSCRIPT = re.compile(r"_\{?([0-9A-Za-z])\}?")
_GREEK_LETTERS = dict(zip(
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau upsilon phi "
    "chi psi omega".split(), "αβγδεζηθικλμνξπρστυφχψω"))
_GREEK_LETTERS.update({name.capitalize(): letter.upper() for name, letter in _GREEK_LETTERS.items()})
_MATH_GREEK = re.compile(r"\\(%s)\b" % "|".join(_GREEK_LETTERS))
_SIMPLE_SYMBOLS = re.compile(r"[A-Za-z\u0370-\u03ff0-9']{1,3}(?:, ?[A-Za-z\u0370-\u03ff0-9']{1,3}){0,3}")


def render_math(body: str) -> str:
    """The body of a ``<math>`` element → its symbols when it is only a symbol or a short list of them, else ``""``."""
    body = _MATH_SPACING.sub("", body)
    body = _MATH_FONT.sub(r"\1", body)
    body = _MATH_GREEK.sub(lambda m: _GREEK_LETTERS[m.group(1)], body)
    body = _MATH_SUBSCRIPT.sub(r"\1", body).strip()
    return body if _SIMPLE_SYMBOLS.fullmatch(body) else ""


def replace_math(text: str, replace) -> str:
    """Every closed ``<math>…</math>`` element → ``replace(body)``, in one pass (an element runs from its opening
    tag to the first closing tag after it); an unclosed ``<math>`` is left for rule 1 to drop to the end."""
    pieces, position, opened = [], 0, None
    for tag in _MATH_TAG.finditer(text):
        closing = tag.group().startswith("</")
        if opened is None and not closing:
            opened = tag
        elif opened is not None and closing:
            pieces += [text[position: opened.start()], replace(text[opened.end(): tag.start()])]
            position, opened = tag.end(), None
    pieces.append(text[position:])
    return "".join(pieces)


_HTML_TABLE_OPEN = re.compile(r"<table\b[^<>]*>", re.I)
_HTML_TABLE_TAG = re.compile(r"<(/?)table\b[^<>]*>", re.I)

# ---------------------------------------------------------------------------------------------------------
# 3. Tables, files, links.
_FILE_LINK_START = re.compile(r"\[\[\s*(?:File|Image|Media|Datei|Bild)\s*:", re.I)
# No brackets inside, and one space before the text: each attempt stops at the next bracket (linear).
_EXTERNAL_LINK = re.compile(r"\[(?:https?:)?//[^\s\[\]]+(?:\s([^\[\]]*))?\]")
_TABLE_OPEN = re.compile(r"^[ \t:]*\{\|", re.M)
_CATEGORY_LINK = re.compile(r"\[\[\s*Category\s*:[^\[\]]*\]\]", re.I)


_BALANCE_TOKENS = {opener: re.compile(re.escape(opener) + "|" + re.escape(closer))
                   for opener, closer in (("{|", "|}"), ("[[", "]]"))}


def _balanced_end(text: str, start: int, opener: str) -> int:
    """Index just past the closer (``|}`` or ``]]``) that balances the ``opener`` (``{|`` or ``[[``) at ``start``,
    nesting counted; ``len(text)`` when it is never closed."""
    depth = 0
    for token in _BALANCE_TOKENS[opener].finditer(text, start):
        depth += 1 if token.group() == opener else -1
        if depth == 0:
            return token.end()
    return len(text)


def _drop_spans(text: str, find_start, find_end, replacement: str, on_drop) -> str:
    """Remove the spans ``find_start(text, position)`` → match, ``find_end(text, match)`` → end index finds, in
    one left-to-right pass (each span replaced by ``replacement``; ``on_drop(span text)`` sees each); returns text.

    The search resumes where the last span ended, so the work is linear in the text's length (removing spans
    one at a time from the start, re-searching the whole text each time, was quadratic in their number)."""
    pieces, position = [], 0
    while (start_match := find_start(text, position)) is not None:
        end = max(find_end(text, start_match), start_match.end())
        pieces += [text[position: start_match.start()], replacement]
        on_drop(text[start_match.start(): end])
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


_TABLE_OPEN_HERE = re.compile(r"[ \t:]*\{\|")


def _table_start(text: str, position: int) -> re.Match | None:
    # A table closed by "|}" and opened again on the same line counts as at a line start (as when the first is cut).
    if position:
        here = _TABLE_OPEN_HERE.match(text, position)
        if here is not None:
            return here
    return _TABLE_OPEN.search(text, position)


def drop_wiki_tables(text: str, removed: Tally | None = None) -> str:
    """Remove wiki tables (``{|`` at a line start … matching ``|}``), nested ones included; returns text."""
    tally = removed if removed is not None else Tally()
    return _drop_spans(text, _table_start, lambda t, m: _balanced_end(t, m.start(), "{|"), "\n",
                       lambda span: tally.add("table", re.sub(r"[|!{}]+|\b\w+=\S+", " ", span)))


def _html_table_end(text: str, start_match: re.Match) -> int:
    depth = 0
    for tag in _HTML_TABLE_TAG.finditer(text, start_match.start()):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            return tag.end()
    return len(text)


def drop_html_tables(text: str, removed: Tally | None = None) -> str:
    """Remove ``<table>`` … ``</table>`` elements with their content (nesting respected); returns text."""
    tally = removed if removed is not None else Tally()
    return _drop_spans(text, lambda t, position: _HTML_TABLE_OPEN.search(t, position), _html_table_end, "\n",
                       lambda span: tally.add("table", _ANY_TAG.sub(" ", span)))


def drop_file_links(text: str, removed: Tally | None = None) -> str:
    """Remove ``[[File:…]]``/``[[Image:…]]`` (captions with nested links included) and ``[[Category:…]]``
    links; returns text."""
    tally = removed if removed is not None else Tally()
    return _drop_spans(_CATEGORY_LINK.sub("", text), lambda t, position: _FILE_LINK_START.search(t, position),
                       lambda t, m: _balanced_end(t, m.start(), "[["), "",
                       lambda span: tally.add("caption", span.split("|")[-1].rstrip("]")))


MAX_LINK_DEPTH = 100
"""Links nested deeper than this inside each other keep their innermost text only (no wiki nests them at all);
the cap keeps :func:`render_links` linear, as :data:`~babylm.data.sources.wikitext_templates.MAX_TEMPLATE_DEPTH`
does for templates."""
_LINK_BRACKETS = re.compile(r"\[\[|\]\]")


def _render_wiki_links(text: str) -> str:
    """``[[target|text]]`` → text, ``[[target]]`` → target, innermost first, in one pass with a stack of open
    links; an unmatched ``[[`` or ``]]``, and brackets nested deeper than :data:`MAX_LINK_DEPTH`, stay as text."""
    root: list[str] = []
    stack: list[list[str]] = []
    position, too_deep = 0, 0
    for bracket in _LINK_BRACKETS.finditer(text):
        current = stack[-1] if stack else root
        current.append(text[position: bracket.start()])
        position = bracket.end()
        opening = bracket.group() == "[["
        if too_deep or (opening and len(stack) >= MAX_LINK_DEPTH):
            too_deep += 1 if opening else -1
            current.append(bracket.group())
        elif opening:
            stack.append([])
        elif stack:
            target, bar, shown = "".join(stack.pop()).partition("|")
            (stack[-1] if stack else root).append(shown if bar else target)
        else:
            root.append("]]")
    (stack[-1] if stack else root).append(text[position:])
    while stack:  # never closed: the brackets stay as text
        literal = "[[" + "".join(stack.pop())
        (stack[-1] if stack else root).append(literal)
    return "".join(root)


def render_links(text: str) -> str:
    """``[[target|text]]`` → text, ``[[target]]`` → target, ``[url text]`` → text; returns text.

    External links first, then wiki links (nested ones innermost first), then the external links that
    rendering wiki links revealed (``[http://x [[a|b]]]`` → ``b``). Linear in the text's length."""
    external = lambda m: m.group(1).lstrip() if m.group(1) else ""  # noqa: E731
    text = _EXTERNAL_LINK.sub(external, text)
    return _EXTERNAL_LINK.sub(external, _render_wiki_links(text))


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
_HEADING_LINE = re.compile(r"^[ \t]*=[^\n]*", re.M)


def _heading(match: re.Match) -> str:
    """``== Title ==`` → the title as a paragraph of its own (the level is the shorter run of ``=``); any other line
    starting with ``=`` unchanged. Plain string operations: a regex with a lazy title and a back-reference took
    time quadratic in a long line's length."""
    line = match.group().strip(" \t")
    level = min(len(line) - len(line.lstrip("=")), len(line) - len(line.rstrip("=")), len(line) // 2)
    if level < 1:
        return match.group()
    return "\n\n" + line[level: len(line) - level].strip(" \t") + "\n\n"
_MAGIC_WORD = re.compile(r"__[A-Z]+__")


_SUPERSCRIPT_TAG = re.compile(r"<sup\b[^<>]*>([^<>]*)</sup\s*>", re.I)
_REMOVED_KIND = {"ref": "footnote", "math": "formula", "noinclude": ""}


def strip_markup(text: str, unknown: Counter | None = None, removed: Tally | None = None) -> str:
    """Rules 1–5 of the module docstring on ``text``; keeps newlines as they are; returns text.

    ``unknown`` counts templates without a rule; ``removed`` what rules 1–3 leave out (both optional).
    """
    tally = removed if removed is not None else Tally()
    text = _COMMENT.sub("", text)

    def math(body: str) -> str:
        kept = render_math(body)
        if not kept:
            tally.add("formula", body)
        return kept

    def dropped(match: re.Match) -> str:
        kind = _REMOVED_KIND.get(match.group(1).lower(), "other")
        if kind:
            tally.add(kind, _ANY_TAG.sub(" ", match.group(0)))
        return ""

    text = replace_math(text, math)
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
    text = _HEADING_LINE.sub(_heading, text)
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
