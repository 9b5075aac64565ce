"""Copies across articles and across runs: which paragraph goes, which stays, and why."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from pipeline.config import Config, DedupConfig
from pipeline.corpus import (
    Edge,
    Paragraph,
    candidate_pairs,
    decide,
    fingerprints,
    isin,
    verify,
)
from pipeline.dedup import match_key
from pipeline.ids import article_id
from pipeline.run import run_pipeline

from .helpers import rows

CFG = Config()

STORY = [
    "The city council voted on Tuesday to close the old Harbor Street bridge to cars from March, after engineers found cracks in two of its steel supports.",
    "Repairs are expected to take eighteen months and to cost the city about 12 million euros, most of it from the regional transport fund.",
    "Shopkeepers on both banks of the river said they feared losing customers, and asked the council for a free shuttle bus during the works.",
    "Mayor Ines Alvarez said the bridge would stay open to pedestrians and cyclists, and that a temporary ferry would run every twenty minutes.",
]
# A light edit of each: a word changed, added or dropped, other punctuation.
EDITED = [
    "The city council voted on Tuesday to close the old Harbor Street bridge to cars from March after engineers found cracks in two of its steel supports.",
    "Repairs are expected to take eighteen months and to cost the city roughly 12 million euros, most of it from the regional transport fund.",
    "Shopkeepers on both banks of the river said they feared losing customers and asked the council for a free shuttle bus during the works.",
    "Mayor Ines Alvarez said the bridge would remain open to pedestrians and cyclists, and that a temporary ferry would run every twenty minutes.",
]
OTHER = [
    "A new public library opened in the northern district on Saturday, with a reading room for children and a café run by volunteers.",
    "The building, a former tram depot, was restored over three years with money raised by residents and a grant from a national foundation.",
]


OWN_LINE = "Our reporter adds that the ferry will be free for residents of both banks."


def write(raw: Path, name: str, *articles: dict[str, Any]) -> None:
    path = raw / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles))


def art(url: str, when: str, paragraphs: list[str]) -> dict[str, Any]:
    return {"url": url, "published_at": when, "text": "\n".join(paragraphs)}


def aid(url: str) -> str:
    return article_id(url, "", 0)


def by_url(clean: Path) -> dict[str, dict[str, Any]]:
    return {a["url"]: a for a in rows(clean, "articles")}


def corpus_rows(clean: Path) -> list[tuple[Any, ...]]:
    """The cross-article removals: (article, position, reason, matched article, position)."""
    return sorted(
        (
            r["article_id"],
            -1 if r["position"] is None else r["position"],
            r["reason"],
            r["matched_article_id"],
            -1 if r["matched_position"] is None else r["matched_position"],
        )
        for r in rows(clean, "removed")
        if r["reason"].startswith("duplicate") and r["matched_article_id"] != r["article_id"]
    )


def test_a_lightly_edited_republication_points_to_the_original(tmp_path: Path) -> None:
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    # The copy sorts first by file name: the earlier publication wins, not the first file.
    write(
        raw,
        "a-copy.jsonl",
        art("https://b.example/copy", "2024-03-02T08:00:00Z", [*EDITED, OWN_LINE]),
    )
    write(raw, "z-original.jsonl", art("https://a.example/bridge", "2024-03-01T10:00:00Z", STORY))
    run_pipeline(raw, clean, CFG, workers=1)
    out = by_url(clean)
    original, copy = out["https://a.example/bridge"], out["https://b.example/copy"]
    assert original["text"] == "\n".join(STORY) and original["duplicate_of"] is None
    assert copy["text"] == OWN_LINE and copy["duplicate_of"] == original["article_id"]
    removed = [r for r in rows(clean, "removed") if r["article_id"] == copy["article_id"]]
    near = sorted(
        (r["position"], r["matched_position"], r["text"])
        for r in removed
        if r["position"] is not None
    )
    assert near == [(i, i, EDITED[i]) for i in range(4)]
    for r in removed:
        assert r["matched_article_id"] == original["article_id"]
        if r["position"] in (0, 2):  # edits of punctuation only: the same words
            assert (r["reason"], r["detail"]) == (
                "duplicate_exact",
                "exact copy of an earlier article",
            )
        elif r["position"] is not None:
            score = float(r["detail"].removeprefix("fuzz.ratio="))
            assert r["reason"] == "duplicate_near"
            assert score == pytest.approx(
                fuzz.ratio(STORY[r["position"]], EDITED[r["position"]]), abs=0.05
            )
    (article_row,) = [r for r in removed if r["position"] is None]
    assert article_row["reason"] == "duplicate_article" and article_row["text"] == ""
    assert article_row["detail"].endswith("of its characters copy an earlier article")


def test_a_quoted_paragraph_goes_but_the_article_stays_its_own(tmp_path: Path) -> None:
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    quote = "As the Harbor Ledger reported: “" + STORY[2] + "”"
    write(
        raw,
        "feed.jsonl",
        art("https://a.example/bridge", "2024-03-01T10:00:00Z", STORY),
        art("https://c.example/library", "2024-03-05T10:00:00Z", [OTHER[0], quote, OTHER[1]]),
    )
    run_pipeline(raw, clean, CFG, workers=1)
    library = by_url(clean)["https://c.example/library"]
    assert library["text"] == "\n".join(OTHER) and library["duplicate_of"] is None
    assert corpus_rows(clean) == [
        (aid("https://c.example/library"), 1, "duplicate_near", aid("https://a.example/bridge"), 2)
    ]


def test_an_excerpt_contained_in_an_earlier_paragraph_goes(tmp_path: Path) -> None:
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    long = STORY[0] + " " + STORY[1] + " " + STORY[2]
    write(
        raw,
        "feed.jsonl",
        art("https://a.example/long", "2024-03-01T10:00:00Z", [long]),
        art("https://d.example/brief", "2024-03-02T10:00:00Z", [OTHER[0], STORY[1]]),
    )
    run_pipeline(raw, clean, CFG, workers=1)
    (row,) = [
        r for r in rows(clean, "removed") if r["article_id"] == aid("https://d.example/brief")
    ]
    assert (row["position"], row["reason"], row["text"]) == (1, "duplicate_near", STORY[1])
    assert row["detail"].startswith("contained: fuzz.partial_ratio=")
    # The longer, later text is not removed for containing an earlier one's sentence.
    assert by_url(clean)["https://a.example/long"]["text"] == long


def test_templates_with_other_numbers_or_names_are_not_copies(tmp_path: Path) -> None:
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    market = "Shares of {} rose {} percent on Monday after the company raised its forecast for the year, citing strong demand in Asia."
    write(
        raw,
        "feed.jsonl",
        art(
            "https://m.example/1", "2024-03-01T10:00:00Z", [market.format("Northwind", 5), OTHER[0]]
        ),
        art(
            "https://m.example/2", "2024-03-02T10:00:00Z", [market.format("Northwind", 7), OTHER[1]]
        ),
        art(
            "https://m.example/3", "2024-03-03T10:00:00Z", [market.format("Eastgate", 5), STORY[0]]
        ),
    )
    run_pipeline(raw, clean, CFG, workers=1)
    assert corpus_rows(clean) == []
    assert all(a["duplicate_of"] is None for a in rows(clean, "articles"))


def test_short_lines_repeated_across_articles_are_content(tmp_path: Path) -> None:
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(
        raw,
        "feed.jsonl",
        art("https://i.example/1", "2024-03-01T10:00:00Z", ["– Yes.", STORY[0], "– Certainly."]),
        art("https://i.example/2", "2024-03-02T10:00:00Z", ["– Yes.", OTHER[0], "– Certainly."]),
    )
    run_pipeline(raw, clean, CFG, workers=1)
    assert by_url(clean)["https://i.example/2"]["text"] == "\n".join(
        ["– Yes.", OTHER[0], "– Certainly."]
    )


def test_ties_go_to_the_smallest_article_id(tmp_path: Path) -> None:
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    urls = ["https://t.example/one", "https://t.example/two"]
    first, second = sorted(urls, key=aid)
    write(raw, "a.jsonl", art(second, "2024-03-01T10:00:00Z", STORY))
    write(raw, "b.jsonl", art(first, "2024-03-01T10:00:00Z", STORY))
    run_pipeline(raw, clean, CFG, workers=1)
    assert by_url(clean)[second]["duplicate_of"] == aid(first)
    assert by_url(clean)[first]["text"] == "\n".join(STORY)


def test_an_earlier_copy_arriving_later_takes_over_and_the_old_row_is_revised(
    tmp_path: Path,
) -> None:
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "day2.jsonl", art("https://b.example/copy", "2024-03-02T08:00:00Z", EDITED))
    run_pipeline(raw, clean, CFG, workers=1)
    assert by_url(clean)["https://b.example/copy"]["text"] == "\n".join(EDITED)
    write(raw, "day1.jsonl", art("https://a.example/bridge", "2024-03-01T10:00:00Z", STORY))
    run_pipeline(raw, clean, CFG, workers=1)
    out = by_url(clean)
    assert out["https://a.example/bridge"]["text"] == "\n".join(STORY)
    assert out["https://b.example/copy"]["text"] == ""
    assert out["https://b.example/copy"]["duplicate_of"] == aid("https://a.example/bridge")
    # The file that held the original changes: the copy is its own article again.
    write(raw, "day1.jsonl", art("https://a.example/bridge", "2024-03-01T10:00:00Z", OTHER))
    run_pipeline(raw, clean, CFG, workers=1)
    out = by_url(clean)
    assert out["https://b.example/copy"]["text"] == "\n".join(EDITED)
    assert out["https://b.example/copy"]["duplicate_of"] is None
    assert corpus_rows(clean) == []


PARAGRAPH_POOL = [
    *STORY,
    *OTHER,
    "Farmers in the valley said the late frost had destroyed most of the apricot blossom, and that this year's harvest would be the smallest in a decade.",
    "The national weather service warned of strong winds along the coast on Thursday night, with gusts of up to ninety kilometres an hour expected.",
    "Police closed the main road into the old town for most of the afternoon while a bomb disposal team examined a suspicious package left near the station.",
    "Teachers at three secondary schools walked out for a day over pay, the first strike in the region's schools since the spring of two thousand and nine.",
]


def _lightly_edit(text: str, rnd: random.Random) -> str:
    words = text.split()
    i = rnd.randrange(1, len(words) - 1)
    return " ".join(words[:i] + rnd.choice([["also"], [], [words[i].upper()]]) + words[i + 1 :])


def _random_corpus(raw: Path, seed: int) -> None:
    rnd = random.Random(seed)
    articles = []
    for n in range(12):
        paragraphs = [
            p if rnd.random() < 0.6 else _lightly_edit(p, rnd)
            for p in rnd.sample(PARAGRAPH_POOL, rnd.randint(1, 4))
        ]
        day = rnd.randint(1, 4)  # ties on purpose
        articles.append(
            art(f"https://s{n % 3}.example/{n}", f"2024-03-0{day}T10:00:00Z", paragraphs)
        )
    rnd.shuffle(articles)
    for f in range(4):
        write(raw, f"f{f}.jsonl", *articles[f::4])


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), split=st.integers(1, 3))
def test_decisions_do_not_depend_on_file_order_workers_or_runs(
    tmp_path_factory: pytest.TempPathFactory, seed: int, split: int
) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    raw = tmp / "raw"
    _random_corpus(raw, seed)
    one = tmp / "one"
    run_pipeline(raw, one, CFG, workers=1)
    # Two workers, shards of one file, and the files in another order (other names).
    renamed = tmp / "renamed"
    for i, f in enumerate(sorted(raw.iterdir(), reverse=True)):
        (renamed).mkdir(exist_ok=True)
        shutil.copy(f, renamed / f"g{i}.jsonl")
    other = tmp / "other"
    run_pipeline(renamed, other, Config(run=type(CFG.run)(shard_mb=0.0001)), workers=2)
    # Two runs over two parts of the files.
    halves = tmp / "halves"
    staged = tmp / "staged"
    staged.mkdir()
    files = sorted(raw.iterdir())
    for f in files[:split]:
        shutil.copy(f, staged / f.name)
    run_pipeline(staged, halves, CFG, workers=1)
    for f in files[split:]:
        shutil.copy(f, staged / f.name)
    run_pipeline(staged, halves, CFG, workers=1)

    def view(clean: Path) -> list[tuple[Any, ...]]:
        return sorted(
            (a["article_id"], a["text"], a["duplicate_of"], a["n_paragraphs_out"])
            for a in rows(clean, "articles")
        )

    assert view(one) == view(other) == view(halves)
    assert corpus_rows(one) == corpus_rows(other) == corpus_rows(halves)


# -- the parts ------------------------------------------------------------------------------


def test_verify_scores_copies_and_refuses_other_facts() -> None:
    cfg = DedupConfig()
    assert verify(STORY[0], EDITED[0], cfg) == (
        pytest.approx(fuzz.ratio(STORY[0], EDITED[0]), abs=0.05),
        "ratio",
        False,
    )
    assert verify(STORY[1].replace("12", "15"), STORY[1], cfg) is None
    assert verify(STORY[3].replace("Ines Alvarez", "Paul Martin"), STORY[3], cfg) is None
    assert verify(STORY[0], STORY[1], cfg) is None
    # Contained, in either argument order: the flag says whether the first is the short one.
    long = STORY[0] + " " + STORY[1] + " " + STORY[2]
    assert verify(STORY[1], long, cfg)[1:] == ("contained", True)
    assert verify(long, STORY[1], cfg)[1:] == ("contained", False)


def test_candidates_find_light_edits_and_not_unrelated_texts() -> None:
    texts = [*STORY, *EDITED, *OTHER]
    bands = fingerprints([match_key(t) for t in texts])
    pairs = {tuple(p) for p in candidate_pairs(bands, np.ones(len(texts), dtype=bool)).tolist()}
    assert {(i, i + 4) for i in range(4)} <= pairs
    assert not any(i >= 8 or j >= 8 for i, j in pairs)
    # Only pairs with a new text: the old ones were judged by an earlier run.
    old_only = candidate_pairs(bands, np.array([False] * 4 + [True] * 4 + [False] * 2))
    assert {tuple(p) for p in old_only.tolist()} == {(i, i + 4) for i in range(4)}
    # Some rows only, taken band by band from band-major keys: indices are into those rows.
    rows = np.array([0, 2, 4, 6, 8])  # STORY[0], STORY[2], EDITED[0], EDITED[2], OTHER[0]
    subset = candidate_pairs(np.ascontiguousarray(bands.T).T, np.ones(5, bool), rows=rows)
    assert subset.tolist() == [[0, 2], [1, 3]]
    assert subset.tolist() == candidate_pairs(bands[rows], np.ones(5, bool)).tolist()


def test_decide_keeps_the_first_copy_and_never_points_to_a_removed_one() -> None:
    # Texts 1 ~ 2 ~ 3 (a chain), 1 and 3 not close enough to match directly.
    p = [
        Paragraph(rank=0, line=0, article_id="A", position=0, key=1, text_hash=1, chars=100),
        Paragraph(rank=1, line=0, article_id="B", position=5, key=2, text_hash=2, chars=100),
        Paragraph(rank=2, line=0, article_id="C", position=0, key=3, text_hash=3, chars=100),
        Paragraph(rank=3, line=1, article_id="D", position=1, key=1, text_hash=1, chars=100),
    ]
    edges = [Edge(1, 2, 90.0, "ratio"), Edge(2, 3, 90.0, "ratio")]
    out = decide(p, edges)
    assert [(d.article_id, d.reason, d.matched_article_id, d.matched_position) for d in out] == [
        ("B", "duplicate_near", "A", 0),
        ("D", "duplicate_exact", "A", 0),
    ]
    # A "contained" edge removes only the contained text.
    assert decide(p[:2], [Edge(1, 2, 95.0, "contained")]) == []
    (d,) = decide(p[:2], [Edge(2, 1, 95.0, "contained")])
    assert (d.article_id, d.detail) == ("B", "contained: fuzz.partial_ratio=95.0")


@given(
    values=st.lists(st.integers(0, 2**64 - 1) | st.integers(0, 20), max_size=40),
    keys=st.lists(st.integers(0, 2**64 - 1) | st.integers(0, 20), max_size=40),
)
def test_isin_is_numpys(values: list[int], keys: list[int]) -> None:
    v, k = np.array(values, np.uint64), np.array(keys, np.uint64)
    assert isin(v, k).tolist() == np.isin(v, k).tolist()
