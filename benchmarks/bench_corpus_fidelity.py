"""Benchmark: corpus fidelity on real EB1911 — article boundaries, words, split — before and after, side by side.

Run: ``python benchmarks/bench_corpus_fidelity.py [--base 3bf21e4] [--quality-only]``.
Measures the same figures on two checkouts in one run — the ``--base`` commit (extracted with ``git archive``
into a temporary folder) and this working tree — each in its own child process importing its own package:

* **Gutenberg** (real slice ``eb1911/gutenberg/19699-8.txt``): articles found (311 headwords counted by
  hand, see ``tests/data/sources/test_gutenberg.py``); on ``../shared/cases/corpus/gutenberg_*.txt`` the
  titles and the words that landed in a bogus article.
* **Wikisource page wikitext**: the share of words that reach the right article — on the named-sections
  case (``wikitext_named_sections.json``, right articles from its README) and on the real ABBEY + ALLOYS
  pages (``Page:EB1911 - Volume 01.djvu/42–53, 746–751`` ingested together; right articles from the pages'
  sections; the tail of an article begun on a page the input lacks belongs to no article). A word is in the
  right article when the article of that title holds it (multiset overlap with the right text).
* **Hyphenation** (real OCR ``internet-archive-ocr/vol5_trunc.txt`` through the clean stage): line-end joins
  that made a word the text never has in-line while it has the hyphenated form.
* **Split** (``--val-fraction 0.1`` on one 50,000-word article among 200 of 400–900 words, 20 seeds): the
  val share, min–max.

Then writes ``quality.md`` for the real material — the Gutenberg slice and the page wikitext (ingested),
and the 14 pre-assembled Wikisource articles stored with their raw wikitext as content (recorded as route
``article-wikitext/pre-assembled``), through every text stage with this checkout — and prints it. (The OCR
volume has no article boundaries; its figures are in the table above.)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_line, measure_in_child  # noqa: E402  (benchmarks/harness.py)

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

CHILD = r'''
import json, re, sys, tempfile
from collections import Counter
from pathlib import Path
root, shared = sys.argv[1], Path(sys.argv[2])
sys.path.insert(0, root)
from babylm.data.sources.gutenberg import split_articles, decode_gutenberg
from babylm.data.sources.wikitext import ingest_pages
from babylm.data.sources.wikitext_render import render_wikitext
from babylm.data.text.clean import clean_file, iter_articles
from babylm.data.text.split import SplitOptions, plan_split, summarise

data, cases = shared / "data", shared / "cases" / "corpus"
result = {}
raw = (data / "eb1911/gutenberg/19699-8.txt").read_bytes()
result["gutenberg_articles"] = len(split_articles(decode_gutenberg(raw, "19699-8.txt"))[1])
for name in ("gutenberg_part_title.txt", "gutenberg_quoted_capital.txt"):
    _, articles = split_articles(decode_gutenberg((cases / name).read_bytes(), name))
    right = {"DUBLIN", "DUEL", "IMMUNITY", "INCOME TAX"}
    result[name] = {"titles": [a.title for a in articles],
                    "words_in_bogus_articles": sum(len(a.content.split()) for a in articles if a.title not in right)}

def right_share(truth, out):
    got = {}
    for path in Path(out).glob("volume_*/part_*/*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        got[record["title"]] = got.get(record["title"], "") + " " + record["content"]
    total = sum(len(text.split()) for text in truth.values())
    right = sum(sum((Counter(got.get(t, "").split()) & Counter(text.split())).values()) for t, text in truth.items())
    wrong = sum(len(text.split()) for t, text in got.items()) - right
    return {"right": right, "total": total, "share": round(right / total, 4), "words_elsewhere": wrong}

def sections(page_text):
    return {m.group(1): m.group(2)
            for m in re.finditer(r'<section begin="?([^"/]+?)"? />(.*?)<section end="?\1"? />', page_text, re.S)}

named = json.loads((cases / "wikitext_named_sections.json").read_text(encoding="utf-8"))
p120, p121 = (sections(p["raw_text"]) for p in named)
truth = {"BOLT, ROBERT": render_wikitext(p120["Bolt, Robert"]), "BOLUS": render_wikitext(p120["Bolus"]),
         "BOMB": "BOMB, a hollow projectile filled with powder. In the reign of Louis XIV. they weighed 200 lb and "
                 "more; the charge was 10³ grains.",
         "BOMBARDIER, ÉTIENNE": "BOMBARDIER, ÉTIENNE (1760–1832), French engineer."}
with tempfile.TemporaryDirectory() as out:
    ingest_pages([cases / "wikitext_named_sections.json"], out)
    result["named_sections"] = right_share(truth, out)

pages = {}
for name in ("abbey_pages.json", "alloys_pages.json"):
    for p in json.loads((data / "wikisource/page-wikitext" / name).read_text(encoding="utf-8")):
        pages[p["page_number"]] = p["raw_text"]
spans = {"ABBESS": [(42, "s2")], "ABBEVILLE": [(42, "s3")], "ABBEY, EDWIN AUSTIN": [(42, "s4")],
         "ABBEY": [(42, "s5")] + [(n, s) for n in range(43, 53) for s in sections(pages[n])] + [(53, "s1")],
         "ABBON OF FLEURY": [(53, "s2")], "ABBOT, EZRA": [(53, "s3")], "ABBOT, GEORGE": [(53, "s4")],
         "ALLOTROPY": [(746, "s2")], "ALLOWANCE": [(746, "s3")], "ALLOXAN": [(746, "s4")],
         "ALLOXANTIN": [(746, "Alloxantin")],
         "ALLOYS": [(746, "s5"), (747, None), (748, "s1"), (748, "s2"), (749, None), (750, None), (751, "s1")],
         "ALLPORT, SIR JAMES JOSEPH": [(751, "s2")]}
truth = {title: render_wikitext("\n".join(re.sub(r"<noinclude>.*?</noinclude>", "", pages[n], flags=re.S) if s is None
                                         else sections(pages[n])[s] for n, s in where))
         for title, where in spans.items()}
with tempfile.TemporaryDirectory() as out:
    ingest_pages([data / "wikisource/page-wikitext/abbey_pages.json",
                  data / "wikisource/page-wikitext/alloys_pages.json"], out)
    result["abbey_alloys_pages"] = right_share(truth, out)

ocr = data / "eb1911/internet-archive-ocr/vol5_trunc.txt"
text = ocr.read_text(encoding="utf-8")
inline = Counter(w.casefold()
                 for w in re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)*", re.sub(r"-[ \t]*\n[ \t]*", "\x00", text)))
pairs = [(a.group(0), b.group(0)) for m in re.finditer(r"-[ \t]*\n[ \t]*", text)
         for a in [re.search(r"[^\W\d_]+$", text[max(0, m.start() - 60): m.start()])]
         for b in [re.match(r"[^\W\d_]+", text[m.end(): m.end() + 60])]
         if a and b and a.group(0)[-1].islower() and b.group(0)[0].islower()]
suspect = {(l + r).casefold() for l, r in pairs if inline[f"{l}-{r}".casefold()] and not inline[(l + r).casefold()]}
with tempfile.TemporaryDirectory() as out:
    clean_file(ocr, Path(out) / "c.txt")
    cleaned = Counter(w.casefold() for w in re.findall(r"[^\W\d_]+", (Path(out) / "c.txt").read_text(encoding="utf-8")))
result["hyphenation"] = {"line_end_pairs": len(pairs),
                         "hyphenated_attested_fused_not": sum(1 for l, r in pairs if (l + r).casefold() in suspect),
                         "wrong_joins": sum(cleaned[w] for w in suspect)}
counts = [50_000] + [400 + (i * 37) % 500 for i in range(200)]
shares = [summarise(counts, plan_split(counts, SplitOptions(val_fraction=0.1, seed=s)))["val"]["words"] / sum(counts)
          for s in range(20)]
result["split_val_share"] = [round(min(shares), 4), round(max(shares), 4)]
print(json.dumps(result, ensure_ascii=False))
'''


def quality_page(folder: Path) -> str:
    """Every text stage of this checkout on the real material; returns quality.md."""
    sys.path.insert(0, str(REPO))
    from babylm.data.articles import article_relpath, part_of, record_ingest, safe_stem, write_article
    from babylm.data.sources.gutenberg import ingest_slice
    from babylm.data.sources.wikitext import ingest_pages
    from babylm.data.text import clean, combine, convert, quality, split

    data = folder / "data"
    raw = data / "britannica_data"
    ingest_slice(SHARED / "data/eb1911/gutenberg/19699-8.txt", raw)
    pages = SHARED / "data/wikisource/page-wikitext"
    ingest_pages([pages / "abbey_pages.json", pages / "alloys_pages.json"], raw)
    routes = {}
    for path in sorted((SHARED / "data/wikisource/article-wikitext-britannica-edition").glob("*.input.txt")):
        volume, page, _, title = path.name.removesuffix(".input.txt").split("-", 3)
        relpath = article_relpath(int(volume), part_of(int(page)), safe_stem(title + " (pre-assembled)"))
        write_article(raw / relpath, url=path.as_uri(), title=title, content=path.read_text(encoding="utf-8"),
                      timestamp="")
        routes[relpath] = "pre-assembled"
    record_ingest(raw, "article-wikitext", {"source": "article-wikitext", "articles": routes})
    convert.convert_tree(raw, data / "britannica_txt")
    combine.combine_tree(data / "britannica_txt", data / "combined_encyclopedia.txt")
    clean.clean_file(data / "combined_encyclopedia.txt", data / "encyclopedia_cleaned.txt")
    split.split_file(data / "encyclopedia_cleaned.txt", data / "corpus_split", split.SplitOptions(val_fraction=0.1))
    quality.write_report(data)
    return ((data / "quality.md").read_text(encoding="utf-8").replace("\n## ", "\n#### ")
            .replace("# Corpus quality", "### quality.md"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="3bf21e4", help="the commit to compare with (default: %(default)s)")
    parser.add_argument("--quality-only", action="store_true", help="only write and print quality.md")
    args = parser.parse_args()
    print(machine_line(check_gpu=False, packages=("lxml",)))
    print(f"command: python benchmarks/bench_corpus_fidelity.py --base {args.base}")
    with tempfile.TemporaryDirectory(prefix="bench-fidelity-") as scratch:
        folder = Path(scratch)
        if not args.quality_only:
            base = folder / "base"
            base.mkdir()
            archive = subprocess.run(["git", "archive", args.base, "babylm"], cwd=REPO, capture_output=True,
                                     check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
            (folder / "child.py").write_text(CHILD, encoding="utf-8")
            results = {}
            for name, root in ((args.base, base), ("this tree", REPO)):
                result, error = measure_in_child([str(folder / "child.py"), str(root), str(SHARED)], REPO)
                if result is None:
                    raise SystemExit(f"{name}: {error}")
                results[name] = result
            print()
            print(f"| figure | {args.base} | this tree |")
            print("|---|---|---|")
            for key, label in (
                ("gutenberg_articles", "Gutenberg #19699: articles (hand count 311)"),
                ("gutenberg_part_title.txt", "case gutenberg_part_title: titles / words in bogus articles"),
                ("gutenberg_quoted_capital.txt", "case gutenberg_quoted_capital: titles / words in bogus articles"),
                ("named_sections", "case wikitext_named_sections: words in the right article"),
                ("abbey_alloys_pages", "real ABBEY + ALLOYS pages: words in the right article (words elsewhere)"),
                ("hyphenation", "OCR vol. I: joins making an unattested word whose hyphenated form is attested"),
                ("split_val_share", "split --val-fraction 0.1, one 50k-word article: val share over 20 seeds"),
            ):
                cells = []
                for name in (args.base, "this tree"):
                    value = results[name][key]
                    if key.startswith("gutenberg_") and isinstance(value, dict):
                        cells.append(f"{', '.join(value['titles'])} / {value['words_in_bogus_articles']}")
                    elif key in ("named_sections", "abbey_alloys_pages"):
                        cells.append(f"{value['share']:.1%} ({value['right']:,}/{value['total']:,}; "
                                     f"{value['words_elsewhere']:,} elsewhere)")
                    elif key == "hyphenation":
                        cells.append(f"{value['wrong_joins']} of {value['line_end_pairs']:,} line-end hyphens "
                                     f"({value['hyphenated_attested_fused_not']} candidates)")
                    elif key == "split_val_share":
                        cells.append(f"{value[0]:.1%} – {value[1]:.1%}")
                    else:
                        cells.append(str(value))
                print(f"| {label} | {cells[0]} | {cells[1]} |")
        print()
        print(quality_page(folder))


if __name__ == "__main__":
    main()
