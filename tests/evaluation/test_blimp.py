"""BLiMP loading, scoring and aggregation: our batched scores against a plain unbatched reference."""

from __future__ import annotations

import json
import math

import pytest
import torch
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

from babylm.evaluation import EvaluationError
from babylm.evaluation.blimp import (
    SAMPLE_BLIMP_DIR,
    BlimpDataError,
    ParadigmResult,
    aggregate,
    evaluate_blimp,
    load_blimp_dir,
    load_paradigm,
    score_paradigm,
    sentence_logprobs,
)
from babylm.models.export import load_exported

REFERENCE_PARADIGMS = ["adjunct_island", "determiner_noun_agreement_irregular_2", "principle_A_case_2"]


def reference_logprob(model, ids: list[int]) -> float:
    """Independent reference: one sentence, no batching, no mask, log_softmax in float64."""
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()  # (T, V)
    logprobs = torch.log_softmax(logits[:-1], dim=-1)  # (T-1, V)
    return logprobs[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].sum().item()


def pair_line(good, bad, uid="toy", pair_id="0", **extra):
    record = {"sentence_good": good, "sentence_bad": bad, "field": "syntax", "linguistics_term": "toy_term", "UID": uid,
              "pairID": pair_id, **extra}
    return json.dumps(record)


@pytest.mark.parametrize("arch", ["llama", "gpt2", "gptj"])
def test_accuracy_equals_unbatched_reference_per_paradigm(arch, exported_models, shared_data):
    model_dir = exported_models[arch]
    paradigms = load_blimp_dir(shared_data / "blimp-dev", paradigms=REFERENCE_PARADIGMS, limit=50)
    model, tokenizer = load_exported(model_dir)
    # batch 7: odd-sized, mixed-length, right-padded batches
    ours = {r.uid: r for r in evaluate_blimp(model, tokenizer, paradigms, batch_size=7)}

    reference_model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32,
                                                           attn_implementation="eager")
    reference_tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(model_dir / "tokenizer.json"))
    for paradigm in paradigms:
        correct = 0
        result = ours[paradigm.uid]
        for index, pair in enumerate(paradigm.pairs):
            # the tokenizer's own template adds <s>: the reference does not reuse our prefix logic
            good = reference_logprob(reference_model, reference_tokenizer(pair.good)["input_ids"])
            bad = reference_logprob(reference_model, reference_tokenizer(pair.bad)["input_ids"])
            correct += good > bad
            assert result.good_logprobs[index] == pytest.approx(good, abs=1e-3)
            assert result.bad_logprobs[index] == pytest.approx(bad, abs=1e-3)
        assert result.pairs == 50
        assert result.accuracy == correct / 50, paradigm.uid
    # the model is random, but its accuracy must still differ between paradigms (not a constant)
    assert len({r.accuracy for r in ours.values()}) > 1


def test_batch_size_does_not_change_scores(llama_dir):
    model, tokenizer = load_exported(llama_dir)
    sentences = ["A.", "The bishop founded the abbey in the north of the province.", "Who?",
                 "These rivers were frozen."]
    one = sentence_logprobs(model, tokenizer, sentences, batch_size=1)
    many = sentence_logprobs(model, tokenizer, sentences, batch_size=3)
    assert many == pytest.approx(one, abs=1e-4)
    assert all(score < 0 for score in one)


def test_start_token_falls_back_to_eos_when_tokenizer_has_no_bos(llama_dir, tiny_tokenizer):
    model, _ = load_exported(llama_dir)
    eos_only = PreTrainedTokenizerFast(tokenizer_object=tiny_tokenizer, eos_token="</s>")
    assert eos_only.bos_token_id is None
    sentence = "The monks blamed themselves."
    ids = eos_only(sentence, add_special_tokens=False)["input_ids"]
    [score] = sentence_logprobs(model, eos_only, [sentence])
    assert score == pytest.approx(reference_logprob(model, [eos_only.eos_token_id, *ids]), abs=1e-4)
    assert score != pytest.approx(reference_logprob(model, [1, *ids]), abs=1e-4)


def test_ties_count_as_wrong_and_are_reported(tmp_path, llama_dir):
    path = tmp_path / "toy.jsonl"
    path.write_text(
        "\n".join([
            pair_line("The monks blamed themselves.", "The monks blamed themselves.", pair_id="a"),
            pair_line("The monks blamed themselves.", "The monks blamed himself.", pair_id="b"),
            pair_line("No sailor has ever crossed this sea.", "No sailor has ever crossed this sea.", pair_id="c"),
        ]) + "\n",
        encoding="utf-8",
    )
    model, tokenizer = load_exported(llama_dir)
    result = score_paradigm(model, tokenizer, load_paradigm(path), batch_size=4)
    assert result.ties == ["a", "c"]
    expected_b = result.good_logprobs[1] > result.bad_logprobs[1]
    assert result.correct == int(expected_b)
    summary = aggregate([result])
    assert summary["overall"]["ties"] == 2
    assert summary["paradigms"]["toy"]["tied_pair_ids"] == ["a", "c"]
    assert summary["phenomena"]["toy_term"]["ties"] == 2


@pytest.mark.parametrize(
    "lines, line_number, fragment",
    [
        ([pair_line("A b.", "B a."), pair_line("C d.", "D c."), '{"sentence_good": "x", '], 3, "not valid JSON"),
        ([pair_line("A b.", "B a."),
          json.dumps({"sentence_good": "x", "field": "f", "linguistics_term": "t", "UID": "toy"})], 2,
         "'sentence_bad'"),
        ([pair_line("A b.", "B a."), "", pair_line("C d.", "", pair_id="1")], 3, "'sentence_bad'"),
        ([pair_line("A b.", "B a."), pair_line("C d.", "D c.", uid="other")], 2, "one paradigm per file"),
        (["[1, 2]"], 1, "expected a JSON object"),
    ],
)
def test_malformed_line_is_reported_with_file_and_line(tmp_path, lines, line_number, fragment):
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(BlimpDataError) as caught:
        load_paradigm(path)
    message = str(caught.value)
    assert f"{path}:{line_number}:" in message
    assert fragment in message
    assert "\n" not in message


def test_load_blimp_dir_filters_limits_and_names_unknown_paradigms(tmp_path):
    paradigms = load_blimp_dir(SAMPLE_BLIMP_DIR)
    assert len(paradigms) >= 4 and all(len(p.pairs) >= 20 for p in paradigms)
    chosen = load_blimp_dir(SAMPLE_BLIMP_DIR, paradigms=["sample_npi_licensing"], limit=5)
    assert [p.uid for p in chosen] == ["sample_npi_licensing"] and len(chosen[0].pairs) == 5
    assert chosen[0].field == "semantics" and chosen[0].phenomenon == "npi_licensing"
    with pytest.raises(BlimpDataError, match="no paradigm file for nonexistent_paradigm"):
        load_blimp_dir(SAMPLE_BLIMP_DIR, paradigms=["nonexistent_paradigm"])
    with pytest.raises(BlimpDataError, match="no .jsonl files"):
        load_blimp_dir(tmp_path)


def test_field_spellings_are_unified(shared_data):
    # upstream writes both "syntax/semantics" and "syntax_semantics" for the same field
    fields = {p.field for p in load_blimp_dir(shared_data / "blimp-dev", limit=1)}
    assert "syntax_semantics" in fields and "syntax/semantics" not in fields


def test_sample_pairs_are_original_not_copied_from_blimp(shared_data):
    upstream = set()
    for path in (shared_data / "blimp-dev").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            upstream.update((record["sentence_good"], record["sentence_bad"]))
    for paradigm in load_blimp_dir(SAMPLE_BLIMP_DIR):
        for pair in paradigm.pairs:
            assert pair.good not in upstream and pair.bad not in upstream
            assert pair.good != pair.bad


def test_aggregate_means_over_paradigms_not_pairs():
    def result(uid, field, phenomenon, outcomes):
        good = [1.0 if ok else -1.0 for ok in outcomes]
        return ParadigmResult(uid, field, phenomenon, [str(i) for i in range(len(outcomes))], good,
                              [0.0] * len(outcomes))

    results = [
        result("a", "morphology", "agreement", [True, True, True, False]),  # 0.75
        result("b", "morphology", "agreement", [False, False]),  # 0.0
        result("c", "syntax", "islands", [True]),  # 1.0
    ]
    summary = aggregate(results)
    assert summary["phenomena"]["agreement"]["accuracy"] == pytest.approx(0.375)  # not 3/6
    assert summary["fields"]["morphology"]["accuracy"] == pytest.approx(0.375)
    assert summary["fields"]["syntax"] == {"accuracy": 1.0, "paradigms": 1, "pairs": 1, "ties": 0}
    assert summary["overall"]["accuracy"] == pytest.approx((0.75 + 0 + 1) / 3)
    assert summary["overall"]["pair_accuracy"] == pytest.approx(4 / 7)
    assert summary["paradigms"]["a"]["correct"] == 3
    with pytest.raises(EvaluationError):
        aggregate([])


def test_sentence_longer_than_the_context_is_a_clear_error(tmp_path, tiny_tokenizer):
    from tests.evaluation.tiny_models import save_tiny_model

    save_tiny_model(tmp_path, "gpt2", tiny_tokenizer, max_position_embeddings=8)
    model, tokenizer = load_exported(tmp_path)
    with pytest.raises(EvaluationError, match="longer than the model's 8 positions"):
        sentence_logprobs(model, tokenizer, ["What did the historian claim that the monks described the harbour?"])
    assert math.isfinite(sentence_logprobs(model, tokenizer, ["No."])[0])


def test_special_token_strings_in_a_sentence_are_scored_as_text(llama_dir):
    model, tokenizer = load_exported(llama_dir)
    sentence = "The tag <s> and </s> is text."
    ids = tokenizer(sentence, add_special_tokens=False)["input_ids"]
    assert not {0, 1, 2} & set(ids)  # <pad>, <s>, </s> never come from the sentence itself
    assert tokenizer.decode(ids) == sentence
    [score] = sentence_logprobs(model, tokenizer, [sentence])
    assert score == pytest.approx(reference_logprob(model, [1, *ids]), abs=1e-4)


# ─── fail safe on every input (issue 10) ──────────────────────────────────────


def test_identical_sentences_get_identical_scores_whatever_the_batching(llama_dir, shared_data):
    # real BLiMP: principle_A_case_2 has 5 pairs whose good and bad sentences are the same string
    paradigm = load_paradigm(shared_data / "blimp-dev" / "principle_A_case_2.jsonl")
    identical = [p.pair_id for p in paradigm.pairs if p.good == p.bad]
    assert len(identical) == 5
    keep = {p.pair_id for p in paradigm.pairs[:60]} | set(identical)
    paradigm.pairs = [p for p in paradigm.pairs if p.pair_id in keep]
    model, tokenizer = load_exported(llama_dir)
    for batch_size in (1, 5, 16, 64):
        result = score_paradigm(model, tokenizer, paradigm, batch_size=batch_size)
        assert result.ties == identical, batch_size
    sentences = ["The monks blamed themselves.", "Who?", "The monks blamed themselves.", "These rivers were frozen."]
    for batch_size in (1, 2, 3):
        scores = sentence_logprobs(model, tokenizer, sentences, batch_size=batch_size)
        assert scores[0] == scores[2]


def test_ties_count_as_correct_under_the_harness_rule(tmp_path, llama_dir):
    path = tmp_path / "toy.jsonl"
    path.write_text("\n".join([
        pair_line("The monks blamed themselves.", "The monks blamed themselves.", pair_id="a"),
        pair_line("The monks blamed themselves.", "The monks blamed himself.", pair_id="b"),
    ]) + "\n", encoding="utf-8")
    model, tokenizer = load_exported(llama_dir)
    strict = score_paradigm(model, tokenizer, load_paradigm(path), ties="wrong")
    lenient = score_paradigm(model, tokenizer, load_paradigm(path), ties="correct")
    assert strict.ties == lenient.ties == ["a"]
    assert lenient.correct == strict.correct + 1
    assert aggregate([lenient])["overall"]["ties_count_as"] == "correct"
    assert aggregate([strict])["overall"]["ties_count_as"] == "wrong"


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf"
                     + (pair_line("A b.", "B a.") + "\n" + pair_line("C d.", "D c.", pair_id="1") + "\n").encode())
    paradigm = load_paradigm(path)
    assert [p.good for p in paradigm.pairs] == ["A b.", "C d."] and paradigm.uid == "toy"


def test_deeply_nested_json_is_not_valid_json_not_a_recursion_error(tmp_path):
    path = tmp_path / "nested.jsonl"
    path.write_text(pair_line("A b.", "B a.") + "\n" + "[" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(BlimpDataError) as caught:
        load_paradigm(path)
    assert str(caught.value) == f"{path}:2: not valid JSON (nested too deeply)"


def test_a_sentence_longer_than_the_context_names_file_and_line_before_any_scoring(tmp_path, tiny_tokenizer):
    from tests.evaluation.tiny_models import save_tiny_model

    save_tiny_model(tmp_path / "model", "gpt2", tiny_tokenizer, max_position_embeddings=8)
    model, tokenizer = load_exported(tmp_path / "model")
    (tmp_path / "a.jsonl").write_text(pair_line("No.", "Yes.", uid="a") + "\n", encoding="utf-8")
    long = "What did the historian claim that the monks described the harbour?"
    (tmp_path / "b.jsonl").write_text(
        pair_line("No.", "Yes.", uid="b") + "\n" + pair_line("No.", long, uid="b", pair_id="1") + "\n",
        encoding="utf-8")
    scored = []
    with pytest.raises(EvaluationError) as caught:
        evaluate_blimp(model, tokenizer, load_blimp_dir(tmp_path), progress=scored.append)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'b.jsonl'}:2 (sentence_bad): sentence 'What did")
    assert "longer than the model's 8 positions" in message and "\n" not in message
    assert scored == []  # nothing was scored before the error
