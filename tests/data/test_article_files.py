"""The article file layout shared by the scraper and the ingests."""

import json

from babylm.data.article_files import article_relpath, number_repeats, write_article


def test_relpath_is_the_documented_layout():
    assert article_relpath(4, 12, "Brescia") == "volume_04/part_12/Brescia.json"


def test_repeats_are_numbered_within_their_group_only():
    titles = ["ABBEY", "ABBOT", "ABBEY", "ABBEY", "ABBOT"]
    assert number_repeats(titles) == ["ABBEY", "ABBOT", "ABBEY (2)", "ABBEY (3)", "ABBOT (2)"]
    assert number_repeats(titles, groups=[1, 1, 2, 1, 2]) == ["ABBEY", "ABBOT", "ABBEY", "ABBEY (2)", "ABBOT"]


def test_written_record_has_exactly_the_four_fields(tmp_path):
    path = tmp_path / article_relpath(1, 1, "A")
    write_article(path, url="u", title="A", content="text", timestamp="t")
    assert json.loads(path.read_text(encoding="utf-8")) == {"url": "u", "title": "A", "content": "text", "timestamp": "t"}
    assert [p.name for p in path.parent.iterdir()] == ["A.json"]  # no temporary file left behind
