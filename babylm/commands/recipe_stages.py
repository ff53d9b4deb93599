"""Running a recipe's stages: what is done, what to resume, the state file, the wall times, the page at the end.

Used by :mod:`babylm.commands.recipe`; nothing to run on its own. Reads and writes ``recipe_state.json`` in the
workdir (atomically: before a stage starts and after it ends) and runs the stages of
:mod:`babylm.commands.recipe_plan` there.

A stage is done, or not, by its own outputs:

* ``data`` stages (``prepare``, ``tokenizer``, ``encode``, ``cache-teachers``) always run: they skip up-to-date
  work themselves. When their outputs (fingerprint: path, size, modification time) are what the state recorded
  and the command changed nothing, the page keeps the original wall time and says "up to date".
* ``fit``: done when its export holds ``word_ledger.json`` (an export is written whole or not at all); otherwise
  it runs, with ``--ckpt_path last`` when the run's checkpoint folder holds a ``last.ckpt`` (an interrupted fit).
* ``evaluate``: done when its report (``blimp.json``, ``perplexity.json``) exists and was made with the same
  command line from the model files as they are now.
* ``generate``: always runs (seconds), and its sample goes on the page.

Refused in one line (:class:`RecipeError`): a stage recorded with other settings (``data``: its command line;
``fit``: its resolved config) whose work is there (outputs, an export, a checkpoint to resume), and a finished fit
whose inputs (tokenizer, token files, teachers' exports) changed since: the workdir holds another recipe's results.

What each stage creates in the workdir is added to the command's manifest (:mod:`.workdir`), even when it fails
or the run is killed: the listing from before the stage waits in the state file until then (:func:`recording`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from babylm.commands import evaluate as evaluate_command
from babylm.commands.recipe_page import PAGE_FILES, write_page
from babylm.commands.recipe_plan import SPLIT_DIR, TOKENIZED_DIR, TOKENIZER_JSON, Stage
from babylm.commands.workdir import inside, record_created, snapshot
from babylm.core.atomic import atomic_write_json
from babylm.core.safe_json import JsonError, read_json
from babylm.data import pipeline
from babylm.data.stamps import fingerprint
from babylm.data.tokens import encode, tokenizer
from babylm.evaluation import generate
from babylm.models.ledger import LEDGER_FILE
from babylm.training.checks import last_checkpoint

STATE_FILE = "recipe_state.json"
STATE_FORMAT = 1
IN_PROCESS: dict[str, Callable] = {  # commands run in this process; fit and cache-teachers are subprocesses
    "prepare": pipeline.main, "tokenizer": tokenizer.main, "encode": encode.main,
    "evaluate": evaluate_command.main, "generate": generate.main,
}


class RecipeError(ValueError):
    """The workdir holds a stage made with other settings (one line, naming the stage and the way out)."""


class StageFailed(RuntimeError):
    """A stage exited non-zero (its own output says why); ``code`` is its exit code (2: it refused its input)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def load_state(workdir: Path) -> dict:
    """The workdir's state (``{"format", "stages": {key: entry}}``); a missing or damaged file is an empty state
    (it is our own record: the outputs on disk decide what is done)."""
    try:
        state = read_json(workdir / STATE_FILE)
    except JsonError:
        state = None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT or not isinstance(state.get("stages"), dict):
        return {"format": STATE_FORMAT, "written_by": "babylm recipe", "stages": {}}
    return state


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def config_digest(stage: Stage) -> str:
    """SHA-256 of a fit's resolved settings (not of how they were typed, nor of the config files' names)."""
    tree = stage.model.config.as_dict()
    for key in ("config", "__default_config__"):  # which files were read, not what they set
        tree.pop(key, None)
    text = json.dumps(tree, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def settings(stage: Stage) -> str:
    """What identifies a stage's settings in the state: a fit's config digest, else its command line."""
    return config_digest(stage) if stage.kind == "fit" else shlex.join(stage.argv)


def run_command(stage: Stage, argv: list[str], workdir: Path, env: dict[str, str], keep_fds: tuple[int, ...] = ()
                ) -> tuple[float, str]:
    """Run ``python -m babylm <argv>`` inside ``workdir``, its output streamed; returns (seconds, what ``generate``
    printed). A subprocess inherits ``keep_fds`` (the workdir's lock). Raises :class:`StageFailed` on a non-zero
    exit."""
    print(f"\n=== {stage.key}\n$ python -m babylm {shlex.join(argv)}", flush=True)
    started = time.perf_counter()
    captured = ""
    if argv[0] in IN_PROCESS:
        buffer = io.StringIO()
        with inside(workdir), (contextlib.redirect_stdout(buffer) if stage.kind == "generate" else
                               contextlib.nullcontext()):
            try:
                code = IN_PROCESS[argv[0]](argv[1:])
            except SystemExit as exit_:  # argparse's usage errors
                code = exit_.code if isinstance(exit_.code, int) else 2
        captured = buffer.getvalue()
        print(captured, end="", flush=True)
    else:
        process = subprocess.Popen([sys.executable, "-m", "babylm", *argv], cwd=workdir, env=env, pass_fds=keep_fds,
                                   start_new_session=True)  # its own process group: the recipe passes Ctrl-C on
        try:
            code = process.wait()
        except KeyboardInterrupt:
            stop_stage(process)
            raise
        finally:
            _kill_group(process)  # what the stage left: DataLoader workers, their forkserver, the resource tracker
    if code == 2:  # the stage refused its input, in one line above
        raise StageFailed(f"stage {stage.key!r} refused its input (above; the recipe sets its options from the "
                          "preset's fields and the recipe's options: docs/recipe.md); fix it and run the same command "
                          "again: finished stages are kept", code=2)
    if code != 0:
        raise StageFailed(f"stage {stage.key!r} failed (exit {code}); its output is above. Fix it and run the same "
                          "command again: finished stages are kept")
    return time.perf_counter() - started, captured


STOP_GRACE_SECONDS = 60.0
"""How long a stage may take to stop after Ctrl-C (Lightning ends the step, tears down) before it is killed."""


def stop_stage(process: subprocess.Popen, grace: float = STOP_GRACE_SECONDS) -> None:
    """Ctrl-C reached the recipe while ``process`` (a stage started in its own process group) runs: pass SIGINT on
    to the group, wait up to ``grace`` seconds for the stage to stop, then kill what is left of the group — the
    stage, its DataLoader workers and their forkserver (started from a forkserver, workers are not the stage's
    children and would outlive it). A second Ctrl-C kills at once."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    finally:
        _kill_group(process)


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _outputs(stage: Stage, workdir: Path) -> str:
    return fingerprint([(workdir / path, pattern) for path, pattern in stage.outputs])


def _model_files(stage: Stage, workdir: Path) -> str:
    return fingerprint([(workdir / stage.model.export_dir, "*")])


def _fit_done(stage: Stage, workdir: Path) -> bool:
    return (workdir / stage.model.export_dir / LEDGER_FILE).is_file()


def _fit_inputs(stage: Stage, workdir: Path) -> str:
    """Fingerprint of what a fit reads: the tokenizer, the token files and (a student) its teachers' exports."""
    teachers = stage.model.config.model.init_args.get("teachers") or []
    return fingerprint([(workdir / TOKENIZER_JSON, None), (workdir / TOKENIZED_DIR, "**/*.bin"),
                        *((workdir / teacher, "*") for teacher in teachers)])


def check_settings(plan: list[Stage], state: dict, workdir: Path) -> None:
    """Refuse (:class:`RecipeError`) a plan whose data or fit stage was recorded with other settings while its work
    is there (outputs, an export, a checkpoint to resume): the workdir is another recipe's."""
    for stage in plan:
        entry = state["stages"].get(stage.key)
        if stage.kind not in ("data", "fit") or not entry or entry.get("settings") == settings(stage):
            continue
        if stage.kind == "fit" and not _fit_done(stage, workdir) and \
                last_checkpoint(workdir / stage.model.checkpoint_dir) is None:
            continue  # nothing of the other run to keep
        raise RecipeError(f"--workdir {workdir} holds stage {stage.key!r} made with other settings than this "
                          "command's (another preset, seed, --steps, --vocab-size, --blimp-dir or config); run it "
                          "with the same options, add --fresh to start over, or choose another --workdir")


@contextlib.contextmanager
def recording(workdir: Path, state: dict, command: str) -> Iterator[None]:
    """Record in ``command``'s manifest what the block creates in ``workdir``, even when it fails or is killed: the
    snapshot from before it stays in the state file (``pending``) until recorded, and the next run records what
    an interrupted block left (:func:`recover_pending`; a file added by hand meanwhile would count as created)."""
    before = snapshot(workdir, command)
    state["pending"] = sorted(before)
    save_state(workdir, state)
    try:
        yield
    finally:
        record_created(workdir, before, command)
        state.pop("pending", None)
        save_state(workdir, state)


def recover_pending(workdir: Path, state: dict, command: str) -> None:
    """Record what a stage interrupted in an earlier run created (see :func:`recording`)."""
    pending = state.pop("pending", None)
    if isinstance(pending, list):
        record_created(workdir, {entry for entry in pending if isinstance(entry, str)}, command)
        save_state(workdir, state)


def command_line(stage: Stage, workdir: Path) -> tuple[list[str], str]:
    """The command line to run ``stage`` with now, and what the page says of it: a fit whose checkpoint folder holds
    a ``last.ckpt`` (interrupted) resumes from it (``--ckpt_path last``), else every stage runs as planned."""
    if stage.kind == "fit" and last_checkpoint(workdir / stage.model.checkpoint_dir) is not None:
        return [*stage.argv, "--ckpt_path", "last"], "resumed from last.ckpt"
    return list(stage.argv), "ran"


def run_stage(stage: Stage, workdir: Path, state: dict, env: dict[str, str], command: str,
              keep_fds: tuple[int, ...] = ()) -> dict:
    """Run ``stage`` unless it is done, recording what it creates in ``command``'s manifest; update ``state``;
    returns ``{"stage", "seconds", "status", "sample"}``."""
    entry = state["stages"].get(stage.key) or {}
    same = entry.get("settings") == settings(stage)
    if stage.kind == "fit" and _fit_done(stage, workdir):
        if same and entry.get("inputs") not in (None, _fit_inputs(stage, workdir)):
            raise RecipeError(f"stage {stage.key!r} was trained on another tokenizer, other token files or other "
                              f"teachers than {workdir} holds now; add --fresh to start over, or choose another "
                              "--workdir")
        return {"stage": stage.key, "seconds": entry.get("seconds") if same else None,
                "status": "done earlier: skipped" if entry.get("seconds") is not None else "export found: skipped"}
    if stage.kind == "evaluate" and same and entry.get("model") == _model_files(stage, workdir) and all(
            (workdir / stage.report / name).is_file() for name in ("blimp.json", "perplexity.json")):
        return {"stage": stage.key, "seconds": entry.get("seconds"), "status": "done earlier: skipped"}
    argv, status = command_line(stage, workdir)
    outputs = _outputs(stage, workdir) if stage.kind == "data" else None
    state["stages"][stage.key] = {**entry, "settings": settings(stage), "argv": argv, "started_at": _now()}
    with recording(workdir, state, command):
        seconds, sample = run_command(stage, argv, workdir, env, keep_fds)
    if stage.kind == "fit" and not _fit_done(stage, workdir):
        raise StageFailed(f"stage {stage.key!r} ended without an export with {LEDGER_FILE} in "
                          f"{stage.model.export_dir}; its output is above")
    record = {"settings": settings(stage), "argv": argv, "seconds": seconds, "finished_at": _now()}
    if stage.kind == "data":
        after = _outputs(stage, workdir)
        if same and entry.get("seconds") is not None and entry.get("outputs") == outputs == after:
            record.update(seconds=entry["seconds"], finished_at=entry.get("finished_at"), checked_seconds=seconds)
            status = f"up to date (checked in {seconds:.1f} s)"
        record["outputs"] = after
    if stage.kind == "evaluate":
        record["model"] = _model_files(stage, workdir)
    if stage.kind == "fit":
        record["inputs"] = _fit_inputs(stage, workdir)
    state["stages"][stage.key] = record
    save_state(workdir, state)
    return {"stage": stage.key, "seconds": record["seconds"], "status": status, "sample": sample}


def save_state(workdir: Path, state: dict) -> None:
    """Write the state file atomically."""
    atomic_write_json(workdir / STATE_FILE, state)


def artifacts(plan: list[Stage]) -> list[tuple[str, str]]:
    """``(what, path)`` of everything the recipe leaves, for the closing list (paths relative to the workdir unless
    given outside it)."""
    split = next((s.argv[s.argv.index("--val-file") + 1] for s in plan if s.kind == "evaluate"), "")
    out = [("train/val split", str(Path(split).parent) if split else SPLIT_DIR),
           ("tokenizer (tokenizers JSON)", TOKENIZER_JSON), ("tokenizer (HF files)", "checkpoints/tokenizer"),
           ("token files (uint16 memmaps)", TOKENIZED_DIR)]
    if any(s.key == "prepare" for s in plan):
        out.insert(0, ("cleaned corpus", "data/encyclopedia_cleaned.txt"))
    for stage in plan:
        if stage.key == "cache-teachers":
            out.append(("teacher cache", stage.outputs[0][0]))
        if stage.kind == "fit":
            out.append((f"{stage.model.role} (HF export)", stage.model.export_dir))
            out.append((f"{stage.model.role}: checkpoints, config.yaml, BLiMP curve", stage.model.checkpoint_dir))
        if stage.kind == "evaluate":
            out.append((f"evaluation of {stage.model.name} (JSON, Markdown, PNG)", stage.report))
    return out + [("training logs (W&B offline / CSV)", "runs"), ("recipe state (stages, wall times)", STATE_FILE),
                  *((f"results page ({name.rsplit('.', 1)[1]})", name) for name in PAGE_FILES)]


def run_recipe(plan: list[Stage], workdir: Path, info: dict, command: str, env: dict[str, str],
               lock: int | None = None) -> dict:
    """Run ``plan`` in ``workdir`` (already claimed and locked by ``command``), record what each stage created in
    the command's manifest, write the results page and print where everything went; returns the page record.

    ``info``: the page's facts (preset, description, seed, track, command line, BLiMP set); ``lock``: the
    workdir's locked descriptor, inherited by the subprocess stages. Raises
    :class:`RecipeError` for a workdir made with other settings, :class:`StageFailed` when a stage fails.
    """
    state = load_state(workdir)
    recover_pending(workdir, state, command)
    check_settings(plan, state, workdir)
    state.update(preset=info["preset"], preset_file=info.get("preset_file"), seed=info["seed"])
    done = [run_stage(stage, workdir, state, env, command, () if lock is None else (lock,)) for stage in plan]
    sample = next((d.get("sample") for d in done if d["stage"] == "generate"), "")
    runs = [s.model for s in plan if s.kind == "fit"]
    reports = {s.model.name: workdir / s.report for s in plan if s.kind == "evaluate"}
    with recording(workdir, state, command):
        page = write_page(workdir, runs, reports, [{k: d[k] for k in ("stage", "seconds", "status")} for d in done],
                          {**info, "sample": sample})
    print(f"\n=== done: {page['comparison']['answer']}\n\n=== where everything went")
    listed = artifacts(plan)
    width = max(len(what) for what, _ in listed)
    for what, relative in listed:
        path = workdir / relative
        print(f"  {what:<{width}}  {path}{'' if path.exists() else '  (missing!)'}")
    print("\n=== time per stage")
    for row in done:
        seconds = "" if row["seconds"] is None else f"{row['seconds']:7.1f} s"
        print(f"  {seconds:>9}  {row['stage']:<32} {row['status']}")
    if page["total_seconds"] is not None:
        print(f"  {page['total_seconds']:7.1f} s  total")
    return page
