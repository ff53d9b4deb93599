"""Downloading BLiMP: a real HTTP server on 127.0.0.1 stands in for GitHub; offline gives one clear line."""

from __future__ import annotations

import socket
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from babylm.commands.evaluate import main as evaluate_main
from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR, load_paradigm
from babylm.evaluation.fetch import BLIMP_PARADIGMS, BlimpFetchError, fetch_blimp, missing_paradigms

NAMES = ["sample_npi_licensing", "sample_wh_question_gap"]


@pytest.fixture
def blimp_server(tmp_path):
    """Serve ``tmp_path/upstream/data/`` over HTTP; yields ``(base_url, data_dir, requested_paths)``."""
    data = tmp_path / "upstream" / "data"
    data.mkdir(parents=True)
    for name in NAMES:
        (data / f"{name}.jsonl").write_bytes((SAMPLE_BLIMP_DIR / f"{name}.jsonl").read_bytes())
    requested: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self):
            requested.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(tmp_path / "upstream")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/data", data, requested
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_fetch_downloads_missing_files_once(tmp_path, blimp_server):
    base_url, data, requested = blimp_server
    target = tmp_path / "data" / "blimp"
    assert fetch_blimp(target, base_url=base_url, paradigms=NAMES) == target
    for name in NAMES:
        assert (target / f"{name}.jsonl").read_bytes() == (data / f"{name}.jsonl").read_bytes()
        assert len(load_paradigm(target / f"{name}.jsonl").pairs) == 24
    assert sorted(requested) == [f"/data/{name}.jsonl" for name in NAMES]
    fetch_blimp(target, base_url=base_url, paradigms=NAMES)
    assert len(requested) == 2  # already there: nothing downloaded again
    assert [p.name for p in target.glob(".*")] == [".fetch.lock"]  # no temporary files left


def test_fetch_resumes_after_a_missing_file_and_rejects_a_non_blimp_download(tmp_path, blimp_server):
    base_url, data, requested = blimp_server
    target = tmp_path / "blimp"
    with pytest.raises(BlimpFetchError, match="not_a_paradigm") as caught:
        fetch_blimp(target, base_url=base_url, paradigms=[NAMES[0], "not_a_paradigm", NAMES[1]])
    assert "404" in str(caught.value) and "1 of 3 fetched" in str(caught.value)
    assert missing_paradigms(target, NAMES) == [NAMES[1]]

    (data / "garbage.jsonl").write_text("<html>rate limited</html>\n", encoding="utf-8")
    with pytest.raises(BlimpFetchError, match="not a BLiMP file"):
        fetch_blimp(target, base_url=base_url, paradigms=["garbage"])
    assert not (target / "garbage.jsonl").exists()
    assert [p.name for p in target.glob(".*")] == [".fetch.lock"]


def test_offline_fetch_is_one_clear_line_pointing_to_blimp_dir(tmp_path):
    base_url = f"http://127.0.0.1:{closed_port()}/data"
    with pytest.raises(BlimpFetchError) as caught:
        fetch_blimp(tmp_path / "blimp", base_url=base_url, paradigms=NAMES, timeout=5)
    message = str(caught.value)
    assert "cannot download BLiMP paradigm sample_npi_licensing" in message
    assert "--blimp-dir" in message and "ConnectionError" in message
    assert "\n" not in message
    assert not (tmp_path / "blimp" / "sample_npi_licensing.jsonl").exists()


def test_evaluate_without_blimp_dir_fetches_into_data_blimp(tmp_path, blimp_server, llama_dir, monkeypatch, capsys):
    base_url, _, requested = blimp_server
    monkeypatch.chdir(tmp_path)  # the default folder is data/blimp under the working directory
    argv = ["--model", str(llama_dir), "--blimp-url", base_url, "--paradigms", NAMES[0], "--out", "report"]
    assert evaluate_main(argv) == 0
    assert (tmp_path / "data" / "blimp" / f"{NAMES[0]}.jsonl").is_file()
    assert (tmp_path / "report" / "blimp.json").is_file()
    assert "first use" in capsys.readouterr().err
    assert evaluate_main(argv) == 0  # second run: no download
    assert requested == [f"/data/{NAMES[0]}.jsonl"]


def test_evaluate_offline_without_blimp_dir_says_what_to_do(tmp_path, llama_dir, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["--model", str(llama_dir), "--blimp-url", f"http://127.0.0.1:{closed_port()}/data"]
    assert evaluate_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "fetching 67 BLiMP paradigms" in err[0]
    assert err[-1].startswith("babylm evaluate: error: cannot download BLiMP") and "--blimp-dir" in err[-1]


def test_paradigm_list_is_the_67_upstream_files(shared_data):
    assert len(BLIMP_PARADIGMS) == len(set(BLIMP_PARADIGMS)) == 67
    assert {p.stem for p in (shared_data / "blimp-dev").glob("*.jsonl")} <= set(BLIMP_PARADIGMS)
