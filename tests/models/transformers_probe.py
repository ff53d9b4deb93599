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

For a folder whose tokenizer has a mask token (a hybrid export), it also scores each sentence the way the
pipeline's ``mntp`` backend does (:func:`mntp_scores`, following ``sentence_zero_shot/dataset.py``
``process_mntp_sentences`` and ``get_mlm_collate_fn`` and ``compute_results.py`` ``compute_mlm_results`` of
babylm/evaluation-pipeline-2025 step by step). One change is forced: the pipeline loads an mntp model with
``AutoModelForMaskedLM``, which has no LLaMA class, so the causal LM is run with the collated 2-D attention mask
turned into a 4-D float mask (every query attends every real token), which is what makes it bidirectional.
"""

from __future__ import annotations

import json
import sys

import torch
import transformers
from torch.nn.utils.rnn import pad_sequence
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
    result["mask_token_id"] = tokenizer.mask_token_id
    if tokenizer.mask_token_id is not None:
        result["mntp_scores"] = mntp_scores(processor, tokenizer, model, sentences)
    return result


def mntp_scores(processor, tokenizer, model, sentences: list[str], non_causal_batch_size: int = 64) -> list[float]:
    """Each sentence's summed log-probability under the pipeline's mntp backend (see the module doc)."""
    mask_index = tokenizer.mask_token_id
    prepend = 1 if tokenizer.cls_token_id is not None or tokenizer.bos_token_id is not None else 0
    tokens, attention_masks, indices, targets, examples_per_batch = [], [], [], [], []
    for sentence in sentences:  # process_mntp_sentences (BLiMP: the completion is the whole sentence)
        output = processor(text=sentence, return_offsets_mapping=True)
        start_char_idx = len(sentence) - len(sentence)
        phrase_indices = [i for i, (_, end) in enumerate(output["offset_mapping"])
                          if end > start_char_idx and (i != 0 or prepend != 0)]
        for phrase_index in phrase_indices:
            copy = torch.LongTensor(output["input_ids"])
            copy[phrase_index] = mask_index
            tokens.append(copy)
            attention_masks.append(torch.LongTensor(output["attention_mask"]))
        indices.append(torch.LongTensor(phrase_indices) - 1)
        targets.append(torch.LongTensor([output["input_ids"][i] for i in phrase_indices]))
        examples_per_batch.append(len(phrase_indices))
    # get_mlm_collate_fn: all copies padded together
    padded_tokens = pad_sequence(tokens, batch_first=True, padding_value=tokenizer.pad_token_id)
    padded_masks = pad_sequence(attention_masks, batch_first=True, padding_value=0)
    indices, targets = torch.cat(indices), torch.cat(targets)
    log_probs = []
    for start in range(0, padded_tokens.size(0), non_causal_batch_size):  # compute_mlm_results
        batch = slice(start, start + non_causal_batch_size)
        mask = padded_masks[batch]
        bias = torch.zeros(mask.size(0), 1, mask.size(1), mask.size(1))
        bias = bias.masked_fill(mask[:, None, None, :] == 0, torch.finfo(torch.float32).min)  # the forced change
        with torch.no_grad():
            logits = model(input_ids=padded_tokens[batch], attention_mask=bias).logits
        masked_logits = logits[torch.arange(logits.shape[0]), indices[batch]]
        log_probs.append(torch.gather(torch.log_softmax(masked_logits, dim=-1), -1,
                                      targets[batch].unsqueeze(-1)).squeeze(-1))
    concatenated = torch.cat(log_probs)
    sums, current = [], 0
    for count in examples_per_batch:
        sums.append(torch.sum(concatenated[current : current + count]).item())
        current += count
    return sums


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
