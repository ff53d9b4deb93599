"""``python -m babylm hub-repo``: lay a finished run out as a Hugging Face Hub repository, and push it.

Run: ``python -m babylm hub-repo --run checkpoints/baby_llama_58m --out hub/Baby-Llama-58M`` (``--help``).
Reads the run's checkpoint folder — its ``chck_<N>M/`` milestone exports (written during ``fit``, see
:class:`babylm.training.callbacks.WordMilestoneCheckpoint`) and its ``config.yaml``, whose
``model.init_args.export_dir`` is the final model (or ``--final DIR``). Writes ``--out``: a local git repository
in the Hub's layout, as BabyLM asks for submissions — branch ``main`` holds the final model, and one branch per
milestone, named like the milestone (``chck_1M`` … ``chck_100M``: the revisions the official evaluation pipeline
loads with ``from_pretrained(..., revision="chck_10M")``), holds that milestone's model; every branch also has
the model card ``README.md`` and the Hub's ``.gitattributes`` (weights through LFS when git-lfs is installed).

``--out`` must be new or empty (not a symbolic link); the repository is built in a folder beside it and renamed into
place, so an interrupted command leaves nothing half-made there, and nothing that exists is ever replaced.

**Publish only what we made.** A branch holds exactly the files the export's ``.babylm-export.json`` lists, each a
plain file inside the export folder (never a symbolic link, followed or not) whose sha256 is the one the export
recorded (checked on the copy); anything else in the folder (notes, a token, a link to ``/etc/hostname``) is left
out and named on stderr. A ``chck_<N>M`` that is a link out of the run folder is refused. What was laid out is
recorded in ``.git/babylm-hub-repo.json`` (each branch's commit and its files' sha256), which the push checks
first (:mod:`babylm.commands.hub_push`).

Pushing (``--repo-id USER/NAME``, or ``--push OUT --repo-id USER/NAME`` for a repository made earlier) uses the
``huggingface_hub`` library: ``create_repo`` (**private** unless ``--public``), then ``upload_folder`` of ``main``,
then per milestone ``create_branch`` and ``upload_folder(revision=…)``. It needs a token (``HF_TOKEN`` or ``hf auth
login``) and the network; without them the command says so in one line and how to push later — the local
repository is kept.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Sequence

from babylm.commands.hub_push import HUB_MANIFEST, HubError, push
from babylm.core.arguments import CommandParser
from babylm.core.atomic import FILE_MODE, atomic_write_json
from babylm.data.tokens.tokenizer import file_sha256
from babylm.models.export import ExportError, check_model_folder
from babylm.models.export_manifest import export_files
from babylm.models.ledger import LedgerError, card_line, read_ledger
from babylm.models.tracks import milestone_exports, revision_name

GITATTRIBUTES = "".join(f"*.{ext} filter=lfs diff=lfs merge=lfs -text\n"
                        for ext in ("safetensors", "bin", "pt", "ckpt"))


def final_export(run_dir: Path) -> Path:
    """The final model of a run: ``model.init_args.export_dir`` of its saved ``config.yaml`` (relative to the cwd)."""
    import yaml

    config_path = run_dir / "config.yaml"
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise HubError(f"{config_path}: cannot read the run's config ({type(error).__name__}); "
                       "pass --final DIR") from error
    export_dir = config
    # a config.yaml edited into another shape: one line, not a traceback
    for key in ("model", "init_args", "export_dir"):
        export_dir = export_dir.get(key) if isinstance(export_dir, dict) else None
    if not isinstance(export_dir, str) or not export_dir:
        raise HubError(f"{config_path}: no model.init_args.export_dir (the run exported no final model); "
                       "pass --final DIR")
    return Path(export_dir)


def model_files(folder: Path) -> list[tuple[Path, str]]:
    """The files of an export to put in a branch, with the sha256 the export recorded: exactly those its
    ``.babylm-export.json`` lists, each a plain file in ``folder``
    (:func:`~babylm.models.export_manifest.export_files`).

    Anything else in the folder is named on stderr as left out. Raises :class:`HubError` (one line).
    """
    try:
        files = export_files(folder)  # before anything in the folder is read: no link is followed
        check_model_folder(folder)  # config.json, safetensors weights, no auto_map, the tokenizer of the weights
    except ExportError as error:
        raise HubError(str(error)) from error
    listed = {path.name for path, _ in files} | {".babylm-export.json"}
    others = sorted(entry.name for entry in folder.iterdir() if entry.name not in listed)
    if others:
        print(f"hub-repo: {folder}: not published (not files of the export): {', '.join(others)}", file=sys.stderr)
    return files


def _git(repo: Path, *args: str) -> str:
    identity = ([] if _configured(repo, "user.email")
                else ["-c", "user.name=babylm hub-repo", "-c", "user.email=babylm@localhost"])
    try:
        done = subprocess.run(["git", "-c", "commit.gpgsign=false", *identity, "-C", str(repo), *args],
                              capture_output=True, text=True, timeout=600)
    except FileNotFoundError as error:
        raise HubError("git is not installed; install git to lay out the Hub repository") from error
    if done.returncode != 0:
        raise HubError(f"git {' '.join(args[:2])} failed in {repo}: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return done.stdout


def _configured(repo: Path, key: str) -> bool:
    try:
        return subprocess.run(["git", "-C", str(repo), "config", "--get", key], capture_output=True,
                              timeout=60).returncode == 0
    except FileNotFoundError:
        return False


def model_card(name: str, milestones: Sequence[float], ledger: dict | None = None) -> str:
    """The ``README.md`` of the repository: Hub metadata, what each branch holds, how to load a revision, and the
    words all the training behind the final model consumed (its ``word_ledger.json``; "unknown" without one)."""
    rows = "\n".join(f"| `{revision_name(m)}` | {m * 1e6:,.0f} |" for m in milestones)
    return f"""---
library_name: transformers
pipeline_tag: text-generation
tags:
- babylm
---

# {name}

A causal language model trained with babylm (BabyLM-style training). Branch `main` holds the final model; each
`chck_<N>M` branch holds the model after N million training words, named as the BabyLM evaluation pipeline
expects its intermediate checkpoints (their names count this model's own training words).

{card_line(ledger)} BabyLM's rule: all training together, teachers included, sees at most 10 epochs of the
track's words (100M for strict-small, 1B for strict); `word_ledger.json` on `main` has the breakdown.

| revision | training words |
|---|---:|
| `main` | final |
{rows}

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained("USER/{name}", revision="chck_10M", trust_remote_code=False)  # or "main"
tokenizer = AutoTokenizer.from_pretrained("USER/{name}", revision="chck_10M", trust_remote_code=False)
```
"""


def _copy_verified(source: Path, digest: str, target: Path) -> None:
    """Copy the plain file ``source`` (never through a symbolic link) to ``target``; :class:`HubError` unless the copy's
    sha256 is ``digest``. The copy is new, with the usual permissions (not the source's mode)."""
    try:
        handle = os.open(source, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as error:
        raise HubError(f"{source}: cannot be read without following a link ({error.strerror}); "
                       "export it again") from None
    hasher = hashlib.sha256()
    with os.fdopen(handle, "rb") as reader, open(target, "wb") as writer:
        while block := reader.read(1 << 20):
            hasher.update(block)
            writer.write(block)
    os.chmod(target, FILE_MODE)
    if hasher.hexdigest() != digest:
        raise HubError(f"{source}: changed since it was exported (its sha256 is not the one in .babylm-export.json); "
                       "export it again")


def _commit_files(repo: Path, files: Sequence[tuple[Path, str]], message: str) -> dict:
    """Copy ``files`` (verified) into the work tree and commit; returns ``{"commit", "files": {name: sha256}}``."""
    for source, digest in files:
        _copy_verified(source, digest, repo / source.name)
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "--allow-empty", "--message", message)
    tree = {entry.name: file_sha256(entry) for entry in sorted(repo.iterdir()) if entry.is_file()}
    return {"commit": _git(repo, "rev-parse", "HEAD").strip(), "files": tree}


def build_repo(run_dir: str | os.PathLike, out: str | os.PathLike, final: str | os.PathLike | None = None) -> list[str]:
    """Write the Hub repository of the run ``run_dir`` into the new or empty folder ``out``; returns its branches.

    Raises :class:`HubError` (one line) for a run without milestone exports, a final model that is missing or
    not an export, an ``out`` that holds anything, or a git failure.
    """
    run_dir, out = Path(run_dir), Path(out)
    if out.is_symlink():
        raise HubError(f"--out {out} is a symbolic link; give a new or empty folder "
                       "(nothing is written through a link)")
    out = Path(os.path.abspath(out))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise HubError(f"--out {out} exists and is not an empty folder; choose a new folder (nothing is replaced)")
    milestones = milestone_exports(run_dir)
    if not milestones:
        raise HubError(f"--run {run_dir}: no chck_<N>M exports (fit writes them at the word milestones; "
                       "see --word_checkpoints.export_hf)")
    for _, folder in milestones:
        if folder.is_symlink():
            raise HubError(f"{folder} is a symbolic link; hub-repo publishes only the exports fit wrote in the "
                           "run folder")
    final_dir = Path(final) if final else final_export(run_dir)
    final_files = model_files(final_dir)
    branch_files = [(revision_name(m), m, model_files(folder)) for m, folder in milestones]
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:8]}")
    staged.mkdir()
    try:
        _git(staged, "init", "--quiet")
        _git(staged, "symbolic-ref", "HEAD", "refs/heads/main")
        (staged / ".gitattributes").write_text(GITATTRIBUTES, encoding="utf-8")
        try:
            ledger = read_ledger(final_dir)
        except LedgerError as error:
            raise HubError(str(error)) from error
        card = model_card(final_dir.resolve().name, [m for m, _ in milestones], ledger)
        (staged / "README.md").write_text(card, encoding="utf-8")
        base = _commit_files(staged, [], "Hub layout: model card and .gitattributes")["commit"]
        laid_out = {}
        for branch, millions, files in branch_files:
            _git(staged, "checkout", "--quiet", "-b", branch, base)
            laid_out[branch] = _commit_files(staged, files,
                                             f"{branch}: the model after {millions * 1e6:,.0f} training words")
        _git(staged, "checkout", "--quiet", "main")  # back to the base commit: no milestone file left
        laid_out["main"] = _commit_files(staged, final_files, f"main: the final model ({final_dir})")
        atomic_write_json(staged / ".git" / HUB_MANIFEST, {"written_by": "babylm hub-repo", "format": 1,
                                                           "branches": laid_out})
        try:
            if out.exists():
                out.rmdir()  # empty, checked above
            os.replace(staged, out)
        except OSError as error:
            raise HubError(f"--out {out}: {error.strerror} (written to meanwhile?); choose a new folder") from None
    finally:
        shutil.rmtree(staged, ignore_errors=True)  # only our own staging folder (gone once renamed into place)
    return ["main", *(branch for branch, _, _ in branch_files)]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m babylm hub-repo``."""
    parser = CommandParser(
        prog="python -m babylm hub-repo",
        description="Lay a finished run out as a Hugging Face Hub repository (a local git repository: main = the final "
        "model, one branch chck_<N>M per word milestone, as BabyLM asks) and, with --repo-id and a token, push it.",
    )
    parser.add_argument("--run", help="the run's checkpoint folder, holding chck_<N>M/ exports and config.yaml")
    parser.add_argument("--out", help="new or empty folder for the repository")
    parser.add_argument("--final", default=None,
                        help="the final model's export (default: export_dir of the run's config.yaml)")
    parser.add_argument("--push", default=None, metavar="REPO",
                        help="push a repository made earlier by hub-repo (no --run)")
    parser.add_argument("--repo-id", default=None,
                        help="Hub repository to push to, USER/NAME (needs HF_TOKEN or `hf auth login`)")
    visibility = parser.add_mutually_exclusive_group()
    visibility.add_argument("--private", dest="public", action="store_false", help="a private Hub repository (default)")
    visibility.add_argument("--public", dest="public", action="store_true",
                            help="create the Hub repository public, or push to an existing public one")
    parser.set_defaults(public=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``hub-repo`` on ``argv``; returns 0, or 2 after a one-line error (1 when only the push failed)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.push is None and not (args.run and args.out):
        parser.error("give --run RUN --out DIR (build), or --push REPO --repo-id USER/NAME")
    if args.push is not None and not args.repo_id:
        parser.error("--push needs --repo-id USER/NAME")
    repo = Path(args.push or args.out)
    try:
        if args.push is None:
            names = build_repo(args.run, args.out, args.final)
            print(f"wrote {repo}: branches {', '.join(names)}")
    except HubError as error:
        print(f"babylm hub-repo: error: {error}", file=sys.stderr)
        return 2
    if not args.repo_id:
        print(f"to push it: python -m babylm hub-repo --push {repo} --repo-id USER/NAME "
              "(needs HF_TOKEN or `hf auth login`)")
        return 0
    try:
        url = push(repo, args.repo_id, private=not args.public)
    except HubError as error:
        print(f"babylm hub-repo: error: {error}", file=sys.stderr)
        return 1 if args.push is None else 2
    print(f"pushed every branch to {url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
