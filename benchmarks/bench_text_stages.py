"""Benchmark: time, peak memory and words/s of the text stages (convert, combine, clean, split) on real EB1911 text.

Run: ``python benchmarks/bench_text_stages.py [--copies 1 8] [--repeats 3]``.
Reads the real material in ``../shared/data`` (beside the repository): the Project Gutenberg slice
``eb1911/gutenberg/19699-8.txt`` and the Wikisource page wikitext in ``wikisource/page-wikitext/``, ingested
(untimed) into a temporary ``britannica_data/`` tree, plus the 14 articles of
``wikisource/article-wikitext-britannica-edition/`` stored with their *raw* wikitext as content, so that
the cleaner's own markup rule is loaded too. For each input size (``--copies``: the
tree replicated N times under new volume numbers, to show that memory stays flat as the input grows) every
stage runs in a fresh subprocess that measures the stage call alone: wall time, peak RSS of the process
(``VmHWM``) and the RSS just before the stage started (so the stage's own share is visible), and, in
a second subprocess, the peak of Python allocations under ``tracemalloc``. Prints a machine line, a
Markdown table, and the residual markup per million words after cleaning, by kind. Writes only into a
temporary folder (``--keep`` to keep it). The split runs in "use everything" mode (``--val-fraction 0.1``):
the real text is far below the 10M/2M budgets.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_line  # noqa: E402  (benchmarks/harness.py)

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"

# Runs one stage in this child process and prints its measurements as JSON.
CHILD = r"""
import json, sys, time, tracemalloc
stage, trace, *argv = sys.argv[1:]
from babylm.data.text import convert, combine, clean, split
functions = {
    "convert": lambda: convert.convert_tree(argv[0], argv[1]),
    "combine": lambda: combine.combine_tree(argv[0], argv[1]),
    "clean": lambda: clean.clean_file(argv[0], argv[1]),
    "split": lambda: split.split_file(argv[0], argv[1], split.SplitOptions(val_fraction=0.1, seed=0)),
}
def status_kb(field):
    # VmHWM is this process image's peak RSS (unlike ru_maxrss, not inherited from the parent across exec)
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0
before = status_kb("VmRSS")
if trace == "1":
    tracemalloc.start()
start = time.perf_counter()
functions[stage]()
seconds = time.perf_counter() - start
peak_traced = tracemalloc.get_traced_memory()[1] if trace == "1" else None
print(json.dumps({"seconds": seconds, "rss_before_kb": before,
                  "peak_rss_kb": status_kb("VmHWM"), "traced_peak": peak_traced}))
"""


def ingest_real_text(shared: Path, raw: Path) -> None:
    """Ingest the real Gutenberg slice and Wikisource pages into ``raw`` (the scraper layout)."""
    from babylm.core.atomic import atomic_write_json
    from babylm.data.sources.gutenberg import ingest_slice
    from babylm.data.sources.wikitext import ingest_pages
    from babylm.data.wikisource.catalogue import part_of

    ingest_slice(shared / "eb1911" / "gutenberg" / "19699-8.txt", raw)
    ingest_pages(sorted((shared / "wikisource" / "page-wikitext").glob("*_pages.json")), raw)
    # The 14 pre-assembled articles go in with their raw wikitext as content (templates, tables, <math>
    # unrendered), so the cleaner's markup rule — not an ingest — has to remove it.
    for path in sorted((shared / "wikisource" / "article-wikitext-britannica-edition").glob("*.input.txt")):
        volume, page, _, name = path.name.removesuffix(".input.txt").split("-", 3)
        record = {"url": path.name, "title": name, "content": path.read_text(encoding="utf-8"), "timestamp": ""}
        target = raw / f"volume_{int(volume):02d}" / f"part_{part_of(int(page)):02d}" / f"{name} (raw wikitext).json"
        atomic_write_json(target, record)


def replicate(raw: Path, target: Path, copies: int) -> None:
    """Copy the tree ``raw`` ``copies`` times into ``target``, copy k under volume numbers shifted by 100·k."""
    for k in range(copies):
        for path in raw.glob("volume_*/part_*/*.json"):
            volume = int(path.parent.parent.name.split("_")[1]) + 100 * k
            destination = target / f"volume_{volume:03d}" / path.parent.name / path.name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)


def run_stage(stage: str, trace: bool, *argv: Path) -> dict:
    """Run ``stage`` in a fresh Python process; returns its measurements."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", CHILD, stage, "1" if trace else "0", *map(str, argv)],
                            capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(work: Path, copies: int, repeats: int) -> tuple[list[dict], dict]:
    """Run the four stages on the replicated input; returns one row per stage and the residual markup."""
    from babylm.data.text.clean import iter_articles, residual_markup_counts

    raw = work / f"x{copies}" / "britannica_data"
    replicate(work / "real" / "britannica_data", raw, copies)
    rows = []
    for stage in ("convert", "combine", "clean", "split"):
        runs = []
        for repeat in range(repeats):
            base = work / f"x{copies}" / f"run{repeat}"
            paths = {
                "convert": (raw, base / "britannica_txt"),
                "combine": (work / f"x{copies}" / "run0" / "britannica_txt", base / "combined.txt"),
                "clean": (work / f"x{copies}" / "run0" / "combined.txt", base / "cleaned.txt"),
                "split": (work / f"x{copies}" / "run0" / "cleaned.txt", base / "corpus_split"),
            }[stage]
            runs.append(run_stage(stage, False, *paths))
        traced = run_stage(stage, True, *paths_for_trace(work, copies, stage, raw))
        rows.append({
            "copies": copies, "stage": stage, "seconds": statistics.median(r["seconds"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_kb"] for r in runs) / 1024,
            "stage_rss_mb": max(r["peak_rss_kb"] - r["rss_before_kb"] for r in runs) / 1024,
            "traced_peak_mb": traced["traced_peak"] / 2**20,
        })
    for row in rows:
        row["words"] = word_count(work, copies, row["stage"])
        row["words_per_s"] = row["words"] / row["seconds"]
    cleaned = (work / f"x{copies}" / "run0" / "cleaned.txt").read_text(encoding="utf-8")
    counts = residual_markup_counts("")
    words = 0
    for article in iter_articles(cleaned.splitlines()):
        counts.update(residual_markup_counts(article))
        words += len(article.split())
    return rows, {"words": words, "per_million": {k: v * 1e6 / words for k, v in counts.items()},
                  "total": sum(counts.values())}


def paths_for_trace(work: Path, copies: int, stage: str, raw: Path) -> tuple[Path, Path]:
    base = work / f"x{copies}"
    return {
        "convert": (raw, base / "trace" / "britannica_txt"),
        "combine": (base / "run0" / "britannica_txt", base / "trace" / "combined.txt"),
        "clean": (base / "run0" / "combined.txt", base / "trace" / "cleaned.txt"),
        "split": (base / "run0" / "cleaned.txt", base / "trace" / "corpus_split"),
    }[stage]


def word_count(work: Path, copies: int, stage: str) -> int:
    """Words entering ``stage`` (the combined file's words for convert/combine/clean, cleaned for split)."""
    source = work / f"x{copies}" / "run0" / ("cleaned.txt" if stage == "split" else "combined.txt")
    with open(source, encoding="utf-8") as handle:
        return sum(len(line.split()) for line in handle if line.strip() not in ("<s>", "</s>"))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on ``argv``; returns an exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared-data", type=Path, default=SHARED,
                        help="the shared data folder (default: %(default)s)")
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 8],
                        help="input sizes, as copies of the real text (default: 1 8)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs per stage; the median time is reported (default: %(default)s)")
    parser.add_argument("--json", type=Path,
                        help="also write the results as JSON into this new file (never overwritten)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print its path")
    args = parser.parse_args(argv)
    if not (args.shared_data / "eb1911" / "gutenberg" / "19699-8.txt").is_file():
        print(f"bench_text_stages: error: real EB1911 text not found under {args.shared_data}", file=sys.stderr)
        return 2
    if args.json is not None and (args.json.exists() or args.json.is_symlink()):
        print(f"bench_text_stages: error: --json {args.json} already exists; name a new file", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO))
    print(machine_line(check_gpu=False), flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench_text_stages."))
    try:
        ingest_real_text(args.shared_data, work / "real" / "britannica_data")
        rows, residuals = [], {}
        for copies in args.copies:
            stage_rows, residuals[copies] = measure(work, copies, args.repeats)
            rows.extend(stage_rows)
        print("\n| input | stage | words in | time (s) | words/s | peak RSS (MB) | RSS added by stage (MB) | "
              "Python heap peak (MB) |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for row in rows:
            print(f"| real ×{row['copies']} | {row['stage']} | {row['words']:,} | {row['seconds']:.2f} | "
                  f"{row['words_per_s']:,.0f} | {row['peak_rss_mb']:.0f} | {row['stage_rss_mb']:.1f} | "
                  f"{row['traced_peak_mb']:.1f} |")
        for copies, residual in residuals.items():
            kinds = (", ".join(f"{kind} {value:.1f}" for kind, value in residual["per_million"].items() if value)
                     or "none")
            print(f"\nresidual markup after cleaning (real ×{copies}, {residual['words']:,} words): "
                  f"{residual['total'] * 1e6 / residual['words']:.1f} per million words ({kinds})")
        if args.json:
            args.json.write_text(json.dumps({"machine": machine_line(check_gpu=False), "rows": rows,
                                             "residual": residuals}, indent=2), encoding="utf-8")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
