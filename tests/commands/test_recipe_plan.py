"""Recipe presets and plans without training: every shipped preset plans; bad presets and options are one line;
the data of a preset can be replaced from the command line; the comparison line says what the numbers say."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from babylm.commands import recipe
from babylm.commands.recipe_page import budget, comparison
from babylm.commands.recipe_plan import RecipeOptions, build_plan
from babylm.commands.recipe_preset import PresetError, available_presets, load_preset, option_value, preset_file
from babylm.commands.workdir import locked
from babylm.core.atomic import LockBusy
from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
PRESETS = sorted((CONFIGS / "recipes").glob("*.yaml"))
TINY = {"description": "mine", "data": {"source": "sample", "val_fraction": 0.1}, "tokenizer": {"vocab_size": 2000},
        "teachers": [{"config": str(CONFIGS / "tiny/teacher_llama.yaml")},
                     {"config": str(CONFIGS / "tiny/teacher_gptj.yaml")}],
        "student": {"config": str(CONFIGS / "tiny/distill.yaml"), "overrides": {"trainer.max_steps": 7}}}


def write_preset(folder: Path, tree: dict, name: str = "mine.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return path


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_every_shipped_preset_plans_with_and_without_control(path, tmp_path):
    preset = load_preset(path)
    files = {}  # a preset whose corpus lives on the user's machine gets it from the command line
    if preset.data.source == "gutenberg" and not preset.data.files:
        with pytest.raises(PresetError, match="pass them with --gutenberg-file"):
            build_plan(preset, path, RecipeOptions())
        files = {"gutenberg_files": [str(tmp_path)]}
    stages = build_plan(preset, path, RecipeOptions(control=True, **files))
    keys = [s.key for s in stages]
    assert keys[:3] == ["prepare", "tokenizer", "encode"] and keys[-1] == "generate"
    roles = [s.model.role for s in stages if s.kind == "fit"]
    assert roles == ["teacher"] * len(preset.teachers) + ["distilled student", "student alone"]
    alone = next(s.model for s in stages if s.kind == "fit" and s.model.role == "student alone")
    student = next(s.model for s in stages if s.kind == "fit" and s.model.role == "distilled student")
    assert alone.config.model.class_path == "babylm.training.causal_lm.CausalLM"  # no teachers: cross-entropy only
    assert vars(alone.config.model.init_args.config) == vars(student.config.model.init_args.config)
    assert alone.config.trainer.max_steps == student.config.trainer.max_steps
    assert alone.config.data == student.config.data and alone.export_dir == f"{student.export_dir}-alone"
    assert [s.key for s in build_plan(preset, path, RecipeOptions(**files))].count("fit " + alone.name) == 0


def test_tiny_is_shipped_and_is_the_quick_starts_preset():
    from babylm.commands import quickstart

    assert "tiny" in available_presets() and quickstart.PRESET == "tiny"
    assert preset_file("tiny") == (CONFIGS / "recipes" / "tiny.yaml").resolve()


def test_adding_a_preset_is_adding_a_file_and_one_seed_reaches_every_stage_that_has_one(tmp_path):
    path = write_preset(tmp_path, TINY)
    stages = {s.key: s for s in build_plan(load_preset(path), path, RecipeOptions(seed=7, steps=5))}
    assert stages["prepare"].argv[:5] == ["prepare", "--source", "sample", "--seed", "7"]
    for key in ("fit Tiny-Llama", "fit Tiny-GPTJ", "fit Tiny-Baby-Llama"):
        config = stages[key].model.config
        assert config.seed_everything == 7 and config.data.seed == 7 and config.trainer.max_steps == 5
        assert config.word_checkpoints.blimp_dir == str(SAMPLE_BLIMP_DIR) and config.budget.track == "strict-small"
    assert stages["generate"].argv[stages["generate"].argv.index("--seed") + 1] == "7"


def test_the_data_of_a_preset_can_be_replaced_from_the_command_line(tmp_path):
    path = write_preset(tmp_path, TINY)
    split = tmp_path / "mine" / "corpus_split"
    split.mkdir(parents=True)
    for name in ("train.txt", "val.txt"):
        (split / name).write_text("<s> Words . </s>\n")
    for given in (tmp_path / "mine", split):
        stages = {s.key: s for s in build_plan(load_preset(path), path, RecipeOptions(data_dir=str(given)))}
        assert "prepare" not in stages
        assert stages["tokenizer"].argv[-4:] == ["--train", f"{split}/train.txt", "--val", f"{split}/val.txt"]
        assert stages["encode"].argv == ["encode", "--split-dir", str(split)]
        assert f"{split}/val.txt" in stages["evaluate Tiny-Baby-Llama"].argv
    slice_ = tmp_path / "19699-8.txt"
    slice_.write_text("text")
    stages = build_plan(load_preset(path), path, RecipeOptions(gutenberg_files=[str(slice_)]))
    assert stages[0].argv[:3] == ["prepare", "--source", "gutenberg"] and f"--gutenberg-file {slice_}" in \
        " ".join(stages[0].argv)
    with pytest.raises(PresetError, match=r"^--data-dir .* holds no train.txt and val.txt"):
        build_plan(load_preset(path), path, RecipeOptions(data_dir=str(tmp_path / "nothing")))


@pytest.mark.parametrize("change, field", [
    ({"teacher": []}, "'teacher' is not a field of a preset"),
    ({"teachers": [{"confg": "x.yaml"}]}, "teachers: 'confg' is not a field of a preset"),
    ({"tokenizer": {"vocab_size": "big"}}, "tokenizer.vocab_size"),
    ({"tokenizer": {"vocab_size": 100}}, "tokenizer.vocab_size: 100 is not from 259"),
    ({"tokenizer": {"vocab_size": 70_000}}, "tokenizer.vocab_size: 70000 is not from 259"),
    ({"data": {"source": "web"}}, "data.source"),
    ({"data": {"source": "gutenberg", "files": ["nowhere.txt"]}}, "data.files[0]: nowhere.txt not found"),
    ({"teachers": [{"config": "configs/tiny/nope.yaml"}]}, "teachers[0].config: configs/tiny/nope.yaml not found"),
    ({"teachers": []}, "teachers: at least one teacher"),
    ({"student": {"overrides": {}}}, "student"),
    ({"evaluation": {"blimp_dir": "nowhere"}}, "evaluation.blimp_dir: nowhere is not a folder of BLiMP"),
    ({"track": "strict-tiny"}, "track"),
    ({"data": {"source": "sample", "val_words": "rest"}}, "data.val_words: rest (val takes what train does not) "
                                                          "needs data.train_words"),
    ({"data": {"source": "sample", "train_words": 10**24}}, "data.train_words: 1000000000000000000000000 is not a "
                                                            "number of words from 0 to 2^63-1"),
    ({"data": {"source": "sample", "train_words": -5}}, "data.train_words: -5 is not a number of words"),
    ({"data": {"source": "sample", "val_words": "lots"}}, "data.val_words"),
])
def test_a_bad_preset_is_one_line_naming_the_file_and_field_and_nothing_is_written(tmp_path, capsys, change, field):
    path = write_preset(tmp_path, {**TINY, **change})
    workdir = tmp_path / "w"
    assert recipe.main([str(path), "--workdir", str(workdir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"babylm recipe: error: {path}: ") and field in err[0], err
    assert not workdir.exists()


def test_a_corpus_on_the_users_machine_must_be_given_and_be_there(tmp_path, capsys):
    path = write_preset(tmp_path, {**TINY, "data": {"source": "gutenberg"}})  # the files come from the command line
    for extra, expected in (([], "this preset reads gutenberg files that live on your machine: pass them with "
                                 "--gutenberg-file"),
                            (["--gutenberg-file", str(tmp_path / "nowhere")], "nowhere: no such file or folder")):
        assert recipe.main([str(path), "--workdir", str(tmp_path / "w"), *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("babylm recipe: error: ") and expected in err[0], err
        assert not (tmp_path / "w").exists()


def test_a_bad_override_or_student_is_refused_before_anything_runs(tmp_path, capsys):
    cases = [({"student": {"config": TINY["student"]["config"], "overrides": {"trainer.max_stepz": 3}}},
              "student: ", "max_stepz"),
             ({"student": {"config": TINY["teachers"][0]["config"]}}, "student: ", "has no teachers"),
             ({"teachers": TINY["teachers"][:1]}, "student: model.init_args.teachers", "are not the teachers'")]
    for change, where, what in cases:
        path = write_preset(tmp_path, {**TINY, **change})
        assert recipe.main([str(path), "--workdir", str(tmp_path / "w")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{path}: {where}" in err[0] and what in err[0], err
    assert not (tmp_path / "w").exists()


def test_bad_command_line_values_are_one_line(tmp_path, capsys):
    assert recipe.main(["no-such-preset", "--workdir", str(tmp_path / "w")]) == 2
    assert capsys.readouterr().err.strip() == ("babylm recipe: error: no preset 'no-such-preset': choose one of "
                                               f"{', '.join(available_presets())}, or give a preset .yaml file")
    assert recipe.main(["tiny", "--blimp-dir", str(tmp_path), "--workdir", str(tmp_path / "w")]) == 2
    assert "is not a folder of BLiMP .jsonl files" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("mine")
    assert recipe.main(["tiny", "--workdir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().endswith("already holds files that recipe did not create; choose a new "
                                                    "or empty folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_second_run_in_the_same_workdir_is_refused_while_the_first_holds_it(tmp_path):
    with locked(tmp_path, "recipe"):
        with pytest.raises(LockBusy, match="in use by another recipe run"):
            with locked(tmp_path, "recipe"):
                pass
    with locked(tmp_path, "recipe"):  # released
        pass


scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(min_size=1).filter(str.strip))


@given(st.one_of(scalars, st.lists(scalars, max_size=4), st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
                                                                         scalars, max_size=3)))
def test_an_override_value_reads_back_as_it_was_written(value):
    text = option_value(value)
    if isinstance(value, str):
        assert text == value  # a string is given as it is (fit reads it as YAML, as when typed)
    else:
        assert yaml.safe_load(text) == value and "\n" not in text


def _model(name, role, blimp, loss, own=100.0, total=None, teachers=()):
    return {"name": name, "role": role, "export": f"checkpoints/{name}", "blimp": blimp, "val_loss": loss,
            "own_words": own, "total_words": own if total is None else total,
            "teachers": [{"path": f"checkpoints/{t}", "total_words": 100.0} for t in teachers]}


def test_the_answer_line_compares_with_the_best_teacher_by_blimp_and_with_the_student_alone():
    models = [_model("A", "teacher", 0.60, 5.0), _model("B", "teacher", 0.55, 4.0),
              _model("S", "distilled student", 0.62, 4.8, total=300.0, teachers=("A", "B")),
              _model("C", "student alone", 0.64, 4.7)]
    result = comparison(models)
    assert result["vs_best_teacher"]["against"] == "A"
    assert math.isclose(result["vs_best_teacher"]["blimp_pp"], 2.0) and math.isclose(
        result["vs_best_teacher"]["val_loss"], -0.2)
    assert result["answer"] == ("Distilled student vs best teacher (A): +2.0 pp BLiMP, -0.200 val loss — better on "
                                "both; vs student alone (C): -2.0 pp BLiMP, +0.100 val loss — worse on both.")
    without = comparison(models[:3])
    assert without["answer"].endswith("vs student alone: not trained (run with --control).")
    words = budget(models, "strict-small")
    assert words["parts"] == [("A", 100.0), ("B", 100.0), ("S", 100.0)] and words["total_words"] == 300.0
    assert words["within_cap"] and words["teacher_ledgers_match"]
    models[0]["total_words"] = 50.0  # teacher A retrained after the student: its ledger no longer matches
    assert budget(models, "strict-small")["teacher_ledgers_match"] is False


def test_a_stage_that_refuses_its_input_makes_the_recipe_exit_2(tmp_path, capsys):
    """The sample (10k words) cannot give 10M train words with the rest as val: prepare says so in one line, and the
    recipe exits 2 (bad input), naming the stage and where its options come from."""
    data = {"source": "sample", "train_words": 10_000_000, "val_words": "rest"}
    path = write_preset(tmp_path, {**TINY, "data": data})
    assert recipe.main([str(path), "--workdir", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("prepare: the corpus has") and "--val-words rest would leave val empty" in err[0]
    assert err[1].startswith("babylm recipe: stage 'prepare' refused its input") and len(err) == 2
