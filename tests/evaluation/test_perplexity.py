"""Perplexity on a text file equals exp(mean next-token cross-entropy) over the training token stream."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from babylm.evaluation import EvaluationError
from babylm.evaluation.cli import main
from babylm.export import load_exported
from babylm.evaluation.perplexity import perplexity, text_token_ids, token_windows

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
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    with pytest.raises(EvaluationError, match="fewer than two tokens"):
        perplexity(model, tokenizer, tmp_path / "empty.txt")


def test_evaluate_perplexity_task_writes_json(tmp_path, llama_dir, capsys):
    path = tmp_path / "val.txt"
    path.write_text(VAL_TEXT, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["--model", str(llama_dir), "--tasks", "perplexity", "--val-file", str(path), "--seq-len", "16", "--out", str(out)]) == 0
    written = json.loads((out / "perplexity.json").read_text(encoding="utf-8"))
    model, tokenizer = load_exported(llama_dir)
    expected, _ = independent_perplexity(model, hand_built_stream(tokenizer), 16)
    assert written["perplexity"] == pytest.approx(expected, rel=1e-5)
    assert f"perplexity {expected:.2f}" in capsys.readouterr().out
    assert not (out / "blimp.json").exists()
