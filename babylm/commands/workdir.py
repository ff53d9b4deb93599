"""A working directory that belongs to one command (``quickstart``, ``recipe``): claimed, recorded, locked.

Used by :mod:`babylm.commands.recipe` (and so by ``quickstart``, the recipe's ``tiny`` preset); nothing to run on
its own. Reads and writes ``<workdir>/.babylm-<command>.json``, the manifest listing every file and folder the
command's stages created there (relative POSIX paths; folders end in ``/``).

The rules: the workdir must be new, empty, or an earlier run's of the same command (it holds that manifest).
Any other folder is refused, so ``--workdir .`` cannot write into a repository. ``--fresh`` deletes only the
files listed, then the listed folders left empty; a file added by hand (``checkpoints/my_notes.txt``) stays,
with its folders, and one line says which files were kept. While a command runs it holds an exclusive lock on
the folder itself (``flock`` on the directory: no lock file), so a second run in the same workdir is refused.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from babylm.core.atomic import LockBusy, atomic_write_json
from babylm.core.outputs import OutputError, manifest_path
from babylm.core.safe_json import JsonError, read_json

MANIFEST_FORMAT = 2  # format 1 listed top-level entries only (whole folders: --fresh deleted files added by hand)


def snapshot(workdir: Path, command: str) -> set[str]:
    """Every file and folder under ``workdir`` (symbolic links not followed), as relative POSIX paths; folders
    end in ``/``. ``command``'s manifest is left out."""

    entries = set()
    for root, dirs, files in os.walk(workdir):
        relative = Path(root).relative_to(workdir)
        links = {name for name in dirs if os.path.islink(os.path.join(root, name))}
        entries.update(f"{(relative / name).as_posix()}/" for name in dirs if name not in links)
        entries.update((relative / name).as_posix() for name in [*files, *links])
    entries.discard(manifest_path(workdir, command).name)
    return entries


def recorded_entries(workdir: Path, command: str) -> set[str]:
    """The files and folders (``…/``) the manifest records as created by ``command`` (empty without one).

    Paths that would leave ``workdir`` (absolute, ``..``) are dropped. A format-1 manifest's top-level names
    count as folders only when they are folders, so their contents are kept: which files in them were the
    command's is not known.
    """

    try:
        record = read_json(manifest_path(workdir, command))
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


def write_record(workdir: Path, command: str, entries: set[str]) -> None:
    """Record ``entries`` (relative paths, folders ending in ``/``) as created by ``command``."""

    atomic_write_json(manifest_path(workdir, command),
                      {"written_by": f"babylm {command}", "format": MANIFEST_FORMAT, "files": sorted(entries)})


def _inside(workdir: Path, path: Path) -> bool:
    """Whether ``path`` really lies in ``workdir`` (no symbolic link on the way leads out of it)."""
    return Path(os.path.realpath(path.parent)).is_relative_to(os.path.realpath(workdir))


def remove_recorded(workdir: Path, command: str) -> tuple[int, list[str]]:
    """Delete the files ``command`` recorded, then its folders that are left empty; returns (files deleted, the
    files kept because the command did not create them). Folders still holding a kept file stay recorded."""
    entries = recorded_entries(workdir, command)
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
    write_record(workdir, command, folders)
    return removed, sorted(e for e in snapshot(workdir, command) if not e.endswith("/"))


def claim_workdir(workdir: Path, fresh: bool, command: str) -> str | None:
    """Make ``workdir`` ``command``'s: create it, or accept it when empty or already that command's.

    With ``fresh``, delete the files an earlier run recorded, and its folders left empty (nothing else); returns a
    one-line notice naming the files kept, or None. Raises :class:`babylm.core.outputs.OutputError` for a file, or
    a folder holding anything the command did not create.
    """

    if workdir.exists() and not workdir.is_dir():
        raise OutputError(f"--workdir {workdir} is a file, not a folder; choose another --workdir")
    marker = manifest_path(workdir, command)
    if workdir.is_dir() and any(workdir.iterdir()) and not marker.is_file():
        raise OutputError(
            f"--workdir {workdir} already holds files that {command} did not create; choose a new or empty folder"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    if not marker.is_file():
        write_record(workdir, command, set())
    if not fresh:
        return None
    removed, kept = remove_recorded(workdir, command)
    if not kept:
        return None
    shown = ", ".join(kept[:3]) + (f" and {len(kept) - 3} more" if len(kept) > 3 else "")
    return (f"{command}: --fresh deleted the {removed} files it had created in {workdir} and kept {len(kept)} it did "
            f"not create (with their folders): {shown}")


def record_created(workdir: Path, before: set[str], command: str) -> None:
    """Add what is under ``workdir`` now but not in ``before`` (a :func:`snapshot`) to ``command``'s manifest."""
    created = snapshot(workdir, command) - before
    if created:
        write_record(workdir, command, recorded_entries(workdir, command) | created)


@contextlib.contextmanager
def locked(workdir: Path, command: str) -> Iterator[int | None]:
    """Hold an exclusive lock on the folder ``workdir`` for the block (released by the OS even after SIGKILL);
    yields the locked descriptor, which a stage's subprocess inherits (``pass_fds``), so a stage orphaned by a
    killed run keeps the workdir locked until it ends.

    Raises :class:`babylm.core.atomic.LockBusy` when another process holds it. Without ``fcntl`` (not POSIX) the
    block runs unlocked (yields None).
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield None
        return
    descriptor = os.open(workdir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            raise LockBusy(f"--workdir {workdir} is in use by another {command} run (or a stage it left running); "
                           "wait for it, or choose another --workdir") from error
        yield descriptor
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def inside(folder: Path) -> Iterator[None]:
    """Run the block with ``folder`` as the working directory (restored after), so relative paths land there."""
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)
