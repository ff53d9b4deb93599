"""Atomic file output: write to a temporary file beside the target, then rename over it.

A reader (or a run killed at any moment, SIGKILL included) sees either the old file or the complete new
one, never a truncated one. Used by every stage that writes state or outputs.

A run killed mid-write leaves its temporary file, ``.<target name, first 40 characters>.<8 random
characters>.tmp``, behind. :func:`remove_stale_temporaries` deletes such files (and only such files) of
chosen targets; a command calls it at start-up while it holds :func:`exclusive_lock` on its output
folder, so no live temporary file of another run can be among them.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

_TEMPORARY = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$")


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()
FILE_MODE = 0o666 & ~_UMASK  # what a file written with open() gets: the mode every output of ours has


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file next to ``path`` for writing; on success fsync and rename it to ``path``.

    Takes the target path, a write mode (``"w"`` or ``"wb"``) and an encoding (ignored for binary);
    yields the open file. On an exception the temporary file is removed and ``path`` is untouched.
    Raises ``IsADirectoryError`` at once when ``path`` is a folder.
    """
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file; give a file path", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name[:40]}.", suffix=".tmp", dir=target.parent)
    os.chmod(tmp_name, FILE_MODE)  # mkstemp makes 0600; outputs get the usual permissions
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns nothing."""
    with atomic_output(path, "w") as handle:
        handle.write(text)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as pretty, UTF-8 JSON to ``path`` atomically; returns nothing."""
    with atomic_output(path, "w") as handle:
        json.dump(obj, handle, ensure_ascii=False, indent=2)
        handle.write("\n")


def temporary_target(name: str) -> str | None:
    """The (first 40 characters of the) target name if ``name`` is one of our temporary names, else None."""
    match = _TEMPORARY.match(name)
    return match.group("target") if match else None


def remove_stale_temporaries(folder: str | os.PathLike, targets: Iterable[str] | None = None) -> int:
    """Delete the temporary files (and folders) our atomic writes left in ``folder``; returns how many.

    Only names of our own pattern are touched, and only those of ``targets`` (file names) when given.
    Call it only while holding the lock that keeps other runs from writing into ``folder``.
    """
    wanted = None if targets is None else {name[:40] for name in targets}
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for entry in entries:
        target = temporary_target(entry.name)
        if target is None or (wanted is not None and target not in wanted):
            continue
        with contextlib.suppress(FileNotFoundError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed += 1
    return removed


def temporary_folder(target: str | os.PathLike) -> Path:
    """Create and return an empty folder beside ``target`` named like our temporary files (see above)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name[:40]}.", suffix=".tmp", dir=target.parent))


def usual_permissions(folder: str | os.PathLike) -> None:
    """Give every file under ``folder`` mode ``0o666 & ~umask`` and every folder (``folder`` too) ``0o777 & ~umask``.

    For folders filled by writers that do not go through :func:`atomic_output`: safetensors' ``save_file`` (so
    ``save_pretrained``) writes ``model.safetensors`` as 0600 through a temporary file, ``mkdtemp`` makes 0700.
    Symbolic links are left alone. Returns nothing.
    """
    folder = Path(folder)
    os.chmod(folder, 0o777 & ~_UMASK)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            if not os.path.islink(os.path.join(root, name)):
                os.chmod(os.path.join(root, name), 0o777 & ~_UMASK)
        for name in files:
            if not os.path.islink(os.path.join(root, name)):
                os.chmod(os.path.join(root, name), FILE_MODE)


class LockBusy(Exception):
    """Another run holds the lock; the message (given by the caller) says what to do."""


_HELD: dict[str, int] = {}  # lock files this process holds through exclusive_lock: real path → nesting depth


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike, busy_message: str) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` for the block (the OS releases it even after SIGKILL).

    Raises :class:`LockBusy` with ``busy_message`` when another process holds it. Re-entrant within a process: a
    block nested in one that holds the same lock through this function runs (``fit`` holds its folders' locks for
    the whole run and exports, which take the export folder's lock, inside it). Without ``fcntl`` (not POSIX)
    the block runs unlocked.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(path)
    if _HELD.get(key):
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            raise LockBusy(busy_message) from error
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]


def os_error_line(error: OSError) -> str:
    """One line for a failed file operation: ``<file>: <reason>`` (what a command prints before exiting 2)."""
    if error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error)
