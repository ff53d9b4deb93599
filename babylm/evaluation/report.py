"""BLiMP reports: JSON, Markdown, a PNG bar chart of per-phenomenon accuracy, and a terminal table.

Run: written by ``python -m babylm evaluate`` (:mod:`.cli`). Takes the summary from
:func:`babylm.evaluation.blimp.aggregate`; writes into the output folder (each file atomically):
``blimp.json`` (everything, ties included), ``blimp.md`` (tables per field, phenomenon, paradigm),
``blimp_phenomena.png`` (bar chart) and ``blimp_scores.jsonl`` (per-pair log-probabilities); and the learning
curve ``blimp_vs_words.png`` (accuracy against training words, from ``evaluate`` on a run folder or from the
milestone evaluations during training, :mod:`babylm.training.milestone_blimp`; one line per model on the results
page of ``python -m babylm recipe``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from babylm.core.atomic import atomic_output, atomic_write_json, atomic_write_text
from babylm.evaluation.blimp import ParadigmResult, pair_is_correct

REPORT_FILES = {
    "json": "blimp.json",
    "markdown": "blimp.md",
    "chart": "blimp_phenomena.png",
    "scores": "blimp_scores.jsonl",
}


def _percent(value: float) -> str:
    return f"{100 * value:.1f}"


def markdown_report(report: dict) -> str:
    """Render a report dict (``aggregate`` output plus ``model``/``blimp_dir``) as Markdown; returns the text."""
    overall = report["overall"]
    lines = [
        f"# BLiMP: {report.get('model', 'model')}",
        "",
        f"Data: `{report.get('blimp_dir', '?')}`, {overall['paradigms']} paradigms, {overall['pairs']} pairs. "
        "A pair is correct when the good sentence's summed log-probability (fp32, after the start token) "
        + ("is strictly higher; ties count as wrong."
           if overall.get("ties_count_as", "wrong") == "wrong"
           else "is higher or equal; ties count as correct (the lm-evaluation-harness / BabyLM pipeline rule)."),
        "",
        f"**Overall accuracy (mean over paradigms): {_percent(overall['accuracy'])}%** "
        f"(per pair: {_percent(overall['pair_accuracy'])}%; ties: {overall['ties']})",
        "",
    ]
    for title, key in (("Field", "fields"), ("Phenomenon", "phenomena")):
        lines += [f"## By {title.lower()}", "", f"| {title} | Accuracy (%) | Paradigms | Pairs | Ties |",
                  "|---|---:|---:|---:|---:|"]
        for name, row in report[key].items():
            lines.append(f"| {name} | {_percent(row['accuracy'])} | {row['paradigms']} | {row['pairs']} | "
                         f"{row['ties']} |")
        lines.append("")
    lines += ["## By paradigm", "", "| Paradigm | Phenomenon | Field | Accuracy (%) | Pairs | Ties |",
              "|---|---|---|---:|---:|---:|"]
    for uid, row in report["paradigms"].items():
        lines.append(
            f"| {uid} | {row['phenomenon']} | {row['field']} | {_percent(row['accuracy'])} | {row['pairs']} | "
            f"{row['ties']} |"
        )
    return "\n".join(lines) + "\n"


def summary_table(report: dict) -> str:
    """Return a plain-text table of per-phenomenon and per-field accuracy plus the overall line."""
    rows = [(f"  {name}", row) for name, row in report["phenomena"].items()]
    rows += [(f"field: {name}", row) for name, row in report["fields"].items()]
    width = max([len(name) for name, _ in rows] + [len("overall (mean of paradigms)")])
    out = [f"{'BLiMP':<{width}}  {'acc %':>6}  {'pairs':>6}  {'ties':>5}", "-" * (width + 23)]
    out += [f"{name:<{width}}  {_percent(row['accuracy']):>6}  {row['pairs']:>6}  {row['ties']:>5}"
            for name, row in rows]
    overall = report["overall"]
    out.append("-" * (width + 23))
    out.append(
        f"{'overall (mean of paradigms)':<{width}}  {_percent(overall['accuracy']):>6}  {overall['pairs']:>6}  "
        f"{overall['ties']:>5}"
    )
    return "\n".join(out)


def plot_phenomena(report: dict, path: str | os.PathLike) -> None:
    """Draw per-phenomenon accuracy as a horizontal bar chart PNG at ``path``; returns nothing."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # A Figure with its own Agg canvas: no pyplot, no global backend switch, works without a display.
    names = list(report["phenomena"])
    values = [100 * report["phenomena"][name]["accuracy"] for name in names]
    figure = Figure(figsize=(7, 0.4 * len(names) + 1.4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = range(len(names))
    axes.barh(positions, values, color="#4c72b0")
    axes.set_yticks(list(positions), labels=names)
    axes.invert_yaxis()
    axes.axvline(50, color="grey", linestyle="--", linewidth=1, label="chance")
    axes.axvline(100 * report["overall"]["accuracy"], color="#c44e52", linewidth=1, label="overall")
    axes.set_xlim(0, 100)
    axes.set_xlabel("accuracy (%)")
    axes.set_title(f"BLiMP by phenomenon: {Path(str(report.get('model', ''))).name}", fontsize=10)
    for y, value in zip(positions, values):
        inside = value > 88  # keep the label within the axes: write it inside long bars
        axes.text(value - 1 if inside else value + 1, y, f"{value:.1f}", va="center", ha="right" if inside else "left",
                  fontsize=8, color="white" if inside else "black")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.5 / (len(names) + 3)), ncol=2, fontsize=8,
                frameon=False)
    figure.tight_layout()
    with atomic_output(path, "wb") as handle:
        figure.savefig(handle, format="png")


def _words_label(words: float) -> str:
    return f"{words / 1e6:.4g}M" if words >= 1e5 else f"{words / 1e3:.4g}k"


def plot_blimp_curve(points: Sequence[tuple[float, float]], path: str | os.PathLike, title: str = "") -> None:
    """Draw BLiMP accuracy against training words seen (``[(words, accuracy in [0, 1]), …]``) as a PNG at ``path``.

    The x axis is logarithmic when the words span more than a factor of 10 (BabyLM's 1M … 100M milestones).
    """
    plot_blimp_curves({"": points}, path, title)


def plot_blimp_curves(series: dict[str, Sequence[tuple[float, float]]], path: str | os.PathLike, title: str = "",
                      finals: dict[str, tuple[float, float]] | None = None) -> None:
    """Draw one BLiMP learning curve per model (``{label: [(words, accuracy in [0, 1]), …]}``) in one PNG at ``path``.

    ``finals`` (``{label: (words, accuracy)}``) adds each model's final score as a larger marker on its line (the
    end of training, scored by ``evaluate``). The x axis is training words seen, logarithmic when they span more
    than a factor of 10 (BabyLM's 1M … 100M milestones); a line at 50 % marks chance.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    finals = finals or {}
    figure = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    words: set[float] = set()
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]
    for index, (label, points) in enumerate(series.items()):
        color = colors[index % len(colors)]
        line = sorted(set(points) | ({finals[label]} if label in finals else set()))
        words.update(w for w, _ in line)
        axes.plot([w for w, _ in line], [100 * a for _, a in line], marker="o", color=color, label=label or None)
        if label in finals:
            final_words, accuracy = finals[label]
            axes.plot([final_words], [100 * accuracy], marker="D", markersize=8, color=color, linestyle="none")
    ticks = sorted(words)
    if ticks and min(ticks) > 0 and max(ticks) / min(ticks) > 10:
        axes.set_xscale("log")
    if len(ticks) <= 20:  # BabyLM's ladder has 19 milestones up to 100M
        axes.set_xticks(ticks, labels=[_words_label(w) for w in ticks], rotation=45, fontsize=8)
    axes.minorticks_off()
    axes.axhline(50, color="grey", linestyle="--", linewidth=1, label="chance")
    axes.set_ylim(0, 100)
    axes.set_xlabel("training words seen")
    axes.set_ylabel("BLiMP accuracy (%)")
    axes.set_title(title or "BLiMP vs training words", fontsize=10)
    axes.legend(loc="lower right", fontsize=8, frameon=False)
    figure.tight_layout()
    with atomic_output(path, "wb") as handle:
        figure.savefig(handle, format="png")


def write_report(report: dict, results: Sequence[ParadigmResult], out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write the JSON, Markdown, PNG and per-pair score files into ``out_dir``; returns ``{kind: path}``."""
    out_dir = Path(out_dir)
    paths = {kind: out_dir / name for kind, name in REPORT_FILES.items()}
    atomic_write_json(paths["json"], report)
    atomic_write_text(paths["markdown"], markdown_report(report))
    plot_phenomena(report, paths["chart"])
    with atomic_output(paths["scores"], "w") as handle:
        for result in results:
            for pair_id, good, bad in zip(result.pair_ids, result.good_logprobs, result.bad_logprobs):
                correct = pair_is_correct(good, bad, result.tie_rule)
                row = {"UID": result.uid, "pairID": pair_id, "logprob_good": good, "logprob_bad": bad,
                       "correct": correct}
                handle.write(json.dumps(row) + "\n")
    return paths
