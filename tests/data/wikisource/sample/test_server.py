"""The local fake Wikisource answers like the MediaWiki API, and its faults look like the real ones."""

from __future__ import annotations

import time

import pytest
import requests

from babylm.data.wikisource.sample.server import Faults, serve_sample
from babylm.data.wikisource.sample.wiki import PREFIX

JSON = {"format": "json", "formatversion": "2"}
HTTP = requests.Session()
HTTP.trust_env = False  # straight to 127.0.0.1, whatever proxy the environment names


def get(server, **params) -> requests.Response:
    return HTTP.get(server.api_url, params={**JSON, **params}, timeout=5)


def test_bundled_sample_is_found_and_sized_as_promised(sample_wiki):
    articles = sample_wiki.articles()
    assert 30 <= len(articles) <= 50
    assert len({a.volume for a in articles}) >= 3
    words = sum(len(a.body.split()) for a in articles)
    assert 10_000 <= words <= 13_000
    kinds = {p.kind for p in sample_wiki.pages.values()}
    assert {"article", "redirect", "other", "frontmatter", "listing"} <= kinds


def test_allpages_continuation_lists_every_prefixed_page_once(wiki_server, sample_wiki):
    server = wiki_server(max_limit=5)
    seen, params, calls = [], {"action": "query", "list": "allpages", "apprefix": PREFIX, "aplimit": "max"}, 0
    while True:
        data = get(server, **params).json()
        seen += [p["title"] for p in data["query"]["allpages"]]
        calls += 1
        if "continue" not in data:
            break
        params = {**params, **data["continue"]}
    expected = {t for t, p in sample_wiki.pages.items() if t.startswith(PREFIX) and p.namespace == 0}
    assert sorted(seen) == sorted(expected) and calls > 2
    assert seen == sorted(seen, key=lambda t: t.replace(" ", "_").encode())  # MediaWiki's binary order


def test_generator_batches_are_complete_only_after_their_template_continuations(wiki_server):
    server = wiki_server(max_limit=4)
    base = {"action": "query", "generator": "allpages", "gapprefix": PREFIX, "gaplimit": "max",
            "prop": "templates|info", "tlnamespace": "104", "tllimit": "max", "inprop": "url", "redirects": "1"}
    templates: dict[str, set[str]] = {}  # a redirect target shows up again in its own batch
    redirects, last, saw_partial = {}, {}, False
    while True:
        data = get(server, **base, **last).json()
        saw_partial |= "batchcomplete" not in data
        for page in data["query"]["pages"]:
            templates.setdefault(page["title"], set()).update(t["title"] for t in page.get("templates", []))
        redirects.update({r["from"]: r["to"] for r in data["query"].get("redirects", [])})
        if "continue" not in data:
            break
        last = data["continue"]
    assert saw_partial
    assert templates[PREFIX + "Albatross"] == {"Page:EB1911 - Volume 01.djvu/500", "Page:EB1911 - Volume 01.djvu/501"}
    assert redirects[PREFIX + "Albatros"] == PREFIX + "Albatross"
    assert templates[PREFIX + "Mercury"] == set()  # no scan page: not an article


def test_parse_returns_wikisource_like_html_and_errors_like_mediawiki(wiki_server):
    server = wiki_server()
    parse = get(server, action="parse", page=PREFIX + "Abacus", prop="text|templates").json()["parse"]
    assert parse["title"] == PREFIX + "Abacus"
    for marker in ('class="prp-pages-output"', 'class="pagenum ws-pagenum"', 'class="reference"', "headerContainer"):
        assert marker in parse["text"]
    assert {"ns": 104, "title": "Page:EB1911 - Volume 01.djvu/37", "exists": True} in parse["templates"]
    redirected = get(server, action="parse", page=PREFIX + "Albatros", redirects="1").json()["parse"]
    assert redirected["title"] == PREFIX + "Albatross"
    assert redirected["redirects"] == [{"from": PREFIX + "Albatros", "to": PREFIX + "Albatross"}]
    missing = get(server, action="parse", page=PREFIX + "Nonesuch")
    assert missing.status_code == 200 and missing.json()["error"]["code"] == "missingtitle"
    assert missing.headers["MediaWiki-API-Error"] == "missingtitle"


def test_faults_are_served_once_each_in_order(wiki_server):
    sequence = ["429", "503", "500", "maxlag", "not-json", "truncated-html", "missing"]
    faults = Faults(parse={"Abacus": list(sequence)}, retry_after=3)
    server = wiki_server(faults=faults)
    answers = [get(server, action="parse", page=PREFIX + "Abacus") for _ in range(8)]
    assert [a.status_code for a in answers] == [429, 503, 500, 200, 200, 200, 200, 200]
    assert answers[0].headers["Retry-After"] == "3" and answers[1].headers["Retry-After"] == "3"
    assert answers[3].json()["error"]["code"] == "maxlag" and answers[3].headers["Retry-After"] == "3"
    with pytest.raises(ValueError):
        answers[4].json()
    assert not answers[5].json()["parse"]["text"].rstrip().endswith("</div>")
    assert answers[6].json()["error"]["code"] == "missingtitle"
    assert "parse" in answers[7].json()
    assert [r.fault for r in server.requests] == [*sequence, None]


def test_hung_and_truncated_answers_break_the_client_as_the_network_would(wiki_server):
    server = wiki_server(faults=Faults(parse={"Adder": ["hang", "truncated-body"]}, hang_seconds=5))
    with pytest.raises(requests.Timeout):
        get_with_timeout(server, 0.3)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get_with_timeout(server, 5)


def get_with_timeout(server, timeout: float) -> requests.Response:
    return HTTP.get(server.api_url, params={**JSON, "action": "parse", "page": PREFIX + "Adder"}, timeout=timeout)


def test_latency_delays_every_answer_and_serve_sample_yields_the_api_url():
    with serve_sample(latency=0.2) as url:
        started = time.monotonic()
        answer = HTTP.get(url, params={**JSON, "action": "parse", "page": PREFIX + "Bee"}, timeout=5)
        assert time.monotonic() - started >= 0.2
    assert url.startswith("http://127.0.0.1:") and url.endswith("/w/api.php")
    assert answer.json()["parse"]["title"] == PREFIX + "Bee"


def test_unknown_fault_names_are_refused():
    with pytest.raises(ValueError, match="unknown fault"):
        Faults(query=["teapot"])
