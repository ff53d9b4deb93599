"""The BLiMP download against hostile servers and hostile names: bounded, contained, one line each.

Issue 24: ``evaluate --blimp-url`` to a never-ending stream read 5.5 GB into memory (``MemoryError``), a server
dripping a byte every 0.5 s never let it finish, a gzip bomb became a 454 MB paradigm; ``--paradigms ../../x``
wrote ``./x.jsonl`` and an absolute path wrote wherever it named, with the server's content.
"""

from __future__ import annotations

import fcntl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from babylm.commands.evaluate import main as evaluate_main
from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR
from babylm.evaluation.fetch import BlimpFetchError, fetch_blimp, missing_paradigms
from tests.hostile_http import serve

NAME = "sample_npi_licensing"
PARADIGM = (SAMPLE_BLIMP_DIR / f"{NAME}.jsonl").read_bytes()


@pytest.fixture(scope="module")
def hostile():
    with serve({f"/data/{NAME}.jsonl": PARADIGM, "/forever/p.jsonl": "forever", "/drip/p.jsonl": "drip-body",
                "/head/p.jsonl": "drip-head", "/bomb/p.jsonl": "bomb"}) as url:
        yield url


def left_in(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_never_ending_stream_is_refused_at_the_cap_through_evaluate(tmp_path, hostile, llama_dir, monkeypatch,
                                                                      capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["--model", str(llama_dir), "--blimp-url", hostile + "/forever", "--paradigms", "p", "--out", "report"]
    assert evaluate_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("babylm evaluate: error: cannot download BLiMP paradigm p")
    assert "larger than 16.0 MiB" in err[-1]
    assert left_in(tmp_path / "data" / "blimp") == [".fetch.lock"]  # nothing half-written stays


@pytest.mark.parametrize("route, timeout, expected", [("/drip", 1, "no complete answer within 1 s"),
                                                      ("/head", 1, "no complete answer within 1 s"),
                                                      ("/bomb", 30, "larger than 16.0 MiB once decompressed")])
def test_slow_or_bombed_downloads_are_refused_in_one_line(tmp_path, hostile, route, timeout, expected):
    with pytest.raises(BlimpFetchError) as caught:
        fetch_blimp(tmp_path / "blimp", base_url=hostile + route, paradigms=["p"], timeout=timeout)
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert left_in(tmp_path / "blimp") == [".fetch.lock"]


@pytest.fixture
def answers_everything():
    """A server answering every path with a valid paradigm: what made ``../`` names write outside the folder."""
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            requested.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(PARADIGM)))
            self.end_headers()
            self.wfile.write(PARADIGM)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/data", requested
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("name", ["../../x", "../evil", "/ABSOLUTE/evil", "a/b", "..", ".hidden", "a\\b", "a\x00b"])
def test_a_paradigm_name_is_a_file_stem(tmp_path, answers_everything, llama_dir, monkeypatch, capsys, name):
    base_url, requested = answers_everything
    monkeypatch.chdir(tmp_path)
    name = name.replace("/ABSOLUTE", str(tmp_path / "abs"))
    argv = ["--model", str(llama_dir), "--blimp-url", base_url, "--paradigms", name or ",", "--out", "report"]
    code = evaluate_main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    if name:
        assert code == 2 and len(err) == 1 and "is not a file stem" in err[0], err
        assert requested == []  # refused before anything was asked of the server
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jsonl")) == []
    with pytest.raises(BlimpFetchError, match="not a file stem"):
        missing_paradigms(tmp_path, ["../x"])


def test_partial_files_of_a_killed_fetch_are_removed_and_one_fetch_runs_at_a_time(tmp_path, hostile):
    target = tmp_path / "blimp"
    target.mkdir()
    for leftover in (f".{NAME}.jsonl.download", f".{NAME}.jsonl.download.a1b2c3d4.tmp", ".other.jsonl.download"):
        (target / leftover).write_bytes(b"half")
    (target / "notes.txt").write_text("mine")
    fetch_blimp(target, base_url=hostile + "/data", paradigms=[NAME])
    assert left_in(target) == [".fetch.lock", "notes.txt", f"{NAME}.jsonl"]
    (target / f"{NAME}.jsonl").unlink()
    with open(target / ".fetch.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(BlimpFetchError, match="another BLiMP download is writing"):
            fetch_blimp(target, base_url=hostile + "/data", paradigms=[NAME])
