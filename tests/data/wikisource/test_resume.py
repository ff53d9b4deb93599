"""Kill-and-resume: a scrape SIGKILLed at random moments and restarted ends with every article exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from babylm.data.wikisource.sample.wiki import PREFIX, expected_prose

REPO_ROOT = Path(__file__).resolve().parents[3]
KEYS = {"url", "title", "content", "timestamp"}


def test_sigkilled_runs_resume_to_exactly_the_right_files(wiki_server, read_articles, sample_wiki, tmp_path):
    # A little latency and small batches stretch a run to a couple of seconds, so that the kills land in
    # discovery, between articles and in the middle of writes.
    server = wiki_server(latency=0.08, max_limit=7)
    out = tmp_path / "britannica_data"
    command = [sys.executable, "-m", "babylm.data.wikisource", "--base-url", server.api_url, "--out", str(out),
               "--delay", "0", "--quiet"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    rng = random.Random(20240611)
    kills, files_seen = 0, []
    for _ in range(6):
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.3, 1.2))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=30)
        files_seen.append(len(list(out.glob("volume_*/part_*/*.json"))))
    final = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert kills >= 3, f"only {kills} runs were still going when killed; files after each: {files_seen}"

    articles = read_articles(out)
    by_name = {a.name: a for a in sample_wiki.articles()}
    titles = [doc["title"] for doc in articles.values()]
    assert sorted(titles) == sorted(by_name)  # every article, each once
    for doc in articles.values():
        assert set(doc) == KEYS and doc["content"] == expected_prose(by_name[doc["title"]])
    assert not list(out.rglob("*.tmp"))
    # Resuming never fetched a finished article again: at most one repeat per kill (the one in flight).
    parses = [r.params["page"] for r in server.requests if r.params.get("action") == "parse"]
    assert set(parses) == {PREFIX + name for name in by_name}
    assert len(parses) <= len(by_name) + kills
