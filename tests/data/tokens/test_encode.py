"""Encode stage: token stream layout, streaming equivalence, re-use/rebuild, clear errors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, models

from babylm.data.tokens.encode import EncodeError, encode_file, encode_splits, iter_documents, main, read_meta
from babylm.data.tokens.tokenizer import load_tokenizer
from tests.data.tokens.fixtures import tiny_encoding, write_split  # noqa: F401 (fixture)

BOS_ID, EOS_ID = 1, 2


def documents(text: str, chunk: int | None = None, max_doc_chars: int = 1 << 22) -> list[str]:
    """Whole documents (pieces joined) that iter_documents finds in ``text`` fed in ``chunk``-sized parts."""
    parts = [text] if chunk is None else [text[i : i + chunk] for i in range(0, len(text), chunk)]
    docs, current = [], ""
    for piece in iter_documents(parts, max_doc_chars=max_doc_chars):
        current = piece.text if piece.first else current + piece.text
        if piece.last:
            docs.append(current.strip())
    return docs


def test_documents_come_from_markers_or_blank_lines():
    assert documents("<s>\nOne.\nTwo.\n</s>\n\n<s>\nThree.\n</s>\n\n") == ["One.\nTwo.", "Three."]
    assert documents("One.\nTwo.\n\n\nThree.\n") == ["One.\nTwo.", "Three."]
    assert documents("<s> A </s>stray words<s>B</s></s>") == ["A", "stray words", "B"]
    assert documents("<s>open at the end") == ["open at the end"]
    assert documents("<s></s>\n\n<s>  </s>") == []


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=list("ab é\n<s/>"), max_size=80), st.integers(1, 7))
def test_documents_do_not_depend_on_chunking(text, chunk):
    assert documents(text, chunk=chunk) == documents(text)


def read_stream(path) -> list[int]:
    return np.fromfile(path, dtype=np.uint16).tolist()


def test_marked_split_gives_bos_doc_eos_without_doubles(tiny_encoding):
    ids = read_stream(tiny_encoding.encoded_dir / "train.bin")
    tokenizer = load_tokenizer(tiny_encoding.tokenizer_path)
    meta = json.loads((tiny_encoding.encoded_dir / "meta.json").read_text())["splits"]["train"]
    assert ids[0] == BOS_ID and ids[-1] == EOS_ID
    assert ids.count(BOS_ID) == ids.count(EOS_ID) == meta["documents"] == 200
    assert meta["tokens"] == len(ids)
    starts = [i for i, token in enumerate(ids) if token == BOS_ID]
    assert all(ids[i - 1] == EOS_ID for i in starts[1:])  # </s><s>: no newline token, no doubled <s>
    text = (tiny_encoding.split_dir / "train.txt").read_text()
    first_article = text.split("</s>")[0].replace("<s>", "").strip()
    first_doc = ids[1 : ids.index(EOS_ID)]
    assert tokenizer.decode(first_doc) == first_article
    assert meta["words"] == sum(len(doc.split()) for doc in documents(text))


def test_plain_text_gets_the_same_stream_as_marked_text(tiny_encoding, tmp_path):
    tokenizer = load_tokenizer(tiny_encoding.tokenizer_path)
    articles = ["First article.\nIts second paragraph.", "Second article."]
    write_split(tmp_path / "marked.txt", articles)
    (tmp_path / "plain.txt").write_text("\n\n".join(articles) + "\n", encoding="utf-8")
    marked = encode_file(tokenizer, tmp_path / "marked.txt", tmp_path / "marked.bin")
    plain = encode_file(tokenizer, tmp_path / "plain.txt", tmp_path / "plain.bin")
    assert read_stream(tmp_path / "plain.bin") == read_stream(tmp_path / "marked.bin")
    assert (plain.tokens, plain.words, plain.documents) == (marked.tokens, marked.words, 2)
    expected = [BOS_ID, *tokenizer.encode(articles[0], add_special_tokens=False).ids, EOS_ID]
    assert read_stream(tmp_path / "plain.bin")[: len(expected)] == expected


def test_long_articles_and_small_batches_keep_real_eb1911_tokens(shared_data, tiny_encoding, tmp_path):
    records = [json.loads(line) for line in (shared_data / "eb1911" / "gutenberg_articles.jsonl").open()][:25]
    write_split(tmp_path / "real.txt", [record["text"].strip() for record in records])
    tokenizer = load_tokenizer(tiny_encoding.tokenizer_path)
    whole = encode_file(tokenizer, tmp_path / "real.txt", tmp_path / "whole.bin")
    cut = encode_file(tokenizer, tmp_path / "real.txt", tmp_path / "cut.bin", batch_chars=3000, max_doc_chars=500)
    assert read_stream(tmp_path / "cut.bin") == read_stream(tmp_path / "whole.bin")
    assert cut == whole
    assert whole.documents == 25


def stamp(path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_ino, stat.st_mtime_ns


def test_unchanged_inputs_are_reused_and_changes_rebuild(tiny_encoding, tmp_path):
    split_dir = tmp_path / "split"
    split_dir.mkdir()
    for name in ("train.txt", "val.txt"):
        (split_dir / name).write_bytes((tiny_encoding.split_dir / name).read_bytes())
    out = encode_splits(tiny_encoding.tokenizer_path, split_dir, tmp_path / "tok", log=lambda line: None)
    before = {name: stamp(out / name) for name in ("train.bin", "val.bin")}
    lines: list[str] = []
    assert encode_splits(tiny_encoding.tokenizer_path, split_dir, tmp_path / "tok", log=lines.append) == out
    assert all("up to date" in line for line in lines)
    os.utime(split_dir / "val.txt", ns=(1, 1))  # touched, same bytes: the hash says re-use
    encode_splits(tiny_encoding.tokenizer_path, split_dir, tmp_path / "tok", log=lambda line: None)
    assert {name: stamp(out / name) for name in ("train.bin", "val.bin")} == before
    write_split(split_dir / "val.txt", ["A new validation article."])
    encode_splits(tiny_encoding.tokenizer_path, split_dir, tmp_path / "tok", log=lambda line: None)
    assert stamp(out / "train.bin") == before["train.bin"]
    assert stamp(out / "val.bin") != before["val.bin"]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["splits"]["val"]["documents"] == 1
    assert meta["splits"]["val"]["tokens"] == len(read_stream(out / "val.bin"))


def test_failed_rebuild_leaves_meta_vouching_only_for_valid_splits(tiny_encoding, tmp_path):
    split_dir = tmp_path / "split"
    write_split(split_dir / "train.txt", ["Some training text."] * 3)
    write_split(split_dir / "val.txt", ["Validation text."])
    out = encode_splits(tiny_encoding.tokenizer_path, split_dir, tmp_path / "tok", log=lambda line: None)
    (split_dir / "val.txt").write_bytes(b"<s>\ncaf\xe9 latin-1\n</s>\n")
    with pytest.raises(EncodeError, match=r"val.txt: not UTF-8 near byte 7"):
        encode_splits(tiny_encoding.tokenizer_path, split_dir, tmp_path / "tok", log=lambda line: None)
    meta = json.loads((out / "meta.json").read_text())
    assert set(meta["splits"]) == {"train"}


def test_vocabulary_over_uint16_is_rejected(tmp_path):
    big = Tokenizer(models.WordLevel({f"w{i}": i for i in range(70_000)}, unk_token="w0"))
    big.save(str(tmp_path / "big.json"))
    write_split(tmp_path / "split" / "train.txt", ["w1 w2"])
    write_split(tmp_path / "split" / "val.txt", ["w1 w2"])
    with pytest.raises(EncodeError, match="vocabulary of 70,000 does not fit uint16"):
        encode_splits(tmp_path / "big.json", tmp_path / "split", tmp_path / "tok")


def test_main_reports_bad_input_in_one_line(tiny_encoding, tmp_path, capsys):
    code = main(["--tokenizer", str(tiny_encoding.tokenizer_path), "--split-dir", str(tmp_path),
                 "--out-root", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "train split not found; run the split stage first" in err
    assert main(["--tokenizer", str(tmp_path / "missing.json"), "--split-dir", str(tmp_path)]) == 2
    assert "tokenizer not found" in capsys.readouterr().err


@pytest.mark.parametrize("train, val, bad", [
    ("", "", "train"),  # the fresh-user trial: both empty; once exit 0 with empty token files
    (None, "", "val"),
    (None, "\n\n<s>  </s>\n\n", "val"),  # blank lines and empty markers: no document either
])
def test_an_empty_split_is_refused_at_encode_time(tiny_encoding, tmp_path, capsys, train, val, bad):
    split_dir = tmp_path / "split"
    split_dir.mkdir()
    good = (tiny_encoding.split_dir / "train.txt").read_text(encoding="utf-8")
    (split_dir / "train.txt").write_text(good if train is None else train, encoding="utf-8")
    (split_dir / "val.txt").write_text(val, encoding="utf-8")
    out = tmp_path / "o"
    assert main(["--tokenizer", str(tiny_encoding.tokenizer_path), "--split-dir", str(split_dir),
                 "--out-root", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"babylm encode: error: {split_dir / (bad + '.txt')}: the {bad} split "), err
    assert "python -m babylm prepare" in err[0]
    assert not list(out.rglob("*.bin")) or all(p.stat().st_size > 0 for p in out.rglob("*.bin"))
    meta = list(out.rglob("meta.json"))
    assert all(bad not in json.loads(m.read_text())["splits"] for m in meta)


def test_main_encodes_and_help_works(tiny_encoding, tmp_path, capsys):
    code = main(["--tokenizer", str(tiny_encoding.tokenizer_path), "--split-dir", str(tiny_encoding.split_dir),
                 "--out-root", str(tmp_path / "o"), "--splits", "val"])
    assert code == 0
    assert (tmp_path / "o" / tiny_encoding.encoded_dir.name / "val.bin").is_file()
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "uint16" in capsys.readouterr().out


def test_special_token_strings_in_article_text_are_encoded_as_text(tiny_encoding, tmp_path):
    tokenizer = load_tokenizer(tiny_encoding.tokenizer_path)
    article = "The <pad> tag, the <pad>s and a </pad> stay text."
    write_split(tmp_path / "split" / "train.txt", [article, "Second article."])
    (tmp_path / "plain.txt").write_text("A <pad> in plain text.\n", encoding="utf-8")
    encode_file(tokenizer, tmp_path / "split" / "train.txt", tmp_path / "train.bin")
    ids = read_stream(tmp_path / "train.bin")
    assert 0 not in ids  # <pad> is id 0: it must never come from text
    assert ids.count(BOS_ID) == ids.count(EOS_ID) == 2  # only the boundaries encode adds are special
    assert tokenizer.decode(ids[1 : ids.index(EOS_ID)], skip_special_tokens=False) == article
    encode_file(tokenizer, tmp_path / "plain.txt", tmp_path / "plain.bin")
    assert 0 not in read_stream(tmp_path / "plain.bin")


def test_a_long_single_line_document_is_cut_in_bounded_pieces_with_the_same_tokens(tiny_encoding, tmp_path):
    tokenizer = load_tokenizer(tiny_encoding.tokenizer_path)
    line = " ".join(["the", "river", "town", "church,", "1911"] * 2000)  # one line, no line break to cut at
    write_split(tmp_path / "one.txt", [line])
    whole = encode_file(tokenizer, tmp_path / "one.txt", tmp_path / "whole.bin")
    cut = encode_file(tokenizer, tmp_path / "one.txt", tmp_path / "cut.bin", batch_chars=700, max_doc_chars=300)
    assert read_stream(tmp_path / "cut.bin") == read_stream(tmp_path / "whole.bin") and cut == whole
    assert read_stream(tmp_path / "whole.bin")[1:-1] == tokenizer.encode(line, add_special_tokens=False).ids


@pytest.mark.parametrize("text", ['{"format_version": 1}', "[" * 100_000, '{"format_version": 1, "dtype": "uint16", '
                                  '"tokenizer": {"fingerprint": "x", "path": "p", "vocab_size": 400}, "splits": '
                                  '{"train": {"bin": "../../x.bin", "tokens": 1, "words": 1, "documents": 1}}}'])
def test_a_damaged_meta_json_is_rebuilt_by_encode(text, tiny_encoding, tmp_path):
    root = tmp_path / "tok"
    out = encode_splits(tiny_encoding.tokenizer_path, tiny_encoding.split_dir, root, log=lambda line: None)
    (out / "meta.json").write_text(text)
    lines: list[str] = []
    assert encode_splits(tiny_encoding.tokenizer_path, tiny_encoding.split_dir, root, log=lines.append) == out
    assert "meta.json" in lines[0] and "rebuilding every split" in lines[0]
    rebuilt, original = read_meta(out), read_meta(tiny_encoding.encoded_dir)
    assert ({k: v["tokens"] for k, v in rebuilt["splits"].items()}
            == {k: v["tokens"] for k, v in original["splits"].items()})
    assert read_stream(out / "train.bin") == read_stream(tiny_encoding.encoded_dir / "train.bin")


def test_one_encode_at_a_time_and_a_killed_runs_temporary_files_are_removed(tiny_encoding, tmp_path, capsys):
    import fcntl

    root = tmp_path / "tok"
    out = root / tiny_encoding.encoded_dir.name
    out.mkdir(parents=True)
    stale, kept = out / ".train.bin.abcd1234.tmp", out / "notes.tmp"
    stale.write_text("half")
    kept.write_text("mine")
    argv = ["--tokenizer", str(tiny_encoding.tokenizer_path), "--split-dir", str(tiny_encoding.split_dir),
            "--out-root", str(root)]
    with open(out / ".encode.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        assert main(argv) == 2
    assert capsys.readouterr().err == f"babylm encode: error: another encode is writing to {out}; wait for it\n"
    assert main(argv) == 0
    assert not stale.exists() and kept.read_text() == "mine"


@pytest.mark.parametrize("extra, fragment", [(["--splits", "../../x"], "is not a split name"),
                                             (["--out-root", "FILE"], "cannot create")])
def test_bad_split_names_and_output_roots_are_one_line(extra, fragment, tiny_encoding, tmp_path, capsys):
    (tmp_path / "FILE").write_text("x")
    extra = [str(tmp_path / "FILE") if item == "FILE" else item for item in extra]
    argv = ["--tokenizer", str(tiny_encoding.tokenizer_path), "--split-dir", str(tiny_encoding.split_dir),
            "--out-root", str(tmp_path / "o"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err and (tmp_path / "FILE").read_text() == "x"
