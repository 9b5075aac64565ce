"""In-article dedup: the committed ``pipeline/dedup.py`` against the working copy.

Loads the committed version (``git show REF:pipeline/dedup.py``, REF = HEAD unless
``--ref``) as a separate module, runs both ``find_duplicates`` on the same articles in the same
process, asserts that every decision is identical (position, reason, detail, matched position,
removed text, kept text), and prints the time of each.

Articles:

- real ones: every record under the raw roots (default ``bench/out/dedup-100k``, made by
  ``bench/bench_dedup.py``, and the committed sample ``data/raw``), prepared exactly as ``pipeline.clean.clean_record`` prepares
  them (markup stripped, ``fix_text``, ``split_paragraphs``, boilerplate positions skipped);
- synthetic ones, built from the sentences of the real ones with a fixed seed: repeated
  paragraphs, sentences and runs of sentences, lightly edited copies (typos, inserted words,
  other numbers or names), short dialogue lines, plus the cases of ``tests/test_clean.py``.

Equality is checked with the default ``DedupConfig`` and with a few other settings (the
timing uses the default only).

    python bench/bench_inarticle.py [--ref HEAD] [--raw DIR ...] [--repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import subprocess
import sys
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline import dedup as new_dedup  # noqa: E402
from pipeline.boilerplate import load_rules  # noqa: E402
from pipeline.config import DedupConfig  # noqa: E402
from pipeline.ingest import discover, read_file  # noqa: E402
from pipeline.markup import html_to_text, looks_like_html  # noqa: E402
from pipeline.records import RawRecord  # noqa: E402
from pipeline.repair import fix_text  # noqa: E402
from pipeline.segment import split_paragraphs, split_sentences  # noqa: E402

Article = tuple[list[str], frozenset[int]]  # paragraphs, positions skipped as boilerplate


def load_old(ref: str) -> types.ModuleType:
    """The committed pipeline/dedup.py as a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{ref}:pipeline/dedup.py"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType("dedup_old")
    module.__file__ = f"<{ref}:pipeline/dedup.py>"
    sys.modules["dedup_old"] = module  # dataclasses look their module up here
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def real_articles(roots: Sequence[Path]) -> list[Article]:
    """Paragraphs and boilerplate positions, as clean_record hands them to find_duplicates."""
    rules = load_rules()
    articles: list[Article] = []
    for root in roots:
        for rel in discover(root):
            for record in read_file(root, rel):
                if not isinstance(record, RawRecord):
                    continue
                text = html_to_text(record.text) if looks_like_html(record.text) else record.text
                paragraphs = split_paragraphs(fix_text(text).text)
                skip = frozenset(i for i, p in enumerate(paragraphs) if rules.match(p))
                articles.append((paragraphs, skip))
    return articles


# From tests/test_clean.py.
P1 = "The council voted on Tuesday to extend the ferry service through the winter, officials said."
P2 = "Mayor Elena Ruiz said the extension would be paid for from the port authority reserve fund."
TEST_CASES: list[list[str]] = [
    [P1, P2, P1],
    [P1, P2, "  " + P1.upper().replace(",", "")],
    [P1, P2, P2.replace("would be paid for", "will be paid")],
    ["– Yes.", P1, "– Certainly.", "– Yes.", P2, "– Certainly.", "— Да.", "— Да."],
    [
        "Shares of Northwind Energy fell 12 percent on Monday after the company cut its forecast.",
        "Shares of Northwind Energy fell 14 percent on Monday after the company cut its forecast.",
    ],
    [
        f"Shares of Northwind Energy fell 12 percent on Monday. {P1}",
        f"Shares of Southwind Energy fell 12 percent on Monday. {P1}",
    ],
    [f"{P1} {P2} The new schedule starts on December 1, with boats every 30 minutes.", P2],
    [f"{P1} {P2} {P1} {P2}"],
    [f"{P1} {P1} {P2} It was cold. {P1}"],
    [f"{P1} It was cold. {P2} It was cold."],
    ["", "   ", "!!!", "— …", "!!! ???", P1, "!!! ???"],
]


def _edit(sentence: str, rng: random.Random) -> str:
    """A lightly edited copy: the kinds of edits that republishing and scraping make."""
    kind = rng.randrange(6)
    words = sentence.split(" ")
    if kind == 0 and len(sentence) > 2:  # typo
        i = rng.randrange(1, len(sentence) - 1)
        return sentence[:i] + sentence[i + 1] + sentence[i] + sentence[i + 2 :]
    if kind == 1:  # inserted word
        words.insert(rng.randrange(len(words) + 1), rng.choice(["also", "still", "уже", "now"]))
    elif kind == 2 and len(words) > 3:  # deleted word
        del words[rng.randrange(len(words))]
    elif kind == 3:  # another number
        return "".join(str(rng.randrange(10)) if ch.isdigit() else ch for ch in sentence) + " 7"
    elif kind == 4 and len(words) > 1:  # another name
        words[rng.randrange(len(words))] = rng.choice(["Acme", "Beta", "Kyiv", "Ruiz"])
    else:  # case and punctuation
        return sentence.upper().replace(",", "") if rng.random() < 0.5 else sentence + "!"
    return " ".join(words)


def synthetic_articles(pool: list[str], n: int, seed: int = 1) -> list[Article]:
    """Articles with repeats of every kind find_duplicates knows, from real sentences."""
    rng = random.Random(seed)
    short = ["– Yes.", "– Certainly.", "It was cold.", "As it is today.", "Да.", "No."]
    articles: list[Article] = [(case, frozenset()) for case in TEST_CASES]
    for _ in range(n):
        base = rng.sample(pool, rng.randint(2, 12))
        paragraphs: list[str] = []
        for _ in range(rng.randint(2, 14)):
            r = rng.random()
            if r < 0.1:
                paragraphs.append(rng.choice(short))
            elif r < 0.2 and paragraphs:
                paragraphs.append(rng.choice(paragraphs))  # a whole paragraph again
            elif r < 0.3 and paragraphs:
                paragraphs.append(_edit(rng.choice(paragraphs), rng))  # a near copy
            else:
                k = rng.randint(1, 6)
                sentences = [
                    _edit(s, rng) if rng.random() < 0.2 else s
                    for s in rng.choices(base + short, k=k)
                ]
                if rng.random() < 0.2:  # a stutter: a run repeated inside the paragraph
                    i = rng.randrange(len(sentences))
                    sentences += sentences[i:]
                paragraphs.append(" ".join(sentences))
        skip = frozenset(i for i in range(len(paragraphs)) if rng.random() < 0.05)
        articles.append((paragraphs, skip))
    return articles


def as_rows(found: list[Any]) -> list[tuple[Any, ...]]:
    """Decisions as plain tuples (the two modules have two Duplicate classes)."""
    return [dataclasses.astuple(d) for d in found]


def run_all(
    find: Callable[..., list[Any]], articles: list[Article], cfg: DedupConfig
) -> tuple[float, list[list[tuple[Any, ...]]]]:
    start = time.perf_counter()
    results = [find(paragraphs, cfg, skip=skip) for paragraphs, skip in articles]
    elapsed = time.perf_counter() - start
    return elapsed, [as_rows(r) for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ref", default="HEAD", help="git revision of the old dedup.py")
    parser.add_argument(
        "--raw",
        type=Path,
        nargs="*",
        default=[REPO / "bench" / "out" / "dedup-100k", REPO / "data" / "raw"],
        help="raw roots to read articles from",
    )
    parser.add_argument("--synthetic", type=int, default=3000, help="synthetic articles")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs (best is shown)")
    args = parser.parse_args()

    old_dedup = load_old(args.ref)
    if Path(new_dedup.__file__).read_text() == subprocess.check_output(
        ["git", "show", f"{args.ref}:pipeline/dedup.py"], cwd=REPO, text=True
    ):
        print(f"note: pipeline/dedup.py is the same as {args.ref}:pipeline/dedup.py")

    real = real_articles([r for r in args.raw if r.exists()])
    pool = sorted(
        {s for paragraphs, _ in real[:2000] for p in paragraphs for s in split_sentences(p)}
    )
    synthetic = synthetic_articles(pool, args.synthetic)
    print(f"{len(real)} real articles, {len(synthetic)} synthetic")

    default = DedupConfig()
    variants = [
        default,
        DedupConfig(near_threshold=70.0, min_chars=0, span_min_chars=1),
        DedupConfig(near_threshold=95.5, contained_coverage=0.5),
        DedupConfig(near_threshold=100.0),
    ]
    compared = 0
    for cfg in variants:
        for name, articles in (("real", real), ("synthetic", synthetic)):
            _, old = run_all(old_dedup.find_duplicates, articles, cfg)
            _, new = run_all(new_dedup.find_duplicates, articles, cfg)
            for i, (a, b) in enumerate(zip(old, new, strict=True)):
                assert a == b, f"{name} article {i} with {cfg}:\nold {a}\nnew {b}"
            compared += len(articles)
            print(
                f"identical: {len(articles)} {name} articles, {sum(map(len, old))} decisions, {cfg}"
            )
    print(f"{compared} article runs compared, all identical")

    for name, articles in (("real", real), ("synthetic", synthetic)):
        t_old = min(
            run_all(old_dedup.find_duplicates, articles, default)[0] for _ in range(args.repeat)
        )
        t_new = min(
            run_all(new_dedup.find_duplicates, articles, default)[0] for _ in range(args.repeat)
        )
        print(
            f"{name:9} {len(articles):6} articles: old {t_old:7.3f} s, new {t_new:7.3f} s, "
            f"old/new {t_old / t_new:5.2f}x"
        )


if __name__ == "__main__":
    main()
