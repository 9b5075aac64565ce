"""Rule-based boilerplate: named regex rules, kept as data (TOML) that users can extend.

A rule pack is a TOML file of ``[[rule]]`` tables::

    [[rule]]
    name = "read_also"                       # goes to removed.detail
    pattern = '''^(?:read|see) also\\b'''      # Python regex, matched case-insensitively
    max_chars = 200                          # only paragraphs this short can match (default 200)
    requires = '''[а-яё]'''                  # optional: only paragraphs where this matches
    contains = ["read also", "see also"]     # optional: only paragraphs holding one of these
    unless = '''\\bsaid\\b'''                    # optional: not paragraphs where this matches
    examples = ["Read Also : Prilepin reminded Blinken of which countries Russia left"]
    keep = ["Read also the statement in full, the minister said, before he left."]

``examples`` must match and ``keep`` must not: the test suite checks every rule of every
pack against both, so a pack documents and tests itself. ``requires`` narrows a rule to the
paragraphs where a cheap regex matches (Russian rules: Cyrillic text); rules that share one
are skipped together, which matters because a content paragraph is tried against every rule.
``contains`` is a cheaper gate of the same kind: plain strings, one of which the case-folded
paragraph must hold (a substring test, not a regex). A pattern that is not anchored at the
start is tried at every position of every paragraph under the length cap, 10 to 50 times the
cost of an anchored one; the strings that any match must contain let it skip most of them.
``unless`` vetoes a match (reported speech: "Follow us on Twitter, the police urged…"); it
runs only after the pattern matched, so it costs nothing on content.

Rules apply to whole paragraphs: chrome is a line of its own, and a length cap keeps a long
content paragraph that merely starts like chrome from matching.
"""

from __future__ import annotations

import bisect
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

DEFAULT_MAX_CHARS = 200
BUILTIN_PACKS = ("default.toml",)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    max_chars: int = DEFAULT_MAX_CHARS
    requires: re.Pattern[str] | None = None
    unless: re.Pattern[str] | None = None
    contains: tuple[str, ...] = ()  # case-folded; empty: no gate
    examples: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    origin: str = ""  # the pack it came from

    def matches(self, paragraph: str) -> bool:
        return (
            len(paragraph) <= self.max_chars
            and (not self.contains or _holds_one(_fold(paragraph), self.contains))
            and (self.requires is None or self.requires.search(paragraph) is not None)
            and self.pattern.search(paragraph) is not None
            and (self.unless is None or self.unless.search(paragraph) is None)
        )


class RuleSet:
    """An ordered set of rules; the first rule that matches a paragraph names it."""

    def __init__(self, rules: list[Rule]) -> None:
        names = [r.name for r in rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(
                f"boilerplate rule names must be unique; repeated: {', '.join(dupes)}"
            )
        self.rules = tuple(rules)
        self._max_chars = max((r.max_chars for r in rules), default=0)
        self._caps = sorted({r.max_chars for r in rules})
        self._by_cap = [
            tuple(
                (r.name, r.contains, r.requires, r.pattern, r.unless)
                for r in rules
                if r.max_chars >= cap
            )
            for cap in self._caps
        ]
        # No union prefilter: Python's re does not optimise alternations, and a union of the
        # pack searched once was slower than the rules one by one (1.2 s against 0.7 s on
        # 27k paragraphs of the bench corpus), anchored or not.

    def __len__(self) -> int:
        return len(self.rules)

    def match(self, paragraph: str) -> str | None:
        """The name of the first rule that matches the paragraph, or None."""
        n = len(paragraph)
        if n > self._max_chars:
            return None
        # The rules whose length cap admits n, in pack order (caps are few: cache per cap).
        i = bisect.bisect_left(self._caps, n)
        gates: dict[re.Pattern[str], bool] = {}
        folded = None
        for name, contains, requires, pattern, unless in self._by_cap[i]:
            if contains:
                if folded is None:
                    folded = _fold(paragraph)
                if not _holds_one(folded, contains):
                    continue
            if requires is not None:
                ok = gates.get(requires)
                if ok is None:
                    ok = gates[requires] = requires.search(paragraph) is not None
                if not ok:
                    continue
            if pattern.search(paragraph) and (unless is None or not unless.search(paragraph)):
                return name
        return None


def _fold(paragraph: str) -> str:
    """The paragraph as ``contains`` strings are looked for in it: case-folded, and with the
    two letters that IGNORECASE matches to "i" but casefold does not fold to it ("ı", and "İ",
    which folds to "i" and a combining dot) made "i", so that a gate never refuses a
    paragraph its pattern matches ("COOKİES")."""
    folded = paragraph.casefold()
    if "ı" in folded or "\u0307" in folded:
        folded = folded.replace("ı", "i").replace("\u0307", "")
    return folded


def _holds_one(folded: str, strings: tuple[str, ...]) -> bool:
    return any(s in folded for s in strings)


def parse_pack(text: str, origin: str) -> list[Rule]:
    """Parse one TOML rule pack; errors name the pack and the rule."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"rule pack {origin}: invalid TOML: {exc}") from None
    unknown = set(data) - {"rule"}
    if unknown:
        raise ConfigError(f"rule pack {origin}: unknown top-level keys {sorted(unknown)}")
    return [_parse_rule(entry, origin, i) for i, entry in enumerate(data.get("rule", []))]


def _parse_rule(entry: dict[str, Any], origin: str, index: int) -> Rule:
    where = f"rule pack {origin}, rule #{index + 1}"
    allowed = {
        "name",
        "pattern",
        "requires",
        "unless",
        "contains",
        "max_chars",
        "examples",
        "keep",
        "lang",
        "source",
    }
    unknown = set(entry) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(allowed)})")
    name = entry.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name):
        raise ConfigError(f"{where}: 'name' must be lower_snake_case, got {name!r}")
    where = f"rule pack {origin}, rule {name!r}"
    pattern = entry.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"{where}: 'pattern' must be a non-empty string")
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(f"{where}: invalid regex: {exc}") from None
    requires = _optional_regex(entry, "requires", where)
    unless = _optional_regex(entry, "unless", where)
    max_chars = entry.get("max_chars", DEFAULT_MAX_CHARS)
    if not isinstance(max_chars, int) or max_chars <= 0:
        raise ConfigError(f"{where}: 'max_chars' must be a positive integer")
    lists = {}
    for key in ("contains", "examples", "keep"):
        value = entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: '{key}' must be a list of strings")
        lists[key] = tuple(value)
    bad = [c for c in lists["contains"] if not c or c != c.casefold()]
    if bad:
        raise ConfigError(f"{where}: 'contains' strings must be non-empty and case-folded: {bad}")
    return Rule(
        name,
        compiled,
        max_chars,
        requires,
        unless,
        lists["contains"],
        lists["examples"],
        lists["keep"],
        origin,
    )


def _optional_regex(entry: dict[str, Any], key: str, where: str) -> re.Pattern[str] | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: '{key}' must be a non-empty string")
    try:
        return re.compile(value, re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(f"{where}: invalid '{key}' regex: {exc}") from None


def load_rules(builtin: bool = True, rule_files: tuple[str, ...] = ()) -> RuleSet:
    """The built-in packs (if ``builtin``) followed by the user's rule files."""
    rules: list[Rule] = []
    if builtin:
        for pack in BUILTIN_PACKS:
            text = resources.files("pipeline.rules").joinpath(pack).read_text(encoding="utf-8")
            rules.extend(parse_pack(text, f"builtin:{pack}"))
    for path in rule_files:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read rule pack {path}: {exc}") from None
        rules.extend(parse_pack(text, path))
    return RuleSet(rules)
