"""Which fuzzy scorer and threshold tell a near-duplicate paragraph from a distinct one?

What it measures
----------------
In-article dedup (``pipeline/dedup.py``) removes a paragraph, or a sentence of at least
``MIN_FUZZY_SENTENCE`` characters, when it is an exact copy of earlier text after ``match_key``
(case, spacing and punctuation folded), or when rapidfuzz ``fuzz.ratio`` >= ``near_threshold``
*and* ``same_facts`` holds (same numbers and capitalised names). This script builds labelled
pairs from real news text and scores them with five candidate scorers: ``fuzz.ratio``,
``fuzz.token_sort_ratio``, ``fuzz.token_set_ratio``, ``fuzz.partial_ratio`` and ``fuzz.ratio``
on ``match_key`` text. ``partial_ratio`` is slow (seconds for one pair of 10,000-character
paragraphs), so it scores a seeded subsample of the pairs whose texts are at most
``PARTIAL_MAX_CHARS`` long; its cells are on that subsample.

Texts: bsnlp2021-raw (ru, uk, pl, cs; the 4 header lines and the title dropped) and the
aeb-scrapinghub gold ``articleBody``, read in place from shared/corpora/, repaired and split as
the pipeline does (``fix_text``, ``split_paragraphs``; for aeb that is the split on blank
lines). Units are paragraphs of >= 40 characters (``DedupConfig.min_chars``) and, separately,
their sentences of >= ``MIN_FUZZY_SENTENCE`` characters, since dedup matches both with the same
threshold. Five sources (bsnlp-ru, -uk, -pl, -cs, aeb), sampled equally. Edited texts go
through ``fix_line`` (the pipeline's repair) before scoring, so edits that repair undoes (NBSP,
double spaces) do not count as edits.

Positives, should be removed: a unit and a lightly edited copy, as republishing and scraping
edit text. Edit kinds (the weights are a judgement, not a measured distribution; recall is
reported per kind, so they only move the totals):

- ``quotes``: straight quotes to the language's typographic ones or back (" ↔ “” „“ «»);
- ``dashes``: spaced or dialogue dashes swapped among - – —;
- ``minus``: such a dash, or a hyphen before a digit, set as U+2212 −;
- ``whitespace``: a space added before punctuation or dropped after it (what survives repair);
- ``word_insert`` / ``word_delete``: one or two lowercase words inserted mid-sentence
  (fillers such as "also", "уже", "již") or deleted;
- ``word_substitute``: one or two words (lowercase, or a sentence-opening word that is not a
  name) replaced by a word of similar length from the same article: a synonym as far as
  characters can tell;
- ``trailing_clause``: the last clause or last words dropped, < 10 % of the length;
- ``typo``: one letter swapped, dropped, doubled or replaced;
- ``two_edits``: two of the kinds above.

Negatives, must stay:

- ``same_article``: the unit and the other unit of its article with the most words in common
  (Jaccard of ``match_key`` words: the hardest distinct neighbour, picked without favouring
  any fuzzy scorer); pairs with equal ``match_key`` are real duplicates and skipped;
- ``random_source``: a unit of another article of the same source, of similar length;
- ``decoy_number``: the same unit with one digit of one number changed ("rose 5%" / "rose 7%");
- ``decoy_name``: the same unit with one name (a capitalised word used as a name elsewhere in
  the source, wherever it stands here) replaced everywhere by another name of the source.

Why: ``DedupConfig.near_threshold`` (90) and the scorer need a measured basis. A scorer must
keep recall on the edits while not merging distinct text; template decoys are
near-identical by any character measure, so they are the guard's job, and the guard costs
recall when an edit touches a number or a name. Pairs are balanced (as many positives as
negatives), so precision is that of a 50 % prevalence; the rates per kind are
prevalence-free. Besides ``same_facts`` three stricter or looser guards are measured (see
``GUARDS``), to show what the guard's design costs. Limit: the synthetic distinct negatives
rarely score above 70, so their F1 is flat below 80 (a line under each pipeline table shows
60..75); what argues against a low threshold is real text that looks alike, section 5.

Output (markdown, to paste into a README):

1. per unit, P/R/F1 of each scorer alone at thresholds 80..98, positives vs the distinct
   negatives (``same_article``, ``random_source``): what the scorer itself must separate;
2. per unit, P/R/F1 of the pipeline's decision with each scorer (equal ``match_key``, else
   score >= t and ``same_facts``) vs all negatives, decoys included; the best threshold is the
   argmax of this F1 (ties to the higher, safer threshold), and the plateau is the highest
   threshold within 0.5 points of it (about the sampling noise of F1 here); the threshold
   chosen for the tables below is the highest on ``ratio``'s plateau for both units;
3. per unit and kind, recall or false-positive rate of each scorer alone;
4. the guard: per kind, with and without ``same_facts``, at the chosen threshold and at the
   current default, the guard variants, and examples of what the guard blocks or lets through;
5. natural look-alikes: every pair of paragraphs of one article in the corpora scoring >= 80
   (unlabelled: templates such as recipe lists and vote tallies, and some real stutters).

Usage::

    python bench/inarticle_threshold.py [--seed 0] [--corpora DIR] [--per-source 600]
        [--partial-share 0.5] [--threshold T]
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import re
import shlex
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from pipeline.config import DedupConfig
from pipeline.dedup import MIN_FUZZY_SENTENCE, match_key, same_facts
from pipeline.repair import fix_line, fix_text
from pipeline.segment import split_paragraphs, split_sentences

DEFAULT_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
BSNLP_LANGS = ("ru", "uk", "pl", "cs")
MIN_PARAGRAPH = DedupConfig().min_chars
CURRENT_THRESHOLD = DedupConfig().near_threshold
THRESHOLDS = tuple(range(80, 99))
BELOW = (60, 70, 75)  # shown in one line, to see whether F1 still rises below the range
NATURAL_THRESHOLDS = (80, 84, 88, 90, 92, 95)
PLATEAU = 0.5  # F1 points below the best that still count as "as good"
PARTIAL_MAX_CHARS = 1000

# name -> (rapidfuzz scorer, processor); the processor applies to both texts.
SCORERS: dict[str, tuple[Any, Callable[[str], str] | None]] = {
    "ratio": (fuzz.ratio, None),
    "token_sort": (fuzz.token_sort_ratio, None),
    "token_set": (fuzz.token_set_ratio, None),
    "partial": (fuzz.partial_ratio, None),
    "ratio(key)": (fuzz.ratio, match_key),
}
SUBSAMPLED = "partial"
CHOSEN_SCORER = "ratio"

POSITIVE_WEIGHTS: dict[str, int] = {
    "quotes": 3,
    "dashes": 3,
    "minus": 1,
    "whitespace": 2,
    "word_insert": 2,
    "word_delete": 2,
    "word_substitute": 2,
    "trailing_clause": 2,
    "typo": 2,
    "two_edits": 2,
}
POSITIVE_KINDS = tuple(sorted(POSITIVE_WEIGHTS))
NEGATIVE_KINDS = ("same_article", "random_source", "decoy_number", "decoy_name")
DISTINCT_KINDS = ("same_article", "random_source")
ALL_KINDS = (*POSITIVE_KINDS, *NEGATIVE_KINDS)

FILLERS: dict[str, tuple[str, ...]] = {
    "en": ("also", "now", "still", "just", "reportedly", "however", "already", "even"),
    "ru": ("также", "уже", "ещё", "теперь", "однако", "даже", "именно", "вновь"),
    "uk": ("також", "вже", "ще", "тепер", "однак", "навіть", "саме", "зокрема"),
    "pl": ("także", "już", "jeszcze", "teraz", "jednak", "nawet", "właśnie", "również"),
    "cs": ("také", "již", "ještě", "nyní", "však", "dokonce", "právě", "rovněž"),
}
# Typographic quotes by language: (open, close).
QUOTES: dict[str, tuple[str, str]] = {
    "en": ("“", "”"),
    "ru": ("«", "»"),
    "uk": ("«", "»"),
    "pl": ("„", "”"),
    "cs": ("„", "“"),
}
_STRAIGHT_QUOTE = re.compile('"')
_TYPO_QUOTE = re.compile("[“”„«»]")
_SPACED_DASH = re.compile(r"(?:(?<=\s)|^)[-–—](?=\s)")
_DIGIT_HYPHEN = re.compile(r"(?:(?<=\s)|^)-(?=\d)")
_LETTER_WORD = re.compile(r"[^\W\d_]+")
_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+(?:[.,:/]\d+)*")  # as pipeline.dedup counts numbers
_CLAUSE_CUT = re.compile(r"(?:,|;|:|\s[-–—])\s")
_END_PUNCT = re.compile(r"[.!?…\"”»“)]*$")
_SPACE_BEFORE = re.compile(r"(?<=\w)(?=[,.:;!?](?:\s|$))")
_SPACE_AFTER = re.compile(r"(?<=[,.;:])\s(?=\w)")
_MID_SENTENCE = re.compile(r"[\w,] $")
_OPENS_SENTENCE = re.compile(r"(?:^|[.!?…]\s+)$")
_NOT_NAME_BEFORE = frozenset('.!?…:;"“”«»„()–—-')
_CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)


# --- guards --------------------------------------------------------------------------------


def _caps(text: str) -> Counter[tuple[str, str]]:
    """Numbers and every capitalised word, wherever it stands, with their counts."""
    found: Counter[tuple[str, str]] = Counter(("n", n) for n in _NUMBER.findall(text))
    found.update(("w", w) for w in _WORD.findall(text) if w[:1].isupper())
    return found


def facts_subset(a: str, b: str) -> bool:
    """The shorter text's ``facts`` (numbers, names) are all in the longer one's."""
    short, long = sorted((a, b), key=len)
    (sn, sw), (ln, lw) = facts(short), facts(long)
    return sn <= ln and sw <= lw


def caps_equal(a: str, b: str) -> bool:
    """Same numbers and capitalised words, sentence openers included, same counts."""
    return _caps(a) == _caps(b)


def caps_subset(a: str, b: str) -> bool:
    """The shorter text's numbers and capitalised words (with counts) are in the longer."""
    short, long = sorted((a, b), key=len)
    return not _caps(short) - _caps(long)


GUARDS: dict[str, Callable[[str, str], bool]] = {
    "same_facts": same_facts,
    "facts_subset": facts_subset,
    "caps_equal": caps_equal,
    "caps_subset": caps_subset,
}
PIPELINE_GUARD = "same_facts"


# --- corpora -------------------------------------------------------------------------------


# The guard the pipeline used before it compared differing words; kept here to measure the
# guard variants against it.
# "Mr.", "Dr.", "St.", "U.S." at the end of a cut: the next word continues the sentence.
_ABBREVIATION = re.compile(r"(?:^|\s)(?:[A-Z][a-z]{0,2}|(?:[A-Z]\.){1,3}[A-Z]?)\.$")


def facts(text: str) -> tuple[Counter[str], Counter[str]]:
    """The numbers and the names (capitalised words that do not open a sentence) of a text,
    with their counts.

    Counts, not sets: a box score that turns one "4" into a "2" among other 2s and 4s keeps
    the same set. Openers are the first word of each sentence as ``split_sentences`` cuts
    them, except after a short abbreviation ("Mr. Smith"): a word after "(", a dash or a
    quote is a name (bench/inarticle_threshold.py found name swaps there that passed).

    >>> numbers, names = facts("In 2021 Alice paid 5.5 million to Mr. Bob (Acme). Then 5.5 more.")
    >>> sorted(numbers.elements()), sorted(names.elements())
    (['2021', '5.5', '5.5'], ['Acme', 'Alice', 'Bob', 'Mr'])
    """
    numbers = Counter(_NUMBER.findall(text))
    names: Counter[str] = Counter()
    previous = ""
    for sentence in split_sentences(text):
        words = _WORD.findall(sentence)
        opener_is_name = bool(_ABBREVIATION.search(previous))
        for i, word in enumerate(words):
            if word[:1].isupper() and (i > 0 or opener_is_name):
                names[word] += 1
        previous = sentence
    return numbers, names


@dataclass(frozen=True, slots=True)
class Article:
    source: str
    lang: str
    paragraphs: tuple[str, ...]


def _paragraphs(text: str) -> tuple[str, ...]:
    return tuple(p for p in split_paragraphs(fix_text(text).text) if len(p) >= MIN_PARAGRAPH)


def load_articles(corpora: Path) -> list[Article]:
    """Articles of the five sources, as the pipeline would split them (in a fixed order)."""
    articles: list[Article] = []
    bsnlp = corpora / "bsnlp2021-raw" / "data" / "datasets" / "bsnlp"
    for lang in BSNLP_LANGS:
        for path in sorted(bsnlp.glob(f"*/raw/{lang}/*.txt")):
            text = path.read_bytes().decode("utf-8-sig", errors="replace")
            lines = re.split(r"\r\n|\r|\n", text)
            paragraphs = _paragraphs("\n".join(lines[5:]))  # id, lang, date, url, title
            if paragraphs:
                articles.append(Article(f"bsnlp-{lang}", lang, paragraphs))
    gold = json.loads((corpora / "aeb-scrapinghub" / "ground-truth.json").read_text("utf-8"))
    for key in sorted(gold):
        paragraphs = _paragraphs(gold[key].get("articleBody") or "")
        if paragraphs:
            joined = " ".join(paragraphs)
            lang = "ru" if len(_CYRILLIC.findall(joined)) > len(joined) / 4 else "en"
            articles.append(Article("aeb", lang, paragraphs))
    if not articles:
        raise SystemExit(f"no articles found under {corpora}")
    return articles


def sentence_units(article: Article) -> tuple[str, ...]:
    return tuple(
        s for p in article.paragraphs for s in split_sentences(p) if len(s) >= MIN_FUZZY_SENTENCE
    )


def _capitalised(text: str) -> tuple[list[str], list[str]]:
    """Capitalised words after a letter, digit or comma (names), and the others."""
    inside: list[str] = []
    opening: list[str] = []
    for m in _LETTER_WORD.finditer(text):
        if m.group(0)[:1].isupper():
            before = text[: m.start()].rstrip()
            mid = bool(before) and before[-1] not in _NOT_NAME_BEFORE
            (inside if mid else opening).append(m.group(0))
    return inside, opening


@dataclass(slots=True)
class Source:
    """The units (paragraphs or sentences) of one source, with what the edits need of it."""

    name: str
    articles: list[tuple[str, tuple[str, ...]]]  # (lang, units) per article
    vocab_by_len: dict[int, list[str]] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)  # sorted
    by_length: list[tuple[int, int, int]] = field(default_factory=list)  # (len, article, i)

    def build(self) -> None:
        words: set[str] = set()
        inside: Counter[str] = Counter()
        opening: Counter[str] = Counter()
        for _, units in self.articles:
            for u in units:
                words.update(w for w in _LETTER_WORD.findall(u) if w.islower() and len(w) >= 3)
                mid, first = _capitalised(u)
                inside.update(mid)
                opening.update(first)
        for w in sorted(words):
            self.vocab_by_len.setdefault(len(w), []).append(w)
        # A name: seen at least twice inside sentences, and more often there than opening one
        # (which keeps out "But", "The").
        self.names = sorted(
            n for n, c in inside.items() if len(n) >= 3 and c >= 2 and c > opening[n]
        )
        self.by_length = sorted(
            (len(u), a, i)
            for a, (_, units) in enumerate(self.articles)
            for i, u in enumerate(units)
        )

    def is_name(self, word: str) -> bool:
        i = bisect.bisect_left(self.names, word)
        return i < len(self.names) and self.names[i] == word


def make_sources(articles: list[Article], unit: str) -> list[Source]:
    grouped: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
    for art in articles:
        units = art.paragraphs if unit == "paragraph" else sentence_units(art)
        if units:
            grouped[art.source].append((art.lang, units))
    sources = [Source(name, grouped[name]) for name in sorted(grouped)]
    for s in sources:
        s.build()
    return sources


# --- edits (positives) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Context:
    """What an edit of one unit may draw on: its language, source and article's words."""

    lang: str
    src: Source
    vocab_by_len: dict[int, list[str]]  # lowercase words of the article, by length

    @classmethod
    def of(cls, lang: str, src: Source, units: tuple[str, ...]) -> Context:
        words = sorted({w for u in units for w in _LETTER_WORD.findall(u) if w.islower()})
        vocab: dict[int, list[str]] = {}
        for w in words:
            if len(w) >= 3:
                vocab.setdefault(len(w), []).append(w)
        return cls(lang, src, vocab)


Edit = Callable[[str, Context, random.Random], str | None]


def edit_quotes(text: str, ctx: Context, rng: random.Random) -> str | None:
    if _STRAIGHT_QUOTE.search(text):
        opening, closing = QUOTES[ctx.lang] if rng.random() < 0.7 else ("“", "”")
        n = 0

        def typographic(_: re.Match[str]) -> str:
            nonlocal n
            n += 1
            return opening if n % 2 else closing

        return _STRAIGHT_QUOTE.sub(typographic, text)
    if _TYPO_QUOTE.search(text):
        return _TYPO_QUOTE.sub('"', text)
    return None


def edit_dashes(text: str, ctx: Context, rng: random.Random) -> str | None:
    if not _SPACED_DASH.search(text):
        return None
    return _SPACED_DASH.sub(lambda m: rng.choice([d for d in "-–—" if d != m.group(0)]), text)


def edit_minus(text: str, ctx: Context, rng: random.Random) -> str | None:
    if _DIGIT_HYPHEN.search(text):
        return _DIGIT_HYPHEN.sub("−", text)
    if _SPACED_DASH.search(text):
        return _SPACED_DASH.sub("−", text)
    return None


def edit_whitespace(text: str, ctx: Context, rng: random.Random) -> str | None:
    ops = [("before", m.start()) for m in _SPACE_BEFORE.finditer(text)]
    ops += [("after", m.start()) for m in _SPACE_AFTER.finditer(text)]
    if not ops:
        return None
    chosen = sorted(rng.sample(ops, min(len(ops), rng.randint(1, 2))), key=lambda o: -o[1])
    for op, i in chosen:  # right to left, so offsets stay valid
        text = text[:i] + " " + text[i:] if op == "before" else text[:i] + text[i + 1 :]
    return text


def _lower_words(text: str, min_len: int) -> list[re.Match[str]]:
    """Lowercase words other than the first word of the text."""
    words = list(_LETTER_WORD.finditer(text))[1:]
    return [m for m in words if m.group(0).islower() and len(m.group(0)) >= min_len]


def edit_word_insert(text: str, ctx: Context, rng: random.Random) -> str | None:
    # Mid-sentence only: before a word that follows a letter, digit or comma and a space (an
    # insertion before a sentence opener would change its case too).
    words = [m for m in _LETTER_WORD.finditer(text) if _MID_SENTENCE.search(text, 0, m.start())]
    if not words:
        return None
    spots = sorted(rng.sample(words, min(len(words), rng.randint(1, 2))), key=lambda m: -m.start())
    for m in spots:
        text = text[: m.start()] + rng.choice(FILLERS[ctx.lang]) + " " + text[m.start() :]
    return text


def edit_word_delete(text: str, ctx: Context, rng: random.Random) -> str | None:
    words = _lower_words(text, 2)
    if len(words) < 4:
        return None
    for m in sorted(rng.sample(words, rng.randint(1, 2)), key=lambda m: -m.start()):
        start, end = m.start(), m.end()
        if text[end : end + 1] == " ":
            end += 1
        elif text[start - 1 : start] == " ":
            start -= 1
        text = text[:start] + text[end:]
    return text


def edit_word_substitute(text: str, ctx: Context, rng: random.Random) -> str | None:
    words = _lower_words(text, 3)
    words += [  # sentence openers that are not names ("However", "Также")
        m
        for m in _LETTER_WORD.finditer(text)
        if len(m.group(0)) >= 3
        and m.group(0)[:1].isupper()
        and m.group(0)[1:].islower()
        and _OPENS_SENTENCE.search(text[max(0, m.start() - 5) : m.start()])
        and not ctx.src.is_name(m.group(0))
    ]
    if not words:
        return None
    for m in sorted(
        rng.sample(words, min(len(words), rng.randint(1, 2))), key=lambda m: -m.start()
    ):
        word = m.group(0)
        # A word of the same article (same language and topic), else of the same source.
        n = len(word) + rng.randint(-2, 2)
        pool = [w for w in ctx.vocab_by_len.get(n, []) if w != word.lower()]
        pool = pool or ctx.src.vocab_by_len.get(n) or [word.lower()]
        other = rng.choice(pool)
        if word[:1].isupper():
            other = other[:1].upper() + other[1:]
        text = text[: m.start()] + other + text[m.end() :]
    return text


def edit_trailing_clause(text: str, ctx: Context, rng: random.Random) -> str | None:
    tail = _END_PUNCT.search(text)
    core_end = tail.start() if tail else len(text)
    limit = 0.1 * len(text)
    cuts = [m.start() for m in _CLAUSE_CUT.finditer(text, 0, core_end)]
    cuts = [c for c in cuts if 0 < core_end - c < limit]
    if not cuts:  # no clause short enough: the last words instead
        cuts = [m.start() for m in re.finditer(r"\s", text[:core_end])]
        cuts = [c for c in cuts if 0 < core_end - c < limit and core_end - c <= 40]
    if not cuts:
        return None
    cut = min(cuts) if rng.random() < 0.5 else rng.choice(cuts)
    return text[:cut].rstrip(" ,;:–—-") + text[core_end:]


def edit_typo(text: str, ctx: Context, rng: random.Random) -> str | None:
    words = _lower_words(text, 4)
    if not words:
        return None
    m = rng.choice(words)
    word = m.group(0)
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(("swap", "drop", "double", "replace"))
    if op == "swap" and word[i] != word[i + 1]:
        new = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    elif op == "drop":
        new = word[:i] + word[i + 1 :]
    elif op == "double":
        new = word[:i] + word[i] + word[i:]
    else:
        new = word[:i] + rng.choice([c for c in word if c != word[i]] or ["x"]) + word[i + 1 :]
    return text[: m.start()] + new + text[m.end() :]


EDITS: dict[str, Edit] = {
    "quotes": edit_quotes,
    "dashes": edit_dashes,
    "minus": edit_minus,
    "whitespace": edit_whitespace,
    "word_insert": edit_word_insert,
    "word_delete": edit_word_delete,
    "word_substitute": edit_word_substitute,
    "trailing_clause": edit_trailing_clause,
    "typo": edit_typo,
}


def apply_kind(kind: str, text: str, ctx: Context, rng: random.Random) -> str | None:
    """The edited text after the pipeline's repair, or None if the edit does not apply."""
    if kind == "two_edits":
        first, second = rng.sample(sorted(EDITS), 2)
        once = apply_kind(first, text, ctx, rng)
        return apply_kind(second, once, ctx, rng) if once else None
    edited = EDITS[kind](text, ctx, rng)
    if edited is None:
        return None
    edited = fix_line(edited).text
    return edited if edited and edited != text else None


# --- negatives ------------------------------------------------------------------------------


def decoy_number(text: str, src: Source, rng: random.Random) -> str | None:
    numbers = list(_NUMBER.finditer(text))
    if not numbers:
        return None
    m = rng.choice(numbers)
    i = rng.choice([i for i in range(m.start(), m.end()) if text[i].isdigit()])
    lowest = "1" if i == m.start() and m.end() - m.start() > 1 else "0"
    new = rng.choice([d for d in "0123456789" if d != text[i] and d >= lowest])
    return text[:i] + new + text[i + 1 :]


def decoy_name(text: str, src: Source, rng: random.Random) -> str | None:
    present = sorted({w for w in _LETTER_WORD.findall(text) if w[:1].isupper()})
    candidates = [w for w in present if src.is_name(w)]
    if not candidates or not src.names:
        return None
    old, new = rng.choice(candidates), rng.choice(src.names)
    if new in present:
        return None
    return re.sub(rf"(?<!\w){re.escape(old)}(?!\w)", new, text)


def hardest_neighbour(units: tuple[str, ...], keys: list[str], i: int) -> str | None:
    """The other unit of the article sharing the largest share of words (Jaccard)."""
    words = set(keys[i].split())
    best: tuple[float, int] | None = None
    for j, key in enumerate(keys):
        if j == i or key == keys[i]:
            continue
        other = set(key.split())
        score = len(words & other) / max(1, len(words | other))
        if best is None or score > best[0]:
            best = (score, j)
    return units[best[1]] if best else None


def random_same_source(src: Source, a: int, text: str, rng: random.Random) -> str | None:
    lo = bisect.bisect_left(src.by_length, (int(len(text) * 0.8), -1, -1))
    hi = bisect.bisect_right(src.by_length, (int(len(text) * 1.25) + 1, -1, -1))
    key = match_key(text)
    for _ in range(20):
        if lo >= hi:
            return None
        _, b, j = src.by_length[rng.randrange(lo, hi)]
        other = src.articles[b][1][j]
        if b != a and match_key(other) != key:
            return other
    return None


# --- pairs ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Pair:
    unit: str
    source: str
    positive: bool
    kind: str
    a: str
    b: str
    in_partial: bool
    scores: dict[str, float] = field(default_factory=dict)
    exact: bool = False
    guards: dict[str, bool] = field(default_factory=dict)


def source_pairs(
    src: Source, unit: str, per_source: int, partial_share: float, rng: random.Random
) -> list[Pair]:
    """``per_source`` positives and as many negatives (split over the kinds) from one source."""
    pairs: list[Pair] = []
    slots = [(a, i) for a, (_, units) in enumerate(src.articles) for i in range(len(units))]
    rng.shuffle(slots)
    keys: dict[int, list[str]] = {}
    contexts: dict[int, Context] = {}
    cursor = 0

    def take() -> tuple[int, int]:
        nonlocal cursor
        cursor = (cursor + 1) % len(slots)
        return slots[cursor]

    def add(positive: bool, kind: str, a_text: str, b_text: str) -> None:
        short = max(len(a_text), len(b_text)) <= PARTIAL_MAX_CHARS
        partial = short and rng.random() < partial_share
        pairs.append(Pair(unit, src.name, positive, kind, a_text, b_text, partial))

    weights = [POSITIVE_WEIGHTS[k] for k in POSITIVE_KINDS]
    for _ in range(per_source):
        kind = rng.choices(POSITIVE_KINDS, weights)[0]
        for _try in range(500):
            a, i = take()
            lang, units = src.articles[a]
            if a not in contexts:
                contexts[a] = Context.of(lang, src, units)
            edited = apply_kind(kind, units[i], contexts[a], rng)
            if edited is not None:
                add(True, kind, units[i], edited)
                break
    for kind in NEGATIVE_KINDS:
        for _ in range(per_source // len(NEGATIVE_KINDS)):
            for _try in range(500):
                a, i = take()
                units = src.articles[a][1]
                other: str | None
                if kind == "same_article":
                    if a not in keys:
                        keys[a] = [match_key(u) for u in units]
                    other = hardest_neighbour(units, keys[a], i)
                elif kind == "random_source":
                    other = random_same_source(src, a, units[i], rng)
                elif kind == "decoy_number":
                    other = decoy_number(units[i], src, rng)
                else:
                    other = decoy_name(units[i], src, rng)
                if other is not None and match_key(other) != match_key(units[i]):
                    add(False, kind, units[i], other)
                    break
    return pairs


def score_pairs(pairs: list[Pair]) -> None:
    for p in pairs:
        for name, (scorer, processor) in SCORERS.items():
            if name != SUBSAMPLED or p.in_partial:
                p.scores[name] = float(scorer(p.a, p.b, processor=processor))
        p.exact = match_key(p.a) == match_key(p.b)
        if max(p.scores.values()) >= BELOW[0]:  # below every threshold no guard matters
            p.guards = {name: guard(p.a, p.b) for name, guard in GUARDS.items()}
        else:
            p.guards = dict.fromkeys(GUARDS, False)


# --- metrics and tables ---------------------------------------------------------------------


def fuzzy_hit(p: Pair, scorer: str, t: float, guard: str | None = None) -> bool:
    return p.scores[scorer] >= t and (guard is None or p.guards[guard])


def pipeline_hit(p: Pair, scorer: str, t: float, guard: str = PIPELINE_GUARD) -> bool:
    """The pipeline's decision: equal match_key, else score >= t and the guard holds."""
    return p.exact or fuzzy_hit(p, scorer, t, guard)


def fuzzy_at(scorer: str, t: float, guard: str | None = None) -> Callable[[Pair], bool]:
    return lambda p: fuzzy_hit(p, scorer, t, guard)


def pipeline_at(scorer: str, t: float, guard: str = PIPELINE_GUARD) -> Callable[[Pair], bool]:
    return lambda p: pipeline_hit(p, scorer, t, guard)


def prf(pairs: list[Pair], hit: Callable[[Pair], bool]) -> tuple[float, float, float]:
    tp = sum(1 for p in pairs if p.positive and hit(p))
    fp = sum(1 for p in pairs if not p.positive and hit(p))
    pos = sum(1 for p in pairs if p.positive)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / pos if pos else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return 100 * precision, 100 * recall, 100 * f1


def rate(pairs: list[Pair], hit: Callable[[Pair], bool]) -> str:
    if not pairs:
        return "–"
    return f"{100 * sum(1 for p in pairs if hit(p)) / len(pairs):.1f}"


def scored(pairs: list[Pair], scorer: str) -> list[Pair]:
    return [p for p in pairs if scorer in p.scores]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Best:
    threshold: int  # argmax F1, ties to the higher threshold
    f1: float
    plateau: int  # highest threshold with F1 >= best - PLATEAU


def prf_table(pairs: list[Pair], pipeline: bool) -> tuple[str, dict[str, Best]]:
    """P/R/F1 per threshold and scorer, and the best threshold of each scorer."""
    rows: list[list[str]] = []
    f1s: dict[str, dict[int, float]] = defaultdict(dict)
    for t in THRESHOLDS:
        row = [str(t)]
        for name in SCORERS:
            subset = scored(pairs, name)
            p, r, f = prf(subset, pipeline_at(name, t) if pipeline else fuzzy_at(name, t))
            row.append(f"{p:.1f} / {r:.1f} / **{f:.1f}**")
            f1s[name][t] = f
        rows.append(row)
    best: dict[str, Best] = {}
    for name, by_t in f1s.items():
        top = max(by_t.values())
        t_best = max(t for t, f in by_t.items() if f == top)
        plateau = max(t for t, f in by_t.items() if f >= top - PLATEAU)
        best[name] = Best(t_best, top, plateau)
    rows.append(["best t (F1)", *(f"{best[n].threshold} ({best[n].f1:.1f})" for n in SCORERS)])
    rows.append([f"plateau (−{PLATEAU})", *(f"≤ {best[n].plateau}" for n in SCORERS)])
    return table(["t", *(f"{n}: P / R / F1" for n in SCORERS)], rows), best


def kinds_table(pairs: list[Pair], best: dict[str, Best]) -> str:
    """Per kind: recall (positives) or FP rate (negatives), scorer alone, no guard."""
    extra = (85, int(CURRENT_THRESHOLD), 95)
    rows = []
    for kind in ALL_KINDS:
        group = [p for p in pairs if p.kind == kind]
        what = "recall" if kind in POSITIVE_WEIGHTS else "FP rate"
        row = [kind, what, str(len(group)), rate(group, lambda p: p.exact)]
        for name in SCORERS:
            row.append(rate(scored(group, name), fuzzy_at(name, best[name].threshold)))
        for t in extra:
            row.append(rate(group, fuzzy_at(CHOSEN_SCORER, t)))
        rows.append(row)
    header = [
        "kind",
        "%",
        "n",
        "key equal",
        *(f"{n} ≥{best[n].threshold}" for n in SCORERS),
        *(f"{CHOSEN_SCORER} ≥{t}" for t in extra),
    ]
    return table(header, rows)


def guard_table(by_unit: dict[str, list[Pair]], scorer: str, t: float) -> str:
    rows = []
    for kind in ALL_KINDS:
        row = [kind, "recall" if kind in POSITIVE_WEIGHTS else "FP rate"]
        for pairs in by_unit.values():
            group = [p for p in scored(pairs, scorer) if p.kind == kind]
            row += [
                rate(group, lambda p: fuzzy_hit(p, scorer, t)),
                rate(group, lambda p: fuzzy_hit(p, scorer, t, PIPELINE_GUARD)),
                rate(group, lambda p: pipeline_hit(p, scorer, t)),
            ]
        rows.append(row)
    header = ["kind", "%"]
    for unit in by_unit:
        header += [f"{unit}: {scorer} ≥{t:g}", f"+ {PIPELINE_GUARD}", "pipeline"]
    return table(header, rows)


def guard_variants_table(by_unit: dict[str, list[Pair]], scorer: str, t: float) -> str:
    """Pipeline decision (equal key, else score >= t and the guard) for each guard."""
    rows = []
    for guard in GUARDS:
        row = [guard]
        for pairs in by_unit.values():
            sub = scored(pairs, scorer)

            def hit(p: Pair, g: str = guard) -> bool:
                return pipeline_hit(p, scorer, t, g)

            row.append(rate([p for p in sub if p.positive], hit))
            row.append(rate([p for p in sub if p.kind == "trailing_clause"], hit))
            row.append(rate([p for p in sub if p.kind == "word_substitute"], hit))
            row.append(rate([p for p in sub if p.kind == "same_article"], hit))
            row.append(rate([p for p in sub if p.kind.startswith("decoy")], hit))
            row.append(f"{prf(sub, hit)[2]:.1f}")
        rows.append(row)
    header = ["guard"]
    for unit in by_unit:
        header += [
            f"{unit}: recall",
            "trailing_clause",
            "word_substitute",
            "FP same_article",
            "FP decoys",
            "F1",
        ]
    return table(header, rows)


def diff(a: str, b: str, width: int = 40) -> str:
    """The differing middle of two texts, with context: …ctx[a-part → b-part]ctx…"""
    p = 0
    while p < min(len(a), len(b)) and a[p] == b[p]:
        p += 1
    s = 0
    while s < min(len(a), len(b)) - p and a[-1 - s] == b[-1 - s]:
        s += 1
    head = ("…" if p > width else "") + a[max(0, p - width) : p]
    tail = a[len(a) - s : len(a) - s + width] + ("…" if s > width else "")
    old, new = _clip(a[p : len(a) - s], 2 * width), _clip(b[p : len(b) - s], 2 * width)
    return f"{head}[{old} → {new}]{tail}".replace("|", "\\|")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width // 2] + " … " + text[-width // 2 :]


def guard_examples(pairs: list[Pair], scorer: str, t: float, per_kind: int) -> list[str]:
    """What the guard blocks among positives (non-exact) and lets through among negatives."""
    out: list[str] = []
    for kind in ALL_KINDS:
        group = [p for p in scored(pairs, scorer) if p.kind == kind]
        if kind in POSITIVE_WEIGHTS:
            bad = [p for p in group if not p.exact and p.scores[scorer] >= t]
            bad = [p for p in bad if not p.guards[PIPELINE_GUARD]]
            verdict = "kept (guard blocks)"
        else:
            bad = [p for p in group if fuzzy_hit(p, scorer, t, PIPELINE_GUARD)]
            verdict = "removed (guard passes)"
        out += [
            f"- {verdict} `{kind}` ({p.unit}, {p.source}, {scorer} {p.scores[scorer]:.1f}): "
            + diff(p.a, p.b)
            for p in bad[:per_kind]
        ]
    return out


def sentence_start_share(pairs: list[Pair], scorer: str, t: float) -> str:
    """Of the name decoys the guard passes, how many swapped a name only at sentence starts."""
    passed = [
        p for p in pairs if p.kind == "decoy_name" and fuzzy_hit(p, scorer, t, PIPELINE_GUARD)
    ]
    hidden = sum(1 for p in passed if facts(p.a)[1] == facts(p.b)[1])
    return f"{hidden} of {len(passed)}"


def natural_lookalikes(articles: list[Article], t: float) -> tuple[str, list[str]]:
    """Same-article paragraph pairs of the corpora scoring >= 80: counts, and examples."""
    floor = NATURAL_THRESHOLDS[0]
    found: dict[str, list[tuple[float, int, int, int]]] = {}
    for name, (scorer, processor) in SCORERS.items():
        if name == SUBSAMPLED:
            continue
        hits = []
        for a, art in enumerate(articles):
            ps = art.paragraphs
            if len(ps) < 2:
                continue
            matrix = process.cdist(ps, ps, scorer=scorer, processor=processor, score_cutoff=floor)
            for i, j in zip(*matrix.nonzero(), strict=True):
                if i < j and match_key(ps[i]) != match_key(ps[j]):
                    hits.append((float(matrix[i, j]), a, int(i), int(j)))
        found[name] = hits
    guarded: dict[tuple[int, int, int], dict[str, bool]] = {}
    for _, a, i, j in found[CHOSEN_SCORER]:
        x, y = articles[a].paragraphs[i], articles[a].paragraphs[j]
        guarded[(a, i, j)] = {g: f(x, y) for g, f in GUARDS.items()}

    def count(hits: list[tuple[float, int, int, int]]) -> str:
        return f"{len(hits)} ({len({h[1] for h in hits})})"

    rows = []
    for th in sorted({*NATURAL_THRESHOLDS, int(t)}):
        row = [str(th), *(count([h for h in hits if h[0] >= th]) for hits in found.values())]
        for g in GUARDS:
            row.append(count([h for h in found[CHOSEN_SCORER] if h[0] >= th and guarded[h[1:]][g]]))
        rows.append(row)
    header = ["t", *found, *(f"{CHOSEN_SCORER} + {g}" for g in GUARDS)]
    # What the pipeline removes with the guard: first the pairs a threshold of t adds to the
    # current default's, then those the default removes already (distinct ones, each once).
    lo, hi = min(t, CURRENT_THRESHOLD), max(t, CURRENT_THRESHOLD)
    notes: list[str] = []
    seen: set[str] = set()
    for band, limit in (((lo, hi), 15), ((hi, 101.0), 10)):
        notes.append(f"\n{CHOSEN_SCORER} in [{band[0]:g}, {min(band[1], 100):g}):\n")
        shown = 0
        for score, a, i, j in sorted(found[CHOSEN_SCORER], key=lambda h: (-h[0], h[1:])):
            if band[0] <= score < band[1] and guarded[(a, i, j)][PIPELINE_GUARD]:
                d = diff(articles[a].paragraphs[i], articles[a].paragraphs[j], 30)
                if d not in seen and shown < limit:
                    seen.add(d)
                    shown += 1
                    notes.append(f"- {articles[a].source}, {score:.1f}: {d}")
    return table(header, rows), notes


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--corpora",
        type=Path,
        default=DEFAULT_CORPORA,
        help=f"the shared corpora (default {DEFAULT_CORPORA})",
    )
    parser.add_argument(
        "--per-source",
        type=int,
        default=600,
        help="positives per source and unit; as many negatives, split over the 4 kinds",
    )
    parser.add_argument(
        "--partial-share",
        type=float,
        default=0.5,
        help=f"share of pairs (of texts <= {PARTIAL_MAX_CHARS} chars) scored by partial_ratio",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help=f"threshold for the guard tables (default: the top of {CHOSEN_SCORER}'s plateau)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    print("```\n$ python " + " ".join(shlex.quote(a) for a in sys.argv) + "\n```\n")
    rng = random.Random(args.seed)
    articles = load_articles(args.corpora)
    by_unit: dict[str, list[Pair]] = {}
    for unit in ("paragraph", "sentence"):
        pairs = [
            pair
            for src in make_sources(articles, unit)
            for pair in source_pairs(src, unit, args.per_source, args.partial_share, rng)
        ]
        score_pairs(pairs)
        by_unit[unit] = pairs

    n_articles = Counter(a.source for a in articles)
    n_paragraphs: Counter[str] = Counter()
    for art in articles:
        n_paragraphs[art.source] += len(art.paragraphs)
    print(
        "Corpora: "
        + ", ".join(
            f"{s} {n_articles[s]} articles / {n_paragraphs[s]} paragraphs"
            for s in sorted(n_articles)
        )
        + "."
    )
    for unit, pairs in by_unit.items():
        pos = sum(p.positive for p in pairs)
        part = sum(p.in_partial for p in pairs)
        print(
            f"{unit.capitalize()} pairs: {pos} positive, {len(pairs) - pos} negative (seed "
            f"{args.seed}); partial_ratio on {part} of them."
        )
    print("Cells: precision / recall / **F1** in %, balanced pairs (50 % positives).\n")

    best_by_unit: dict[str, dict[str, Best]] = {}
    for unit, pairs in by_unit.items():
        title = unit.capitalize() + "s"
        distinct = [p for p in pairs if p.positive or p.kind in DISTINCT_KINDS]
        text, _ = prf_table(distinct, pipeline=False)
        print(f"### {title}: scorer alone, positives vs distinct text (no decoys)\n")
        print(text + "\n")
        text, best = prf_table(pairs, pipeline=True)
        best_by_unit[unit] = best
        print(
            f"### {title}: pipeline decision (equal key, else score ≥ t and "
            f"{PIPELINE_GUARD}), positives vs all negatives incl. decoys\n"
        )
        print(text + "\n")
        below = [
            f"{n} "
            + ", ".join(f"{t} → {prf(scored(pairs, n), pipeline_at(n, t))[2]:.1f}" for t in BELOW)
            for n in (CHOSEN_SCORER, "token_set")
        ]
        print(f"F1 below the range: {'; '.join(below)}.\n")
        print(f"### {title}: per kind, scorer alone, no guard (% of pairs)\n")
        print(kinds_table(pairs, best) + "\n")

    chosen = CHOSEN_SCORER
    # The highest (safest) threshold still on the F1 plateau of both units.
    plateau = min(best[chosen].plateau for best in best_by_unit.values())
    t = args.threshold if args.threshold is not None else float(plateau)
    print(
        f"Chosen for the guard tables: {chosen} ≥ {t:g}"
        + (
            " (--threshold)."
            if args.threshold is not None
            else f", the highest threshold within {PLATEAU} F1 points of the best on both "
            "paragraphs and sentences (the pipeline uses one threshold for both).\n"
        )
    )
    for threshold in dict.fromkeys((t, CURRENT_THRESHOLD)):
        note = " (current default)" if threshold == CURRENT_THRESHOLD else ""
        print(f"### Guard: `{PIPELINE_GUARD}` with {chosen} ≥ {threshold:g}{note} (% of pairs)\n")
        print(guard_table(by_unit, chosen, threshold) + "\n")
    print(f"### Guard variants with {chosen} ≥ {t:g} (pipeline decision, % of pairs)\n")
    print(guard_variants_table(by_unit, chosen, t) + "\n")
    print(
        "`same_facts`: equal sets of numbers and of capitalised words not opening a sentence; "
        "`facts_subset`: the shorter text's are among the longer's; `caps_equal` / "
        "`caps_subset`: the same with every capitalised word, sentence openers included, and "
        "counts.\n"
    )
    print(f"### What the guard gets wrong at {chosen} ≥ {t:g}\n")
    for unit, pairs in by_unit.items():
        print("\n".join(guard_examples(pairs, chosen, t, 2 if unit == "paragraph" else 1)))
        share = sentence_start_share(pairs, chosen, t)
        print(
            f"- {unit}s: {share} name decoys that `{PIPELINE_GUARD}` passes swapped a name that "
            "`facts()` takes for a sentence opener wherever it stands (after . ! ? : ; a dash, a "
            'quote or a bracket, so also after "Mr." or "St.").'
        )
    print()
    text, notes = natural_lookalikes(articles, t)
    print(
        "### Natural look-alikes: pairs of paragraphs of one article (whole corpora, unlabelled) "
        "scoring ≥ t, key not equal: pairs (articles)\n"
    )
    print(text + "\n")
    print(f"Natural pairs (each shown once) that {chosen} with {PIPELINE_GUARD} would merge:")
    print("\n".join(notes) + "\n")
    print(f"Runtime {time.perf_counter() - started:.1f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
