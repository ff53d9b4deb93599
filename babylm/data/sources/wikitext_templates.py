"""EB1911 Wikisource templates rendered to text: ``{{sc|Abbot}}`` → ``Abbot``, ``{{lb|200}}`` → ``200 lb``.

Pure functions, no I/O; rule 2 of :mod:`babylm.data.sources.wikitext_render`. :func:`render_templates` renders
every ``{{…}}`` innermost first through :data:`TEMPLATES`:

* **text-bearing** templates render to their text (``{{sc|…}}``, ``{{EB1911 lkpl|abbot}}`` → ``abbot``,
  ``{{Greek|βίος}}``, ``{{EB1911 tfrac|3|8}}`` → ``3/8``, ``{{sup|3}}`` → ``³`` — digits as superscript
  digits, the form the Gutenberg path writes);
* **layout and furniture** render to nothing: running heads, spacing, rules, anchors, the article header
  ``{{EB1911|…}}``, ``{{DEFAULTSORT:…}}``;
* **margin headings** (``{{EB1911 Shoulder Heading…}}`` in every variant — any name with ``shoulder`` or
  ``sidenote``) and **figures** (``{{img float|…}}``…) render to nothing, and their words are counted in
  ``removed`` as ``sidenote`` / ``caption`` (a margin heading is never spliced into the sentence it sits in);
* an **unknown** template never silently eats its text: it renders to its positional arguments (sizes and
  CSS values such as ``90%`` or ``2em`` left out) and its name is counted in ``unknown``, so a user sees
  what to add. Parser functions (``{{#if:…}}``) are logic, not text: counted, rendered as nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Callable

from babylm.data.articles import Tally

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


_SUPERSCRIPT_DIGITS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def superscript(text: str) -> str:
    """Digits as superscript digits (``3`` → ``³``, ``10`` → ``¹⁰``); any other text unchanged."""
    stripped = text.strip()
    return stripped.translate(_SUPERSCRIPT_DIGITS) if stripped.isdigit() else stripped


def _superscript(args: list[str], named: dict[str, str]) -> str:
    return superscript(args[0]) if args else ""


_TEXT_OF_FIRST_ARG = (
    "sc", "asc", "csc", "small-caps", "smallcaps", "uc", "lc", "greek", "polytonic", "hebrew", "nowrap",
    "center", "c", "block center", "larger", "x-larger", "xx-larger", "smaller", "small", "sm", "big",
    "sans-serif", "serif", "fine block", "eb1911 fine print", "sub", "dropinitial", "float right",
    "float left", "hi", "hanging indent", "abbr", "sic", "u", "i", "b", "nobr", "left", "right",
    "eb1911 article link", "eb9 article link", "fqm", "tooltip", "overline", "underline",
)
_TEXT_OF_LAST_ARG = ("fs", "font-size", "font-stretch", "lang", "color", "colour", "sc2")
_DROPPED_TEMPLATES = (
    # running heads and page furniture
    "eb1911 page heading", "rh", "runningheader", "running header", "eb1911 fine print/s",
    "eb1911 fine print/e", "eb1911 fine print/e", "bc/s", "bc/e", "nop", "nopt", "clear", "dhr", "rule",
    "smallrefs", "reflist", "ts", "anchor", "pagequality", "gap", "em", "brace", "brace2", "mirrorh",
    "hwe", "ref", "ne",
    # the article page's header and footer
    "eb1911", "header", "eb1911 header", "authority control", "eb1911 footer", "plain sister", "similar",
)
_FIGURE_TEMPLATES = ("img float", "css image crop", "figure", "fig", "overfloat image", "img", "float image")
_MARGIN_HEADING = re.compile(r"shoulder|side ?note|marginal note", re.I)
_MAGIC_WORDS = ("defaultsort", "defaultsortkey", "displaytitle")
_LAYOUT_VALUE = re.compile(r"[\d.]+\s*(?:%|em|px|ex|pt|rem)?|left|right|center|centre", re.I)  # fullmatch, stripped

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
    "lb": _pounds,
    "sup": _superscript,
    "sic": _arg(0),
}
"""Template name (lower case, single spaces) → renderer taking (positional args, named args)."""


MAX_TEMPLATE_DEPTH = 100
"""Templates nested deeper than this are dropped (counted as ``other`` in ``removed``): MediaWiki stops expanding
there too (``$wgMaxPPExpandDepth``, 100 since MediaWiki 1.38: mediawiki.org/wiki/Manual:$wgMaxPPExpandDepth). The
cap also keeps rendering linear in the text's length: a template's output is copied into each enclosing one."""

_BRACES = re.compile(r"\{\{|\}\}")
_ARGUMENT_MARKS = re.compile(r"\[\[|\]\]|\|")
_KEY = re.compile(r"[A-Za-z][\w\- ]*")


class _Frame:
    """An open ``{{`` while scanning: its arguments so far (pieces per argument) and its raw text (for when it is
    never closed). ``[[…]]`` depth is counted in its own text only, so a ``|`` inside a link does not split it."""

    __slots__ = ("args", "raw", "links")

    def __init__(self) -> None:
        self.args: list[list[str]] = [[]]
        self.raw: list[str] = []
        self.links = 0

    def add_text(self, text: str) -> None:
        """Add the template's own text (split at top-level ``|``)."""
        if not text:
            return
        self.raw.append(text)
        position = 0
        for mark in _ARGUMENT_MARKS.finditer(text):
            token = mark.group()
            if token == "[[":
                self.links += 1
            elif token == "]]":
                self.links = max(self.links - 1, 0)
            elif self.links == 0:
                self.args[-1].append(text[position: mark.start()])
                self.args.append([])
                position = mark.end()
        self.args[-1].append(text[position:])

    def add_output(self, text: str) -> None:
        """Add a nested template's rendered text (never split: a ``|`` it renders, as ``{{!}}`` does, is text)."""
        self.raw.append(text)
        self.args[-1].append(text)


def _split_args(pieces: list[str]) -> tuple[str, list[str], dict[str, str]]:
    """A template's arguments (``name``, then ``|``-separated) → (normalised name, positional, named)."""
    name = " ".join(pieces[0].replace("_", " ").split()).lower()
    positional: list[str] = []
    named: dict[str, str] = {}
    for piece in pieces[1:]:
        key, equals, value = piece.partition("=")
        key = key.strip()
        if equals and _KEY.fullmatch(key):
            named[key.lower()] = value
        else:
            positional.append(piece)
    return name, positional, named


def _is_layout_value(text: str) -> bool:
    return _LAYOUT_VALUE.fullmatch(text.strip()) is not None


def _render_one(pieces: list[str], unknown: Counter | None, removed: Tally | None) -> str:
    """One template (its argument strings) → its text, by :data:`TEMPLATES` or the rules for unknown ones."""
    name, positional, named = _split_args(pieces)
    renderer = TEMPLATES.get(name)
    if renderer is not None:
        return renderer(positional, named)
    if name.split(":", 1)[0] in _MAGIC_WORDS:
        return ""
    if _MARGIN_HEADING.search(name) or name in _FIGURE_TEMPLATES:
        if removed is not None:
            words = [a for a in positional if not _is_layout_value(a)]
            words += [v for k, v in named.items() if k in ("cap", "caption", "title")]
            removed.add("sidenote" if _MARGIN_HEADING.search(name) else "caption", " ".join(words))
        return ""
    if name.startswith("#"):
        if unknown is not None:
            unknown[name.split(":", 1)[0]] += 1
        return ""
    if unknown is not None:
        unknown[name] += 1
    return " ".join(a.strip() for a in positional if a.strip() and not _is_layout_value(a))


def render_templates(text: str, unknown: Counter | None = None, removed: Tally | None = None) -> str:
    """Render every ``{{template}}`` in ``text``, innermost first (see the module docstring); returns text.

    ``unknown`` (optional) counts the names of templates without a rule (rendered as their positional
    arguments); ``removed`` (optional) counts the margin headings and figures left out, with their words, and
    templates nested deeper than :data:`MAX_TEMPLATE_DEPTH` (``other``). One pass over the text, a stack of
    open templates: time and memory grow linearly with the text. An unmatched ``}}`` stays as text; a ``{{``
    never closed stays as text, with the templates inside it rendered.
    """
    root: list[str] = []
    frames: list[_Frame] = []
    position = 0
    too_deep, deep_start = 0, 0  # braces open beyond the cap, and where the dropped template began

    def add_text(piece: str) -> None:
        if frames:
            frames[-1].add_text(piece)
        elif piece:
            root.append(piece)

    for brace in _BRACES.finditer(text):
        if too_deep:
            too_deep += 1 if brace.group() == "{{" else -1
            if too_deep == 0:
                if removed is not None:
                    removed.add("other", text[deep_start: brace.end()])
                position = brace.end()
            continue
        add_text(text[position: brace.start()])
        position = brace.end()
        if brace.group() == "{{":
            if len(frames) >= MAX_TEMPLATE_DEPTH:
                too_deep, deep_start = 1, brace.start()
            else:
                frames.append(_Frame())
        elif not frames:
            root.append("}}")
        else:
            output = _render_one(["".join(parts) for parts in frames.pop().args], unknown, removed)
            if frames:
                frames[-1].add_output(output)
            else:
                root.append(output)
    add_text(text[deep_start:] if too_deep else text[position:])
    while frames:  # never closed: the braces stay as text
        literal = "{{" + "".join(frames.pop().raw)
        if frames:
            frames[-1].add_output(literal)
        else:
            root.append(literal)
    return "".join(root)
