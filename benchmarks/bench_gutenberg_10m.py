"""Benchmark and checks of ``prepare --source gutenberg`` on the 66-slice strict-small corpus (≈ 11.7M words).

Run: ``python benchmarks/bench_gutenberg_10m.py --help``. Three measurements, each printed as Markdown with a
machine line; the corpus is ``../shared/data/eb1911/gutenberg-10m/`` (beside the repository).

* ``--prepare 8 66``: the whole ``python -m babylm prepare --source gutenberg`` (ingest → convert → combine →
  clean → split → quality; split ``--train-words 10000000 --val-words rest``) over the first N slices in book
  order, each in a fresh data folder and its own process: wall time and the peak RSS of that process
  (``getrusage`` of a wrapper whose only child it is). Equal peaks at 8 and 66 slices show that memory
  follows one slice, not their number. A corpus of 8 slices is below 10M words: the split then takes
  ``--val-fraction 0.1`` (stated in the table).
* ``--contents``: for every slice that prints its own list of articles (``ARTICLES IN THIS SLICE:``, 49 of
  the 66), the headwords the ingest found against that list — entries compared by their first name (before
  a comma or parenthesis, accents and punctuation out, ``I``/``II`` … out): listed, found, listed but not
  found. The list is the slice transcriber's, so it is evidence, not ground truth (family members and
  ``CHARLES I. and II`` print as one entry there).
* ``--sample 20 --data-dir DIR``: 20 articles drawn with ``--seed`` from a prepared ``DIR/britannica_data``,
  each with its slice, length, first and last words, and the slice text just after its end (the next
  headword), for reading by eye: whole, cut, merged or polluted.

Writes only into a temporary folder (``--prepare``) or nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import load_average, machine_line  # noqa: E402  (benchmarks/harness.py)

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "data" / "eb1911" / "gutenberg-10m"

WRAPPER = r"""
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)
print(json.dumps({"code": code, "seconds": time.perf_counter() - start,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def slices_in_book_order() -> list[Path]:
    from babylm.data.sources.gutenberg import book_order, slice_files
    from babylm.data.sources.gutenberg_text import decode_gutenberg, read_slice_info

    files = slice_files([CORPUS])
    infos = [(read_slice_info(decode_gutenberg(p.read_bytes(), p.name)), p) for p in files]
    return [path for _, path in book_order(infos)]


def bench_prepare(counts: list[int]) -> None:
    ordered = slices_in_book_order()
    print("| slices | words in the slices | split | wall time | peak RSS |\n|---:|---:|---|---:|---:|")
    for count in counts:
        files = ordered[:count]
        whole = count == len(ordered)
        split = ["--train-words", "10000000", "--val-words", "rest"] if whole else ["--val-fraction", "0.1"]
        with tempfile.TemporaryDirectory(prefix="bench-gutenberg-10m-") as scratch:
            argv = [sys.executable, "-m", "babylm", "prepare", "--source", "gutenberg", "--data-dir", scratch,
                    "--gutenberg-file", *map(str, files), *split]
            done = subprocess.run([sys.executable, "-c", WRAPPER, *argv], capture_output=True, text=True, cwd=REPO)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            quality = json.loads((Path(scratch) / "quality.json").read_text(encoding="utf-8"))
        if result["code"]:
            raise SystemExit(f"prepare failed on {count} slices (exit {result['code']})")
        print(f"| {count} | {quality['words']:,} acquired, {quality['cleaned']['words']:,} cleaned | "
              f"{' '.join(split)} | "
              f"{result['seconds']:.0f} s | {result['peak_rss_mb']:.0f} MB |")


def contents_list(text: str) -> list[str] | None:
    """The entries of a slice's ``ARTICLES IN THIS SLICE:`` list (two columns), or None when it has none."""
    at = text.find("ARTICLES IN THIS SLICE")
    if at < 0:
        return None
    entries, started, blanks = [], False, 0
    for line in text[at:].split("\n")[1:]:
        if not line.strip():
            blanks += started
            if blanks >= 2:
                break
            continue
        if not line.startswith(" "):
            break
        started, blanks = True, 0
        entries += [entry for entry in re.split(r"\s{2,}", line.strip()) if entry]
    return entries


def first_name(title: str) -> str:
    """An entry's comparison key: the name before a comma or parenthesis, folded, regnal numbers out."""
    from babylm.data.sources.gutenberg_headwords import fold

    name = re.split(r"[,(]", title)[0]
    return fold(re.sub(r"\b(?:[IVX]+)\b\.?", "", name))


def bench_contents() -> None:
    from babylm.data.sources.gutenberg_text import cut_slice, decode_gutenberg

    print("| slice | listed | found | listed, not found (first names) |\n|---|---:|---:|---|")
    totals = Counter()
    for path in sorted(CORPUS.glob("*.txt")):
        text = decode_gutenberg(path.read_bytes(), path.name)
        entries = contents_list(text)
        if entries is None:
            continue
        found = Counter(first_name(article.title) for article in cut_slice(text).articles)
        missing = Counter(first_name(entry) for entry in entries) - found
        totals.update(listed=len(entries), found=sum(found.values()), missing=sum(missing.values()), slices=1)
        print(f"| {path.name[:5]} | {len(entries)} | {sum(found.values())} | {sum(missing.values())}"
              f"{': ' + ', '.join(sorted(missing)) if missing else ''} |")
    print(f"| **{totals['slices']} slices** | {totals['listed']:,} | {totals['found']:,} | {totals['missing']} |")


def bench_sample(data_dir: Path, count: int, seed: int) -> None:
    raw = data_dir / "britannica_data"
    report = json.loads((raw / "ingest_report.json").read_text(encoding="utf-8"))
    slice_of = {relpath: key.split(":", 1)[1] for key, run in report["runs"].items() for relpath in run["articles"]}
    chosen = random.Random(seed).sample(sorted(slice_of), count)
    for number, relpath in enumerate(chosen, 1):
        record = json.loads((raw / relpath).read_text(encoding="utf-8"))
        words = record["content"].split()
        print(f"## {number}. {record['title']} — {slice_of[relpath]}, {len(words):,} words, {relpath}\n")
        print("START: " + " ".join(words[:60]) + "\n\nEND: " + " ".join(words[-60:]) + "\n")
        text = (CORPUS / slice_of[relpath]).read_text(encoding="latin-1").replace("\r\n", "\n")
        tail = " ".join(words[-8:]).replace("_", "")
        probe = re.escape(tail[-40:]).replace(r"\ ", r"\s+")
        match = re.search(probe, text.replace("_", ""))
        after = text.replace("_", "")[match.end(): match.end() + 400] if match else "(end not found verbatim)"
        print("SLICE AFTER THE END: " + " ".join(after.split()) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prepare", type=int, nargs="*", help="time and peak RSS of prepare over the first N slices")
    parser.add_argument("--contents", action="store_true", help="headwords found against each slice's own list")
    parser.add_argument("--sample", type=int, help="print N seeded random articles of --data-dir for reading")
    parser.add_argument("--data-dir", type=Path, help="a prepared data folder (for --sample)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(machine_line(check_gpu=False, extra=load_average()) + "\n")
    if args.prepare:
        bench_prepare(args.prepare)
    if args.contents:
        bench_contents()
    if args.sample:
        bench_sample(args.data_dir, args.sample, args.seed)


if __name__ == "__main__":
    main()
