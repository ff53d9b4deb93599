"""Bounded pieces: every cut the rule makes keeps the byte-level pre-tokens (checked against ``tokenizers``)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import pre_tokenizers

from babylm.data.tokens.documents import bounded_pieces, iter_documents, safe_cut

PRE = pre_tokenizers.ByteLevel(add_prefix_space=False)
TEXT = st.lists(st.sampled_from([*"ab1 \n\r\t,'é<s>", "  ", " \n", "'s", "word"]), min_size=2, max_size=40).map("".join)


def pre_tokens(text: str) -> list[str]:
    return [piece for piece, _ in PRE.pre_tokenize_str(text)]


def rule_positions(text: str, limit: int) -> list[int]:
    """Brute force over the documented rule: after a newline between non-spaces, before whitespace after a non-space."""
    def space(i: int) -> bool:
        return i < 0 or i >= len(text) or text[i].isspace()

    return [i for i in range(1, limit + 1)
            if (text[i - 1] == "\n" and not space(i) and (i == 1 or not space(i - 2)))
            or (space(i) and not space(i - 1))]


def keeps_pre_tokens(text: str, cut: int) -> bool:
    return pre_tokens(text[:cut]) + pre_tokens(text[cut:]) == pre_tokens(text)


@settings(max_examples=400, deadline=None)
@given(TEXT, st.integers(1, 80))
def test_a_safe_cut_keeps_every_pre_token(text, limit):
    if limit >= len(text):
        return
    cut = safe_cut(text, limit)
    assert cut == max(rule_positions(text, limit), default=None)  # the latest place the rule allows
    if cut is not None:
        assert keeps_pre_tokens(text, cut)


@settings(max_examples=100, deadline=None)
@given(TEXT, st.integers(1, 20))
def test_bounded_pieces_cover_the_text_and_stay_bounded(text, limit):
    pieces = list(bounded_pieces(text, limit))
    assert "".join(pieces) == text and all(0 < len(piece) <= limit for piece in pieces)


def test_a_long_single_line_document_comes_in_bounded_pieces():
    line = " ".join(["river", "town", "church"] * 400)
    pieces = list(iter_documents([f"<s>\n{line}\n</s>\n\n"], max_doc_chars=100))
    assert len(pieces) > 40 and all(len(p.text) <= 100 for p in pieces)
    assert pieces[0].first and pieces[-1].last and "".join(p.text for p in pieces).strip() == line
    texts = [p.text.lstrip() if p.first else p.text.rstrip() if p.last else p.text for p in pieces]
    assert [token for text in texts for token in pre_tokens(text)] == pre_tokens(line)  # the tokens of the whole
