"""The bundled sample wiki: load ``babylm/resources/sample/`` and render its pages as Wikisource would.

The sample (format in ``babylm/resources/sample/README.md``) holds short original articles in a small
wikitext subset. :func:`load_sample` reads it into a :class:`SampleWiki`; :meth:`SampleWiki.render_html`
turns a page into the HTML that MediaWiki's ``action=parse`` returns on Wikisource — the
``mw-parser-output`` wrapper, the header with navigation, hidden metadata, a ``<style>`` block, the
``prp-pages-output`` block with ``ws-pagenum`` page anchors, footnote markers and the footnote list —
so that :mod:`babylm.data.wikisource.sample.server` can serve it. :func:`expected_prose` gives the plain text a
correct scraper must extract from an article (the tests' oracle). Reads the sample files; writes nothing.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

PREFIX = "1911 Encyclopædia Britannica/"
ROOT_TITLE = "1911 Encyclopædia Britannica"
SAMPLE_DIR = Path(__file__).resolve().parents[3] / "resources" / "sample"
NAMESPACES = {"": 0, "Template": 10, "Portal": 100, "Page": 104, "Index": 106}

_REF = re.compile(r"<ref>(.*?)</ref>", re.DOTALL)
_LINK = re.compile(r"\[\[([^\]|]+)(?:\|([^\]]+))?\]\]")
_PAGE_MARK = "{{page}}"
_HEADING = re.compile(r"^==\s*(.+?)\s*==$")


class SampleFormatError(ValueError):
    """A sample file breaks the format; the message names the file and line."""


@dataclass
class WikiPage:
    """One page: full ``title``, ``kind`` (article, redirect, other, frontmatter, listing) and content."""

    title: str
    kind: str
    body: str = ""
    volume: int | None = None
    first_page: int | None = None
    last_page: int | None = None
    target: str | None = None
    pageid: int = 0

    @property
    def name(self) -> str:
        """The title without the EB1911 prefix (the whole title for pages outside it)."""
        return self.title[len(PREFIX):] if self.title.startswith(PREFIX) else self.title

    @property
    def namespace(self) -> int:
        """MediaWiki namespace number of the page."""
        head, sep, _ = self.title.partition(":")
        return NAMESPACES.get(head, 0) if sep else 0

    def scan_pages(self) -> list[str]:
        """Titles of the Page: pages this page transcludes (none for redirects and plain pages)."""
        if self.volume is None or self.first_page is None:
            return []
        last = self.last_page or self.first_page
        return [scan_page_title(self.volume, number) for number in range(self.first_page, last + 1)]


def scan_page_title(volume: int, number: int) -> str:
    """Title of scan page ``number`` of EB1911 volume ``volume`` on Wikisource."""
    return f"Page:EB1911 - Volume {volume:02d}.djvu/{number}"


def wiki_path(title: str) -> str:
    """The ``/wiki/…`` path of a title (spaces as underscores, percent-encoded like MediaWiki)."""
    return "/wiki/" + quote(title.replace(" ", "_"), safe="/:;@$!*(),~")


def full_title(name: str) -> str:
    """A sample-file name to a full title: ``:X`` is X itself, anything else lives under the prefix."""
    return name[1:] if name.startswith(":") else PREFIX + name


@dataclass
class SampleWiki:
    """All pages of the sample, by full title, with rendering to Wikisource-like parse HTML."""

    pages: dict[str, WikiPage] = field(default_factory=dict)

    def articles(self) -> list[WikiPage]:
        """The article pages, in book order (volume, first scan page)."""
        found = [p for p in self.pages.values() if p.kind == "article"]
        return sorted(found, key=lambda p: (p.volume or 0, p.first_page or 0, p.title))

    def templates_of(self, page: WikiPage) -> list[tuple[int, str]]:
        """``(namespace, title)`` of everything ``page`` transcludes, as ``prop=templates`` lists it."""
        if page.kind == "redirect":
            return []
        used = [(10, "Template:EB1911")] if page.kind in ("article", "frontmatter") else [(10, "Template:Header")]
        used += [(104, title) for title in page.scan_pages()]
        return sorted(used, key=lambda item: (item[0], item[1]))

    def render_html(self, page: WikiPage) -> str:
        """The ``parse.text`` HTML of ``page`` (a redirect renders as MediaWiki's redirect notice)."""
        if page.kind == "redirect":
            target = page.target or ""
            return (f'<div class="mw-content-ltr mw-parser-output" lang="en" dir="ltr"><div class="redirectMsg">'
                    f'<p>Redirect to:</p><ul class="redirectText"><li><a href="{wiki_path(target)}" '
                    f'title="{html.escape(target)}">{html.escape(target)}</a></li></ul></div></div>')
        notes: list[str] = []
        pages = iter(range(page.first_page or 0, (page.last_page or page.first_page or 0) + 1))
        first_anchor = _pagenum(page.volume or 0, next(pages))  # before the body, which takes the rest
        body = _render_blocks(page.body if page.kind != "listing" else self._listing_body(page), notes,
                              lambda: _pagenum(page.volume or 0, next(pages)))
        parts = ['<div class="mw-content-ltr mw-parser-output" lang="en" dir="ltr">',
                 '<style data-mw-deduplicate="TemplateStyles:r1">.wst-header-structure{width:100%}</style>',
                 self._header(page)]
        if page.scan_pages():
            parts += ['<div class="prp-pages-output" lang="en">', first_anchor, body, "</div>"]
        else:
            parts.append(body)
        if notes:
            items = "".join(
                f'<li id="cite_note-{i}"><span class="mw-cite-backlink"><a href="#cite_ref-{i}">↑</a></span> '
                f'<span class="reference-text">{note}</span>\n</li>' for i, note in enumerate(notes, 1))
            parts.append(f'<div class="mw-references-wrap"><ol class="references">\n{items}</ol></div>')
        parts.append("</div>")
        return "\n".join(parts)

    def _listing_body(self, page: WikiPage) -> str:
        names = [a.name for a in self.articles() if a.volume == page.volume]
        return "\n".join(f"* [[{name}]]" for name in names)

    def _header(self, page: WikiPage) -> str:
        """The Wikisource header: back/forward navigation, work and volume, notes; plus hidden ws-data."""
        articles = self.articles()
        index = next((i for i, a in enumerate(articles) if a.title == page.title), None)
        back = _nav_link(articles[index - 1] if index else None, "← ")
        forward = _nav_link(articles[index + 1] if index is not None and index + 1 < len(articles) else None,
                            "", " →")
        volume = f", Volume {page.volume}" if page.volume else ""
        return (
            '<div class="wst-header-structure ws-header ws-noexport noprint dynlayout-exempt" id="headerContainer">'
            f'<table class="wst-header-mainblock" id="navigationHeader"><tbody><tr>'
            f'<td class="wst-header-back">{back}</td>'
            f'<td class="wst-header-title"><a href="{wiki_path(ROOT_TITLE)}" title="{ROOT_TITLE}">'
            f'{ROOT_TITLE}</a>{volume}<br /><b>{html.escape(page.name)}</b></td>'
            f'<td class="wst-header-forward">{forward}</td></tr></tbody></table>'
            '<div class="wst-header-notes header_notes">See also <a class="extiw" '
            f'href="https://en.wikipedia.org/wiki/{quote(page.name)}">{html.escape(page.name)}</a> on Wikipedia, '
            f'and our <a href="{wiki_path(PREFIX + "Disclaimer")}">1911 Encyclopædia Britannica disclaimer</a>.'
            '</div></div>\n'
            f'<div class="ws-noexport" id="ws-data" style="display:none"><span id="ws-title">'
            f'{html.escape(page.name)}</span><span id="ws-year">1911</span></div>'
        )


def _nav_link(page: WikiPage | None, before: str, after: str = "") -> str:
    if page is None:
        return ""
    label = f"{before}{html.escape(page.name)}{after}"
    return f'<a href="{wiki_path(page.title)}" title="{html.escape(page.title)}">{label}</a>'


def _pagenum(volume: int, number: int) -> str:
    """ProofreadPage's page-number anchor for scan page ``number``."""
    name = html.escape(scan_page_title(volume, number))
    return (f'<span><span class="pagenum ws-pagenum" id="{number}" data-page-number="{number}" '
            f'data-page-name="{name}" data-page-index="{number}" data-page-quality="4" title="{name}">'
            f'<span id="pageindex_{number}" class="pagenum-inner ws-noexport">&#8203;</span></span></span>')


def _render_inline(text: str, notes: list[str], next_pagenum) -> str:
    """Wikitext subset → HTML for one block (footnotes go to ``notes``)."""
    found: list[str] = []
    text = _REF.sub(lambda m: found.append(m.group(1)) or f"\x01{len(found) - 1}\x01", text)
    text = html.escape(text, quote=False)
    text = re.sub(r"'''(.+?)'''", r"<b>\1</b>", text)
    text = re.sub(r"''(.+?)''", r"<i>\1</i>", text)
    text = _LINK.sub(lambda m: _link(m.group(1), m.group(2)), text)
    text = text.replace(_PAGE_MARK, "\x02")
    parts = text.split("\x02")
    text = parts[0] + "".join(next_pagenum() + part for part in parts[1:])

    def footnote(match: re.Match) -> str:
        notes.append(_render_inline(found[int(match.group(1))], [], next_pagenum))
        n = len(notes)
        return f'<sup id="cite_ref-{n}" class="reference"><a href="#cite_note-{n}">[{n}]</a></sup>'

    return re.sub("\x01(\\d+)\x01", footnote, text)


def _link(target: str, label: str | None) -> str:
    title = full_title(html.unescape(target))
    return f'<a href="{wiki_path(title)}" title="{html.escape(title)}">{label or target}</a>'


def _render_blocks(body: str, notes: list[str], next_pagenum) -> str:
    out: list[str] = []
    for block in _blocks(body):
        heading = _HEADING.match(block)
        if heading:
            text = _render_inline(heading.group(1), notes, next_pagenum)
            anchor = html.escape(heading.group(1).replace(" ", "_"))
            out.append(f'<div class="mw-heading mw-heading2"><h2 id="{anchor}">{text}</h2><span class="mw-editsection">'
                       f'<span class="mw-editsection-bracket">[</span><a href="#">edit</a>'
                       f'<span class="mw-editsection-bracket">]</span></span></div>')
        elif block.startswith("* "):
            items = [line[2:] for line in block.splitlines() if line.startswith("* ")]
            rendered = "".join(f"<li>{_render_inline(item, notes, next_pagenum)}</li>\n" for item in items)
            out.append(f"<ul>{rendered}</ul>")
        else:
            out.append(f"<p>{_render_inline(block, notes, next_pagenum)}\n</p>")
    return "\n".join(out)


def _blocks(body: str) -> list[str]:
    return [block.strip() for block in re.split(r"\n\s*\n", body) if block.strip()]


def expected_prose(page: WikiPage) -> str:
    """The plain text a correct scraper extracts from ``page``: no markup, notes or page marks."""
    paragraphs: list[str] = []
    for block in _blocks(page.body):
        heading = _HEADING.match(block)
        lines = [heading.group(1)] if heading else (
            [line[2:] for line in block.splitlines()] if block.startswith("* ") else [block])
        for line in lines:
            line = _REF.sub("", line).replace(_PAGE_MARK, " ")
            line = _LINK.sub(lambda m: m.group(2) or m.group(1), line).replace("'''", "").replace("''", "")
            paragraphs.append(" ".join(line.split()))
    return "\n\n".join(p for p in paragraphs if p)


def load_sample(directory: Path = SAMPLE_DIR) -> SampleWiki:
    """Read the sample wiki from ``directory``; raises :class:`SampleFormatError` on a malformed file."""
    wiki = SampleWiki()
    files = sorted(directory.glob("volume_*.txt")) + [directory / "extra_pages.txt"]
    for path in files:
        volume = int(path.stem.split("_")[1]) if path.stem.startswith("volume_") else None
        for page in _parse_file(path, volume):
            if page.title in wiki.pages:
                raise SampleFormatError(f"{path}: page {page.title!r} is defined twice")
            wiki.pages[page.title] = page
    for volume in sorted({a.volume for a in wiki.articles() if a.volume}):
        title = f"{PREFIX}Volume {volume}"
        wiki.pages[title] = WikiPage(title=title, kind="listing", volume=volume)
    wiki.pages[ROOT_TITLE] = WikiPage(title=ROOT_TITLE, kind="other",
                                      body="\n".join(f"* [[Volume {v}]]" for v in sorted(
                                          {a.volume for a in wiki.articles() if a.volume})))
    for number, title in enumerate(sorted(wiki.pages), start=101):
        wiki.pages[title].pageid = number
    return wiki


def _parse_file(path: Path, volume: int | None) -> list[WikiPage]:
    pages: list[WikiPage] = []
    current: WikiPage | None = None
    body: list[str] = []

    def close() -> None:
        if current is not None:
            current.body = "\n".join(body).strip()
            if current.kind in ("article", "frontmatter") and current.first_page is None:
                raise SampleFormatError(f"{path}: {current.title!r} has no @pages line")
            marks = current.body.count(_PAGE_MARK)
            span = (current.last_page or current.first_page or 0) - (current.first_page or 0)
            if current.kind == "article" and marks != span:
                raise SampleFormatError(f"{path}: {current.title!r} spans {span + 1} pages but has {marks} "
                                        f"{_PAGE_MARK} marks (need {span})")
            pages.append(current)

    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("#"):
            continue
        if line.startswith("@pages "):
            if current is None:
                raise SampleFormatError(f"{path}:{number}: @pages before any page")
            spec = line[len("@pages "):].strip()
            if ":" in spec:
                vol_text, spec = spec.split(":", 1)
                current.volume = int(vol_text)
            first, _, last = spec.partition("-")
            current.first_page, current.last_page = int(first), int(last or first)
            continue
        if line.startswith("@"):
            close()
            body = []
            directive, _, rest = line[1:].partition(" ")
            if directive == "redirect":
                source, arrow, target = rest.partition(" -> ")
                if not arrow:
                    raise SampleFormatError(f"{path}:{number}: write @redirect NAME -> TARGET")
                current = WikiPage(title=full_title(source.strip()), kind="redirect",
                                   target=full_title(target.strip()))
            elif directive in ("article", "other", "frontmatter"):
                current = WikiPage(title=full_title(rest.strip()), kind=directive,
                                   volume=volume if directive == "article" else None)
            else:
                raise SampleFormatError(f"{path}:{number}: unknown directive @{directive}")
            continue
        body.append(line)
    close()
    return pages
