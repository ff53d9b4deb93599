"""Work and memory bounded by the input, never by a number inside it; numbers from input files checked.

Issue 24 found ``<pages … from=42 to=99999999 />`` in a 104 KB dump ending in a ``MemoryError`` after 23 s
(the range was materialised), page numbers of 20 digits ending in an ``OverflowError`` from SQLite, and a
page of 60,000 ``<math>`` or 40,000 nested ``{{a|`` taking minutes to render (quadratic). The timed tests
below allow about a hundred times what the linear code takes on a slow machine; the quadratic code took
tens of seconds at these sizes (``benchmarks/render_scaling.py`` measures the growth).
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections import Counter

import pytest

from babylm.data.articles import Tally, scan_page_key
from babylm.data.sources.dump import DumpError, iter_input
from babylm.data.sources.transclusion import MAX_PAGES_PER_ARTICLE, join_pages, parse_pages_tags, sections_at, tokenize
from babylm.data.sources.wikitext import ingest_pages
from babylm.data.sources.wikitext import main as ingest_main
from babylm.data.sources.wikitext_assembly import by_headword
from babylm.data.sources.wikitext_render import render_wikitext
from babylm.data.wikisource.html import looks_truncated

PREFIX = "1911 Encyclopædia Britannica/"
VOLUME_01 = "EB1911 - Volume 01.djvu"


def write_pages(path, records) -> None:
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")


def scan(page: int, text: str, volume: str = "01") -> dict:
    return {"title": f"Page:EB1911 - Volume {volume}.djvu/{page}", "text": text}


def article(name: str, tag: str) -> dict:
    return {"title": PREFIX + name, "text": "{{EB1911|abbr=x}}\n" + tag}


def contents(out) -> dict[str, str]:
    return {json.loads(p.read_text(encoding="utf-8"))["title"]: json.loads(p.read_text(encoding="utf-8"))["content"]
            for p in out.glob("volume_*/part_*/*.json")}


@pytest.mark.parametrize("attributes", ["from=42 to=99999999", "from=42 to=3000000", 'include="42-3000000"',
                                        "from=42 to=99999999999999999999999999"])
def test_a_page_range_selects_only_pages_the_input_has_in_bounded_time_and_memory(tmp_path, attributes):
    pages = tmp_path / "pages.json"
    write_pages(pages, [scan(42, "'''ABBEY''' a building for monks."), scan(43, "and nuns, the home of a community."),
                        article("Abbey", f'<pages index="{VOLUME_01}" {attributes} />')])
    tracemalloc.start()
    started = time.perf_counter()
    try:
        stats = ingest_pages([pages], tmp_path / "out")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 20
    assert peak < 64 << 20  # the materialised range took 0.9 GB at to=3000000
    assert contents(tmp_path / "out") == {"Abbey": "ABBEY a building for monks. and nuns, the home of a community."}
    assert stats.routes == {"transclusion": 1}
    report = json.loads((tmp_path / "out" / "ingest_report.json").read_text(encoding="utf-8"))
    [run] = report["runs"].values()
    problems = [problem for entry in run["problems"] for problem in entry["problems"]]
    assert any(f"more than {MAX_PAGES_PER_ARTICLE}" in problem for problem in problems)


def test_page_numbers_are_checked_before_use():
    assert scan_page_key("Page:EB1911 - Volume 01.djvu/42") == (1, 42)
    for title in ("Page:EB1911 - Volume 99999999999999999999.djvu/1",
                  "Page:EB1911 - Volume 01.djvu/99999999999999999999",
                  "Page:EB1911 - Volume 30.djvu/1", "Page:EB1911 - Volume 00.djvu/1", "Page:EB1911 - Volume 01.djvu/0",
                  "Page:EB1911 - Volume ٠١.djvu/٤٢", "Page:EB1911 - Volume 01.djvu/" + "9" * 5000):
        assert scan_page_key(title) is None
    [(_, tag)] = parse_pages_tags(f'<pages index="EB1911 - Volume 99999999999999999999.djvu" from=1 to=2 />')
    assert tag.volume is None
    [(_, tag)] = parse_pages_tags(f'<pages index="{VOLUME_01}" from=99999999999999999999 to=² step=10000000000000 />')
    assert tag.pages(last_page=50) == [] and any("from=" in error for error in tag.errors)
    assert "to=²" in tag.errors  # a superscript digit is not a page number (int("²") raised ValueError)


def test_huge_numbers_in_titles_tags_and_indexes_are_skipped_not_a_traceback(tmp_path):
    pages = tmp_path / "pages.json"
    write_pages(pages, [scan(42, "'''ABBEY''' a building for monks."),
                        scan(1, "'''HUGE''' volume.", volume="99999999999999999999"),
                        scan(99999999999999999999, "'''HUGE''' page."),
                        article("Abbey", f'<pages index="{VOLUME_01}" from=42 to=42 />'),
                        article("Elsewhere", '<pages index="EB1911 - Volume 99999999999999999999.djvu" from=1 to=1 />'),
                        article("Far", f'<pages index="{VOLUME_01}" from=99999999999999999999 />')])
    stats = ingest_pages([pages], tmp_path / "out")
    assert contents(tmp_path / "out") == {"Abbey": "ABBEY a building for monks."}
    assert stats.pages == 1


@pytest.mark.parametrize("volume, page", [(10**30, 1), (1, 10**30), (1e308, 1), (1, "9" * 5000), (1, 4.5), (0, 1),
                                          (1, float("nan")), (True, 1), (30, 1)])
def test_json_scan_records_with_impossible_numbers_are_one_line(tmp_path, capsys, volume, page):
    pages = tmp_path / "pages.json"
    record = {"volume": volume, "page_number": page, "raw_text": "'''ABBEY''' text."}
    text = json.dumps([record]).replace("NaN", "1e999")
    pages.write_text(text, encoding="utf-8")
    with pytest.raises(DumpError, match="pages.json"):
        list(iter_input(pages))
    assert ingest_main([str(pages), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pages.json" in err and len(err) < 300


# ------------------------------------------------------------------------------------ rendering is linear
def nested(open_: str, inner: str, close: str, n: int) -> str:
    return open_ * n + inner + close * n


PATHOLOGICAL = {  # name → (text, what it must render to)
    "unclosed <math> ×20,000": ("x <math>" * 20_000, "x"),
    "closed <math> ×20,000": ("<math>a+b=c</math> t " * 20_000, " ".join(["t"] * 20_000)),
    "<math> closed once at the end": ("<math>a " * 20_000 + "</math> end", "end"),
    "nested {{a| ×16,000": (nested("{{a|", "b", "}}", 16_000), ""),
    "nested [[a| ×16,000": (nested("[[a|", "b", "]]", 16_000), None),
    "external links without ] ×20,000": ("[http://a " * 20_000, ("[http://a " * 20_000).strip()),
    "wiki tables ×20,000": ("\n{|\n|a\n|}\nt" * 20_000, "\n\n".join(["t"] * 20_000)),
    "HTML tables ×80,000": ("<table>a</table> t " * 80_000, " ".join(["t"] * 80_000)),
    "file links ×80,000": ("[[File:a.png|b]] t " * 80_000, " ".join(["t"] * 80_000)),
    "a 200,000-space template argument": ("{{a|1" + " " * 200_000 + "x}}", "1 x"),
    "a 200,000-space heading": ("= a" + " " * 200_000 + "x", "= a x"),
    "a 20,000-= heading": ("=" * 20_000, ""),
    "a 200,000-space external link": ("[http://a" + " " * 200_000 + "x", "[http://a x"),
}


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_rendering_time_grows_linearly_with_the_page(name):
    text, expected = PATHOLOGICAL[name]
    removed = Tally()
    started = time.perf_counter()
    rendered = render_wikitext(text, Counter(), removed)
    assert time.perf_counter() - started < 5, f"{name}: quadratic?"
    if expected is not None:
        assert rendered == expected


def test_templates_nested_deeper_than_mediawiki_expands_are_dropped_and_counted():
    removed = Tally()
    assert render_wikitext(nested("{{sc|", "deep words", "}}", 150), Counter(), removed) == ""
    assert removed.as_dict()["other"]["words"] == 2
    assert render_wikitext(nested("{{sc|", "shallow words", "}}", 50)) == "shallow words"
    assert render_wikitext("{{x|a{{!}}b}}") == "a|b"  # a rendered | is text, not an argument separator
    assert render_wikitext("{{sc|a}} }} {{ {{sc|b}}") == "a }} {{ b"  # unmatched braces stay as text


@pytest.mark.parametrize("name, call", [
    ("sections_at, 20,000 begins then ends", lambda: sections_at(tokenize(
        "".join(f'<section begin="s{i}"/>t' for i in range(20_000))
        + "".join(f'<section end="s{i}"/>' for i in range(20_000))))),
    ("tokenize, <noinclude without > ×20,000", lambda: tokenize("<noinclude " * 20_000)),
    ("<pages> attribute of 200,000 letters", lambda: parse_pages_tags("<pages " + "a" * 200_000 + " />")),
    ("join_pages of 20,000 pages", lambda: join_pages(["word"] * 20_000)),
    ("by_headword, one page of 60,000 stretches", lambda: list(by_headword(
        [(1, 1, tokenize("'''ABBEY''' x" + ('<section begin="a"/>' + "y" * 50) * 60_000), set())],
        blank=lambda text: False))),
    ("looks_truncated, 20,000 trailing comments", lambda: looks_truncated("<div>" + "<!--a-->x" * 20_000 + "</div>")),
    ("looks_truncated, 2,000,000 spaces", lambda: looks_truncated("<div>" + " " * 2_000_000 + "x</div>")),
])
def test_page_assembly_and_the_scrapers_checks_are_linear_too(name, call):
    started = time.perf_counter()
    call()
    assert time.perf_counter() - started < 5, f"{name}: quadratic?"
