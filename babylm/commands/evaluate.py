"""``python -m babylm evaluate``: score an exported model on BLiMP and/or validation perplexity.

Run: ``python -m babylm evaluate --model checkpoints/Baby-Llama-58M [--tasks blimp,perplexity]``
(``--help`` lists every option). Reads the model directory, BLiMP JSONL files (``--blimp-dir``; without
it the full benchmark is fetched into ``data/blimp/`` on first use) and the validation text
(``--val-file``). Writes into ``--out`` (default ``runs/eval/<model name>/``; ``…-mntp/`` with ``--backend
mntp``): ``blimp.json``,
``blimp.md``, ``blimp_phenomena.png``, ``blimp_scores.jsonl``, ``perplexity.json`` and
``.babylm-evaluate.json`` (the list of those files); prints a summary. Given a run's checkpoint folder
(``chck_<N>M/`` milestone exports inside), it scores BLiMP on each and writes ``blimp_curve.json`` and
``blimp_vs_words.png`` instead (:mod:`.curve`). A file of those names that an earlier
``evaluate`` did not write (not in that list) is never overwritten: the command refuses before loading the
model. User errors are one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Iterator, Sequence

from babylm.core.arguments import CommandParser, positive_int
from babylm.core.atomic import LockBusy, atomic_write_json, exclusive_lock, remove_stale_temporaries
from babylm.core.outputs import OutputError, check_writable, recorded, write_manifest
from babylm.data.layout import DEFAULT
from babylm.data.tokens.tokenizer_files import TokenizerError
from babylm.evaluation import EvaluationError
from babylm.evaluation.blimp import aggregate, evaluate_blimp, load_blimp_dir
from babylm.evaluation.curve import CURVE_FILES, is_run_folder, run_curve
from babylm.evaluation.fetch import (
    BLIMP_PARADIGMS,
    DEFAULT_BLIMP_DIR,
    UPSTREAM_BASE_URL,
    fetch_blimp,
    missing_paradigms,
)
from babylm.evaluation.mntp import BACKENDS, scorer_for
from babylm.evaluation.perplexity import perplexity
from babylm.evaluation.report import REPORT_FILES, summary_table, write_report
from babylm.models.export import ExportError, load_exported, resolve_device

TASKS = ("blimp", "perplexity")
PERPLEXITY_FILE = "perplexity.json"
COMMAND = "evaluate"  # its manifest, .babylm-evaluate.json, lists the files it wrote into --out


def output_names(tasks: Sequence[str], run_folder: bool = False) -> list[str]:
    """The file names ``evaluate`` writes into ``--out`` for ``tasks`` (a learning curve for a run folder)."""

    if run_folder:
        return list(CURVE_FILES)
    return [*(REPORT_FILES.values() if "blimp" in tasks else ()), *([PERPLEXITY_FILE] if "perplexity" in tasks else ())]


def record_outputs(out_dir: Path, names) -> None:
    """Add ``names`` to ``out_dir``'s manifest (before they are written: a crash leaves no unlisted file of ours)."""

    out_dir.mkdir(parents=True, exist_ok=True)
    write_manifest(out_dir, COMMAND, recorded(out_dir, COMMAND) | set(names))


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``evaluate`` command."""

    parser = CommandParser(
        prog="python -m babylm evaluate",
        description="Score an exported model (ours or any Hugging Face causal LM saved locally) on BLiMP "
        "minimal pairs (summed fp32 log-probability after <s>; ties count as wrong unless --ties correct) and/or "
        "perplexity.",
    )
    parser.add_argument(
        "--model", required=True,
        help="exported model directory (config.json, weights, tokenizer files); or a run's checkpoint folder holding "
        "chck_<N>M/ milestone exports: then BLiMP is scored on each and drawn as blimp_vs_words.png",
    )
    parser.add_argument("--tasks", default="blimp",
                        help=f"comma-separated tasks from {', '.join(TASKS)} (default: %(default)s)")
    parser.add_argument(
        "--blimp-dir",
        default=None,
        help=f"folder of BLiMP .jsonl files (default: {DEFAULT_BLIMP_DIR}, the 67 upstream paradigms, downloaded on "
        "first use); babylm/resources/blimp_sample holds a small offline set",
    )
    parser.add_argument(
        "--blimp-url",
        default=None,
        help="folder URL holding <paradigm>.jsonl to fetch from when --blimp-dir is not given "
        "(default: the upstream GitHub repository; a mirror or a pinned commit also works)",
    )
    parser.add_argument("--paradigms", default=None,
                        help="comma-separated paradigm names (file stems) to score; default all")
    parser.add_argument("--limit", type=positive_int, default=None,
                        help="score only the first N pairs of each paradigm (quick runs)")
    parser.add_argument("--val-file", default=str(DEFAULT.split_dir / "val.txt"),
                        help="text for --tasks perplexity (default: %(default)s)")
    parser.add_argument("--seq-len", type=positive_int, default=None,
                        help="perplexity window length (default: the model's context length)")
    parser.add_argument("--max-tokens", type=positive_int, default=None,
                        help="perplexity over only the first N tokens of --val-file")
    parser.add_argument(
        "--backend", choices=BACKENDS, default="causal",
        help="how a sentence is scored: causal (default: each token from the tokens before it) or mntp (each token "
        "from the position before it with that token masked and bidirectional attention, the BabyLM pipeline's mntp "
        "backend; for models trained with objective hybrid, whose tokenizer has <mask>)",
    )
    parser.add_argument(
        "--ties", choices=("wrong", "correct"), default="wrong",
        help="how a BLiMP pair whose two sentences score the same counts: wrong (default, strict) or correct (the rule "
        "of lm-evaluation-harness and the official BabyLM pipeline, where the good sentence wins a tie)",
    )
    parser.add_argument("--out", default=None, help="output folder (default: runs/eval/<model folder name>, "
                        "with -mntp for --backend mntp)")
    parser.add_argument("--batch-size", type=positive_int, default=64,
                        help="sentences (BLiMP) or windows (perplexity) per forward pass (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    return parser


def _parse_tasks(value: str) -> list[str]:
    tasks = [t.strip() for t in value.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise EvaluationError(f"--tasks {value!r}: choose from {', '.join(TASKS)}")
    return tasks


def _paradigm_names(args) -> list[str] | None:
    """The ``--paradigms`` list (None = all); each must be a file stem (``../x`` is refused in one line)."""
    from babylm.evaluation.fetch import check_paradigm_names

    return check_paradigm_names([n.strip() for n in args.paradigms.split(",") if n.strip()]) if args.paradigms else None


def _blimp_directory(args, names: list[str] | None, log) -> Path:
    """The folder to read BLiMP from: ``--blimp-dir`` as given, else ``data/blimp`` with the wanted
    paradigms (all 67, or ``names``) fetched from ``--blimp-url`` when missing."""

    if args.blimp_dir is not None:
        return Path(args.blimp_dir)
    wanted = names or list(BLIMP_PARADIGMS)
    missing = missing_paradigms(DEFAULT_BLIMP_DIR, wanted)
    if missing:
        log(f"fetching {len(missing)} BLiMP paradigms into {DEFAULT_BLIMP_DIR}/ (first use)")
        fetch_blimp(DEFAULT_BLIMP_DIR, base_url=args.blimp_url or UPSTREAM_BASE_URL, paradigms=missing, log=log)
    return DEFAULT_BLIMP_DIR


def run_blimp(model, tokenizer, args, out_dir: Path, log) -> dict:
    """Score BLiMP as ``args`` say, write the reports into ``out_dir`` and print the summary; returns the report."""

    names = _paradigm_names(args)
    directory = _blimp_directory(args, names, log)
    paradigms = load_blimp_dir(directory, paradigms=names, limit=args.limit)
    pairs = sum(len(p.pairs) for p in paradigms)
    log(f"BLiMP: {len(paradigms)} paradigms, {pairs} pairs from {directory}")
    started = time.perf_counter()
    results = evaluate_blimp(
        model, tokenizer, paradigms, batch_size=args.batch_size, ties=args.ties,
        progress=lambda r: log(f"  {r.uid:<55} {100 * r.accuracy:5.1f}%"
                               + (f"  ({len(r.ties)} ties)" if r.ties else "")),
        scorer=scorer_for(args.backend, model, tokenizer),
    )
    seconds = time.perf_counter() - started
    report = {"model": str(args.model), "blimp_dir": str(directory), **aggregate(results)}
    report["settings"] = {
        "scoring": f"sum of token log-probabilities after the start token, fp32; ties count as {args.ties}"
        + ("; each token masked in turn, predicted from the position before, bidirectional (mntp)"
           if args.backend == "mntp" else ""),
        "backend": args.backend,
        "ties_count_as": args.ties,
        "batch_size": args.batch_size,
        "device": str(next(model.parameters()).device),
        "limit_per_paradigm": args.limit,
        "seconds": round(seconds, 3),
        "pairs_per_second": round(pairs / seconds, 2) if seconds > 0 else None,
    }
    record_outputs(out_dir, REPORT_FILES.values())
    paths = write_report(report, results, out_dir)
    print(summary_table(report))
    for path in paths.values():
        print(f"wrote {path}")
    return report


def run_perplexity(model, tokenizer, args, out_dir: Path, log) -> dict:
    """Compute perplexity on ``args.val_file``, write ``perplexity.json`` into ``out_dir``; returns its dict."""
    from dataclasses import asdict

    log(f"perplexity on {args.val_file}")
    result = asdict(
        perplexity(model, tokenizer, args.val_file, seq_len=args.seq_len, batch_size=args.batch_size,
                   max_tokens=args.max_tokens)
    )
    result["model"] = str(args.model)
    path = out_dir / PERPLEXITY_FILE
    record_outputs(out_dir, [PERPLEXITY_FILE])
    atomic_write_json(path, result)
    print(
        f"perplexity {result['perplexity']:.2f} (mean NLL {result['mean_nll']:.4f} nats) over "
        f"{result['predicted_tokens']} tokens in {result['windows']} windows of {result['seq_len']}"
    )
    print(f"wrote {path}")
    return result


def run_folder_curve(args, tasks: list[str], out_dir: Path, log) -> int:
    """``--model`` is a run folder: score BLiMP on each ``chck_<N>M`` export and draw the curve; returns 0."""

    if tasks != ["blimp"]:
        raise EvaluationError(f"--model {args.model} is a run folder (chck_<N>M exports): only --tasks blimp applies; "
                              "give one export folder for perplexity")
    check_writable(out_dir, output_names(tasks, run_folder=True), COMMAND, "--out")
    names = _paradigm_names(args)
    directory = _blimp_directory(args, names, log)
    with one_writer(out_dir, output_names(tasks, run_folder=True)):
        record_outputs(out_dir, output_names(tasks, run_folder=True))
        run_curve(args, directory, names, out_dir, log)
    return 0


@contextlib.contextmanager
def one_writer(out_dir: Path, names: Sequence[str]) -> Iterator[None]:
    """Check ``evaluate`` may write ``names`` into ``out_dir``; then, for the block, hold ``<out_dir>/.evaluate.lock``
    (one evaluate per folder) and remove the temporary files a killed evaluate left there (of ``names`` only).
    Raises :class:`~babylm.core.outputs.OutputError` (one line)."""
    check_writable(out_dir, names, COMMAND, "--out")
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with exclusive_lock(out_dir / ".evaluate.lock", f"another evaluate is writing to {out_dir}; wait for it or "
                                                         "use another --out"):
            remove_stale_temporaries(out_dir, names)
            yield
    except LockBusy as error:
        raise OutputError(str(error)) from None


def default_out(model: str, backend: str) -> Path:
    """``runs/eval/<model folder name>``, with ``-mntp`` for the MNTP backend (so its report never replaces the
    causal one of the same model)."""
    name = Path(model).resolve().name
    return Path("runs") / "eval" / (f"{name}-mntp" if backend == "mntp" else name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``evaluate`` command on ``argv``; returns 0, or 2 after a one-line error on stderr."""

    args = build_parser().parse_args(argv)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        tasks = _parse_tasks(args.tasks)
        _paradigm_names(args)  # before anything is loaded or fetched
        if args.backend == "mntp" and "perplexity" in tasks:
            raise EvaluationError("--backend mntp scores BLiMP only; perplexity is causal next-token prediction: "
                                  "run --tasks perplexity without --backend mntp")
        out_dir = Path(args.out) if args.out else default_out(args.model, args.backend)
        if is_run_folder(args.model):
            return run_folder_curve(args, tasks, out_dir, log)
        check_writable(out_dir, output_names(tasks), COMMAND, "--out")  # before the (long) scoring
        model, tokenizer = load_exported(args.model, resolve_device(args.device))
        if args.backend == "mntp":
            scorer_for(args.backend, model, tokenizer)  # no <mask>: refused before anything is scored
        with one_writer(out_dir, output_names(tasks)):
            if "blimp" in tasks:
                run_blimp(model, tokenizer, args, out_dir, log)
            if "perplexity" in tasks:
                run_perplexity(model, tokenizer, args, out_dir, log)
    except (EvaluationError, ExportError, TokenizerError, OutputError) as error:
        print(f"babylm evaluate: error: {error}", file=sys.stderr)
        return 2
    return 0
