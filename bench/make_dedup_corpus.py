"""Build a raw corpus for corpus-wide near-duplicate detection, with its ground truth.

What it makes
-------------
``OUT_DIR/part-NNNNN.jsonl``: JSON Lines files of news articles (fields ``url``, ``title``,
``published_at`` (ISO 8601, UTC), ``source``, ``text`` with paragraphs joined by "\\n"), about
N paragraphs in all, and ``TRUTH.jsonl`` (outside OUT_DIR: the pipeline reads every file under
its raw root) saying which paragraph copies which. The damage, in known proportions:

- syndicated copies (~10% of articles): a later article on another site republishing an
  earlier one, hours to days later, verbatim (~25%) or with light edits per paragraph (a word
  changed, inserted or deleted; dashes, quotes or a comma changed), sometimes a dropped last
  paragraph, an added last paragraph or an intro of its own; copies of copies too (chains).
  Edits never touch a number, a capitalised word or a negation (that would change the facts),
  and keep ``fuzz.ratio`` to the first copy >= 90 (>= 85 for ~3% of edited paragraphs);
- quoted paragraphs (~3% of articles): an article of its own that quotes one whole paragraph
  of an earlier article, verbatim or wrapped ("As Metro Gazette reported: “…”");
- template decoys (~3% of articles): an article of its own with one paragraph that follows
  another paragraph's template with other facts: an earlier paragraph with one or two numbers
  or one name changed (``fuzz.ratio`` >= 85 to it, mostly > 95), or a market, sports, weather,
  currency or appointment report filled with other figures and names. Not duplicates;
- ``published_at`` ties (~5% of copies have their source's timestamp: the smallest article id
  survives), and stories (~30%) whose first article is written a file or two after its copies,
  so that path order is not time order (otherwise files follow time, roughly).

Truth, one JSON line per paragraph::

    {"file", "record_no", "url", "article_id", "published_at", "position", "kind", "origin",
     "ratio", "variant"}

``kind`` is ``original`` (no earlier equivalent), ``copy`` or ``quote`` (``origin`` is the
survivor of its cluster, ``"article_id:position"``: the cluster's earliest member by
(published_at, article_id)), or ``decoy`` (``origin``: the paragraph whose template it
follows). ``ratio`` is ``fuzz.ratio`` to the paragraph the generator made it from (for a copy of
a copy: to the first copy); ``variant`` says how it was made (``verbatim``, ``edited``,
``wrapped``; ``numbers``, ``names``, ``template``). Then one line per article::

    {"file", "record_no", "url", "article_id", "published_at", "n_paragraphs",
     "article_copy_of", "copy_share"}

``article_copy_of`` is the earliest earlier article (by published_at, then article_id) whose
paragraphs' clusters cover >= 80% of this article's characters (paragraph lengths), else
null; ``copy_share`` is that share (for the chosen article, else the largest one).

Where the texts come from
-------------------------
The real corpora in shared/corpora/, read in place with ``bench/make_corpus.py``'s readers
(bsnlp2021-raw ru/uk/bg/cs/pl/sl news, aeb-scrapinghub gold bodies, cleaneval-cpe gold texts).
Paragraphs are kept only when they come out of the pipeline's repair unchanged, match no
boilerplate rule, carry no URL, e-mail, markup, list residue or Latin look-alikes inside
Cyrillic words, end like a sentence and hold 60 to 1,500 characters (longer ones are cut at
sentence ends). The real corpora repeat themselves (bsnlp holds one story from many sites), so
a paragraph goes if it shares a run of 6 words (numbers left out) or all its lower-case words
with an earlier one, or if it is short (< 200 characters) and within ``fuzz.ratio`` 70 of an
earlier one of its language. What remains (~35k paragraphs, 16 MB, in ~4.8k articles) is used
first, as it is.

The rest is synthesized, language by language in proportion to the real text: a word-level
Markov chain of order 2 over the real sentences, backing off to order 1 at a quarter of its
steps (on a few MB of text, order 2 alone retells real sentences), makes sentences; a sentence
is kept only if it shares with no other sentence of its language in the corpus, real or made,
its match_key nor a run of 8 words. Paragraphs take the real paragraph lengths (x1.2, and at
least 150 characters: two one-sentence paragraphs sharing their first 7 words would be alike),
articles the real article sizes. So unrelated paragraphs share no sentence and no long run of
words: ``--check`` measures ``fuzz.ratio`` between unrelated paragraphs of each language
(1,500 per language). The Markov walks run vectorized (numpy, thousands at a time) in one
process per language, each with its own seed, so the output does not depend on timing.

Every article is checked so that the pipeline's paragraph positions are the truth's: the
text segments back into its paragraphs (``split_paragraphs``), no paragraph matches the rule
pack, no markup is detected, and nothing repeats inside the article (real articles: the
in-article ``find_duplicates`` finds nothing; made ones: no two sentences or paragraphs share a
match_key or reach the near threshold, which implies it).

Deterministic for a seed, size and corpora. On this 2-core machine: 10k paragraphs in ~35 s
(reading the corpora and building the chains take ~25 s), 1M paragraphs (447 MB) in ~4.5 min.

Usage::

    python bench/make_dedup_corpus.py OUT_DIR --paragraphs N --truth TRUTH.jsonl [--seed 0]
        [--corpora DIR] [--check]
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import json
import multiprocessing
import random
import re
import sys
import time
import zlib
from array import array
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from make_corpus import DEFAULT_CORPORA, HOSTS, UrlMaker, load_pool, site_name
from rapidfuzz import fuzz, process

from pipeline.boilerplate import RuleSet, load_rules
from pipeline.config import DedupConfig
from pipeline.dedup import (
    _OPENERS,  # words that open sentences without naming anything: not names
    MIN_FUZZY_SENTENCE,
    find_duplicates,
    match_key,
    same_facts,
)
from pipeline.ids import article_id
from pipeline.markup import looks_like_html
from pipeline.repair import fix_line
from pipeline.segment import split_paragraphs, split_sentences

# Proportions (per article, or per copy / per paragraph where said).
SYNDICATION_RATE = 0.08  # a story gets copies; x ~1.4 copies per story: ~10% of articles
CHAIN_RATE = 0.3  # a copy is copied again
QUOTE_RATE = 0.03
DECOY_RATE = 0.03
FAMILY_SHARE = 0.4  # of decoys in en/ru: a filled report template, not a changed paragraph
VERBATIM_COPY_RATE = 0.25
TIE_RATE = 0.05  # of copies: the source's timestamp
INVERTED_RATE = 0.3  # of syndicated stories: the first article is written after its copies
HEAVY_EDIT_RATE = 0.03  # of edited paragraphs: fuzz.ratio down to 85 instead of 90
DROP_LAST_RATE = 0.2
ADD_LAST_RATE = 0.1
ADD_INTRO_RATE = 0.15

MIN_PARAGRAPH = 60
SYNTH_LENGTH_SCALE = 1.2  # made paragraphs run longer than real ones: ~450 bytes on average
SYNTH_MIN_CHARS = 150
MAX_PARAGRAPH = 1500
SHINGLE_WORDS = 6
ARTICLE_SHARE = 0.8  # DESIGN: an article mostly (80% of its characters) a copy of another
START = datetime(2021, 1, 1, tzinfo=UTC)
SPAN_DAYS = 365
KIND_NAMES = ("original", "copy", "quote", "decoy")
ORIGINAL, COPY, QUOTE, DECOY = range(4)
VARIANTS = ("", "verbatim", "edited", "wrapped", "numbers", "names", "template")
LANG_ALIASES = {"ua": "uk", "cz": "cs"}

# Real paragraphs: no URL, e-mail, markup, tables, tabs or ellipsis runs; ending a sentence.
_UNWANTED = re.compile(
    r"https?:|www\.|@|©|[|<>{}\[\]#*\t_=~^\\]|\.{4,}|\s[-–—•·]\s*$"
    r"|[A-Za-z][\u0400-\u04ff]|[\u0400-\u04ff][A-Za-z]"  # Latin look-alikes in Cyrillic words
)
_ENDS_SENTENCE = re.compile(r"[.!?…][\"'”’»“)]*$")
_NUMBER = re.compile(r"\d+")
_WORD = re.compile(r"[^\W\d_]+")

Rnd = random.Random


# --------------------------------------------------------------------------------------------
# Real text
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class RealDoc:
    lang: str
    title: str
    paragraphs: list[str]


def usable(paragraph: str, rules: RuleSet) -> bool:
    """A clean content paragraph: the pipeline would keep it as it is."""
    if not MIN_PARAGRAPH <= len(paragraph) <= MAX_PARAGRAPH:
        return False
    if _UNWANTED.search(paragraph) or not _ENDS_SENTENCE.search(paragraph):
        return False
    repaired = fix_line(paragraph)
    if repaired.text != paragraph or repaired.fixes:
        return False
    return rules.match(paragraph) is None


def chunks(paragraph: str, rnd: Rnd) -> Iterator[str]:
    """A paragraph, or a long one cut at sentence ends into pieces of 300 to 900 characters."""
    if len(paragraph) <= MAX_PARAGRAPH:
        yield paragraph
        return
    piece: list[str] = []
    size = 0
    target = rnd.randint(300, 900)
    for sentence in split_sentences(paragraph):
        piece.append(sentence)
        size += len(sentence) + 1
        if size >= target:
            yield " ".join(piece)
            piece, size, target = [], 0, rnd.randint(300, 900)
    if piece:
        yield " ".join(piece)


def shingles(paragraph: str) -> set[int]:
    """CRC32 of every run of SHINGLE_WORDS words, numbers left out (the whole text if
    shorter), and of its lower-case words: what two paragraphs on one template, or quoting
    each other, share."""
    words = _WORD.findall(paragraph)
    folded = [w.casefold() for w in words]
    marks = {
        zlib.crc32(" ".join(folded[i : i + SHINGLE_WORDS]).encode())
        for i in range(len(words) - SHINGLE_WORDS + 1)
    }
    marks.add(zlib.crc32(" ".join(folded[:SHINGLE_WORDS]).encode()))
    # Its lower-case words alone: a forum's "Last edited by NAME on DATE" line, or a vote
    # count with other names and figures.
    skeleton = [w for w in words if w.islower()]
    if len(skeleton) >= 4:
        marks.add(zlib.crc32(("skeleton: " + " ".join(skeleton)).encode()))
    return marks


def clean_article(paragraphs: list[str], cfg: DedupConfig) -> bool:
    """True when the pipeline would see exactly these paragraphs and remove none of them."""
    text = "\n".join(paragraphs)
    return (
        split_paragraphs(text) == paragraphs
        and not looks_like_html(text)
        and not repeats_inside(paragraphs, cfg)
    )


def repeats_inside(paragraphs: list[str], cfg: DedupConfig) -> bool:
    """False only if ``find_duplicates`` can find nothing: no two sentences (as the pipeline
    cuts them) share a ``match_key`` or, from MIN_FUZZY_SENTENCE characters on, reach
    ``fuzz.ratio`` >= the near threshold, and no two paragraphs do. (A sufficient test, and
    cheaper than find_duplicates: one cdist.)"""
    keys: set[str] = set()
    long: list[str] = []
    for p in paragraphs:
        for sentence in split_sentences(p):
            key = match_key(sentence)
            if key in keys:
                return True
            if key:
                keys.add(key)
            if len(sentence) >= MIN_FUZZY_SENTENCE:
                long.append(sentence)
    for texts in (paragraphs, long):
        if len(texts) > 1:
            scores = process.cdist(
                texts, texts, scorer=fuzz.ratio, score_cutoff=cfg.near_threshold, dtype=np.uint8
            )
            np.fill_diagonal(scores, 0)
            if scores.any():
                return True
    return False


def load_real(corpora: Path, rules: RuleSet, cfg: DedupConfig, rnd: Rnd) -> list[RealDoc]:
    """The real documents, reduced to usable paragraphs that repeat no earlier one."""
    seen: set[int] = set()
    docs: list[RealDoc] = []
    for doc in load_pool(corpora):
        lang = LANG_ALIASES.get(doc.lang, doc.lang)
        kept: list[str] = []
        for raw in doc.paragraphs:
            for paragraph in chunks(raw, rnd):
                if not usable(paragraph, rules):
                    continue
                marks = shingles(paragraph)
                if marks & seen:
                    continue
                seen |= marks
                kept.append(paragraph)
        while kept:
            found = find_duplicates(kept, cfg)
            if not found:
                break
            drop = {d.position for d in found}
            kept = [p for i, p in enumerate(kept) if i not in drop]
        if kept and clean_article(kept, cfg):
            docs.append(RealDoc(lang, " ".join(doc.title.split())[:200], kept))
    return drop_look_alikes(docs, cfg)


def drop_look_alikes(docs: list[RealDoc], cfg: DedupConfig) -> list[RealDoc]:
    """Short paragraphs (< 200 characters) with fuzz.ratio >= 70 to an earlier one of their
    language go: short paraphrases of one story ("X did not immediately respond to a request
    for comment") that share no run of words. Long ones that share no run are far apart."""
    short: dict[str, list[tuple[int, int]]] = {}
    for d, doc in enumerate(docs):
        for i, p in enumerate(doc.paragraphs):
            if len(p) < 200:
                short.setdefault(doc.lang, []).append((d, i))
    drop: set[tuple[int, int]] = set()
    for refs in short.values():
        texts = [docs[d].paragraphs[i] for d, i in refs]
        scores = process.cdist(
            texts, texts, scorer=fuzz.ratio, score_cutoff=70, dtype=np.uint8, workers=-1
        )
        for a, b in zip(*np.nonzero(np.triu(scores, 1)), strict=True):
            if refs[int(a)] not in drop:
                drop.add(refs[int(b)])
    out = []
    for d, doc in enumerate(docs):
        kept = [p for i, p in enumerate(doc.paragraphs) if (d, i) not in drop]
        if kept and (len(kept) == len(doc.paragraphs) or clean_article(kept, cfg)):
            out.append(RealDoc(doc.lang, doc.title, kept))
    return out


# --------------------------------------------------------------------------------------------
# Synthetic text
# --------------------------------------------------------------------------------------------

_PAIRS = (("(", ")"), ("«", "»"), ("„", "“”"), ("“", "”"), ("»", "«"))
_QUOTES = re.compile(r"[()«»„“”\"»]")


def balanced(sentence: str) -> str:
    """The sentence, without quotes and brackets if they do not pair up (Markov chains lose
    track of them)."""
    ok = sentence.count('"') % 2 == 0
    for opening, closing in _PAIRS[:2]:
        ok = ok and sentence.count(opening) == sentence.count(closing)
    if "„" in sentence:
        ok = ok and sentence.count("„") == sum(sentence.count(c) for c in "“”")
    else:
        ok = ok and sentence.count("“") == sentence.count("”")
    if ok:
        return sentence
    return " ".join(_QUOTES.sub("", sentence).split())


class Markov:
    """A word-level Markov chain of order 2 over real sentences of one language, that backs
    off to order 1 at BACKOFF of its steps: order 2 alone, on a few MB of text, follows the
    one continuation it knows for long runs, and two walks from one start tell the same
    sentence for 20 words.

    States are the word pairs seen; the chain is kept as arrays (for each state, its
    successors and the state each leads to; the same per last word for order 1), so that
    thousands of walks advance together, one numpy step per word.
    """

    BACKOFF = 0.25

    def __init__(self, sentences: Iterable[str]) -> None:
        words: list[str] = [""]  # id 0 ends a sentence
        ids: dict[str, int] = {"": 0}
        state_ids: dict[tuple[int, int], int] = {}
        successors: list[list[int]] = []  # per state: next word ids (0: the end)
        starts: list[int] = []
        for sentence in sentences:
            tokens = sentence.split()
            if len(tokens) < 4 or not tokens[0][:1].isupper():
                continue
            seq = []
            for token in tokens:
                i = ids.get(token)
                if i is None:
                    i = ids[token] = len(words)
                    words.append(token)
                seq.append(i)
            seq.append(0)
            for j in range(len(seq) - 2):
                pair = (seq[j], seq[j + 1])
                sid = state_ids.get(pair)
                if sid is None:
                    sid = state_ids[pair] = len(successors)
                    successors.append([])
                successors[sid].append(seq[j + 2])
                if j == 0:
                    starts.append(sid)
        pairs = np.array(list(state_ids), dtype=np.int64).reshape(-1, 2)
        self.words = np.array(words, dtype=object)
        self.first, self.last = pairs[:, 0], pairs[:, 1]
        self.starts = np.array(starts, dtype=np.int64)

        def lead_to(b: int, c: int) -> int:
            return state_ids[(b, c)] if c else -1

        # Order 2: the successors of each state, and the state each leads to.
        self.off2 = np.zeros(len(successors) + 1, dtype=np.int64)
        self.off2[1:] = np.cumsum([len(x) for x in successors])
        self.tok2 = np.array([c for x in successors for c in x], dtype=np.int64)
        self.to2 = np.array(
            [lead_to(int(b), c) for b, x in zip(self.last, successors, strict=True) for c in x],
            dtype=np.int64,
        )
        # Order 1: the successors of every state ending in a word, by word.
        order = np.argsort(self.last, kind="stable")
        by_word: list[list[int]] = [[] for _ in words]
        for sid in order.tolist():
            by_word[int(self.last[sid])].extend(successors[sid])
        self.off1 = np.zeros(len(words) + 1, dtype=np.int64)
        self.off1[1:] = np.cumsum([len(x) for x in by_word])
        self.tok1 = np.array([c for x in by_word for c in x], dtype=np.int64)
        self.to1 = np.array(
            [lead_to(b, c) for b, x in enumerate(by_word) for c in x], dtype=np.int64
        )

    def sentences(self, rng: np.random.Generator, k: int, max_tokens: int = 60) -> list[str]:
        """Up to k new sentences (walks longer than max_tokens are dropped)."""
        state = self.starts[rng.integers(len(self.starts), size=k)]
        out = np.zeros((k, max_tokens), dtype=np.int64)
        out[:, 0], out[:, 1] = self.first[state], self.last[state]
        length = np.full(k, 2)
        ended = np.zeros(k, dtype=bool)
        alive = np.arange(k)
        q = self.BACKOFF
        low, high = (1 - 1e-9) / q, (1 - 1e-9) / (1 - q)
        for step in range(2, max_tokens + 1):
            r = rng.random(len(alive))
            use1 = r < q
            frac = np.where(use1, r * low, (r - q) * high)
            word = self.last[state]
            i1 = self.off1[word] + (frac * (self.off1[word + 1] - self.off1[word])).astype(np.int64)
            i2 = self.off2[state] + (frac * (self.off2[state + 1] - self.off2[state])).astype(
                np.int64
            )
            token = np.where(use1, self.tok1[i1], self.tok2[i2])
            state = np.where(use1, self.to1[i1], self.to2[i2])
            stop = token == 0
            ended[alive[stop]] = True
            go = ~stop
            if step == max_tokens:
                break
            alive, state, token = alive[go], state[go], token[go]
            if not len(alive):
                break
            out[alive, step] = token
            length[alive] += 1
        words = self.words
        return [" ".join(words[out[j, : length[j]]]) for j in np.flatnonzero(ended).tolist()]


@dataclass(slots=True)
class Language:
    """What the generator knows of one language."""

    code: str
    lengths: list[int]  # real paragraph lengths
    sizes: list[int]  # real article sizes, in paragraphs
    sentences: list[str] = field(default_factory=list)  # real ones, for the Markov chain
    synthetic: bool = False  # enough text for a Markov chain that invents
    vocab: list[str] = field(default_factory=list)  # lower-case words, for edits
    names: list[str] = field(default_factory=list)  # capitalised words mid-sentence
    name_set: frozenset[str] = frozenset()
    weight: int = 0  # real paragraphs: the share of synthetic articles


_NO_FACTS = frozenset(
    "not no never nor none nothing neither nobody cannot не ни нет никогда ничего никто нельзя "
    "ні немає ніколи нічого ніхто".split()
)
_INSERTS: dict[str, tuple[str, ...]] = {
    "en": ("also", "now", "reportedly", "recently", "still", "already", "indeed"),
    "ru": ("также", "уже", "сейчас", "теперь", "тоже", "ещё"),
    "uk": ("також", "вже", "зараз", "тепер", "теж"),
    "bg": ("също", "вече", "сега", "още"),
    "pl": ("także", "już", "teraz", "również", "też"),
    "cs": ("také", "již", "nyní", "rovněž", "už"),
    "sl": ("tudi", "že", "zdaj", "prav"),
}


def build_languages(docs: Sequence[RealDoc]) -> dict[str, Language]:
    """Length and size distributions, sentences, edit vocabularies and names per language."""
    langs: dict[str, Language] = {}
    sentences: dict[str, list[str]] = {}
    for doc in docs:
        lang = langs.setdefault(doc.lang, Language(doc.lang, [], []))
        lang.sizes.append(len(doc.paragraphs))
        lang.lengths.extend(len(p) for p in doc.paragraphs)
        lang.weight += len(doc.paragraphs)
        for p in doc.paragraphs:
            sentences.setdefault(doc.lang, []).extend(split_sentences(p))
    for code, lang in langs.items():
        lang.lengths.sort()
        lang.sizes.sort()
        if sum(lang.lengths) < 500_000:  # too little text for a chain that invents
            continue
        lang.synthetic = True
        lang.sentences = sentences[code]
        lower: Counter[str] = Counter()
        names: Counter[str] = Counter()
        for sentence in sentences[code]:
            tokens = sentence.split()
            for token in tokens[1:]:
                word = token.strip(".,;:!?\"'()«»„“”’")
                if not word.isalpha() or len(word) < 4:
                    continue
                if word.islower() and word not in _NO_FACTS:
                    lower[word] += 1
                elif word[0].isupper() and word[1:].islower():
                    names[word] += 1
        lang.vocab = [w for w, n in sorted(lower.items(), key=lambda x: (-x[1], x[0]))[:3000]]
        lang.names = sorted(w for w, n in names.items() if n >= 3 and w.casefold() not in _OPENERS)
        lang.name_set = frozenset(lang.names)
    return langs


class Seen:
    """A set of strings as a bitmap of their CRC32, 2**bits bits (a collision only costs a
    sentence that could have been used)."""

    def __init__(self, bits: int) -> None:
        self.bits = bytearray(1 << (bits - 3))
        self.mask = (1 << bits) - 1

    def add(self, marks: list[bytes]) -> None:
        bits, mask = self.bits, self.mask
        for m in marks:
            h = zlib.crc32(m) & mask
            bits[h >> 3] |= 1 << (h & 7)

    def add_new(self, marks: list[bytes]) -> bool:
        """If none of the marks is there, add them and return True; else add nothing and
        return False."""
        bits, mask = self.bits, self.mask
        hashes = []
        for m in marks:
            h = zlib.crc32(m) & mask
            if bits[h >> 3] & (1 << (h & 7)):
                return False
            hashes.append(h)
        for h in hashes:
            bits[h >> 3] |= 1 << (h & 7)
        return True


def sentence_marks(sentence: str) -> list[bytes]:
    """What a new sentence may share with no other sentence of its language in the corpus:
    its match_key and every run of 8 of its words."""
    key = match_key(sentence)
    words = key.split()
    marks = [key.encode()]
    marks.extend(" ".join(words[i : i + 8]).encode() for i in range(len(words) - 7))
    return marks


class Synth:
    """New paragraphs of one language from its Markov chain. A sentence shares no
    ``sentence_marks`` with any other sentence of the language in the corpus, real or made."""

    WALKS = 20_000  # walks per batch of candidate sentences

    def __init__(self, lang: Language, bits: int, seed: str) -> None:
        self.lang = lang
        self.markov = Markov(lang.sentences)
        self.rng = np.random.default_rng(zlib.crc32(seed.encode()))
        self.rnd = random.Random(seed)
        self.rules = load_rules(True, ())
        self.seen = Seen(bits)
        for sentence in lang.sentences:
            self.seen.add(sentence_marks(sentence))
        self.candidates: deque[str] = deque()

    def candidate(self) -> str:
        """The next walk that ends like a sentence and is not too short."""
        while True:
            if not self.candidates:
                walks = self.markov.sentences(self.rng, self.WALKS)
                self.candidates.extend(
                    balanced(w) for w in walks if len(w) >= 25 and _ENDS_SENTENCE.search(w)
                )
                continue
            return self.candidates.popleft()

    def paragraph(self) -> str:
        """New sentences up to a length drawn from the language's real paragraph lengths
        (times SYNTH_LENGTH_SCALE), and at least SYNTH_MIN_CHARS: two short made paragraphs
        of one sentence each, sharing their first 7 words, would be alike."""
        lengths = self.lang.lengths
        target = lengths[int(self.rnd.random() * len(lengths))] * SYNTH_LENGTH_SCALE
        enough = max(target * 0.8, SYNTH_MIN_CHARS)
        while True:
            parts: list[str] = []
            size = -1
            while size < enough:
                s = self.candidate()
                if parts and size + 1 + len(s) > max(target * 1.3, enough + 60):
                    if size >= max(target * 0.5, SYNTH_MIN_CHARS):
                        self.candidates.appendleft(s)  # for the next paragraph
                        break
                    continue
                if self.seen.add_new(sentence_marks(s)):
                    parts.append(s)
                    size += 1 + len(s)
            p = " ".join(parts)
            if len(p) >= MIN_PARAGRAPH and not self.rules.match(p):
                return p

    def title(self) -> str:
        """A headline: the first words of a walk."""
        words = _QUOTES.sub("", self.candidate()).split()[: self.rnd.randint(5, 11)]
        return " ".join(words).rstrip(".,;:!?…–—-")


def _produce(lang: Language, bits: int, seed: str, queue: Any) -> None:
    """A stream process: batches of new articles (title, paragraphs) of one language, for ever.
    Each is clean (``clean_article``) and as long as a real article of the language."""
    synth = Synth(lang, bits, seed)
    cfg = DedupConfig()
    sizes = lang.sizes
    while True:
        batch: list[tuple[str, list[str]]] = []
        while len(batch) < STREAM_BATCH:
            n = sizes[int(synth.rnd.random() * len(sizes))]
            paragraphs = [synth.paragraph() for _ in range(max(n, 1))]
            if clean_article(paragraphs, cfg):
                batch.append((synth.title(), paragraphs))
        queue.put(batch)


STREAM_BATCH = 20  # articles
STREAM_AHEAD = 16  # batches a stream may make before they are asked for


class Streams:
    """Processes making synthetic articles (the Markov walks and checks are most of the time
    at 1M paragraphs), one per language (one sentence set per language: two processes could
    not share theirs). Each has its own random seed, so what a stream yields depends on the
    seed only, not on timing or on the other streams."""

    def __init__(self, langs: dict[str, Language], seed: int) -> None:
        self.seed = seed
        self.context = multiprocessing.get_context("fork")
        self.queues: dict[str, Any] = {}
        self.buffers: dict[str, deque[tuple[str, list[str]]]] = {}
        self.processes: list[Any] = []
        total = sum(lang.weight for lang in langs.values())
        # Sentence-set bitmaps: 2**32 bits (512 MB) for a language with a quarter of the text.
        self.bits = {code: 32 if lang.weight > total / 4 else 30 for code, lang in langs.items()}
        self.waited = 0.0  # seconds the generator waited for a stream

    def start(self, langs: Iterable[Language]) -> None:
        """Start the streams of these languages (they take seconds to set up: start them
        before they are needed)."""
        for lang in langs:
            if lang.code in self.buffers:
                continue
            self.buffers[lang.code] = deque()
            queue = self.queues[lang.code] = self.context.Queue(maxsize=STREAM_AHEAD)
            args = (lang, self.bits[lang.code], f"{self.seed}:{lang.code}", queue)
            worker = self.context.Process(target=_produce, args=args, daemon=True)
            worker.start()
            self.processes.append(worker)

    def article(self, lang: Language) -> tuple[str, list[str]]:
        """The next synthetic article of the language: its title and paragraphs."""
        self.start([lang])
        buffer = self.buffers[lang.code]
        if not buffer:
            started = time.perf_counter()
            buffer.extend(self.queues[lang.code].get())
            self.waited += time.perf_counter() - started
        return buffer.popleft()

    def paragraph(self, lang: Language, shorter_than: int) -> str | None:
        """A paragraph shorter than that from the next articles (tries three)."""
        for _ in range(3):
            for p in self.article(lang)[1]:
                if len(p) < shorter_than:
                    return p
        return None

    def close(self) -> None:
        for worker in self.processes:
            worker.terminate()
        for worker in self.processes:
            worker.join()


# --------------------------------------------------------------------------------------------
# Damage: copies, quotes, decoys
# --------------------------------------------------------------------------------------------

_PUNCT_SWAPS = ((" — ", (" – ", " - ")), (" – ", (" — ", " - ")), ("…", ("...",)), ("’", ("'",)))
_QUOTE_STYLES = (("«", "»"), ("“", "”"), ('"', '"'), ("„", "“"))
_COMMA = re.compile(r", (?=[^\W\d_A-ZА-ЯЁІЇЄҐ])")


def edit_punctuation(p: str, rnd: Rnd) -> str:
    """One change of punctuation: a dash, the quote style, an ellipsis, an apostrophe, or a
    comma before a lower-case word dropped."""
    edits: list[tuple[str, str, str, str]] = []  # (old, new, old closing, new closing)
    edits.extend((old, new, "", "") for old, news in _PUNCT_SWAPS if old in p for new in news)
    for opening, closing in _QUOTE_STYLES:
        if opening != closing and opening in p and closing in p:
            edits.extend((opening, o, closing, c) for o, c in _QUOTE_STYLES if o != opening)
    commas = [m.start() for m in _COMMA.finditer(p)]
    pick = int(rnd.random() * (len(edits) + (1 if commas else 0)))
    if pick == len(edits):
        if not commas:
            return p
        at = commas[int(rnd.random() * len(commas))]
        return p[:at] + p[at + 1 :]
    old, new, old_closing, new_closing = edits[pick]
    if old_closing:  # a quote style: every pair
        return p.replace(old, "\0").replace(old_closing, new_closing).replace("\0", new)
    starts = [m.start() for m in re.finditer(re.escape(old), p)]
    at = starts[int(rnd.random() * len(starts))]
    return p[:at] + new + p[at + len(old) :]


def _plain_word_slots(tokens: list[str]) -> list[int]:
    """Tokens that are a lower-case word (no digits, no negation), not the first one."""
    return [
        i
        for i, t in enumerate(tokens)
        if i > 0 and t.isalpha() and t.islower() and len(t) >= 3 and t not in _NO_FACTS
    ]


def edit_words(p: str, lang: Language, rnd: Rnd) -> str:
    """Replace, insert or delete one lower-case word."""
    tokens = p.split(" ")
    slots = _plain_word_slots(tokens)
    if not slots:
        return edit_punctuation(p, rnd)
    i = slots[int(rnd.random() * len(slots))]
    op = rnd.random()
    if op < 0.4 and lang.vocab:
        tokens[i] = lang.vocab[int(rnd.random() * len(lang.vocab))]
    elif op < 0.7:
        inserts = _INSERTS.get(lang.code) or tuple(lang.vocab[:50]) or ("also",)
        tokens.insert(i, inserts[int(rnd.random() * len(inserts))])
    else:
        del tokens[i]
    return " ".join(tokens)


def edit_paragraph(p: str, root: str, lang: Language, rnd: Rnd, rules: RuleSet) -> str:
    """A light edit of p that keeps its facts and fuzz.ratio to root >= 90 (sometimes 85)."""
    heavy = rnd.random() < HEAVY_EDIT_RATE
    floor = 85.0 if heavy else 90.0
    n = rnd.randint(3, 6) if heavy else rnd.choice((1, 1, 1, 2, 2, 3))
    for attempt in range(n, 0, -1):
        q = p
        for _ in range(attempt):
            q = edit_punctuation(q, rnd) if rnd.random() < 0.35 else edit_words(q, lang, rnd)
        if (
            q != p
            and len(q) >= MIN_PARAGRAPH
            and fuzz.ratio(q, root) >= floor
            and same_facts(q, root)
            and same_facts(q, p)
            and rules.match(q) is None
            and not _UNWANTED.search(q)
        ):
            return q
    return p


QUOTE_WRAPS: dict[str, tuple[str, ...]] = {
    "en": ("As {site} reported: “{p}”", "{site} reported: “{p}”", "According to {site}: “{p}”"),
    "ru": ("Как сообщает {site}: «{p}»", "Как пишет {site}: «{p}»"),
    "uk": ("Як повідомляє {site}: «{p}»", "Як пише {site}: «{p}»"),
    "bg": ("Както съобщава {site}: „{p}“",),
    "pl": ("Jak podaje {site}: „{p}”", "Jak informuje {site}: „{p}”"),
    "cs": ("Jak uvádí {site}: „{p}“", "Jak informuje {site}: „{p}“"),
    "sl": ("Kot poroča {site}: »{p}«",),
}


def other_number(digits: str, rnd: Rnd) -> str:
    """Another number with as many digits (a year stays a plausible year)."""
    while True:
        if len(digits) == 4 and digits[:2] in ("19", "20"):
            new = str(int(digits) + rnd.choice((-3, -2, -1, 1, 2, 3)))
        elif len(digits) == 1:
            new = str(rnd.randint(1, 9))
        else:
            new = str(rnd.randint(10 ** (len(digits) - 1), 10 ** len(digits) - 1))
        if new != digits:
            return new


def change_numbers(p: str, rnd: Rnd) -> str | None:
    runs = list(_NUMBER.finditer(p))
    if not runs:
        return None
    picked = sorted(
        rnd.sample(runs, min(len(runs), rnd.choice((1, 1, 2)))), key=lambda m: m.start()
    )
    out, last = [], 0
    for m in picked:
        out.append(p[last : m.start()])
        out.append(other_number(m.group(), rnd))
        last = m.end()
    out.append(p[last:])
    return "".join(out)


def change_name(p: str, lang: Language, rnd: Rnd) -> str | None:
    """One name inside a sentence (a capitalised word of the language's names that opens no
    sentence: not "Then" after a colon) replaced by another one."""
    if not lang.names:
        return None
    names = lang.name_set
    tokens = p.split(" ")
    slots = []
    for i in range(1, len(tokens)):
        word = _WORD.match(tokens[i])
        if (
            word
            and word.start() == 0
            and word.group() in names
            and word.group().casefold() not in _OPENERS
            and not _ENDS_SENTENCE.search(tokens[i - 1])
        ):
            slots.append((i, word.group()))
    if not slots:
        return None
    i, old = slots[int(rnd.random() * len(slots))]
    new = old
    while new == old:
        new = lang.names[int(rnd.random() * len(lang.names))]
    tokens[i] = new + tokens[i][len(old) :]
    return " ".join(tokens)


# Report templates: every instance is a decoy of the others (other figures and names).
# fmt: off
FAMILIES: dict[str, tuple[str, ...]] = {
    "en": (
        "Shares of {company} {updown} {pct}% to {price} dollars in {session} trading on "
        "{weekday}, after the company reported quarterly revenue of {bn} billion dollars. The "
        "broader {index} index {gainlose} {pct2}% over the same period, and {vol} million shares "
        "changed hands.",
        "{city} {team} beat {city2} {team2} {s1}-{s2} on {weekday} in front of {crowd} fans, "
        "with {first} {surname} scoring in the {m1}th and {m2}th minutes. The result leaves "
        "{city} {team} in {pos}th place with {pts} points from {games} games.",
        "Temperatures in {city} will reach {t1} degrees Celsius on {weekday}, {t2} degrees above "
        "the seasonal average, forecasters said. Winds of up to {w} kilometres per hour are "
        "expected in the afternoon, with a {r}% chance of rain and up to {mm} millimetres in "
        "the hills.",
        "The {currency} {firmed} to {fx} per euro on {weekday}, its {extreme} level since "
        "{month} {year}, while ten-year government bond yields {rosefell} to {yld}%. Analysts "
        "at {company} expect the central bank to {action} rates by {bp} basis points at its "
        "{month2} meeting.",
        "{first} {surname}, {age}, was named chief executive of {company} on {weekday}, "
        "replacing {first2} {surname2}, who had led the company since {year}. {company} employs "
        "about {staff} people and reported a net profit of {m} million dollars last year.",
    ),
    "ru": (
        "Акции компании «{company}» {updown} на {pct}% до {price} рубля в ходе торгов в "
        "{weekday}, после того как компания отчиталась о квартальной выручке в {bn} млрд "
        "рублей. Индекс {index} за тот же период {gainlose} {pct2}%, объём торгов составил "
        "{vol} млн акций.",
        "Температура воздуха в {city} в {weekday} поднимется до {t1} градусов, что на {t2} "
        "градуса выше климатической нормы, сообщили синоптики. Ожидается ветер до {w} метров в "
        "секунду, вероятность дождя вечером составит {r}%, в горах выпадет до {mm} миллиметров "
        "осадков.",
        "Курс {currency} на торгах в {weekday} {firmed} до {fx} рубля, это {extreme} уровень с "
        "{month} {year} года. Доходность десятилетних облигаций федерального займа {rosefell} "
        "до {yld}%, аналитики «{company}» ожидают, что ЦБ {action} ставку на {bp} базисных "
        "пунктов.",
        "{first} {surname} в возрасте {age} лет назначен генеральным директором компании "
        "«{company}» вместо {first2} {surname2}, который руководил ею с {year} года. В компании "
        "работают около {staff} человек, по итогам прошлого года её чистая прибыль составила "
        "{m} млн рублей.",
    ),
}
FILLERS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "company": ("Altora", "Brightwell", "Corvex", "Dunmore", "Elbridge", "Fenwick", "Galvani",
                    "Harrowgate", "Ilford", "Juniper", "Kestrel", "Larchmont", "Mercer", "Norland"),
        "updown": ("rose", "fell", "jumped", "slipped"),
        "session": ("morning", "afternoon", "late", "early"),
        "weekday": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"),
        "index": ("FTSE", "Stoxx", "Nikkei", "Nasdaq", "Dax"),
        "gainlose": ("gained", "lost"),
        "city": ("Leeds", "Bristol", "Glasgow", "Cardiff", "Norwich", "Bolton", "Derby", "Exeter"),
        "city2": ("Preston", "Reading", "Swansea", "Luton", "Hull", "Oxford", "Bath", "York"),
        "team": ("United", "City", "Rovers", "Athletic"),
        "team2": ("Wanderers", "Town", "Albion", "Rangers"),
        "first": ("James", "Oliver", "Harry", "Daniel", "Thomas", "Emma", "Sophie", "Laura"),
        "first2": ("Michael", "David", "Peter", "Robert", "Sarah", "Helen", "Claire", "Anna"),
        "surname": ("Walker", "Hughes", "Turner", "Baker", "Carter", "Morgan", "Price", "Ward"),
        "surname2": ("Bennett", "Griffin", "Hayes", "Lloyd", "Mason", "Owen", "Reid", "Shaw"),
        "currency": ("pound", "dollar", "yen", "franc", "krona"),
        "firmed": ("firmed", "weakened"),
        "extreme": ("strongest", "weakest"),
        "month": ("January", "February", "March", "April", "May", "June", "July", "August"),
        "month2": ("September", "October", "November", "December"),
        "rosefell": ("rose", "fell"),
        "action": ("cut", "raise"),
    },
    "ru": {
        "company": ("Северсталь", "Ростелеком", "Аэрофлот", "Магнит", "Полюс", "Татнефть",
                    "Сургутнефтегаз", "Мечел", "Русал", "Камаз", "Фосагро", "Акрон"),
        "updown": ("выросли", "подешевели", "подорожали", "снизились"),
        "weekday": ("понедельник", "вторник", "среду", "четверг", "пятницу"),
        "index": ("Мосбиржи", "РТС"),
        "gainlose": ("вырос на", "снизился на"),
        "city": ("Москве", "Казани", "Самаре", "Новосибирске", "Екатеринбурге", "Перми",
                 "Воронеже", "Краснодаре"),
        "currency": ("доллара", "евро", "юаня"),
        "firmed": ("вырос", "снизился"),
        "extreme": ("максимальный", "минимальный"),
        "month": ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа"),
        "rosefell": ("выросла", "снизилась"),
        "action": ("снизит", "повысит"),
        "first": ("Алексей", "Дмитрий", "Сергей", "Андрей", "Михаил", "Игорь"),
        "surname": ("Смирнов", "Кузнецов", "Попов", "Волков", "Соколов", "Лебедев"),
        "first2": ("Ивана", "Павла", "Олега", "Николая", "Виктора", "Романа"),
        "surname2": ("Морозова", "Новикова", "Фёдорова", "Егорова", "Козлова", "Орлова"),
    },
}
# fmt: on


def fill_template(template: str, lang: str, rnd: Rnd) -> str:
    words = FILLERS[lang]
    values: dict[str, Any] = {k: v[int(rnd.random() * len(v))] for k, v in words.items()}
    s1, s2 = rnd.randint(1, 5), rnd.randint(0, 4)
    m1 = rnd.randint(5, 40)
    values.update(
        pct=f"{rnd.randint(1, 19)}.{rnd.randint(1, 9)}",
        pct2=f"{rnd.randint(0, 4)}.{rnd.randint(1, 9)}",
        price=f"{rnd.randint(10, 990)}.{rnd.randint(10, 99)}",
        bn=f"{rnd.randint(1, 60)}.{rnd.randint(1, 9)}",
        vol=str(rnd.randint(2, 95)),
        s1=str(max(s1, s2 + 1)),
        s2=str(s2),
        crowd=f"{rnd.randint(8, 60)},{rnd.randint(100, 999)}",
        m1=str(m1),
        m2=str(rnd.randint(m1 + 1, 89)),
        pos=str(rnd.randint(4, 19)),
        pts=str(rnd.randint(10, 80)),
        games=str(rnd.randint(12, 38)),
        t1=str(rnd.randint(5, 36)),
        t2=str(rnd.randint(2, 9)),
        w=str(rnd.randint(20, 95)),
        r=str(rnd.randint(10, 90)),
        mm=str(rnd.randint(5, 60)),
        fx=f"{rnd.randint(0, 140)}.{rnd.randint(1000, 9999)}",
        year=str(rnd.randint(1998, 2019)),
        yld=f"{rnd.randint(1, 9)}.{rnd.randint(10, 99)}",
        bp=str(rnd.choice((25, 50, 75, 100))),
        age=str(rnd.randint(38, 67)),
        staff=f"{rnd.randint(2, 90)},{rnd.randint(100, 999)}",
        m=str(rnd.randint(15, 990)),
    )
    return template.format(**values)


# --------------------------------------------------------------------------------------------
# Articles and the truth kept about them
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Art:
    """One article as generated (before it is written)."""

    idx: int  # creation order
    lang: Language
    host: str
    url: str
    aid: str
    title: str
    published: int  # epoch seconds, UTC
    paragraphs: list[str]
    pids: list[int]  # global paragraph ids
    roots: list[str]  # per paragraph: the text of its cluster's first paragraph


class Ledger:
    """Compact per-paragraph and per-article facts, for the truth written at the end."""

    def __init__(self) -> None:
        self.cluster = array("q")  # paragraph id of the cluster's first paragraph
        self.kind = array("b")  # as generated: ORIGINAL, COPY, QUOTE, DECOY
        self.variant = array("b")
        self.template = array("q")  # for decoys: the paragraph whose template it follows
        self.ratio = array("f")
        self.length = array("i")
        self.article = array("i")  # creation index of its article
        self.a_published = array("q")
        self.a_first = array("q")  # first paragraph id
        self.a_count = array("i")
        self.a_file = array("i")
        self.a_record = array("i")
        self.a_id: list[str] = []
        self.a_url: list[str] = []

    @property
    def paragraphs(self) -> int:
        return len(self.kind)

    def new_article(self, published: int, url: str) -> int:
        self.a_published.append(published)
        self.a_first.append(len(self.kind))
        self.a_count.append(0)
        self.a_file.append(-1)
        self.a_record.append(-1)
        self.a_id.append(article_id(url, "", 0))
        self.a_url.append(url)
        return len(self.a_id) - 1

    def add(
        self,
        art_idx: int,
        text: str,
        kind: int,
        cluster: int | None = None,
        variant: int = 0,
        template: int = -1,
        ratio: float = 100.0,
    ) -> int:
        pid = len(self.kind)
        self.cluster.append(pid if cluster is None else cluster)
        self.kind.append(kind)
        self.variant.append(variant)
        self.template.append(template)
        self.ratio.append(ratio)
        self.length.append(len(text))
        self.article.append(art_idx)
        self.a_count[art_idx] += 1
        return pid


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Generator:
    def __init__(
        self,
        out_dir: Path,
        target: int,
        seed: int,
        corpora: Path,
        sample_size: int,
    ) -> None:
        self.rnd = random.Random(seed)
        self.rules = load_rules(True, ())
        self.cfg = DedupConfig()
        self.real = load_real(corpora, self.rules, self.cfg, self.rnd)
        self.rnd.shuffle(self.real)
        self.langs = build_languages(self.real)
        self.streams = Streams(self.langs, seed)
        self.streams.start(lang for lang in self.langs.values() if lang.synthetic)
        self.synth_langs = [lang for lang in self.langs.values() if lang.synthetic]
        self.synth_weights = list(np.cumsum([lang.weight for lang in self.synth_langs]))
        self.target = target
        self.out_dir = out_dir
        mean_size = sum(len(d.paragraphs) for d in self.real) / len(self.real)
        self.per_file = min(2000, max(50, round(target / mean_size / 8)))
        self.ledger = Ledger()
        self.urls = UrlMaker()
        self.heap: list[tuple[int, int, Art]] = []
        self.written = 0
        self.file_no = -1
        self.out: Any = None
        self.recent: dict[str, deque[Art]] = {}
        self.family_seen: set[str] = set()
        self.family_first: dict[tuple[str, int], tuple[int, str]] = {}
        self.sample_size = sample_size
        self.sample_rnd = random.Random(seed + 1)  # so that --check changes nothing else
        self.sample: dict[str, list[str]] = {}
        self.sample_seen: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self.owed: Counter[str] = Counter()

    # -- writing ----------------------------------------------------------------------------

    def write(self, art: Art) -> None:
        if self.written % self.per_file == 0:
            if self.out is not None:
                self.out.close()
            self.file_no += 1
            path = self.out_dir / f"part-{self.file_no:05d}.jsonl"
            self.out = open(path, "w", encoding="utf-8")  # noqa: SIM115 (closed in flush())
        record = {
            "url": art.url,
            "title": art.title,
            "published_at": iso(art.published),
            "source": art.host,
            "text": "\n".join(art.paragraphs),
        }
        self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.ledger.a_file[art.idx] = self.file_no
        self.ledger.a_record[art.idx] = self.written % self.per_file
        self.written += 1

    def schedule(self, art: Art, delay: int) -> None:
        heapq.heappush(self.heap, (self.written + delay, art.idx, art))

    def pump(self) -> None:
        while self.heap and self.heap[0][0] <= self.written:
            self.write(heapq.heappop(self.heap)[2])

    def flush(self) -> None:
        while self.heap:
            self.write(heapq.heappop(self.heap)[2])
        if self.out is not None:
            self.out.close()

    # -- articles ---------------------------------------------------------------------------

    def pick_lang(self) -> Language:
        x = self.rnd.random() * self.synth_weights[-1]
        return self.synth_langs[bisect.bisect_right(self.synth_weights, x)]

    def host(self, lang: Language, exclude: str = "") -> str:
        hosts = [h for h in HOSTS.get(lang.code, HOSTS["xx"]) if h != exclude]
        hosts = hosts or [h for h in HOSTS["xx"] if h != exclude]
        return hosts[int(self.rnd.random() * len(hosts))]

    def make(self, lang: Language, title: str, published: int, host: str | None = None) -> Art:
        host = host or self.host(lang)
        url = self.urls.make(host, title, datetime.fromtimestamp(published, UTC))
        idx = self.ledger.new_article(published, url)
        return Art(idx, lang, host, url, self.ledger.a_id[idx], title, published, [], [], [])

    def add_own(self, art: Art, p: str, kind: int = ORIGINAL, **truth: Any) -> None:
        art.pids.append(self.ledger.add(art.idx, p, kind, **truth))
        art.paragraphs.append(p)
        art.roots.append(p)

    def base_paragraphs(self) -> tuple[Language, str, list[str]]:
        """The next real document, or a synthetic one once they are used up."""
        if self.real:
            doc = self.real.pop()
            return self.langs[doc.lang], doc.title, doc.paragraphs
        lang = self.pick_lang()
        title, paragraphs = self.streams.article(lang)
        return lang, title, paragraphs

    def when(self) -> int:
        progress = self.ledger.paragraphs / self.target
        day = START + timedelta(days=progress * SPAN_DAYS)
        return int(day.timestamp()) + self.rnd.randint(-86_400, 86_400)

    def remember(self, art: Art) -> None:
        self.recent.setdefault(art.lang.code, deque(maxlen=400)).append(art)

    def sample_add(self, lang: str, p: str) -> None:
        """Reservoir sample of paragraphs of their own (not copies, quotes or decoys)."""
        self.sample_seen[lang] += 1
        bucket = self.sample.setdefault(lang, [])
        if len(bucket) < self.sample_size:
            bucket.append(p)
        else:
            j = int(self.sample_rnd.random() * self.sample_seen[lang])
            if j < self.sample_size:
                bucket[j] = p

    def story(self) -> None:
        """One new article, maybe quoting or with a decoy, maybe syndicated."""
        lang, title, paragraphs = self.base_paragraphs()
        art = self.make(lang, title, self.when())
        role = self.rnd.random()
        if role < QUOTE_RATE + DECOY_RATE:  # owed until an article can take it
            self.owed["quote" if role < QUOTE_RATE else "decoy"] += 1
        special: tuple[int, str, dict[str, Any]] | None = None
        if self.owed["quote"]:
            special = self.quote(art, paragraphs)
            self.owed["quote"] -= special is not None
        if special is None and self.owed["decoy"]:
            special = self.decoy(art, paragraphs)
            self.owed["decoy"] -= special is not None
        at = special[0] if special else -1
        for i, p in enumerate(paragraphs):
            if i == at and special:
                self.add_special(art, special)
            self.add_own(art, p)
            self.sample_add(lang.code, p)
        if special and at >= len(paragraphs):
            self.add_special(art, special)
        self.remember(art)
        copies: list[Art] = []
        if self.rnd.random() < SYNDICATION_RATE:
            source = art
            while True:
                copy = self.copy(source)
                copies.append(copy)
                self.remember(copy)
                if self.rnd.random() >= CHAIN_RATE:
                    break
                source = copy
        inverted = bool(copies) and self.rnd.random() < INVERTED_RATE
        delays = [int(self.rnd.random() * 1.5 * self.per_file) for _ in copies]
        if inverted:
            delays = [0 if d < self.per_file // 2 else d for d in delays]
            base_delay = max(delays) + self.per_file + int(self.rnd.random() * self.per_file)
            self.stats["inverted_stories"] += 1
        else:
            base_delay = 0
        self.schedule(art, base_delay)
        for copy, delay in zip(copies, delays, strict=True):
            self.schedule(copy, delay)
        self.pump()

    def add_special(self, art: Art, special: tuple[int, str, dict[str, Any]]) -> None:
        _, text, truth = special
        root = truth.pop("root")
        family = truth.pop("family", None)
        kind = truth["kind"]
        pid = self.ledger.add(art.idx, text, **truth)
        if family is not None:
            self.family_first[(art.lang.code, family)] = (pid, text)
        art.pids.append(pid)
        art.paragraphs.append(text)
        art.roots.append(root if kind == QUOTE else text)
        self.stats[f"made_{KIND_NAMES[kind]}_{VARIANTS[truth['variant']]}"] += 1

    def source_article(self, lang: Language, before: int) -> Art | None:
        recent = [a for a in self.recent.get(lang.code, ()) if a.published < before - 3600]
        return recent[int(self.rnd.random() * len(recent))] if recent else None

    def quote(self, art: Art, own: list[str]) -> tuple[int, str, dict[str, Any]] | None:
        """One whole paragraph of an earlier article, quoted verbatim or wrapped."""
        if len(own) < 2:
            return None
        for _ in range(4):
            source = self.source_article(art.lang, art.published)
            if source is None:
                return None
            i = int(self.rnd.random() * len(source.paragraphs))
            if len(source.paragraphs[i]) <= 0.6 * sum(map(len, own)):
                found = self.quote_from(art, own, source, i)
                if found:
                    return found
        return None

    def quote_from(
        self, art: Art, own: list[str], source: Art, i: int
    ) -> tuple[int, str, dict[str, Any]] | None:
        p, root = source.paragraphs[i], source.roots[i]
        text, variant = p, VARIANTS.index("verbatim")
        wraps = QUOTE_WRAPS.get(art.lang.code)
        if wraps and len(p) >= 250 and self.rnd.random() < 0.5:
            wrap = wraps[int(self.rnd.random() * len(wraps))]
            wrapped = wrap.format(site=site_name(source.host), p=p)
            ok = fuzz.ratio(wrapped, root) >= 90 and same_facts(wrapped, root)
            if ok and self.rules.match(wrapped) is None:
                text, variant = wrapped, VARIANTS.index("wrapped")
        at = self.rnd.randint(1, len(own))
        if not clean_article([*own[:at], text, *own[at:]], self.cfg):
            return None
        truth = dict(
            kind=QUOTE,
            cluster=self.ledger.cluster[source.pids[i]],
            variant=variant,
            ratio=round(fuzz.ratio(text, root), 1),
            root=root,
        )
        return at, text, truth

    def decoy(self, art: Art, own: list[str]) -> tuple[int, str, dict[str, Any]] | None:
        """A paragraph on another paragraph's template with other numbers or names."""
        code = art.lang.code
        if code in FAMILIES and self.rnd.random() < FAMILY_SHARE:
            family = int(self.rnd.random() * len(FAMILIES[code]))
            text = fill_template(FAMILIES[code][family], code, self.rnd)
            key = match_key(text)
            if key in self.family_seen or self.rules.match(text):
                return None
            self.family_seen.add(key)
            at = self.rnd.randint(0, len(own))
            if not clean_article([*own[:at], text, *own[at:]], self.cfg):
                return None
            first = self.family_first.get((code, family))
            variant = VARIANTS.index("template")
            if first is None:  # the first report of its family is an original
                return at, text, dict(kind=ORIGINAL, variant=variant, root="", family=family)
            truth = dict(
                kind=DECOY,
                variant=variant,
                template=first[0],
                ratio=round(fuzz.ratio(text, first[1]), 1),
                root="",
            )
            return at, text, truth
        for _ in range(3):
            source = self.source_article(art.lang, art.published + 30 * 86_400)
            if source is None:
                return None
            found = self.decoy_from(art, own, source)
            if found:
                return found
        return None

    def decoy_from(
        self, art: Art, own: list[str], source: Art
    ) -> tuple[int, str, dict[str, Any]] | None:
        # Templates are first copies: a decoy of a quote would change its attribution only.
        order = [i for i, pid in enumerate(source.pids) if self.ledger.cluster[pid] == pid]
        self.rnd.shuffle(order)
        for i in order[:5]:
            template = source.paragraphs[i]
            for variant in (
                ("numbers", "names") if self.rnd.random() < 0.5 else ("names", "numbers")
            ):
                if variant == "numbers":
                    text = change_numbers(template, self.rnd)
                else:
                    text = change_name(template, art.lang, self.rnd)
                if text is None or match_key(text) == match_key(template):
                    continue
                ratio = fuzz.ratio(text, template)
                if ratio < 85 or same_facts(text, template) or self.rules.match(text):
                    continue
                at = self.rnd.randint(0, len(own))
                if not clean_article([*own[:at], text, *own[at:]], self.cfg):
                    continue
                truth = dict(
                    kind=DECOY,
                    variant=VARIANTS.index(variant),
                    template=source.pids[i],
                    ratio=round(ratio, 1),
                    root="",
                )
                return at, text, truth
        return None

    def copy(self, source: Art) -> Art:
        """A later article on another site republishing source, with light edits."""
        rnd = self.rnd
        lang = source.lang
        tie = rnd.random() < TIE_RATE
        published = source.published + (0 if tie else rnd.randint(3600, 72 * 3600))
        self.stats["tied_copies"] += tie
        art = self.make(lang, source.title, published, self.host(lang, exclude=source.host))
        verbatim = rnd.random() < VERBATIM_COPY_RATE
        keep = len(source.paragraphs)
        if not verbatim and keep >= 3 and rnd.random() < DROP_LAST_RATE:
            keep -= 1
        texts: list[str] = []
        for i in range(keep):
            p, root = source.paragraphs[i], source.roots[i]
            if not verbatim and rnd.random() < 0.55:
                p = edit_paragraph(p, root, lang, rnd, self.rules)
            texts.append(p)
        if not clean_article(texts, self.cfg):
            texts = list(source.paragraphs[:keep])
        intro = last = None
        if not verbatim and lang.synthetic:
            if rnd.random() < ADD_INTRO_RATE:
                intro = self.streams.paragraph(lang, 300)
            if rnd.random() < ADD_LAST_RATE:
                last = self.streams.paragraph(lang, MAX_PARAGRAPH)
            copied = sum(map(len, texts))
            own = len(intro or "") + len(last or "")
            if own and copied < 0.85 * (copied + own):
                intro = last = None
            full = [p for p in (intro, *texts, last) if p]
            if (intro or last) and not clean_article(full, self.cfg):
                intro = last = None
        if intro:
            self.add_own(art, intro)
        for i, p in enumerate(texts):
            root = source.roots[i]
            variant = VARIANTS.index("verbatim" if p == source.paragraphs[i] else "edited")
            ratio = 100.0 if p == root else round(fuzz.ratio(p, root), 1)
            cluster = self.ledger.cluster[source.pids[i]]
            pid = self.ledger.add(art.idx, p, COPY, cluster=cluster, variant=variant, ratio=ratio)
            art.pids.append(pid)
            art.paragraphs.append(p)
            art.roots.append(root)
        if last:
            self.add_own(art, last)
        self.stats["copies"] += 1
        return art

    def run(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        try:
            while self.ledger.paragraphs < self.target:
                self.story()
            self.flush()
        finally:
            self.streams.close()


# --------------------------------------------------------------------------------------------
# Truth
# --------------------------------------------------------------------------------------------


def write_truth(gen: Generator, path: Path) -> Counter[str]:
    """Survivors by (published_at, article_id), kinds, origins and article copies; written in
    file and record order. Returns counts."""
    led = gen.ledger
    n = led.paragraphs
    n_art = len(led.a_id)
    ids = np.array(led.a_id)
    published = np.frombuffer(led.a_published, dtype=np.int64)
    rank = np.empty(n_art, dtype=np.int64)  # time order of articles, ties by article id
    rank[np.lexsort((ids, published))] = np.arange(n_art)
    article = np.frombuffer(led.article, dtype=np.int32)
    cluster = np.frombuffer(led.cluster, dtype=np.int64)
    kind = np.frombuffer(led.kind, dtype=np.int8)
    p_rank = rank[article]
    order = np.lexsort((p_rank, cluster))
    first = np.ones(n, dtype=bool)
    first[1:] = cluster[order][1:] != cluster[order][:-1]
    survivor_of_cluster = np.full(n, -1, dtype=np.int64)
    survivor_of_cluster[cluster[order][first]] = order[first]
    survivor = survivor_of_cluster[cluster]
    cluster_size = np.bincount(cluster, minlength=n)[cluster]
    a_first = np.frombuffer(led.a_first, dtype=np.int64)
    position = np.arange(n) - a_first[article]

    def pid_name(pid: int) -> str:
        return f"{led.a_id[article[pid]]}:{position[pid]}"

    # Article copies: earlier articles whose clusters cover >= 80% of an article's characters.
    length = np.frombuffer(led.length, dtype=np.int32)
    members: dict[int, list[int]] = {}
    for pid in np.flatnonzero(cluster_size > 1).tolist():
        members.setdefault(int(cluster[pid]), []).append(pid)
    copy_of: dict[int, tuple[int | None, float]] = {}
    counts: Counter[str] = Counter()
    for a in sorted({int(article[p]) for ms in members.values() for p in ms}):
        start, count = int(a_first[a]), led.a_count[a]
        total = int(length[start : start + count].sum())
        shared: Counter[int] = Counter()
        for pid in range(start, start + count):
            ms = members.get(int(cluster[pid]))
            if not ms:
                continue
            for other in {int(article[m]) for m in ms if rank[article[m]] < rank[a]}:
                shared[other] += int(length[pid])
        if not shared:
            continue
        shares = {b: s / total for b, s in shared.items()}
        ok = [b for b, s in shares.items() if s >= ARTICLE_SHARE]
        if ok:
            best = min(ok, key=lambda b: rank[b])
            copy_of[a] = (best, shares[best])
        else:
            copy_of[a] = (None, max(shares.values()))
        counts["borderline_articles_0.7_0.9"] += 0.7 <= copy_of[a][1] < 0.9

    a_file = np.frombuffer(led.a_file, dtype=np.int32)
    a_record = np.frombuffer(led.a_record, dtype=np.int32)
    with open(path, "w", encoding="utf-8") as out:
        for a in np.lexsort((a_record, a_file)).tolist():
            file = f"part-{a_file[a]:05d}.jsonl"
            common = {
                "file": file,
                "record_no": int(a_record[a]),
                "url": led.a_url[a],
                "article_id": led.a_id[a],
                "published_at": iso(int(published[a])),
            }
            start, count = int(a_first[a]), led.a_count[a]
            for pid in range(start, start + count):
                s = int(survivor[pid])
                gen_kind = int(kind[pid])
                root = int(cluster[pid])
                origin: str | None = None
                ratio: float | None = None
                variant = VARIANTS[led.variant[pid]] or None
                if s != pid:
                    name = "quote" if gen_kind == QUOTE else "copy"
                    origin = pid_name(s)
                    if gen_kind not in (COPY, QUOTE):
                        # The first of its cluster, which lost a tie to a copy of it: as far
                        # from the survivor as the survivor is from it.
                        counts["first_made_lost_a_tie"] += 1
                        variant = VARIANTS[led.variant[s]] or None
                    ratio = float(led.ratio[pid if gen_kind in (COPY, QUOTE) else s])
                    if a_file[article[s]] > a_file[a]:
                        counts["copies_in_earlier_file"] += 1
                    if published[article[s]] == published[a]:
                        counts["copies_tied_with_origin"] += 1
                elif kind[root] == DECOY:  # the decoy, or a copy of it that won a tie
                    name = "decoy"
                    origin = pid_name(int(survivor[led.template[root]]))
                    ratio = float(led.ratio[root])
                    variant = VARIANTS[led.variant[root]] or None
                else:
                    name = "original"
                    variant = "template" if VARIANTS[led.variant[root]] == "template" else None
                counts[name] += 1
                counts[f"{name}_{variant or 'plain'}"] += 1
                row = {
                    **common,
                    "position": int(position[pid]),
                    "kind": name,
                    "origin": origin,
                    "ratio": ratio,
                    "variant": variant,
                }
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            target, share = copy_of.get(a, (None, 0.0))
            counts["articles"] += 1
            counts["article_copies"] += target is not None
            if target is not None and a_file[target] > a_file[a]:
                counts["article_copies_in_earlier_file"] += 1
            row = {
                **common,
                "n_paragraphs": count,
                "article_copy_of": led.a_id[target] if target is not None else None,
                "copy_share": round(share, 4),
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return counts


def check_sample(sample: dict[str, list[str]]) -> dict[str, Any]:
    """Max fuzz.ratio between unrelated paragraphs of the same language, on the sample."""
    result: dict[str, Any] = {}
    worst = 0.0
    for lang in sorted(sample):
        texts = sample[lang]
        if len(texts) < 2:
            continue
        scores = process.cdist(texts, texts, scorer=fuzz.ratio, dtype=np.float32, workers=-1)
        np.fill_diagonal(scores, 0)
        top = float(scores.max())
        i, j = np.unravel_index(int(scores.argmax()), scores.shape)
        result[lang] = {
            "paragraphs": len(texts),
            "max": round(top, 1),
            "p99_9": round(float(np.percentile(scores, 99.9)), 1),
            "pairs_ge_70": int((scores >= 70).sum() // 2),
        }
        if top >= 70:
            result[lang]["example"] = [texts[i][:200], texts[j][:200]]
        worst = max(worst, top)
    result["max"] = round(worst, 1)
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Build a raw corpus with syndicated copies, quotes and template decoys, "
        "and its ground truth, from the real corpora in shared/corpora/."
    )
    parser.add_argument("out_dir", type=Path, help="output directory (created; must be empty)")
    parser.add_argument("--paragraphs", type=int, required=True, help="about this many paragraphs")
    parser.add_argument("--truth", type=Path, required=True, help="truth JSONL, outside OUT_DIR")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA, help="shared corpora")
    parser.add_argument(
        "--check",
        action="store_true",
        help="also measure fuzz.ratio between unrelated paragraphs on a sample (1,500 per "
        "language)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out_dir: Path = args.out_dir.resolve()
    if out_dir.exists() and any(out_dir.iterdir()):
        print(f"make_dedup_corpus: {out_dir} is not empty", file=sys.stderr)
        return 2
    if args.truth.resolve().is_relative_to(out_dir):
        print("make_dedup_corpus: --truth must be outside OUT_DIR", file=sys.stderr)
        return 2
    if args.paragraphs <= 0:
        print("make_dedup_corpus: --paragraphs must be positive", file=sys.stderr)
        return 2
    started = time.perf_counter()
    gen = Generator(out_dir, args.paragraphs, args.seed, args.corpora, 1500 if args.check else 0)
    prepared = time.perf_counter() - started
    gen.run()
    counts = write_truth(gen, args.truth)
    size = sum(p.stat().st_size for p in out_dir.glob("*.jsonl"))
    summary: dict[str, Any] = {
        "out_dir": str(out_dir),
        "files": gen.file_no + 1,
        "articles_per_file": gen.per_file,
        "bytes": size,
        "paragraphs": gen.ledger.paragraphs,
        "counts": dict(sorted(counts.items())),
        "generator": dict(sorted(gen.stats.items())),
        "seconds_waiting_for_streams": round(gen.streams.waited, 1),
        "seed": args.seed,
        "seconds_prepare": round(prepared, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.check:
        summary["unrelated_fuzz_ratio"] = check_sample(gen.sample)
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
