"""Tokenizer command: training, saved files that transformers loads, report, re-use, markers, errors."""

from __future__ import annotations

import json
import random
import time

import pytest
from transformers import AutoTokenizer

from babylm.data.tokens.tokenizer import (
    TokenizerError,
    fertility,
    load_hf_tokenizer,
    load_tokenizer,
    main,
    report_path,
    train_tokenizer,
)
from tests.data.tokens.fixtures import tiny_encoding, write_split  # noqa: F401 (fixture)


def run(tiny_encoding, tmp_path, *extra) -> int:
    return main(["--train", str(tiny_encoding.split_dir / "train.txt"),
                 "--val", str(tiny_encoding.split_dir / "val.txt"),
                 "--vocab-size", "400", "--out", str(tmp_path / "tok.json"), "--hf-dir", str(tmp_path / "hf"), *extra])


def test_command_writes_tokenizer_hf_files_and_report(tiny_encoding, tmp_path, capsys):
    assert run(tiny_encoding, tmp_path) == 0
    captured = capsys.readouterr()
    assert "trained in" in captured.out
    # progress on stderr: what it is doing, on which file, how big (and the trainer's bars on a terminal)
    progress = captured.err.splitlines()
    assert progress[0].startswith("training a 400-token byte-level BPE on ") and "train.txt" in progress[0]
    assert progress[1].startswith("trained in ") and "measuring tokens per word on" in progress[1]
    hf = AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    # a class name transformers 4.x reads too (5.x alone knows "TokenizersBackend")
    config = json.loads((tmp_path / "hf" / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert (hf.pad_token_id, hf.bos_token_id, hf.eos_token_id) == (0, 1, 2)
    ids = hf("The city river.")["input_ids"]
    assert ids[0] == 1 and ids.count(1) == 1  # <s> prepended once, no </s> appended
    assert hf.decode(ids, skip_special_tokens=True) == "The city river."
    assert load_tokenizer(tmp_path / "tok.json").encode("The city river.").ids == ids
    report = json.loads(report_path(tmp_path / "tok.json").read_text())
    assert report["vocab_size"] == load_tokenizer(tmp_path / "tok.json").get_vocab_size()
    assert report["training_seconds"] >= 0
    assert 0.9 < report["val_fertility"]["tokens_per_word"] < 1.5


def test_unchanged_inputs_are_not_retrained(tiny_encoding, tmp_path, capsys):
    assert run(tiny_encoding, tmp_path) == 0
    before = (tmp_path / "tok.json").stat().st_mtime_ns
    capsys.readouterr()
    assert run(tiny_encoding, tmp_path) == 0
    assert "up to date" in capsys.readouterr().out
    assert (tmp_path / "tok.json").stat().st_mtime_ns == before
    assert run(tiny_encoding, tmp_path, "--min-frequency", "3") == 0  # a changed setting retrains
    assert "trained in" in capsys.readouterr().out


def test_article_markers_are_not_learned_as_text(tmp_path):
    write_split(tmp_path / "train.txt", [f"Article number {i} about the river and the town." for i in range(300)])
    tokenizer = train_tokenizer([tmp_path / "train.txt"], vocab_size=600, min_frequency=2)
    vocab = tokenizer.get_vocab()
    assert not [token for token in vocab
                if ("<" in token or ">" in token) and token not in ("<pad>", "<s>", "</s>", "<", ">")]


def test_text_is_text_special_token_strings_never_become_special_ids(tiny_encoding, tmp_path):
    assert run(tiny_encoding, tmp_path) == 0
    text = "The tag <s> and </s> and <pad> stay text."
    for tokenizer in (load_tokenizer(tmp_path / "tok.json"),
                      train_tokenizer(texts=["the tag and text"] * 20, vocab_size=300)):
        ids = tokenizer.encode(text).ids
        assert ids[0] == 1 and not {0, 1, 2} & set(ids[1:])  # the post-processor's <s>, then text only
        assert tokenizer.decode(ids, skip_special_tokens=True) == text
    for hf in (load_hf_tokenizer(tmp_path / "hf"), load_hf_tokenizer(tmp_path / "tok.json"),
               AutoTokenizer.from_pretrained(str(tmp_path / "hf"))):  # the saved files carry the setting too
        ids = hf(text)["input_ids"]
        assert ids[0] == 1 and not {0, 1, 2} & set(ids[1:])
        assert hf.decode(ids, skip_special_tokens=True) == text


def test_custom_tokenizer_code_in_a_folder_is_refused_without_running_it(tiny_encoding, tmp_path, capsys):
    assert run(tiny_encoding, tmp_path) == 0
    folder, marker = tmp_path / "hf", tmp_path / "code-ran"
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.update(tokenizer_class="EvilTokenizer", auto_map={"AutoTokenizer": ["evil_tokenizer.EvilTokenizer", None]})
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    (folder / "evil_tokenizer.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    start = time.monotonic()
    with pytest.raises(TokenizerError) as error:
        load_hf_tokenizer(folder)
    message = str(error.value)
    assert "tokenizer_config.json: auto_map asks to run code from the model folder (evil_tokenizer.py)" in message
    assert "\n" not in message
    assert time.monotonic() - start < 5 and not marker.exists()  # no prompt, no wait, no code
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "auto_map": None}))
    (folder / "config.json").write_text(json.dumps({"auto_map": {"AutoTokenizer": "evil_tokenizer.EvilTokenizer"}}))
    with pytest.raises(TokenizerError, match="config.json: auto_map asks to run code"):
        load_hf_tokenizer(folder)
    assert not marker.exists()


def test_training_in_bounded_pieces_gives_the_same_tokenizer(tmp_path):
    rng = random.Random(3)
    words = "the river town church a of and Ab'c 1911 x,y".split()
    line = " ".join(rng.choice(words) for _ in range(3000))
    (tmp_path / "train.txt").write_text("<s>\n" + line + "\n" + line[:500] + "\n</s>\n", encoding="utf-8")
    whole = train_tokenizer([tmp_path / "train.txt"], vocab_size=320)
    pieces = train_tokenizer([tmp_path / "train.txt"], vocab_size=320, piece_chars=97)
    assert pieces.to_str() == whole.to_str()
    assert fertility(pieces, tmp_path / "train.txt") == fertility(whole, tmp_path / "train.txt")


@pytest.mark.parametrize("content, message", [
    (b"", "no text to train on"), (b"<s>\n</s>\n\n", "no text to train on"), (b"caf\xe9\n", "not UTF-8 near byte 3"),
])
def test_unusable_training_text_is_one_line_and_writes_nothing(content, message, tmp_path, capsys):
    (tmp_path / "train.txt").write_bytes(content)
    assert main(["--train", str(tmp_path / "train.txt"), "--val", "", "--out", str(tmp_path / "out" / "t.json"),
                 "--hf-dir", str(tmp_path / "hf"), "--vocab-size", "300"]) == 2
    err = capsys.readouterr().err.splitlines()  # a progress line, then the one-line error
    assert err[-1].startswith("babylm tokenizer: error: ") and f"train.txt: {message}" in err[-1]
    assert not [line for line in err[:-1] if "error" in line]
    assert not (tmp_path / "hf").exists() and [p.name for p in (tmp_path / "out").iterdir()] == [".t.json.lock"]


def test_a_failed_val_report_writes_nothing_and_keeps_the_old_outputs(tiny_encoding, tmp_path, capsys):
    assert run(tiny_encoding, tmp_path) == 0
    before = {p: p.read_bytes()
              for p in [tmp_path / "tok.json", tmp_path / "tok.report.json", *(tmp_path / "hf").iterdir()]}
    (tmp_path / "val.txt").write_bytes(b"ok\n\xff\xfe broken\n")
    assert main(["--train", str(tiny_encoding.split_dir / "train.txt"), "--val", str(tmp_path / "val.txt"),
                 "--vocab-size", "400", "--out", str(tmp_path / "tok.json"), "--hf-dir", str(tmp_path / "hf")]) == 2
    err = capsys.readouterr().err.splitlines()  # progress lines, then the one-line error
    assert err[-1].startswith("babylm tokenizer: error: ") and "val.txt: not UTF-8 near byte 3" in err[-1]
    assert not [line for line in err[:-1] if "error" in line]
    assert {p: p.read_bytes() for p in before} == before
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_output_folders_are_refused_unless_they_hold_only_our_files(tiny_encoding, tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    assert run(tiny_encoding, tmp_path, "--out", str(tmp_path / "taken")) == 2
    assert "--out" in capsys.readouterr().err and list((tmp_path / "taken").iterdir()) == []
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "model.safetensors").write_text("weights")
    assert run(tiny_encoding, tmp_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds model.safetensors, which this command did not write" in err
    assert (tmp_path / "hf" / "model.safetensors").read_text() == "weights" and not (tmp_path / "tok.json").exists()


def test_temporary_files_of_a_killed_run_are_removed_at_the_next_start(tiny_encoding, tmp_path):
    stale = [tmp_path / ".tok.json.abcd1234.tmp", tmp_path / ".tok.report.json.a1b2c3d4.tmp",
             tmp_path / "hf" / ".tokenizer.json.zzzzzzzz.tmp", tmp_path / ".hf.q1w2e3r4.tmp" / "tokenizer.json"]
    kept = tmp_path / ".notes.txt.abcd1234.tmp"
    for path in [*stale, kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    assert run(tiny_encoding, tmp_path) == 0
    assert [p for p in stale if p.exists()] == [] and not (tmp_path / ".hf.q1w2e3r4.tmp").exists()
    assert kept.exists()


def test_fertility_counts_tokens_per_word(tmp_path):
    write_split(tmp_path / "val.txt", ["aaa bbb", "ccc"])
    tokenizer = train_tokenizer(texts=["aaa bbb ccc"] * 10, vocab_size=300)
    result = fertility(tokenizer, tmp_path / "val.txt")
    assert result["words"] == 3
    assert result["tokens"] == sum(len(tokenizer.encode(t, add_special_tokens=False).ids)
                                   for t in ("aaa bbb\n", "ccc\n"))


def test_bad_input_is_one_line_with_exit_code_2(tmp_path, capsys):
    assert main(["--train", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "t.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.txt: text file not found" in err
    assert main(["--train", str(tmp_path / "x.txt"), "--vocab-size", "100"]) == 2
    assert "below 259" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0 and "--vocab-size" in capsys.readouterr().out
