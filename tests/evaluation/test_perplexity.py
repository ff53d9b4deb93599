"""Perplexity on a text file equals exp(mean next-token cross-entropy) over the training token stream."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from babylm.commands.evaluate import main
from babylm.evaluation import EvaluationError
from babylm.evaluation.perplexity import perplexity, text_token_ids, token_windows
from babylm.models.export import load_exported

DOCS = [
    "BRUGES, a city of Belgium, capital of the province of West Flanders, was in the middle ages the chief "
    "market of the wool trade.",
    "BREWING, the art of making beer from malt and hops.\nThe monks brewed ale for the pilgrims.",
]
VAL_TEXT = f"<s> {DOCS[0]} </s>\n\n<s>\n{DOCS[1]}\n</s>\n"  # the cleaner's layout: one marked article each


def hand_built_stream(tokenizer) -> list[int]:
    """``<s> doc </s>`` per article, built by hand from the known documents."""
    ids = []
    for doc in DOCS:
        ids += [tokenizer.bos_token_id, *tokenizer(doc, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
    return ids


def independent_perplexity(model, ids, seq_len):
    losses = []
    for start in range(0, len(ids), seq_len):
        window = torch.tensor([ids[start : start + seq_len]])
        if window.size(1) < 2:
            continue
        with torch.no_grad():
            logits = model(window).logits[0]
        losses.append(F.cross_entropy(logits[:-1].double(), window[0, 1:], reduction="none"))
    return math.exp(torch.cat(losses).mean().item()), sum(len(loss) for loss in losses)


def test_token_stream_is_the_encode_stage_stream(tmp_path, llama_dir, tiny_tokenizer):
    from babylm.data.tokens.encode import encode_file

    path = tmp_path / "val.txt"
    path.write_text(VAL_TEXT, encoding="utf-8")
    _, tokenizer = load_exported(llama_dir)
    encode_file(tiny_tokenizer, path, tmp_path / "val.bin")
    encoded = np.fromfile(tmp_path / "val.bin", dtype=np.uint16).tolist()
    assert text_token_ids(tokenizer, VAL_TEXT) == encoded == hand_built_stream(tokenizer)


@pytest.mark.parametrize("seq_len", [16, 23, 128])
def test_perplexity_equals_exp_of_mean_cross_entropy(tmp_path, llama_dir, seq_len):
    path = tmp_path / "val.txt"
    path.write_text(VAL_TEXT, encoding="utf-8")
    model, tokenizer = load_exported(llama_dir)
    result = perplexity(model, tokenizer, path, seq_len=seq_len, batch_size=3)
    expected, predicted = independent_perplexity(model, hand_built_stream(tokenizer), seq_len)
    assert result.perplexity == pytest.approx(expected, rel=1e-5)
    assert result.predicted_tokens == predicted
    assert result.mean_nll == pytest.approx(math.log(expected), rel=1e-5)


def test_token_windows_keep_a_tail_of_two_or_more_tokens():
    assert token_windows(list(range(10)), 4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert token_windows(list(range(9)), 4) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    with pytest.raises(EvaluationError):
        token_windows([1, 2, 3], 1)


def test_max_tokens_and_errors(tmp_path, llama_dir):
    model, tokenizer = load_exported(llama_dir)
    path = tmp_path / "val.txt"
    path.write_text(VAL_TEXT, encoding="utf-8")
    assert perplexity(model, tokenizer, path, seq_len=8, max_tokens=20).predicted_tokens == 7 + 7 + 3
    with pytest.raises(EvaluationError, match="longer than the model's 128 positions"):
        perplexity(model, tokenizer, path, seq_len=256)
    with pytest.raises(EvaluationError, match="--seq-len must be at least 2, got 0"):  # once quietly 128
        perplexity(model, tokenizer, path, seq_len=0)
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    with pytest.raises(EvaluationError, match="fewer than two tokens"):
        perplexity(model, tokenizer, tmp_path / "empty.txt")


def test_evaluate_perplexity_task_writes_json(tmp_path, llama_dir, capsys):
    path = tmp_path / "val.txt"
    path.write_text(VAL_TEXT, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["--model", str(llama_dir), "--tasks", "perplexity", "--val-file", str(path), "--seq-len", "16",
                 "--out", str(out)]) == 0
    written = json.loads((out / "perplexity.json").read_text(encoding="utf-8"))
    model, tokenizer = load_exported(llama_dir)
    expected, _ = independent_perplexity(model, hand_built_stream(tokenizer), 16)
    assert written["perplexity"] == pytest.approx(expected, rel=1e-5)
    assert f"perplexity {expected:.2f}" in capsys.readouterr().out
    assert not (out / "blimp.json").exists()


# ─── streaming: memory bounded by a chunk, reading stops at --max-tokens (issue 10) ───────────────────


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.lists(st.sampled_from(list("ab Z1.,'\n\t-é—") + ["  ", "\n\n", " '", "'s ", "<s>", "</s>", "\u3000"]),
                     max_size=120).map("".join))
def test_long_documents_cut_into_pieces_keep_their_tokens(text, monkeypatch, tiny_tokenizer):
    """Pieces of 5 characters give the tokens of whole documents whenever every word with the whitespace
    before it fits in a piece (the documented guarantee; longer stretches are cut hard)."""
    import re

    from babylm.data.tokens.documents import iter_documents
    from babylm.data.tokens.tokenizer import to_hf_tokenizer
    from babylm.evaluation import perplexity as module

    stretches = re.findall(r"\s*\S+|\s+$", text.replace("<s>", "\n").replace("</s>", "\n"))  # a word with its space
    assume(all(len(stretch) <= 5 for stretch in stretches))  # (or the space a document ends with)
    tokenizer = to_hf_tokenizer(tiny_tokenizer)
    whole = []
    for piece in iter_documents([text]):  # one piece per document: no cuts at this size
        ids = tokenizer(piece.text.strip(), add_special_tokens=False)["input_ids"]
        whole += [tokenizer.bos_token_id, *ids, tokenizer.eos_token_id]
    monkeypatch.setattr(module, "PIECE_CHARS", 5)
    monkeypatch.setattr(module, "FIRST_BATCH_CHARS", 3)
    assert module.text_token_ids(tokenizer, text) == whole


def test_max_tokens_stops_reading_and_tokenizing(tmp_path, llama_dir, monkeypatch):
    from babylm.evaluation import perplexity as module

    model, tokenizer = load_exported(llama_dir)
    sentence = "The abbey of Bruges was rebuilt in the fourteenth century by the monks. "
    one_line = tmp_path / "one_line.txt"
    one_line.write_text(sentence * 40_000, encoding="utf-8")  # ~2.9 MB, a single line: one document
    many_lines = tmp_path / "many_lines.txt"
    many_lines.write_text((sentence + "\n\n") * 40_000, encoding="utf-8")  # 40,000 documents

    seen_chars, read_chunks = [], []

    def counting_tokenizer(texts, **kwargs):
        seen_chars.append(sum(len(t) for t in texts))
        return tokenizer(texts, **kwargs)

    counting_tokenizer.bos_token_id, counting_tokenizer.eos_token_id = tokenizer.bos_token_id, tokenizer.eos_token_id
    real_chunks = module._file_chunks

    def counting_chunks(path, *args):
        for chunk in real_chunks(path, *args):
            read_chunks.append(len(chunk))
            yield chunk

    monkeypatch.setattr(module, "_file_chunks", counting_chunks)
    for path in (one_line, many_lines):
        seen_chars.clear(), read_chunks.clear()
        result = perplexity(model, counting_tokenizer, path, seq_len=64, max_tokens=2000)
        assert result.predicted_tokens == 2000 - 2000 // 64 - (1 if 2000 % 64 else 0)
        assert sum(seen_chars) <= module.FIRST_BATCH_CHARS + module.PIECE_CHARS  # one small tokenizer call
        if path is many_lines:
            assert len(read_chunks) == 1  # of the 3 MB file, only the first 1 MiB chunk was read
    whole = perplexity(model, tokenizer, many_lines, seq_len=64, max_tokens=2000)
    assert whole.perplexity == pytest.approx(result.perplexity, rel=1e-6)


def test_a_file_that_is_not_utf8_names_the_byte(tmp_path, llama_dir):
    model, tokenizer = load_exported(llama_dir)
    path = tmp_path / "latin1.txt"
    path.write_bytes("The caf\u00e9 of Bruges.".encode("latin-1"))
    with pytest.raises(EvaluationError, match=rf"{path}: not UTF-8 near byte 7"):
        perplexity(model, tokenizer, path)
