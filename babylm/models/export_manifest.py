"""The manifest of an export folder, and what is checked with it: one writer, the tokenizer, the files' bytes.

Used by :mod:`babylm.models.export` (writing and loading exports) and ``hub-repo`` (publishing them); nothing to
run on its own. ``.babylm-export.json`` (:mod:`babylm.core.outputs`) lists the export's files; an export of ours
also records each file's sha256 and the fingerprint of the tokenizer the weights were trained with
(:func:`babylm.data.tokens.tokenizer.tokenizer_fingerprint`), so

* a ``tokenizer.json`` swapped after the export (same size or not) is refused wherever the export is loaded
  (:func:`check_folder_tokenizer`), and an export is refused when the tokenizer given is not the one the weights
  were trained with (:func:`check_tokenizer_fingerprint`);
* ``hub-repo`` publishes exactly the listed files, each a plain file inside the folder whose bytes are the ones
  written (:func:`export_files`).

An export folder has one writer at a time: :func:`export_lock`, ``.<name>.lock`` beside it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Optional

from babylm.core.atomic import LockBusy, exclusive_lock
from babylm.core.outputs import manifest_record
from babylm.data.tokens.tokenizer import file_sha256
from babylm.data.tokens.tokenizer_files import TokenizerError, tokenizer_fingerprint

EXPORT_COMMAND = "export"  # the manifest .babylm-export.json marks a folder as an export of ours


class ExportError(ValueError):
    """A checkpoint or tokenizer cannot be exported, or an exported directory cannot be loaded (one-line message)."""


def export_lock(out_dir: str | os.PathLike, option: str = "--out", busy: str = "another babylm run is writing this "
                "export; wait for it, or export elsewhere"):
    """The lock of an output folder: ``.<name>.lock`` beside it (inside, it would be a file the export does not own).

    One writer at a time: ``export``, ``fit``'s final and milestone exports, and a ``fit`` for each folder it writes
    (held for the whole run). A context manager; raises :class:`ExportError` (``<option> <folder>: <busy>``) when
    another process holds it; re-entrant within a process (:func:`babylm.core.atomic.exclusive_lock`).
    """
    target = Path(os.path.abspath(out_dir))

    @contextlib.contextmanager
    def held():
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(exclusive_lock(target.with_name(f".{target.name}.lock"), f"{option} {target}: {busy}"))
        except LockBusy as error:
            raise ExportError(str(error)) from None
        with stack:
            yield

    return held()


def check_tokenizer_fingerprint(tokenizer_path: str | os.PathLike, expected: Optional[str], source: str) -> str:
    """Return the fingerprint of ``tokenizer_path``; raise :class:`ExportError` naming both when it is not ``expected``.

    ``expected`` is the fingerprint of the tokenizer the weights were trained with (saved in a checkpoint, or read
    when training started), ``source`` says where it comes from (``checkpoint X``…). None checks nothing.
    """
    try:
        found = tokenizer_fingerprint(tokenizer_path)
    except TokenizerError as error:
        raise ExportError(f"export: {error}") from error
    if expected is not None and found != expected:
        raise ExportError(
            f"export: {source} was trained with tokenizer {expected}, but {tokenizer_path} is tokenizer {found} (same "
            "size or not, its ids mean other words); export with the tokenizer the model was trained with (--tokenizer)"
        )
    return found


def export_manifest(folder: str | os.PathLike) -> Optional[dict]:
    """The ``.babylm-export.json`` record of an export folder of ours (files, their sha256, tokenizer fingerprint),
    or None when the folder has none."""
    return manifest_record(folder, EXPORT_COMMAND)


def manifest_extras(folder: Path, fingerprint: str) -> dict:
    """What an export's manifest records beside its file list: each file's sha256 and the tokenizer's fingerprint."""
    return {"sha256": {entry.name: file_sha256(entry) for entry in sorted(folder.iterdir()) if entry.is_file()},
            "tokenizer_fingerprint": fingerprint}


def check_folder_tokenizer(folder: Path, prefix: str = "") -> None:
    """Raise :class:`ExportError` when ``folder/tokenizer.json`` is not the tokenizer its export manifest says the
    weights were trained with (it was replaced after the export). Folders without our manifest are not checked."""
    record = export_manifest(folder)
    expected = record.get("tokenizer_fingerprint") if record else None
    if not isinstance(expected, str) or not (folder / "tokenizer.json").is_file():
        return
    try:
        found = tokenizer_fingerprint(folder / "tokenizer.json")
        if found != expected:  # a hybrid model's export adds <mask> to the tokenizer it was trained with
            found = tokenizer_fingerprint(folder / "tokenizer.json", without_mask=True)
    except TokenizerError as error:
        raise ExportError(f"{prefix}{error}; re-export the model") from None
    if found != expected:
        raise ExportError(
            f"{prefix}{folder / 'tokenizer.json'} is tokenizer {found}, but the weights beside it were trained with "
            f"tokenizer {expected} (.babylm-export.json); it was replaced after the export: re-export the model"
        )


def export_files(folder: Path) -> list[tuple[Path, str]]:
    """The files of the export ``folder``, exactly those its manifest lists, with the sha256 the export recorded.

    Raises :class:`ExportError` (one line naming the file) when the folder has no manifest of ours with the files'
    sha256, or lists a name that is hidden, a path, or not a plain file directly inside the folder (a symbolic
    link is never followed out of it). The caller checks the bytes it reads against the sha256 (``hub-repo``
    hashes the copy it publishes).
    """
    record = export_manifest(folder)
    names = record.get("files") if record else None
    digests = record.get("sha256") if record else None
    if not isinstance(names, list) or not isinstance(digests, dict):
        raise ExportError(f"{folder}: no .babylm-export.json with its files' sha256, so not an export this version of "
                          "babylm wrote; export it again (python -m babylm export --ckpt … --out …)")
    files = []
    for name in names:
        if not isinstance(name, str) or name.startswith(".") or "/" in name or "\\" in name or name == "README.md":
            raise ExportError(f"{folder}/.babylm-export.json lists {name!r}, not a file an export writes; "
                              "export it again")
        path = folder / name
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            raise ExportError(f"{path}: listed in .babylm-export.json but missing; export it again") from None
        if not stat.S_ISREG(mode):
            raise ExportError(f"{path}: not a plain file (a symbolic link or a folder); only the export's own files "
                              "are published: export it again")
        digest = digests.get(name)
        if not isinstance(digest, str):
            raise ExportError(f"{path}: no sha256 in .babylm-export.json; export it again")
        files.append((path, digest))
    return sorted(files)
