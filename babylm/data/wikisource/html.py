"""Article prose from the HTML that MediaWiki's ``action=parse`` returns for a Wikisource page.

:func:`extract_prose` keeps the article's text and drops everything a reader of the printed page would
not read as part of the article: the Wikisource header and navigation (``ws-noexport``, ``wst-header``,
``#headerContainer``…), the licence box (``licenseContainer``, ``licenseBanner``, ``licensetpl``, as in
Wikimedia's ws-export), hidden metadata, ``<style>``/``<script>``, ProofreadPage's page-number anchors
(``ws-pagenum``), footnote markers (``sup.reference``) and the footnote list itself, edit links, tables
(data tables flatten into noise), images and their captions, and marginal side-notes — EB1911's
**shoulder headings** (``{{EB1911 Shoulder Heading…}}``), which sit in the margin beside a sentence and
would otherwise be spliced into it (``all the Santa Laura, Mount Athos.necessary edifices``). They are
recognised by a class naming them (any class containing ``shoulder``, ``sidenote`` or ``marginnote``) or,
whatever their class, as a floated or absolutely positioned element holding three characters or more with
running text after it in the same block (a drop initial has one letter; a floated signature ends its
paragraph, so both stay). They are dropped, never turned into a paragraph of their own: the text after a
dropped heading continues the paragraph before it, even where the HTML parser closed a ``<p>`` at a
``<div>`` heading; a heading standing between two ``<p>`` blocks joins them unless the first ends a sentence
and the second starts with a capital (then it was a paragraph break). Formulae become
their TeX source. Block elements (paragraphs, headings, list items, ``<div>``s) become paragraphs,
separated by one blank line; whitespace inside a paragraph is collapsed; ``<br>`` becomes a line break.

:func:`looks_truncated` tells a complete parse result from one cut short in transit, and
:func:`redirect_target` a redirect notice (a double redirect, which MediaWiki follows only once) from an
article. HTML is parsed with lxml's ``huge_tree`` (text nodes over 10 MB and nesting down to 2,048 levels
are read, not silently dropped); HTML beyond even those limits raises :class:`HtmlError`. Pure functions
(lxml); nothing is read or written.
"""

from __future__ import annotations

import re

import lxml.etree
import lxml.html

# Elements dropped with everything inside them (their tail text is kept).
_DROP_TAGS = frozenset(
    {"style", "script", "link", "meta", "noscript", "table", "figure", "img", "audio", "video", "map", "head"}
)
_DROP_CLASSES = frozenset(
    {
        "ws-noexport", "noprint", "ws-header", "wst-header", "wst-header-structure", "headertemplate",
        "header_notes", "wst-header-notes", "ws-pagenum", "pagenum", "pagenum-inner", "pagenumber",
        "mw-editsection", "reference", "references", "mw-references-wrap", "reflist", "mw-cite-backlink",
        "metadata", "navbox", "wst-sidenote", "sidenote", "mw-empty-elt", "thumb", "gallery", "mw-jump-link",
        "licenseContainer", "licenseBanner", "licensetpl",
    }
)
_MARGIN_CLASS = re.compile(r"shoulder|side-?note|margin-?note", re.IGNORECASE)
_OUT_OF_FLOW = re.compile(r"float\s*:\s*(?:left|right)|position\s*:\s*(?:absolute|fixed)", re.IGNORECASE)
_DROP_IDS = frozenset({"headerContainer", "navigationHeader", "ws-data", "headertemplate", "toc"})
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dd", "dt", "dl", "ul", "ol", "blockquote",
        "pre", "center", "section", "article", "hr", "body", "html", "caption", "poem",
    }
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none", re.IGNORECASE)
_PAGE_LINK = re.compile(r"(^|/)Page:", re.IGNORECASE)
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = re.compile("[\u200b\u00ad\ufeff]")
_DISPLAYSTYLE = re.compile(r"^\{\\displaystyle\s*(.*)\}$", re.DOTALL)
_LINE_BREAK = "\x00"  # stands for <br>; NUL never survives _XML_INVALID
_GLUE = "\ue000"  # where a margin heading was dropped (a private-use character, removed from the input)
_SENTENCE_END = re.compile(r"[.!?:]['\")\]’”]*$")


class HtmlError(ValueError):
    """HTML that lxml cannot read whole (nesting or size beyond even ``huge_tree``'s limits)."""


def _parse(html: str):
    """Parse ``html`` with ``huge_tree``; returns the root, or None when there is nothing to parse.

    Raises :class:`HtmlError` when libxml2 stops at a resource limit (it would otherwise drop the rest).
    """
    parser = lxml.html.HTMLParser(huge_tree=True)
    try:
        root = lxml.html.document_fromstring(html, parser=parser)
    except (lxml.etree.ParserError, ValueError):
        root = None
    fatal = [entry.message.strip() for entry in parser.error_log if entry.level_name == "FATAL"]
    if fatal:
        raise HtmlError(f"page HTML not readable whole: {fatal[0]}")
    return root


def extract_prose(html: str) -> str:
    """Return the article prose in ``html`` (a ``parse.text`` string) as plain text.

    Paragraphs are separated by a blank line; returns ``""`` when nothing readable is left. Malformed
    markup is recovered by lxml; raises :class:`HtmlError` only when the parser hits a resource limit.
    """
    html = _XML_INVALID.sub("", html.encode("utf-8", "replace").decode("utf-8")).replace(_GLUE, "")
    if not html.strip():
        return ""
    root = _parse(html)
    if root is None:
        return ""
    _math_to_tex(root)  # first: the MathML holding the TeX is hidden (display: none) noise
    _drop_noise(root)
    writer = _ParagraphWriter()
    _walk(root, writer)
    return "\n\n".join(_close_up(writer.finish()))


def looks_truncated(html: str) -> bool:
    """Return True when ``html`` is a MediaWiki parse result cut short.

    MediaWiki wraps parser output in one ``<div class="… mw-parser-output">``; a complete result therefore
    ends with ``</div>`` (optionally followed by HTML comments such as the limit report).
    """
    stripped = html.strip()
    if not stripped.startswith("<div"):
        return False
    return not _without_trailing_comments(stripped).endswith("</div>")


def _without_trailing_comments(text: str) -> str:
    """``text`` without the HTML comments (and whitespace) at its end. String operations from the end: a regex
    ``(\\s*<!--.*?-->)*\\s*$`` took time quadratic in the length of a long run of spaces or comments."""
    def before_spaces(end: int) -> int:
        while end and text[end - 1].isspace():
            end -= 1
        return end

    end = before_spaces(len(text))
    while text.endswith("-->", 0, end):
        start = text.rfind("<!--", 0, end - 3)
        if start < 0:
            break
        end = before_spaces(start)
    return text[:end]


def redirect_target(html: str) -> str | None:
    """If ``html`` is MediaWiki's redirect notice (``<div class="redirectMsg">``) rather than an article,
    return the title it points to (``""`` if it names none); else None."""
    if "redirectMsg" not in html:
        return None
    root = _parse(html)
    notices = root.find_class("redirectMsg") if root is not None else []
    if not notices:
        return None
    links = [a.get("title") or a.text_content() for a in notices[0].iter("a")]
    return (links[0] if links else "").strip()


def _classes(element) -> set[str]:
    return set((element.get("class") or "").split())


def _is_noise(element) -> bool:
    """Whether ``element`` is navigation, metadata, a page anchor, a footnote marker or similar."""
    if element.tag in _DROP_TAGS:
        return True
    if _classes(element) & _DROP_CLASSES or element.get("id") in _DROP_IDS:
        return True
    if _HIDDEN_STYLE.search(element.get("style") or ""):
        return True
    if _is_margin_heading(element):
        return True
    # Older page-number templates: a link to a Page: page whose text is just the page number.
    if element.tag == "a" and _PAGE_LINK.search(element.get("title") or element.get("href") or ""):
        return (element.text_content() or "").strip().strip("[]").isdigit()
    return False


def _is_margin_heading(element) -> bool:
    """Whether ``element`` is a margin heading set beside the text (see the module docstring)."""
    if _MARGIN_CLASS.search(element.get("class") or ""):
        return True
    if not _OUT_OF_FLOW.search(element.get("style") or ""):
        return False
    if len("".join((element.text_content() or "").split())) < 3:
        return False  # a drop initial
    if (element.tail or "").strip():
        return True
    return any((sibling.text_content() or "").strip() or (sibling.tail or "").strip()
               for sibling in element.itersiblings())


def _drop_noise(root) -> None:
    """Remove every noise element (keeping the text that follows it); a margin heading leaves a glue mark."""
    noise = [el for el in root.iter() if isinstance(el.tag, str) and _is_noise(el)]
    for element in noise:  # an element inside an already dropped one is dropped from a detached tree
        if element.getparent() is not None:
            if _is_margin_heading(element):
                element.tail = _GLUE + (element.tail or "")
            element.drop_tree()


def _close_up(paragraphs: list[str]) -> list[str]:
    """Remove the glue marks; re-join a paragraph split only by a dropped margin heading.

    Text right after a dropped heading in the same flow (its tail) always continues the paragraph before;
    a paragraph that follows a heading standing alone between blocks continues it unless the one before
    ends a sentence and it starts with a capital.
    """
    out: list[str] = []
    between_blocks = False
    for paragraph in paragraphs:
        text = re.sub(r" *%s *" % _GLUE, " ", paragraph).strip()
        continues = paragraph.startswith(_GLUE) or (
            between_blocks and (not _SENTENCE_END.search(out[-1] if out else "") or text[:1].islower()))
        if out and text and continues:
            out[-1] = f"{out[-1]} {text}"
        elif text:
            out.append(text)
        between_blocks = (not text and _GLUE in paragraph) or paragraph.endswith(_GLUE)
    return out


def _math_to_tex(root) -> None:
    """Replace MediaWiki math elements (MathML plus fallback image) by their TeX source."""
    for element in list(root.iter("span", "math")):
        if element.getparent() is None:
            continue
        is_wrapper = element.tag == "span" and "mwe-math-element" in _classes(element)
        if not (is_wrapper or element.tag == "math"):
            continue
        tex = ""
        for annotation in element.iter("annotation"):
            if annotation.get("encoding") == "application/x-tex":
                tex = annotation.text or ""
        tex = tex or element.get("alttext") or ""
        match = _DISPLAYSTYLE.match(tex.strip())
        tex = match.group(1) if match else tex.strip()
        replacement = lxml.html.Element("span")
        replacement.text = tex
        replacement.tail = element.tail
        element.getparent().replace(element, replacement)


class _ParagraphWriter:
    """Collects text into paragraphs; a block boundary ends the current paragraph."""

    def __init__(self) -> None:
        self.paragraphs: list[str] = []
        self.pieces: list[str] = []

    def add(self, text: str) -> None:
        """Append inline text to the current paragraph."""
        self.pieces.append(text)

    def line_break(self) -> None:
        """A ``<br>``: a line break inside the current paragraph."""
        self.pieces.append(_LINE_BREAK)

    def end_paragraph(self) -> None:
        """Close the current paragraph: collapse whitespace, keep it if any text is left."""
        raw = _INVISIBLE.sub("", "".join(self.pieces))
        self.pieces = []
        lines = [_SPACES.sub(" ", line).strip() for line in raw.split(_LINE_BREAK)]
        text = "\n".join(line for line in lines if line)
        if text:
            self.paragraphs.append(text)

    def finish(self) -> list[str]:
        """Close the last paragraph and return all of them."""
        self.end_paragraph()
        return self.paragraphs


def _walk(root, writer: _ParagraphWriter) -> None:
    """Feed ``root``'s text (not its tail) to ``writer`` in document order.

    Iterative (an explicit stack), so markup nested thousands deep cannot exhaust Python's recursion limit.
    """
    stack: list = [(root, True)]
    while stack:
        element, entering = stack.pop()
        is_block = isinstance(element.tag, str) and element.tag in _BLOCK_TAGS
        if not entering:  # after the element's children: close a block, then the text that follows it
            if is_block:
                writer.end_paragraph()
            if element is not root and element.tail:
                writer.add(element.tail)
            continue
        stack.append((element, False))
        if not isinstance(element.tag, str):  # comment or processing instruction: no text of its own
            continue
        if is_block:
            writer.end_paragraph()
        if element.tag == "br":
            writer.line_break()
        elif element.text:
            writer.add(element.text)
        stack.extend((child, True) for child in reversed(element))
