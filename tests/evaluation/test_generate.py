"""Generation from an exported model: reproducible with a seed, no special tokens in the output."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from babylm.data.tokens.tokenizer_files import add_mask_token, save_hf_tokenizer, to_hf_tokenizer
from babylm.evaluation.generate import (
    GenerationError,
    SamplingSettings,
    generate_text,
    generate_token_ids,
    main,
    sample,
)
from babylm.models.build import build_model
from babylm.models.export import load_exported
from tests.evaluation.tiny_models import save_tiny_model, tiny_config, train_tiny_tokenizer

SPECIAL_TEXTS = ("<s>", "</s>", "<pad>")


@pytest.fixture(scope="module")
def chatty_model_dir(tmp_path_factory):
    """A tiny GPT-J whose output bias makes it emit <s> and <pad> often (and never </s>, so it runs on)."""
    tokenizer = train_tiny_tokenizer()
    directory = tmp_path_factory.mktemp("gptj")
    model = save_tiny_model(directory, "gptj", tokenizer)
    with torch.no_grad():
        model.lm_head.bias[0] = 4.0  # <pad>
        model.lm_head.bias[1] = 4.0  # <s>
        model.lm_head.bias[2] = -30.0  # </s>
    model.save_pretrained(str(directory))
    return directory


@pytest.fixture(scope="module")
def llama_model_dir(tmp_path_factory):
    """A plain tiny LLaMA export."""
    directory = tmp_path_factory.mktemp("llama")
    save_tiny_model(directory, "llama", train_tiny_tokenizer())
    return directory


def test_same_seed_same_text_other_seed_other_text(llama_model_dir):
    prompts = ["The bishop", ""]
    first = generate_text(llama_model_dir, prompts, max_new_tokens=12, seed=3)
    again = generate_text(llama_model_dir, prompts, max_new_tokens=12, seed=3)
    other = generate_text(llama_model_dir, prompts, max_new_tokens=12, seed=4)
    assert first == again
    assert first != other
    assert first[0].startswith("The bishop") and len(first[0]) > len("The bishop")
    assert first[1]  # an empty prompt samples unconditionally after <s>


def test_a_prompt_gives_the_same_text_alone_or_after_others(llama_model_dir):
    alone = generate_text(llama_model_dir, ["No sailor"], max_new_tokens=10, seed=7, top_k=0, top_p=0.9)
    together = generate_text(llama_model_dir, ["The river", "No sailor"], max_new_tokens=10, seed=7, top_k=0, top_p=0.9)
    assert together[1] == alone[0]


def test_output_has_no_special_tokens_even_when_the_model_emits_them(chatty_model_dir):
    model, tokenizer = load_exported(chatty_model_dir)
    settings = SamplingSettings(max_new_tokens=30, seed=0)
    [ids] = generate_token_ids(model, tokenizer, ["The monks"], settings)
    prompt_length = 1 + len(tokenizer("The monks", add_special_tokens=False)["input_ids"])
    new = ids[prompt_length:]
    assert len(new) == 30
    assert {0, 1} & set(new), "the test model should emit <pad>/<s>"
    assert set(new) - {0, 1}, "…and ordinary tokens"
    [text] = sample(model, tokenizer, ["The monks"], settings)
    assert text.startswith("The monks")
    assert not any(special in text for special in SPECIAL_TEXTS)


def test_a_hybrid_model_never_samples_its_mask_token(tmp_path):
    tokenizer = train_tiny_tokenizer()
    size = tokenizer.get_vocab_size()
    model = build_model(tiny_config("gptj"), size, mask_token=True)  # a hybrid model: <mask> = id `size`
    with torch.no_grad():
        model.lm_head.bias[size] = 30.0  # it would pick <mask> nearly always
    model.save_pretrained(str(tmp_path))
    hf_tokenizer = to_hf_tokenizer(tokenizer)
    add_mask_token(hf_tokenizer, size)
    save_hf_tokenizer(hf_tokenizer, tmp_path)
    model, hf_tokenizer = load_exported(tmp_path)
    [ids] = generate_token_ids(model, hf_tokenizer, ["The monks"], SamplingSettings(max_new_tokens=20, seed=0))
    assert len(ids) > 20 and size not in ids


def test_greedy_is_deterministic_without_seed(llama_model_dir):
    first = generate_text(llama_model_dir, ["These rivers"], max_new_tokens=8, greedy=True)
    torch.manual_seed(123)
    assert generate_text(llama_model_dir, ["These rivers"], max_new_tokens=8, greedy=True) == first


@pytest.mark.parametrize("arch", ["gpt2", "gptj", "llama"])
def test_generation_stops_at_the_context_length(tmp_path, arch):
    # GPT-J and GPT-2 index a position table (IndexError past it), LLaMA would run untrained positions
    save_tiny_model(tmp_path, arch, train_tiny_tokenizer(), max_position_embeddings=12)
    model, tokenizer = load_exported(tmp_path)
    [ids] = generate_token_ids(model, tokenizer, ["The"], SamplingSettings(max_new_tokens=50, seed=0, top_k=0))
    assert len(ids) <= 12
    with pytest.raises(GenerationError, match="leaving no room in the model's 12 positions"):
        generate_token_ids(model, tokenizer, ["The abbey of Bruges was rebuilt in the 14th century."],
                           SamplingSettings())


def test_cli_prints_samples_from_prompts_and_file(llama_model_dir, tmp_path, capsys):
    prompts_file = tmp_path / "prompts.txt"
    prompts_file.write_text("The abbey\n\nNo pilgrim\n", encoding="utf-8")
    argv = ["--model", str(llama_model_dir), "--prompt", "The king", "--prompts-file", str(prompts_file),
            "--max-new-tokens", "6", "--seed", "1", "--temperature", "0.8", "--top-k", "20", "--device", "cpu"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("--- sample") == 3
    assert "The king" in out and "The abbey" in out and "No pilgrim" in out
    assert main(argv) == 0
    assert capsys.readouterr().out == out


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--temperature", "0"], "argument --temperature: 0 is not a number from 0.01 to 100"),
        (["--temperature", "1e-45"], "argument --temperature: 1e-45 is not"),  # issue 24: a RuntimeError traceback
        (["--temperature", "nan"], "argument --temperature: nan is not"),
        (["--top-p", "1.5"], "argument --top-p: 1.5 is not a number above 0 and at most 1"),
        (["--max-new-tokens", "0"], "argument --max-new-tokens: 0 is not a positive integer"),
        (["--seed", "99999999999999999999999"], "argument --seed: 99999999999999999999999 is not an integer from 0"),
        (["--seed", "-1"], "argument --seed: -1 is not an integer from 0 to 4294967295"),
        (["--top-k", "-1"], "argument --top-k: -1 is not an integer from 0"),
        (["--prompts-file", "/nonexistent/prompts.txt"], "prompts file not found"),
    ],
)
def test_cli_bad_settings_are_one_line_errors(llama_model_dir, capsys, extra, fragment):
    try:
        code = main(["--model", str(llama_model_dir), "--prompt", "The", *extra])
    except SystemExit as exit_:  # refused by argparse, as it parses
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("babylm generate: error: ") and fragment in err[0]


def test_special_token_strings_typed_in_a_prompt_are_read_as_text(llama_model_dir, tmp_path, capsys):
    older = tmp_path / "older-export"  # an export whose tokenizer_config.json predates split_special_tokens
    shutil.copytree(llama_model_dir, older)
    config = json.loads((older / "tokenizer_config.json").read_text())
    config.pop("split_special_tokens", None)
    (older / "tokenizer_config.json").write_text(json.dumps(config))
    prompt = "The tag <s> and </s>"
    for model_dir in (llama_model_dir, older):
        model, tokenizer = load_exported(model_dir)
        [ids] = generate_token_ids(model, tokenizer, [prompt], SamplingSettings(max_new_tokens=3, seed=0))
        prompt_ids = ids[1 : 1 + len(tokenizer(prompt, add_special_tokens=False)["input_ids"])]
        assert ids[0] == 1 and not {0, 1, 2} & set(prompt_ids)  # only the start token is special
        assert main(["--model", str(model_dir), "--prompt", prompt, "--max-new-tokens", "3", "--seed", "0"]) == 0
        assert prompt in capsys.readouterr().out
