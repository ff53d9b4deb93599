"""Attention masks for bidirectional passes of a stock Hugging Face causal LM (MNTP training and scoring).

Used by the hybrid objective (:mod:`babylm.training.hybrid`); MNTP scoring builds the same kind of mask for padded
sentences (:func:`babylm.evaluation.mntp.bidirectional_mask`). Nothing to run, nothing read or written.

A causal LM of transformers attends causally when given no mask or a 2-D padding mask. Given a **4-D float mask**
``(B, 1, T_query, T_key)`` — 0 where a query may attend a key, a very negative number elsewhere — it adds it to the
attention scores *instead of* its causal mask: transformers 5.x returns a 4-D mask as it is
(``masking_utils._preprocess_mask_arguments``: "If the mask is already 4D, simply return as-is"), and 4.51.3's
``LlamaModel._prepare_4d_causal_attention_mask_with_cache_position`` does the same ("we assume that the mask comes
already in inverted form"), after ``AttentionMaskConverter._ignore_causal_mask_sdpa`` declines to drop a 4-D
mask. So a stock
``LlamaForCausalLM`` attends bidirectionally with no custom code. Checked here in both versions for LLaMA (SDPA),
GPT-J (eager) and, in 5.x, GPT-2 (SDPA) — whose 4.51.3 SDPA path silently ignores a *boolean* 4-D mask and fails
on a float one, which is why these masks are float and why the tests prove the right context is seen
(``tests/models/test_attention.py``).

The masked value is the dtype's most negative finite number (as transformers' own masks), not −inf; every query
here can attend at least one key (itself, or in scoring a real token), so no row is fully masked.
"""

from __future__ import annotations

import torch

from babylm.data.tokens.masking import document_ids


def attention_bias(allowed: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Turn ``allowed`` (B, T, T) bool (query, key) into the 4-D float mask (B, 1, T, T) transformers adds."""
    blocked = torch.finfo(dtype).min
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill_(~allowed, blocked).unsqueeze(1)


def document_attention_mask(input_ids: torch.Tensor, bos_id: int = 1, eos_id: int = 2,
                            dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Bidirectional attention within each document of packed windows, none across; returns (B, 1, T, T) float.

    ``input_ids`` (B, T); documents as :func:`babylm.data.tokens.masking.document_ids` numbers them (a new one at
    each ``<s>``, after each ``</s>``). A query attends every key of its own document, before and after it.
    """
    documents = document_ids(input_ids, bos_id, eos_id)  # (B, T)
    allowed = documents[:, :, None] == documents[:, None, :]  # (B, T, T)
    return attention_bias(allowed, dtype)
