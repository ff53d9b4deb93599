"""Wikisource page-wikitext ingest and EB1911 template rendering, on real Wikisource pages and articles."""

from __future__ import annotations

import bz2
import json
from collections import Counter
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babylm.data.articles import read_ingest_report
from babylm.data.sources import wikitext as ingest_wikitext
from babylm.data.sources.wikitext import assemble_articles, ingest_pages, page_sections, read_pages, section_headword
from babylm.data.sources.wikitext_render import render_wikitext
from babylm.data.text.clean import residual_markup_counts
from tests.data.text_fixtures import PAGE_WIKITEXT, article_wikitext, wikisource_pages  # noqa: F401


def export_xml(pages: list[dict]) -> str:
    """A MediaWiki XML export holding ``pages`` as ``Page:EB1911 - Volume NN.djvu/P`` plus an unrelated page."""
    entries = [
        ("Main Page", 0, "Not an EB1911 page."),
        *((f"Page:EB1911 - Volume {p['volume']:02d}.djvu/{p['page_number']}", 104, p["raw_text"]) for p in pages),
    ]
    body = "".join(
        f"<page><title>{escape(title)}</title><ns>{ns}</ns><id>{i}</id><revision><id>{i}</id>"
        f"<text bytes=\"{len(text)}\" xml:space=\"preserve\">{escape(text)}</text></revision></page>\n"
        for i, (title, ns, text) in enumerate(entries, start=1)
    )
    return (f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" xml:lang="en">\n'
            f'{body}</mediawiki>\n')


WIKI_MARKUP = ("template", "wiki_table", "wiki_link", "wiki_emphasis", "html_tag", "html_entity")


def wiki_markup(text: str) -> int:
    """Leftover wiki/HTML markup in rendered text (``[1]``-style citations in EB prose are text, not markup)."""
    counts = residual_markup_counts(text)
    return sum(counts[kind] for kind in WIKI_MARKUP)


def read_outputs(out) -> dict[str, dict]:
    return {str(p.relative_to(out)): json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(out.glob("volume_*/part_*/*.json"))}


def test_articles_are_assembled_from_sections_across_pages(tmp_path, shared_data):
    stats = ingest_pages([shared_data / PAGE_WIKITEXT / "abbey_pages.json"], tmp_path)
    outputs = read_outputs(tmp_path)
    titles = [record["title"] for record in outputs.values()]
    assert sorted(titles) == sorted(["ABBESS", "ABBEVILLE", "ABBEY", "ABBEY, EDWIN AUSTIN", "ABBON OF FLEURY",
                                     "ABBOT, EZRA", "ABBOT, GEORGE"])
    assert stats.orphans == 1 and stats.orphan_words == 114  # the tail of ABBAZIA, begun before page 42
    assert (read_ingest_report(tmp_path)["runs"]["wikitext:abbey_pages.json"]["orphans"]
            == [{"page": "01/42", "words": 114}])
    abbey = outputs["volume_01/part_01/ABBEY.json"]
    assert set(abbey) == {"url", "title", "content", "timestamp"}
    assert abbey["url"] == "https://en.wikisource.org/wiki/Page:EB1911_-_Volume_01.djvu/42"
    text = abbey["content"]
    assert text.startswith("ABBEY (Lat. abbatia; from Syr. abba, father), a monastery")
    assert len(text.split()) > 10_000  # ABBEY runs over eleven pages
    assert "fervour, aided by persecution" in text  # page 43 continues the article
    assert "Istria, 56 m. S.E. of Trieste" not in "\n".join(titles + [r["content"] for r in outputs.values()])


def test_rendering_drops_furniture_keeps_greek_and_leaves_no_markup(tmp_path, shared_data):
    ingest_pages([shared_data / PAGE_WIKITEXT / "abbey_pages.json", shared_data / PAGE_WIKITEXT / "alloys_pages.json"],
                 tmp_path)
    outputs = read_outputs(tmp_path)
    everything = "\n".join(record["content"] for record in outputs.values())
    assert wiki_markup(everything) == 0
    abbey = outputs["volume_01/part_01/ABBEY.json"]["content"]
    assert "coenobian (κοινός, common, and βίος, life)" in abbey
    assert "Plan of Coptic Monastery" not in abbey  # {{img float|…|cap=…}} figure caption
    assert "fortunately preserved to us an elaborate plan" in abbey  # side-note {{EB1911 Shoulder Heading…}} out
    assert "ABBEY||13" not in everything and "Legofan94" not in everything  # <noinclude> page header
    alloys = outputs["volume_01/part_08/ALLOYS.json"]["content"]
    assert "Britannica Alloys Plate Figure" not in alloys and "GUN-MAKING." not in alloys  # plate table dropped
    allotropy = outputs["volume_01/part_08/ALLOTROPY.json"]["content"]
    assert allotropy.startswith("ALLOTROPY (Gr. ἄλλος, other, and τρόπος, manner)") and "isomerism (q.v.)" in allotropy


def test_xml_export_bz2_and_json_lines_give_the_same_articles(tmp_path, wikisource_pages):
    xml_path = tmp_path / "pages.xml"
    xml_path.write_text(export_xml(wikisource_pages), encoding="utf-8")
    bz2_path = tmp_path / "pages.xml.bz2"
    bz2_path.write_bytes(bz2.compress(xml_path.read_bytes()))
    jsonl_path = tmp_path / "pages.jsonl"
    jsonl_path.write_text("\n".join(
        json.dumps({"title": f"Page:EB1911 - Volume {p['volume']:02d}.djvu/{p['page_number']}", "text": p["raw_text"]})
        for p in reversed(wikisource_pages)  # any order: pages are sorted
    ), encoding="utf-8")
    contents = []
    for source in (xml_path, bz2_path, jsonl_path):
        pages = read_pages(source)
        assert len(pages) == len(wikisource_pages)
        articles, _ = assemble_articles(pages)
        contents.append([(a.title, a.render()) for a in articles])
    assert contents[0] == contents[1] == contents[2]


def test_templates_render_to_their_text():
    unknown = Counter()
    text = render_wikitext(
        "{{sc|Abaciscus}} {{EB1911 lkpl|abbot}} {{1911link|Tare and Tret}} {{EB1911 lkpl|Roman Law|Roman law}} "
        "{{Greek|βίος}} {{asc|A.D.}}&nbsp;1115 {{EB1911 tfrac|3|8}} in. {{EB1911 tfrac|2}} {{lb-|1000}} "
        "{{hws|Anglo|Anglo-Egyptian}}{{hwe|Egyptian|Anglo-Egyptian}} "
        "{{Fs|108%|{{EB1911 footer initials|Peter Anderson Graham|P. A. G.}}}} "
        "{{EB1911 Shoulder HeadingSmall|St Gall.}}{{mystery template|x}}<ref>a note</ref> "
        "at <math>\\mathrm{P}\\!</math> and <math>x = \\frac{a}{b}</math> end", unknown,
    )
    assert text == (
        "Abaciscus abbot Tare and Tret Roman law βίος A.D. 1115 3/8 in. 1/2 1000 lb Anglo-Egyptian (P. A. G.) "
        "x at P and end"  # an unknown template keeps its argument and is counted
    )
    assert unknown == Counter({"mystery template": 1})


def test_the_fourteen_real_articles_render_without_markup_or_formulas(article_wikitext):
    assert len(article_wikitext) == 14
    for name, wikitext in article_wikitext.items():
        text = render_wikitext(wikitext)
        assert wiki_markup(text) == 0, name
        assert "\\frac" not in text and "<math" not in text and "{|" not in text, name
    dynamics = render_wikitext(article_wikitext["DYNAMICS"])
    assert "at any point P, will produce a certain velocity at any other point Q" in dynamics
    assert render_wikitext(article_wikitext["ABACUS"]).startswith("ABACUS (Gr. ἄβαξ, a slab; Fr. abaque, tailloir)")


def test_sections_and_headwords():
    page = ('<noinclude>{{rh|12|ABBEY}}</noinclude><section begin="s1" />tail of the last one.<section end="s1" />\n'
            '<section begin=s2 />\'\'\'ABBOT, GEORGE,\'\'\' (1562–1633)<section end=s2 />')
    sections = page_sections(page)
    assert [section_headword(s) for s in sections] == [None, "ABBOT, GEORGE"]
    assert page_sections("no section tags here") == ["no section tags here"]
    assert section_headword("'''Note'''. A bold word in lower case is not a headword") is None


WIKITEXT_PIECES = st.sampled_from([
    "<noinclude>", "</noinclude>", '<section begin="s1" />', '<section end="s1" />', "'''ABBEY'''", "'''",
    "''", "{{", "}}", "{{sc|", "|", "{|", "|}", "[[", "]]", "[[File:", "<math>", "</math>", "<ref>", "</ref>",
    "<br>", "&nbsp;", "&", "text", "\n", "\n\n", ":", "*", "<poem>", "</poem>", "<table>", "</table>", "{{hws|a|ab}}",
])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(WIKITEXT_PIECES, max_size=25).map("".join), min_size=1, max_size=4))
def test_assembly_and_rendering_never_crash_on_malformed_pages(texts):
    pages = [ingest_wikitext.ScanPage(1, number, text) for number, text in enumerate(texts, start=1)]
    articles, orphans = assemble_articles(pages)
    for article in articles:
        rendered = article.render()
        assert "\n\n\n" not in rendered and rendered == rendered.strip()


@pytest.mark.parametrize(
    "content, message",
    [("{not json", "line 1: not valid JSON"), ('[{"volume": "one", "page_number": 1, "raw_text": ""}]', "integers"),
     ("[" * 100_000, "nested too deeply"), ('[{"volume": 1e999, "page_number": 1, "raw_text": ""}]', "integers"),
     ('{"title": "Page:EB1911 - Volume 01.djvu/1", "text": ""}\n[[[', "line 2: not valid JSON"),
     ('[{"title": "Main Page", "text": "x"}]', "no EB1911 pages"), ("<mediawiki><page>", "malformed XML")],
)
def test_bad_inputs_are_one_line_errors(tmp_path, capsys, content, message):
    path = tmp_path / ("pages.xml" if content.startswith("<") else "pages.json")
    path.write_text(content, encoding="utf-8")
    assert ingest_wikitext.main([str(path), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and message in error


def test_a_byte_order_mark_is_accepted_and_a_lone_surrogate_never_stops_the_ingest(tmp_path):
    text = "'''ABBEY,''' a building SURROGATE of the monks, a long article about the monks and abbots.\n"
    record = json.dumps([{"title": "Page:EB1911 - Volume 01.djvu/43", "text": text}])
    path = tmp_path / "pages.json"
    path.write_bytes(b"\xef\xbb\xbf" + record.replace("SURROGATE", "\\ud800").encode("utf-8"))
    assert ingest_wikitext.main([str(path), "--out", str(tmp_path / "out")]) == 0
    [article] = tmp_path.joinpath("out").rglob("volume_*/part_*/*.json")
    content = json.loads(article.read_text(encoding="utf-8"))["content"]
    assert "building \ufffd of the monks" in content


def test_overlapping_inputs_assemble_each_article_once(tmp_path, shared_data):
    pages_file = shared_data / "wikisource" / "page-wikitext" / "abbey_pages.json"
    once = ingest_pages([pages_file], tmp_path / "once")
    twice = ingest_pages([pages_file, pages_file], tmp_path / "twice")
    assert (twice.articles, twice.pages, twice.duplicate_pages) == (once.articles, once.pages, once.pages)
    names = lambda root: sorted(p.name for p in root.rglob("*.json"))  # noqa: E731
    assert names(tmp_path / "twice") == names(tmp_path / "once")


def test_named_sections_headwords_in_links_templates_and_superscripts(tmp_path, shared_cases):
    """``../shared/cases/corpus/wikitext_named_sections.json``: real section names, a headword inside a link."""
    stats = ingest_pages([shared_cases / "corpus" / "wikitext_named_sections.json"], tmp_path)
    got = {record["title"]: record["content"] for record in read_outputs(tmp_path).values()}
    assert list(got) == ["BOLT, ROBERT", "BOLUS", "BOMB", "BOMBARDIER, ÉTIENNE"]
    assert got["BOMB"] == (
        "BOMB, a hollow projectile filled with powder. In the reign of Louis XIV. they weighed 200 lb and more; "
        "the charge was 10³ grains."
    )
    assert got["BOLT, ROBERT"] == "BOLT, ROBERT (1701–1770), English clockmaker, known for his turret clocks."
    assert got["BOMBARDIER, ÉTIENNE"] == "BOMBARDIER, ÉTIENNE (1760–1832), French engineer."
    assert (stats.orphans, stats.unknown_templates) == (0, Counter())


def test_a_continuation_across_missing_pages_is_an_orphan(tmp_path, shared_data, wikisource_pages):
    """ABBEY pages (Vol. 1, 42–53) and ALLOYS pages (746–751) together: page 746 opens with ALLOTROPY's tail,
    which must not be glued onto ABBOT, GEORGE (page 53) — it is reported and left out."""
    stats = ingest_pages([shared_data / PAGE_WIKITEXT / "abbey_pages.json",
                          shared_data / PAGE_WIKITEXT / "alloys_pages.json"], tmp_path)
    outputs = read_outputs(tmp_path)
    abbot = outputs["volume_01/part_01/ABBOT, GEORGE.json"]["content"]
    assert abbot.endswith("He wrote a large number of works, the most interesting being")
    orphans = read_ingest_report(tmp_path)["runs"]["wikitext:abbey_pages.json,alloys_pages.json"]["orphans"]
    assert orphans == [{"page": "01/42", "words": 114}, {"page": "01/746", "words": 248}] and stats.orphan_words == 362
    alloys = outputs["volume_01/part_08/ALLOYS.json"]["content"]
    assert "purple colour, more remarkable" in alloys  # walks on over the plate page 747 (a table only)
    articles, orphan_spans = assemble_articles(
        ingest_wikitext.ScanPage(p["volume"], p["page_number"], p["raw_text"]) for p in wikisource_pages
    )
    assert len(articles) == stats.articles and len(orphan_spans) == 2


def test_margin_headings_never_enter_the_rendered_text(article_wikitext):
    """Every ``{{EB1911 Shoulder Heading…}}`` variant of the 14 real articles renders to nothing, counted."""
    import re

    from babylm.data.articles import Tally

    seen = 0
    for wikitext in article_wikitext.values():
        removed = Tally()
        render_wikitext(wikitext, removed=removed)
        found = len(re.findall(r"\{\{\s*EB1911 Shoulder Heading", wikitext, re.I))
        assert removed.as_dict().get("sidenote", {}).get("count", 0) == found
        seen += found
        for match in re.finditer(r"\{\{\s*EB1911 Shoulder Heading\w*\s*\|([^{}|]*)\}\}", wikitext, re.I):
            around = wikitext[max(0, match.start() - 80): match.end() + 80]
            if "{{" in around.replace(match.group(0), "") or "[[" in around or "<" in around:
                continue
            assert render_wikitext(around) == render_wikitext(around.replace(match.group(0), "")), match.group(0)
    assert seen >= 180


@pytest.mark.parametrize("name", ["pages.xml", "pages.json", "pages.jsonl"])
def test_an_empty_input_is_named_empty(tmp_path, capsys, name):
    empty = tmp_path / name
    empty.write_bytes(b"")
    assert ingest_wikitext.main([str(empty), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{name}: the file is empty" in err[0], err
