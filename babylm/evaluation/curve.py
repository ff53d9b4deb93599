"""The BLiMP learning curve of a training run: score each milestone export ``chck_<N>M/`` of a run folder.

Run: ``python -m babylm evaluate --model checkpoints/<run> [--blimp-dir DIR --limit N]`` — when ``--model`` is a
run's checkpoint folder (no ``config.json``, but ``chck_<N>M/`` exports written at the word milestones), each
export is scored as ``evaluate`` scores one model (:mod:`.blimp`) and the accuracies are drawn against the
training words. Reads the exports and the BLiMP files; writes ``blimp_curve.json`` and ``blimp_vs_words.png``
into ``--out`` (listed in ``.babylm-evaluate.json``, like every ``evaluate`` output).

The words of a milestone are the ones its name says (``chck_20M`` → 20,000,000): BabyLM's revision names.
"""

from __future__ import annotations

from pathlib import Path

from babylm.core.atomic import atomic_write_json
from babylm.evaluation import EvaluationError
from babylm.evaluation.blimp import aggregate, evaluate_blimp, load_blimp_dir
from babylm.evaluation.mntp import scorer_for
from babylm.evaluation.report import plot_blimp_curve
from babylm.models.export import load_exported, resolve_device
from babylm.models.tracks import milestone_exports

CURVE_FILES = ("blimp_curve.json", "blimp_vs_words.png")


def is_run_folder(path: str | Path) -> bool:
    """Whether ``path`` is a run's checkpoint folder with milestone exports rather than one model folder."""
    return not (Path(path) / "config.json").is_file() and bool(milestone_exports(path))


def run_curve(args, directory: Path, names: list[str] | None, out_dir: Path, log) -> dict:
    """Score BLiMP (``directory``, paradigms ``names``) on every milestone export of the run folder ``args.model``;
    write ``blimp_curve.json`` and ``blimp_vs_words.png`` into ``out_dir`` (already claimed); returns the record."""

    paradigms = load_blimp_dir(directory, paradigms=names, limit=args.limit)
    device = resolve_device(args.device)
    exports = milestone_exports(args.model)
    log(f"BLiMP learning curve: {len(exports)} milestone exports in {args.model}, "
        f"{sum(len(p.pairs) for p in paradigms)} pairs from {directory}")
    milestones = []
    for millions, folder in exports:
        model, tokenizer = load_exported(folder, device)
        scorer = scorer_for(getattr(args, "backend", "causal"), model, tokenizer)
        summary = aggregate(evaluate_blimp(model, tokenizer, paradigms, batch_size=args.batch_size, ties=args.ties,
                                           scorer=scorer))
        overall = summary["overall"]
        milestones.append({"revision": folder.name, "milestone_millions": millions, "accuracy": overall["accuracy"],
                           "pairs": overall["pairs"], "ties": overall["ties"],
                           "fields": {k: v["accuracy"] for k, v in summary["fields"].items()}})
        print(f"{folder.name:<14} {millions * 1e6:>15,.0f} words   BLiMP {100 * overall['accuracy']:5.1f}%")
    if not milestones:
        raise EvaluationError(f"{args.model}: no chck_<N>M exports to score")
    record = {"run": str(args.model), "blimp_dir": str(directory), "limit_per_paradigm": args.limit,
              "ties_count_as": args.ties, "backend": getattr(args, "backend", "causal"), "milestones": milestones}
    atomic_write_json(out_dir / CURVE_FILES[0], record)
    plot_blimp_curve([(e["milestone_millions"] * 1e6, e["accuracy"]) for e in milestones], out_dir / CURVE_FILES[1],
                     f"BLiMP vs training words: {Path(args.model).resolve().name}")
    for name in CURVE_FILES:
        print(f"wrote {out_dir / name}")
    return record
