"""Bad bytes from the network never kill a scrape: odd JSON, trickling bodies, huge or redirect-only pages.

Every fault is served over real HTTP by the local fake Wikisource (``Faults`` of the sample server).
"""

from __future__ import annotations

import json
import time

from babylm.data.wikisource.sample.server import Faults
from babylm.data.wikisource.sample.wiki import PREFIX

BAD_SHAPES = ["deep-json", "v1-shape", "no-title", "query-list"]


def progress_of(out):
    return json.loads((out / "progress.json").read_text(encoding="utf-8"))


def test_bad_discovery_replies_are_retried_like_any_bad_answer(wiki_server, run_scrape, read_articles, tmp_path):
    server = wiki_server(faults=Faults(query=list(BAD_SHAPES)))
    assert run_scrape(server, tmp_path) == 0
    assert len(read_articles(tmp_path)) == 38
    log = (tmp_path / "scraper.log").read_text(encoding="utf-8")
    for reason in ("nested too deeply", "'pages' or 'redirects' is not a list", "a page without a title",
                   "'query' is not an object"):
        assert reason in log
    assert "Traceback" not in log


def test_bad_discovery_replies_that_keep_coming_fail_in_one_line(wiki_server, run_scrape, tmp_path, capsys):
    server = wiki_server(faults=Faults(query=["v1-shape", "v1-shape"]))
    assert run_scrape(server, tmp_path, "--max-tries", "2") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "discovery failed" in err and "gave up after 2 tries" in err


def test_bad_parse_replies_are_retried_then_recorded_as_failed(wiki_server, run_scrape, read_articles, tmp_path):
    faults = Faults(parse={"Abacus": ["deep-json", "v1-shape", "query-list"], "Adder": ["deep-json"] * 3})
    server = wiki_server(faults=faults)
    assert run_scrape(server, tmp_path, "--limit", "4", "--max-tries", "3") == 1
    titles = {doc["title"] for doc in read_articles(tmp_path).values()}
    assert "Abacus" not in titles and "Adder" not in titles  # three bad answers each: given up
    failed = progress_of(tmp_path)["failed_titles"]
    assert failed[PREFIX + "Adder"]["tries"] == 3 and "nested too deeply" in failed[PREFIX + "Adder"]["error"]
    assert failed[PREFIX + "Abacus"]["tries"] == 3
    assert run_scrape(server, tmp_path, "--limit", "4") == 0  # the next run gets good answers
    assert {"Abacus", "Adder"} <= {doc["title"] for doc in read_articles(tmp_path).values()}


def test_a_trickling_body_is_cut_off_at_the_timeout(wiki_server, run_scrape, tmp_path):
    server = wiki_server(faults=Faults(parse={"Abacus": ["drip"]}, drip_seconds=0.5))
    start = time.monotonic()
    assert run_scrape(server, tmp_path, "--limit", "1", "--max-tries", "1", "--timeout", "1") == 1
    assert time.monotonic() - start < 5  # one byte every 0.5 s would take an hour for the whole page
    error = progress_of(tmp_path)["failed_titles"][PREFIX + "Abacus"]["error"]
    assert "no complete answer within 1s" in error


def test_transient_api_errors_are_retried_and_404_403_counted_once(wiki_server, run_scrape, read_articles, tmp_path):
    faults = Faults(parse={"Abacus": ["concurrency-limit", "concurrency-limit"], "Adder": ["404"], "Alum": ["403"]})
    server = wiki_server(faults=faults)
    assert run_scrape(server, tmp_path, "--volumes", "1") == 1
    titles = {doc["title"] for doc in read_articles(tmp_path).values()}
    assert "Abacus" in titles
    failed = progress_of(tmp_path)["failed_titles"]
    assert set(failed) == {PREFIX + "Adder", PREFIX + "Alum"}
    assert failed[PREFIX + "Adder"]["tries"] == 1 and "http404" in failed[PREFIX + "Adder"]["error"]
    assert failed[PREFIX + "Alum"]["tries"] == 1 and "http403" in failed[PREFIX + "Alum"]["error"]
    assert run_scrape(server, tmp_path, "--volumes", "1") == 0
    assert progress_of(tmp_path)["failed_titles"] == {}


def test_a_ten_megabyte_text_node_is_read_not_dropped(wiki_server, run_scrape, read_articles, tmp_path):
    server = wiki_server(faults=Faults(parse={"Abacus": ["huge-text"]}))
    assert run_scrape(server, tmp_path, "--limit", "1") == 0
    [doc] = read_articles(tmp_path).values()
    assert doc["content"].split("\n\n")[-1] == "long " * 2_100_000 + "end"


def test_a_double_redirect_is_skipped_with_a_reason_never_saved(wiki_server, run_scrape, read_articles, tmp_path):
    server = wiki_server(faults=Faults(parse={"Abacus": ["double-redirect:Abacus (old)"]}))
    assert run_scrape(server, tmp_path, "--limit", "2") == 0
    docs = read_articles(tmp_path).values()
    assert [doc["title"] for doc in docs] == ["Acre (measure)"]
    assert not any("Redirect to" in doc["content"] for doc in docs)
    reason = progress_of(tmp_path)["skipped_titles"][PREFIX + "Abacus"]
    assert "double redirect" in reason and "Abacus" in reason
