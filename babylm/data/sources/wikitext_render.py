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
2. **Templates**, innermost first (:data:`TEMPLATES`): text-bearing ones render to their text
   (``{{sc|Abbot}}`` → ``Abbot``, ``{{EB1911 lkpl|abbot}}`` → ``abbot``, ``{{Greek|βίος}}`` → ``βίος``,
   ``{{EB1911 tfrac|3|8}}`` → ``3/8``); layout, running heads, side-notes, figures, numbered equations
   and footnote markers render to nothing. An unknown template renders to nothing and its name is
   counted in the ``unknown`` counter passed by the caller, so a user can see what to add.
3. **Wiki tables** (``{|`` … ``|}``) and **files/images** (``[[File:…]]``, ``[[Image:…]]``) are dropped;
   links ``[[target|text]]`` keep their text, external links ``[url text]`` keep their text.
4. **Emphasis** ``'''``/``''`` and the ``«B»``/``«I»`` markers of pre-assembled article files are removed.
5. **Remaining tags** are removed, their content kept (``<span>``, ``<sub>``, ``<poem>`` …; ``<br>`` is a
   line break); **entities** are decoded (``&nbsp;`` → space).
6. **Layout**: a single newline inside a paragraph is a space (wikitext semantics); poem lines and
   list/indent lines (``:``, ``*``, ``#``) become paragraphs of their own.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from typing import Callable

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
# 2. Templates.
# Innermost template: ``{{`` … ``}}`` with no ``{{`` or ``}}`` inside.
_INNERMOST_TEMPLATE = re.compile(r"\{\{((?:[^{}]|\{(?!\{)|\}(?!\}))*)\}\}")
_NAMED_ARG = re.compile(r"^\s*([A-Za-z][\w\- ]*?)\s*=(.*)$", re.S)

TemplateRenderer = Callable[[list[str], dict[str, str]], str]


def _arg(index: int, default: str = "") -> TemplateRenderer:
    """Renderer keeping positional argument ``index`` (0-based)."""
    return lambda args, named: args[index].strip() if len(args) > index else default


def _last_arg(args: list[str], named: dict[str, str]) -> str:
    return args[-1].strip() if args else ""


def _link(args: list[str], named: dict[str, str]) -> str:
    # {{EB1911 lkpl|target|display}}, {{1911link|target|display}}: the display text, else the target.
    shown = [a.strip() for a in args[:2] if a.strip()]
    return shown[-1] if shown else ""


def _fraction(args: list[str], named: dict[str, str]) -> str:
    # {{EB1911 tfrac|2}} = 1/2; {{EB1911 tfrac|3|8}} = 3/8; {{sfrac|1|3|8}} = 1 3/8.
    parts = [a.strip() for a in args if a.strip()]
    if len(parts) == 1:
        return f"1/{parts[0]}"
    if len(parts) == 2:
        return f"{parts[0]}/{parts[1]}"
    if len(parts) >= 3:
        return f"{parts[0]} {parts[1]}/{parts[2]}"
    return ""


def _footer_initials(args: list[str], named: dict[str, str]) -> str:
    # {{EB1911 footer initials|Full Name|A. B.}} (and the double form): the signature as printed, "(A. B.)".
    initials = [a.strip() for a in args[1::2] if a.strip()]
    initials += [v.strip() for k, v in sorted(named.items()) if k.startswith("initials") and v.strip()]
    return f"({'; '.join(initials)})" if initials else ""


def _nothing(args: list[str], named: dict[str, str]) -> str:
    return ""


def _pounds(args: list[str], named: dict[str, str]) -> str:
    return f"{args[0].strip()} lb" if args and args[0].strip() else "lb"


_TEXT_OF_FIRST_ARG = (
    "sc", "asc", "csc", "small-caps", "smallcaps", "uc", "lc", "greek", "polytonic", "hebrew", "nowrap",
    "center", "c", "block center", "larger", "x-larger", "xx-larger", "smaller", "small", "sm", "big",
    "sans-serif", "serif", "fine block", "eb1911 fine print", "sup", "sub", "dropinitial", "float right",
    "float left", "hi", "hanging indent", "abbr", "sic", "u", "i", "b", "nobr", "left", "right",
    "eb1911 article link", "eb9 article link", "fqm", "tooltip", "overline", "underline",
)
_TEXT_OF_LAST_ARG = ("fs", "font-size", "font-stretch", "lang", "color", "colour", "sc2")
_DROPPED_TEMPLATES = (
    # running heads and page furniture
    "eb1911 page heading", "rh", "runningheader", "running header", "eb1911 fine print/s",
    "eb1911 fine print/e", "eb1911 fine print/e", "bc/s", "bc/e", "nop", "nopt", "clear", "dhr", "rule",
    "smallrefs", "reflist", "ts", "anchor", "pagequality", "gap", "em", "brace", "brace2", "mirrorh",
    "hwe", "ref", "ne", "img float", "css image crop", "figure", "fig", "overfloat image", "img",
    # side-notes (marginal headings); dropped like the Gutenberg [Sidenote: …] blocks
    "eb1911 shoulder heading", "eb1911 shoulder headingsmall", "eb1911 shoulder headingsmall2",
    "eb1911 shoulder headingfine", "eb1911 shoulder headinglarge", "shoulder heading",
)

TEMPLATES: dict[str, TemplateRenderer] = {
    **{name: _arg(0) for name in _TEXT_OF_FIRST_ARG},
    **{name: _last_arg for name in _TEXT_OF_LAST_ARG},
    **{name: _nothing for name in _DROPPED_TEMPLATES},
    "eb1911 lkpl": _link,
    "1911link": _link,
    "eb1911 link": _link,
    "w": _link,
    "eb1911 tfrac": _fraction,
    "sfrac": _fraction,
    "frac": _fraction,
    "eb1911 footer initials": _footer_initials,
    "eb1911 footer double initials": _footer_initials,
    "hws": _arg(1),  # hyphenated word start: the whole word; its end half ({{hwe}}) renders to nothing
    "dual line": lambda args, named: " ".join(a.strip() for a in args if a.strip()),
    "ditto": lambda args, named: '"',
    "...": lambda args, named: "…",
    "–": lambda args, named: "–",
    "—": lambda args, named: "—",
    "=": lambda args, named: "=",
    "!": lambda args, named: "|",
    "bar": lambda args, named: "—",
    "shy": _nothing,
    "lb-": _pounds,
    "sic": _arg(0),
}
"""Template name (lower case, single spaces) → renderer taking (positional args, named args)."""


def _split_args(inner: str) -> tuple[str, list[str], dict[str, str]]:
    """Split a template body at top-level ``|`` (not inside ``[[…]]``); returns name, positional, named."""
    pieces, depth, start, i = [], 0, 0, 0
    while i < len(inner):
        if inner.startswith("[[", i):
            depth, i = depth + 1, i + 2
            continue
        if inner.startswith("]]", i) and depth:
            depth, i = depth - 1, i + 2
            continue
        if inner[i] == "|" and depth == 0:
            pieces.append(inner[start:i])
            start = i + 1
        i += 1
    pieces.append(inner[start:])
    name = " ".join(pieces[0].replace("_", " ").split()).lower()
    positional: list[str] = []
    named: dict[str, str] = {}
    for piece in pieces[1:]:
        match = _NAMED_ARG.match(piece)
        if match:
            named[match.group(1).strip().lower()] = match.group(2)
        else:
            positional.append(piece)
    return name, positional, named


def render_templates(text: str, unknown: Counter | None = None) -> str:
    """Render every ``{{template}}`` in ``text``, innermost first (see :data:`TEMPLATES`); returns text.

    Unknown templates render to nothing; their names are counted in ``unknown`` when given.
    """

    def render(match: re.Match) -> str:
        name, positional, named = _split_args(match.group(1))
        renderer = TEMPLATES.get(name)
        if renderer is None:
            if unknown is not None:
                unknown[name] += 1
            return ""
        return renderer(positional, named)

    while True:
        rendered = _INNERMOST_TEMPLATE.sub(render, text)
        if rendered == text:
            return rendered
        text = rendered


# ---------------------------------------------------------------------------------------------------------
# 3. Tables, files, links.
_FILE_LINK_START = re.compile(r"\[\[\s*(?:File|Image|Media|Datei|Bild)\s*:", re.I)
_WIKI_LINK = re.compile(r"\[\[([^\[\]|]*)(?:\|([^\[\]]*))?\]\]")
_EXTERNAL_LINK = re.compile(r"\[(?:https?:)?//[^\s\]]+(?:\s+([^\]]*))?\]")
_TABLE_OPEN = re.compile(r"^[ \t:]*\{\|", re.M)


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


def drop_wiki_tables(text: str) -> str:
    """Remove wiki tables (``{|`` at a line start … matching ``|}``), nested ones included; returns text."""
    while True:
        start_match = _TABLE_OPEN.search(text)
        if not start_match:
            return text
        end = _balanced_end(text, start_match.start(), "{|", "|}")
        text = text[: start_match.start()] + "\n" + text[end:]


def drop_html_tables(text: str) -> str:
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
        text = text[: start_match.start()] + "\n" + text[end:]


def drop_file_links(text: str) -> str:
    """Remove ``[[File:…]]``/``[[Image:…]]`` (captions with nested links included); returns text."""
    while True:
        start_match = _FILE_LINK_START.search(text)
        if not start_match:
            return text
        end = _balanced_end(text, start_match.start(), "[[", "]]")
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


def strip_markup(text: str, unknown: Counter | None = None) -> str:
    """Rules 1–5 of the module docstring on ``text``; keeps newlines as they are; returns text."""
    text = _COMMENT.sub("", text)
    text = _MATH.sub(render_math, text)
    text = _DROPPED_PAIR.sub("", text)
    text = _DROPPED_SELF_CLOSING.sub("", text)
    text = _DROPPED_STRAY.sub("", text)
    text = drop_html_tables(text)
    text = render_templates(text, unknown)
    text = drop_wiki_tables(text)
    text = drop_file_links(text)
    text = render_links(text)
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


def render_wikitext(text: str, unknown: Counter | None = None) -> str:
    """Render EB1911 wikitext to plain paragraphs separated by blank lines; returns the text.

    ``unknown`` (optional) counts the names of templates with no rule in :data:`TEMPLATES`.
    """
    return layout_paragraphs(strip_markup(text, unknown))
