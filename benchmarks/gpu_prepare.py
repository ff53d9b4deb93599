"""The GPU suite's CPU side: ``gpu_suite.py --prepare`` and ``--print-device-call``.

``--prepare`` (here, on the CPU machine, in the checkout whose session will be lent the GPU; needs
``../shared/data`` and PyPI) fills the two carried folders, both ignored by git:

* ``.whl/`` — the wheels of what the package imports that the device image lacks (:data:`DEVICE_WHEELS`: the
  CLI's jsonargparse and its ``signatures`` extra), downloaded with ``pip download --no-deps
  --only-binary=:all: --python-version 3.12 --platform manylinux…`` at the versions installed here (the ones the
  tests ran with); the device installs them with ``pip install --no-index --no-deps --target /tmp/site``;
* ``.gpu/`` — the data: the 16k tokenizer trained on the 10M-word EB1911 corpus, that corpus tokenized
  (``tokenized/eb1911-10m/``: uint16, ≈ 30 MB), the Gutenberg slice #19699 tokenized with it
  (``tokenized/eb1911-19699/``), the BLiMP development files (``blimp-dev/``) and ``manifest.json``.

The corpus goes through the package's own commands (``python -m babylm prepare --source gutenberg``, ``tokenizer``,
``encode``) in ``data-gpu-suite/`` (ignored; the text stays here, only the products are copied), each stage skipped
when up to date. Slices that the Gutenberg ingest cannot cut into articles are left out and listed in the manifest.
Then the size of what travels (tracked and untracked files, ``.gpu``, ``.whl``) is checked against the device
tool's 64 MiB.

``--print-device-call`` prints the device ``run`` calls of a lent session (:func:`device_calls`).
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Sequence

from gpu_setup import DATA, REPO, WHEELS

SHARED = REPO.parent / "shared" / "data"
WORK = REPO / "data-gpu-suite"
TREE_LIMIT_MIB = 64.0  # the device tool's limit on what travels
TREE_MARGIN_MIB = 60.0  # what --prepare allows
# what the package imports that the device image ('cuda', .library/device/KINDS.md) lacks: the CLI's parser and
# the packages of its [signatures] extra (Lightning's LightningCLI checks for them); typing-extensions is there
DEVICE_WHEELS = ("jsonargparse", "docstring-parser", "typeshed-client")
# what the package, its tests and the suite import that the device image already holds (KINDS.md: "Python packages
# already there"); tests/benchmarks/test_gpu_suite.py checks that setup.cfg needs nothing beyond these and the wheels
DEVICE_IMAGE = ("torch", "lightning", "transformers", "huggingface_hub", "tokenizers", "safetensors", "PyYAML",
                "requests", "lxml", "tqdm", "numpy", "matplotlib", "pytest", "pytest-xdist", "hypothesis", "accelerate")
NOT_CARRIED = {"wandb": "binary wheels of tens of MB; nothing imports it unless a WandbLogger is built, and the "
                        "suite's Trainers have no logger (WANDB_MODE=disabled)",
               "ruff": "the linter; tests/test_lint.py, which the suite does not run on the device"}
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")
TEN_MILLION = dict(train_words=10_000_000, val_words=500_000)
CARRY = [".gpu", ".whl"]
# the budget of a lent session (15 min of device time): start ≈ 2 min, call 1 ≤ 7 min, call 2 right after it (the
# machine still warm) ≤ 4.5 min, ≈ 1.5 min left for transfers and the give-back (docs/gpu.md, "Budget")
CALLS = ({"parts": "core", "budget": 380, "timeout_s": 420}, {"parts": "train10m", "budget": 225, "timeout_s": 270})


class PrepareError(RuntimeError):
    """A preparation step failed (the message names the step and what to do)."""


def normalise(name: str) -> str:
    """A distribution name as wheel files spell it (PEP 427: runs of ``-_.`` become ``_``, lower case)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def wheel_versions(names: Sequence[str] = DEVICE_WHEELS) -> dict[str, str]:
    """``{name: version installed here}``; :class:`PrepareError` when one is not installed."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            raise PrepareError(f"{name} is not installed here; install the package's dev environment "
                               f"(pip install -e '.[dev]') so the wheels match what the tests ran with") from None
    return versions


def stale_wheels(folder: Path, versions: dict[str, str]) -> list[Path]:
    """Wheels in ``folder`` of one of ``versions``' names at another version (two versions stop the device install)."""
    wanted = {normalise(name): version for name, version in versions.items()}
    stale = []
    for wheel in sorted(folder.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        if normalise(name) in wanted and version != wanted[normalise(name)]:
            stale.append(wheel)
    return stale


def pip_download_command(folder: Path, versions: dict[str, str]) -> list[str]:
    """The ``pip download`` argv for the device's Python 3.12 on x86-64 Linux (no dependencies, binaries only)."""
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
            "--implementation", "cp", *platforms, "-d", str(folder),
            *(f"{name}=={version}" for name, version in versions.items())]


def fetch_wheels(folder: Path = WHEELS, log: Callable[[str], None] = print) -> list[Path]:
    """Download :data:`DEVICE_WHEELS` into ``folder`` unless there already; returns the wheel files."""
    versions = wheel_versions()
    folder.mkdir(exist_ok=True)
    stale = stale_wheels(folder, versions)
    if stale:
        raise PrepareError(f"{folder}: {', '.join(p.name for p in stale)} is another version than the one installed "
                           f"here; remove it (two versions of a package stop the install on the device)")
    have = {normalise(p.name.split("-")[0]) for p in folder.glob("*.whl")}
    missing = {n: v for n, v in versions.items() if normalise(n) not in have}
    if missing:
        log(f"prepare: downloading wheels {', '.join(f'{n}=={v}' for n, v in missing.items())} → {folder}")
        done = subprocess.run(pip_download_command(folder, missing), capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            raise PrepareError(f"pip download failed (is PyPI reachable?): {last}")
    return sorted(folder.glob("*.whl"))


def usable_slices(files: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """Split Gutenberg slices into those the ingest can cut into articles and the names of those it cannot."""
    from babylm.data.sources.gutenberg import cut_slice, decode_gutenberg

    usable, left_out = [], []
    for path in files:
        cut = cut_slice(decode_gutenberg(path.read_bytes(), path.name))
        (usable.append(path) if cut.articles and cut.info.volume else left_out.append(path.name))
    return usable, left_out


def babylm(*argv: str) -> None:
    """Run ``python -m babylm argv…`` from the repository root; :class:`PrepareError` with its last line on failure."""
    done = subprocess.run([sys.executable, "-m", "babylm", *argv], cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["?"])[-1]
        raise PrepareError(f"python -m babylm {argv[0]} failed: {last}")


def prepare_corpora(work: Path = WORK, shared: Path = SHARED, log: Callable[[str], None] = print) -> dict:
    """Prepare, tokenize and encode the 10M-word corpus and slice #19699 under ``work``; returns what was used."""
    slices = sorted((shared / "eb1911" / "gutenberg-10m").glob("*.txt"))
    small = shared / "eb1911" / "gutenberg" / "19699-8.txt"
    if not slices or not small.is_file():
        raise PrepareError(f"{shared}/eb1911: the Gutenberg slices are missing "
                           f"(gutenberg-10m/*.txt, gutenberg/19699-8.txt)")
    record = work / "slices.json"
    known = json.loads(record.read_text()) if record.is_file() else {}
    key = [[p.name, p.stat().st_size] for p in slices]
    if known.get("key") != key:
        log(f"prepare: checking which of {len(slices)} slices the Gutenberg ingest can cut into articles")
        usable, left_out = usable_slices(slices)
        work.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"key": key, "left_out": left_out}))
        known = {"key": key, "left_out": left_out}
    usable = [p for p in slices if p.name not in known["left_out"]]
    big, little = work / "eb1911-10m", work / "eb1911-19699"
    steps = [
        ("prepare", "--source", "gutenberg", "--gutenberg-file", *map(str, usable), "--data-dir", str(big),
         "--train-words", str(TEN_MILLION["train_words"]), "--val-words", str(TEN_MILLION["val_words"])),
        ("prepare", "--source", "gutenberg", "--gutenberg-file", str(small), "--data-dir", str(little),
         "--val-fraction", "0.1"),
        ("tokenizer", "--train", str(big / "corpus_split" / "train.txt"), "--val",
         str(big / "corpus_split" / "val.txt"), "--out", str(work / "tokenizer-clean.json"), "--hf-dir", ""),
        ("encode", "--tokenizer", str(work / "tokenizer-clean.json"), "--split-dir", str(big / "corpus_split"),
         "--out-root", str(big / "tokenized")),
        ("encode", "--tokenizer", str(work / "tokenizer-clean.json"), "--split-dir", str(little / "corpus_split"),
         "--out-root", str(little / "tokenized")),
    ]
    for argv in steps:
        target = {"prepare": "--data-dir", "tokenizer": "--out", "encode": "--out-root"}[argv[0]]
        log(f"prepare: python -m babylm {argv[0]} … → {argv[argv.index(target) + 1]}")
        babylm(*argv)
    return {"slices": [p.name for p in usable], "left_out": known["left_out"], "small": small.name}


def copy_if_changed(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` (with its times) unless a file of the same size and mtime is there."""
    if target.is_file() and target.stat().st_size == source.stat().st_size \
            and int(target.stat().st_mtime) == int(source.stat().st_mtime):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def fill_carried(data: Path = DATA, work: Path = WORK, blimp: Path = SHARED / "blimp-dev") -> dict:
    """Copy the tokenizer, both encodings and the BLiMP files into ``data``; returns their sizes and counts."""
    manifest = data / "manifest.json"
    if data.exists() and any(data.iterdir()) and not manifest.is_file():
        raise PrepareError(f"{data} holds files this command did not write (no manifest.json); move them away")
    copy_if_changed(work / "tokenizer-clean.json", data / "tokenizer-clean.json")
    corpora = {}
    for name in ("eb1911-10m", "eb1911-19699"):
        (meta,) = sorted((work / name / "tokenized").glob("*/meta.json"))
        for file in [meta] + [meta.parent / e["bin"] for e in json.loads(meta.read_text())["splits"].values()]:
            copy_if_changed(file, data / "tokenized" / name / meta.parent.name / file.name)
        corpora[name] = {split: {k: e[k] for k in ("tokens", "words")}
                         for split, e in json.loads(meta.read_text())["splits"].items()}
    files = sorted(blimp.glob("*.jsonl"))
    if not files:
        raise PrepareError(f"{blimp}: no BLiMP .jsonl files")
    for file in files:
        copy_if_changed(file, data / "blimp-dev" / file.name)
    return {"corpora": corpora, "blimp_paradigms": len(files)}


def travelling_mib(repo: Path = REPO, carried: Sequence[str] = CARRY) -> float:
    """MiB of what a device call sends: tracked and untracked-not-ignored files, plus the carried folders."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                            capture_output=True, check=True).stdout.decode().split("\0")
    total = sum((repo / name).stat().st_size for name in listed if name and (repo / name).is_file())
    total += sum(p.stat().st_size for folder in carried for p in (repo / folder).rglob("*") if p.is_file())
    return total / 2**20


def prepare(log: Callable[[str], None] = print) -> dict:
    """Everything ``--prepare`` does (see the module docstring); returns the manifest it wrote."""
    from babylm.core.atomic import atomic_write_json

    wheels = fetch_wheels(log=log)
    used = prepare_corpora(log=log)
    manifest = {"written_by": "python benchmarks/gpu_suite.py --prepare", "wheels": [p.name for p in wheels],
                **used, **fill_carried()}
    atomic_write_json(DATA / "manifest.json", manifest)
    size = travelling_mib()
    manifest["travelling_mib"] = round(size, 1)
    atomic_write_json(DATA / "manifest.json", manifest)
    log(f"prepare: {len(wheels)} wheels, corpora {manifest['corpora']}, left out {used['left_out'] or 'nothing'}; "
        f"the device call sends {size:.1f} MiB (limit {TREE_LIMIT_MIB:.0f})")
    if size > TREE_MARGIN_MIB:
        raise PrepareError(f"what travels is {size:.1f} MiB, over {TREE_MARGIN_MIB:.0f} MiB; untracked files count too "
                           f"(git status), remove them or ignore them")
    return manifest


def device_calls(out_var: str = "$OUT") -> list[dict]:
    """The device ``run`` calls of a lent session, in order: ``{"command", "carry", "timeout_s", "what"}``."""
    install = ("python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade "
               "--target /tmp/site .whl/*.whl && export PYTHONPATH=$PWD:/tmp/site || exit 1; ")
    env = ("export WANDB_MODE=disabled HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1; "
           "set -o pipefail; ")
    calls = []
    for call in CALLS:
        suite = (f"python3 benchmarks/gpu_suite.py --parts {call['parts']} --budget {call['budget']} --out {out_var} "
                 f"2>&1 | tee {out_var}/log.txt")
        what = f"--parts {call['parts']}: the suite stops itself by {call['budget']} s"
        if call is not CALLS[0]:
            what += (" (right after the call before, the machine still warm; if that call failed in part, rerun the "
                     "failed parts here instead: --parts <them>)")
        calls.append({"what": what,
                      "command": install + env + suite, "carry": list(CARRY), "timeout_s": call["timeout_s"]})
    return calls
