"""Combine stage: stable (volume, part, title) order, one blank-line separated block per article."""

from __future__ import annotations

import logging
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from babylm.data.text import combine
from babylm.data.text.clean import iter_blocks
from babylm.data.text.combine import article_block, article_sort_key, combine_tree


def write_txt(root: Path, relative: str, text: str | bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


def test_articles_come_in_volume_part_title_order_with_numeric_volumes(tmp_path):
    root = tmp_path / "txt"
    write_txt(root, "volume_10/part_01/AARDVARK.txt", "ten")
    write_txt(root, "volume_02/part_03/apple.txt", "two-three lower")
    write_txt(root, "volume_02/part_03/Banana.txt", "two-three B")
    write_txt(root, "volume_02/part_11/ABBEY.txt", "two-eleven")
    write_txt(root, "volume_02/part_03/APPLE~1234abcd.txt", "two-three upper")
    write_txt(root, "volume_09/part_01/ZEBRA.txt", "nine")
    output = tmp_path / "combined.txt"
    stats = combine_tree(root, output)
    blocks = list(iter_blocks(output.read_text(encoding="utf-8").splitlines()))
    assert blocks == ["two-three lower", "two-three upper", "two-three B", "two-eleven", "nine", "ten"]
    assert stats.articles == 6


def test_blank_lines_inside_an_article_are_dropped_so_blocks_stay_articles(tmp_path):
    root = tmp_path / "txt"
    write_txt(root, "volume_01/part_01/A.txt", "A, the first letter.\n\n\nSecond paragraph.   \n\n")
    write_txt(root, "volume_01/part_01/B.txt", "\n\n")
    write_txt(root, "volume_01/part_01/C.txt", b"caf\xe9 in Latin-1")
    output = tmp_path / "combined.txt"
    stats = combine_tree(root, output)
    assert output.read_text(encoding="utf-8") == "A, the first letter.\nSecond paragraph.\n\n"
    assert (stats.articles, stats.empty, stats.unreadable) == (1, 1, 1)


def test_unreadable_file_is_warned_about(tmp_path, caplog):
    root = tmp_path / "txt"
    write_txt(root, "volume_01/part_01/BAD.txt", b"\xff\xfe\x00")
    write_txt(root, "volume_01/part_01/GOOD.txt", b"Good text.")
    with caplog.at_level(logging.WARNING, logger="babylm.data.text.combine"):
        combine_tree(root, tmp_path / "out.txt")
    assert "BAD.txt" in caplog.text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_article_text_makes_exactly_one_block(text):
    block = article_block(text)
    blocks = list(iter_blocks(block.splitlines()))
    assert blocks == ([] if not block else [block.rstrip("\n")])


def test_sort_key_puts_unnumbered_folders_last():
    assert article_sort_key(Path("volume_02/part_01/x.txt")) < article_sort_key(Path("volume_x/part_01/a.txt"))


def test_main_missing_input_is_one_line_exit_2(tmp_path, capsys):
    assert combine.main(["--input", str(tmp_path / "none"), "--output", str(tmp_path / "c.txt")]) == 2
    assert "\n" not in capsys.readouterr().err.strip()


def test_outputs_that_are_folders_or_files_in_the_way_are_one_line_errors(tmp_path, capsys):
    from babylm.data.text import clean, combine, split

    (tmp_path / "folder").mkdir()
    (tmp_path / "a-file").write_text("mine")
    (tmp_path / "in.txt").write_text("<s>\nSome text.\n</s>\n\n", encoding="utf-8")
    (tmp_path / "volume_01" / "part_01").mkdir(parents=True)
    (tmp_path / "volume_01" / "part_01" / "A.txt").write_text("Some text.", encoding="utf-8")
    runs = [(combine.main, ["--input", str(tmp_path), "--output", str(tmp_path / "folder")]),
            (clean.main, ["--input", str(tmp_path / "in.txt"), "--output", str(tmp_path / "folder")]),
            (split.main, ["--input", str(tmp_path / "in.txt"), "--output-dir", str(tmp_path / "a-file"),
                          "--val-fraction", "0.5"])]
    for main, argv in runs:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ("folder: is a folder" in err or "a-file" in err)
    assert (tmp_path / "a-file").read_text() == "mine" and list((tmp_path / "folder").iterdir()) == []


def test_an_empty_text_tree_is_refused_and_the_output_left_as_it_was(tmp_path, capsys):
    out = tmp_path / "combined.txt"
    earlier = tmp_path / "earlier" / "volume_01" / "part_01" / "Abbey.txt"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("earlier\n", encoding="utf-8")
    assert combine.main(["--input", str(tmp_path / "earlier"), "--output", str(out)]) == 0  # an output of combine's
    capsys.readouterr()
    (tmp_path / "empty").mkdir()
    assert combine.main(["--input", str(tmp_path / "empty"), "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "empty: no article text files" in err[0] and "run the convert stage" in err[0]
    blank = tmp_path / "blank" / "volume_01" / "part_01" / "Abbey.txt"
    blank.parent.mkdir(parents=True)
    blank.write_text("  \n\n", encoding="utf-8")
    assert combine.main(["--input", str(tmp_path / "blank"), "--output", str(out)]) == 2
    assert "all 1 article text files are empty or unreadable" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "earlier\n\n"
