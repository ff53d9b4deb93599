"""Who may write an article tree (``data/britannica_data``): one writer at a time, and only into a tree of its own.

The article tree has three writers — the scraper (:mod:`babylm.data.wikisource.scrape`) and the two offline
ingests (:mod:`babylm.data.sources.gutenberg`, :mod:`babylm.data.sources.wikitext`) — and each keeps, when run on
its own (``python -m …``, ``scripts/``), the promises ``prepare`` keeps for it:

* **One writer at a time.** :func:`writing` holds ``<out>/.articles.lock`` (released by the OS even after SIGKILL)
  for the whole run; a second writer, of any kind, stops with one line.
* **What a killed writer left is removed** at the next start, under the lock: our temporary files and folders
  (``.<name>.<random>.tmp``: half-written articles, the wikitext ingest's page store), at the tree's top and in
  its ``volume_*/part_*/`` folders. Nothing else is touched.
* **Nothing it did not write is overwritten.** The ingests record every file they write (the articles and
  ``ingest_report.json``) in ``<out>/.babylm-ingest.json`` *before* writing them, and refuse a tree holding an
  article or report that the record does not list — a scrape's tree, articles of yours — or a scrape's state
  files; the scraper refuses a tree an ingest wrote. (The two ingests may share a tree: the report holds a run
  per input. ``prepare`` keeps one source per ``--data-dir``.)

``prepare`` re-ingests with :func:`replace_tree` (the old tree moved aside until the new one is complete) and
undoes a killed re-ingest with :func:`recover_tree`. Used by the three writers and by
:mod:`babylm.data.pipeline`; reads and writes only the lock and the record (and moves whole trees for prepare).
"""

from __future__ import annotations

import contextlib
import re
import shutil
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

from babylm.core.atomic import LockBusy, atomic_write_json, exclusive_lock, remove_stale_temporaries, temporary_target
from babylm.core.safe_json import JsonError, read_json
from babylm.data.articles import INGEST_REPORT

ARTICLE_LOCK = ".articles.lock"
INGEST = "ingest"
"""The writer name of both offline ingests: their articles may share a tree (and ``ingest_report.json`` holds a
run per input), as ``prepare`` never does (one source per data directory)."""
SCRAPE_STATE = ("discovery.json", "progress.json")
"""Files only a scrape writes: a tree holding them is a scrape's."""
_ARTICLE_PATH = re.compile(r"volume_[0-9]+/part_[0-9]+/[^/\\]+\.json")
T = TypeVar("T")


class TreeError(ValueError):
    """The article tree belongs to another writer, or another run is writing it (one-line message)."""


def record_path(out: str | Path, writer: str) -> Path:
    """Where ``writer`` lists the files it wrote into ``out``: ``<out>/.babylm-<writer>.json``."""
    return Path(out) / f".babylm-{writer}.json"


def recorded(out: str | Path, writer: str) -> set[str]:
    """The files (paths relative to ``out``) ``writer`` recorded as its own; empty without a (readable) record.

    Only article paths (``volume_N/part_N/<name>.json``) and ``ingest_report.json`` count: a record is ours to
    read, never trusted to name anything else."""
    try:
        record = read_json(record_path(out, writer))
    except JsonError:
        return set()
    files = record.get("files") if isinstance(record, dict) else None
    if not isinstance(files, list):
        return set()
    return {name for name in files
            if isinstance(name, str) and (name == INGEST_REPORT or _ARTICLE_PATH.fullmatch(name))}


def article_files(out: Path) -> Iterator[str]:
    """The article files in tree ``out`` (relative POSIX paths), our temporary files aside."""
    for path in out.glob("volume_*/part_*/*.json"):
        if not path.name.startswith("."):
            yield path.relative_to(out).as_posix()


def check_owner(out: str | Path, writer: str, option: str = "--out") -> None:
    """Raise :class:`TreeError` unless ``writer`` (``scrape`` or :data:`INGEST`) may write into ``out``."""
    out = Path(out)
    if not out.is_dir():
        return
    if writer == "scrape":
        if record_path(out, INGEST).exists() or (out / INGEST_REPORT).exists():
            raise TreeError(f"{option} {out} holds articles an offline ingest wrote ({INGEST_REPORT}); a scrape "
                            f"does not mix with them: use another {option}")
        return
    state = [name for name in SCRAPE_STATE if (out / name).exists()]
    if state:
        raise TreeError(f"{option} {out} holds a scrape's {state[0]}; an ingest writes only into a tree of its own: "
                        f"use another {option}")
    record = record_path(out, writer)
    if record.exists() or record.is_symlink():
        try:
            content = read_json(record)
        except JsonError:
            content = None
        if record.is_symlink() or not isinstance(content, dict) or content.get("written_by") != f"babylm {writer}":
            raise TreeError(f"{option} {out} holds {record.name}, which is not this ingest's record; it will not be "
                            f"overwritten: use another {option}, or move it away")
    ours = recorded(out, writer)
    foreign = sorted(name for name in [*article_files(out), INGEST_REPORT]
                     if name not in ours and (out / name).exists())
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise TreeError(f"{option} {out} holds {foreign[0]}{more}, which this ingest did not write; it will not be "
                        f"overwritten: use another {option}, or move it away")


def claim(out: str | Path, writer: str, names: Iterable[str]) -> None:
    """Add ``names`` (paths relative to ``out``) to ``writer``'s record, before they are written."""
    files = recorded(out, writer) | set(names)
    atomic_write_json(record_path(out, writer), {"written_by": f"babylm {writer}", "format": 1, "files": sorted(files)})


def remove_leftovers(out: Path) -> int:
    """Delete the temporary files and folders a killed writer left in tree ``out``; returns how many.
    Call it holding the tree's lock (:func:`writing`)."""
    return sum(remove_stale_temporaries(folder) for folder in [out, *out.glob("volume_*/part_*/")])


@contextlib.contextmanager
def writing(out: str | Path, writer: str, option: str = "--out") -> Iterator[Path]:
    """Hold tree ``out``'s lock for the block, after checking ``writer`` may write there (:func:`check_owner`) and
    removing what a killed writer left (:func:`remove_leftovers`); yields ``out`` as a Path (created).

    Raises :class:`TreeError` when another run holds the lock or the tree is another writer's."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise TreeError(f"{option} {out} is a file, not a folder; pass a folder path")
    out.mkdir(parents=True, exist_ok=True)
    try:
        with exclusive_lock(out / ARTICLE_LOCK, f"another scrape or ingest is writing to {out}; wait for it or use "
                                                f"another {option}"):
            check_owner(out, writer, option)
            remove_leftovers(out)
            yield out
    except LockBusy as error:
        raise TreeError(str(error)) from None


# ---------------------------------------------------------------------------------- prepare's re-ingest
def replace_tree(raw: Path, acquire: Callable[[], T]) -> T:
    """Re-acquire the article tree from scratch: earlier articles go, so none outlives a change of input.

    The old tree (which must hold nothing but an ingest's files, see :func:`check_replaceable`) is moved aside to
    ``.<raw>.previous``, under its lock, until ``acquire()`` (which writes into ``raw``) succeeds; on failure it
    is put back, and after a kill :func:`recover_tree` puts it back at the next start. Used by ``prepare`` for
    the offline ingests, which re-create every article on each run. Returns what ``acquire`` returns.
    """
    check_replaceable(raw)
    backup, discarded = _aside(raw)
    if raw.exists():
        try:
            with exclusive_lock(raw / ARTICLE_LOCK, f"another scrape or ingest is writing to {raw}; wait for it"):
                raw.rename(backup)
        except LockBusy as error:
            raise TreeError(str(error)) from None
    try:
        result = acquire()
    except BaseException:
        if raw.exists():
            shutil.rmtree(raw)  # the half-made new tree (made by this run)
        if backup.exists():
            backup.rename(raw)
        raise
    if backup.exists():
        backup.rename(discarded)  # one rename first: a kill during the deletion leaves only "discarded"
        shutil.rmtree(discarded)
    return result


def _aside(raw: Path) -> tuple[Path, Path]:
    """Where :func:`replace_tree` keeps the old tree while it works, and where it deletes it."""
    return raw.with_name(f".{raw.name}.previous"), raw.with_name(f".{raw.name}.discarded")


def recover_tree(raw: Path) -> bool:
    """Undo a :func:`replace_tree` that was killed: restore the old tree, drop the half-made one; returns whether
    there was one to restore."""
    backup, discarded = _aside(raw)
    if discarded.is_dir():
        shutil.rmtree(discarded)
    if not backup.is_dir():
        return False
    if raw.exists():
        shutil.rmtree(raw)
    backup.rename(raw)
    return True


def check_replaceable(raw: Path) -> None:
    """Raise :class:`TreeError` unless ``raw`` holds nothing but an ingest's files: ``volume_*/part_*/*.json``
    articles, ``ingest_report.json``, the ingests' records, the lock and our temporary files and folders."""
    if not raw.exists():
        return
    if not raw.is_dir():
        raise TreeError(f"{raw} is a file, not an article folder; move it away or use another --data-dir")
    ours = {INGEST_REPORT, ARTICLE_LOCK, record_path(raw, INGEST).name}
    for entry in sorted(raw.iterdir()):
        if entry.is_symlink() or not (entry.name in ours and entry.is_file() or temporary_target(entry.name)
                                      or entry.name.startswith("volume_") and entry.is_dir()):
            _not_an_ingests(raw, entry)
        if entry.name.startswith("volume_") and not temporary_target(entry.name):
            for part in sorted(entry.iterdir()):
                if part.is_symlink() or not (part.name.startswith("part_") and part.is_dir()):
                    _not_an_ingests(raw, part)
                for file in sorted(part.iterdir()):
                    ours = file.suffix == ".json" or temporary_target(file.name)
                    if file.is_symlink() or not file.is_file() or not ours:
                        _not_an_ingests(raw, file)


def _not_an_ingests(raw: Path, path: Path) -> None:
    raise TreeError(f"{raw} holds {path.relative_to(raw)}, which no ingest wrote; an ingest replaces this folder, so "
                    "move that away or use another --data-dir")
