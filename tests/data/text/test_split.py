"""Split stage: whole articles, budgets respected, seeded and reproducible, report written."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from babylm.data.text import split
from babylm.data.text.clean import iter_articles
from babylm.data.text.split import TRAIN, UNUSED, VAL, SplitError, SplitOptions, plan_split, split_file, summarise
from tests.data.text_fixtures import cleaned_corpus_text

word_counts = st.lists(st.integers(min_value=1, max_value=500), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(word_counts, st.integers(0, 3000), st.integers(0, 3000), st.integers(0, 2**32 - 1))  # the seed range
def test_budget_mode_never_exceeds_a_budget_and_is_seeded(counts, train_words, val_words, seed):
    options = SplitOptions(train_words=train_words, val_words=val_words, seed=seed)
    if sum(counts) < train_words + val_words:
        with pytest.raises(SplitError, match="--val-fraction"):
            plan_split(counts, options)
        return
    plan = plan_split(counts, options)
    summary = summarise(counts, plan)
    assert summary["train"]["words"] <= train_words and summary["val"]["words"] <= val_words
    assert set(plan) <= {TRAIN, VAL, UNUSED}
    assert plan == plan_split(counts, options)  # same seed, same split
    # Greedy fill: an unused article fits in neither remaining budget.
    for words, code in zip(counts, plan):
        if code == UNUSED:
            assert words > val_words - summary["val"]["words"] and words > train_words - summary["train"]["words"]


@settings(max_examples=300, deadline=None)
@given(word_counts, st.floats(min_value=0.01, max_value=0.99), st.integers(0, 2**32 - 1))
def test_everything_mode_uses_every_article_and_lands_within_a_point_when_it_can(counts, fraction, seed):
    plan = plan_split(counts, SplitOptions(val_fraction=fraction, seed=seed))
    summary = summarise(counts, plan)
    assert summary["unused"]["articles"] == 0
    total = sum(counts)
    share = summary["val"]["words"] / total
    if len(counts) >= 2:
        assert summary["train"]["articles"] >= 1 and summary["val"]["articles"] >= 1
    small = sum(words for words in counts if words <= 0.02 * total)
    if (small >= (fraction - 0.01) * total and len(counts) >= 2 and summary["val"]["articles"] > 1
            and summary["train"]["articles"] > 1):
        assert abs(share - fraction) <= 0.01 + 1e-9, (share, fraction)
    if summary["val"]["articles"] > 1:
        assert share <= fraction + 0.01 + 1e-9  # never over the ceiling except the one forced article


def test_one_big_article_drawn_early_no_longer_skews_val():
    """The issue's example: a 50,000-word article among ~120,000 words of small ones gave val 29 % at 0.1."""
    counts = [50_000] + [400 + (i * 37) % 500 for i in range(200)]
    for seed in range(20):
        summary = summarise(counts, plan_split(counts, SplitOptions(val_fraction=0.1, seed=seed)))
        assert abs(summary["val"]["words"] / sum(counts) - 0.1) <= 0.01, seed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.lists(st.text(alphabet="abc xyz", min_size=1, max_size=30).filter(str.strip), min_size=1, max_size=3),
             min_size=2, max_size=25),
    st.integers(0, 1000),
)
def test_split_files_hold_whole_input_articles_once_and_repeat_exactly(tmp_path_factory, articles, seed):
    folder = tmp_path_factory.mktemp("split")
    texts = ["\n".join(" ".join(line.split()) for line in article if line.split()) for article in articles]
    texts = [text for text in texts if text]
    source = folder / "cleaned.txt"
    source.write_text(cleaned_corpus_text(texts), encoding="utf-8")
    options = SplitOptions(val_fraction=0.3, seed=seed)
    report = split_file(source, folder / "out", options)
    train = (folder / "out" / "train.txt").read_text(encoding="utf-8")
    val = (folder / "out" / "val.txt").read_text(encoding="utf-8")
    got = list(iter_articles(train.splitlines())) + list(iter_articles(val.splitlines()))
    assert sorted(got) == sorted(texts)  # every article whole, exactly once across the two files
    assert report["train"]["articles"] + report["val"]["articles"] == len(texts)
    split_file(source, folder / "again", options)
    assert (folder / "again" / "train.txt").read_text(encoding="utf-8") == train
    assert (folder / "again" / "val.txt").read_text(encoding="utf-8") == val


def test_report_is_printed_and_written_with_counts_per_split(tmp_path, capsys):
    source = tmp_path / "cleaned.txt"
    source.write_text(cleaned_corpus_text([f"ARTICLE {i} has five words" for i in range(20)]), encoding="utf-8")
    out = tmp_path / "split"
    assert split.main(["--input", str(source), "--output-dir", str(out), "--train-words", "50", "--val-words", "20",
                       "--seed", "3"]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads((out / "split_report.json").read_text(encoding="utf-8"))
    assert printed == written
    assert written["mode"] == "budget" and written["seed"] == 3
    assert (written["train"], written["val"], written["unused"]) == (
        {"articles": 10, "words": 50}, {"articles": 4, "words": 20}, {"articles": 6, "words": 30},
    )
    assert len(list(iter_articles((out / "train.txt").read_text(encoding="utf-8").splitlines()))) == 10


def test_a_corpus_below_the_budgets_is_a_clear_error_naming_the_fix(tmp_path, capsys):
    source = tmp_path / "cleaned.txt"
    source.write_text(cleaned_corpus_text(["tiny corpus"]), encoding="utf-8")
    assert split.main(["--input", str(source), "--output-dir", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "--val-fraction" in error and "10,000,000" in error
    assert not (tmp_path / "out" / "train.txt").exists()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["<s>", "</s>", "\n", " ", "a", "bc", "\r", "\u2028", "é"]), max_size=60).map("".join))
def test_malformed_cleaned_files_never_crash_the_stage(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("bad")
    source = folder / "cleaned.txt"
    source.write_text(text, encoding="utf-8")
    try:
        report = split_file(source, folder / "out", SplitOptions(val_fraction=0.5))
    except SplitError as error:
        assert "no <s>" in str(error)
    else:
        assert report["train"]["articles"] + report["val"]["articles"] == report["input_articles"] >= 1


@pytest.mark.parametrize(
    "content, argv, message",
    [
        (None, [], "not found"),
        ("no markers at all\n", ["--val-fraction", "0.1"], "no <s>"),
        ("<s>\nx\n</s>\n", ["--val-fraction", "1.5"], "between 0 and 1"),
    ],
)
def test_bad_inputs_are_one_line_errors(tmp_path, capsys, content, argv, message):
    source = tmp_path / "cleaned.txt"
    if content is not None:
        source.write_text(content, encoding="utf-8")
    try:
        code = split.main(["--input", str(source), "--output-dir", str(tmp_path / "out"), *argv])
    except SystemExit as exit_info:  # a bad option value is refused by argparse (babylm.core.arguments)
        code = exit_info.code
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and message in error


@pytest.mark.parametrize("options, message", [
    (["--train-words", "0", "--val-words", "rest"], "this split leaves train without an article"),
    (["--train-words", "100", "--val-words", "0"], "this split leaves val without an article"),
    (["--train-words", "100", "--val-words", "rest", "--val-fraction", "0.1"],
     "--val-words rest and --val-fraction are two ways of sizing val: give one"),
])
def test_a_split_that_would_leave_a_side_empty_or_is_sized_twice_is_one_line(tmp_path, capsys, options, message):
    cleaned = tmp_path / "cleaned.txt"
    cleaned.write_text("".join(f"<s>\nARTICLE {i}. {'word ' * 20}\n</s>\n" for i in range(10)), encoding="utf-8")
    assert split.main(["--input", str(cleaned), "--output-dir", str(tmp_path / "out"), *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and not (tmp_path / "out" / "train.txt").exists()
