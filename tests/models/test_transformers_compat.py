"""A fresh export loads in transformers 4.51.3 — the version the BabyLM evaluation pipeline pins — with our logits.

The exports are written by our real export code (``export_checkpoint``) for each architecture, then loaded in a
separate venv (``tests/venvs.py``: transformers 4.51.3 and the tokenizers it needs, torch from this environment)
by ``tests/models/transformers_probe.py``, which uses only transformers: ``AutoProcessor`` (as the pipeline's zero-shot
code), ``AutoTokenizer``, ``AutoModelForCausalLM`` and ``AutoModel`` (as its fine-tuning code). Same token
ids, same logits, and the pipeline-style sentence scores equal ``babylm evaluate``'s — for a hybrid export
(``objective: hybrid``) also its ``<mask>`` token and the pipeline's mntp scores (``evaluate --backend mntp``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from babylm.data.tokens.tokenizer import save_tokenizer
from babylm.evaluation.blimp import encode_sentences, pair_is_correct, sentence_logprobs
from babylm.evaluation.mntp import score_sequences_mntp
from babylm.models.export import export_checkpoint, load_exported
from tests.evaluation.tiny_models import tiny_checkpoint, train_tiny_tokenizer
from tests.venvs import REPO_ROOT, clean_env, compat_python

PIPELINE_TRANSFORMERS = "transformers==4.51.3"
SENTENCES = [
    "The city of Bruges was a great centre of the wool trade.",
    "Who should the bishop praise after visiting the cathedral?",
    "The tag <s> stays text.",
    "These dogs barks.",
]


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    """``{arch: export folder}`` written by ``export_checkpoint`` from untrained tiny checkpoints."""
    root = tmp_path_factory.mktemp("compat")
    tokenizer_json = root / "tokenizer-clean.json"
    save_tokenizer(train_tiny_tokenizer(), tokenizer_json)
    out = {}
    for arch in ("llama", "gptj", "gpt2"):
        ckpt = tiny_checkpoint(root / f"{arch}.ckpt", tokenizer_json, arch)
        out[arch] = export_checkpoint(ckpt, root / f"export-{arch}")
    hybrid = tiny_checkpoint(root / "hybrid.ckpt", tokenizer_json, "llama", objective="hybrid")
    out["llama-hybrid"] = export_checkpoint(hybrid, root / "export-llama-hybrid")  # + <mask>, scored both ways
    return out


def test_a_fresh_export_names_a_tokenizer_class_every_transformers_reads(exports):
    for folder in exports.values():
        config = json.loads((folder / "tokenizer_config.json").read_text())
        assert config["tokenizer_class"] == "PreTrainedTokenizerFast"  # not transformers-5-only TokenizersBackend


@pytest.mark.slow
def test_transformers_4_51_3_loads_the_export_with_our_logits_and_scores(exports, tmp_path):
    python = compat_python(PIPELINE_TRANSFORMERS)
    sentences = tmp_path / "sentences.json"
    sentences.write_text(json.dumps(SENTENCES))
    out = tmp_path / "probe.json"
    command = [str(python), str(REPO_ROOT / "tests" / "models" / "transformers_probe.py"), str(out), str(sentences),
               *(str(folder) for folder in exports.values())]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=clean_env())
    assert done.returncode == 0, done.stderr[-3000:]
    probed = json.loads(out.read_text())

    for arch, folder in exports.items():
        theirs = probed[str(folder)]
        assert theirs["transformers"] == "4.51.3"
        assert theirs["tokenizer_class"] == theirs["processor_class"] == "PreTrainedTokenizerFast"
        assert theirs["base_model_missing"] == []  # AutoModel (the pipeline's fine-tuning) finds every weight
        model, tokenizer = load_exported(folder)
        for sentence, ids, logits in zip(SENTENCES, theirs["ids"], theirs["logits"]):
            assert ids == tokenizer(sentence)["input_ids"] and ids[0] == tokenizer.bos_token_id
            assert not {0, 2} & set(ids) and ids.count(1) == 1  # "<s>" typed in text stays text there too
            with torch.no_grad():
                ours = model(input_ids=torch.tensor([ids])).logits[0]  # (T, V)
            torch.testing.assert_close(torch.tensor(logits), ours, rtol=1e-5, atol=1e-5, msg=arch)
        ours_scores = sentence_logprobs(model, tokenizer, SENTENCES)
        assert theirs["scores"] == pytest.approx(ours_scores, abs=1e-4), arch
        # the same pair verdicts (the pipeline's tie rule is ours with ties="correct")
        good, bad = theirs["scores"][2], theirs["scores"][3]
        assert (good >= bad) == pair_is_correct(ours_scores[2], ours_scores[3], "correct")
        assert theirs["mask_token_id"] == tokenizer.mask_token_id  # None for the causal exports
        if arch == "llama-hybrid":  # <mask> after the last id there too, and the pipeline's mntp scores are ours
            assert theirs["mask_token_id"] == model.config.vocab_size - 1
            sequences = encode_sentences(model, tokenizer, SENTENCES)
            ours_mntp = score_sequences_mntp(model, sequences, mask_id=tokenizer.mask_token_id)
            assert theirs["mntp_scores"] == pytest.approx(ours_mntp, abs=1e-4)
            assert ours_mntp != pytest.approx(ours_scores, abs=1e-2)
