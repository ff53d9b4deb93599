"""The one-command pipeline: the bundled sample served locally, the real Gutenberg slice, page wikitext;
up-to-date stages skipped; sources kept apart; errors on one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from babylm import cli
from babylm.data import pipeline
from babylm.data.text.clean import iter_articles, residual_markup_counts
from tests.data.text_fixtures import PAGE_WIKITEXT, PG_SLICE

REPO = Path(__file__).resolve().parents[2]
STAGES = ("acquire", "convert", "combine", "clean", "split", "quality")


def stage_lines(out: str) -> dict[str, str]:
    """``{stage: summary}`` from the pipeline's ``prepare: <stage>: <summary>`` lines."""
    lines = [line.split(": ", 2) for line in out.splitlines() if line.startswith("prepare: ") and line.count(": ") >= 2]
    return {stage: summary for _, stage, summary in lines if stage in STAGES}


def split_articles_of(data: Path) -> tuple[list[str], list[str]]:
    train = list(iter_articles((data / "corpus_split" / "train.txt").read_text(encoding="utf-8").splitlines()))
    val = list(iter_articles((data / "corpus_split" / "val.txt").read_text(encoding="utf-8").splitlines()))
    return train, val


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> Path:
    """The whole pipeline run once on the bundled sample (served on 127.0.0.1)."""
    data = tmp_path_factory.mktemp("sample") / "data"
    assert pipeline.main(["--data-dir", str(data)]) == 0
    return data


def test_sample_source_prepares_the_split_end_to_end(sample_run):
    report = json.loads((sample_run / "corpus_split" / "split_report.json").read_text(encoding="utf-8"))
    assert report["mode"] == "everything" and report["val_fraction"] == 0.1
    scraped = list((sample_run / "britannica_data").glob("volume_*/part_*/*.json"))
    train, val = split_articles_of(sample_run)
    assert len(train) + len(val) == len(scraped) == report["input_articles"] > 10
    assert train and val and not set(train) & set(val)
    assert all(sum(residual_markup_counts(article).values()) == 0 for article in train + val)


def test_a_second_run_skips_every_stage_and_changes_nothing(sample_run, capsys):
    outputs = [*sample_run.glob("*.txt"), *(sample_run / "corpus_split").iterdir()]
    before = {path: path.stat().st_mtime_ns for path in outputs}
    capsys.readouterr()
    assert pipeline.main(["--data-dir", str(sample_run)]) == 0
    stages = stage_lines(capsys.readouterr().out)
    assert list(stages) == ["acquire", "convert", "combine", "clean", "split", "quality"]
    assert all(summary == "up to date, skipped" for summary in stages.values())
    assert {path: path.stat().st_mtime_ns for path in outputs} == before


def test_changed_options_and_inputs_rerun_only_what_depends_on_them(tmp_path, capsys):
    data = tmp_path / "data"
    assert pipeline.main(["--data-dir", str(data)]) == 0
    capsys.readouterr()
    assert pipeline.main(["--data-dir", str(data), "--strip-accents"]) == 0
    stages = stage_lines(capsys.readouterr().out)
    assert [name for name, summary in stages.items() if summary != "up to date, skipped"] == ["clean", "split",
                                                                                              "quality"]
    cleaned = (data / "encyclopedia_cleaned.txt").read_text(encoding="utf-8")
    assert "vergee" in cleaned and "vergée" not in cleaned
    article = next((data / "britannica_data").glob("volume_*/part_*/*.json"))
    record = json.loads(article.read_text(encoding="utf-8"))
    record["content"] += "\n\nAn added closing paragraph."
    article.write_text(json.dumps(record), encoding="utf-8")
    later = article.stat().st_mtime_ns + 10**9
    os.utime(article, ns=(later, later))
    assert pipeline.main(["--data-dir", str(data), "--strip-accents"]) == 0
    stages = stage_lines(capsys.readouterr().out)
    assert stages["convert"].startswith("1 converted")  # the scraper keeps the edited file (already on disk)
    assert all(stages[name] != "up to date, skipped" for name in ("combine", "clean", "split", "quality"))
    assert "An added closing paragraph." in (data / "encyclopedia_cleaned.txt").read_text(encoding="utf-8")


def test_gutenberg_source_on_the_real_slice(tmp_path, shared_data, capsys):
    data = tmp_path / "data"
    slice_file = str(shared_data / PG_SLICE)
    assert pipeline.main(["--source", "gutenberg", "--gutenberg-file", slice_file, "--data-dir", str(data)]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "--val-fraction" in error  # 310k words cannot meet 10M/2M
    assert pipeline.main(["--source", "gutenberg", "--gutenberg-file", slice_file, "--data-dir", str(data),
                          "--val-fraction", "0.1", "--seed", "7"]) == 0
    report = json.loads((data / "corpus_split" / "split_report.json").read_text(encoding="utf-8"))
    assert report["input_words"] > 300_000 and 0.1 <= report["val"]["words"] / report["input_words"] < 0.15
    train, val = split_articles_of(data)
    assert len(train) + len(val) == report["input_articles"] > 300
    text = "\n".join(train + val)
    assert "[v.04" not in text and "Project Gutenberg" not in text and "BRÉQUIGNY" in text
    assert sum(residual_markup_counts(text).values()) == 0


def test_wikitext_source_on_real_pages(tmp_path, shared_data):
    data = tmp_path / "data"
    pages = [str(shared_data / PAGE_WIKITEXT / name) for name in ("abbey_pages.json", "alloys_pages.json")]
    assert pipeline.main(["--source", "wikitext", "--wikitext-pages", *pages, "--data-dir", str(data),
                          "--val-fraction", "0.2"]) == 0
    train, val = split_articles_of(data)
    assert len(train) + len(val) == 13
    assert any(article.startswith("ABBEY (Lat. abbatia") for article in train + val)


def test_sources_do_not_mix_and_missing_options_are_named(tmp_path, sample_run, capsys):
    assert pipeline.main(["--source", "gutenberg", "--gutenberg-file", str(tmp_path / "x.txt"),
                          "--data-dir", str(sample_run)]) == 2
    assert "x.txt: input file not found" in capsys.readouterr().err
    slice_file = tmp_path / "slice.txt"
    slice_file.write_text("text", encoding="utf-8")
    assert pipeline.main(["--source", "gutenberg", "--gutenberg-file", str(slice_file),
                          "--data-dir", str(sample_run)]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "source 'sample'" in error and "--data-dir" in error
    assert pipeline.main(["--source", "gutenberg", "--data-dir", str(tmp_path / "d")]) == 2
    assert "--gutenberg-file" in capsys.readouterr().err


def test_prepare_is_a_babylm_command_and_the_script_is_thin(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["prepare", "--help"])
    assert exit_info.value.code == 0 and "--source" in capsys.readouterr().out
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "prepare_data.py"), "--help"],
                            capture_output=True, text=True, check=True)
    assert "skipping up-to-date stages" in " ".join(result.stdout.split())


def test_a_first_run_that_fails_early_does_not_bind_the_data_dir_to_its_source(tmp_path, capsys):
    data = tmp_path / "data"
    # the real site needs --contact: refused before anything is downloaded
    assert pipeline.main(["--source", "wikisource", "--data-dir", str(data)]) == 2
    assert "refused its options" in capsys.readouterr().err
    assert pipeline.main(["--data-dir", str(data)]) == 0  # the sample may still use this folder


@pytest.mark.parametrize("source, option", [("gutenberg", "--gutenberg-file"), ("wikitext", "--wikitext-pages")])
def test_an_empty_input_file_is_named_empty(tmp_path, capsys, source, option):
    empty = tmp_path / "EMPTY.txt"
    empty.write_bytes(b"")
    assert pipeline.main(["--source", source, option, str(empty), "--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{empty}: the file is empty; give {option} a file with the EB1911 text" in err[0], err
    assert "Volume N" not in err[0]


def test_re_ingesting_changed_input_leaves_no_article_of_the_old_input(tmp_path, shared_data, capsys):
    data = tmp_path / "data"
    pages = json.loads((shared_data / PAGE_WIKITEXT / "abbey_pages.json").read_text(encoding="utf-8"))
    few = tmp_path / "few_pages.json"
    few.write_text(json.dumps(pages[:3]), encoding="utf-8")
    common = ["--source", "wikitext", "--data-dir", str(data), "--val-fraction", "0.5"]
    assert pipeline.main([*common, "--wikitext-pages", str(shared_data / PAGE_WIKITEXT / "abbey_pages.json")]) == 0
    everything = {p.name for p in (data / "britannica_data").glob("volume_*/part_*/*.json")}
    capsys.readouterr()
    assert pipeline.main([*common, "--wikitext-pages", str(few)]) == 0
    now = {p.name for p in (data / "britannica_data").glob("volume_*/part_*/*.json")}
    assert now and now < everything  # the articles only the first input had are gone …
    stages = stage_lines(capsys.readouterr().out)
    assert stages["combine"].startswith(f"{len(now)} articles")  # … from every later stage too


def test_a_data_folder_prepared_before_manifests_is_rerun_in_place_but_a_hand_edit_is_not_overwritten(tmp_path,
                                                                                                      capsys):
    """A data folder of an earlier babylm has the stamps but not the ``.babylm-<stage>.json`` manifests: prepare
    adopts the outputs its own stamps show it wrote (same size and mtime) and re-runs; a file edited since is
    still refused."""
    data = tmp_path / "data"
    assert pipeline.main(["--data-dir", str(data)]) == 0
    manifests = [data / ".babylm-combine.json", data / ".babylm-clean.json",
                 data / "corpus_split" / ".babylm-split.json"]
    for manifest in manifests:
        manifest.unlink()  # as an earlier babylm left it
    capsys.readouterr()
    assert pipeline.main(["--data-dir", str(data), "--force"]) == 0
    stages = stage_lines(capsys.readouterr().out)
    assert all(stages[name] != "up to date, skipped" for name in ("combine", "clean", "split"))
    assert all(manifest.is_file() for manifest in manifests)

    (data / ".babylm-combine.json").unlink()
    combined = data / "combined_encyclopedia.txt"
    combined.write_text(combined.read_text(encoding="utf-8") + "<s>\nMy own notes.\n</s>\n", encoding="utf-8")
    assert pipeline.main(["--data-dir", str(data), "--force"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "combined_encyclopedia.txt exists and was not written by babylm combine" in err[0]
    assert combined.read_text(encoding="utf-8").endswith("My own notes.\n</s>\n")
