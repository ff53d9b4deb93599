"""``hub-repo``: a finished tiny run becomes a Hub-layout git repository (main + chck_<N>M branches) and is pushed.

The run is a real 6-step fit that passes two word milestones; the push goes over real HTTP through
``huggingface_hub`` to a small local stand-in of the Hub's API (``create_repo``, ``create_branch``, preupload,
commit, YAML validation), which keeps every branch's files so the test can compare them.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from babylm.commands.hub_push import HubError
from babylm.commands.hub_repo import build_repo, main, push
from tests.training.teacher_fixtures import fit_argv, run_cli, tiny_data  # noqa: F401 (fixture)

MILESTONES = ["chck_0.001M", "chck_0.004M"]


@pytest.fixture(scope="module")
def run(tiny_data, tmp_path_factory) -> Path:
    """A 6-step tiny Llama fit with milestones at 1,000 and 4,000 words; returns its output folder."""
    out = tmp_path_factory.mktemp("hub_run")
    argv = fit_argv(out, tiny_data, "--trainer.max_steps", "6", "--word_checkpoints.milestones", "[0.001, 0.004]",
                    "--word_checkpoints.blimp", "false", logger="none")
    assert run_cli(argv) == 0
    return out


@pytest.fixture(scope="module")
def repo(run, tmp_path_factory) -> Path:
    """The Hub repository of the run, built with the command (the final model: export_dir of its config.yaml)."""
    out = tmp_path_factory.mktemp("hub") / "Tiny-Llama"
    assert main(["--run", str(run / "ckpt"), "--out", str(out)]) == 0
    return out


def git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True).stdout


def test_each_branch_holds_its_milestone_export_and_main_the_final_model(run, repo):
    assert git(repo, "branch", "--format=%(refname:short)").split() == [b"chck_0.001M", b"chck_0.004M", b"main"]
    for branch in MILESTONES:
        assert (git(repo, "show", f"{branch}:model.safetensors")
                == (run / "ckpt" / branch / "model.safetensors").read_bytes())
        assert git(repo, "show", f"{branch}:tokenizer.json") == (run / "ckpt" / branch / "tokenizer.json").read_bytes()
    assert git(repo, "show", "main:model.safetensors") == (run / "export" / "model.safetensors").read_bytes()
    files = set(git(repo, "ls-tree", "--name-only", "main").decode().split())
    assert files == {".gitattributes", "README.md", "config.json", "generation_config.json", "model.safetensors",
                     "tokenizer.json", "tokenizer_config.json", "word_ledger.json"}  # no .babylm-export.json manifest
    assert b"*.safetensors filter=lfs" in git(repo, "show", "main:.gitattributes")
    card = git(repo, "show", "main:README.md").decode()
    ledger = json.loads(git(repo, "show", "main:word_ledger.json"))
    assert "chck_0.004M" in card and f"Training words: {ledger['total_words']:,.0f} words in all" in card
    assert ledger["total_words"] == ledger["own_words"] > 4000 and ledger["teachers"] == []  # a teacher: its own words
    assert not git(repo, "status", "--porcelain")  # everything committed, main checked out


def test_every_file_has_the_usual_permissions(run, tmp_path):
    """The repository's files get the umask's mode, whatever the mode of the export they were copied from."""
    mask = os.umask(0)
    os.umask(mask)
    final = tmp_path / "final"
    shutil.copytree(run / "export", final)
    (final / "model.safetensors").chmod(0o600)  # (as safetensors once wrote it)
    out = tmp_path / "repo"
    assert main(["--run", str(run / "ckpt"), "--out", str(out), "--final", str(final)]) == 0
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir() if p.is_file()}
    assert "model.safetensors" in modes and modes == dict.fromkeys(modes, 0o666 & ~mask)
    for branch in MILESTONES:  # the word-milestone exports fit wrote
        assert {stat.S_IMODE(p.stat().st_mode) for p in (run / "ckpt" / branch).iterdir()} == {0o666 & ~mask}


def test_automodel_loads_every_branch_from_a_checkout(run, repo, tmp_path):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    for branch in MILESTONES:
        checkout = tmp_path / branch
        subprocess.run(["git", "clone", "--quiet", "--branch", branch, str(repo), str(checkout)], check=True)
        model = AutoModelForCausalLM.from_pretrained(checkout, trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(checkout, trust_remote_code=False)
        expected = load_file(run / "ckpt" / branch / "model.safetensors")
        for name, value in model.state_dict().items():
            torch.testing.assert_close(value, expected[name], rtol=0, atol=0)
        assert tokenizer("The abbey")["input_ids"][0] == tokenizer.bos_token_id


def test_out_that_holds_anything_is_refused_and_nothing_is_touched(run, tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["--run", str(run / "ckpt"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("babylm hub-repo: error: --out") and "not an empty folder" in err[0]
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and [p.name for p in tmp_path.iterdir()] == ["taken"]
    assert main(["--run", str(tmp_path), "--out", str(tmp_path / "new")]) == 2
    assert "no chck_<N>M exports" in capsys.readouterr().err


def test_without_a_token_it_says_how_to_push_later(repo, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no stored token
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert main(["--push", str(repo), "--repo-id", "someone/Tiny-Llama"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no Hugging Face token" in err[0]
    assert f"python -m babylm hub-repo --push {repo} --repo-id someone/Tiny-Llama" in err[0]


def test_push_of_a_folder_hub_repo_did_not_make_says_what_it_must_be(tmp_path, capsys):
    plain = tmp_path / "plain"
    plain.mkdir()
    outer = tmp_path / "outer"  # a folder inside some other git repository: its branches must never be pushed
    (outer / "inner").mkdir(parents=True)
    subprocess.run(["git", "init", "--quiet", str(outer)], check=True)
    no_main = tmp_path / "no-main"
    subprocess.run(["git", "init", "--quiet", "-b", "trunk", str(no_main)], check=True)
    cases = [(plain, "not a git repository (no .git folder)"),
             (outer / "inner", "not a git repository (no .git folder)"),
             (tmp_path / "absent", "no such folder"), (no_main, "not a repository hub-repo laid out")]
    for folder, fragment in cases:
        assert main(["--push", str(folder), "--repo-id", "a/b"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"babylm hub-repo: error: {folder}: {fragment}"), err
        assert f"--push takes a folder made by python -m babylm hub-repo --run RUN --out {folder}" in err[0]
        assert "fatal" not in err[0]


# --------------------------------------------------------------------------------------- push over HTTP
class FakeHub(BaseHTTPRequestHandler):
    """The few Hub API routes ``create_repo``/``create_branch``/``upload_folder`` use; files kept per branch."""

    repos: dict[str, dict[str, dict[str, bytes]]] = {}
    private: dict[str, bool] = {}  # visibility of each repository
    requests: list[str] = []  # every request received, "METHOD path"
    unknown: list[str] = []

    def log_message(self, *args) -> None:  # quiet
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.requests.append(f"POST {self.path}")
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[:3] == ["api", "repos", "create"]:
            payload = json.loads(body)
            repo_id = f"{payload['organization']}/{payload['name']}"
            if repo_id not in self.repos:  # as the Hub: public unless asked otherwise; an existing one keeps its own
                self.repos[repo_id] = {"main": {}}
                self.private[repo_id] = payload.get("visibility") == "private" or payload.get("private") is True
            return self._reply(200, {"url": f"http://{self.headers['Host']}/{repo_id}"})
        if parts[:2] == ["api", "validate-yaml"]:
            return self._reply(200, {})
        if len(parts) == 6 and parts[:2] == ["api", "models"]:
            repo_id, action, revision = f"{parts[2]}/{parts[3]}", parts[4], parts[5]
            branches = self.repos[repo_id]
            if action == "branch":
                branches.setdefault(revision, dict(branches["main"]))
                return self._reply(200, {})
            if action == "preupload":
                files = json.loads(body)["files"]
                return self._reply(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                                   for f in files]})
            if action == "commit":
                for line in body.splitlines():
                    item = json.loads(line)
                    if item["key"] == "file":
                        branches[revision][item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                oid = "0" * 40
                return self._reply(200, {"commitUrl": f"http://{self.headers['Host']}/{repo_id}/commit/{oid}",
                                         "commitOid": oid})
        self.unknown.append(f"POST {self.path}")
        self._reply(404, {"error": "not in the fake Hub"})

    def do_GET(self) -> None:  # noqa: N802
        self.requests.append(f"GET {self.path}")
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) == 4 and parts[:2] == ["api", "models"] and f"{parts[2]}/{parts[3]}" in self.repos:
            repo_id = f"{parts[2]}/{parts[3]}"
            return self._reply(200, {"id": repo_id, "private": self.private[repo_id], "sha": "0" * 40})
        self.unknown.append(f"GET {self.path}")
        self._reply(404, {"error": "not in the fake Hub"})


@pytest.fixture
def fake_hub(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # the tests run with HF_HUB_OFFLINE=1; this is 127.0.0.1
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    FakeHub.repos, FakeHub.private, FakeHub.requests, FakeHub.unknown = {}, {}, [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_push_uploads_main_and_one_branch_per_milestone(run, repo, fake_hub):
    url = push(repo, "someone/Tiny-Llama", token="hf_test", endpoint=fake_hub)
    assert url.endswith("/someone/Tiny-Llama") and FakeHub.unknown == []
    remote = FakeHub.repos["someone/Tiny-Llama"]
    assert FakeHub.private["someone/Tiny-Llama"] is True  # private unless --public
    assert set(remote) == {"main", *MILESTONES}
    assert remote["main"]["model.safetensors"] == (run / "export" / "model.safetensors").read_bytes()
    for branch in MILESTONES:
        assert remote[branch]["model.safetensors"] == (run / "ckpt" / branch / "model.safetensors").read_bytes()
        assert set(remote[branch]) == set(remote["main"])  # same files, the milestone's contents


def test_an_unreachable_hub_is_one_line_and_keeps_the_repository(repo, fake_hub, monkeypatch):
    import socket

    from babylm.commands.hub_repo import HubError

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    with pytest.raises(HubError, match="push to someone/Tiny-Llama failed .*the repository is kept in") as caught:
        push(repo, "someone/Tiny-Llama", token="hf_test", endpoint=f"http://127.0.0.1:{port}")
    assert "\n" not in str(caught.value) and (repo / ".git").is_dir()


def test_build_repo_takes_an_explicit_final_model(run, tmp_path):
    assert build_repo(run / "ckpt", tmp_path / "r", final=run / "ckpt" / "chck_0.004M") == ["main", *MILESTONES]
    assert (git(tmp_path / "r", "show", "main:model.safetensors")
            == (run / "ckpt" / "chck_0.004M" / "model.safetensors").read_bytes())


# --------------------------------------------------------------------------------------- publish only what we made
def test_only_the_exports_own_files_are_published_and_no_link_is_followed(run, tmp_path, capsys):
    """Issue 24: a notes file holding a token and a link to /etc/hostname beside the final export both landed on
    main."""
    final = tmp_path / "final"
    shutil.copytree(run / "export", final)
    (final / "my_private_notes.txt").write_text("hf_SECRETTOKEN\n")
    (final / "hostname").symlink_to("/etc/hostname")
    out = tmp_path / "repo"
    assert main(["--run", str(run / "ckpt"), "--out", str(out), "--final", str(final)]) == 0
    files = set(git(out, "ls-tree", "--name-only", "main").decode().split())
    assert files == {".gitattributes", "README.md", "config.json", "generation_config.json", "model.safetensors",
                     "tokenizer.json", "tokenizer_config.json", "word_ledger.json"}
    assert b"SECRETTOKEN" not in b"".join(p.read_bytes() for p in out.iterdir() if p.is_file())
    err = capsys.readouterr().err
    assert f"{final}: not published (not files of the export): hostname, my_private_notes.txt" in err


@pytest.mark.parametrize("damage", ["edited", "link", "unlisted manifest"])
def test_an_export_changed_since_it_was_written_is_refused(run, tmp_path, capsys, damage):
    final = tmp_path / "final"
    shutil.copytree(run / "export", final)
    if damage == "edited":  # a listed file whose bytes are not the exported ones
        (final / "generation_config.json").write_text('{"secret": "hf_SECRETTOKEN"}')
    elif damage == "link":  # a listed file replaced by a link out of the folder
        (final / "generation_config.json").unlink()
        (final / "generation_config.json").symlink_to("/etc/hostname")
    else:  # no manifest: not an export of ours
        (final / ".babylm-export.json").unlink()
    out = tmp_path / "repo"
    assert main(["--run", str(run / "ckpt"), "--out", str(out), "--final", str(final)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    expected = {"edited": "generation_config.json: changed since it was exported",
                "link": "generation_config.json: not a plain file (a symbolic link",
                "unlisted manifest": "no .babylm-export.json with its files' sha256"}[damage]
    assert line.startswith("babylm hub-repo: error: ") and expected in line
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["final"]


def test_a_milestone_that_links_out_of_the_run_is_refused(run, tmp_path, capsys):
    run_dir = tmp_path / "ckpt"
    shutil.copytree(run / "ckpt" / "chck_0.001M", run_dir / "chck_0.001M")
    (run_dir / "chck_5M").symlink_to(run / "ckpt" / "chck_0.004M")  # a link out of the run folder
    assert main(["--run", str(run_dir), "--out", str(tmp_path / "repo"), "--final", str(run / "export")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"{run_dir / 'chck_5M'} is a symbolic link" in line and not (tmp_path / "repo").exists()


@pytest.mark.parametrize("target", ["empty folder", "dangling"])
def test_out_that_is_a_symbolic_link_is_one_line(run, tmp_path, capsys, target):
    link = tmp_path / "link"
    if target == "empty folder":
        (tmp_path / "elsewhere").mkdir()
    link.symlink_to(tmp_path / "elsewhere")
    assert main(["--run", str(run / "ckpt"), "--out", str(link)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == f"babylm hub-repo: error: --out {link} is a symbolic link; give a new or empty folder (nothing is " \
                   "written through a link)"
    assert not list((tmp_path / "elsewhere").iterdir()) if target == "empty folder" else not link.exists()


def test_a_repository_hub_repo_did_not_lay_out_is_never_pushed(tmp_path, fake_hub, capsys):
    """Issue 24: any git repository with a main branch was uploaded (the stand-in got create public, preupload
    secret.py)."""
    other = tmp_path / "other"
    subprocess.run(["git", "init", "--quiet", "-b", "main", str(other)], check=True)
    (other / "secret.py").write_text("TOKEN = 'hf_SECRET'\n")
    git(other, "add", "secret.py")
    git(other, "-c", "user.name=a", "-c", "user.email=a@b", "commit", "--quiet", "-m", "x")
    with pytest.raises(HubError,
                       match=r"not a repository hub-repo laid out \(no readable \.git/babylm-hub-repo\.json\)"):
        push(other, "someone/Other", token="hf_test", endpoint=fake_hub)
    assert FakeHub.requests == []  # nothing went over the network


@pytest.mark.parametrize("change", ["commit", "branch", "record"])
def test_a_repository_changed_since_hub_repo_laid_it_out_is_not_pushed(repo, tmp_path, fake_hub, change):
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, symlinks=True)
    if change == "commit":
        (copy / "secret.py").write_text("TOKEN = 'hf_SECRET'\n")
        git(copy, "add", "secret.py")
        git(copy, "-c", "user.name=a", "-c", "user.email=a@b", "commit", "--quiet", "-m", "x")
        expected = "branch main changed since hub-repo laid it out"
    elif change == "branch":
        git(copy, "branch", "chck_9M", "main")
        expected = r"its branches are not the ones hub-repo laid out \(chck_9M\)"
    else:  # the record edited to vouch for a file it did not lay out
        record = json.loads((copy / ".git" / "babylm-hub-repo.json").read_text())
        record["branches"]["main"]["files"]["config.json"] = "0" * 64
        (copy / ".git" / "babylm-hub-repo.json").write_text(json.dumps(record))
        expected = "config.json on branch main is not the file hub-repo laid out"
    with pytest.raises(HubError, match=expected):
        push(copy, "someone/Tiny-Llama", token="hf_test", endpoint=fake_hub)
    assert FakeHub.requests == []


def test_pushing_to_an_existing_public_repository_needs_public(repo, fake_hub):
    FakeHub.repos["someone/Open"], FakeHub.private["someone/Open"] = {"main": {}}, False
    with pytest.raises(HubError, match=r"someone/Open exists on the Hub and is public \(or does not say it is "
                                       r"private\); nothing was uploaded: pass --public"):
        push(repo, "someone/Open", token="hf_test", endpoint=fake_hub)
    assert FakeHub.repos["someone/Open"] == {"main": {}}
    push(repo, "someone/Open", private=False, token="hf_test", endpoint=fake_hub)  # what --public asks
    assert set(FakeHub.repos["someone/Open"]) == {"main", *MILESTONES}


def test_the_command_line_is_private_unless_public_is_given():
    from babylm.commands.hub_repo import build_parser

    base = ["--push", "r", "--repo-id", "a/b"]
    assert [build_parser().parse_args(base + extra).public for extra in ([], ["--private"], ["--public"])] == \
        [False, False, True]


@pytest.mark.parametrize("text", ["model: [1, 2]\n", "model:\n  init_args:\n    export_dir: [a, b]\n", "- 1\n"])
def test_a_run_config_of_another_shape_is_one_line(run, tmp_path, capsys, text):
    run_dir = tmp_path / "ckpt"
    shutil.copytree(run / "ckpt" / "chck_0.001M", run_dir / "chck_0.001M")
    (run_dir / "config.yaml").write_text(text)
    assert main(["--run", str(run_dir), "--out", str(tmp_path / "repo")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"babylm hub-repo: error: {run_dir / 'config.yaml'}: no model.init_args.export_dir (the run exported no final "
        "model); pass --final DIR"]
