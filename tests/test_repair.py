import json
import re
from pathlib import Path

import ftfy.bad_codecs  # noqa: F401  registers sloppy-windows-1252
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.repair import SUSPICIOUS, _suspicious, fix_line, fix_text

CASES = json.loads((Path(__file__).parent / "cases" / "repair.json").read_text(encoding="utf-8"))

# Text that is not damaged, in the scripts and typography news uses.
CLEAN = [
    "“I do not consider myself an expert on Kazakhstan, mind you,” he warned.",
    "– How sudden were the events? — Very… «Да», ёлка, Ёж, ещё.",
    "Le président a déclaré : « c’est l’œuvre d’une vie » – à 95 %.",
    "Die Bürger zahlen 5 € für die Straße; Größe ½ L, 20 °C.",
    "Київ: міська рада ухвалила бюджет на 2022 рік — «за» 61 депутат.",
    "日本語のテキスト、全角（かっこ）とＡＢＣ。",
    "Ελλάδα: η κυβέρνηση ανακοίνωσε νέα μέτρα.",
    "Price: $4.1bn (≈ €3.6bn) — up 3‰; see §4 © AP ™.",
    "She said: 'it's fine' and left at 5 p.m. & returned < 6.",
]


def damage(text: str, times: int) -> str:
    for _ in range(times):
        text = text.encode("utf-8").decode("sloppy-windows-1252")
    return text


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_golden_cases(case: dict) -> None:
    result = fix_line(case["input"])
    assert result.text == case["output"]
    assert list(result.fixes) == case["fixes"]


@pytest.mark.parametrize("text", CLEAN)
def test_clean_text_comes_out_identical(text: str) -> None:
    assert fix_line(text).text == text
    assert fix_line(text).fixes == ()


@pytest.mark.parametrize("text", CLEAN[:6])
@pytest.mark.parametrize("times", [1, 2])
def test_mojibake_once_or_twice_comes_back(text: str, times: int) -> None:
    broken = damage(text, times)
    assert broken != text
    assert SUSPICIOUS.search(broken), "the gate must send every mojibake line to ftfy"
    result = fix_line(broken)
    assert result.text == text
    assert result.fixes == ("mojibake",)


def test_utf8_read_as_latin1_comes_back() -> None:
    text = "Mrs Lale Akgün and Ze Pequeño, coup de grâce, Celebrex®"
    assert fix_line(text.encode("utf-8").decode("latin-1")).text == text


def test_entities_are_unescaped_even_next_to_a_literal_angle_bracket() -> None:
    assert fix_line("AT&amp;T shares &lt; $20 &#8211; &quot;cheap&quot; < fair").text == (
        'AT&T shares < $20 – "cheap" < fair'
    )


def test_fix_text_keeps_lines_and_reports_each_fix_once() -> None:
    text = "caf\u00c3\u00a9\r\nsecond &amp; line\rthird\u2028fourth caf\u00c3\u00a9"
    result = fix_text(text)
    assert result.text == "café\nsecond & line\nthird\nfourth café"
    assert result.fixes == ("mojibake", "html_entities")


def test_whitespace_is_folded_and_invisible_characters_dropped() -> None:
    assert fix_line("\u00a0 a\t\tb\u200b c\u3000d\ufeff ").text == "a b c d"
    assert fix_line("e\u0301te").text == "éte"
    assert fix_line("e\u0301te").fixes == ("nfc",)


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Co", "Cn"))))
def test_repair_is_idempotent(text: str) -> None:
    once = fix_line(text).text
    assert fix_line(once).text == once


_SPACE_CHARS = " \t\u00a0\u1680\u2000\u2005\u200a\u202f\u205f\u3000"


@given(
    st.text(alphabet=st.sampled_from([*_SPACE_CHARS, "a", "é", "\r", "\n", "\u2028", "\x0c"])),
)
def test_fast_paths_agree_with_the_plain_definitions(text: str) -> None:
    # Whitespace: every run of spaces (any kind) becomes one ASCII space, lines are stripped;
    # line ends: \r\n, \r, U+2028/2029/0085, VT and FF each become one "\n".
    lines = re.sub("\r\n|[\r\u2028\u2029\u0085\x0b\x0c]", "\n", text).split("\n")
    expected = "\n".join(re.sub(f"[{_SPACE_CHARS}]+", " ", line).strip() for line in lines)
    assert fix_text(text).text == expected


@given(st.lists(st.sampled_from(["a", "Ã", "©", "&", "amp;", "#8211;", "\x85", "\ufb01"])))
def test_the_cheap_gate_finds_what_the_suspicious_pattern_finds(parts: list[str]) -> None:
    text = "".join(parts)
    assert _suspicious(text) == (SUSPICIOUS.search(text) is not None)
