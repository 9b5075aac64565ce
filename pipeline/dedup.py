"""Duplicates inside one article: exact, near, contained, and repeated runs of sentences.

The first copy stays. Three guards keep content:

- paragraphs shorter than ``min_chars`` are never duplicates: dialogue repeats "– Yes.";
- a near match must state the same facts: paragraphs built on one template but with other
  numbers or names ("Shares of A rose 5%" / "Shares of B fell 7%") are different news;
- a repeated span must be at least ``span_min_chars`` long: one repeated short sentence
  ("As it is today.") is style, a repeated run of them is a scraper's stutter.

Matching is rapidfuzz ``fuzz.ratio`` with ``score_cutoff`` (a normalized Indel similarity; the
cutoff lets rapidfuzz reject pairs of very different lengths before aligning them).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from pipeline.config import DedupConfig
from pipeline.records import Reason
from pipeline.segment import split_sentences

# Sentences shorter than this are matched exactly only (fuzzy matching of "Yes." is noise).
MIN_FUZZY_SENTENCE = 30

_WORDS = re.compile(r"[^\W_]+")
_NUMBER = re.compile(r"\d+(?:[.,:/]\d+)*")
_WORD = re.compile(r"\w+")
_SENTENCE_START = re.compile(r"(?:^|[.!?…:;]\s+|[\"“«„(–—-]\s*)$")


def match_key(text: str) -> str:
    """What two copies share when they differ only in case, spacing and punctuation.

    >>> match_key("– Hello,  World!")
    'hello world'
    """
    return " ".join(_WORDS.findall(text.casefold()))


def facts(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The numbers and the names (capitalised words not opening a sentence) of a text.

    >>> numbers, names = facts("In 2021 Alice paid 5.5 million to Bob.")
    >>> sorted(numbers), sorted(names)
    (['2021', '5.5'], ['Alice', 'Bob'])
    """
    numbers = frozenset(_NUMBER.findall(text))
    names = set()
    for m in _WORD.finditer(text):
        word = m.group(0)
        if (
            word[:1].isupper()
            and not word.isdigit()
            and not _SENTENCE_START.search(text[: m.start()])
        ):
            names.add(word)
    return numbers, frozenset(names)


def same_facts(a: str, b: str) -> bool:
    """True when a and b state the same numbers and names (a template decoy says others)."""
    return facts(a) == facts(b)


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A decision about one paragraph: remove it whole (``span is None``) or a span of it."""

    position: int
    reason: Reason
    detail: str
    matched_position: int
    text: str  # what is removed
    kept: str | None = None  # for a span: the paragraph that remains


class _SentenceIndex:
    """Sentences seen so far in an article, for exact and fuzzy look-up."""

    def __init__(self) -> None:
        self.by_key: dict[str, int] = {}
        self.texts: list[str] = []
        self.positions: list[int] = []

    def add(self, sentence: str, key: str, position: int) -> None:
        if key and key not in self.by_key:
            self.by_key[key] = position
            if len(sentence) >= MIN_FUZZY_SENTENCE:
                self.texts.append(sentence)
                self.positions.append(position)

    def find(self, sentence: str, key: str, threshold: float) -> int | None:
        if not key:
            return None
        if key in self.by_key:
            return self.by_key[key]
        if len(sentence) < MIN_FUZZY_SENTENCE or not self.texts:
            return None
        best = process.extractOne(sentence, self.texts, scorer=fuzz.ratio, score_cutoff=threshold)
        if best is None or not same_facts(sentence, best[0]):
            return None
        return self.positions[best[2]]


def find_duplicates(
    paragraphs: list[str], cfg: DedupConfig, skip: frozenset[int] = frozenset()
) -> list[Duplicate]:
    """Decide which paragraphs (or spans of them) repeat earlier text of the same article.

    ``skip`` holds positions already removed (boilerplate): they are neither matched nor
    used as the kept copy.
    """
    decisions: list[Duplicate] = []
    seen_keys: dict[str, int] = {}
    kept_texts: list[str] = []
    kept_positions: list[int] = []
    sentences_seen = _SentenceIndex()

    for pos, paragraph in enumerate(paragraphs):
        if pos in skip:
            continue
        sentences = split_sentences(paragraph)
        keys = [match_key(s) for s in sentences]
        key = keys[0] if len(keys) == 1 else match_key(paragraph)
        found = _judge(
            pos, paragraph, key, sentences, keys, cfg, seen_keys, kept_texts, kept_positions,
            sentences_seen,
        )
        decisions.extend(found)
        if found and found[0].kept is None:
            continue  # a removed paragraph is not the first copy of anything
        seen_keys.setdefault(key, pos)
        if len(paragraph) >= cfg.min_chars:
            kept_texts.append(paragraph)
            kept_positions.append(pos)
        for sentence, skey in zip(sentences, keys, strict=True):
            sentences_seen.add(sentence, skey, pos)
    return decisions


def _judge(
    pos: int,
    paragraph: str,
    key: str,
    sentences: list[str],
    keys: list[str],
    cfg: DedupConfig,
    seen_keys: dict[str, int],
    kept_texts: list[str],
    kept_positions: list[int],
    sentences_seen: _SentenceIndex,
) -> list[Duplicate]:
    if len(paragraph) < cfg.min_chars:
        return []
    if key in seen_keys:
        return [Duplicate(pos, "duplicate_exact", "exact", seen_keys[key], paragraph)]
    if kept_texts:
        best = process.extractOne(
            paragraph, kept_texts, scorer=fuzz.ratio, score_cutoff=cfg.near_threshold
        )
        if best is not None and same_facts(paragraph, best[0]):
            detail = f"fuzz.ratio={best[1]:.1f}"
            return [Duplicate(pos, "duplicate_near", detail, kept_positions[best[2]], paragraph)]
    # Sentence by sentence: which ones repeat text seen earlier (in this paragraph too)?
    local = _SentenceIndex()
    matches: list[int | None] = []
    for sentence, skey in zip(sentences, keys, strict=True):
        hit = sentences_seen.find(sentence, skey, cfg.near_threshold)
        if hit is None and local.find(sentence, skey, cfg.near_threshold) is not None:
            hit = pos
        matches.append(hit)
        local.add(sentence, skey, pos)
    covered = sum(len(s) for s, m in zip(sentences, matches, strict=True) if m is not None)
    earlier = [m for m in matches if m is not None and m != pos]
    if earlier and covered >= cfg.contained_coverage * sum(len(s) for s in sentences):
        source = Counter(earlier).most_common(1)[0][0]
        share = covered / sum(len(s) for s in sentences)
        detail = f"contained: {share:.2f} of its sentences seen"
        return [Duplicate(pos, "duplicate_near", detail, source, paragraph)]
    return _repeated_spans(pos, sentences, matches, cfg)


def _repeated_spans(
    pos: int, sentences: list[str], matches: list[int | None], cfg: DedupConfig
) -> list[Duplicate]:
    """Every run of already-seen sentences long enough to be a stutter, one row each."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, m in enumerate([*matches, None]):
        if m is not None and start is None:
            start = i
        elif m is None and start is not None:
            if sum(len(s) for s in sentences[start:i]) >= cfg.span_min_chars:
                runs.append((start, i))
            start = None
    if not runs:
        return []
    cut = {i for lo, hi in runs for i in range(lo, hi)}
    kept = " ".join(s for i, s in enumerate(sentences) if i not in cut)
    spans = []
    for lo, hi in runs:
        first_match = next(m for m in matches[lo:hi] if m is not None)
        detail = f"sentences {lo + 1}-{hi} of {len(sentences)} repeat earlier text"
        spans.append(
            Duplicate(pos, "duplicate_span", detail, first_match, " ".join(sentences[lo:hi]), kept)
        )
    return spans
