"""Offline quick start: the whole job end to end on the bundled sample, on a CPU, in a few minutes.

Run: ``python -m babylm quickstart [--workdir runs/quickstart]``.

Each stage is the project's real command, run as a subprocess inside ``--workdir`` (so every
CWD-relative path of the configs — ``data/…``, ``checkpoints/…`` — lands there, and nothing in the
repository's own ``data/`` or ``checkpoints/`` is touched):

1. ``prepare --source sample``: serve the bundled sample pages on 127.0.0.1 → scrape → convert → combine
   → clean → split (the sample is far below the 10M-word budget, so "use everything" with a val fraction);
2. train the byte-level BPE tokenizer (a small vocabulary: the sample has ~10k words) and encode the splits;
3. two tiny teachers (``configs/tiny/teacher_llama.yaml``, ``configs/tiny/teacher_gptj.yaml``);
4. a tiny student distilled from them (``configs/tiny/distill.yaml``);
5. BLiMP-style evaluation (the project's own minimal pairs
   in ``babylm/resources/blimp_sample``, or ``--blimp-dir``) and validation perplexity;
6. a generated sample.

Stages whose outputs exist are re-used (the data stages decide that themselves); ``--fresh`` starts over.
Reads the bundled sample; writes everything under ``--workdir`` and prints where each artifact went.

The workdir belongs to the quick start: it must be new, empty, or an earlier quick start's (it then holds
``.babylm-quickstart.json``, which lists every file and folder the stages created). Any other folder is
refused, so ``--workdir .`` cannot write into a repository. ``--fresh`` deletes only the files listed there,
then the listed folders left empty; a file added by hand (``checkpoints/my_notes.txt``) stays, with its
folders, and one line says which files were kept.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from babylm.commands.shipped_configs import base_config
from babylm.core.arguments import CommandParser, int_in_range, positive_int
from babylm.core.atomic import atomic_write_json
from babylm.core.outputs import OutputError, manifest_path
from babylm.core.safe_json import JsonError, read_json
from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR

PACKAGE_PARENT = Path(__file__).resolve().parents[2]  # what holds the babylm package (a checkout or site-packages)
CONFIGS = base_config().parent  # the checkout's configs/, or the copy shipped in the package
QUICKSTART_VOCAB = 2_000


COMMAND = "quickstart"  # its manifest, .babylm-quickstart.json, lists the files and folders the stages created
MANIFEST_FORMAT = 2  # format 1 listed top-level entries only (whole folders: --fresh deleted files added by hand)


class StageFailed(RuntimeError):
    """A quick-start stage exited non-zero."""


def snapshot(workdir: Path) -> set[str]:
    """Every file and folder under ``workdir`` (symbolic links not followed), as relative POSIX paths; folders
    end in ``/``. The quick start's manifest is left out."""

    entries = set()
    for root, dirs, files in os.walk(workdir):
        relative = Path(root).relative_to(workdir)
        entries.update(f"{(relative / name).as_posix()}/" for name in dirs if not os.path.islink(os.path.join(root, name)))
        entries.update((relative / name).as_posix() for name in files)
        entries.update((relative / name).as_posix() for name in dirs if os.path.islink(os.path.join(root, name)))
    entries.discard(manifest_path(workdir, COMMAND).name)
    return entries


def recorded_entries(workdir: Path) -> set[str]:
    """The files and folders (``…/``) the manifest records as created by the quick start (empty without one).

    Paths that would leave ``workdir`` (absolute, ``..``) are dropped. A format-1 manifest's top-level names
    count as folders only when they are folders, so their contents are kept: which files in them were the quick
    start's is not known.
    """

    try:
        record = read_json(manifest_path(workdir, COMMAND))
    except JsonError:
        return set()
    entries = record.get("files") if isinstance(record, dict) else None
    if not isinstance(entries, list):
        return set()
    format_1 = record.get("format") != MANIFEST_FORMAT
    kept = set()
    for entry in entries:
        if not isinstance(entry, str) or not entry.strip("/") or entry.startswith("/") or "\\" in entry:
            continue
        if any(part in ("", ".", "..") for part in entry.rstrip("/").split("/")):
            continue
        if format_1 and (workdir / entry).is_dir() and not (workdir / entry).is_symlink():
            entry = entry.rstrip("/") + "/"
        kept.add(entry)
    return kept


def write_record(workdir: Path, entries: set[str]) -> None:
    """Record ``entries`` (relative paths, folders ending in ``/``) as created by the quick start."""

    atomic_write_json(manifest_path(workdir, COMMAND),
                      {"written_by": f"babylm {COMMAND}", "format": MANIFEST_FORMAT, "files": sorted(entries)})


def _inside(workdir: Path, path: Path) -> bool:
    """Whether ``path`` really lies in ``workdir`` (no symbolic link on the way leads out of it)."""
    return Path(os.path.realpath(path.parent)).is_relative_to(os.path.realpath(workdir))


def remove_recorded(workdir: Path) -> tuple[int, list[str]]:
    """Delete the files the quick start recorded, then its folders that are left empty; returns (files deleted,
    the files kept because the quick start did not create them). Folders still holding a kept file stay recorded."""
    entries = recorded_entries(workdir)
    removed = 0
    for entry in sorted(e for e in entries if not e.endswith("/")):
        path = workdir / entry
        if _inside(workdir, path) and (path.is_symlink() or path.is_file()):
            path.unlink()
            removed += 1
    folders = set()
    for entry in sorted((e for e in entries if e.endswith("/")), key=lambda e: -e.count("/")):  # deepest first
        path = workdir / entry
        try:
            if _inside(workdir, path) and path.is_dir() and not path.is_symlink():
                path.rmdir()  # only when empty
        except OSError:
            folders.add(entry)
    write_record(workdir, folders)
    return removed, sorted(e for e in snapshot(workdir) if not e.endswith("/"))


def claim_workdir(workdir: Path, fresh: bool) -> str | None:
    """Make ``workdir`` the quick start's: create it, or accept it when empty or already ours.

    With ``fresh``, delete the files an earlier quick start recorded, and its folders left empty (nothing else);
    returns a one-line notice naming the files kept, or None. Raises :class:`babylm.core.outputs.OutputError` for a
    file, or a folder holding anything the quick start did not create.
    """

    if workdir.exists() and not workdir.is_dir():
        raise OutputError(f"--workdir {workdir} is a file, not a folder; choose another --workdir")
    marker = manifest_path(workdir, COMMAND)
    if workdir.is_dir() and any(workdir.iterdir()) and not marker.is_file():
        raise OutputError(
            f"--workdir {workdir} already holds files that quickstart did not create; choose a new or empty folder"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    if not marker.is_file():
        write_record(workdir, set())
    if not fresh:
        return None
    removed, kept = remove_recorded(workdir)
    if not kept:
        return None
    shown = ", ".join(kept[:3]) + (f" and {len(kept) - 3} more" if len(kept) > 3 else "")
    return (f"quickstart: --fresh deleted the {removed} files it had created in {workdir} and kept {len(kept)} it did "
            f"not create (with their folders): {shown}")


def record_created(workdir: Path, before: set[str]) -> None:
    """Add what is under ``workdir`` now but not in ``before`` (a :func:`snapshot`) to the quick start's manifest."""
    created = snapshot(workdir) - before
    if created:
        write_record(workdir, recorded_entries(workdir) | created)


def stages(blimp_dir: Path, vocab_size: int, steps: int) -> list[tuple[str, list[str]]]:
    """Return the quick start's ``(name, python argv)`` stages, in order.

    Takes the BLiMP folder, the tokenizer's vocabulary size and the optimizer steps of each training run.
    """
    student = "checkpoints/Tiny-Baby-Llama"

    def fit(config: str) -> list[str]:  # flags after -c override the file
        return ["-m", "babylm", "fit", "-c", str(CONFIGS / "tiny" / config), "--trainer.max_steps", str(steps)]

    return [
        ("data: serve sample → scrape → convert → combine → clean → split",
         ["-m", "babylm", "prepare", "--source", "sample", "--val-fraction", "0.1"]),
        ("tokenizer", ["-m", "babylm", "tokenizer", "--vocab-size", str(vocab_size)]),
        ("encode", ["-m", "babylm", "encode"]),
        ("teacher 1: tiny LLaMA", fit("teacher_llama.yaml")),
        ("teacher 2: tiny GPT-J", fit("teacher_gptj.yaml")),
        ("student: distil the two teachers", fit("distill.yaml")),
        ("evaluate: BLiMP + perplexity",
         ["-m", "babylm", "evaluate", "--model", student, "--tasks", "blimp,perplexity",
          "--blimp-dir", str(blimp_dir), "--limit", "100", "--out", "runs/eval"]),
        ("generate", ["-m", "babylm", "generate", "--model", student, "--prompt", "The river", "--seed", "0",
                      "--max-new-tokens", "40"]),
    ]


ARTIFACTS = [
    ("scraped articles, progress.json, scraper.log", "data/britannica_data"),
    ("converted text files", "data/britannica_txt"),
    ("combined corpus", "data/combined_encyclopedia.txt"),
    ("cleaned corpus", "data/encyclopedia_cleaned.txt"),
    ("train/val split + report", "data/corpus_split"),
    ("tokenizer (tokenizers JSON)", "checkpoints/tokenizer-clean.json"),
    ("tokenizer (HF files)", "checkpoints/tokenizer"),
    ("token files (uint16 memmaps)", "data/tokenized"),
    ("teacher 1 (HF export)", "checkpoints/Tiny-Llama"),
    ("teacher 2 (HF export)", "checkpoints/Tiny-GPTJ"),
    ("student (HF export)", "checkpoints/Tiny-Baby-Llama"),
    ("student Lightning checkpoints + config.yaml", "checkpoints/tiny_distill"),
    ("evaluation report (JSON, Markdown, PNG)", "runs/eval"),
    ("training logs (W&B offline / CSV)", "runs"),
]


def run_stage(name: str, argv: list[str], workdir: Path, env: dict[str, str]) -> float:
    """Run one stage (``python argv…`` in ``workdir``), streaming its output; returns seconds taken."""
    print(f"\n=== {name}\n$ python {' '.join(argv)}", flush=True)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, *argv], cwd=workdir, env=env)
    if result.returncode != 0:
        raise StageFailed(f"stage {name!r} failed (exit {result.returncode}); its output is above")
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    """Run the quick start (``--help`` for options); returns an exit code."""
    parser = CommandParser(prog="python -m babylm quickstart", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="runs/quickstart", help="where every artifact goes (default: %(default)s)")
    parser.add_argument("--blimp-dir", default=None,
                        help="BLiMP JSONL folder (default: the project's own 144 pairs in babylm/resources/blimp_sample)")
    parser.add_argument("--vocab-size", type=int_in_range(259, 65_535, "vocab_size"), default=QUICKSTART_VOCAB,
                        help="tokenizer vocabulary, 259 … 65535 (default: %(default)s)")
    parser.add_argument("--steps", type=positive_int, default=60, help="optimizer steps of each teacher and the student (default: %(default)s)")
    parser.add_argument("--fresh", action="store_true",
                        help="delete what an earlier quick start created in --workdir and run every stage")
    args = parser.parse_args(argv)

    blimp_dir = Path(args.blimp_dir) if args.blimp_dir else SAMPLE_BLIMP_DIR
    if not blimp_dir.is_dir():
        print(f"quickstart: --blimp-dir {blimp_dir} is not a folder of BLiMP .jsonl files", file=sys.stderr)
        return 2
    workdir = Path(args.workdir).resolve()
    try:
        notice = claim_workdir(workdir, args.fresh)
    except OutputError as error:
        print(f"quickstart: error: {error}", file=sys.stderr)
        return 2
    if notice:
        print(notice, flush=True)

    env = dict(os.environ)
    env.setdefault("WANDB_MODE", "offline")  # the quick start never talks to a server
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_PARENT), env.get("PYTHONPATH")]))

    timings = []
    try:
        for name, stage_argv in stages(blimp_dir.resolve(), args.vocab_size, args.steps):
            before = snapshot(workdir)
            try:
                timings.append((name, run_stage(name, stage_argv, workdir, env)))
            finally:
                record_created(workdir, before)  # what a stage created is the quick start's, even if it failed
    except StageFailed as error:
        print(f"quickstart: {error}", file=sys.stderr)
        return 1

    print("\n=== done: where everything went")
    for what, relative in ARTIFACTS:
        path = workdir / relative
        print(f"  {what:<45} {path}{'' if path.exists() else '  (missing!)'}")
    print("\n=== time per stage")
    for name, seconds in timings:
        print(f"  {seconds:7.1f} s  {name}")
    print(f"  {sum(s for _, s in timings):7.1f} s  total")
    return 0
