"""MNTP scoring of sentences: each token scored from the position before it, with that token masked and
bidirectional attention — the BabyLM evaluation pipeline's ``mntp`` backend, on a stock causal LM.

Run: ``python -m babylm evaluate --model DIR --backend mntp`` (:mod:`babylm.commands.evaluate`). Reads nothing
itself (the model and tokenizer come loaded); writes nothing.

**The definition** (``babylm/evaluation-pipeline-2025``, ``evaluation_pipeline/sentence_zero_shot/dataset.py``,
``process_mntp_sentences`` + ``get_mlm_collate_fn``, and ``compute_results.py``, ``compute_mlm_results``): the
sentence is tokenized with the tokenizer's start token (``<s>``); for every token ``i`` of the sentence — each
token whose character span ends inside the sentence, never the start token at 0 — one copy of the sequence is
made with token ``i`` (only it) replaced by ``<mask>``; the copy is run with its attention mask over the real
tokens; the log-softmax of the output at position ``i − 1`` gives the log-probability of the original token
``i``; the sentence's score is the sum over its tokens. So the first word is scored from the start token's output
with the word masked, as causal scoring scores it from the start token. Copies of several sentences are batched
together (the pipeline: ``--non_causal_batch_size``, default 64 copies), right-padded.

The pipeline loads such models with ``AutoModelForMaskedLM``, which has no LLaMA class: a model trained here with
``objective: hybrid`` is exported as ``LlamaForCausalLM`` (loads everywhere, scored by the pipeline's ``causal``
backend), and this module applies the ``mntp`` definition to it locally. What makes the pass bidirectional is the
4-D float attention mask (:func:`bidirectional_mask`): every query attends every real token of its copy, none of
the padding. Scores are fp32, and each distinct sequence is scored once (so
identical sentences score identically whatever their batch neighbours, as in :mod:`.blimp`).
"""

from __future__ import annotations

from functools import partial
from typing import Callable, Sequence

import torch

from babylm.evaluation import EvaluationError
from babylm.evaluation.blimp import score_sequences

BACKENDS = ("causal", "mntp")


def bidirectional_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """The 4-D float mask (B, 1, T, T) that makes a causal LM attend every real token of its row, none of the padding.

    ``attention_mask`` (B, T) is 1 on real tokens: 0 is added to the scores of real keys, the most negative float
    to padding keys, whatever the query. (The training side builds its masks in :mod:`babylm.models.attention`;
    evaluation sees models only as exported folders, so this one is here.)
    """
    real = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, T)
    return torch.zeros(real.shape, dtype=torch.float32).masked_fill(~real, torch.finfo(torch.float32).min).expand(
        -1, 1, attention_mask.size(1), -1)


def mask_token_id(model, tokenizer) -> int:
    """The tokenizer's ``<mask>`` id, checked against the model's vocabulary.

    Raises :class:`EvaluationError` (one line) when the tokenizer has no mask token — a model trained causal
    only — or its id has no embedding.
    """
    mask = tokenizer.mask_token_id
    if mask is None:
        raise EvaluationError("--backend mntp needs a <mask> token, and this model's tokenizer has none (trained with "
                              "objective causal?); score it with --backend causal")
    vocab = model.get_input_embeddings().num_embeddings
    if not 0 <= mask < vocab:
        raise EvaluationError(f"the tokenizer's mask token id {mask} has no embedding (the model has {vocab}); "
                              "re-export the model")
    return int(mask)


@torch.inference_mode()
def score_sequences_mntp(model, sequences: Sequence[Sequence[int]], batch_size: int = 64, *,
                         mask_id: int) -> list[float]:
    """Summed fp32 MNTP log-probability of each id sequence after its first (start) token; one float per sequence.

    ``sequences`` are ``[start, *ids]`` lists (:func:`babylm.evaluation.blimp.encode_sentences`); ``batch_size``
    counts masked copies per forward pass (the pipeline's ``non_causal_batch_size``). See the module doc.
    """
    if batch_size < 1:
        raise EvaluationError(f"--batch-size must be at least 1, got {batch_size}")
    distinct = list(dict.fromkeys(tuple(ids) for ids in sequences))
    distinct.sort(key=len, reverse=True)
    copies = [(index, position) for index, ids in enumerate(distinct) for position in range(1, len(ids))]
    device = next(model.parameters()).device
    totals = [0.0] * len(distinct)
    for begin in range(0, len(copies), batch_size):
        chunk = copies[begin : begin + batch_size]
        width = max(len(distinct[index]) for index, _ in chunk)
        input_ids = torch.full((len(chunk), width), distinct[chunk[0][0]][0], dtype=torch.long)  # (C, T); filler masked
        attention = torch.zeros((len(chunk), width), dtype=torch.long)  # (C, T)
        masked_at = torch.tensor([position for _, position in chunk])  # (C,)
        targets = torch.tensor([distinct[index][position] for index, position in chunk])  # (C,)
        for row, (index, position) in enumerate(chunk):
            ids = distinct[index]
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention[row, : len(ids)] = 1
            input_ids[row, position] = mask_id
        logits = model(input_ids=input_ids.to(device), attention_mask=bidirectional_mask(attention).to(device)).logits
        rows = torch.arange(len(chunk), device=device)
        before = masked_at.to(device) - 1  # (C,): the position before the masked token predicts it
        predicted = torch.log_softmax(logits[rows, before].float(), dim=-1)  # (C, V)
        logprobs = predicted[rows, targets.to(device)].tolist()  # (C,)
        for (index, _), value in zip(chunk, logprobs):
            totals[index] += value
    scores = dict(zip(distinct, totals))
    return [scores[tuple(ids)] for ids in sequences]


def scorer_for(backend: str, model, tokenizer) -> Callable:
    """The sequence scorer of ``backend`` (``causal`` or ``mntp``) for :func:`babylm.evaluation.blimp.evaluate_blimp`:
    ``scorer(model, sequences, batch_size) -> list[float]``. Raises :class:`EvaluationError` for another backend,
    or for ``mntp`` on a model without ``<mask>`` (:func:`mask_token_id`)."""
    if backend == "causal":
        return score_sequences
    if backend == "mntp":
        return partial(score_sequences_mntp, mask_id=mask_token_id(model, tokenizer))
    raise EvaluationError(f"--backend {backend!r}: choose {' or '.join(BACKENDS)}")
