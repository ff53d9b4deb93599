"""The Wikimedia dump as input: streamed, EB1911 pages kept, articles assembled exactly as Wikisource does."""

from __future__ import annotations

import bz2
import gzip
import itertools
import json
from urllib.parse import unquote

import pytest

from babylm.data.articles import PREFIX, read_ingest_report
from babylm.data.sources.dump import PageStore, eb1911_kind, iter_input
from babylm.data.sources.wikitext import ingest_pages, main
from tests.data.sources.dump_fixtures import eb1911_site, filler_pages, write_dump
from tests.data.text_fixtures import PAGE_WIKITEXT

DUMP = "enwikisource-20240101-pages-articles.xml.bz2"


def outputs(out) -> dict[str, dict]:
    return {record["title"]: record for record in
            (json.loads(p.read_text(encoding="utf-8")) for p in sorted(out.glob("volume_*/part_*/*.json")))}


@pytest.fixture(scope="module")
def site():
    return eb1911_site(volumes=2, pages=7)


def test_a_generated_dump_assembles_exactly_by_transclusion(tmp_path, site):
    dump = tmp_path / DUMP
    write_dump(dump, itertools.chain(filler_pages(40), site.pages(), filler_pages(40, seed=2)), chunk_pages=25)
    stats = ingest_pages([dump], tmp_path / "out")
    got = outputs(tmp_path / "out")
    assert {title: record["content"] for title, record in got.items()} == site.expected
    assert stats.routes == {"transclusion": len(site.expected)} and stats.orphans == 0 and stats.overlaps == 0
    assert (stats.pages, stats.article_pages, stats.redirects) == (14, len(site.articles), len(site.redirects))
    name = next(iter(site.expected))
    assert unquote(got[name]["url"]) == "https://en.wikisource.org/wiki/" + (PREFIX + name).replace(" ", "_")
    run = read_ingest_report(tmp_path / "out")["runs"][f"wikitext:{DUMP}"]
    assert set(run["articles"].values()) == {"transclusion"} and run["redirects"] == len(site.redirects)
    assert all(key.startswith(("volume_01/part_01/", "volume_02/part_01/")) for key in run["articles"])


def test_scan_pages_no_article_transcludes_fall_back_to_headwords(tmp_path, site):
    left_out = sorted(site.articles)[3]
    name = left_out[len(PREFIX):]
    pages = [page for page in site.pages() if page[0] != left_out]
    write_dump(tmp_path / "pages.xml", pages)
    stats = ingest_pages([tmp_path / "pages.xml"], tmp_path / "out")
    got = outputs(tmp_path / "out")
    assert got[site.headwords[name]]["content"] == site.expected[name]  # same text, titled by its headword
    assert stats.routes == {"transclusion": len(site.expected) - 1, "headword": 1}


def test_no_stretch_goes_to_two_articles(tmp_path, site):
    """A parent page that transcludes its sub-page's text keeps it; the sub-page gets nothing and is reported."""
    parent_title = sorted(site.articles)[0]
    parent = site.articles[parent_title]
    sub = parent.replace("{{EB1911|", "{{EB1911|sub=1|")
    pages = list(site.pages()) + [(parent_title + "/History", 0, sub, None)]
    write_dump(tmp_path / DUMP, pages)
    stats = ingest_pages([tmp_path / DUMP], tmp_path / "out")
    got = outputs(tmp_path / "out")
    name = parent_title[len(PREFIX):]
    assert got[name]["content"] == site.expected[name] and name + "/History" not in got
    assert stats.overlaps >= 1
    assert sum(record["content"].count(site.headwords[name] + ",") for record in got.values()) == 1
    overlaps = read_ingest_report(tmp_path / "out")["runs"][f"wikitext:{DUMP}"]["overlaps"]
    assert overlaps[0]["article"] == parent_title + "/History" and overlaps[0]["taken_by"] == parent_title


def test_real_pages_assemble_the_same_by_transclusion_and_by_headword(tmp_path, shared_data):
    """Article pages as Wikisource has them, over the real ABBESS … ABBOT pages
    (``Page:EB1911 - Volume 01.djvu/42–53``)."""
    tags = {
        "Abbess": "from=42 to=42 fromsection=s2 tosection=s2", "Abbeville": "from=42 to=42 onlysection=s3",
        "Abbey, Edwin Austin": 'from=42 to=42 fromsection="s4" tosection="s4"',
        "Abbey": "from=42 to=53 fromsection=s5 tosection=s1",
        "Abbon of Fleury": "from=53 to=53 fromsection=s2 tosection=s2",
    }
    article_pages = [{"title": PREFIX + name,
                      "text": f'{{{{EB1911|volume=1}}}}\n<pages index="EB1911 - Volume 01.djvu" {attributes} />'}
                     for name, attributes in tags.items()]
    (tmp_path / "articles.json").write_text(json.dumps(article_pages), encoding="utf-8")
    pages = shared_data / PAGE_WIKITEXT / "abbey_pages.json"
    both = ingest_pages([pages, tmp_path / "articles.json"], tmp_path / "both")
    alone = ingest_pages([pages], tmp_path / "alone")
    by_tag, by_headword = outputs(tmp_path / "both"), outputs(tmp_path / "alone")
    assert by_tag["Abbey"]["content"] == by_headword["ABBEY"]["content"]
    assert by_tag["Abbon of Fleury"]["content"] == by_headword["ABBON OF FLEURY"]["content"]
    assert both.routes == {"transclusion": 5, "headword": 2} and alone.routes == {"headword": 7}
    assert set(by_tag) == {*tags, "ABBOT, EZRA", "ABBOT, GEORGE"}
    assert both.orphans == alone.orphans == 1  # ABBAZIA's tail on page 42: no article page here, no headword


def test_only_eb1911_pages_are_kept_and_redirects_are_never_articles(tmp_path, site):
    assert eb1911_kind(PREFIX + "Abbey", 0) == "article" and eb1911_kind(PREFIX + "Abbey", 1) is None
    assert eb1911_kind("Page:EB1911 - Volume 01.djvu/42", 104) == "scan"
    assert eb1911_kind("Page:Other.djvu/1", 104) is None
    assert eb1911_kind(PREFIX, 0) is None and eb1911_kind("Talk:" + PREFIX + "Abbey", 1) is None
    write_dump(tmp_path / "dump.xml", itertools.chain(filler_pages(6), site.pages()))
    pages = list(iter_input(tmp_path / "dump.xml"))
    assert len(pages) == 6 + len(site.scans) + len(site.articles) + len(site.redirects)
    assert sum(page.redirect is not None for page in pages) == len(site.redirects)
    with PageStore(tmp_path / "store.sqlite") as store:
        kinds = [store.add(page) for page in pages]
        assert kinds.count("redirect") == len(site.redirects) and kinds.count(None) == 6
        assert store.count("articles") == len(site.articles) and store.count("scans") == len(site.scans)


def test_the_command_line_takes_the_dump_and_prints_what_it_left_out(tmp_path, site, capsys):
    dump = tmp_path / DUMP
    write_dump(dump, site.pages())
    assert main([str(dump), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert f"{len(site.expected)} articles ({len(site.expected)} by transclusion)" in printed
    assert "0 orphan spans" in printed and f"({len(site.redirects)} redirects skipped)" in printed
    (tmp_path / "broken.xml.bz2").write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    assert main([str(tmp_path / "broken.xml.bz2"), "--out", str(tmp_path / "out2")]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "broken.xml.bz2" in error


@pytest.mark.parametrize("damage", ["flip a bit mid-file", "flip a bit near the start", "cut in half"])
@pytest.mark.parametrize("suffix", [".xml.bz2", ".xml.gz"])
def test_a_damaged_compressed_dump_is_named_as_such_not_as_malformed_xml(tmp_path, site, capsys, damage, suffix):
    """Issue 24: a bit-flipped ``.xml.bz2`` read as "malformed XML … line 1, column 1" (lxml hides the read error)."""
    dump = tmp_path / f"pages{suffix}"
    write_dump(tmp_path / "pages.xml", itertools.chain(filler_pages(60), site.pages()))
    plain = (tmp_path / "pages.xml").read_bytes()
    data = bytearray(bz2.compress(plain) if suffix.endswith("bz2") else gzip.compress(plain))
    if damage == "cut in half":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2 if "mid" in damage else 40] ^= 0x10
    dump.write_bytes(bytes(data))
    assert main([str(dump), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    kind = "bz2" if suffix.endswith("bz2") else "gzip"
    assert err.count("\n") == 1 and str(dump) in err and "malformed XML" not in err
    assert f"the {kind} file is {'truncated' if 'cut' in damage else 'corrupt'}" in err and "download it again" in err
