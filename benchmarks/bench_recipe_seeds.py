"""Benchmark: a recipe preset over seeds, with the control — does the distilled student beat its teachers and
the same student trained alone? (issue 22 §3; the yardstick of the hybrid objective and the budget split).

For each seed, runs ``python -m babylm recipe <preset> --control --seed N --workdir <work>/seed<N>`` (finished
stages are skipped, an interrupted run resumes, so re-running this command after a stop continues it), then
reads every seed's ``results.json`` and each model's BLiMP report and prints, as Markdown:

* per role (teachers, distilled student, student alone): words trained on, val loss (nats per token, the
  tokenizer is the same for all), BLiMP accuracy — mean ± sd over seeds (sample sd), and each seed's value;
* the student minus the student alone and minus its best teacher, per seed, with their mean ± sd;
* BLiMP per phenomenon (mean over seeds) for each role;
* the BLiMP-vs-words learning curve (the milestone scores the fits wrote: the first ``curve_limit`` pairs per
  paradigm), mean over seeds at each milestone — and draws it, mean ± sd bands, into ``<work>/curve.png``.

    python benchmarks/bench_recipe_seeds.py small --seeds 0 1 2 --work runs/bench_small \\
        --data-dir DATA --blimp-dir ../shared/data/blimp-dev            # or --gutenberg-file SLICES_FOLDER
    python benchmarks/bench_recipe_seeds.py small --seeds 0 1 2 --work runs/bench_small --report-only

Seeds run one after another; on a machine with spare cores run one seed per process (``--seeds 1``) and
then ``--report-only`` over all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import torch

ROLES = ("teacher", "distilled student", "student alone")


def mean_sd(values: list[float], digits: int = 3) -> str:
    """``mean ± sd`` with ``digits`` decimals (sample sd; ``mean`` alone for one value)."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def percent(values: list[float]) -> str:
    """Accuracies in [0, 1] as ``mean ± sd`` percentage points."""
    points = [100 * v for v in values]
    if len(points) == 1:
        return f"{points[0]:.1f}"
    return f"{statistics.mean(points):.1f} ± {statistics.stdev(points):.1f}"


def run_seed(args: argparse.Namespace, seed: int) -> None:
    """Run (or resume) the recipe for ``seed``; raises SystemExit when it fails."""
    command = [sys.executable, "-m", "babylm", "recipe", args.preset, "--control", "--seed", str(seed),
               "--workdir", str(args.work / f"seed{seed}")]
    for flag, value in (("--data-dir", args.data_dir), ("--blimp-dir", args.blimp_dir)):
        if value:
            command += [flag, str(value)]
    if args.gutenberg_file:
        command += ["--gutenberg-file", *map(str, args.gutenberg_file)]
    print("$", " ".join(command), flush=True)
    if subprocess.run(command).returncode != 0:
        raise SystemExit(f"bench_recipe_seeds: the recipe failed for seed {seed}")


def load_seed(work: Path, seed: int) -> dict:
    """The seed's results page and, per model name, its BLiMP report."""
    folder = work / f"seed{seed}"
    page = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    reports = {}
    for model in page["models"]:
        path = folder / model["report"] / "blimp.json"
        reports[model["name"]] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return {"page": page, "reports": reports}


def by_role(seeds: dict[int, dict]) -> dict[str, list[tuple[int, dict, dict]]]:
    """``{role: [(seed, model, blimp report), …]}`` over seeds; teachers keep their names apart."""
    rows: dict[str, list] = {}
    for seed, data in seeds.items():
        for model in data["page"]["models"]:
            key = f"teacher {model['name']}" if model["role"] == "teacher" else model["role"]
            rows.setdefault(key, []).append((seed, model, data["reports"].get(model["name"], {})))
    return rows


def report(seeds: dict[int, dict], work: Path) -> str:
    """The Markdown tables described in the module docstring; draws ``work/curve.png``."""
    rows = by_role(seeds)
    names = list(seeds)
    lines = [f"seeds {', '.join(map(str, names))}; BLiMP: {seeds[names[0]]['page']['blimp']['pairs_note']}", "",
             "| model | words trained on | val loss (nats/token) | BLiMP % | BLiMP per seed |",
             "|---|---:|---:|---:|---|"]
    for key, entries in rows.items():
        words = sorted({m["own_words"] for _, m, _ in entries if m["own_words"] is not None})
        losses = [m["val_loss"] for _, m, _ in entries if m["val_loss"] is not None]
        blimps = [m["blimp"] for _, m, _ in entries if m["blimp"] is not None]
        lines.append(f"| {key} | {', '.join(f'{w:,.0f}' for w in words)} | {mean_sd(losses) if losses else '–'} | "
                     f"{percent(blimps) if blimps else '–'} | "
                     f"{', '.join(f'{100 * b:.1f}' for b in blimps)} |")
    lines += ["", "| difference, per seed | val loss | BLiMP points |", "|---|---|---|"]
    for other in ("student alone", "best teacher"):
        loss, points = [], []
        for seed, data in seeds.items():
            models = data["page"]["models"]
            student = next(m for m in models if m["role"] == "distilled student")
            if other == "student alone":
                base = next((m for m in models if m["role"] == "student alone"), None)
            else:
                base = max((m for m in models if m["role"] == "teacher"), key=lambda m: m["blimp"] or 0)
            if base is None or None in (student["val_loss"], base["val_loss"], student["blimp"], base["blimp"]):
                continue
            loss.append(student["val_loss"] - base["val_loss"])
            points.append(100 * (student["blimp"] - base["blimp"]))
        if loss:
            lines.append(f"| student − {other} | {', '.join(f'{v:+.3f}' for v in loss)} (mean {mean_sd(loss)}) | "
                         f"{', '.join(f'{v:+.1f}' for v in points)} (mean {mean_sd(points, 1)}) |")
    phenomena = sorted({p for entries in rows.values() for _, _, r in entries for p in r.get("phenomena", {})})
    keys = list(rows)
    lines += ["", "BLiMP per phenomenon, % (mean over seeds):", "",
              "| phenomenon | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for phenomenon in phenomena:
        cells = []
        for key in keys:
            values = [r["phenomena"][phenomenon]["accuracy"] for _, _, r in rows[key]
                      if phenomenon in r.get("phenomena", {})]
            cells.append(f"{100 * statistics.mean(values):.1f}" if values else "–")
        lines.append(f"| {phenomenon} | " + " | ".join(cells) + " |")
    curves = {}
    for key, entries in rows.items():
        points: dict[float, list[float]] = {}
        for _, model, _ in entries:
            for words, accuracy in model["curve"]:
                points.setdefault(words, []).append(accuracy)
        if points:
            curves[key] = sorted(points.items())
    if curves:
        milestones = sorted({words for curve in curves.values() for words, _ in curve})
        lines += ["", "BLiMP learning curve, % (milestone scores during training, mean over seeds):", "",
                  "| words seen | " + " | ".join(curves) + " |", "|---:|" + "---:|" * len(curves)]
        for words in milestones:
            cells = [next((percent(v) for w, v in curve if w == words), "–") for curve in curves.values()]
            lines.append(f"| {words:,.0f} | " + " | ".join(cells) + " |")
        draw(curves, work / "curve.png")
    return "\n".join(lines)


def draw(curves: dict[str, list[tuple[float, list[float]]]], path: Path) -> None:
    """Mean ± sd BLiMP (%) against words seen, one line per model, into ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.2))
    for key, curve in curves.items():
        words = [w for w, _ in curve]
        means = [100 * statistics.mean(v) for _, v in curve]
        sds = [100 * statistics.stdev(v) if len(v) > 1 else 0.0 for _, v in curve]
        axes.plot(words, means, marker="o", label=key)
        axes.fill_between(words, [m - s for m, s in zip(means, sds)], [m + s for m, s in zip(means, sds)], alpha=0.2)
    axes.axhline(50, color="grey", linewidth=0.8, linestyle="--")
    axes.set_xlabel("training words seen")
    axes.set_ylabel("BLiMP accuracy, % (milestone pairs)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("preset", nargs="?", default="small", help="a shipped preset or a .yaml (default: small)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--work", type=Path, default=Path("runs/bench_recipe_seeds"),
                        help="one workdir per seed under it (default: %(default)s)")
    parser.add_argument("--data-dir", type=Path, help="a finished prepare's --data-dir (passed to recipe)")
    parser.add_argument("--gutenberg-file", type=Path, nargs="+", help="Gutenberg slices or folders (to recipe)")
    parser.add_argument("--blimp-dir", type=Path, help="BLiMP .jsonl folder (to recipe)")
    parser.add_argument("--report-only", action="store_true", help="read the seeds' finished workdirs; run nothing")
    args = parser.parse_args()
    if not args.report_only:
        for seed in args.seeds:
            run_seed(args, seed)
    seeds = {seed: load_seed(args.work, seed) for seed in args.seeds}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; python "
          f"{platform.python_version()}; torch {torch.__version__}")
    print(report(seeds, args.work))


if __name__ == "__main__":
    main()
