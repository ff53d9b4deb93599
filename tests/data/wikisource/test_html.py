"""Article prose from Wikisource ``action=parse`` HTML: what is kept, what is dropped, damaged input."""

from __future__ import annotations

import pytest

from babylm.data.wikisource.html import HtmlError, extract_prose, looks_truncated, redirect_target
from tests.data.text_fixtures import article_wikitext  # noqa: F401

PAGENUM = ('<span><span class="pagenum ws-pagenum" id="{n}" data-page-number="{n}" '
           'data-page-name="Page:EB1911 - Volume 01.djvu/{n}" title="Page:EB1911 - Volume 01.djvu/{n}">'
           '<span id="pageindex_{n}" class="pagenum-inner ws-noexport">&#8203;</span></span></span>')

ARTICLE = f"""<div class="mw-content-ltr mw-parser-output" lang="en" dir="ltr">
<style data-mw-deduplicate="TemplateStyles:r1">.wst-header{{color:red}}</style>
<div class="wst-header-structure ws-header ws-noexport noprint" id="headerContainer">
<table id="navigationHeader"><tr><td><a href="/wiki/X">← Abaca</a></td>
<td>1911 Encyclopædia Britannica, Volume 1<br/><b>Abacus</b></td><td>Abaddon →</td></tr></table>
<div class="wst-header-notes header_notes">See also Abacus on Wikipedia; and our disclaimer.</div></div>
<div class="ws-noexport" id="ws-data" style="display:none"><span id="ws-title">Abacus</span></div>
<div class="prp-pages-output" lang="en">
{PAGENUM.format(n=36)}<p><b>ABACUS</b> (Lat. <i>abacus</i>), a frame
for reckoning.<sup id="cite_ref-1" class="reference"><a href="#cite_note-1">[1]</a></sup> It is
continued {PAGENUM.format(n=37)}on the next page &amp; ends here.
</p>
<div class="mw-heading mw-heading2"><h2 id="Uses">Uses</h2><span class="mw-editsection">
<span class="mw-editsection-bracket">[</span><a href="#">edit</a>
<span class="mw-editsection-bracket">]</span></span></div>
<p>Area is <span class="mwe-math-element"><span class="mwe-math-mathml-inline" style="display: none;">
<math alttext="{{\\displaystyle a\\times b}}"><semantics><mrow><mi>a</mi></mrow>
<annotation encoding="application/x-tex">{{\\displaystyle a\\times b}}</annotation></semantics></math></span>
<img src="x.svg" class="mwe-math-fallback-image-inline" alt="{{\\displaystyle a\\times b}}"/></span> square feet.</p>
<table class="wikitable"><tr><td>1</td><td>2</td></tr></table>
<ul><li>First item</li><li>Second<br/>line</li></ul>
<figure><img src="y.png"/><figcaption>A caption</figcaption></figure>
</div>
<div class="mw-references-wrap"><ol class="references"><li id="cite_note-1">
<span class="mw-cite-backlink"><a href="#cite_ref-1">↑</a></span>
<span class="reference-text">A note.</span></li></ol></div>
</div>
<!-- NewPP limit report -->"""


def test_keeps_the_prose_as_paragraphs_and_drops_everything_else():
    assert extract_prose(ARTICLE) == (
        "ABACUS (Lat. abacus), a frame for reckoning. It is continued on the next page & ends here."
        "\n\nUses"
        "\n\nArea is a\\times b square feet."
        "\n\nFirst item"
        "\n\nSecond\nline"
    )


def test_navigation_page_numbers_and_notes_leave_no_trace():
    text = extract_prose(ARTICLE)
    for noise in ("Abaddon", "Volume 1", "disclaimer", "[1]", "A note", "36", "37", "edit", "caption", "color"):
        assert noise not in text
    assert "\u200b" not in text


def test_older_page_number_links_are_dropped_but_other_links_kept():
    html = ('<div class="mw-parser-output"><p><span><a href="/wiki/Page:EB1911_-_Volume_01.djvu/40" '
            'title="Page:EB1911 - Volume 01.djvu/40">[40]</a></span>See <a href="/wiki/1911_Encyclop%C3%A6dia_'
            'Britannica/Column" title="1911 Encyclopædia Britannica/Column">Column</a>.</p></div>')
    assert extract_prose(html) == "See Column."


def test_malformed_markup_is_recovered():
    html = ('<div class="mw-parser-output"><P>First <b>bold <I>both</b> para\n<p>Second para</span></div>'
            '<li>item<li>next</div>')
    assert extract_prose(html) == "First bold both para\n\nSecond para\n\nitem\n\nnext"


def test_unusable_input_gives_empty_text_instead_of_an_error():
    for html in ("", "   ", "<!-- only a comment -->", "\x00\x01", '<div class="mw-parser-output"></div>'):
        assert extract_prose(html) == ""
    assert extract_prose("<p>lone surrogate \ud800 here</p>") == "lone surrogate ? here"


def test_truncated_parse_output_is_recognised():
    assert not looks_truncated(ARTICLE)
    assert looks_truncated(ARTICLE[: len(ARTICLE) // 2])
    assert looks_truncated(ARTICLE[:-len("</div>\n<!-- NewPP limit report -->") + 2])
    assert not looks_truncated("<p>not MediaWiki-wrapped output</p>")


def test_deep_markup_is_read_without_recursion_and_too_deep_markup_fails_loudly():
    deep = "<div>" * 1500 + "<p>Deep text.</p>" + "</div>" * 1500
    assert extract_prose(deep) == "Deep text."  # deeper than Python's recursion limit, within huge_tree's
    with pytest.raises(HtmlError, match="Excessive depth"):
        extract_prose("<div>" * 3000 + "<p>Lost?</p>" + "</div>" * 3000)


def test_a_redirect_notice_is_told_from_an_article():
    notice = ('<div class="mw-parser-output"><div class="redirectMsg"><p>Redirect to:</p><ul class="redirectText">'
              '<li><a href="/wiki/X" title="1911 Encyclopædia Britannica/Abacus">Abacus</a></li></ul></div></div>')
    assert redirect_target(notice) == "1911 Encyclopædia Britannica/Abacus"
    assert redirect_target('<div class="mw-parser-output"><p>A redirectMsg in prose.</p></div>') is None


LICENCE = ('<div class="licenseContainer licenseBanner" style="margin:1em"><div class="licensetpl">'
           '<div class="licensetpl_wrapper">This work is in the <b>public domain</b> in the United States because '
           'it was published before January 1, 1929.</div></div></div>')


def test_the_licence_box_is_never_part_of_the_article():
    html = f'<div class="mw-parser-output"><p><b>ABACUS</b>, a frame for reckoning.</p>{LICENCE}</div>'
    assert extract_prose(html) == "ABACUS, a frame for reckoning."


MARGIN_SHAPES = (
    '<span class="wst-eb1911-shoulder-heading">{}</span>',  # a class naming it
    # a floated block
    '<div class="eb1911-sh" style="float:left; width:7em; margin-left:-8em; text-align:right">{}</div>',
    '<span class="x-note" style="position: absolute; left: -9em">{}</span>',  # positioned, unknown class
)


def test_margin_headings_of_the_real_articles_are_never_spliced_into_a_sentence(article_wikitext):
    """Every ``{{EB1911 Shoulder Heading…}}`` of the 14 real articles, set in the paragraph around it in three
    shapes the template may render as: dropped, the sentence closed up, the paragraph whole."""
    import re

    from babylm.data.sources.wikitext_render import render_wikitext

    checked = 0
    for name, wikitext in article_wikitext.items():
        for match in re.finditer(r"\{\{\s*EB1911 Shoulder Heading\w*\s*\|([^{}|]*)[^{}]*\}\}", wikitext, re.I):
            before = render_wikitext(wikitext[max(0, match.start() - 300): match.start()].split("\n\n")[-1])
            after = render_wikitext(wikitext[match.end(): match.end() + 300].split("\n\n")[0])
            before, after = before.split("\n\n")[-1] if before else "", after.split("\n\n")[0] if after else ""
            if not (before and after) or re.search(r"[{}\[\]<>|]", before + after):
                continue
            heading = render_wikitext(match.group(1)) or "Heading."
            expected = " ".join(f"{before} {after}".split())
            for shape in MARGIN_SHAPES:
                html = f'<div class="mw-parser-output"><p>{before} {shape.format(heading)}{after}</p></div>'
                assert extract_prose(html) == expected, (name, shape, heading)
            checked += 1
    assert checked >= 120


def test_a_drop_initial_and_a_closing_signature_stay():
    html = ('<div class="mw-parser-output"><p><span style="float:left; font-size:300%">A</span>BBEY, a monastery '
            '<span style="float:right">(E. V.)</span></p></div>')
    assert extract_prose(html) == "ABBEY, a monastery (E. V.)"
    html = '<div class="mw-parser-output"><p>End of one.</p><div class="sidenote">Plan.</div><p>Next one.</p></div>'
    assert extract_prose(html) == "End of one.\n\nNext one."  # a real paragraph break stays one
