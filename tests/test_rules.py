"""The built-in boilerplate rule pack: every rule documents and tests itself, content survives.

Each rule of ``pipeline/rules/default.toml`` carries ``examples`` (real chrome lines from the
corpora in ``shared/corpora``, and variants) that the rule itself must match, and ``keep`` lines
(content that looks like chrome) that no rule of the pack may match. The sentences below are
news content in en/ru/uk that starts with the words chrome starts with; none may be removed.
"""

from __future__ import annotations

import dataclasses
import re
from importlib import resources

import pytest

from pipeline.boilerplate import Rule, RuleSet, load_rules, parse_pack
from pipeline.errors import ConfigError

RULES = load_rules()
BUILTIN = [r for r in RULES.rules if r.origin == "builtin:default.toml"]


def test_builtin_pack_is_loaded() -> None:
    assert len(BUILTIN) == len(RULES) >= 26


@pytest.mark.parametrize("rule", BUILTIN, ids=lambda r: r.name)
def test_rule_is_documented(rule: Rule) -> None:
    assert rule.examples, f"{rule.name}: no examples"
    assert rule.keep, f"{rule.name}: no keep lines"


def test_every_builtin_rule_names_its_source() -> None:
    # The line after `name = ...` is a comment naming the corpus (and file) the rule was mined from.
    text = resources.files("pipeline.rules").joinpath("default.toml").read_text(encoding="utf-8")
    names = re.findall(r'^name = "([a-z0-9_]+)"\n(#?)', text, flags=re.MULTILINE)
    assert len(names) == len(BUILTIN)
    assert [n for n, comment in names if not comment] == []


@pytest.mark.parametrize("rule", BUILTIN, ids=lambda r: r.name)
def test_examples_match_their_rule(rule: Rule) -> None:
    missed = [e for e in rule.examples if not rule.matches(e)]
    assert not missed, f"{rule.name} does not match its examples: {missed}"


@pytest.mark.parametrize("rule", BUILTIN, ids=lambda r: r.name)
def test_keep_lines_match_no_rule(rule: Rule) -> None:
    removed = {k: RULES.match(k) for k in rule.keep}
    removed = {k: name for k, name in removed.items() if name is not None}
    assert not removed, f"keep lines of {rule.name} removed by: {removed}"


@pytest.mark.parametrize("rule", BUILTIN, ids=lambda r: r.name)
def test_examples_fit_under_the_length_cap(rule: Rule) -> None:
    # An example longer than max_chars could never match: it would document nothing.
    assert all(len(e) <= rule.max_chars for e in rule.examples)


CONTENT = [
    # English; the first five are the brief's own examples of content that looks like chrome
    "Subscribers to the service will see…",
    "Follow-up inspections are…",
    "Share prices fell…",
    "Registered voters…",
    "Комментарии министра…",
    "Share prices fell 3% on Tuesday after the company cut its full-year forecast.",
    "Shares of Home Depot dropped in premarket trading after it lowered its sales guidance.",
    "Share this information with your doctor before the appointment, the guidance says.",
    "Shareholders will vote on the merger at the annual meeting in May.",
    "Follow-up inspections are scheduled for March, the agency said.",
    "Follow the money, investigators told the committee on Monday.",
    "Following the vote, the senator left the chamber without comment.",
    "Subscribers to the service will see prices rise by 10% next month, the company said.",
    "Subscription revenue grew 12% in the third quarter, the publisher reported.",
    "Subscribe to a theory, and you will find evidence for it everywhere, he wrote.",
    "Read more carefully, the judge told the jury, and you will see the contract was void.",
    "Reading the report, analysts concluded that the bank had underestimated its losses.",
    "Copyright lawyers say the ruling could change how AI firms train their models.",
    "Copyright infringement claims against the platform rose sharply last year.",
    "Photo agencies said the new rules would make it harder to cover protests.",
    "Photographs from the scene showed a collapsed roof and several burned cars.",
    "Comments from the minister drew criticism from the opposition on Monday.",
    "Comments made by the coach after the match led to a fine of $25,000.",
    "Print advertising revenue fell for the tenth year in a row, the report said.",
    "Registered voters can cast their ballots until 8 p.m. on Tuesday.",
    "Sign language interpreters will be present at every briefing, the ministry said.",
    "Updated figures released on Friday show unemployment fell to 3.9%.",
    "Tags attached to the birds showed they flew more than 4,000 km.",
    "Back to the top of the charts went the band after the reunion tour.",
    "Join us in welcoming the new coach, the club wrote in a statement on Monday.",
    "Login attempts from abroad were blocked, the bank said in a statement.",
    "Search teams found the missing hikers on Sunday morning.",
    "Download speeds in rural areas remain far below the national average.",
    "Politics aside, the bill has broad support among farmers.",
    "Newsletter publishers such as Substack have lured writers away from newspapers.",
    "Photo: the flooded square in Venice on Tuesday, as the tide reached 187 cm, the second-highest on record.",
    "Watch the video: the rocket lifted off at 9:03 a.m. and reached orbit eight minutes later, NASA said.",
    "Tags are cheap, and retailers attach them to almost everything they sell, the report found.",
    "Close to 40% of voters remain undecided, the poll found.",
    "More than 200 people were evacuated from the building on Monday.",
    "Back to Taylor! It’s her music, so why can’t she sing it?",
    "UP NEXT",
    "10 p.m.",
    # dialogue: short lines after a dash are replies, not buttons (see DESIGN.md)
    "– Yes.",
    "– Next!",
    "– Close the door.",
    "– Назад!",
    "– Реклама? Нет, это наша работа.",
    # Russian
    "Реклама алкоголя в интернете будет запрещена с марта, сообщили в Госдуме.",
    "Подписка на газеты в регионах подорожает на 15% со следующего года.",
    "Подпишитесь на петицию, призвали активисты в своем обращении к горожанам.",
    "Присоединяйтесь к акции, призвал мэр жителей города.",
    "Комментарии министра вызвали критику оппозиции в понедельник.",
    "Читайте внимательно условия договора, посоветовал юрист.",
    "Поделиться опытом в Казань приехали врачи из пяти регионов.",
    "Фотографии с места аварии опубликовало МЧС.",
    "Загрузка аэропорта в сентябре составила не более 25%.",
    "Обновлено расписание электричек на майские праздники, сообщили в РЖД.",
    "Источник в правительстве сообщил, что решение будет принято в среду.",
    "Новости о переговорах партнеров по коалиции появились только вечером.",
    # Ukrainian
    "Реклама азартних ігор на телебаченні буде обмежена з липня.",
    "Підписка на оновлення в застосунку «Дія» стала доступна всім користувачам.",
    "Підписали угоду представники обох країн у четвер.",
    "Коментарі міністра викликали критику опозиції.",
    "Читайте уважно умови договору, радить юрист.",
    "Поділитися досвідом до Львова приїхали лікарі з п'яти областей.",
    "Фото з місця аварії оприлюднила ДСНС.",
    "Стежте за руками, попередив фокусник глядачів.",
    "Джерело в уряді повідомило, що рішення ухвалять у середу.",
    "Слідкуйте за результатами у Флориді в ніч виборів: кандидат, який переміг у Флориді, отримував крісло в Білому домі.",
    "Обновлено 11:28 Трамп немного отыгрался — почти забрал себе штат Техас (38 голосов).",
]


@pytest.mark.parametrize("sentence", CONTENT, ids=[f"content{i:02}" for i in range(len(CONTENT))])
def test_content_survives(sentence: str) -> None:
    assert RULES.match(sentence) is None


# --- parse_pack rejects bad packs with messages that name the problem --------------------------

GOOD = """
[[rule]]
name = "x_rule"
pattern = '^x$'
examples = ["x"]
keep = ["y"]
"""


def test_parse_pack_accepts_a_good_pack() -> None:
    (rule,) = parse_pack(GOOD, "good.toml")
    assert rule.name == "x_rule" and rule.origin == "good.toml" and rule.matches("X")


def test_bad_regex_is_rejected() -> None:
    bad = GOOD.replace("'^x$'", "'^(x$'")
    with pytest.raises(ConfigError, match=r"bad\.toml, rule 'x_rule': invalid regex"):
        parse_pack(bad, "bad.toml")


def test_unknown_rule_key_is_rejected() -> None:
    bad = GOOD + 'colour = "red"\n'
    with pytest.raises(ConfigError, match=r"rule #1: unknown keys \['colour'\]"):
        parse_pack(bad, "bad.toml")


def test_unknown_top_level_key_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"unknown top-level keys \['rules'\]"):
        parse_pack(GOOD.replace("[[rule]]", "[[rules]]"), "bad.toml")


def test_duplicate_names_are_rejected_by_ruleset() -> None:
    rules = parse_pack(GOOD, "a.toml") + parse_pack(GOOD, "b.toml")
    with pytest.raises(ConfigError, match=r"must be unique; repeated: x_rule"):
        RuleSet(rules)


def test_user_pack_repeating_a_builtin_name_is_rejected(tmp_path) -> None:
    pack = tmp_path / "mine.toml"
    pack.write_text(GOOD.replace("x_rule", BUILTIN[0].name), encoding="utf-8")
    with pytest.raises(ConfigError, match=f"repeated: {BUILTIN[0].name}"):
        load_rules(rule_files=(str(pack),))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('name = "x_rule"', 'name = "X Rule"', "'name' must be lower_snake_case"),
        ("pattern = '^x$'", "pattern = ''", "'pattern' must be a non-empty string"),
        ('keep = ["y"]', 'keep = "y"', "'keep' must be a list of strings"),
        ('keep = ["y"]', "max_chars = 0", "'max_chars' must be a positive integer"),
    ],
)
def test_bad_fields_are_rejected(old: str, new: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_pack(GOOD.replace(old, new), "bad.toml")


def test_invalid_toml_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"bad\.toml: invalid TOML"):
        parse_pack("[[rule]\nname = 1", "bad.toml")


def test_requires_narrows_a_rule_to_paragraphs_where_it_matches() -> None:
    Q = "'" * 3
    pack = f"""
[[rule]]
name = "ru_only"
pattern = {Q}^\\W*(?:реклама|ad)\\W*${Q}
requires = {Q}[а-яё]{Q}
"""
    rules = RuleSet(parse_pack(pack, "test"))
    assert rules.match("Реклама") == "ru_only"
    assert rules.match("Ad") is None  # the pattern matches, but the text is not Cyrillic
    with pytest.raises(ConfigError, match=r"rule 'ru_only': invalid 'requires' regex"):
        parse_pack(pack.replace("[а-яё]", "[а-яё"), "test")


def test_contains_gates_a_rule_on_the_case_folded_paragraph() -> None:
    Q = "'" * 3
    pack = f"""
[[rule]]
name = "cookies"
pattern = {Q}\\bwe use cookies\\b|\\bby continuing\\b.*\\bsite\\b{Q}
contains = ["cookie", "by continuing"]
"""
    rules = RuleSet(parse_pack(pack, "test"))
    assert rules.match("Note: WE USE COOKIES here.") == "cookies"
    assert rules.match("By continuing to use the site you agree.") == "cookies"
    assert rules.match("We use biscuits.") is None
    # A gate narrower than the pattern wins: the rule is not tried without a string.
    narrow = RuleSet(parse_pack(pack.replace('"cookie", ', ""), "test"))
    assert narrow.match("Note: WE USE COOKIES here.") is None
    assert narrow.rules[0].matches("Note: WE USE COOKIES here.") is False
    with pytest.raises(ConfigError, match=r"'contains' strings must be non-empty and case-folded"):
        parse_pack(pack.replace('"cookie"', '"Cookie"'), "test")
    with pytest.raises(ConfigError, match=r"'contains' must be a list of strings"):
        parse_pack(pack.replace('["cookie", "by continuing"]', '"cookie"'), "test")


@pytest.mark.parametrize(
    "paragraph",
    [
        "We use cookıes to improve your experience.",  # dotless ı
        "WE USE COOKİES",  # dotted İ folds to "i" and a combining dot
        "COPYRİGHT 2024 ACME MEDIA",
        "CLİCK HERE TO SUBSCRİBE",
        "Cookıe Settings",
    ],
)
def test_a_gate_never_refuses_what_its_pattern_matches(paragraph: str) -> None:
    # re.IGNORECASE matches "ı" and "İ" to "i", str.casefold does not fold them to it.
    ungated = RuleSet([dataclasses.replace(r, contains=()) for r in BUILTIN])
    assert RULES.match(paragraph) == ungated.match(paragraph) is not None


def test_unless_vetoes_a_match() -> None:
    Q = "'" * 3
    pack = f"""
[[rule]]
name = "follow"
pattern = {Q}^follow us on\\b{Q}
unless = {Q}\\b(?:said|urged)\\b{Q}
"""
    rules = RuleSet(parse_pack(pack, "test"))
    assert rules.match("Follow us on Twitter") == "follow"
    assert rules.match("Follow us on Twitter, the police urged residents.") is None
    with pytest.raises(ConfigError, match=r"rule 'follow': invalid 'unless' regex"):
        parse_pack(pack.replace("(?:said", "((?:said"), "test")
