"""Boilerplate learned from what repeats within a source: which lines go, with which template,
and which repeated lines stay."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import Config, load_config
from pipeline.dedup import match_key
from pipeline.ids import article_id
from pipeline.learned import HEAD, LEAD, SHAPE, _words, _words_of_key, line_keys, template
from pipeline.run import run_pipeline
from pipeline.store import Store

from .helpers import WORDS, rows

# Rules off: what is removed here is learned, or nothing.
LEARN_ONLY = load_config(None, {"boilerplate": {"builtin_rules": False}})
RULES_ONLY = load_config(None, {"boilerplate": {"learn": False}})

SITE = "ledger.example"
BANNER = "The Harbor Ledger: news from the bay since 1921"  # a head, but its tail never varies
EDITION = "Edition {n} · {day} March 2024"  # numbers and dates differ
PROMO = "MORE FROM THE LEDGER: {headline}"  # a varying tail
DIALOGUE = ["– Yes.", "– No.", "— Да."]


def body(rng: random.Random, n: int = 4) -> list[str]:
    """Paragraphs of made-up content, none like another."""
    return [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 40))).capitalize() + "."
        for _ in range(n)
    ]


def page(host: str, k: int, lines: list[str], day: int | None = None) -> dict[str, Any]:
    return {
        "url": f"https://{host}/news/{k}",
        "published_at": f"2024-03-{day or k + 1:02d}T10:00:00Z",
        "text": "\n".join(lines),
    }


def ledger_page(k: int, rng: random.Random) -> tuple[dict[str, Any], list[str], list[str]]:
    """A page of the Ledger, its content, and its chrome."""
    content = body(rng)
    headline = f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} and {rng.choice(WORDS)}"
    chrome_top = [BANNER]
    chrome_mid = [PROMO.format(headline=f"{headline} {k}")]
    chrome_end = [EDITION.format(n=400 + k, day=k + 1)]
    lines = chrome_top + content[:2] + chrome_mid + content[2:] + chrome_end
    return page(SITE, k, lines), content, chrome_top + chrome_mid + chrome_end


def write(raw: Path, name: str, records: list[dict[str, Any]]) -> None:
    path = raw / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def run_ledger(
    tmp_path: Path, pages: int, cfg: Config, seed: int = 1
) -> tuple[Path, list[tuple[dict[str, Any], list[str], list[str]]]]:
    """One run over ``pages`` pages of the Ledger: the clean root and the pages."""
    rng = random.Random(seed)
    made = [ledger_page(k, rng) for k in range(pages)]
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "ledger.jsonl", [p for p, _, _ in made])
    run_pipeline(raw, clean, cfg, workers=1)
    return clean, made


def learned_rows(clean: Path) -> list[dict[str, Any]]:
    return [r for r in rows(clean, "removed") if r["reason"] == "boilerplate_learned"]


def removed_by(clean: Path, url: str) -> list[tuple[str, str, str]]:
    """(text, reason, detail) of what was removed from one article, in order."""
    aid = article_id(url, "", 0)
    found = [r for r in rows(clean, "removed") if r["article_id"] == aid]
    found.sort(key=lambda r: (r["position"] is None, r["position"] or 0))
    return [(r["text"], r["reason"], r["detail"]) for r in found]


def text_of(clean: Path, url: str) -> str:
    (row,) = [a for a in rows(clean, "articles") if a["url"] == url]
    return str(row["text"])


# -- keys and templates ------------------------------------------------------------------------


_PIECES = [
    "a",
    "Word",
    "ß",
    "ё",
    "_",
    "-",
    "+",
    "−",
    "$",
    "€",
    "5",
    "12",
    "٣",
    "²",
    " ",
    ",",
    ".",
    "March",
    "мая",
    "covid19",
    "10am",
    "\u00a0",
    "'",
]


@given(st.lists(st.sampled_from(_PIECES), max_size=30))
def test_words_from_the_match_key_are_the_words_of_the_text(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert _words_of_key(match_key(text)) == _words(text)
    assert line_keys(text, True, match_key(text) or None) == line_keys(text, True)


def test_numbers_and_dates_share_a_shape_and_words_do_not() -> None:
    a = line_keys("Edition 412 · 3 March 2024")
    b = line_keys("Edition 97 · 28 September 2025")
    c = line_keys("Edition 412 · 3 March 2024, evening")
    assert a[0] == b[0] != c[0]
    assert (
        line_keys("Обновлено 3 марта 2024 в 10:32")[0]
        == line_keys("Обновлено 5 мая 2023 в 9:05")[0]
    )


def test_a_head_is_shared_by_tails_that_vary() -> None:
    a = line_keys("MORE FROM THE LEDGER: Storm closes the bridge")
    b = line_keys("More from the Ledger » Budget vote delayed again")
    assert a[1] == b[1] != 0 and a[0] != b[0]
    assert (
        line_keys("Читайте также: Мэр открыл новый мост")[1]
        == (line_keys("Читайте также — Выборы перенесли")[1])
    )


def test_dialogue_numbers_alone_and_long_lines_get_no_template_keys() -> None:
    for line in [
        "– Yes.",
        "— Да.",
        "—Нет.",
        "- Ok.",
        "“Never,” she said.",
        "$139.00",
        "02-751-1500",
    ]:
        assert line_keys(line) == (0, 0, 0), line
    long_line = "WASHINGTON (AP) — " + "The Senate voted on the budget bill late on Tuesday. " * 5
    assert line_keys(long_line)[1:] == (0, 0)  # a dateline is not a promo's head


def test_a_sentence_has_no_lead_key_and_a_promo_line_has_one() -> None:
    assert line_keys("Про це повідомляє агентство Reuters з посиланням на джерело.")[2] == 0
    assert line_keys("Keep reading on the Ledger app for the storm coverage")[2] != 0


def test_templates_show_what_varies() -> None:
    assert template("Edition 412 · 3 March 2024", SHAPE) == "Edition * · * * *"
    assert template("MORE FROM THE LEDGER: Storm closes the bridge", HEAD) == (
        "MORE FROM THE LEDGER: *"
    )
    assert template("Keep reading on the Ledger app for more", LEAD) == "Keep reading on *"
    assert template("Фото: Иван Петров", HEAD) == "Фото: *"


# -- in a run ----------------------------------------------------------------------------------


def test_a_sources_chrome_is_learned_with_its_templates(tmp_path: Path) -> None:
    clean, pages = run_ledger(tmp_path, 6, LEARN_ONLY)
    for k, (record, content, chrome) in enumerate(pages):
        assert text_of(clean, record["url"]) == "\n".join(content)
        assert removed_by(clean, record["url"]) == [
            (BANNER, "boilerplate_learned", "The Harbor Ledger: news from the bay since *"),
            (chrome[1], "boilerplate_learned", "MORE FROM THE LEDGER: *"),
            (chrome[2], "boilerplate_learned", "Edition * · * * *"),
        ], k


def test_rules_alone_learn_nothing(tmp_path: Path) -> None:
    clean, _ = run_ledger(tmp_path, 6, RULES_ONLY)
    assert learned_rows(clean) == []


def test_a_line_in_two_articles_is_not_enough(tmp_path: Path) -> None:
    clean, _ = run_ledger(tmp_path, 2, LEARN_ONLY, seed=2)
    assert learned_rows(clean) == []


def test_repeated_dialogue_and_a_story_published_again_stay(tmp_path: Path) -> None:
    """Dialogue lines repeat across a source's interviews; a story the source publishes three
    times repeats whole: neither is chrome (the story's copies are the dedup's business)."""
    rng = random.Random(3)
    story = body(rng, 5)
    records, interviews = [], []
    for k in range(6):
        content = body(rng, 3)
        lines = [content[0], *DIALOGUE, content[1], DIALOGUE[0], content[2]]
        interviews.append(lines)
        records.append(page("talk.example", k, lines))
    for k in range(3):
        records.append(page("talk.example", 10 + k, story, day=20 + k))
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "talk.jsonl", records)
    run_pipeline(raw, clean, LEARN_ONLY, workers=1)
    assert learned_rows(clean) == []
    for k, lines in enumerate(interviews):
        assert text_of(clean, f"https://talk.example/news/{k}") == "\n".join(lines)
    assert text_of(clean, "https://talk.example/news/10") == "\n".join(story)
    again = removed_by(clean, "https://talk.example/news/11")
    assert [reason for _, reason, _ in again] == ["duplicate_exact"] * 5 + ["duplicate_article"]


def test_a_later_run_removes_a_known_sources_chrome_from_new_articles(tmp_path: Path) -> None:
    rng = random.Random(4)
    pages = [ledger_page(k, rng) for k in range(8)]
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "day1.jsonl", [p for p, _, _ in pages[:6]])
    run_pipeline(raw, clean, LEARN_ONLY, workers=1)
    before = {r["article_id"]: r["run_id"] for r in pq.read_table(clean / "articles").to_pylist()}
    write(raw, "day2.jsonl", [p for p, _, _ in pages[6:]])  # two new articles
    run_pipeline(raw, clean, LEARN_ONLY, workers=1)
    for record, content, chrome in pages[6:]:
        assert text_of(clean, record["url"]) == "\n".join(content)
        assert [(t, r) for t, r, _ in removed_by(clean, record["url"])] == [
            (line, "boilerplate_learned") for line in chrome
        ]
    after = pq.read_table(clean / "articles").to_pylist()
    assert {r["article_id"]: r["run_id"] for r in after if r["article_id"] in before} == before


def test_chrome_learned_in_history_reaches_old_articles_once_it_is_learned(
    tmp_path: Path,
) -> None:
    """Two articles are not enough; the third, a day later, makes the template: the first two
    are revised, the dataset is what one run over all three gives."""
    rng = random.Random(5)
    pages = [ledger_page(k, rng) for k in range(3)]
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "day1.jsonl", [p for p, _, _ in pages[:2]])
    run_pipeline(raw, clean, LEARN_ONLY, workers=1)
    assert text_of(clean, pages[0][0]["url"]).startswith(BANNER)
    write(raw, "day2.jsonl", [pages[2][0]])
    run_pipeline(raw, clean, LEARN_ONLY, workers=1)
    one = tmp_path / "one"
    run_pipeline(raw, one, LEARN_ONLY, workers=1)
    for dataset in ("articles", "removed"):
        assert rows(clean, dataset) == rows(one, dataset)
    assert text_of(clean, pages[0][0]["url"]) == "\n".join(pages[0][1])


def test_a_source_with_one_article_borrows_what_three_sources_learned(tmp_path: Path) -> None:
    rng = random.Random(6)
    share = "Share this: Mastodon · Bluesky · Email"
    records = []
    for host in ("a.example", "b.example", "c.example"):
        for k in range(3):
            records.append(page(host, k, [*body(rng, 3), share]))
    lonely = page("d.example", 0, [*body(rng, 3), share])
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "sites.jsonl", [*records, lonely])
    run_pipeline(raw, clean, LEARN_ONLY, workers=1)
    assert removed_by(clean, lonely["url"]) == [(share, "boilerplate_learned", share)]


def test_an_index_without_template_keys_gets_them(tmp_path: Path) -> None:
    """An index written before template keys (an upgrade) has them made from its text."""
    rng = random.Random(7)
    pages = [ledger_page(k, rng) for k in range(4)]
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "day1.jsonl", [p for p, _, _ in pages[:3]])
    nothing = {"boilerplate": {"learn": False, "builtin_rules": False}}
    run_pipeline(raw, clean, load_config(None, nothing), workers=1)
    for part in Store(clean).parts("index"):
        old = pq.read_table(part).drop_columns(["shape", "head", "lead"])
        part.unlink()
        meta = {b"newsclean.fingerprint": b"oph-w3-128-64x2-d8"}
        pq.write_table(old.replace_schema_metadata(meta), part)
    write(raw, "day2.jsonl", [pages[3][0]])
    run_pipeline(raw, clean, LEARN_ONLY, workers=1)
    for record, content, _ in pages:
        assert text_of(clean, record["url"]) == "\n".join(content)
    fresh = tmp_path / "fresh"
    run_pipeline(raw, fresh, LEARN_ONLY, workers=1)
    keys = ["article_id", "line", "shape", "head", "lead"]
    assert sorted(
        pq.read_table(clean / ".newsclean/current/index", columns=keys).to_pylist(), key=str
    ) == sorted(
        pq.read_table(fresh / ".newsclean/current/index", columns=keys).to_pylist(), key=str
    )
    assert pc.max(pq.read_table(clean / ".newsclean/current/index")["shape"]).as_py() > 0


@pytest.mark.parametrize("key", ["learn_min_articles=1", "learn_min_share=0"])
def test_bad_learning_settings_are_errors(key: str) -> None:
    from pipeline.config import parse_setting
    from pipeline.errors import ConfigError

    section, name, value = parse_setting(f"boilerplate.{key}")
    with pytest.raises(ConfigError, match=f"boilerplate.{name}"):
        load_config(None, {section: {name: value}})


def test_a_template_that_changes_kind_in_a_later_run_is_written_again(tmp_path: Path) -> None:
    """Day 1 learns "MORE FROM US: *" (a varying tail); day 2 brings three more "MORE FROM
    US: Weather today", which makes that line an exact template: its row says so, as one
    run over both days does."""
    rng = random.Random(11)

    def art(k: int, tail: str) -> dict[str, Any]:
        return page("s.example", k, [*body(rng, 4), f"MORE FROM US: {tail}"])

    tails = ["Weather today", "Bridge closes again", "Budget vote delayed", "Ferry strike ends"]
    raw, clean, one = tmp_path / "raw", tmp_path / "clean", tmp_path / "one"
    write(raw, "d1.jsonl", [art(k, t) for k, t in enumerate(tails)])
    run_pipeline(raw, clean, LEARN_ONLY, workers=1)
    assert removed_by(clean, "https://s.example/news/0")[-1][2] == "MORE FROM US: *"
    write(raw, "d2.jsonl", [art(4 + k, "Weather today") for k in range(3)])
    run_pipeline(raw, clean, LEARN_ONLY, workers=1)
    run_pipeline(raw, one, LEARN_ONLY, workers=1)
    assert removed_by(clean, "https://s.example/news/0")[-1][2] == "MORE FROM US: Weather today"
    for dataset in ("articles", "removed"):
        assert rows(clean, dataset) == rows(one, dataset)


def test_a_subheading_in_the_middle_of_articles_of_many_sources_stays(tmp_path: Path) -> None:
    rng = random.Random(3)
    records = []
    for s in range(6):
        for k in range(10):
            lines = body(rng, 8)
            if k == 0:
                lines.insert(4, "What happens next?")
            records.append(page(f"site{s}.example", k, lines))
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "sites.jsonl", records)
    run_pipeline(raw, clean, LEARN_ONLY, workers=1)
    assert learned_rows(clean) == []


def test_a_button_at_the_edge_of_pages_of_five_sources_goes_everywhere(tmp_path: Path) -> None:
    rng = random.Random(8)
    records = [
        page(f"site{s}.example", 0, ["Sign in", *body(rng, 6)]) for s in range(6)
    ]  # one page per site: no site alone could learn it
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "sites.jsonl", records)
    run_pipeline(raw, clean, LEARN_ONLY, workers=1)
    for record in records:
        assert removed_by(clean, record["url"]) == [("Sign in", "boilerplate_learned", "Sign in")]


def test_a_template_borrowed_from_other_sources_must_look_like_chrome_here(
    tmp_path: Path,
) -> None:
    """Three sites end their pages with "Read next: <a headline>"; a live blog whose many
    updates start "Read next:" too keeps them (more than twice an article, in the middle)."""
    rng = random.Random(9)
    records = []
    for host in ("a.example", "b.example", "c.example"):
        for k in range(3):
            records.append(page(host, k, [*body(rng, 3), f"Read next: {rng.choice(WORDS)} {k}"]))
    updates = [f"Read next: {' '.join(rng.choice(WORDS) for _ in range(8))}" for _ in range(8)]
    blog = page("live.example", 0, [*body(rng, 3), *updates, *body(rng, 3)])
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "sites.jsonl", [*records, blog])
    run_pipeline(raw, clean, LEARN_ONLY, workers=1)
    assert removed_by(clean, blog["url"]) == []
    assert removed_by(clean, records[0]["url"])[0][1:] == ("boilerplate_learned", "Read next: *")
