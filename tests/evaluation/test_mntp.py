"""MNTP scoring (``evaluate --backend mntp``) against a hand computation: one separate forward pass per masked
token, batch of one, no padding; and the hybrid export's ``<mask>`` token. The same definition computed the
pipeline's way in transformers 4.51.3 is in tests/models/test_transformers_compat.py."""

from __future__ import annotations

import json

import pytest
import torch

from babylm.commands.evaluate import main as evaluate_main
from babylm.data.tokens.tokenizer import save_tokenizer
from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR, encode_sentences, load_blimp_dir, score_sequences
from babylm.evaluation.mntp import score_sequences_mntp
from babylm.models.export import export_checkpoint, load_exported
from tests.evaluation.tiny_models import tiny_checkpoint

SENTENCES = ["The city of Bruges was a great centre.", "These dogs barks.", "Who should the bishop praise?",
             "These dogs barks."]


@pytest.fixture(scope="module")
def hybrid_export(tmp_path_factory, tiny_tokenizer):
    """An untrained tiny LLaMA trained-as-hybrid checkpoint, exported by the real export code."""
    root = tmp_path_factory.mktemp("hybrid_export")
    save_tokenizer(tiny_tokenizer, root / "tokenizer-clean.json")
    ckpt = tiny_checkpoint(root / "hybrid.ckpt", root / "tokenizer-clean.json", "llama", objective="hybrid")
    return export_checkpoint(ckpt, root / "export")


def test_the_hybrid_export_adds_mask_after_the_last_id(hybrid_export, tiny_tokenizer):
    model, tokenizer = load_exported(hybrid_export)
    size = tiny_tokenizer.get_vocab_size()
    assert type(model).__name__ == "LlamaForCausalLM"
    assert tokenizer.mask_token == "<mask>" and tokenizer.mask_token_id == size == model.config.vocab_size - 1
    assert all(tokenizer.convert_tokens_to_ids(token) == i for token, i in tiny_tokenizer.get_vocab().items())
    assert size not in tokenizer("a <mask> b")["input_ids"]  # text is text: typed "<mask>" is characters


def hand_mntp(model, sequence: list[int], mask_id: int) -> float:
    """Σ_i log p(token i | the sequence with token i masked), read at position i − 1, one full-attention pass each."""
    total = 0.0
    for i in range(1, len(sequence)):
        ids = torch.tensor([sequence])
        ids[0, i] = mask_id
        everything = torch.zeros(1, 1, len(sequence), len(sequence))  # every query attends every key
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=everything).logits[0, i - 1].double()  # (V,)
        total += torch.log_softmax(logits, dim=-1)[sequence[i]].item()
    return total


def test_mntp_scores_equal_separate_forward_passes(hybrid_export):
    model, tokenizer = load_exported(hybrid_export)
    sequences = encode_sentences(model, tokenizer, SENTENCES)
    expected = [hand_mntp(model, sequence, tokenizer.mask_token_id) for sequence in sequences]
    for batch_size in (3, 64):  # copies of different sentences share a padded batch
        ours = score_sequences_mntp(model, sequences, batch_size, mask_id=tokenizer.mask_token_id)
        assert ours == pytest.approx(expected, abs=1e-4)
    assert ours[1] == ours[3]  # identical sentences, identical scores
    assert score_sequences(model, sequences) != pytest.approx(expected, abs=1e-2)  # not the causal score


def test_evaluate_backend_mntp(hybrid_export, llama_dir, tmp_path, capsys):
    argv = ["--blimp-dir", str(SAMPLE_BLIMP_DIR), "--limit", "2", "--device", "cpu", "--backend", "mntp"]
    assert evaluate_main(["--model", str(hybrid_export), "--out", str(tmp_path / "mntp"), *argv]) == 0
    report = json.loads((tmp_path / "mntp" / "blimp.json").read_text())
    assert report["settings"]["backend"] == "mntp"
    model, tokenizer = load_exported(hybrid_export)
    first = json.loads((tmp_path / "mntp" / "blimp_scores.jsonl").read_text().splitlines()[0])
    paradigm = next(p for p in load_blimp_dir(SAMPLE_BLIMP_DIR, limit=2) if p.uid == first["UID"])
    pair = next(p for p in paradigm.pairs if p.pair_id == first["pairID"])
    scores = score_sequences_mntp(model, encode_sentences(model, tokenizer, [pair.good, pair.bad]),
                                  mask_id=tokenizer.mask_token_id)
    assert [first["logprob_good"], first["logprob_bad"]] == pytest.approx(scores, abs=1e-4)
    capsys.readouterr()
    # a causal-only model has no <mask>: one line, exit 2, before anything is scored or written
    assert evaluate_main(["--model", str(llama_dir), "--out", str(tmp_path / "causal"), *argv]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--backend causal" in error and not (tmp_path / "causal" / "blimp.json").exists()


def test_the_two_backends_default_to_two_folders_and_mntp_perplexity_is_refused(hybrid_export, tmp_path, capsys,
                                                                                   monkeypatch):
    """A newcomer's trial: the docs' two evaluate commands (mntp, then causal) wrote the same default folder, and
    the causal report silently replaced the MNTP one; ``--backend mntp --tasks perplexity`` computed causal
    perplexity without a word."""
    monkeypatch.chdir(tmp_path)
    argv = ["--model", str(hybrid_export), "--blimp-dir", str(SAMPLE_BLIMP_DIR), "--limit", "1", "--device", "cpu"]
    assert evaluate_main([*argv, "--backend", "mntp"]) == 0 and evaluate_main(argv) == 0
    name = hybrid_export.resolve().name
    backends = {folder: json.loads((tmp_path / "runs" / "eval" / folder / "blimp.json").read_text())["settings"]
                ["backend"] for folder in (name, f"{name}-mntp")}
    assert backends == {name: "causal", f"{name}-mntp": "mntp"}
    capsys.readouterr()
    assert evaluate_main([*argv, "--backend", "mntp", "--tasks", "perplexity", "--val-file", __file__]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--backend mntp scores BLiMP only" in error
