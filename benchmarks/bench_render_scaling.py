"""Benchmark: rendering time grows linearly with the page — before (quadratic) and after, sizes doubling.

Run: ``python benchmarks/bench_render_scaling.py --before DIR [--cap-seconds 30] [--pairs 5]``, where ``DIR``
holds the code before the fix (e.g. ``git worktree add /tmp/before <commit>``; without ``--before`` only this
checkout is measured). For each pathological page of issue 24 — ``x <math>`` repeated n times (an unclosed
``<math>``, the 824 KB page that took 3 min 22 s at n = 60,000), ``{{a|`` × n … ``}}`` × n (nested templates:
4 min 35 s at n = 40,000) — and three more of the same kind (nested links, closed wiki tables, a page of section
tags for the headword walk), n doubles from ``--start``. Each measurement is ``render_wikitext`` (or the
walk) on the page, in a fresh child process importing the package from the side's folder; at each size the
sides alternate (before, after, before, after …, ``--pairs`` rounds) while the before side stays under
2 s a run, once above it. A side stops growing once a run passes ``--cap-seconds``.

Prints a machine line and a Markdown table per page: n, page size, seconds per side (median), and the growth
from the size before (×2 for linear, ×4 for quadratic). Writes nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_line, measure_in_child  # noqa: E402  (benchmarks/harness.py)

REPO = Path(__file__).resolve().parent.parent

PAGES = {  # name → Python expression of the page for size n (evaluated in the child)
    "unclosed <math> (x <math> × n)": '"x <math>" * n',
    "nested templates ({{a| × n, b, }} × n)": '"{{a|" * n + "b" + "}}" * n',
    "nested links ([[a| × n, b, ]] × n)": '"[[a|" * n + "b" + "]]" * n',
    "closed wiki tables ({| … |} t × n)": '"\\n{|\\n|a\\n|}\\nt" * n',
    "one page of n section stretches (headword walk)": """"'''ABBEY''' x" + ('<section begin="a"/>' + "y" * 50) * n""",
}

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])  # the side's package, not an installed one
n = int(sys.argv[3])
text = eval(sys.argv[2])
if "section" in sys.argv[2]:
    from babylm.data.sources.transclusion import tokenize
    from babylm.data.sources.wikitext_assembly import by_headword
    start = time.perf_counter()
    list(by_headword([(1, 1, tokenize(text), set())], blank=lambda piece: False))
else:
    from babylm.data.sources.wikitext_render import render_wikitext
    start = time.perf_counter()
    render_wikitext(text)
print(json.dumps({"seconds": time.perf_counter() - start, "bytes": len(text.encode("utf-8"))}))
"""


def measure(code: Path, expression: str, n: int) -> dict:
    result, error = measure_in_child(["-c", CHILD, str(code), expression, str(n)], cwd=REPO)
    if result is None:
        raise RuntimeError(f"child failed on {code} n={n}: {error}")
    return result


def run_page(name: str, expression: str, sides: dict[str, Path], start: int, doublings: int, pairs: int,
             cap: float) -> list[str]:
    """The Markdown rows of one page: n, bytes, median seconds per side, growth since the previous size."""
    rows, previous, stopped = [], {}, set()
    for step in range(doublings):
        n = start * 2**step
        runs: dict[str, list[float]] = {side: [] for side in sides}
        size = 0
        for round_index in range(pairs):
            for side, code in sides.items():
                if side in stopped or (round_index and runs[side] and max(runs[side]) > 2.0):
                    continue
                result = measure(code, expression, n)
                runs[side].append(result["seconds"])
                size = result["bytes"]
        cells = [f"{n:,}", f"{size / 1024:,.0f} KB"]
        for side in sides:
            if not runs[side]:
                cells += [f"> {cap:g} s", "—"]
                continue
            seconds = statistics.median(runs[side])
            growth = f"{seconds / previous[side]:.1f}×" if previous.get(side) else "—"
            cells += [f"{seconds:.3f} ({len(runs[side])})", growth]
            previous[side] = seconds
            if max(runs[side]) > cap:
                stopped.add(side)
        rows.append("| " + " | ".join(cells) + " |")
        print(f"  {name}: n={n:,} " + " ".join(f"{side}={runs[side]}" for side in sides), file=sys.stderr, flush=True)
    header = "| n | page | " + " | ".join(f"{side} s (runs) | {side} growth" for side in sides) + " |"
    rule = "|" + "---:|" * (2 + 2 * len(sides))
    return [f"**{name}**", "", header, rule, *rows, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="a checkout of the code before the fix")
    parser.add_argument("--start", type=int, default=2000, help="the first n (default: %(default)s)")
    parser.add_argument("--doublings", type=int, default=6, help="sizes measured per page (default: %(default)s)")
    parser.add_argument("--pairs", type=int, default=5, help="rounds per size while a run stays under 2 s")
    parser.add_argument("--cap-seconds", type=float, default=30.0, help="stop a side once a run takes longer")
    args = parser.parse_args()
    sides = {"before": args.before, "after": REPO} if args.before else {"after": REPO}
    print(machine_line(check_gpu=False, packages=()))
    print(f"\n`python benchmarks/bench_render_scaling.py{' --before DIR' if args.before else ''} --start {args.start} "
          f"--doublings {args.doublings} --pairs {args.pairs} --cap-seconds {args.cap_seconds:g}`\n")
    for name, expression in PAGES.items():
        print("\n".join(run_page(name, expression, sides, args.start, args.doublings, args.pairs, args.cap_seconds)))


if __name__ == "__main__":
    main()
