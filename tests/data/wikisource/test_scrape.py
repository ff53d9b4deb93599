"""The scrape stage end to end against the local fake Wikisource: layout, content, faults, politeness."""

from __future__ import annotations

import fcntl
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from babylm.data.wikisource.sample.server import Faults
from babylm.data.wikisource.sample.wiki import PREFIX, expected_prose, wiki_path
from babylm.data.wikisource.scrape import main as scrape_main

REPO_ROOT = Path(__file__).resolve().parents[3]
KEYS = {"url", "title", "content", "timestamp"}


def parse_requests(server, name: str | None = None) -> list:
    return [r for r in server.requests if r.params.get("action") == "parse"
            and (name is None or r.params.get("page") == PREFIX + name)]


def test_scraping_the_sample_gives_the_documented_layout_and_text(wiki_server, run_scrape, read_articles,
                                                                   sample_wiki, tmp_path):
    server = wiki_server()
    out = tmp_path / "britannica_data"
    assert run_scrape(server, out) == 0

    articles = read_articles(out)
    by_name = {a.name: a for a in sample_wiki.articles()}
    assert sorted(doc["title"] for doc in articles.values()) == sorted(by_name)
    for path, doc in articles.items():
        article = by_name[doc["title"]]
        part = (article.first_page - 1) // 100 + 1
        assert path.startswith(f"volume_{article.volume:02d}/part_{part:02d}/")
        assert set(doc) == KEYS
        assert doc["content"] == expected_prose(article)
        assert doc["url"] == f"http://{server.api_url.split('/')[2]}{wiki_path(article.title)}"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["timestamp"])
    assert "volume_01/part_01/Abacus.json" in articles
    assert "volume_03/part_06/Béarn.json" in articles
    assert any(p.startswith("volume_03/part_08/Bell_Change Ringing~") for p in articles)

    progress = json.loads((out / "progress.json").read_text(encoding="utf-8"))
    assert (progress["selected"], progress["done"], progress["failed"], progress["pending"]) == (38, 38, 0, 0)
    assert "saved '1911 Encyclopædia Britannica/Abacus'" in (out / "scraper.log").read_text(encoding="utf-8")
    discovery = json.loads((out / "discovery.json").read_text(encoding="utf-8"))
    for skipped in ("Mercury", "Volume 1", "Prefatory Note"):
        assert PREFIX + skipped in discovery["skipped"]
    assert discovery["redirects"][PREFIX + "Albatros"] == PREFIX + "Albatross"
    assert not list(out.rglob("*.tmp"))


def test_a_second_run_downloads_nothing_and_changes_nothing(wiki_server, run_scrape, tmp_path):
    server = wiki_server()
    assert run_scrape(server, tmp_path) == 0
    before = {p: p.stat().st_mtime_ns for p in tmp_path.glob("volume_*/part_*/*.json")}
    served = len(server.requests)
    assert run_scrape(server, tmp_path) == 0
    assert len(server.requests) == served  # catalogue reused, every article already on disk
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("volume_*/part_*/*.json")} == before


def test_limit_and_volumes_select_a_partial_run_in_book_order(wiki_server, run_scrape, read_articles, tmp_path):
    server = wiki_server()
    assert run_scrape(server, tmp_path, "--volumes", "3", "--limit", "4") == 0
    titles = [doc["title"] for doc in read_articles(tmp_path).values()]
    assert sorted(titles) == ["Bach, Johann Sebastian", "Badger", "Balloon", "Barometer"]
    assert run_scrape(server, tmp_path, "--volumes", "1,3") == 0
    volumes = {path.split("/")[0] for path in read_articles(tmp_path)}
    assert volumes == {"volume_01", "volume_03"} and len(read_articles(tmp_path)) == 10 + 11


def test_transient_faults_are_retried_until_every_article_is_saved(wiki_server, run_scrape, read_articles,
                                                                   sample_wiki, tmp_path):
    faults = Faults(
        parse={"Abacus": ["429", "500"], "Adder": ["hang"], "Alum": ["truncated-body", "not-json"],
               "Amber": ["truncated-html", "maxlag"], "Anchor": ["malformed-html"], "Bee": ["503"]},
        query=["500", "429", "none", "truncated-body"], retry_after=1, hang_seconds=5)
    server = wiki_server(faults=faults)
    assert run_scrape(server, tmp_path, "--timeout", "0.5") == 0
    articles = {doc["title"]: doc for doc in read_articles(tmp_path).values()}
    assert len(articles) == 38
    for article in sample_wiki.articles():
        assert articles[article.name]["content"] == expected_prose(article)
    abacus = parse_requests(server, "Abacus")
    assert [r.fault for r in abacus] == ["429", "500", None]
    assert abacus[1].at - abacus[0].at >= 0.95  # Retry-After: 1 honoured
    progress = json.loads((tmp_path / "progress.json").read_text(encoding="utf-8"))
    # one retry per injected fault, except malformed-html, which is recovered rather than retried
    assert progress["retries"] == 11 and progress["failed_titles"] == {}


def test_an_article_that_keeps_failing_is_recorded_then_retried_by_the_next_run(wiki_server, run_scrape, tmp_path):
    server = wiki_server(faults=Faults(parse={"Basalt": ["500"] * 6}))
    target = tmp_path / "volume_03/part_05/Basalt.json"
    assert run_scrape(server, tmp_path, "--max-tries", "3") == 1
    progress = json.loads((tmp_path / "progress.json").read_text(encoding="utf-8"))
    assert list(progress["failed_titles"]) == [PREFIX + "Basalt"]
    assert "HTTP 500" in progress["failed_titles"][PREFIX + "Basalt"]["error"]
    assert not target.exists() and progress["done"] == 37

    assert run_scrape(server, tmp_path, "--max-tries", "3", "--skip-failed") == 1
    assert len(parse_requests(server, "Basalt")) == 3  # skipped, not asked again

    assert run_scrape(server, tmp_path, "--max-tries", "3") == 1  # three more 500s: still failing
    assert run_scrape(server, tmp_path, "--max-tries", "3") == 0
    progress = json.loads((tmp_path / "progress.json").read_text(encoding="utf-8"))
    assert target.exists() and progress["failed_titles"] == {} and progress["done"] == 38


def test_vanished_and_redirected_pages_are_skipped_and_never_duplicated(wiki_server, run_scrape, read_articles,
                                                                        tmp_path):
    server = wiki_server(faults=Faults(parse={"Anchor": ["missing"], "Badger": ["redirect:Bison"]}))
    assert run_scrape(server, tmp_path) == 0
    titles = [doc["title"] for doc in read_articles(tmp_path).values()]
    assert len(titles) == 36 and titles.count("Bison") == 1 and "Anchor" not in titles and "Badger" not in titles
    skipped = json.loads((tmp_path / "progress.json").read_text(encoding="utf-8"))["skipped_titles"]
    assert "missingtitle" in skipped[PREFIX + "Anchor"] and "Bison" in skipped[PREFIX + "Badger"]
    assert run_scrape(server, tmp_path) == 0
    assert len(parse_requests(server, "Anchor")) == 1  # a recorded skip is not asked again


def test_requests_are_serial_spaced_and_identify_the_scraper(wiki_server, tmp_path):
    server = wiki_server()
    code = scrape_main(["--base-url", server.api_url, "--out", str(tmp_path), "--limit", "4", "--delay", "0.1",
                        "--contact", "ops@example.org", "--quiet"])
    assert code == 0
    assert server.max_in_flight == 1
    for record in server.requests:
        assert record.params["maxlag"] == "5"
        assert record.user_agent.startswith("babylm-scraper/") and "ops@example.org" in record.user_agent
    arrivals = [r.at for r in server.requests]
    assert min(b - a for a, b in zip(arrivals, arrivals[1:])) >= 0.1


@pytest.mark.parametrize("args, message", [
    (["--volumes", "x"], "--volumes: 'x' is not a volume number"),
    (["--volumes", "30"], "outside EB1911's volumes"),
    (["--limit", "0"], "argument --limit: 0 is not a positive integer"),
    (["--timeout", "0"], "argument --timeout: 0 is not a number above 0"),
    (["--timeout", "nan"], "argument --timeout: nan is not"),
    (["--delay", "1e300"], "argument --delay: 1e300 is not a number from 0 to 86400"),  # time.sleep overflowed
    (["--maxlag", "99999999999999999999"], "argument --maxlag"),
    (["--base-url", "ftp://example.org/api.php"], "is not an http(s) URL"),
    (["--base-url", "https://en.wikisource.org/w/api.php"], "--contact is required"),
])
def test_bad_options_give_one_line_and_exit_code_2(args, message, tmp_path, capsys):
    try:
        code = scrape_main(["--out", str(tmp_path / "out"), "--base-url", "http://127.0.0.1:9/w/api.php", *args])
    except SystemExit as exit_:  # refused by argparse, as it parses
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(("scrape: error: ", "babylm.data.wikisource: error: "))  # ours, or argparse's
    assert message in err and err.count("\n") == 1


def test_an_unusable_output_folder_is_reported(tmp_path, capsys):
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    assert scrape_main(["--out", str(a_file), "--base-url", "http://127.0.0.1:9/w/api.php"]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err


def test_a_run_stops_when_the_server_keeps_failing(wiki_server, run_scrape, tmp_path):
    server = wiki_server(faults=Faults(parse={name: ["500"] for name in ("Abacus", "Acre (measure)", "Adder")}))
    assert run_scrape(server, tmp_path, "--max-tries", "1", "--max-consecutive-failures", "2") == 1
    assert [r.params["page"] for r in parse_requests(server)] == [PREFIX + "Abacus", PREFIX + "Acre (measure)"]
    assert "articles in a row failed" in (tmp_path / "scraper.log").read_text(encoding="utf-8")


def test_a_damaged_catalogue_is_reported_not_trusted(wiki_server, run_scrape, tmp_path, capsys):
    (tmp_path / "discovery.json").write_text('{"version": 1, "articles": [', encoding="utf-8")
    assert run_scrape(wiki_server(), tmp_path) == 2
    err = capsys.readouterr().err
    assert "is not a usable discovery file" in err and "--rediscover" in err and err.count("\n") == 1


def test_a_folder_being_scraped_is_not_scraped_twice_at_once(wiki_server, run_scrape, tmp_path, capsys):
    server = wiki_server()
    with open(tmp_path / ".articles.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        assert run_scrape(server, tmp_path) == 2
    assert "another scrape or ingest is writing" in capsys.readouterr().err
    assert server.requests == []


def test_a_catalogue_from_another_wiki_is_refused_unless_rediscovered(wiki_server, run_scrape, tmp_path, capsys):
    server = wiki_server()
    assert run_scrape(server, tmp_path, "--limit", "1") == 0
    catalogue = json.loads((tmp_path / "discovery.json").read_text(encoding="utf-8"))
    catalogue["base_url"] = "https://de.wikisource.org/w/api.php"
    (tmp_path / "discovery.json").write_text(json.dumps(catalogue), encoding="utf-8")
    assert run_scrape(server, tmp_path, "--limit", "1") == 2
    assert "pass --rediscover" in capsys.readouterr().err
    assert run_scrape(server, tmp_path, "--limit", "1", "--rediscover") == 0


def test_a_local_server_on_a_new_port_is_listed_again_and_finished_work_kept(wiki_server, run_scrape, tmp_path):
    first, second = wiki_server(), wiki_server()
    assert run_scrape(first, tmp_path, "--limit", "5") == 0
    assert run_scrape(second, tmp_path) == 0
    assert len(parse_requests(second)) == 38 - 5


def test_the_bundled_sample_scrapes_offline_with_one_option(read_articles, tmp_path):
    assert scrape_main(["--sample", "--out", str(tmp_path), "--delay", "0", "--quiet", "--volumes", "18"]) == 0
    assert len(read_articles(tmp_path)) == 8
    assert scrape_main(["--sample", "--base-url", "http://127.0.0.1:9/w/api.php", "--out", str(tmp_path)]) == 2


def test_discovery_stopped_midway_resumes_from_its_saved_point(wiki_server, run_scrape, tmp_path):
    server = wiki_server(faults=Faults(query=["none"] * 3 + ["500"] * 3))
    assert run_scrape(server, tmp_path, "--max-tries", "3") == 1
    saved = json.loads((tmp_path / "discovery.json").read_text(encoding="utf-8"))
    assert saved["complete"] is False and saved["continue"] and 0 < len(saved["articles"]) < 38
    queries_before = len(server.requests)
    assert run_scrape(server, tmp_path) == 0
    resumed = server.requests[queries_before]
    assert resumed.params.get("gapcontinue") == saved["continue"]["gapcontinue"]
    final = json.loads((tmp_path / "discovery.json").read_text(encoding="utf-8"))
    assert final["complete"] is True and len(final["articles"]) == 38


def test_help_works_from_the_module_and_the_script():
    for command in ([sys.executable, "-m", "babylm.data.wikisource", "--help"],
                    [sys.executable, "scripts/scrape.py", "--help"]):
        result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "--volumes" in result.stdout and "--contact" in result.stdout


def test_a_tree_an_ingest_wrote_is_not_scraped_into(wiki_server, run_scrape, tmp_path, capsys):
    """One writer per article tree: the scraper would treat an ingest's article files as its own (issue 24)."""
    server = wiki_server()
    (tmp_path / "ingest_report.json").write_text('{"version": 1, "runs": {}}', encoding="utf-8")
    assert run_scrape(server, tmp_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "an offline ingest wrote" in err
    assert server.requests == []
