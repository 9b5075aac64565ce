"""The committed sample, end to end: every damaged input comes out as the text it was."""

from __future__ import annotations

import pytest

from pipeline.config import Config
from pipeline.run import run_pipeline

from .helpers import rows
from .sample.make_sample import FR_ARTICLE, HARBOR, KYIV, RU_ARTICLE, RU_SNOW, WIRE_A


@pytest.fixture(scope="module")
def articles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    from .conftest import SAMPLE

    clean = tmp_path_factory.mktemp("sample") / "clean"
    run_pipeline(SAMPLE, clean, Config(), workers=1)
    return {f"{a['source_path']}#{a['record_no']}": a for a in rows(clean, "articles")}


@pytest.mark.parametrize(
    ("key", "paragraphs", "fixes"),
    [
        ("feeds/ru-katki.cp1251.txt#0", RU_ARTICLE, ["decoded:cp1251"]),
        ("feeds/ru-sneg.koi8r.txt#0", RU_SNOW, ["decoded:koi8-r"]),
        ("feeds/fr-ecoles.cp1252.txt#0", FR_ARTICLE, ["decoded:cp1252"]),
        ("feeds/uk-budget.utf16.txt#0", KYIV, ["decoded:utf-16-le"]),
        ("wire/2022-01-10.jsonl#1", WIRE_A, []),
    ],
)
def test_damaged_inputs_come_out_as_the_original_text(
    articles: dict[str, dict], key: str, paragraphs: list[str], fixes: list[str]
) -> None:
    assert articles[key]["text"] == "\n".join(paragraphs)
    assert articles[key]["fixes"] == fixes


def test_the_syndicated_copy_points_to_the_wire_original(articles: dict[str, dict]) -> None:
    original = articles["wire/2022-01-10.jsonl#1"]
    copy = articles["wire/2022-01-10-syndicated.jsonl.gz#0"]
    assert copy["duplicate_of"] == original["article_id"] and original["duplicate_of"] is None
    assert copy["text"] == "" and copy["n_paragraphs_in"] == 4 and copy["n_paragraphs_out"] == 0
    assert copy["fixes"] == ["html_entities"]


def test_mojibake_once_and_twice_and_entities_are_repaired(articles: dict[str, dict]) -> None:
    harbor = articles["wire/2022-01-10.jsonl#0"]
    expected = [*HARBOR[:3], HARBOR[3].replace("March", "March & April"), HARBOR[4]]
    assert harbor["text"] == "\n".join(expected)
    assert harbor["fixes"] == ["mojibake", "html_entities"]
    assert harbor["n_paragraphs_in"] == 8 and harbor["n_paragraphs_out"] == 5
    assert harbor["source"] == "harborledger.example"
    assert harbor["meta"] == '{"author": "Jane Doe"}'


def test_utf8_bom_crlf_hard_wrapped_file(articles: dict[str, dict]) -> None:
    hospital = articles["feeds/en-hospital.utf8bom.txt#0"]
    assert hospital["text"] == (
        "The regional hospital opened a new emergency wing on Friday, adding 40 beds and two operating theatres to a building that had not been expanded since 1998.\n"
        "Hospital director Amal Haddad said waiting times should fall by a third within six months."
    )
    assert hospital["fixes"] == []


def test_titles_are_repaired_like_the_text(articles: dict[str, dict]) -> None:
    assert (
        articles["wire/2022-01-10-syndicated.jsonl.gz#0"]["title"]
        == "Northwind Energy shares fall after forecast cut – analysts react"
    )
