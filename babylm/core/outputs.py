"""Output folders that babylm may replace: only what it wrote itself, recorded in a manifest per folder.

Used by ``export`` (and ``fit``'s export, the word-milestone exports), ``evaluate --out``,
``quickstart --workdir``, ``fit``'s curves in the checkpoint folder (``.babylm-fit.json``) and the text stages
``combine``, ``clean``, ``split`` and ``tokenizer`` (:func:`stage_outputs`); nothing to run on its own. Reads and
writes one small JSON file per output folder, ``.babylm-<command>.json``, that lists
the entries that command wrote there.

The rule: a command deletes or overwrites an entry of a folder only when that folder's manifest *for this
command* lists it. So ``export --out checkpoints`` (a folder holding checkpoints, other runs, anything)
is refused, while exporting again into a previous export replaces it whole. An export folder is
recognised as ours when it holds ``.babylm-export.json`` and nothing but the files that manifest lists
(``model.safetensors``, ``config.json``, …); a file added by hand, or an evaluation report written there,
makes it not ours any more, and the export is refused rather than the file lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Iterable, Iterator

from babylm.core.atomic import LockBusy, atomic_write_json, exclusive_lock, remove_stale_temporaries

MANIFEST_FORMAT = 1


class OutputError(ValueError):
    """An output path holds something babylm did not write, so it will not be replaced (one-line message)."""


def manifest_path(folder: str | os.PathLike, command: str) -> Path:
    """Return where ``command``'s manifest of ``folder`` lives: ``<folder>/.babylm-<command>.json``."""
    return Path(folder) / f".babylm-{command}.json"


def manifest_record(folder: str | os.PathLike, command: str) -> dict | None:
    """Return ``command``'s manifest of ``folder`` as a dict, or None when there is none or it is not a JSON object."""
    try:
        record = json.loads(manifest_path(folder, command).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


def recorded(folder: str | os.PathLike, command: str) -> set[str]:
    """Return the entry names ``command`` recorded as written in ``folder`` (empty when it has no manifest)."""
    record = manifest_record(folder, command)
    files = record.get("files") if isinstance(record, dict) else None
    if not isinstance(files, list) or not all(isinstance(name, str) for name in files):
        return set()
    return {name for name in files if name and "/" not in name and "\\" not in name and name not in (".", "..")}


def write_manifest(folder: str | os.PathLike, command: str, names: Iterable[str], extra: dict | None = None) -> None:
    """Record ``names`` (entries directly inside ``folder``) as written by ``command``; returns nothing.

    ``extra`` adds keys to the record (an export adds its files' sha256 and its tokenizer's fingerprint).
    """
    record = {"written_by": f"babylm {command}", "format": MANIFEST_FORMAT, "files": sorted(set(names)),
              **(extra or {})}
    atomic_write_json(manifest_path(folder, command), record)


def _not_a_folder(target: Path, option: str) -> OutputError | None:
    if target.is_symlink():
        return OutputError(f"{option} {target} is a symbolic link; give the real folder")
    if target.exists() and not target.is_dir():
        return OutputError(f"{option} {target} is a file, not a folder; choose another {option}")
    return None


def check_replaceable(target: str | os.PathLike, command: str, option: str = "--out") -> None:
    """Raise :class:`OutputError` unless folder ``target`` may be replaced whole by ``command``.

    Replaceable: it does not exist, or it is an empty folder, or every entry in it is listed in its
    ``command`` manifest (a previous output of the same command). ``option`` names the setting in messages.
    """
    target = Path(target)
    if target.name in ("", ".", ".."):
        raise OutputError(f"{option} {target} is not a folder name that can be replaced; name a new folder")
    problem = _not_a_folder(target, option)
    if problem is not None:
        raise problem
    if not target.exists():
        return
    ours = recorded(target, command) | {manifest_path(target, command).name}
    foreign = sorted(entry.name for entry in target.iterdir() if entry.name not in ours)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise OutputError(
            f"{option} {target} holds files that babylm {command} did not write ({shown}); it will not be replaced: "
            f"choose a new or empty folder, or move those files away"
        )


def check_writable(folder: str | os.PathLike, names: Iterable[str], command: str, option: str = "--out") -> None:
    """Raise :class:`OutputError` unless ``command`` may write each of ``names`` into ``folder``.

    Each must be absent, or listed in the folder's ``command`` manifest (written there before by it).
    """
    folder = Path(folder)
    problem = _not_a_folder(folder, option)
    if problem is not None:
        raise problem
    if not folder.exists():
        return
    ours = recorded(folder, command)
    taken = sorted(name for name in names if (folder / name).exists() or (folder / name).is_symlink())
    foreign = [name for name in taken if name not in ours]
    if foreign:
        raise OutputError(
            f"{option} {folder}: {', '.join(foreign)} exists and was not written by babylm {command}; it will "
            f"not be overwritten: choose another {option}, or move it away"
        )


def claim_files(folder: str | os.PathLike, names: Iterable[str], command: str, option: str = "--out") -> None:
    """Check that ``command`` may write ``names`` into ``folder`` (:func:`check_writable`), then record them in its
    manifest before they are written (so a crash never leaves an unlisted file of ours); creates ``folder``."""
    names = list(names)
    check_writable(folder, names, command, option)
    Path(folder).mkdir(parents=True, exist_ok=True)
    write_manifest(folder, command, recorded(folder, command) | set(names))


@contextlib.contextmanager
def stage_outputs(folder: str | os.PathLike, names: Iterable[str], command: str, option: str = "--output",
                  error: type[Exception] = OutputError) -> Iterator[Path]:
    """One run of a stage that writes the files ``names`` into ``folder``; yields ``folder`` as a Path (created).

    For the block: holds ``<folder>/.<command>.lock`` (a second run stops with one line), removes the temporary
    files a killed run of it left (of ``names`` only: nothing else is touched), and records ``names`` in
    ``command``'s manifest after checking that each is absent or written before by ``command``
    (:func:`claim_files`). Raises ``error`` (one line) when the lock is held or a file is not ours.
    """
    folder = Path(folder)
    names = list(names)
    try:
        problem = _not_a_folder(folder, option)
        if problem is not None:
            raise problem
        for name in names:
            if (folder / name).is_dir() and not (folder / name).is_symlink():
                raise OutputError(f"{folder / name}: is a folder, not a file; give a file path")
        folder.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(folder / f".{command}.lock", f"another {command} is writing to {folder}; wait for it"):
            remove_stale_temporaries(folder, names)
            claim_files(folder, names, command, option)
            yield folder
    except (OutputError, LockBusy) as failure:
        if error is OutputError and isinstance(failure, OutputError):
            raise
        raise error(str(failure)) from None


def replace_folder(staged: str | os.PathLike, target: str | os.PathLike, command: str, option: str = "--out") -> None:
    """Put the complete folder ``staged`` (with its manifest) at ``target``, replacing a previous output.

    ``target`` is checked with :func:`check_replaceable` first. The old folder is renamed aside, the new one
    renamed into place, then only the entries the old manifest lists are deleted; anything else that
    appeared meanwhile is left in the renamed-aside folder, whose name is given in the error raised.
    """
    staged, target = Path(staged), Path(target)
    check_replaceable(target, command, option)
    if not target.exists():
        os.replace(staged, target)
        return
    aside = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(target, aside)
    os.replace(staged, target)
    for name in recorded(aside, command) | {manifest_path(aside, command).name}:
        path = aside / name
        if path.is_file() or path.is_symlink():
            path.unlink()
    try:
        aside.rmdir()
    except OSError as error:
        raise OutputError(
            f"{option} {target}: files appeared in the previous output while it was replaced; they are kept in {aside}"
        ) from error
