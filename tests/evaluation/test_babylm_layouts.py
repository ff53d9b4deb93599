"""BabyLM's own BLiMP layouts, and how our scores relate to the other tools' conventions.

``evaluate`` reads the folders the official pipeline reads (``evaluation_data/full_eval/blimp_filtered``: BLiMP's
schema, fewer pairs; ``supplement_filtered``: only the two sentences, the file name is the paradigm), and scores
a pair as the pipeline's causal backend does (``tests/test_transformers_compat.py`` checks that against
transformers 4.51.3). lm-evaluation-harness's BLiMP task continues an empty context with
``target_delimiter + sentence``; with its default delimiter ``" "`` that is ``<s>`` + ``" sentence"``, a different
first token, so some verdicts differ — shown here with our own scoring code.
"""

from __future__ import annotations

import json
import shutil

from babylm.commands.evaluate import main
from babylm.evaluation.blimp import (
    SAMPLE_BLIMP_DIR,
    SUPPLEMENT,
    aggregate,
    evaluate_blimp,
    load_blimp_dir,
    pair_is_correct,
    score_sequences,
)
from babylm.models.export import load_exported, prefix_token_id

SUPPLEMENT_PAIRS = [  # the supplement's shape: sentence_good/sentence_bad only (made-up sentences)
    {"sentence_good": "A: What did the monks build?\nB: An abbey.",
     "sentence_bad": "A: What did the monks build?\nB: Yesterday."},
    {"sentence_good": "A: Who rebuilt the bridge?\nB: The town.",
     "sentence_bad": "A: Who rebuilt the bridge?\nB: In 1540."},
]


def write_supplement(folder):
    folder.mkdir()
    (folder / "qa_congruence_easy.jsonl").write_text("\n".join(json.dumps(p) for p in SUPPLEMENT_PAIRS) + "\n")
    (folder / "turn_taking.jsonl").write_text(json.dumps(SUPPLEMENT_PAIRS[0]) + "\n")
    return folder


def test_supplement_files_without_field_or_uid_are_read_as_the_pipeline_reads_them(tmp_path, llama_dir, capsys):
    folder = write_supplement(tmp_path / "supplement_filtered")
    paradigms = load_blimp_dir(folder)
    assert [(p.uid, p.field, p.phenomenon, len(p.pairs)) for p in paradigms] == [
        ("qa_congruence_easy", SUPPLEMENT, SUPPLEMENT, 2), ("turn_taking", SUPPLEMENT, SUPPLEMENT, 1)]
    assert main(["--model", str(llama_dir), "--blimp-dir", str(folder), "--out", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "blimp.json").read_text())
    assert set(report["paradigms"]) == {"qa_congruence_easy", "turn_taking"} and set(report["fields"]) == {SUPPLEMENT}
    # a file with field must still name its paradigm: a missing UID there is an error naming file:line
    (folder / "bad.jsonl").write_text(json.dumps({**SUPPLEMENT_PAIRS[0], "field": "syntax"}) + "\n")
    assert main(["--model", str(llama_dir), "--blimp-dir", str(folder), "--out", str(tmp_path / "out2")]) == 2
    assert f"{folder / 'bad.jsonl'}:1: field 'linguistics_term' is missing" in capsys.readouterr().err


def test_filtered_blimp_scores_the_mean_over_paradigms_as_the_pipeline_averages_uids(tmp_path, llama_dir):
    folder = tmp_path / "blimp_filtered"  # BLiMP's schema with some pairs filtered out: paradigms of unequal size
    folder.mkdir()
    for index, path in enumerate(sorted(SAMPLE_BLIMP_DIR.glob("*.jsonl"))):
        lines = path.read_text().splitlines()
        (folder / path.name).write_text("\n".join(lines[: 5 + 3 * index]) + "\n")
    model, tokenizer = load_exported(llama_dir)
    results = evaluate_blimp(model, tokenizer, load_blimp_dir(folder), ties="correct")
    summary = aggregate(results)["overall"]
    assert summary["accuracy"] == sum(r.correct / r.pairs for r in results) / len(results)  # mean of UID accuracies
    assert summary["pairs"] == sum(5 + 3 * i for i in range(6))


def harness_sequences(tokenizer, sentences, target_delimiter: str) -> list[list[int]]:
    """lm-evaluation-harness's loglikelihood request for BLiMP: context "" → the start token, continuation
    ``target_delimiter + sentence`` encoded without special tokens."""
    start = prefix_token_id(tokenizer)
    return [[start, *tokenizer(target_delimiter + s, add_special_tokens=False)["input_ids"]] for s in sentences]


def test_harness_delimiter_space_scores_another_first_token_and_flips_some_pairs(llama_dir):
    model, tokenizer = load_exported(llama_dir)
    paradigms = load_blimp_dir(SAMPLE_BLIMP_DIR)
    pairs = [pair for paradigm in paradigms for pair in paradigm.pairs]
    ours = {(r.uid, pid): (g, b) for r in evaluate_blimp(model, tokenizer, paradigms)
            for pid, g, b in zip(r.pair_ids, r.good_logprobs, r.bad_logprobs)}
    good = [p.good for p in pairs]
    bad = [p.bad for p in pairs]
    for delimiter in ("", " "):
        scores_good = score_sequences(model, harness_sequences(tokenizer, good, delimiter))
        scores_bad = score_sequences(model, harness_sequences(tokenizer, bad, delimiter))
        ours_verdicts = [pair_is_correct(*pair_scores, "correct") for pair_scores in ours.values()]
        theirs = [g >= b for g, b in zip(scores_good, scores_bad)]  # the harness's argmax: index 0 wins a tie
        if delimiter == "":
            assert theirs == ours_verdicts  # target_delimiter "": the same tokens, the same verdicts
        else:
            assert harness_sequences(tokenizer, ["The"], " ") != harness_sequences(tokenizer, ["The"], "")  # "ĠThe"
            assert theirs != ours_verdicts  # the default " " disagrees on some pairs


def test_ties_follow_the_pipeline_only_when_asked(tmp_path, llama_dir):
    folder = tmp_path / "ties"
    shutil.copytree(SAMPLE_BLIMP_DIR, folder)
    same = json.dumps({"sentence_good": "The abbey stood.", "sentence_bad": "The abbey stood.", "field": "syntax",
                       "linguistics_term": "identical", "UID": "identical", "pairID": "0"})
    (folder / "identical.jsonl").write_text(same + "\n")
    model, tokenizer = load_exported(llama_dir)
    paradigms = load_blimp_dir(folder, paradigms=["identical"])
    assert evaluate_blimp(model, tokenizer, paradigms)[0].correct == 0  # ours: a tie is wrong
    assert evaluate_blimp(model, tokenizer, paradigms, ties="correct")[0].correct == 1  # pipeline/harness: index 0 wins
