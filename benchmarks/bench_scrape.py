"""Scrape-stage speed: articles/s against the local sample server, and the request rate the defaults hold.

    python benchmarks/bench_scrape.py            # both measurements (~30 s)
    python benchmarks/bench_scrape.py --help

1. **Throughput** — the whole bundled sample (38 articles) scraped from ``babylm.data.wikisource.sample.server``
   with a simulated latency (default 50 ms per request) and ``--delay 0``: what the scraper itself can
   do (discovery, ``action=parse``, lxml extraction, atomic JSON writes with fsync).
2. **Politeness** — the default settings (``--delay 1``, serial requests) against the local server with a
   realistic latency (default 250 ms): the request rate a real scrape would hold. No internet is needed;
   the rate is measured from the server's own request log.

Prints a machine line (CPU, cores, torch version) and Markdown table rows for BENCHMARKS.md. Writes only
to a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from babylm.data.wikisource.sample.server import SampleServer
from babylm.data.wikisource.scrape import main as scrape_main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_line  # noqa: E402  (benchmarks/harness.py)


def throughput(latency: float, repeats: int) -> list[dict]:
    """Scrape the whole sample ``repeats`` times at ``latency`` s per request, no delay; returns timings."""
    results = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out, SampleServer(latency=latency) as server:
            started = time.monotonic()
            code = scrape_main(["--base-url", server.api_url, "--out", out, "--delay", "0", "--quiet"])
            ended = time.monotonic()
            if code != 0:
                raise SystemExit(f"bench_scrape: the scrape failed with exit code {code}")
            parses = [r.at for r in server.requests if r.params.get("action") == "parse"]
            results.append({"articles": len(parses), "requests": len(server.requests), "total_s": ended - started,
                            "download_s": ended - parses[0]})  # download phase: first parse request to the end
    return results


def politeness(latency: float, articles: int) -> dict:
    """Scrape ``articles`` articles with the default delay at ``latency`` s per request; returns the rate."""
    with tempfile.TemporaryDirectory() as out, SampleServer(latency=latency) as server:
        code = scrape_main(["--base-url", server.api_url, "--out", out, "--limit", str(articles), "--quiet"])
        if code != 0:
            raise SystemExit(f"bench_scrape: the scrape failed with exit code {code}")
        arrivals = [r.at for r in server.requests]
    span = arrivals[-1] - arrivals[0]
    return {"requests": len(arrivals), "span_s": span, "rate": (len(arrivals) - 1) / span}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns an exit code."""
    parser = argparse.ArgumentParser(prog="python benchmarks/bench_scrape.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.05, help="simulated latency for the throughput run (s)")
    parser.add_argument("--repeats", type=int, default=3, help="throughput runs (the median is reported)")
    parser.add_argument("--polite-latency", type=float, default=0.25,
                        help="simulated latency for the politeness run (s)")
    parser.add_argument("--polite-articles", type=int, default=12, help="articles in the politeness run")
    args = parser.parse_args(argv)

    print(machine_line(check_gpu=False))
    runs = sorted(throughput(args.latency, args.repeats), key=lambda r: r["articles"] / r["total_s"])
    median = runs[len(runs) // 2]
    for run in runs:
        print(f"throughput run: {run['articles']} articles, {run['requests']} requests, {run['total_s']:.2f} s total, "
              f"{run['download_s']:.2f} s downloading")
    polite = politeness(args.polite_latency, args.polite_articles)
    print(f"politeness run: {polite['requests']} requests in {polite['span_s']:.2f} s")
    print()
    print("| measurement | setting | result |")
    print("|---|---|---|")
    print(f"| throughput, whole run (discovery + download) | {args.latency * 1000:.0f} ms latency, --delay 0 | "
          f"{median['articles'] / median['total_s']:.1f} articles/s |")
    print(f"| throughput, download phase | {args.latency * 1000:.0f} ms latency, --delay 0 | "
          f"{median['articles'] / median['download_s']:.1f} articles/s |")
    print(f"| request rate, default politeness | {args.polite_latency * 1000:.0f} ms latency, default --delay 1 | "
          f"{polite['rate']:.2f} requests/s (bound: 1/(delay+latency) = {1 / (1 + args.polite_latency):.2f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
