"""Numeric options: a meaningless value is refused by argparse in one line naming the option (exit code 2).

The fresh-user trial found ``evaluate --limit -1`` scoring "6 pairs" and ``evaluate --tasks perplexity
--seq-len 0`` quietly using 128. Every command's parser is checked here before anything is loaded.
"""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from babylm import cli
from babylm.core.arguments import (
    INT64_MAX,
    SEED_MAX,
    check_seed,
    float_in_range,
    int_in_range,
    non_negative_int,
    open_fraction,
    positive_float,
    positive_int,
    seed,
)
from babylm.data.sources import gutenberg
from babylm.data.text import split
from babylm.data.wikisource.sample import server
from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR, BlimpDataError, load_blimp_dir

BAD = [  # (argv, the option named)
    (["evaluate", "--model", "M", "--blimp-dir", str(SAMPLE_BLIMP_DIR), "--limit", "-1"], "--limit"),
    (["evaluate", "--model", "M", "--limit", "0"], "--limit"),
    (["evaluate", "--model", "M", "--tasks", "perplexity", "--seq-len", "0"], "--seq-len"),
    (["evaluate", "--model", "M", "--max-tokens", "-5"], "--max-tokens"),
    (["evaluate", "--model", "M", "--batch-size", "0"], "--batch-size"),
    (["evaluate", "--model", "M", "--limit", "ten"], "--limit"),
    (["tokenizer", "--vocab-size", "-5"], "--vocab-size"),
    (["tokenizer", "--min-frequency", "0"], "--min-frequency"),
    (["prepare", "--train-words", "-1"], "--train-words"),
    (["prepare", "--val-words", "-1"], "--val-words"),
    (["prepare", "--val-fraction", "1.5"], "--val-fraction"),
    (["prepare", "--val-fraction", "nan"], "--val-fraction"),
    (["prepare", "--limit", "0"], "--limit"),
    (["cache-teachers", "--batch-size", "0"], "--batch-size"),
    (["quickstart", "--steps", "0"], "--steps"),
    # issue 24: numbers torch, numpy, time.sleep or a socket cannot take were tracebacks
    (["generate", "--model", "M", "--prompt", "x", "--temperature", "1e-45"], "--temperature"),
    (["generate", "--model", "M", "--prompt", "x", "--seed", "99999999999999999999999"], "--seed"),
    (["generate", "--model", "M", "--prompt", "x", "--top-p", "nan"], "--top-p"),
    (["prepare", "--seed", "99999999999999999999999"], "--seed"),
    (["prepare", "--train-words", "9" * 40], "--train-words"),
    (["evaluate", "--model", "M", "--batch-size", "9" * 5000], "--batch-size"),
    (["tokenizer", "--min-frequency", "99999999999999999999999"], "--min-frequency"),
    (["quickstart", "--vocab-size", "70000"], "--vocab-size"),
]


@pytest.mark.parametrize("argv, option", BAD, ids=[" ".join(a[:1] + a[-2:]) for a, _ in BAD])
def test_a_meaningless_number_is_one_line_naming_the_option(argv, option, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written, but if it were, not into the repository
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"babylm {argv[0]}: error: argument {option}") and err[0].endswith("; see --help")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("main, argv, option", [
    (split.main, ["--train-words", "-3"], "--train-words"),
    (gutenberg.main, ["slice.txt", "--volume", "0"], "--volume"),
    (server.main, ["--port", "-1"], "--port"),
    (server.main, ["--latency", "-0.5"], "--latency"),
    (server.main, ["--port", "70000"], "--port"),
    (server.main, ["--latency", "1e300"], "--latency"),
    (split.main, ["--seed", "-1"], "--seed"),
    (gutenberg.main, ["slice.txt", "--volume", "99999999999999999999"], "--volume"),
])
def test_the_stage_scripts_check_their_numbers_too(main, argv, option, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert f"error: argument {option}" in line


def test_the_blimp_loader_refuses_a_limit_below_one():
    for limit in (0, -1):
        with pytest.raises(BlimpDataError, match="--limit must be at least 1"):
            load_blimp_dir(SAMPLE_BLIMP_DIR, limit=limit)
    assert sum(len(p.pairs) for p in load_blimp_dir(SAMPLE_BLIMP_DIR, limit=1)) == len(load_blimp_dir(SAMPLE_BLIMP_DIR))


@given(st.integers(-10**6, 10**6))
def test_integer_types_accept_exactly_their_range(value):
    for kind, low in ((positive_int, 1), (non_negative_int, 0)):
        if value >= low:
            assert kind(str(value)) == value
        else:
            with pytest.raises(argparse.ArgumentTypeError):
                kind(str(value))


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "x", ""])
def test_float_types_refuse_non_finite_and_out_of_range_values(text):
    with pytest.raises(argparse.ArgumentTypeError):
        positive_float(text)
    with pytest.raises(argparse.ArgumentTypeError):
        open_fraction(text)
    assert open_fraction("0.1") == 0.1 and positive_float("2.5") == 2.5


@given(st.integers(-2**70, 2**70))
def test_seeds_and_bounded_integers_accept_exactly_their_range(value):
    for kind, low, high in ((seed, 0, SEED_MAX), (int_in_range(3, 9), 3, 9), (positive_int, 1, INT64_MAX)):
        if low <= value <= high:
            assert kind(str(value)) == value
        else:
            with pytest.raises(argparse.ArgumentTypeError):
                kind(str(value))
    if 0 <= value <= SEED_MAX:
        assert check_seed(value) == value
    else:
        with pytest.raises(ValueError, match="seed must be an integer from 0 to 4294967295"):
            check_seed(value)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_bounded_floats_accept_exactly_their_range(value):
    for kind, low, high, low_open in ((float_in_range(0.01, 100), 0.01, 100, False),
                                      (float_in_range(0.0, 1.0, low_open=True), 0.0, 1.0, True)):
        inside = (low < value if low_open else low <= value) and value <= high
        if inside:
            assert kind(repr(value)) == value
        else:
            with pytest.raises(argparse.ArgumentTypeError):
                kind(repr(value))


def test_library_entry_points_check_their_numbers_too():
    from babylm.data.text.split import SplitError, SplitOptions
    from babylm.evaluation.generate import GenerationError, SamplingSettings

    for settings in (SamplingSettings(temperature=1e-45), SamplingSettings(seed=10**23), SamplingSettings(seed=-1),
                     SamplingSettings(temperature=float("nan")), SamplingSettings(top_p=float("inf")),
                     SamplingSettings(max_new_tokens=2**70)):
        with pytest.raises(GenerationError):
            settings.validate()
    SamplingSettings(temperature=1e-45, greedy=True).validate()  # greedy ignores the temperature
    with pytest.raises(SplitError, match="--seed must be an integer from 0"):
        SplitOptions(seed=2**40).validate()
