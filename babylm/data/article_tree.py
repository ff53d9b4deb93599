"""The article tree of an offline ingest, replaced as a whole: no article of an old input outlives a new run.

Used by ``prepare`` (:mod:`babylm.data.pipeline`) around the Gutenberg and wikitext ingests, which re-create
every article on each run (a scrape resumes in place instead). :func:`replace_tree` moves the old tree aside
while the ingest writes a new one and puts it back if the ingest fails; :func:`recover_tree` undoes a run
that was killed midway; :func:`check_article_tree` refuses to replace a folder holding anything an ingest did
not write. Reads and writes only ``<data-dir>/britannica_data`` and its two hidden siblings.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, TypeVar

from babylm.atomic import temporary_target
from babylm.data.articles import INGEST_REPORT

T = TypeVar("T")


class ArticleTreeError(ValueError):
    """An article folder an ingest must not replace (a file, or files no ingest wrote); printed as one line."""


def replace_tree(raw: Path, acquire: Callable[[], T]) -> T:
    """Re-acquire the article tree from scratch: earlier articles go, so none outlives a change of input.

    The old tree (which must hold nothing but article files, see :func:`check_article_tree`) is moved
    aside to ``.<raw>.previous`` until ``acquire()`` (which writes into ``raw``) succeeds; on failure it is
    put back, and after a kill :func:`recover_tree` puts it back at the next start. For the offline
    ingests, which re-create every article on each run; a scrape (sample or real site) resumes in place
    instead, keeping what it already has. Returns what ``acquire`` returns.
    """
    check_article_tree(raw)
    backup, discarded = aside_paths(raw)
    if raw.exists():
        raw.rename(backup)
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


def aside_paths(raw: Path) -> tuple[Path, Path]:
    """Where :func:`replace_tree` keeps the old tree while it works, and where it deletes it."""
    return raw.with_name(f".{raw.name}.previous"), raw.with_name(f".{raw.name}.discarded")


def recover_tree(raw: Path) -> None:
    """Undo a :func:`replace_tree` that was killed: restore the old tree, drop the half-made one."""
    backup, discarded = aside_paths(raw)
    if discarded.is_dir():
        shutil.rmtree(discarded)
    if backup.is_dir():
        if raw.exists():
            shutil.rmtree(raw)
        backup.rename(raw)
        print(f"prepare: restored {raw} as it was before an ingest that was stopped midway", flush=True)


def check_article_tree(raw: Path) -> None:
    """Refuse to replace ``raw`` when it holds anything but ``volume_*/part_*/*.json`` articles and the ingest report."""
    if not raw.exists():
        return
    if not raw.is_dir():
        raise ArticleTreeError(f"{raw} is a file, not an article folder; move it away or use another --data-dir")
    for path in sorted(raw.rglob("*")):
        parts = path.relative_to(raw).parts
        if parts == (INGEST_REPORT,) and path.is_file() and not path.is_symlink():
            continue  # the ingest's own report
        in_layout = parts[0].startswith("volume_") and (len(parts) == 1 or parts[1].startswith("part_"))
        if len(parts) < 3:
            ours = in_layout and path.is_dir() and not path.is_symlink()
        else:
            ours = in_layout and len(parts) == 3 and path.is_file() and not path.is_symlink() and (
                path.suffix == ".json" or temporary_target(path.name) is not None)
        if not ours:
            raise ArticleTreeError(f"{raw} holds {path.relative_to(raw)}, which no ingest wrote; an ingest replaces "
                                "this folder, so move that away or use another --data-dir")
