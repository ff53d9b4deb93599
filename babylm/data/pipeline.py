r"""The data pipeline in one command: acquire → convert → combine → clean → split → quality report.

Run it::

    python -m babylm prepare                                   # the bundled sample, served locally
    python -m babylm prepare --source gutenberg --val-fraction 0.1 \
        --gutenberg-file ../shared/data/eb1911/gutenberg/19699-8.txt
    python -m babylm prepare --source wikitext --wikitext-pages pages.xml.bz2 --val-fraction 0.1
    python -m babylm prepare --source wikisource --contact you@example.org   # the real site (slow, polite)
    python -m babylm prepare --help          (also: python scripts/prepare_data.py --help)

Everything lands under ``--data-dir`` (default ``data``): ``britannica_data/`` (article JSON),
``britannica_txt/``, ``combined_encyclopedia.txt``, ``encyclopedia_cleaned.txt`` and
``corpus_split/{train,val}.txt`` + ``split_report.json``, and the corpus quality report ``quality.md`` +
``quality.json`` (:mod:`babylm.data.text.quality`). The first stage depends on ``--source``:
``sample`` starts :func:`babylm.data.wikisource.sample.server.serve_sample` on 127.0.0.1 and scrapes it with
:func:`babylm.data.wikisource.main`; ``wikisource`` scrapes the real site; ``gutenberg`` and ``wikitext``
run the offline ingests (:mod:`babylm.data.sources.gutenberg`, :mod:`babylm.data.sources.wikitext`).

**Up to date.** After a stage succeeds, a stamp ``<data-dir>/.pipeline/<stage>.json`` records a
fingerprint of its inputs (path, size and modification time of every input file), its options, a hash
of the source code of the modules that implement it, and a fingerprint of its outputs. A stage is
skipped when all four still match — so editing an input, changing an option (``--strip-accents``,
``--seed``…), upgrading the cleaner or touching an output re-runs that stage and, through their
inputs, the stages after it. ``--force`` runs every stage. The ``wikisource`` scrape is never skipped by
a stamp: the scraper resumes by itself (articles already on disk are not fetched again).

**Sources do not mix.** ``<data-dir>/.pipeline/source.json`` records which source filled
``britannica_data/``; asking for another source in the same data directory is an error that names the
fix (another ``--data-dir``).

**Small corpora.** The split's default budgets (10M train / 2M val words) cannot be met by the sample
(about 10k words) or a few Gutenberg slices. The split then stops with a message naming
``--val-fraction``; for ``--source sample`` the pipeline passes ``--val-fraction 0.1`` itself unless a
split option is given, and says so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from babylm.core.arguments import CommandParser, non_negative_int, open_fraction, positive_int, seed
from babylm.core.atomic import LockBusy, atomic_write_json, exclusive_lock, os_error_line, remove_stale_temporaries
from babylm.core.outputs import recorded, write_manifest
from babylm.core.safe_json import JsonError, read_json
from babylm.data.article_tree import TreeError, recover_tree, replace_tree
from babylm.data.articles import INGEST_REPORT
from babylm.data.layout import Layout
from babylm.data.sources.gutenberg import IngestError as GutenbergError
from babylm.data.sources.gutenberg import ingest_slices, slice_files
from babylm.data.sources.wikitext import IngestError as WikitextError
from babylm.data.sources.wikitext import ingest_pages
from babylm.data.stamps import Stage, fingerprint
from babylm.data.text import clean, combine, convert, quality, split
from babylm.data.wikisource.sample.server import serve_sample
from babylm.data.wikisource.sample.wiki import SAMPLE_DIR
from babylm.data.wikisource.scrape import DEFAULT_BASE_URL
from babylm.data.wikisource.scrape import main as scrape_main

MANIFEST_STAGES = ("combine", "clean", "split")
"""The stages whose outputs carry a ``.babylm-<stage>.json`` manifest (:func:`adopt_stamped_outputs`)."""
SOURCES = ("sample", "wikisource", "gutenberg", "wikitext")
REPLACING_SOURCES = ("gutenberg", "wikitext")  # ingests that re-create the whole article tree on each run
SPLIT_FILES = ("train.txt", "val.txt", "split_report.json")
SAMPLE_VAL_FRACTION = 0.1


class PipelineError(ValueError):
    """A problem the user can fix (missing option, mixed sources, failed scrape); printed as one line."""


# ------------------------------------------------------------------------------------------------ stages
RAW_GLOB = "volume_*/part_*/*.json"
TEXT_GLOB = "volume_*/part_*/*.txt"


def _scrape(api_url: str, args: argparse.Namespace, layout: Layout, local: bool) -> str:

    argv = ["--base-url", api_url, "--out", str(layout.raw), "--quiet"]
    if local:
        # The sample server listens on a new port each run; discovery against it is instant, so redo it
        # (articles already on disk are still not fetched again).
        argv += ["--delay", "0", "--backoff", "0.05", "--rediscover"]
    if args.contact:
        argv += ["--contact", args.contact]
    if args.limit:
        argv += ["--limit", str(args.limit)]
    if args.volumes:
        argv += ["--volumes", args.volumes]
    code = scrape_main(argv)
    if code == 2:
        raise PipelineError("the scrape stage refused its options (exit code 2, message above); fix them and run again")
    if code != 0:
        raise PipelineError(f"the scrape stage stopped with exit code {code} (see {layout.raw / 'scraper.log'}); "
                            "run the same command again to resume")
    count = sum(1 for _ in layout.raw.glob(RAW_GLOB))
    return f"{count} article files in {layout.raw}"


def acquire_stage(args: argparse.Namespace, layout: Layout) -> Stage:
    """The first stage for ``args.source``: scrape (sample or real site) or an offline ingest."""
    outputs = [(layout.raw, RAW_GLOB)]
    if args.source == "sample":

        def run() -> str:

            with serve_sample() as api_url:
                return _scrape(api_url, args, layout, local=True)

        return Stage("acquire", [(SAMPLE_DIR, "*")], outputs,
                     {"source": "sample", "limit": args.limit, "volumes": args.volumes},
                     ["babylm.data.wikisource.scrape", "babylm.data.wikisource.api", "babylm.data.wikisource.html",
                      "babylm.data.wikisource.catalogue", "babylm.data.wikisource.progress",
                      "babylm.data.wikisource.sample.wiki", "babylm.data.wikisource.sample.api",
                      "babylm.data.wikisource.sample.server",
                      "babylm.data.articles", "babylm.data.articles"], run)
    if args.source == "wikisource":
        return Stage("acquire", [], outputs, {"source": "wikisource"}, [],
                     lambda: _scrape(args.base_url, args, layout, local=False), stamped=False)
    if args.source == "gutenberg":
        files = slice_files(args.gutenberg_file)  # a folder stands for its *.txt

        def run() -> str:
            stats = replace_tree(layout.raw, lambda: ingest_slices(files, layout.raw))
            return (f"{stats.articles} articles ({stats.joined} joined across slices) "
                    f"from {len(files)} Gutenberg slice(s) → {layout.raw}")

        return Stage("acquire", [(p.resolve(), None) for p in files], outputs,
                     {"source": "gutenberg", "files": sorted(map(str, files))},
                     [f"babylm.data.sources.gutenberg{m}" for m in ("", "_text", "_furniture", "_headwords", "_markup")]
                     + ["babylm.data.articles"], run)

    files = [Path(p) for p in args.wikitext_pages]

    def run_wikitext() -> str:
        stats = replace_tree(layout.raw, lambda: ingest_pages(files, layout.raw, progress=True))
        routes = ", ".join(f"{n} by {route}" for route, n in sorted(stats.routes.items())) or "none"
        return (f"{stats.articles} articles ({routes}) from {stats.pages} scan pages; "
                f"{stats.orphans} orphan spans left out → {layout.raw}")

    return Stage("acquire", [(p.resolve(), None) for p in files], outputs,
                 {"source": "wikitext", "files": sorted(map(str, files))},
                 [f"babylm.data.sources.{m}" for m in ("wikitext", "wikitext_assembly", "transclusion", "dump",
                                                       "wikitext_render", "wikitext_templates")]
                 + ["babylm.data.articles"], run_wikitext)


def text_stages(args: argparse.Namespace, layout: Layout, split_options: split.SplitOptions) -> list[Stage]:
    """convert, combine, clean and split, wired to ``layout`` and the options in ``args``."""

    def run_convert() -> str:
        stats = convert.convert_tree(layout.raw, layout.text, force=args.force)
        return (f"{stats.converted} converted, {stats.up_to_date} up to date, {stats.skipped} skipped, "
                f"{stats.removed_stale} stale removed")

    def run_combine() -> str:
        stats = combine.combine_tree(layout.text, layout.combined)
        return f"{stats.articles} articles, {stats.words:,} words → {layout.combined}"

    def run_clean() -> str:
        stats = clean.clean_file(layout.combined, layout.cleaned, strip_accents=args.strip_accents,
                                 recase_headwords=args.recase_headwords)
        return f"{stats.articles_out} articles, {stats.words_out:,} words → {layout.cleaned}"

    def run_split() -> str:
        report = split.split_file(layout.cleaned, layout.split_dir, split_options)
        return (f"train {report['train']['articles']} articles / {report['train']['words']:,} words, "
                f"val {report['val']['articles']} / {report['val']['words']:,} ({report['mode']} mode) "
                f"→ {layout.split_dir}")

    def run_quality() -> str:
        report = quality.write_report(layout.root)
        return f"{len(report['suspicious_titles'])} suspicious titles → {layout.root / 'quality.md'}"

    split_outputs = [(layout.split_dir / name, None) for name in SPLIT_FILES]
    return [
        Stage("convert", [(layout.raw, RAW_GLOB)], [(layout.text, TEXT_GLOB)], {},
              ["babylm.data.text.convert"], run_convert),
        Stage("combine", [(layout.text, TEXT_GLOB)], [(layout.combined, None)], {},
              ["babylm.data.text.combine"], run_combine),
        Stage("clean", [(layout.combined, None)], [(layout.cleaned, None), (clean.report_path(layout.cleaned), None)],
              {"strip_accents": args.strip_accents, "recase_headwords": args.recase_headwords},
              ["babylm.data.text.clean", "babylm.data.text.clean_rules", "babylm.data.text.hyphenation",
               "babylm.data.sources.wikitext_render", "babylm.data.sources.wikitext_templates"], run_clean),
        Stage("split", [(layout.cleaned, None)], split_outputs,
              {"train_words": split_options.train_words, "val_words": split_options.val_words,
               "val_fraction": split_options.val_fraction, "seed": split_options.seed},
              ["babylm.data.text.split", "babylm.data.text.clean"], run_split),
        Stage("quality", [(layout.raw, RAW_GLOB), (layout.raw / INGEST_REPORT, None),
                          (layout.raw / "discovery.json", None), (layout.cleaned, None),
                          (clean.report_path(layout.cleaned), None), *split_outputs],
              [(layout.root / "quality.json", None), (layout.root / "quality.md", None)], {},
              ["babylm.data.text.quality", "babylm.data.text.clean"], run_quality),
    ]


# ------------------------------------------------------------------------------------------------ driver
def check_source(args: argparse.Namespace, layout: Layout) -> None:
    """Refuse to mix sources in one data directory, and check each source's required option."""
    if args.source == "gutenberg" and not args.gutenberg_file:
        raise PipelineError("--source gutenberg needs --gutenberg-file PATH "
                            "(a Project Gutenberg EB1911 slice, e.g. 19699-8.txt)")
    if args.source == "wikitext" and not args.wikitext_pages:
        raise PipelineError("--source wikitext needs --wikitext-pages PATH "
                            "(XML dump, JSON or JSON Lines of Page:EB1911 pages)")
    for path in [*(args.gutenberg_file or []), *(args.wikitext_pages or [])]:
        if args.source == "gutenberg" and Path(path).is_dir():
            continue  # a folder of slices (checked by the ingest)
        if not Path(path).is_file():
            raise PipelineError(f"{path}: input file not found")
        if Path(path).stat().st_size == 0:
            option = "--gutenberg-file" if args.source == "gutenberg" else "--wikitext-pages"
            raise PipelineError(f"{path}: the file is empty; give {option} a file with the EB1911 text")
    marker = layout.stamps / "source.json"
    recorded = None
    if marker.is_file():
        try:
            recorded = read_json(marker)["source"]
            if recorded not in SOURCES:
                raise TypeError(recorded)
        except (JsonError, KeyError, TypeError) as error:
            raise PipelineError(f"{marker} is damaged ({error}); delete it if {layout.raw} holds articles of "
                                f"--source {args.source}, else use another --data-dir") from None
    has_articles = next(layout.raw.glob(RAW_GLOB), None) is not None
    # a marker binds the folder only once articles exist (a first run that failed early binds nothing)
    if recorded not in (None, args.source) and has_articles:
        raise PipelineError(
            f"{layout.raw} holds articles from source '{recorded}', not '{args.source}'; "
            f"use another --data-dir (e.g. --data-dir data-{args.source}) or remove {layout.root}"
        )
    if recorded is None and has_articles and args.source in REPLACING_SOURCES:
        raise PipelineError(
            f"{layout.raw} holds articles that prepare did not put there, and --source {args.source} replaces "
            f"that folder; use another --data-dir (e.g. --data-dir data-{args.source})"
        )
    if recorded != args.source:
        atomic_write_json(marker, {"source": args.source})


def split_options_from(args: argparse.Namespace) -> split.SplitOptions:
    """The split options; ``--source sample`` without split flags uses everything with val fraction 0.1."""
    val_fraction = args.val_fraction
    if args.source == "sample" and val_fraction is None and args.train_words is None and args.val_words is None:
        val_fraction = SAMPLE_VAL_FRACTION
        print("prepare: the sample is far below the 10M/2M word budgets: using everything, "
              f"--val-fraction {val_fraction}")
    return split.SplitOptions(
        train_words=split.DEFAULT_TRAIN_WORDS if args.train_words is None else args.train_words,
        val_words=(split.DEFAULT_VAL_WORDS if args.val_words is None
                   else None if args.val_words == split.REST else args.val_words),
        val_fraction=val_fraction,
        seed=args.seed,
    )


def prepare(args: argparse.Namespace) -> list[tuple[str, str]]:
    """Run every stage that is not up to date, holding the data directory's lock; returns (stage,
    summary) pairs in order. Raises :class:`PipelineError` when another prepare holds the lock."""
    layout = Layout(Path(args.data_dir))
    if layout.root.exists() and not layout.root.is_dir():
        raise PipelineError(f"--data-dir {layout.root} is a file; pass a folder")
    busy = f"another prepare is running in {layout.root}; wait for it or use another --data-dir"
    try:
        with exclusive_lock(layout.root / ".prepare.lock", busy):
            _clean_up_after_kills(layout, args.source)
            return _run_stages(args, layout)
    except LockBusy as error:
        raise PipelineError(str(error)) from None


def _clean_up_after_kills(layout: Layout, source: str) -> None:
    """What a killed run (SIGKILL included) left: a half-replaced article tree, temporary files of ours."""
    if recover_tree(layout.raw):
        print(f"prepare: restored {layout.raw} as it was before an ingest that was stopped midway", flush=True)
    remove_stale_temporaries(layout.root, [layout.combined.name, layout.cleaned.name])
    remove_stale_temporaries(layout.stamps)
    remove_stale_temporaries(layout.split_dir, [*SPLIT_FILES])
    for folder in layout.text.glob("volume_*/part_*/"):  # (the writers of the article tree clean it themselves)
        remove_stale_temporaries(folder)


def adopt_stamped_outputs(stage: Stage, stamps: Path) -> list[str]:
    """Record in ``stage``'s output manifest (:mod:`babylm.core.outputs`) the files its stamp shows this pipeline
    wrote — unchanged since (same size and modification time) — so that a data folder prepared before manifests
    existed (babylm before 2026-12) is re-run in place instead of refused; returns the paths adopted.

    Only for the stages that keep a manifest (``combine``, ``clean``, ``split``: the command name is the stage's);
    a file changed or added by hand since the stamp is never adopted, and its stage still refuses to overwrite it.
    """
    if stage.name not in MANIFEST_STAGES:
        return []
    try:
        saved = read_json(stamps / f"{stage.name}.json")
    except JsonError:
        return []
    if not isinstance(saved, dict) or saved.get("outputs") != fingerprint(stage.outputs):
        return []
    adopted = []
    for path in (path for path, pattern in stage.outputs if pattern is None and path.is_file()):
        ours = recorded(path.parent, stage.name)
        if path.name not in ours:
            write_manifest(path.parent, stage.name, ours | {path.name})
            adopted.append(str(path))
    return adopted


def _run_stages(args: argparse.Namespace, layout: Layout) -> list[tuple[str, str]]:
    check_source(args, layout)
    options = split_options_from(args)
    options.validate()
    done = []
    for stage in [acquire_stage(args, layout), *text_stages(args, layout, options)]:
        if not args.force and stage.up_to_date(layout.stamps):
            summary = "up to date, skipped"
        else:
            adopt_stamped_outputs(stage, layout.stamps)
            summary = stage.run()
            stage.record(layout.stamps)
        print(f"prepare: {stage.name}: {summary}", flush=True)
        done.append((stage.name, summary))
    return done


def build_parser() -> argparse.ArgumentParser:
    """The pipeline's command line."""
    parser = CommandParser(
        prog="python -m babylm prepare",
        description="Run the data pipeline (acquire → convert → combine → clean → split → quality report), "
                    "skipping up-to-date stages.",
    )
    parser.add_argument("--source", choices=SOURCES, default="sample",
                        help="where the articles come from (default: %(default)s)")
    parser.add_argument("--gutenberg-file", nargs="+", metavar="PATH",
                        help="Project Gutenberg EB1911 slice(s), or folders of them, for --source gutenberg")
    parser.add_argument("--wikitext-pages", nargs="+", metavar="PATH",
                        help="page wikitext (XML dump, JSON, JSON Lines) for --source wikitext")
    parser.add_argument("--data-dir", default="data", help="where every stage writes (default: %(default)s)")
    parser.add_argument("--train-words", type=non_negative_int,
                        help=f"train word budget (default: {split.DEFAULT_TRAIN_WORDS:,})")
    parser.add_argument("--val-words", type=split.val_words_option,
                        help="val word budget, or 'rest': what train does not take "
                             f"(default: {split.DEFAULT_VAL_WORDS:,})")
    parser.add_argument("--val-fraction", type=open_fraction,
                        help='"use everything" mode with this share of words in val (sample default: 0.1)')
    parser.add_argument("--seed", type=seed, default=0, help="split seed, 0 … 2^32-1 (default: %(default)s)")
    parser.add_argument("--strip-accents", action="store_true", help="lossy cleaning: remove accents")
    parser.add_argument("--recase-headwords", action="store_true",
                        help="lossy cleaning: ALL-CAPS headwords to title case")
    parser.add_argument("--force", action="store_true", help="run every stage even when up to date")
    scrape = parser.add_argument_group("scraping (--source sample / wikisource)")
    scrape.add_argument("--base-url", default=DEFAULT_BASE_URL, help="api.php of the wiki for --source wikisource")
    scrape.add_argument("--contact", default="", help="e-mail or URL for the User-Agent (required for the real site)")
    scrape.add_argument("--limit", type=positive_int, help="only the first N articles")
    scrape.add_argument("--volumes", help="only these volumes, e.g. 1,2 or 1-3")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the pipeline on ``argv`` (default ``sys.argv[1:]``); returns an exit code (2 on bad input)."""
    args = build_parser().parse_args(argv)
    try:
        prepare(args)
    except (PipelineError, TreeError, convert.ConvertError, combine.CombineError, clean.CleanError, split.SplitError,
            quality.QualityError, GutenbergError, WikitextError) as error:
        print(f"prepare: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # an output path that cannot be written (a file where a folder goes…)
        print(f"prepare: {os_error_line(error)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
