"""``python -m babylm recipe tiny --control`` run as a user runs it (the quick start's preset), once for the module:
interrupted with Ctrl-C after the first teacher, run again to the end, then once more with a fit to resume.

The shared run (module fixture ``tiny``), on the bundled sample, offline, 6 optimizer steps per model:

1. ``python -m babylm recipe tiny --control …`` as a subprocess; as soon as the state file records the first
   teacher's fit as finished, SIGINT goes to its process group (a terminal's Ctrl-C: the recipe and the fit it has
   just started);
2. the same command again, to the end (in this process: one interpreter and torch start-up less; its fits are
   subprocesses as always): the first teacher must not be trained again.

That a fit resumed with ``--ckpt_path last`` continues where it stopped is ``fit``'s own test
(``tests/training/test_training_runs.py``); here, that the recipe asks for it when a fit left a ``last.ckpt``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from babylm.commands import recipe
from babylm.commands.recipe_plan import RecipeOptions, build_plan
from babylm.commands.recipe_preset import load_preset, preset_file
from babylm.commands.recipe_stages import command_line, settings
from babylm.commands.workdir import recorded_entries, snapshot
from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]
ARGS = ["tiny", "--control", "--steps", "6", "--seed", "3", "--blimp-dir", str(SAMPLE_BLIMP_DIR)]
FIRST_TEACHER = "checkpoints/Tiny-Llama/model.safetensors"


def _digest(path: Path) -> tuple[int, str]:
    return path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()


def _finished(workdir: Path, stage: str) -> bool:
    try:
        state = json.loads((workdir / "recipe_state.json").read_text())
    except (OSError, ValueError):
        return False
    return "finished_at" in state.get("stages", {}).get(stage, {})


def _default_sigint() -> None:
    """In the child: Ctrl-C as in a terminal. A pytest-xdist worker ignores SIGINT, and an ignored signal stays
    ignored in its children (Python then installs no KeyboardInterrupt handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_in_process(argv: list[str]) -> tuple[int, str]:
    """``recipe.main(argv)`` with W&B offline; returns (exit code, what it printed here)."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
        patch.setenv("WANDB_MODE", "offline")
        patch.delenv("WANDB_API_KEY", raising=False)
        code = recipe.main(argv)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The three runs above; returns what the tests read (outputs, pages, digests)."""
    root = tmp_path_factory.mktemp("recipe")
    workdir = root / "w"
    command = [sys.executable, "-m", "babylm", "recipe", *ARGS, "--workdir", str(workdir)]
    env = {**os.environ, "WANDB_MODE": "offline"}
    env.pop("WANDB_API_KEY", None)

    with open(root / "first.log", "w") as log:
        first = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True, preexec_fn=_default_sigint)
        deadline = time.monotonic() + 600
        while not _finished(workdir, "fit Tiny-Llama"):
            assert first.poll() is None and time.monotonic() < deadline, (root / "first.log").read_text()[-3000:]
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGINT)  # Ctrl-C: the recipe and the teacher fit it has just started
        first_code = first.wait(timeout=120)
    teacher = _digest(workdir / FIRST_TEACHER)

    second_code, second = run_in_process([*ARGS, "--workdir", str(workdir)])
    assert second_code == 0, second[-3000:]
    return {"workdir": workdir, "first_code": first_code, "first_log": (root / "first.log").read_text(),
            "teacher": teacher, "second": second, "page": json.loads((workdir / "results.json").read_text())}


def _stages(page: dict) -> dict[str, dict]:
    return {row["stage"]: row for row in page["stages"]}


@pytest.mark.slow
def test_ctrl_c_stops_the_recipe_and_the_rerun_does_not_retrain_the_finished_teacher(tiny):
    assert tiny["first_code"] == 130
    assert "interrupted; finished stages are kept — run the same command again to resume" in tiny["first_log"]
    assert _digest(tiny["workdir"] / FIRST_TEACHER) == tiny["teacher"]  # not trained (nor exported) again
    stages = _stages(tiny["page"])
    assert stages["fit Tiny-Llama"]["status"] == "done earlier: skipped"
    state = json.loads((tiny["workdir"] / "recipe_state.json").read_text())
    assert stages["fit Tiny-Llama"]["seconds"] == state["stages"]["fit Tiny-Llama"]["seconds"] > 0  # run 1's time
    for key in ("fit Tiny-GPTJ", "fit Tiny-Baby-Llama", "fit Tiny-Baby-Llama-alone", "evaluate Tiny-Llama"):
        assert stages[key]["status"] == "ran" and stages[key]["seconds"] > 0
    assert stages["prepare"]["status"].startswith("up to date") and stages["prepare"]["seconds"] > 0


@pytest.mark.slow
def test_the_results_page_has_every_model_and_sane_values(tiny):
    page, workdir = tiny["page"], tiny["workdir"]
    models = {m["role"]: m for m in page["models"]}
    assert [m["name"] for m in page["models"]] == ["Tiny-Llama", "Tiny-GPTJ", "Tiny-Baby-Llama",
                                                   "Tiny-Baby-Llama-alone"]
    assert set(models) == {"teacher", "distilled student", "student alone"}
    fields = {json.loads(line)["field"] for f in SAMPLE_BLIMP_DIR.glob("*.jsonl") for line in f.read_text().splitlines()
              if line.strip()}
    assert page["blimp_fields"] == sorted(fields) and page["seed"] == 3 and page["preset"] == "tiny"
    own = page["models"][0]["own_words"]
    for model in page["models"]:
        assert model["params"] > 1000
        assert math.isclose(model["own_words"], own, rel_tol=1e-9) and own > 0  # same steps, batch, windows
        assert 0 < model["val_loss"] < 20 and math.isclose(model["val_ppl"], math.exp(model["val_loss"]), rel_tol=1e-6)
        assert 0 <= model["blimp"] <= 1 and set(model["blimp_fields"]) == fields
        assert model["blimp_pairs"] == 144 and model["curve"]  # a milestone score at 2,000 words
    assert models["student alone"]["params"] == models["distilled student"]["params"]  # the same architecture
    assert math.isclose(models["student alone"]["total_words"], own, rel_tol=1e-9)  # no teachers behind it

    budget = page["budget"]
    teachers = [m for m in page["models"] if m["role"] == "teacher"]
    assert math.isclose(budget["total_words"], sum(t["total_words"] for t in teachers) + own, rel_tol=1e-9)
    assert math.isclose(budget["total_words"], 3 * own, rel_tol=1e-9) and budget["cap"] == 100_000_000
    assert budget["within_cap"] is True and budget["teacher_ledgers_match"] is True

    answer = page["comparison"]["answer"]
    best = max(teachers, key=lambda t: t["blimp"])
    gap = 100 * (models["distilled student"]["blimp"] - best["blimp"])
    assert answer.startswith(f"Distilled student vs best teacher ({best['name']}): {gap:+.1f} pp BLiMP")
    assert "vs student alone (Tiny-Baby-Llama-alone)" in answer
    markdown = (workdir / "results.md").read_text()
    assert answer in markdown and f"{budget['total_words']:,.0f} words" in markdown
    assert all(m["name"] in markdown for m in page["models"]) and "The river" in markdown
    assert (workdir / "blimp_vs_words.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_it_says_where_everything_went_and_prints_a_sample(tiny):
    out, workdir = tiny["second"], tiny["workdir"]
    listed = out.split("=== where everything went", 1)[1].split("=== time per stage", 1)[0]
    paths = [line.split()[-1] for line in listed.strip().splitlines()]
    assert len(paths) >= 20 and all(Path(p).exists() for p in paths) and "(missing!)" not in out
    generated = out.split("=== generate", 1)[1].split("=== done", 1)[0]
    assert "The river" in generated and "<s>" not in generated and "</s>" not in generated
    created = recorded_entries(workdir, "recipe")  # everything the stages made is the recipe's (--fresh removes it)
    assert {e for e in snapshot(workdir, "recipe") if not e.endswith("/")} <= created


@pytest.mark.slow
def test_a_fit_that_left_a_last_checkpoint_is_resumed_from_it(tiny, tmp_path):
    workdir = tiny["workdir"]
    options = RecipeOptions(control=True, steps=6, seed=3, blimp_dir=str(SAMPLE_BLIMP_DIR))
    path = preset_file("tiny")
    stages = {s.key: s for s in build_plan(load_preset(path), path, options)}
    control = stages["fit Tiny-Baby-Llama-alone"]
    recorded = json.loads((workdir / "recipe_state.json").read_text())["stages"][control.key]
    assert recorded["settings"] == settings(control) and recorded["argv"] == control.argv  # the run's own plan
    assert (workdir / control.model.checkpoint_dir / "last.ckpt").is_file()  # a finished fit leaves one too
    assert command_line(control, workdir) == ([*control.argv, "--ckpt_path", "last"], "resumed from last.ckpt")
    assert command_line(control, tmp_path) == (control.argv, "ran")  # no checkpoint: from the start
    assert command_line(stages["encode"], workdir) == (["encode"], "ran")


@pytest.mark.slow
def test_a_rerun_with_other_settings_is_refused_in_one_line(tiny, capsys):
    before = (tiny["workdir"] / "recipe_state.json").read_bytes()
    assert recipe.main(["tiny", "--steps", "9", "--seed", "3", "--blimp-dir", str(SAMPLE_BLIMP_DIR),
                        "--workdir", str(tiny["workdir"])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds stage 'fit Tiny-Llama' made with other settings" in err[0] and "--fresh" in err[0]
    assert (tiny["workdir"] / "recipe_state.json").read_bytes() == before


def test_the_seeds_benchmark_reports_the_runs_the_pages_hold(tiny, tmp_path):
    """``benchmarks/bench_recipe_seeds.py --report-only`` over the recipe's workdir (as seed 3): each model's row
    holds the page's values, the differences are the page's, and the learning curve is drawn."""
    (tmp_path / "seed3").symlink_to(tiny["workdir"], target_is_directory=True)
    done = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "bench_recipe_seeds.py"), "tiny", "--seeds",
                           "3", "--work", str(tmp_path), "--report-only"], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    models = {m["role"] if m["role"] != "teacher" else f"teacher {m['name']}": m for m in tiny["page"]["models"]}
    rows = {line.split(" | ")[0].lstrip("| "): line for line in done.stdout.splitlines() if line.startswith("| ")}
    for key, model in models.items():
        assert f"| {model['val_loss']:.3f} | {100 * model['blimp']:.1f} |" in rows[key], rows[key]
    student, alone = models["distilled student"], models["student alone"]
    assert f"{student['val_loss'] - alone['val_loss']:+.3f}" in rows["student − student alone"]
    assert "| anaphor_agreement |" in done.stdout and (tmp_path / "curve.png").stat().st_size > 1000
