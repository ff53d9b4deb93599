"""Corpus quality report: is the corpus sound? One page — ``quality.md`` — and its data, ``quality.json``.

Run it (``prepare`` runs it after the split)::

    python -m babylm.data.text.quality [--data-dir data]

Reads, under ``--data-dir``: the article tree ``britannica_data/`` (titles, volumes, words as acquired) with
its ``ingest_report.json`` (offline ingests: route of each article, headword candidates rejected, what was
left out) or ``discovery.json`` (the scraper's catalogue: skipped pages, overlaps); the cleaned corpus
``encyclopedia_cleaned.txt`` with its ``encyclopedia_cleaned.report.json`` (words each cleaning rule
removed, hyphenation decisions); ``corpus_split/split_report.json`` when present. Writes ``quality.json``
and ``quality.md`` there (atomically). Sections:

* articles and words per volume and per source route (``gutenberg/headword``, ``wikitext/transclusion``,
  ``wikitext/headword``, ``wikisource/scrape``);
* residual markup in the cleaned corpus per million words, by kind
  (:data:`babylm.data.text.clean.RESIDUAL_MARKUP_PATTERNS`);
* what was left out, by whom: the ingest (tables, captions, footnotes, formulas, margin headings, orphan
  spans, boilerplate … — counts and words), the headword candidates rejected (by reason), the articles the
  Gutenberg ingest joined across slices (and those whose beginning is in a slice not given), the scraper's
  skipped pages and overlaps, the cleaner (net words removed per rule; hyphenation decisions);
* templates without a rendering rule, with counts;
* the 20 longest and 20 shortest articles;
* suspicious titles (:func:`suspicious_title`: punctuation or a digit first, a single letter, markup
  characters, no capital letter, over 100 characters, a sub-heading's ``.--``).

Memory: one (title, volume, words) row per article and one cleaned article at a time.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Sequence

from babylm.core.arguments import CommandParser, run_command
from babylm.core.atomic import atomic_write_json, atomic_write_text
from babylm.data.articles import INGEST_REPORT, read_ingest_report
from babylm.data.layout import DATA_DIR
from babylm.data.text.clean import iter_articles, report_path, residual_markup_counts

TOP = 20
_MARKUP_CHARACTERS = re.compile(r"[{}\[\]<>|=_*]|''")


class QualityError(ValueError):
    """The data directory holds nothing to report on; the message says which stage to run."""


def suspicious_title(title: str) -> str | None:
    """Why ``title`` looks wrong for an EB1911 article, or None."""
    core = re.sub(r" \(\d+\)$", "", title)
    core = core[1:] if re.match(r"'[A-Z]", core) else core  # the ʿayn of a transliterated name: 'ANTARA
    if not core or not core[0].isalpha():
        return "starts with punctuation or a digit"
    if sum(c.isalpha() for c in core) == 1:
        return "a single letter"
    if _MARKUP_CHARACTERS.search(core):
        return "markup characters"
    if not any(c.isupper() for c in core):
        return "no capital letter"
    if len(core) > 100:
        return "over 100 characters"
    if ".--" in core or core.rstrip().endswith(("AUTHORITIES", "BIBLIOGRAPHY")):
        return "a sub-heading"
    return None


def _volume(relpath: str) -> str:
    match = re.match(r"volume_(\d+)/", relpath)
    return str(int(match.group(1))) if match else "?"


def _routes(raw: Path) -> tuple[dict[str, str], dict]:
    """Route of each article file (``source/route``) and the ingest runs' reports."""
    runs = read_ingest_report(raw)["runs"]
    routes = {relpath: f"{run.get('source', '?')}/{route}" for run in runs.values()
              for relpath, route in (run.get("articles") or {}).items()}
    return routes, runs


def collect(data_dir: str | Path) -> dict:
    """Everything ``quality.json`` holds, read from the stage outputs under ``data_dir``.

    Raises :class:`QualityError` when there is neither an article tree nor a cleaned corpus.
    """
    data = Path(data_dir)
    raw, cleaned = data / "britannica_data", data / "encyclopedia_cleaned.txt"
    if not raw.is_dir() and not cleaned.is_file():
        raise QualityError(f"{data}: no britannica_data/ and no encyclopedia_cleaned.txt; "
                           "run python -m babylm prepare first")
    routes, runs = _routes(raw)
    default_route = "wikisource/scrape" if (raw / "discovery.json").is_file() else "unknown"
    rows, titles = [], Counter()
    per_volume: dict[str, Counter] = {}
    per_route: dict[str, Counter] = {}
    for path in sorted(raw.glob("volume_*/part_*/*.json")):
        relpath = str(path.relative_to(raw))
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            title, words = str(record["title"]), len(str(record["content"]).split())
        except (OSError, ValueError, KeyError, TypeError):
            continue
        volume, route = _volume(relpath), routes.get(relpath, default_route)
        rows.append((words, title, volume, relpath))
        for table, key in ((per_volume, volume), (per_route, route)):
            table.setdefault(key, Counter()).update(articles=1, words=words)
        titles[title] += 1
    residual, cleaned_articles, cleaned_words = Counter(), 0, 0
    if cleaned.is_file():
        with open(cleaned, encoding="utf-8") as source:
            for article in iter_articles(source):
                cleaned_articles += 1
                cleaned_words += len(article.split())
                residual.update(residual_markup_counts(article))
    per_million = {kind: round(count * 1e6 / cleaned_words, 2) if cleaned_words else 0.0
                   for kind, count in sorted(residual.items())}
    left_out: dict[str, dict[str, int]] = {}
    rejected, unknown = Counter(), Counter()
    for run in runs.values():
        for kind, entry in (run.get("removed") or {}).items():
            total = left_out.setdefault(kind, {"count": 0, "words": 0})
            total["count"] += entry.get("count", 0)
            total["words"] += entry.get("words", 0)
        rejected.update(item.get("reason", "?") for item in run.get("rejected_headwords") or [])
        unknown.update(run.get("unknown_templates") or {})
    joined = [{"title": join.get("title"), "slices": [join.get("from"), key.split(":", 1)[-1]],
               "duplicate_paragraphs": join.get("duplicate_paragraphs", 0)}
              for key, run in runs.items() for join in run.get("joined") or []]
    partial = [{"title": title, "slice": key.split(":", 1)[-1]} for key, run in runs.items()
               for title in run.get("continued_from_elsewhere") or []]
    scrape = _scrape_summary(raw / "discovery.json")
    clean_report = _read_json(report_path(cleaned))
    rows.sort(key=lambda row: (-row[0], row[3]))
    return {
        "articles": len(rows), "words": sum(row[0] for row in rows),
        "cleaned": {"articles": cleaned_articles, "words": cleaned_words},
        "split": {name: (_read_json(data / "corpus_split" / "split_report.json") or {}).get(name)
                  for name in ("train", "val")},
        "per_volume": {key: dict(value)
                       for key, value in sorted(per_volume.items(), key=lambda kv: (len(kv[0]), kv[0]))},
        "per_route": {key: dict(value) for key, value in sorted(per_route.items())},
        "residual_markup_per_million_words": per_million,
        "left_out_by_ingest": dict(sorted(left_out.items())),
        "rejected_headwords": dict(rejected.most_common()),
        "across_slices": {"joined": joined, "beginning_not_in_the_input": partial},
        "scrape": scrape,
        "clean": {"words_removed_by_rule": (clean_report or {}).get("words_removed_by_rule", {}),
                  "hyphenation": (clean_report or {}).get("hyphenation", {})},
        "unknown_templates": dict(unknown.most_common()),
        "longest": [{"title": t, "volume": v, "words": w} for w, t, v, _ in rows[:TOP]],
        "shortest": [{"title": t, "volume": v, "words": w}
                     for w, t, v, _ in sorted(rows, key=lambda r: (r[0], r[3]))[:TOP]],
        "suspicious_titles": [{"title": t, "volume": v, "words": w, "why": why}
                              for w, t, v, _ in sorted(rows, key=lambda r: r[3]) if (why := suspicious_title(t))],
    }


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _scrape_summary(path: Path) -> dict:
    """Skipped pages by reason and overlaps from the scraper's catalogue, when there is one."""
    catalogue = _read_json(path)
    if not catalogue:
        return {}
    skipped = Counter(str(reason).split(" (")[0] for reason in (catalogue.get("skipped") or {}).values())
    return {"skipped": dict(skipped.most_common()), "overlaps": len(catalogue.get("overlaps") or {})}


# ----------------------------------------------------------------------------------------------- Markdown
def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(f"{cell:,}" if isinstance(cell, int) else str(cell).replace("|", "\\|") for cell in row)
              + " |" for row in rows]
    return lines + [""]


def to_markdown(report: dict) -> str:
    """``quality.md``: the report as one page of Markdown tables."""
    split = report["split"]
    lines = ["# Corpus quality", "",
             f"{report['articles']:,} articles, {report['words']:,} words as acquired; after cleaning "
             f"{report['cleaned']['articles']:,} articles, {report['cleaned']['words']:,} words"
             + (f"; train {split['train']['words']:,} / val {split['val']['words']:,} words."
                if split.get("train") and split.get("val") else "."), ""]
    lines += ["## Articles per volume", ""] + _table(["volume", "articles", "words"], [
        (v, c["articles"], c["words"]) for v, c in report["per_volume"].items()])
    lines += ["## Articles per source route", ""] + _table(["route", "articles", "words"], [
        (r, c["articles"], c["words"]) for r, c in report["per_route"].items()])
    residual = report["residual_markup_per_million_words"]
    lines += ["## Residual markup in the cleaned corpus (per million words)", ""] + _table(
        ["kind", "per million words"],
        [(k, v) for k, v in residual.items()] + [("**total**", round(sum(residual.values()), 2))])
    lines += ["## What was left out", "", "By the ingest:", ""] + _table(["kind", "count", "words"], [
        (k, v["count"], v["words"]) for k, v in report["left_out_by_ingest"].items()] or [("nothing recorded", 0, 0)])
    if report["rejected_headwords"]:
        lines += ["Headword candidates rejected (they stay as paragraphs of the article before them):", ""]
        lines += _table(["reason", "count"], list(report["rejected_headwords"].items()))
    across = report.get("across_slices") or {}
    if across.get("joined") or across.get("beginning_not_in_the_input"):
        lines += ["Articles running over slices (joined into one; paragraphs printed in both kept once):", ""] + _table(
            ["title", "slices", "duplicate paragraphs dropped"],
            [(j["title"], " + ".join(map(str, j["slices"])), j["duplicate_paragraphs"])
             for j in across.get("joined", [])]
            + [(p["title"], f"{p['slice']} (its beginning is in a slice not given)", 0)
               for p in across.get("beginning_not_in_the_input", [])])
    if report["scrape"]:
        lines += [f"By the scraper: {report['scrape']['overlaps']} overlapping sub-pages; skipped pages:", ""]
        lines += _table(["reason", "pages"], list(report["scrape"]["skipped"].items()))
    lines += ["By the cleaner (net words removed per rule):", ""] + _table(
        ["rule", "words"], list(report["clean"]["words_removed_by_rule"].items()) or [("nothing recorded", 0)])
    if report["clean"]["hyphenation"]:
        lines += ["Line-end hyphens:", ""] + _table(["decision", "count"], list(report["clean"]["hyphenation"].items()))
    lines += ["## Templates without a rendering rule", ""] + (
        _table(["template", "count"], list(report["unknown_templates"].items())[:40])
        if report["unknown_templates"] else ["None.", ""])
    for name in ("longest", "shortest"):
        lines += [f"## The {len(report[name])} {name} articles", ""] + _table(
            ["title", "volume", "words"], [(a["title"], a["volume"], a["words"]) for a in report[name]])
    lines += ["## Suspicious titles", ""] + (_table(["title", "volume", "words", "why"], [
        (a["title"], a["volume"], a["words"], a["why"]) for a in report["suspicious_titles"]])
        if report["suspicious_titles"] else ["None.", ""])
    return "\n".join(lines)


def write_report(data_dir: str | Path) -> dict:
    """Write ``quality.json`` and ``quality.md`` into ``data_dir``; returns the report."""
    report = collect(data_dir)
    atomic_write_json(Path(data_dir) / "quality.json", report)
    atomic_write_text(Path(data_dir) / "quality.md", to_markdown(report))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run the report on ``argv`` (default ``sys.argv[1:]``); returns an exit code (2 on bad input)."""
    parser = CommandParser(prog="python -m babylm.data.text.quality",
                           description="Corpus quality report (quality.json + quality.md) "
                                       "from the data pipeline's outputs.")
    parser.add_argument("--data-dir", default=DATA_DIR, help="the pipeline's data directory (default: %(default)s)")

    def work(args) -> str:
        report = write_report(args.data_dir)
        return (f"quality: {report['articles']:,} articles, {len(report['suspicious_titles'])} suspicious titles → "
                f"{Path(args.data_dir) / 'quality.md'} (see also {INGEST_REPORT} in britannica_data/)")

    return run_command("quality", argv, parser, work, (QualityError,))


if __name__ == "__main__":
    sys.exit(main())
