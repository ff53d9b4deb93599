"""No model or tokenizer folder ever runs code: every loader refuses ``auto_map`` and pickle-only weights in one line.

Each loader site is driven as a user drives it (evaluate, generate, export --tokenizer, a distillation fit's
teachers, the benchmarks' ``load_hf_model``) on a real tiny model folder into which a ``.py`` file is planted
that would create a marker file if it were ever imported, or whose only weights are a pickle that would create
one if it were ever unpickled.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

from babylm.commands.evaluate import main as evaluate_main
from babylm.commands.export import main as export_main
from babylm.core.hf_guard import UnsafeFolderError, refuse_remote_code, require_safetensors
from babylm.evaluation.generate import main as generate_main
from babylm.models.export import ExportError, load_exported, load_hf_model
from babylm.training.teachers import TeacherError, load_teacher
from tests.evaluation.tiny_models import save_tiny_model, tiny_checkpoint, train_tiny_tokenizer

EVIL_CODE = "from pathlib import Path\nPath({marker!r}).write_text('code from the model folder ran')\n"


@pytest.fixture(scope="module")
def clean_model(tmp_path_factory) -> Path:
    """A tiny LLaMA saved like an export (safetensors, config, tokenizer files)."""
    directory = tmp_path_factory.mktemp("clean") / "model"
    save_tiny_model(directory, "llama", train_tiny_tokenizer())
    return directory


def planted(clean_model: Path, tmp_path: Path, config: str) -> tuple[Path, Path]:
    """Copy of ``clean_model`` whose ``config`` (config.json or tokenizer_config.json) maps to evil.py; returns
    (dir, marker)."""
    directory, marker = tmp_path / "evil-model", tmp_path / "MARKER"
    shutil.copytree(clean_model, directory)
    (directory / "evil.py").write_text(EVIL_CODE.format(marker=str(marker)), encoding="utf-8")
    record = json.loads((directory / config).read_text(encoding="utf-8"))
    if config == "config.json":
        record["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilModel"}
    else:
        record["auto_map"] = {"AutoTokenizer": ["evil.EvilTokenizer", "evil.EvilTokenizerFast"]}
    (directory / config).write_text(json.dumps(record), encoding="utf-8")
    return directory, marker


class EvilPickle:
    """Unpickling this creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def pickle_only(clean_model: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Copy of ``clean_model`` whose weights are only a ``pytorch_model.bin`` pickle payload; returns (dir, marker)."""
    directory, marker = tmp_path / "pickle-model", tmp_path / "MARKER"
    shutil.copytree(clean_model, directory)
    (directory / "model.safetensors").unlink()
    (directory / "pytorch_model.bin").write_bytes(pickle.dumps(EvilPickle(marker)))
    return directory, marker


def one_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    return lines[0]


@pytest.mark.parametrize("config", ["config.json", "tokenizer_config.json"])
def test_auto_map_is_refused_by_name_before_anything_is_loaded(clean_model, tmp_path, config):
    directory, marker = planted(clean_model, tmp_path, config)
    with pytest.raises(UnsafeFolderError) as caught:
        refuse_remote_code(directory)
    assert f"{directory / config}: auto_map asks to run code from the model folder (evil.py)" in str(caught.value)
    with pytest.raises(ExportError, match="auto_map"):
        load_exported(directory)
    with pytest.raises(ExportError, match="auto_map"):
        load_hf_model(directory)  # the benchmarks' loader (bench_vs_hf_trainer's teachers)
    assert not marker.exists()


@pytest.mark.parametrize("config", ["config.json", "tokenizer_config.json"])
def test_evaluate_and_generate_refuse_a_model_folder_with_code(clean_model, tmp_path, capsys, config):
    directory, marker = planted(clean_model, tmp_path, config)
    assert evaluate_main(["--model", str(directory), "--blimp-dir", str(tmp_path), "--device", "cpu",
                          "--out", str(tmp_path / "eval")]) == 2
    assert "auto_map asks to run code" in one_line(capsys)
    assert generate_main(["--model", str(directory), "--prompt", "The", "--device", "cpu"]) == 2
    assert "auto_map asks to run code" in one_line(capsys)
    assert not marker.exists() and not (tmp_path / "eval").exists()


def test_export_refuses_a_tokenizer_folder_with_code(clean_model, tmp_path, capsys):
    directory, marker = planted(clean_model, tmp_path, "tokenizer_config.json")
    ckpt = tiny_checkpoint(tmp_path / "run" / "last.ckpt", clean_model)
    capsys.readouterr()
    assert export_main(["--ckpt", str(ckpt), "--out", str(tmp_path / "out"), "--tokenizer", str(directory)]) == 2
    line = one_line(capsys)
    assert "tokenizer_config.json: auto_map asks to run code" in line and line.startswith("babylm export: ")
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_teacher_with_code_or_pickle_weights_is_refused(clean_model, tmp_path):
    from babylm.data.tokens.tokenizer import load_tokenizer

    (tmp_path / "a").mkdir()
    directory, marker = planted(clean_model, tmp_path / "a", "config.json")
    vocab = load_tokenizer(clean_model).get_vocab_size()
    with pytest.raises(TeacherError, match=r"config.json: auto_map asks to run code"):
        load_teacher(directory, vocab)
    pickled, pickle_marker = pickle_only(clean_model, tmp_path)
    with pytest.raises(TeacherError, match=rf"no model.safetensors in {pickled} \(found pytorch_model.bin: pickle"):
        load_teacher(pickled, vocab)
    assert not marker.exists() and not pickle_marker.exists()


def test_evaluate_and_generate_refuse_pickle_only_weights(clean_model, tmp_path, capsys):
    directory, marker = pickle_only(clean_model, tmp_path)
    with pytest.raises(UnsafeFolderError):
        require_safetensors(directory)
    assert evaluate_main(["--model", str(directory), "--blimp-dir", str(tmp_path), "--device", "cpu",
                          "--out", str(tmp_path / "eval")]) == 2
    assert f"no model.safetensors in {directory}" in one_line(capsys)
    assert generate_main(["--model", str(directory), "--prompt", "The", "--device", "cpu"]) == 2
    assert f"no model.safetensors in {directory}" in one_line(capsys)
    assert not marker.exists()


def test_fit_with_a_pickle_only_teacher_is_one_line(tmp_path, capsys):
    from babylm.data.tokens.tokenizer import load_tokenizer
    from tests.training.distill_fixtures import write_encoded_splits, write_teacher, write_tokenizer
    from tests.training.teacher_fixtures import REPO_ROOT, run_cli

    tokenizer = write_tokenizer(tmp_path)
    tokenized = write_encoded_splits(tmp_path / "data", tokenizer)
    teacher = write_teacher(tmp_path / "teacher", "llama", tokenizer, load_tokenizer(tokenizer).get_vocab_size())
    (tmp_path / "p").mkdir()
    pickled, marker = pickle_only(teacher, tmp_path / "p")
    argv = ["fit", "-c", str(REPO_ROOT / "configs" / "tiny" / "distill.yaml"),
            "--data.tokenizer_path", str(tokenizer), "--data.tokenized_dir", str(tokenized), "--data.seq_len", "32",
            "--model.init_args.teachers", json.dumps([str(pickled)]),
            "--checkpoint.dirpath", str(tmp_path / "ckpt"), "--model.init_args.export_dir", str(tmp_path / "export"),
            "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]
    capsys.readouterr()
    assert run_cli(argv) == 2
    # the student is built (its INFO line) before the teachers are loaded; then one error line, no traceback
    line = [x for x in capsys.readouterr().err.splitlines() if x.strip() and not x.startswith(("INFO: ", "Seed set"))]
    assert len(line) == 1 and f"no model.safetensors in {pickled}" in line[0], line
    assert not marker.exists()
