"""Load exported models the way the BabyLM evaluation pipeline does, in another transformers; print JSON.

Run by ``tests/test_transformers_compat.py`` with the Python of a separate virtual environment (transformers
4.51.3, the version the pipeline pins): ``python tests/models/transformers_probe.py OUT.json SENTENCES.json DIR …``.
It imports transformers, torch and safetensors only — never babylm — and writes, per model folder: the
transformers version, the tokenizer class, each sentence's token ids with the tokenizer's own special tokens
(as the pipeline tokenizes), the logits (rounded lists), and each sentence's pipeline-style score.

The score follows the pipeline's causal backend as its README and code describe it (``sentence_zero_shot``:
the tokenizer adds its start token, the model reads tokens ``[:-1]``, the log-softmax of each next token is
summed over the tokens whose character span ends after the start of the sentence). This is our own few
lines written from that description, not the pipeline's code.
"""

from __future__ import annotations

import json
import sys

import torch
import transformers
from transformers import AutoModel, AutoModelForCausalLM, AutoProcessor, AutoTokenizer


def probe(folder: str, sentences: list[str]) -> dict:
    """Load ``folder`` with the Auto classes (no remote code) and score ``sentences``; returns a JSON-able dict."""
    processor = AutoProcessor.from_pretrained(folder, padding_side="right", trust_remote_code=False)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=False).eval()
    _, info = AutoModel.from_pretrained(folder, trust_remote_code=False, output_loading_info=True)
    result = {"transformers": transformers.__version__, "tokenizer_class": type(tokenizer).__name__,
              "processor_class": type(processor).__name__, "base_model_missing": sorted(info["missing_keys"]),
              "ids": [], "logits": [], "scores": []}
    for sentence in sentences:
        encoded = processor(text=sentence, return_offsets_mapping=True)
        ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids])).logits[0].float()  # (T, V)
        # the pipeline feeds ids[:-1]; in a causal model those positions' logits are the same
        logprobs = torch.log_softmax(logits[:-1], dim=-1).gather(-1, torch.tensor(ids[1:]).unsqueeze(-1)).squeeze(-1)
        counted = torch.tensor([1.0 if end > 0 else 0.0 for _, end in offsets[1:]])  # the sentence's own tokens
        result["ids"].append(list(ids))
        result["logits"].append(logits.tolist())
        result["scores"].append(float((logprobs * counted).sum()))
    return result


def main(argv: list[str]) -> int:
    """``OUT.json SENTENCES.json DIR…``: probe every folder, write ``{folder: result}`` to OUT.json."""
    out, sentences_file, *folders = argv
    with open(sentences_file, encoding="utf-8") as handle:
        sentences = json.load(handle)
    results = {folder: probe(folder, sentences) for folder in folders}
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(results, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
