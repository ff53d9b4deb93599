"""The one download helper: an overall deadline, a size cap after decompression, streaming, one-line refusals.

Each case is a loopback server that misbehaves (``tests/hostile_http.py``): issue 24 found ``evaluate
--blimp-url`` reading a never-ending stream until ``MemoryError`` (5.5 GB), never finishing against a server
dripping a byte every 0.5 s, and accepting a gzip bomb as a 454 MB paradigm.
"""

from __future__ import annotations

import gzip
import time
import zlib

import pytest

from babylm.core.downloads import DownloadError, _Inflater, open_session, read_bytes, read_response
from tests.hostile_http import serve

BODY = b'{"sentence_good": "a", "sentence_bad": "b"}\n' * 100


@pytest.fixture(scope="module")
def hostile():
    with serve({"/ok": BODY, "/forever": "forever", "/drip-body": "drip-body", "/drip-head": "drip-head",
                "/silent": "silent", "/bomb": "bomb", "/huge-length": "huge-length", "/brotli": "brotli",
                "/gzip": ("gzip", BODY), "/missing": ("status", 404)}) as url:
        yield url


@pytest.fixture
def session():
    with open_session("babylm-tests") as session:
        yield session


def refused(session, url, kind, timeout=1.0, max_bytes=1 << 20) -> str:
    chunks: list[bytes] = []
    started = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        read_response(session, url, timeout=timeout, max_bytes=max_bytes, sink=chunks.append)
    assert time.monotonic() - started < timeout + 3  # the deadline holds, whatever the server does
    assert caught.value.kind == kind, caught.value
    message = str(caught.value)
    assert "\n" not in message and url in message
    assert sum(map(len, chunks)) <= max_bytes  # never more than the cap reached the sink
    return message


def test_a_normal_answer_streams_to_the_sink(hostile, session):
    reply, body = read_bytes(session, hostile + "/ok", timeout=5, max_bytes=1 << 20)
    assert (reply.status, reply.size, body) == (200, len(BODY), BODY)
    missing = read_response(session, hostile + "/missing", timeout=5, max_bytes=10, sink=lambda data: None)
    assert (missing.status, missing.size) == (404, 0)


def test_a_stream_that_never_ends_is_cut_at_the_cap(hostile, session):
    assert "larger than 1.0 MiB" in refused(session, hostile + "/forever", "too_large", timeout=20)


@pytest.mark.parametrize("path", ["/drip-body", "/drip-head", "/silent"])
def test_the_deadline_covers_the_whole_answer_not_each_read(hostile, session, path):
    assert "no complete answer within 1 s" in refused(session, hostile + path, "timeout")


def test_a_gzip_bomb_is_refused_by_its_decompressed_size(hostile, session):
    assert "once decompressed" in refused(session, hostile + "/bomb", "too_large", timeout=20)


def test_an_announced_length_over_the_cap_is_refused_before_reading(hostile, session):
    assert "Content-Length" in refused(session, hostile + "/huge-length", "too_large", timeout=20)


def test_an_unsupported_encoding_is_refused(hostile, session):
    assert "Content-Encoding 'br'" in refused(session, hostile + "/brotli", "encoding", timeout=20)


def test_gzip_and_deflate_bodies_are_inflated_and_corrupt_ones_named(hostile, session):
    reply, body = read_bytes(session, hostile + "/gzip", timeout=5, max_bytes=1 << 20)
    assert (reply.status, body, reply.size) == (200, BODY, len(BODY))

    def inflate(encoding: str, data: bytes) -> bytes:
        inflater = _Inflater(encoding, "http://x/y")
        return b"".join([*inflater.feed(data), *inflater.finish()])

    assert inflate("gzip", gzip.compress(BODY) + gzip.compress(b"more")) == BODY + b"more"  # two gzip members
    assert inflate("deflate", zlib.compress(BODY)) == BODY
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert inflate("deflate", raw.compress(BODY) + raw.flush()) == BODY  # deflate without the zlib wrapper
    with pytest.raises(DownloadError, match="truncated"):
        inflate("gzip", gzip.compress(BODY)[:-20])
    corrupt = bytearray(gzip.compress(BODY))
    corrupt[30] ^= 0xFF
    with pytest.raises(DownloadError, match="corrupt"):
        inflate("gzip", bytes(corrupt))


def test_a_refused_connection_is_one_line(session):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert "cannot connect" in refused(session, f"http://127.0.0.1:{port}/x", "connection", timeout=5)


def test_the_wandb_probe_uses_the_same_deadline(hostile):
    from babylm.training.wandb_mode import server_answers

    assert server_answers({"WANDB_BASE_URL": hostile + "/ok"}, timeout=5)
    started = time.monotonic()
    assert not server_answers({"WANDB_BASE_URL": hostile + "/drip-head"}, timeout=1)
    assert time.monotonic() - started < 4
