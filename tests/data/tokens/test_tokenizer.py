"""Tokenizer command: training, saved files that transformers loads, report, re-use, markers, errors."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer

from babylm.data.tokens.tokenizer import fertility, load_tokenizer, main, report_path, train_tokenizer
from tests.data.tokens.fixtures import tiny_encoding, write_split  # noqa: F401 (fixture)


def run(tiny_encoding, tmp_path, *extra) -> int:
    return main(["--train", str(tiny_encoding.split_dir / "train.txt"), "--val", str(tiny_encoding.split_dir / "val.txt"),
                 "--vocab-size", "400", "--out", str(tmp_path / "tok.json"), "--hf-dir", str(tmp_path / "hf"), *extra])


def test_command_writes_tokenizer_hf_files_and_report(tiny_encoding, tmp_path, capsys):
    assert run(tiny_encoding, tmp_path) == 0
    assert "trained in" in capsys.readouterr().out
    hf = AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
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
    assert not [token for token in vocab if ("<" in token or ">" in token) and token not in ("<pad>", "<s>", "</s>", "<", ">")]
    assert tokenizer.encode("<s>\nArticle</s>", add_special_tokens=False).ids[0] == 1


def test_fertility_counts_tokens_per_word(tmp_path):
    write_split(tmp_path / "val.txt", ["aaa bbb", "ccc"])
    tokenizer = train_tokenizer(texts=["aaa bbb ccc"] * 10, vocab_size=300)
    result = fertility(tokenizer, tmp_path / "val.txt")
    assert result["words"] == 3
    assert result["tokens"] == sum(len(tokenizer.encode(t, add_special_tokens=False).ids) for t in ("aaa bbb\n", "ccc\n"))


def test_bad_input_is_one_line_with_exit_code_2(tmp_path, capsys):
    assert main(["--train", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "t.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.txt: text file not found" in err
    assert main(["--train", str(tmp_path / "x.txt"), "--vocab-size", "100"]) == 2
    assert "below 259" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0 and "--vocab-size" in capsys.readouterr().out
