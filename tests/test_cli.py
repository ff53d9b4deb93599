"""The training CLI: readable one-line errors for bad configs, --help, and a W&B logger that never hangs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from babylm.cli import main
from babylm.commands.fit import parse_error_line
from babylm.training.wandb_mode import has_api_key, logger_uses_wandb, offline_unless_usable
from tests.training.teacher_fixtures import TINY_LLAMA, fit_argv, tiny_data  # noqa: F401 (fixture)


def one_error_line(capsys, subcommand: str = "fit") -> str:
    err = [line for line in capsys.readouterr().err.splitlines()
           if line.strip() and not line.startswith(("Seed set", "INFO: Seed set", "INFO: llama model"))]
    assert len(err) == 1, err
    assert err[0].startswith(f"babylm {subcommand}: error: ")
    return err[0]


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "override.yaml"
    path.write_text(text)
    return str(path)


def test_unknown_key_names_the_key(tmp_path, capsys):
    bad = write(tmp_path, "model:\n  init_args:\n    learning_rat: 0.1\n")
    assert main(["fit", "-c", str(TINY_LLAMA), "-c", bad]) == 2
    line = one_error_line(capsys)
    assert "'learning_rat' is not accepted" in line and "--help" in line
    assert main(["fit", "-c", str(TINY_LLAMA), "--trainer.max_epoch", "3"]) == 2
    assert "unrecognized arguments: --trainer.max_epoch 3" in one_error_line(capsys)  # no silent abbreviation


def test_wrong_type_names_the_key_and_value(tmp_path, capsys):
    assert main(["fit", "-c", str(TINY_LLAMA), "-c", write(tmp_path, "data:\n  batch_size: lots\n")]) == 2
    line = one_error_line(capsys)
    assert '"data.batch_size"' in line and "lots" in line and "int" in line


def test_missing_tokenizer_is_one_line(tmp_path, capsys):
    assert main(["fit", "-c", str(TINY_LLAMA), "--data.tokenizer_path", str(tmp_path / "nope.json")]) == 2
    line = one_error_line(capsys)
    assert "nope.json: tokenizer not found" in line and "python -m babylm tokenizer" in line


def test_inconsistent_model_size_is_one_line(tiny_data, tmp_path, capsys):
    argv = fit_argv(tmp_path, tiny_data, "--model.init_args.config.num_heads", "5", logger="none")
    assert main(argv) == 2
    assert "hidden_size 64 is not divisible by num_heads 5" in one_error_line(capsys)


def test_fit_help_documents_the_model_and_callbacks(capsys):
    assert main(["fit", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m babylm fit [-c CONFIG]")  # not "__main__.py [options] fit"
    assert "--word_checkpoints.milestones" in out and "--checkpoint.dirpath" in out and "--model" in out


@pytest.mark.parametrize("short, class_path", [("CausalLM", "babylm.training.causal_lm.CausalLM"),
                                               ("DistillationStudent", "babylm.training.distill.DistillationStudent")])
def test_model_short_names_resolve(short, class_path, capsys):
    assert main(["fit", "--model", short, "--print_config"]) == 0
    assert f"class_path: {class_path}" in capsys.readouterr().out


def test_usage_lines_name_python_m_babylm(capsys):
    from babylm.data.tokens import encode, tokenizer

    for module, command in ((tokenizer, "tokenizer"), (encode, "encode")):
        with pytest.raises(SystemExit):
            module.main(["--help"])
        assert capsys.readouterr().out.startswith(f"usage: python -m babylm {command} ")


def test_parse_error_line_condenses_nested_reports():
    message = (
        'Parser key "model":\n  Does not validate against any of the Union subtypes\n  Subtypes: [A, B]\n  Errors:\n'
        "    - Problem with given class_path 'x.Y':\n        Option 'foo' is not accepted\n"
        "    - Expected a <class 'NoneType'>\n  Given value type: <class 'dict'>\n  Given value: {}\n"
    )
    assert parse_error_line(message) == ("Parser key \"model\": Problem with given class_path 'x.Y': "
                                         "Option 'foo' is not accepted")


# --------------------------------------------------------------------------------------- W&B fallback
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def test_wandb_without_a_key_goes_offline_with_a_notice(tmp_path):
    environ = {"NETRC": str(tmp_path / "no-netrc")}
    notice = offline_unless_usable(environ)
    assert environ["WANDB_MODE"] == "offline"
    assert notice.startswith("wandb: no W&B API key") and "\n" not in notice


def test_wandb_mode_chosen_by_the_user_is_kept(tmp_path):
    environ = {"WANDB_MODE": "online", "NETRC": str(tmp_path / "no-netrc")}
    assert offline_unless_usable(environ) is None and environ["WANDB_MODE"] == "online"


def test_wandb_key_in_netrc_but_server_unreachable_goes_offline(tmp_path):
    port = closed_port()
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1\n  login user\n  password " + "k" * 40 + "\n")
    netrc.chmod(0o600)
    environ = {"NETRC": str(netrc), "WANDB_BASE_URL": f"http://127.0.0.1:{port}"}
    assert has_api_key(environ)
    notice = offline_unless_usable(environ)
    assert environ["WANDB_MODE"] == "offline" and "cannot be reached" in notice


def test_logger_uses_wandb():
    assert logger_uses_wandb({"class_path": "lightning.pytorch.loggers.WandbLogger"})
    assert logger_uses_wandb([{"class_path": "lightning.pytorch.loggers.CSVLogger"}, {"class_path": "x.WandbLogger"}])
    assert not logger_uses_wandb(False) and not logger_uses_wandb(None)


def test_configured_wandb_logger_runs_offline_without_an_account(tiny_data, tmp_path):
    """The real CLI with the YAML's WandbLogger, no key, no WANDB_MODE, no stdin: finishes, logs offline — the
    gradient norm, the whole resolved config and the milestone BLiMP score — without W&B's per-run warnings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(HOME=str(tmp_path), NETRC=str(tmp_path / "no-netrc"))
    argv = fit_argv(tmp_path, tiny_data, "--trainer.max_steps", "2", "--trainer.val_check_interval", "2",
                    "--trainer.log_every_n_steps", "1", "--word_checkpoints.milestones", "[0.001]", logger="configured")
    done = subprocess.run([sys.executable, "-m", "babylm", *argv], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "wandb: no W&B API key is configured" in done.stderr
    assert "anonymous setting" not in done.stderr and "git root" not in done.stderr, done.stderr[-2000:]
    (run_file,) = (tmp_path / "runs").glob("**/offline-run-*/run-*.wandb")
    recorded = run_file.read_bytes()  # the run's records (protobuf): keys are stored as plain UTF-8
    for key in (b"train/grad_norm", b"blimp/accuracy", b"blimp/words_seen", b"run_config", b"seed_everything",
                b"32-true", b"gradient_clip_val", b"word_checkpoints"):
        assert key in recorded, key
    assert (tmp_path / "export" / "model.safetensors").is_file()  # the offline run finished and exported
    # (a key but a silent server goes offline the same way: test_wandb_server_that_accepts_but_never_answers_…)


# --------------------------------------------------------------------------- start-up checks (training_checks)
def test_linked_model_keys_set_by_hand_are_refused(tiny_data, tmp_path, capsys):
    """max_position_embeddings, vocab_size and tokenizer_path come from data.*: a different value is an error."""
    cases = [
        (["--model.init_args.config.max_position_embeddings", "16"],
         "model.init_args.config.max_position_embeddings is 16, but it is set from data.seq_len (64)"),
        (["--model.init_args.vocab_size", "123"],
         "model.init_args.vocab_size is 123, but it is set from data.vocab_size (400)"),
        (["--model.init_args.tokenizer_path", str(tmp_path / "other.json")], "it is set from data.tokenizer_path"),
    ]
    (tmp_path / "override.yaml").write_text("model:\n  init_args:\n    config:\n      max_position_embeddings: 16\n")
    cases.append((["-c", str(tmp_path / "override.yaml")], "max_position_embeddings is 16"))
    for extra, expected in cases:
        argv = fit_argv(tmp_path, tiny_data, "--data.seq_len", "64", *extra, logger="none")
        assert main(argv) == 2, extra
        line = one_error_line(capsys)
        assert expected in line and "set --data." in line, line
    assert not (tmp_path / "ckpt").exists()


def test_linked_key_equal_to_its_source_is_accepted(tiny_data, tmp_path):
    # a resolved config saved by a run holds the linked value; running from it again must work
    argv = fit_argv(tmp_path, tiny_data, "--data.seq_len", "64", "--model.init_args.config.max_position_embeddings",
                    "64", "--model.init_args.vocab_size", "400", "--trainer.max_steps", "1",
                    "--word_checkpoints.milestones", "[]", logger="none")
    assert main(argv) == 0


@pytest.mark.parametrize("subcommand, kind", [("fit", "missing"), ("fit", "empty"), ("fit", "garbage"),
                                             ("fit", "truncated"), ("validate", "truncated"), ("test", "garbage")])
def test_broken_ckpt_path_is_one_line(tiny_data, tmp_path, capsys, subcommand, kind):
    import torch

    ckpt = tmp_path / f"{kind}.ckpt"
    if kind == "empty":
        ckpt.write_bytes(b"")
    elif kind == "garbage":
        ckpt.write_bytes(os.urandom(4096))
    elif kind == "truncated":
        torch.save({"state_dict": {"model.w": torch.zeros(1000)}, "hyper_parameters": {}}, ckpt)
        ckpt.write_bytes(ckpt.read_bytes()[:2000])
    argv = fit_argv(tmp_path, tiny_data, "--ckpt_path", str(ckpt), logger="none")
    argv[0] = subcommand
    assert main(argv) == 2
    line = one_error_line(capsys, subcommand)
    expected = {"missing": "checkpoint not found", "empty": "empty file, not a checkpoint"}.get(
        kind, "not a readable checkpoint")
    assert f"--ckpt_path {ckpt}: {expected}" in line


def test_progress_bar_shows_no_bogus_epoch_total(tiny_data, tmp_path, capsys, monkeypatch):
    """Lightning's default bar with rich installed (Rich) printed `Epoch 0/-2` with max_epochs unset (the tiny configs
    end by max_steps); the training commands use its TQDM bar unless one is configured."""
    monkeypatch.setenv("FORCE_COLOR", "1")  # Rich draws the bar although the output is captured
    monkeypatch.setenv("COLUMNS", "120")
    argv = fit_argv(tmp_path, tiny_data, "--trainer.max_steps", "2", "--trainer.enable_progress_bar", "true",
                    "--word_checkpoints.milestones", "[]", logger="none")
    assert main(argv) == 0
    shown = "".join(capsys.readouterr())
    assert "Epoch 0" in shown
    assert "Epoch 0/-" not in shown and "/-2" not in shown


class SilentServer:
    """A TCP listener on 127.0.0.1 that accepts connections (the kernel completes them) and never answers."""

    def __enter__(self) -> str:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __exit__(self, *exc) -> None:
        self.sock.close()


def test_wandb_server_that_accepts_but_never_answers_goes_offline_quickly(tmp_path):
    import time

    with SilentServer() as url:
        environ = {"WANDB_API_KEY": "k" * 40, "WANDB_BASE_URL": url, "NETRC": str(tmp_path / "no-netrc")}
        started = time.monotonic()
        notice = offline_unless_usable(environ)
        waited = time.monotonic() - started
    assert environ["WANDB_MODE"] == "offline"
    assert (notice.startswith(f"wandb: the W&B server ({url}) cannot be reached or does not answer")
            and "\n" not in notice)
    assert waited < 10  # the deadline is 3 s; before the fix the check passed and W&B hung for 2 minutes


def test_wandb_server_that_answers_stays_online(tmp_path):
    import http.server
    import threading

    class Unauthorized(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - any status is an answer
            self.send_response(401)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unauthorized)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        environ = {"WANDB_API_KEY": "k" * 40, "WANDB_BASE_URL": f"http://127.0.0.1:{server.server_address[1]}"}
        assert offline_unless_usable(environ) is None and "WANDB_MODE" not in environ
    finally:
        server.shutdown()


def test_fit_never_overwrites_a_config_yaml_no_run_saved(tiny_data, tmp_path, capsys):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.yaml").write_text("# my own notes\ntrainer: {}\n")
    argv = fit_argv(tmp_path, tiny_data, "--trainer.max_steps", "1", "--word_checkpoints.milestones", "[]",
                    logger="none")
    assert main(argv) == 2
    assert "holds a config.yaml that no training run saved" in one_error_line(capsys)
    assert (tmp_path / "ckpt" / "config.yaml").read_text() == "# my own notes\ntrainer: {}\n"
    (tmp_path / "ckpt" / "config.yaml").unlink()
    assert main(argv) == 0 and main(argv) == 0  # a run's own saved config is replaced by the next run


@pytest.mark.parametrize("extra, expected", [
    (["--seed_everything", "99999999999999999999999"], "seed_everything is 99999999999999999999999: a seed must be"),
    (["--seed_everything", "-1"], "seed_everything is -1: a seed must be an integer from 0 to 4294967295"),
    (["--data.seed", "4294967296"], "data.seed is 4294967296: a seed must be"),
    (["--trainer.max_steps", "99999999999999999999999"],
     "trainer.max_steps is 99999999999999999999999: more than a 64-bit"),
])
def test_numbers_no_setting_can_use_are_refused_at_start_up(tiny_data, tmp_path, capsys, extra, expected):
    """Issue 24: ``--seed_everything 99999999999999999999999`` was a ValueError traceback from Lightning."""
    assert main(fit_argv(tmp_path, tiny_data, *extra, logger="none")) == 2
    assert expected in one_error_line(capsys)
    assert not (tmp_path / "ckpt").exists()
