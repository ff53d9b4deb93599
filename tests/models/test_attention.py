"""The 4-D attention masks of the bidirectional passes (babylm.models.attention, and MNTP scoring's): by hand, and
in real models — masked mode sees the right context within a document and nothing across documents; causal mode sees
no right context (LLaMA and GPT-2 with SDPA, GPT-J eager, transformers 5.x; 4.51.3 in test_transformers_compat.py)."""

from __future__ import annotations

import pytest
import torch

from babylm.evaluation.mntp import bidirectional_mask
from babylm.models.attention import document_attention_mask
from babylm.models.build import ModelConfig, build_model

BLOCKED = torch.finfo(torch.float32).min


def test_document_mask_by_hand():
    ids = torch.tensor([[7, 2, 1, 8, 9]])  # the end of one document, then <s> 8 9
    allowed = document_attention_mask(ids)[0, 0] == 0  # (T, T): query, key
    expected = [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 1, 1, 1]]
    assert allowed.int().tolist() == expected
    assert set(document_attention_mask(ids).unique().tolist()) == {0.0, BLOCKED}  # float: 0 or the most negative


def test_padding_mask_by_hand():
    allowed = bidirectional_mask(torch.tensor([[1, 1, 0]]))[0, 0] == 0
    assert allowed.int().tolist() == [[1, 1, 0]] * 3  # every query sees every real key, no padding key


@pytest.mark.parametrize("arch", ["llama", "gpt2", "gptj"])
def test_the_masked_pass_sees_right_context_within_its_document_only(arch):
    torch.manual_seed(0)
    config = ModelConfig(arch=arch, hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64,
                         max_position_embeddings=16, initializer_range=0.2)
    model = build_model(config, 50, mask_token=True).eval()
    ids = torch.tensor([[1, 11, 12, 13, 14, 2, 1, 21, 22, 23, 2]])  # two documents
    later = ids.clone()
    later[0, 3] = 30  # a token after position 1, in its document
    other = ids.clone()
    other[0, 8] = 30  # a token in the other document

    def logits(input_ids, bidirectional: bool):
        mask = document_attention_mask(input_ids) if bidirectional else None
        with torch.no_grad():
            return model(input_ids=input_ids, attention_mask=mask).logits[0, 1]  # (V,) at position 1

    assert not torch.allclose(logits(ids, True), logits(later, True), atol=1e-4)  # masked mode: right context seen
    torch.testing.assert_close(logits(ids, True), logits(other, True))  # never across documents
    torch.testing.assert_close(logits(ids, False), logits(later, False))  # causal mode: no right context
