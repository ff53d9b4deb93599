"""The evaluate command end to end: report files (JSON, Markdown, PNG, scores), summary table, errors."""

from __future__ import annotations

import json
from statistics import fmean

from babylm.commands.evaluate import main
from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR, load_blimp_dir

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_evaluate_writes_json_markdown_png_and_prints_summary(tmp_path, llama_dir, capsys):
    out = tmp_path / "report"
    assert main(["--model", str(llama_dir), "--blimp-dir", str(SAMPLE_BLIMP_DIR), "--out", str(out),
                 "--device", "cpu"]) == 0
    stdout = capsys.readouterr().out

    report = json.loads((out / "blimp.json").read_text(encoding="utf-8"))
    paradigms = load_blimp_dir(SAMPLE_BLIMP_DIR)
    assert set(report["paradigms"]) == {p.uid for p in paradigms}
    assert report["overall"]["pairs"] == sum(len(p.pairs) for p in paradigms)
    assert report["overall"]["accuracy"] == fmean(row["accuracy"] for row in report["paradigms"].values())
    assert set(report["phenomena"]) == {p.phenomenon for p in paradigms}
    assert set(report["fields"]) == {p.field for p in paradigms}
    assert report["settings"]["pairs_per_second"] > 0

    markdown = (out / "blimp.md").read_text(encoding="utf-8")
    for name in list(report["phenomena"]) + list(report["paradigms"]):
        assert f"| {name} |" in markdown
    assert f"{100 * report['overall']['accuracy']:.1f}%" in markdown

    png = (out / "blimp_phenomena.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE) and len(png) > 5000

    scores = [json.loads(line) for line in (out / "blimp_scores.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(scores) == report["overall"]["pairs"]
    assert sum(row["correct"] for row in scores) == sum(row["correct"] for row in report["paradigms"].values())

    assert "overall (mean of paradigms)" in stdout
    for phenomenon in report["phenomena"]:
        assert phenomenon in stdout
    assert str(out / "blimp.json") in stdout


def test_ties_appear_in_the_json_report(tmp_path, llama_dir, capsys):
    blimp = tmp_path / "blimp"
    blimp.mkdir()
    rows = [
        {"sentence_good": "The monks blamed themselves.", "sentence_bad": "The monks blamed themselves.",
         "pairID": "7"},
        {"sentence_good": "The monks blamed themselves.", "sentence_bad": "The monks blamed itself.", "pairID": "8"},
    ]
    (blimp / "toy.jsonl").write_text(
        "".join(json.dumps({**row, "field": "morphology", "linguistics_term": "anaphor_agreement", "UID": "toy"}) + "\n"
                for row in rows),
        encoding="utf-8",
    )
    assert main(["--model", str(llama_dir), "--blimp-dir", str(blimp), "--out", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "blimp.json").read_text(encoding="utf-8"))
    assert report["overall"]["ties"] == 1
    assert report["paradigms"]["toy"]["tied_pair_ids"] == ["7"]
    assert report["paradigms"]["toy"]["correct"] <= 1
    assert "(1 ties)" in capsys.readouterr().err


def test_user_errors_are_one_line_with_exit_code_2(tmp_path, llama_dir, capsys):
    blimp = tmp_path / "blimp"
    blimp.mkdir()
    (blimp / "bad.jsonl").write_text('{"sentence_good": "A.", "sentence_bad": "B.", "field": "f", '
                                     '"linguistics_term": "t", "UID": "u"}\n'
                                     "not json\n", encoding="utf-8")
    cases = [
        (["--model", str(llama_dir), "--blimp-dir", str(blimp)], f"{blimp / 'bad.jsonl'}:2:"),
        (["--model", str(tmp_path / "missing-model")], "no config.json"),
        (["--model", str(llama_dir), "--tasks", "blimp,squad"], "--tasks"),
        (["--model", str(llama_dir), "--tasks", "perplexity", "--val-file", str(tmp_path / "none.txt")],
         "none.txt: text file not found"),
    ]
    for argv, fragment in cases:
        assert main([*argv, "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("babylm evaluate: error: ") and fragment in err[-1], err
        assert not any("Traceback" in line for line in err)
    assert not (tmp_path / "out" / "blimp.json").exists()


def test_ties_correct_option_follows_the_harness_rule_everywhere(tmp_path, llama_dir):
    blimp = tmp_path / "blimp"
    blimp.mkdir()
    same = {"sentence_good": "The monks blamed themselves.", "sentence_bad": "The monks blamed themselves.",
            "pairID": "7", "field": "morphology", "linguistics_term": "anaphor_agreement", "UID": "toy"}
    (blimp / "toy.jsonl").write_text(json.dumps(same) + "\n", encoding="utf-8")
    for rule, correct in (("wrong", 0), ("correct", 1)):
        out = tmp_path / rule
        assert main(["--model", str(llama_dir), "--blimp-dir", str(blimp), "--out", str(out), "--ties", rule]) == 0
        report = json.loads((out / "blimp.json").read_text(encoding="utf-8"))
        assert report["overall"]["ties"] == 1 and report["overall"]["ties_count_as"] == rule
        assert report["paradigms"]["toy"]["correct"] == correct and report["settings"]["ties_count_as"] == rule
        [row] = [json.loads(line) for line in (out / "blimp_scores.jsonl").read_text(encoding="utf-8").splitlines()]
        assert row["correct"] is bool(correct)
        assert f"ties count as {rule}" in (out / "blimp.md").read_text(encoding="utf-8")


def test_out_never_overwrites_a_file_evaluate_did_not_write(tmp_path, llama_dir, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "blimp.md").write_text("my own notes")
    argv = ["--model", str(llama_dir), "--blimp-dir", str(SAMPLE_BLIMP_DIR), "--limit", "3", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "blimp.md exists and was not written by babylm evaluate" in err[0]
    assert [p.name for p in out.iterdir()] == ["blimp.md"] and (out / "blimp.md").read_text() == "my own notes"
    (out / "blimp.md").unlink()
    assert main(argv) == 0 and main(argv) == 0  # its own reports are replaced on the next run
    assert main(["--model", str(llama_dir), "--out", str(out / "blimp.json"), "--blimp-dir",
                 str(SAMPLE_BLIMP_DIR)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
