"""``hub-repo --push``: upload a repository that ``hub-repo`` laid out, and only such a one, to the Hugging Face Hub.

Used by :mod:`babylm.commands.hub_repo` (``python -m babylm hub-repo --push OUT --repo-id USER/NAME``, or
``--run … --out … --repo-id …``); nothing to run on its own. Reads the local repository (its branches with
``git archive``, and ``.git/babylm-hub-repo.json``, written by ``hub-repo`` when it laid the repository out: each
branch's commit and the sha256 of each of its files); talks to the Hub through ``huggingface_hub``.

**Push only what hub-repo made**, checked before anything goes over the network: the repository must carry that
record; its branches must be exactly the recorded ones, each at its recorded commit; and every branch, extracted,
must hold exactly the recorded files with the recorded sha256. A repository ``hub-repo`` did not lay out, or one
changed since (a commit, a branch, a file), is refused in one line. The git commands run on the repository use
no hooks and no file-system monitor (``core.hooksPath``, ``core.fsmonitor`` overridden); its other git settings
(such as the git-lfs filter that ``git archive`` applies) are trusted as the user's own.

**Private by default**: ``create_repo(private=True)`` unless the caller asks for a public repository; an existing
repository stays as it is on the Hub, so pushing without ``--public`` to one that is public is refused before any
file is uploaded.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from babylm.core.safe_json import JsonError, read_json
from babylm.models.tracks import revision_millions

HUB_MANIFEST = "babylm-hub-repo.json"  # inside .git/: never committed, never pushed
SAFE_GIT = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")


class HubError(ValueError):
    """A run folder, output folder or push that cannot work (one-line message)."""


def _git_read(repo: Path, *args: str, binary: bool = False):
    try:
        done = subprocess.run(["git", *SAFE_GIT, "-C", str(repo), *args], capture_output=True, text=not binary,
                              timeout=600)
    except FileNotFoundError as error:
        raise HubError("git is not installed; install git to push the Hub repository") from error
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace") if binary else done.stderr
        raise HubError(f"git {' '.join(args[:2])} failed in {repo}: {(stderr.strip().splitlines() or ['?'])[-1]}")
    return done.stdout


def laid_out(repo: Path) -> dict[str, dict]:
    """The branches of a repository ``hub-repo`` laid out, checked against its record: ``{branch: {"commit", "files"}}``
    with ``main`` first, then the milestones by words.

    Raises :class:`HubError` when ``repo`` is no such repository (not a folder, not the top of a git repository, no
    record), or when its branches or their commits are not the recorded ones (changed since).
    """
    made_by = f"a folder made by python -m babylm hub-repo --run RUN --out {repo}"
    if not repo.is_dir():
        raise HubError(f"{repo}: no such folder; --push takes {made_by}")
    if not (repo / ".git").is_dir():
        raise HubError(f"{repo}: not a git repository (no .git folder); --push takes {made_by}")
    try:
        record = read_json(repo / ".git" / HUB_MANIFEST)
    except JsonError:
        raise HubError(f"{repo}: not a repository hub-repo laid out (no readable .git/{HUB_MANIFEST}); --push takes "
                       f"{made_by}") from None
    recorded = record.get("branches") if isinstance(record, dict) else None
    if not isinstance(recorded, dict) or "main" not in recorded or not all(
            isinstance(v, dict) and isinstance(v.get("commit"), str) and isinstance(v.get("files"), dict)
            for v in recorded.values()) or not all(
            name == "main" or revision_millions(name) is not None for name in recorded) or not all(
            isinstance(f, str) and "/" not in f and f not in (".", "..")
            for v in recorded.values() for f in v["files"]):
        raise HubError(f"{repo}/.git/{HUB_MANIFEST}: not the record hub-repo writes; lay the repository out again")
    names = set(_git_read(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads").split())
    if names != set(recorded):
        changed = ", ".join(sorted(names ^ set(recorded)))
        raise HubError(f"{repo}: its branches are not the ones hub-repo laid out ({changed}); lay it out again with "
                       "python -m babylm hub-repo --run RUN --out NEW")
    for name, entry in recorded.items():
        commit = _git_read(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}^{{commit}}").strip()
        if commit != entry["commit"]:
            raise HubError(f"{repo}: branch {name} changed since hub-repo laid it out (commit {commit[:12]}, not "
                           f"{entry['commit'][:12]}); lay it out again with "
                           "python -m babylm hub-repo --run RUN --out NEW")
    milestones = sorted((revision_millions(n) or 0.0, n) for n in recorded if n != "main")
    return {name: recorded[name] for name in ["main", *(n for _, n in milestones)]}


def extract_verified(repo: Path, name: str, files: dict, folder: Path) -> None:
    """Extract branch ``name`` into ``folder``; :class:`HubError` unless it holds exactly ``files`` with their
    sha256."""
    archive = _git_read(repo, "archive", "--format=tar", f"refs/heads/{name}", binary=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        members = [m for m in tar.getmembers() if not m.isdir()]
        found = {m.name for m in members}
        if found != set(files) or not all(m.isfile() for m in members):
            odd = ", ".join(sorted(found ^ set(files))) or "a member that is not a plain file"
            raise HubError(f"{repo}: branch {name} does not hold the files hub-repo laid out ({odd}); lay it out again")
        for member in members:
            data = tar.extractfile(member).read()
            if hashlib.sha256(data).hexdigest() != files[member.name]:
                raise HubError(f"{repo}: {member.name} on branch {name} is not the file hub-repo laid out (sha256 "
                               "differs); lay it out again")
            (folder / member.name).write_bytes(data)


def _failures() -> tuple:
    from huggingface_hub.errors import HfHubHTTPError

    failures: tuple = (HfHubHTTPError, OSError, ValueError, subprocess.SubprocessError)  # requests' errors are OSErrors
    for client in ("httpx", "httpx2"):  # huggingface_hub >= 1.0 talks through httpx (or its fork httpx2)
        try:
            failures += (importlib.import_module(client).HTTPError,)
        except (ImportError, AttributeError):
            pass
    return failures


def push(repo: str | Path, repo_id: str, private: bool = True, token: str | None = None,
         endpoint: str | None = None) -> str:
    """Upload every branch of the local Hub repository ``repo`` (laid out by ``hub-repo``) to ``repo_id``; returns the
    repository's URL.

    Checks first (:func:`laid_out`, :func:`extract_verified`), then uses ``huggingface_hub``: ``create_repo(private=
    private, exist_ok=True)``, the repository's visibility (a public one is refused unless ``private`` is False),
    ``upload_folder`` of ``main``, then per milestone ``create_branch`` and ``upload_folder(revision=branch)``.
    ``endpoint`` defaults to ``HF_ENDPOINT`` (the Hub). Raises :class:`HubError` for a repository hub-repo did not
    lay out or that changed since, without a token, and when the Hub cannot be reached or refuses.
    """
    from huggingface_hub import HfApi, get_token

    failures = _failures()
    repo = Path(repo)
    branches = laid_out(repo)
    token = token or get_token()
    later = f"push later with: python -m babylm hub-repo --push {repo} --repo-id {repo_id}"
    if not token:
        raise HubError(f"no Hugging Face token (set HF_TOKEN or run `hf auth login`); the repository is ready in "
                       f"{repo}: {later}")
    with tempfile.TemporaryDirectory(prefix="babylm-hub-") as tmp:
        for name, entry in branches.items():  # every branch checked before anything goes over the network
            (Path(tmp) / name).mkdir()
            extract_verified(repo, name, entry["files"], Path(tmp) / name)
        api = HfApi(endpoint=endpoint, token=token)
        try:
            url = str(api.create_repo(repo_id, private=private, exist_ok=True))
            if private and api.model_info(repo_id).private is not True:  # an existing repository keeps its visibility
                raise HubError(f"{repo_id} exists on the Hub and is public (or does not say it is private); nothing "
                               "was uploaded: pass --public to publish to it, or push to another --repo-id (new "
                               "repositories are private)")
            for name in branches:
                if name != "main":
                    api.create_branch(repo_id, branch=name, exist_ok=True)
                api.upload_folder(repo_id=repo_id, folder_path=Path(tmp) / name, revision=name,
                                  commit_message=f"babylm: {name}")
                print(f"pushed {name} to {repo_id}", file=sys.stderr)
        except HubError:
            raise
        except failures as error:
            first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
            raise HubError(f"push to {repo_id} failed ({type(error).__name__}: {first}); the repository is kept in "
                           f"{repo}: {later}") from error
    return url
