"""Span masking for MNTP (babylm.data.tokens.masking): rates, spans, specials, document boundaries, the 80/10/10
replacement, the rate schedule and which windows of a step are masked."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from babylm.data.tokens.masking import (
    KIND_KEEP,
    KIND_MASK,
    KIND_NONE,
    KIND_RANDOM,
    MaskingError,
    SpanMasking,
    document_ids,
    eligible_positions,
    mask_spans,
    masked_per_step,
    masked_rows,
    masking_rate,
    row_generator,
)

VOCAB = 40
MASKING = SpanMasking(mask_id=VOCAB, vocab_size=VOCAB)  # <pad>=0, <s>=1, </s>=2, <mask>=40


@st.composite
def packed_windows(draw, rows: int = 2):
    """Windows cut anywhere from a packed stream ``<s> doc </s> <s> doc </s> …`` (as the DataModule cuts them)."""
    length = draw(st.integers(2, 48))
    windows = []
    for _ in range(rows):
        stream = []
        while len(stream) < 2 * length + 2:
            body = draw(st.lists(st.integers(3, VOCAB - 1), min_size=0, max_size=12))
            stream += [1, *body, 2]
        start = draw(st.integers(0, len(stream) - length))
        windows.append(stream[start : start + length])
    return torch.tensor(windows)


def spans_of(result, row: int) -> dict[int, list[int]]:
    """{span id: its chosen positions} of one row."""
    spans: dict[int, list[int]] = {}
    for position, span in enumerate(result.span_ids[row].tolist()):
        if span >= 0:
            spans.setdefault(span, []).append(position)
    return spans


@settings(max_examples=150, deadline=None)
@given(ids=packed_windows(), rate=st.floats(0.0, 1.0), seed=st.integers(0, 2**31 - 1))
def test_masking_properties(ids, rate, seed):
    generators = [row_generator(seed, row) for row in range(ids.size(0))]
    result = mask_spans(ids, rate, generators, MASKING)
    eligible = eligible_positions(ids, MASKING)
    documents = document_ids(ids)

    # specials, the window's first token and each document's first token are never targets
    assert not (result.targets & ~eligible).any()
    assert not result.targets[:, 0].any()
    assert not (result.targets & torch.isin(ids, torch.tensor([0, 1, 2, VOCAB]))).any()
    # exactly k = floor(rate · eligible + u) targets: the share is the rate, rounded up or down
    for row in range(ids.size(0)):
        count, chosen = int(eligible[row].sum()), int(result.targets[row].sum())
        assert math.floor(count * rate) <= chosen <= min(count, math.floor(count * rate) + 1)
    for row in range(ids.size(0)):
        for positions in spans_of(result, row).values():
            # a span: contiguous, 1 … max_span tokens, inside one document, one replacement kind
            assert positions == list(range(positions[0], positions[0] + len(positions)))
            assert 1 <= len(positions) <= MASKING.max_span
            assert len(set(documents[row, positions].tolist())) == 1
            assert len(set(result.kinds[row, positions].tolist())) == 1
            # the token before a target is in the same document: it is what predicts the target (MNTP)
            assert documents[row, positions[0] - 1] == documents[row, positions[0]]
    # what the model reads: <mask>, a random non-special token, or the token itself; untouched elsewhere
    kinds = result.kinds
    assert torch.equal(result.targets, kinds != KIND_NONE)
    assert torch.equal(result.input_ids[kinds == KIND_NONE], ids[kinds == KIND_NONE])
    assert torch.equal(result.input_ids[kinds == KIND_KEEP], ids[kinds == KIND_KEEP])
    assert (result.input_ids[kinds == KIND_MASK] == VOCAB).all()
    random = result.input_ids[kinds == KIND_RANDOM]
    assert ((random >= 3) & (random < VOCAB)).all()
    # the same seeds give the same masks, whatever else is in the batch
    again = mask_spans(ids[1:], rate, [row_generator(seed, 1)], MASKING)
    assert torch.equal(again.input_ids[0], result.input_ids[1]) and torch.equal(again.targets[0], result.targets[1])


def test_documents_and_eligible_positions_by_hand():
    ids = torch.tensor([[7, 8, 2, 1, 9, 10, 2, 1, 11]])  # the tail of one document, a whole one, the start of a third
    assert document_ids(ids).tolist() == [[0, 0, 0, 1, 1, 1, 1, 2, 2]]
    # 7: the window's first token; 2 and 1: specials; 9 and 11 follow <s> of their own document: eligible
    assert eligible_positions(ids, MASKING).tolist() == [[False, True, False, False, True, True, False, False, True]]
    # "</s> <s>" starts one document; a document opened without <s> (after </s>) starts too
    assert document_ids(torch.tensor([[5, 2, 6, 7]])).tolist() == [[0, 0, 1, 1]]


def test_replacement_is_80_10_10_per_span_and_the_rate_is_met_on_average():
    torch.manual_seed(0)
    ids = torch.randint(3, VOCAB, (400, 64))
    ids[:, 0] = 1  # each window one document
    result = mask_spans(ids, 0.3, [row_generator(5, row) for row in range(400)], MASKING)
    kinds = [result.kinds[row, span[0]].item() for row in range(400) for span in spans_of(result, row).values()]
    share = {kind: kinds.count(kind) / len(kinds) for kind in (KIND_MASK, KIND_RANDOM, KIND_KEEP)}
    assert share[KIND_MASK] == pytest.approx(0.8, abs=0.02)
    assert share[KIND_RANDOM] == pytest.approx(0.1, abs=0.015) and share[KIND_KEEP] == pytest.approx(0.1, abs=0.015)
    eligible = eligible_positions(ids, MASKING).sum()
    assert result.targets.sum() / eligible == pytest.approx(0.3, abs=0.005)


def test_span_lengths_are_uniform_from_1_to_max_span():
    ids = torch.full((300, 61), 5)
    ids[:, 0] = 1
    result = mask_spans(ids, 1.0, [row_generator(1, row) for row in range(300)], MASKING)  # every eligible token
    assert result.targets[:, 1:].all()
    lengths = [len(p) for row in range(300) for p in list(spans_of(result, row).values())[1:-1]]  # cut ends aside
    for length in (1, 2, 3):
        assert lengths.count(length) / len(lengths) == pytest.approx(1 / 3, abs=0.03)


def test_rate_schedule_and_errors():
    assert masking_rate(0, 100) == pytest.approx(0.3)
    assert masking_rate(50, 100) == pytest.approx(0.225)
    assert masking_rate(100, 100) == masking_rate(500, 100) == pytest.approx(0.15)
    assert masking_rate(7, 100, 0.4, 0.4) == pytest.approx(0.4)  # a constant rate ("Should you mask 15%?")
    with pytest.raises(MaskingError, match="rate"):
        mask_spans(torch.ones(1, 4, dtype=torch.long), 1.5, [row_generator(0, 0)], MASKING)
    with pytest.raises(MaskingError, match="keep_p"):
        SpanMasking(mask_id=VOCAB, vocab_size=VOCAB, random_p=0.6, keep_p=0.6).validate()


def test_masked_windows_per_step_are_exact_and_fixed_by_position():
    assert masked_per_step(0.5, 8) == 4 and masked_per_step(0.9375, 128) == 120 and masked_per_step(1 / 16, 32) == 2
    with pytest.raises(MaskingError, match=r"0.9375 × data.batch_size 8 = 7.5 .*multiple of 1/8 \(e.g. 0.875\)"):
        masked_per_step(0.9375, 8)
    positions = torch.arange(24)  # three steps of 8
    assert masked_rows(positions, 8, 3).view(3, 8).tolist() == [[True] * 3 + [False] * 5] * 3
