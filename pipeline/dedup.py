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

import bisect
import math
import re
from collections import Counter
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from pipeline.config import DedupConfig
from pipeline.records import Reason
from pipeline.segment import split_sentences

# Sentences shorter than this are matched exactly only (fuzzy matching of "Yes." is noise).
MIN_FUZZY_SENTENCE = 30

# A sign that starts a number is part of it ("-15" is not "15"), a hyphen inside a range
# ("10-15") is not; currency signs are words ("$5" is not "€5").
CURRENCY_SIGNS = "$€£¥₽₴"
_WORDS = re.compile(rf"(?<!\w)[-+−](?=\d)[^\W_]+|[^\W_]+|[{CURRENCY_SIGNS}]")
_WORD = re.compile(rf"\w+|(?<!\w)[-+−](?=\d)\w+|[{CURRENCY_SIGNS}]")  # branches start apart


def match_key(text: str) -> str:
    """What two copies share when they differ only in case, spacing and punctuation.

    >>> match_key("– Hello,  World!")
    'hello world'
    >>> match_key("Lows of -15 degrees, 10-15 cm of snow, $5 fines")
    'lows of -15 degrees 10 15 cm of snow $ 5 fines'
    """
    return " ".join(_WORDS.findall(text.casefold()))


def same_facts(a: str, b: str) -> bool:
    """True when the shorter text says nothing the longer one contradicts.

    The words of the shorter text that the longer lacks must carry no fact: no digits, no
    number word, no negation, and no capitalised word other than a common sentence opener
    (a name, even at the start of a sentence: "Acme shares rose" / "Beta shares rose"). The
    longer text may add detail ("... on Sunday"), but not a negation or a number word.
    Measured with bench/inarticle_threshold.py.

    >>> same_facts("Shares fell 5% on Monday.", "Shares fell 5% on Monday in Tokyo.")
    True
    >>> same_facts("Shares fell 5% on Monday.", "Shares fell 7% on Monday.")
    False
    >>> same_facts("Acme shares rose on Monday.", "Beta shares rose on Monday.")
    False
    >>> same_facts("The plan would raise pensions.", "The plan would not raise pensions.")
    False
    """
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    short_words = _WORD.findall(short.casefold())
    long_words = _WORD.findall(long.casefold())
    if short_words == long_words:  # most copies: the same words, other punctuation
        return True
    # Multiset differences without Counter's subtraction (a Python loop over every word of
    # both): the long text's extra words matter only if they carry a fact, and the words the
    # short one lacks are few in a text that passed the score.
    short_counts, long_counts = Counter(short_words), Counter(long_words)
    if any(long_counts[w] > short_counts[w] for w in long_counts.keys() & _NEGATIONS_AND_NUMBERS):
        return False
    missing = [w for w, n in short_counts.items() if n > long_counts[w]]
    if not missing:
        return True
    if any(any(ch.isdigit() for ch in w) or w in _NEGATIONS_AND_NUMBERS for w in missing):
        return False
    capitalised = {w.casefold() for w in _WORD.findall(short) if w[:1].isupper()}
    return not any(w in capitalised and w not in _OPENERS for w in missing)


# Words that change what a sentence states (en, ru, uk), and words that open sentences
# without naming anything. Found by bench/inarticle_threshold.py and a review of its misses.
_NEGATIONS = frozenset(
    "not no never nor cannot none nothing neither nobody n't "
    "не ни нет никогда ничего никто нельзя "
    "ні немає ніколи нічого ніхто".split()
)
_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve fifteen twenty "
    "thirty forty fifty hundred thousand million billion trillion half dozen first second third "
    "один одна одно два две три четыре пять шесть семь восемь девять десять двадцать сто "
    "тысяча тысячи тысяч миллион миллиона миллионов миллиард половина первый второй третий "
    "одна дві три чотири п'ять шість сім вісім дев'ять десять сто тисяча мільйон мільярд".split()
)
_NEGATIONS_AND_NUMBERS = _NEGATIONS | _NUMBER_WORDS
_OPENERS = frozenset(
    "the a an in on at as after before but and or so if when while this that these those "
    "there it he she they we i you his her its their our my then also however meanwhile "
    "according for from with by to of what why how where who yes no still now today yesterday "
    "в во на по но и а это он она они мы я вы как так если когда после до за при у же "
    "однако также сегодня вчера теперь кроме да нет что где кто почему "
    "із з та і й це він вона вони ми ви як якщо коли після також однак сьогодні вчора".split()
)


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A decision about one paragraph: remove it whole (``span is None``) or a span of it."""

    position: int
    reason: Reason
    detail: str
    matched_position: int
    text: str  # what is removed
    kept: str | None = None  # for a span: the paragraph that remains


class _TextIndex:
    """Texts seen so far in an article, for exact and fuzzy look-up of the first copy.

    Fuzzy look-up scores only texts of compatible length: ``fuzz.ratio`` >= t needs the
    shorter text to be at least t / (200 - t) of the longer (0.82 at t = 90), so a bisect on
    lengths turns a scan of every earlier text into a scan of a few.

    A key of None means that no other text of the article has that key (see ``_shadow``): it
    is not stored, as no exact look-up could ever find it.
    """

    def __init__(self, min_fuzzy: int) -> None:
        self.min_fuzzy = min_fuzzy
        self.by_key: dict[str, int] = {}
        self.lengths: list[int] = []  # sorted; texts and positions in the same order
        self.texts: list[str] = []
        self.positions: list[int] = []

    def add(self, text: str, key: str | None, position: int) -> None:
        if key is not None:
            if not key or key in self.by_key:
                return
            self.by_key[key] = position
        if len(text) >= self.min_fuzzy:
            # After texts of equal length, so that the first copy stays first among equals.
            i = bisect.bisect_right(self.lengths, len(text))
            self.lengths.insert(i, len(text))
            self.texts.insert(i, text)
            self.positions.insert(i, position)

    def exact(self, key: str | None) -> int | None:
        return self.by_key.get(key) if key else None

    def near(self, text: str, threshold: float) -> tuple[int, float] | None:
        """Position and score of the closest earlier text that states the same facts."""
        n = len(text)
        if n < self.min_fuzzy or not self.texts:  # nothing to score against
            return None
        ratio = threshold / (200.0 - threshold)
        lo = bisect.bisect_left(self.lengths, math.ceil(n * ratio))
        hi = bisect.bisect_right(self.lengths, math.floor(n / ratio))
        if lo >= hi:
            return None
        best = process.extractOne(
            text, self.texts[lo:hi], scorer=fuzz.ratio, score_cutoff=threshold
        )
        if best is None or not same_facts(text, best[0]):
            return None
        return self.positions[lo + best[2]], float(best[1])

    def find(self, text: str, key: str | None, threshold: float) -> int | None:
        hit = self.exact(key)
        if hit is None:
            near = self.near(text, threshold)
            hit = near[0] if near else None
        return hit


# Bytes other than ASCII lower-case letters, digits and "$": deleted from a shadow.
_NOT_IN_SHADOW = bytes(set(range(256)) - set(b"abcdefghijklmnopqrstuvwxyz0123456789$"))


def _shadow(text: str) -> bytes:
    """A cheap stand-in for ``match_key`` in exact look-ups: texts with equal keys have equal
    shadows, so a text whose shadow no other text of the article has shares its key with none.

    It is the case-folded text's ASCII letters, digits and "$", in order. Those characters
    always sit inside a key's words (a letter or digit is a word or part of one, "$" is a word),
    and a key keeps its words in order, so the shadow is a function of the key. No regex and
    no list of words: about a quarter of the cost of ``match_key``.

    >>> _shadow("– Hello,  World! $5") == _shadow("hello world $ 5")
    True
    """
    return text.casefold().encode("ascii", "ignore").translate(None, _NOT_IN_SHADOW)


def find_duplicates(
    paragraphs: list[str], cfg: DedupConfig, skip: frozenset[int] = frozenset()
) -> list[Duplicate]:
    """Decide which paragraphs (or spans of them) repeat earlier text of the same article.

    ``skip`` holds positions already removed (boilerplate): they are neither matched nor
    used as the kept copy.
    """
    decisions: list[Duplicate] = []
    paragraphs_seen = _TextIndex(cfg.min_chars)
    sentences_seen = _TextIndex(MIN_FUZZY_SENTENCE)

    # Exact look-ups compare match keys, and a key costs a regex pass and a list of words.
    # Most texts have a shadow no other text has, hence a key no other text has: their key
    # is None, and only the others get a real one. Paragraphs and sentences are looked up in
    # separate indexes, so their shadows are counted separately. A paragraph's key is the
    # join of its sentences' keys, so its shadow is the join of their shadows.
    live = [pos for pos in range(len(paragraphs)) if pos not in skip]
    split = {pos: split_sentences(paragraphs[pos]) for pos in live}
    shadows = {pos: [_shadow(s) for s in split[pos]] for pos in live}
    sentence_shadows = Counter(sh for pos in live for sh in shadows[pos])
    paragraph_shadows = Counter(b"".join(shadows[pos]) for pos in live)

    for pos in live:
        paragraph, sentences = paragraphs[pos], split[pos]
        # A shadow shared, or empty (a key of non-ASCII words, or an empty key), needs the key.
        keys: list[str | None] = [
            match_key(s) if not sh or sentence_shadows[sh] > 1 else None
            for s, sh in zip(sentences, shadows[pos], strict=True)
        ]
        shadow = b"".join(shadows[pos])
        key: str | None = None
        if not shadow or paragraph_shadows[shadow] > 1:
            full = [match_key(s) if k is None else k for s, k in zip(sentences, keys, strict=True)]
            key = " ".join(k for k in full if k)  # = match_key(paragraph): no word spans a cut
        found = _judge(pos, paragraph, key, sentences, keys, cfg, paragraphs_seen, sentences_seen)
        decisions.extend(found)
        if found and found[0].kept is None:
            continue  # a removed paragraph is not the first copy of anything
        paragraphs_seen.add(paragraph, key, pos)
        for sentence, skey in zip(sentences, keys, strict=True):
            sentences_seen.add(sentence, skey, pos)
    return decisions


def _judge(
    pos: int,
    paragraph: str,
    key: str | None,
    sentences: list[str],
    keys: list[str | None],
    cfg: DedupConfig,
    paragraphs_seen: _TextIndex,
    sentences_seen: _TextIndex,
) -> list[Duplicate]:
    if len(paragraph) < cfg.min_chars:
        return []
    exact = paragraphs_seen.exact(key)
    if exact is not None:
        return [Duplicate(pos, "duplicate_exact", "exact", exact, paragraph)]
    near = paragraphs_seen.near(paragraph, cfg.near_threshold)
    if near is not None:
        return [Duplicate(pos, "duplicate_near", f"fuzz.ratio={near[1]:.1f}", near[0], paragraph)]
    # Sentence by sentence: which ones repeat text seen earlier (in this paragraph too)?
    local = _TextIndex(MIN_FUZZY_SENTENCE)
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
