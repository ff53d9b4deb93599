"""The results page of a recipe: ``results.md``, ``results.json`` and ``blimp_vs_words.png`` in its workdir.

Used by :mod:`babylm.commands.recipe` after its last stage; nothing to run on its own. Reads, for every model of
the recipe, its export (parameters from the safetensors headers, ``word_ledger.json``), its ``evaluate`` report
(``runs/eval/<name>/blimp.json`` and ``perplexity.json``) and the milestone BLiMP curve its fit wrote
(``<checkpoint dir>/blimp_curve.json``); and the recipe's state file (wall time per stage). Writes the three files
atomically.

Per model: parameters, training words (its own, and the total from its ledger: teachers' training included),
validation loss (mean NLL in nats per token over the val split) and perplexity, BLiMP overall and per field.
Then the recipe's total words against the track's cap (the distilled student's ledger: the teachers' totals plus
its own words), and one plain-language line answering the Baby Llama question (Timiryasov & Tastet 2023,
arXiv:2308.02019): does the distilled student beat its best teacher, and the same student trained alone?
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

from babylm.commands.recipe_plan import ModelRun
from babylm.core.atomic import atomic_write_json, atomic_write_text
from babylm.core.safe_json import JsonError, read_json
from babylm.evaluation.report import plot_blimp_curves
from babylm.models.export_manifest import ExportError
from babylm.models.ledger import LedgerError, read_ledger
from babylm.models.tracks import TRACK_WORD_CAPS
from babylm.models.weight_files import stored_parameters

PAGE_FILES = ("results.md", "results.json", "blimp_vs_words.png")
PAGE_FORMAT = 1


def _read(path: Path) -> Optional[dict]:
    try:
        value = read_json(path)
    except JsonError:
        return None
    return value if isinstance(value, dict) else None


def model_results(run: ModelRun, workdir: Path, report_dir: Path) -> dict:
    """What the page shows of one model (missing values are ``None``, never guessed)."""
    export = workdir / run.export_dir
    try:
        params: Optional[int] = stored_parameters(export)
    except ExportError:
        params = None
    try:
        ledger = read_ledger(export) or {}
    except LedgerError:
        ledger = {}
    blimp = _read(report_dir / "blimp.json") or {}
    ppl = _read(report_dir / "perplexity.json") or {}
    overall = blimp.get("overall") or {}
    curve = _read(workdir / run.checkpoint_dir / "blimp_curve.json") or {}
    return {
        "name": run.name,
        "role": run.role,
        "export": run.export_dir,
        "params": params,
        "own_words": ledger.get("own_words"),
        "total_words": ledger.get("total_words"),
        "teachers": [{"path": t.get("path"), "total_words": t.get("total_words")} for t in ledger.get("teachers", [])],
        "val_loss": ppl.get("mean_nll"),
        "val_ppl": ppl.get("perplexity"),
        "val_tokens": ppl.get("predicted_tokens"),
        "blimp": overall.get("accuracy"),
        "blimp_pairs": overall.get("pairs"),
        "blimp_fields": {name: row.get("accuracy") for name, row in (blimp.get("fields") or {}).items()},
        "report": str(report_dir.relative_to(workdir)) if report_dir.is_relative_to(workdir) else str(report_dir),
        "curve": [(float(e["words_seen"]), float(e["accuracy"])) for e in curve.get("milestones", [])
                  if isinstance(e, dict) and "words_seen" in e and "accuracy" in e],
    }


def budget(models: list[dict], track: str) -> dict:
    """The recipe's words against the track's cap: the distilled student's ledger total (its teachers' totals plus
    its own words), with the sum written out, and whether the teachers' totals it read match their own ledgers."""
    student = next(m for m in models if m["role"] == "distilled student")
    teachers = {m["export"]: m for m in models if m["role"] == "teacher"}
    parts = [(Path(t["path"] or "?").name, t["total_words"]) for t in student["teachers"]]
    parts.append((student["name"], student["own_words"]))
    mismatched = [t["path"] for t in student["teachers"]
                  if t["path"] in teachers and not _close(t["total_words"], teachers[t["path"]]["total_words"])]
    total, cap = student["total_words"], TRACK_WORD_CAPS[track]
    return {"track": track, "cap": cap, "total_words": total, "parts": parts,
            "share_of_cap": None if total is None else total / cap,
            "within_cap": None if total is None else total <= cap, "teacher_ledgers_match": not mismatched}


def _close(a: Optional[float], b: Optional[float]) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def _difference(student: dict, other: dict) -> dict:
    blimp = None if student["blimp"] is None or other["blimp"] is None else 100 * (student["blimp"] - other["blimp"])
    loss = None if student["val_loss"] is None or other["val_loss"] is None else student["val_loss"] - other["val_loss"]
    return {"against": other["name"], "blimp_pp": blimp, "val_loss": loss}


def _phrase(diff: dict, what: str) -> str:
    blimp, loss = diff["blimp_pp"], diff["val_loss"]
    if blimp is None or loss is None:
        return f"vs {what} ({diff['against']}): not known (a score is missing)"
    verdict = ("better on both" if blimp > 0 and loss < 0 else "worse on both" if blimp <= 0 and loss >= 0
               else "better on BLiMP, worse on val loss" if blimp > 0 else "worse on BLiMP, better on val loss")
    return f"vs {what} ({diff['against']}): {blimp:+.1f} pp BLiMP, {loss:+.3f} val loss — {verdict}"


def comparison(models: list[dict]) -> dict:
    """The distilled student against its best teacher (highest BLiMP) and, when trained, the student alone.

    Differences are student minus the other: BLiMP in percentage points (higher is better), val loss in nats per
    token (lower is better). One seed: run more (``--seed``, one workdir each) before calling a gap real.
    """
    student = next(m for m in models if m["role"] == "distilled student")
    teachers = [m for m in models if m["role"] == "teacher"]
    scored = [t for t in teachers if t["blimp"] is not None]
    best = max(scored, key=lambda t: t["blimp"]) if scored else teachers[0]
    result = {"vs_best_teacher": _difference(student, best)}
    lines = [_phrase(result["vs_best_teacher"], "best teacher")]
    alone = next((m for m in models if m["role"] == "student alone"), None)
    if alone is not None:
        result["vs_student_alone"] = _difference(student, alone)
        lines.append(_phrase(result["vs_student_alone"], "student alone"))
    else:
        lines.append("vs student alone: not trained (run with --control)")
    result["answer"] = "Distilled student " + "; ".join(lines) + "."
    return result


def _cell(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    return {"int": f"{value:,.0f}", "loss": f"{value:.3f}", "ppl": f"{value:,.1f}", "pct": f"{100 * value:.1f}"}[kind]


def _seconds(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:,.1f} s"


def markdown(page: dict) -> str:
    """The results page as Markdown."""
    models, fields = page["models"], page["blimp_fields"]
    head = ["Model", "Role", "Params", "Words (own)", "Words (total)", "Val loss", "Val ppl", "BLiMP %",
            *(f"{f} %" for f in fields)]
    lines = [f"# Recipe `{page['preset']}`, seed {page['seed']}", "", page["description"], "",
             f"**{page['comparison']['answer']}**", "",
             "## Models", "", "| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    for m in models:
        row = [m["name"], m["role"], _cell(m["params"], "int"), _cell(m["own_words"], "int"),
               _cell(m["total_words"], "int"), _cell(m["val_loss"], "loss"), _cell(m["val_ppl"], "ppl"),
               _cell(m["blimp"], "pct"), *(_cell(m["blimp_fields"].get(f), "pct") for f in fields)]
        lines.append("| " + " | ".join(row) + " |")
    words = page["budget"]
    total = _cell(words["total_words"], "int")
    sum_text = " + ".join(f"{name} {_cell(value, 'int')}" for name, value in words["parts"])
    share = "" if words["share_of_cap"] is None else f" ({100 * words['share_of_cap']:.4g} % of the cap"
    share += "" if words["within_cap"] is None else (", within it)" if words["within_cap"] else ", OVER it)")
    lines += ["", "Words: corpus words trained on, repeats counted (`word_ledger.json` of each export); a student's "
              "total includes its teachers' training. Val loss: mean NLL (nats/token) over the val split; BLiMP: "
              f"{page['blimp']['pairs_note']}.", "",
              "## Word budget", "",
              f"The recipe (teachers + distilled student): {sum_text} = **{total} words** against BabyLM's "
              f"{words['track']} cap of {words['cap']:,} words{share}."
              + ("" if words["teacher_ledgers_match"] else " The student's ledger does not match its teachers' "
                 "ledgers now (a teacher was retrained after it)."),
              ]
    alone = next((m for m in models if m["role"] == "student alone"), None)
    if alone is not None:
        lines.append(f"The student alone ({alone['name']}, a comparison run, not part of the recipe's budget) "
                     f"trained on {_cell(alone['own_words'], 'int')} words.")
    lines += ["", "## BLiMP during training", "", f"![BLiMP vs training words]({PAGE_FILES[2]})", "",
              "Each model's milestone scores (its own training words), the diamond its final score.", "",
              "## Wall time per stage", "", "| Stage | Wall time | This run |", "|---|---:|---|"]
    for stage in page["stages"]:
        lines.append(f"| {stage['stage']} | {_seconds(stage['seconds'])} | {stage['status']} |")
    lines += [f"| total | {_seconds(page['total_seconds'])} | |", "",
              f"Seed {page['seed']} for every stage that has one (split, initialisation and data order, teacher "
              f"cache, sampling). Command: `{page['command']}`. Workdir: `{page['workdir']}`."]
    if page.get("sample"):
        lines += ["", "## A sample from the distilled student", "", "```text", page["sample"].strip(), "```"]
    return "\n".join(lines) + "\n"


def write_page(workdir: Path, runs: list[ModelRun], reports: dict[str, Path], stages: list[dict], info: dict) -> dict:
    """Gather every model's results, write ``results.json``, ``results.md`` and ``blimp_vs_words.png`` into
    ``workdir``; returns the page record.

    ``reports``: ``{model name: its evaluate folder}``; ``stages``: ``[{"stage", "seconds", "status"}]`` in order;
    ``info``: ``preset``, ``description``, ``seed``, ``track``, ``command``, ``blimp_dir``, ``blimp_limit``,
    ``sample``.
    """
    models = [model_results(run, workdir, reports[run.name]) for run in runs]
    fields = sorted({f for m in models for f in m["blimp_fields"]})
    limit = info.get("blimp_limit")
    pairs = next((m["blimp_pairs"] for m in models if m["blimp_pairs"]), None)
    known = [s["seconds"] for s in stages if s["seconds"] is not None]
    page = {
        "format": PAGE_FORMAT, "written_by": "babylm recipe",
        **{key: info.get(key) for key in ("preset", "description", "seed", "command", "sample")},
        "workdir": str(workdir),
        "blimp": {"dir": info.get("blimp_dir"), "limit_per_paradigm": limit, "pairs": pairs,
                  "pairs_note": f"{pairs if pairs is not None else '?'} minimal pairs from `{info.get('blimp_dir')}`"
                                + (f" (at most {limit} per paradigm)" if limit else "") + ", ties count as wrong"},
        "blimp_fields": fields, "models": models, "budget": budget(models, info["track"]),
        "comparison": comparison(models), "stages": stages, "total_seconds": sum(known) if known else None,
    }
    atomic_write_json(workdir / PAGE_FILES[1], page)
    atomic_write_text(workdir / PAGE_FILES[0], markdown(page))
    finals = {m["name"]: (m["own_words"], m["blimp"]) for m in models
              if m["own_words"] is not None and m["blimp"] is not None}
    plot_blimp_curves({m["name"]: m["curve"] for m in models}, workdir / PAGE_FILES[2],
                      f"BLiMP vs training words: recipe {info.get('preset')}, seed {info.get('seed')}", finals)
    return page
