"""Stage stamps of the data pipeline: when a stage of ``prepare`` is up to date.

After a stage succeeds, :meth:`Stage.record` writes ``<data-dir>/.pipeline/<stage>.json`` with a
fingerprint of the stage's inputs (path, size and modification time of every input file), its options,
a hash of the source code of the modules that implement it, and a fingerprint of its outputs.
:meth:`Stage.up_to_date` compares that stamp with the current state; a stamp that is missing, damaged
or of another shape simply means "run the stage again" (it is our own record, never trusted for more).
Used by :mod:`babylm.data.pipeline`; reads and writes only the stamp files.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from babylm.core.atomic import atomic_write_json
from babylm.core.safe_json import JsonError, read_json

STAMP_VERSION = 1


def fingerprint(paths: Sequence[tuple[Path, str | None]]) -> str:
    """SHA-256 over (path, size, mtime) of files: each entry is a file (pattern None) or a folder + glob.

    A missing path counts as "missing", so creating it changes the fingerprint.
    """
    digest = hashlib.sha256()
    for path, pattern in paths:
        digest.update(f"{path}|{pattern}\n".encode("utf-8", "surrogateescape"))
        files = sorted(path.glob(pattern)) if pattern and path.is_dir() else [path]
        for file in files:
            try:
                stat = file.stat()
            except FileNotFoundError:
                digest.update(b"missing\n")
                continue
            digest.update(f"{file.relative_to(path) if pattern else ''}|{stat.st_size}|{stat.st_mtime_ns}\n"
                          .encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def code_hash(module_names: Sequence[str]) -> str:
    """SHA-256 of the source files of ``module_names`` (so a changed stage re-runs)."""
    digest = hashlib.sha256()
    for name in module_names:
        spec = importlib.util.find_spec(name)
        if spec and spec.origin:
            digest.update(Path(spec.origin).read_bytes())
    return digest.hexdigest()


@dataclass
class Stage:
    """One pipeline stage: what it reads and writes, its options and code, and how to run it."""

    name: str
    inputs: list[tuple[Path, str | None]]
    outputs: list[tuple[Path, str | None]]
    options: dict
    modules: list[str]
    run: Callable[[], str]
    stamped: bool = True

    def stamp(self) -> dict:
        """The stamp this stage would write now (inputs, options, code); outputs added after a run."""
        return {
            "version": STAMP_VERSION,
            "inputs": fingerprint(self.inputs),
            "options": self.options,
            "code": code_hash(self.modules),
        }

    def up_to_date(self, stamps: Path) -> bool:
        """True when the stamp in folder ``stamps`` matches the current inputs, options, code and outputs."""
        path = stamps / f"{self.name}.json"
        if not self.stamped or not path.is_file():
            return False
        try:
            saved = read_json(path)
        except JsonError:
            return False  # a damaged stamp: run the stage again
        current = {**self.stamp(), "outputs": fingerprint(self.outputs)}
        outputs_exist = all(p.exists() for p, _ in self.outputs)
        return outputs_exist and saved == current

    def record(self, stamps: Path) -> None:
        """Write this stage's stamp into folder ``stamps`` after a successful run."""
        if self.stamped:
            atomic_write_json(stamps / f"{self.name}.json", {**self.stamp(), "outputs": fingerprint(self.outputs)})
