"""The seed article and the in-article decisions, with exact expectations."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.boilerplate import load_rules
from pipeline.clean import clean_record
from pipeline.config import DedupConfig
from pipeline.dedup import find_duplicates
from pipeline.ingest import read_file
from pipeline.records import RawRecord
from pipeline.segment import split_paragraphs, split_sentences

from .conftest import SAMPLE, SEED_NAME

RULES = load_rules()
CFG = DedupConfig()


@pytest.fixture(scope="module")
def seed() -> RawRecord:
    (record,) = read_file(SAMPLE, SEED_NAME)
    assert isinstance(record, RawRecord)
    return record


def test_seed_keeps_fifty_of_fifty_three_paragraphs(seed: RawRecord) -> None:
    cleaned = clean_record(seed, RULES, CFG)
    paragraphs = split_paragraphs(seed.text)
    assert cleaned.article.n_paragraphs_in == 53
    assert cleaned.article.n_paragraphs_out == 50
    out = cleaned.article.text.split("\n")
    # Every paragraph but 34, 51 and 52 survives, in order; 33 loses its repeated second half.
    assert out[:33] == paragraphs[:33]
    assert out[34:] == paragraphs[35:51]
    assert out[33] == (
        "And in 10 years you would have got a pro-Russian population here. ” He had nothing to "
        "argue with me. Ultimately, armored vehicles went to defend the interests of Russia in "
        "that country. As it is today in Kazakhstan."
    )
    assert paragraphs[33].startswith(out[33] + " This money could be used")


def test_seed_removals_are_audited(seed: RawRecord) -> None:
    cleaned = clean_record(seed, RULES, CFG)
    aid = cleaned.article.article_id
    rows = [
        (r.position, r.reason, r.detail, r.matched_article_id, r.matched_position)
        for r in cleaned.removals
    ]
    assert rows == [
        (33, "duplicate_span", "sentences 4-9 of 9 repeat earlier text", aid, 32),
        (34, "duplicate_near", "contained: 1.00 of its sentences seen", aid, 32),
        (51, "boilerplate_rule", "read_also", None, None),
        (52, "boilerplate_rule", "follow_us", None, None),
    ]
    span = cleaned.removals[0].text
    assert span.startswith("This money could be used to distribute textbooks")
    assert span.endswith(
        "He had nothing to argue with me. Ultimately, armored vehicles went to defend the interests of Russia in that country. As it is today in Kazakhstan."
    )
    assert "you would have gotten a pro-Russian population" in span
    assert (
        cleaned.removals[2].text
        == "Read Also : Prilepin reminded Blinken of which countries Russia left"
    )
    assert (
        cleaned.removals[3].text
        == "Follow us on Google News Asia Times Now page for faster updates."
    )


def test_seed_short_dialogue_lines_survive(seed: RawRecord) -> None:
    out = clean_record(seed, RULES, CFG).article.text.split("\n")
    assert "– Certainly." in out
    assert "– So they are all on the hook?" in out


def positions(paragraphs: list[str]) -> list[tuple[int, str, int]]:
    return [(d.position, d.reason, d.matched_position) for d in find_duplicates(paragraphs, CFG)]


P1 = "The council voted on Tuesday to extend the ferry service through the winter, officials said."
P2 = "Mayor Elena Ruiz said the extension would be paid for from the port authority reserve fund."


def test_exact_and_near_duplicates_keep_the_first_copy() -> None:
    assert positions([P1, P2, P1]) == [(2, "duplicate_exact", 0)]
    assert positions([P1, P2, "  " + P1.upper().replace(",", "")]) == [(2, "duplicate_exact", 0)]
    near = P2.replace("would be paid for", "will be paid")
    assert positions([P1, P2, near]) == [(2, "duplicate_near", 1)]


def test_repeated_dialogue_lines_are_content() -> None:
    lines = ["– Yes.", P1, "– Certainly.", "– Yes.", P2, "– Certainly.", "— Да.", "— Да."]
    assert positions(lines) == []


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "Shares of Northwind Energy fell 12 percent on Monday after the company cut its forecast.",
            "Shares of Northwind Energy fell 14 percent on Monday after the company cut its forecast.",
        ),
        (
            "Shares of Northwind Energy fell 12 percent on Monday after the company cut its forecast.",
            "Shares of Southwind Energy fell 12 percent on Monday after the company cut its forecast.",
        ),
        (
            "The temperature in Moscow will reach 25 degrees on Saturday, forecasters said on Friday.",
            "The temperature in Kazan will reach 25 degrees on Saturday, forecasters said on Friday.",
        ),
    ],
)
def test_template_with_other_facts_is_not_a_duplicate(first: str, second: str) -> None:
    assert positions([first, second]) == []
    # Followed by a shared sentence: only that sentence repeats, the decoy sentence stays.
    (dup,) = find_duplicates([f"{first} {P1}", f"{second} {P1}"], CFG)
    assert (dup.reason, dup.text, dup.kept) == ("duplicate_span", P1, second)


def test_a_paragraph_mostly_inside_an_earlier_one_is_contained() -> None:
    long = f"{P1} {P2} The new schedule starts on December 1, with boats every 30 minutes."
    assert positions([long, P2]) == [(1, "duplicate_near", 0)]
    (dup,) = find_duplicates([long, P2], CFG)
    assert dup.detail == "contained: 1.00 of its sentences seen"


def test_a_repeated_run_of_sentences_inside_one_paragraph_is_cut() -> None:
    para = f"{P1} {P2} {P1} {P2}"
    (dup,) = find_duplicates([para], CFG)
    assert (dup.position, dup.reason, dup.matched_position) == (0, "duplicate_span", 0)
    assert dup.text == f"{P1} {P2}"
    assert dup.kept == f"{P1} {P2}"


def test_every_repeated_run_is_cut_not_only_the_longest() -> None:
    para = f"{P1} {P1} {P2} It was cold. {P1}"
    spans = find_duplicates([para], CFG)
    assert [(d.detail, d.text) for d in spans] == [
        ("sentences 2-2 of 5 repeat earlier text", P1),
        ("sentences 5-5 of 5 repeat earlier text", P1),
    ]
    assert {d.kept for d in spans} == {f"{P1} {P2} It was cold."}


def test_one_short_repeated_sentence_is_not_a_span() -> None:
    para = f"{P1} It was cold. {P2} It was cold."
    assert find_duplicates([para], CFG) == []


sentences = st.sampled_from(
    [
        P1,
        P2,
        "– Yes.",
        "It was cold.",
        "Shares fell 3% on Monday, the exchange said in a statement.",
        "Shares fell 4% on Monday, the exchange said in a statement.",
        "Ёлки стоят до 15 января, сообщили в мэрии города.",
    ]
)
articles = st.lists(
    st.lists(sentences, min_size=1, max_size=4).map(" ".join), min_size=1, max_size=8
)


@settings(max_examples=150, deadline=None)
@given(articles)
def test_cleaning_twice_is_cleaning_once_and_keeps_a_subset(paragraphs: list[str]) -> None:
    raw = RawRecord(source_path="x.txt", record_no=0, text="\n".join(paragraphs))
    once = clean_record(raw, RULES, CFG).article.text
    twice = clean_record(
        RawRecord(source_path="x.txt", record_no=0, text=once), RULES, CFG
    ).article.text
    assert twice == once
    # Dedup keeps a subset: every sentence that comes out went in.
    sentences_in = {s for p in paragraphs for s in split_sentences(p)}
    assert {s for line in once.split("\n") if line for s in split_sentences(line)} <= sentences_in


def test_html_in_the_text_field_becomes_paragraphs() -> None:
    raw = RawRecord(
        source_path="x.jsonl",
        record_no=0,
        text='<div class="body"><p>The council voted on Tuesday.</p>\n<p>Mayor Ruiz said the plan&nbsp;works.<br/>It starts in May.</p><script>track()</script><p>Share this article</p></div>',
    )
    cleaned = clean_record(raw, RULES, CFG)
    assert (
        cleaned.article.text
        == "The council voted on Tuesday.\nMayor Ruiz said the plan works.\nIt starts in May."
    )
    assert cleaned.article.fixes == ("html_markup",)
    assert [(r.position, r.reason, r.detail) for r in cleaned.removals] == [
        (3, "boilerplate_rule", "share_bar")
    ]


def test_text_with_angle_brackets_is_not_taken_for_html() -> None:
    raw = RawRecord(
        source_path="x.txt",
        record_no=0,
        text="Inflation < 2% and growth > 1% are the targets, the bank said.",
    )
    cleaned = clean_record(raw, RULES, CFG)
    assert cleaned.article.text == raw.text and cleaned.article.fixes == ()
