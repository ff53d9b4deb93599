"""Benchmark: the wikitext ingest streams a Wikimedia dump with flat memory — a small vs a ≥ 200 MB dump.

Run: ``python benchmarks/bench_wikitext_dump.py [--big-mb 200] [--keep]``.
Generates two dumps in Wikimedia's XML export schema 0.11 (``enwikisource-…-pages-articles.xml.bz2``,
multistream bz2) with ``tests/data/sources/dump_fixtures.py``: a **small** one (2 volumes × 40 scan pages
of a made-up EB1911 with their article pages and redirects, plus 200 filler pages of other works) and a
**big** one (12 volumes × 400 scan pages — 16× the EB1911 pages — plus filler pages of other works in
both namespaces until the file reaches ``--big-mb`` MB). Each is ingested in a fresh child process
(``babylm.data.sources.wikitext.ingest_pages``), which reports wall time and its peak RSS (``VmHWM``) and
the RSS after imports (the baseline). Prints a machine line and a Markdown table; the figure that matters
is the peak RSS ratio big/small (flat ≈ 1). Every article of both dumps is also checked against the text
it must assemble to. Writes only into a temporary folder (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_line, measure_in_child  # noqa: E402  (benchmarks/harness.py)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.data.sources.dump_fixtures import eb1911_site, filler_pages, write_dump  # noqa: E402

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[3])  # this checkout's package, not an installed one
def status_kb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
from babylm.data.sources.wikitext import ingest_pages
baseline = status_kb("VmRSS")
start = time.perf_counter()
stats = ingest_pages([sys.argv[1]], sys.argv[2])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_rss_kb": status_kb("VmHWM"), "baseline_kb": baseline,
                  "articles": stats.articles, "routes": dict(stats.routes), "scan_pages": stats.pages,
                  "article_pages": stats.article_pages, "redirects": stats.redirects, "orphans": stats.orphans}))
"""


def check(out: Path, expected: dict[str, str]) -> int:
    """How many articles under ``out`` read exactly as expected (every one must)."""
    got = {}
    for path in out.glob("volume_*/part_*/*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        got[record["title"]] = record["content"]
    return sum(got.get(title) == text for title, text in expected.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-mb", type=float, default=200.0,
                        help="size of the big dump file, MB (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-dump-"))
    (folder / "child.py").write_text(CHILD, encoding="utf-8")
    rows = []
    try:
        for name, volumes, pages, filler in (("small", 2, 40, 200), ("big", 12, 400, None)):
            site = eb1911_site(volumes=volumes, pages=pages, seed=7)
            dump = folder / f"{name}-enwikisource-20240101-pages-articles.xml.bz2"
            start = time.perf_counter()
            if filler is not None:
                size = write_dump(dump, itertools.chain(filler_pages(filler // 2), site.pages(),
                                                        filler_pages(filler // 2, seed=2)))
            else:
                # ~2.8 kB of bz2 per filler page (512 distinct 6 kB bodies): enough pages to pass --big-mb
                count = int(args.big_mb * 1e6 / 2700) + 1
                size = write_dump(dump, itertools.chain(filler_pages(count // 2, distinct=512), site.pages(),
                                                        filler_pages(count - count // 2, seed=2, distinct=512)))
            generated = time.perf_counter() - start
            result, error = measure_in_child([str(folder / "child.py"), str(dump), str(folder / f"{name}-out"),
                                              str(REPO)], REPO)
            if result is None:
                raise SystemExit(f"{name}: the ingest failed: {error}")
            exact = check(folder / f"{name}-out", site.expected)
            rows.append((name, size, generated, result, exact, len(site.expected)))
            shutil.rmtree(folder / f"{name}-out")
            dump.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(machine_line(check_gpu=False, packages=("lxml",)))
    print("command: python benchmarks/bench_wikitext_dump.py --big-mb", args.big_mb)
    print()
    print("| dump | file (bz2) | EB1911 scan / article pages | articles (exact) | generate s | ingest s | peak RSS | "
          "RSS after imports |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, size, generated, result, exact, expected in rows:
        print(f"| {name} | {size / 1e6:,.1f} MB | {result['scan_pages']:,} / {result['article_pages']:,} | "
              f"{result['articles']:,} ({exact:,}/{expected:,}) | {generated:.1f} | {result['seconds']:.1f} | "
              f"{result['peak_rss_kb'] / 1024:.0f} MB | {result['baseline_kb'] / 1024:.0f} MB |")
    small, big = rows[0][3], rows[1][3]
    print()
    print(f"big/small: file {rows[1][1] / rows[0][1]:.0f}×, "
          f"EB1911 pages {big['scan_pages'] / small['scan_pages']:.0f}×, "
          f"peak RSS {big['peak_rss_kb'] / small['peak_rss_kb']:.2f}×")


if __name__ == "__main__":
    main()
