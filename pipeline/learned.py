"""Boilerplate learned from what repeats within a source.

No rule pack knows every site; a site's own chrome (its footer, its promo lines, its share
bar) repeats across its articles, and real text does not. Each line of every live article (a
row of the persistent paragraph index, so evidence accumulates across runs) gets three
template keys, made in the shards by :func:`line_keys`:

- ``shape``: its words, casefolded, with numbers, month and weekday names masked: exact
  repeats and lines whose numbers or dates differ ("© 2024 The Ledger" / "© 2025 The Ledger",
  "Updated 10:32, March 3");
- ``head``: the words before a separator (``:``, ``|``, a dash, ``»``, ...) of a short line
  with something after it: a constant head with a varying tail ("MORE FROM THE LEDGER: <a
  headline>", "Читайте также: <заголовок>");
- ``lead``: the first words of a short line without a separator that is not a sentence
  ("Subscribe to the Ledger for more on <a topic>"): a sentence that starts alike in many
  articles is a reporter's habit ("Про це повідомляє <агентство> з посиланням на ...").

:func:`learn` then takes, per source, the keys carried by enough of its articles (at least
``min_articles``, and a share of them that depends on where the lines sit: chrome heads and
tails an article, so a line at the edges needs less evidence than one in the middle). Keys
learned in several sources are taken everywhere, so that a source with few articles borrows
evidence from the rest. What protects content:

- dialogue lines ("– Yes.", "— Да.", quoted lines) get no keys at all;
- an article most of whose long lines are in an earlier article repeats a story (a syndicated
  copy, an update): it is no evidence for anything (copies are the corpus dedup's business);
- a template must not recur within its articles (a speaker's label in a transcript does);
- a varying-tail template must vary, and its lines be short; a long line must sit at the
  edges.

Thresholds were chosen with ``bench/boilerplate_eval.py`` (README).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.corpus import isin
from pipeline.dedup import CURRENCY_SIGNS

# Kinds of template, in the order a line's decision prefers them.
SHAPE, HEAD, LEAD = 1, 2, 3
KINDS = {SHAPE: "shape", HEAD: "head", LEAD: "lead"}
KIND_CODES = {name: kind for kind, name in KINDS.items()}

MAX_TEMPLATE_CHARS = 200  # head and lead keys: only lines this short (a promo, not a lead)
HEAD_MAX_WORDS = 6
LEAD_WORDS = 3
# A line is at the edge of its article when it is among its first or last EDGE_LINES lines,
# or EDGE_FRACTION of them (a full page's menus take dozens of lines).
EDGE_LINES = 3
EDGE_FRACTION = 0.2
EDGE_SHARE = 0.8  # a template whose lines are mostly at the edges
LONG_LINE = 200  # lines this long are learned only at the edges
REPEAT_LINE = 100  # an article's lines this long say whether it repeats a story...
REPEAT_SHARE = 0.5  # ...when this share of their characters recur in other articles
MAX_PER_ARTICLE = 2.0  # a template seen more often than this per article is not chrome
MID_FACTOR = 3.0  # a template in the middle of articles needs this many times more evidence
LEAD_FACTOR = 3.0  # and so does a lead (no separator tells where the tail starts)
MIN_SOURCES = 3  # a template learned in this many sources applies in every source
COMMON_SOURCES = 5  # a short line in the articles of this many sources is chrome everywhere
COMMON_MAX_CHARS = 60

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_DIGIT_RUN = re.compile(r"\d+")
_SENTENCE_END = re.compile(r"[.!?…][\"'”»’)\]]*\s*$")
# A dash and a space opens a line of dialogue (a dash without the space too, but not a hyphen:
# "-5%"); so does a quotation mark.
_DIALOGUE = re.compile(r"^\s*(?:-\s|[–—―]|[\"“”«„'‘’‹›])")
_SEPARATOR = re.compile(r"\s*(?:[:|»›>•·]|\s[-–—]\s|[–—])\s*")
# Month and weekday names (en, ru, uk; full, short, inflected), casefolded: masked like
# numbers. A set, not a regex: looked up once per word of every line.
_DATE_WORDS = frozenset(
    """
    jan january feb february mar march apr april may jun june jul july aug august sep sept
    september oct october nov november dec december mon monday tue tues tuesday wed wednesday
    thu thurs thursday fri friday sat saturday sun sunday am pm
    январь января январе февраль февраля феврале март марта марте апрель апреля апреле май
    мая мае июнь июня июне июль июля июле август августа августе сентябрь сентября сентябре
    октябрь октября октябре ноябрь ноября ноябре декабрь декабря декабре
    понедельник вторник среда среду четверг пятница пятницу суббота субботу воскресенье
    січень січня лютий лютого березень березня квітень квітня травень травня червень червня
    липень липня серпень серпня вересень вересня жовтень жовтня листопад листопада грудень
    грудня понеділок вівторок середа середу четвер пʼятниця пʼятницю ятниця ятницю субота
    суботу неділя неділю
    """.split()
)
MASK = "*"

_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd: source * _MIX differs for every source
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
Bools = npt.NDArray[np.bool_]


def _words(text: str) -> list[str]:
    """A line's words as a template sees them: casefolded, and numbers and date words all
    alike ("2024", "10am", "March"; "covid19" stays itself)."""
    folded = _DIGIT_RUN.sub("0", text.casefold())
    return [MASK if w[0] == "0" or w in _DATE_WORDS else w for w in _WORD.findall(folded)]


_CURRENCY = frozenset(CURRENCY_SIGNS)  # words of a key that are no word of a template


def _words_of_key(key: str) -> list[str]:
    """``_words(text)`` from ``match_key(text)``, without a second pass of regexes over the
    text: a key's words are the same runs of letters and digits, except that a key keeps the
    sign of a number ("-15") and currency signs as words of their own."""
    get = _KEY_WORDS.get
    words = [get(w) or _key_word(w) for w in key.split()]
    return [w for w in words if w] if "" in words else words


_KEY_WORDS: dict[str, str] = {}  # a key's word -> the word a template sees (a cache)


def _key_word(w: str) -> str:
    if w in _CURRENCY:
        return ""  # not a word of a template
    if len(_KEY_WORDS) >= 1 << 18:  # a few tens of MB at most
        _KEY_WORDS.clear()
    word = w[1:] if w[0] in "-+−" else w
    if not word.isalpha():
        word = _DIGIT_RUN.sub("0", word)
    seen = _KEY_WORDS[w] = MASK if word[0] == "0" or word in _DATE_WORDS else word
    return seen


def _hash(kind: str, words: list[str]) -> int:
    digest = hashlib.blake2b(f"{kind}\x00{' '.join(words)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1  # 0 means "no key"


def is_dialogue(text: str) -> bool:
    """A line of dialogue or a quotation: content, however often it repeats."""
    return _DIALOGUE.match(text) is not None


def _split(text: str) -> tuple[str, str] | None:
    """A short line's head and tail around its first separator, or None."""
    if len(text) > MAX_TEMPLATE_CHARS:
        return None
    m = _SEPARATOR.search(text)
    if m is None or m.start() == 0 or m.end() >= len(text):
        return None
    head, tail = text[: m.start()], text[m.end() :]
    n = len(_WORD.findall(head))
    if not 1 <= n <= HEAD_MAX_WORDS or not _WORD.search(tail):
        return None
    return head, text[m.start() : m.end()]


def at_edge(line: int, n_lines: int) -> bool:
    """Whether a line of an article of ``n_lines`` lines is near its start or its end."""
    reach = max(EDGE_LINES, int(EDGE_FRACTION * n_lines))
    return line < reach or n_lines - 1 - line < reach


def line_keys(text: str, edge: bool = True, key: str | None = None) -> tuple[int, int, int]:
    """The (shape, head, lead) keys of one line; 0 where it has none. A long line in the
    middle of its article (not ``edge``) has none: it is never learned, and most lines of
    news are such lines, so they cost nothing here. ``key``, when the caller has it, is the
    line's ``match_key`` (the same keys, made faster).

    >>> line_keys("© 2024 The Ledger") == line_keys("© 2025 the ledger.")
    True
    >>> line_keys("MORE: One headline")[1] == line_keys("More: another one")[1]
    True
    >>> line_keys("– Yes.")
    (0, 0, 0)
    """
    if (len(text) >= LONG_LINE and not edge) or is_dialogue(text):
        return 0, 0, 0
    words = _words(text) if key is None else _words_of_key(key)
    if all(w == MASK for w in words):  # no word: a price, a date, a phone number
        return 0, 0, 0
    shape = _hash("shape", words)
    head = lead = 0
    split = _split(text)
    if split is not None:
        head_words = _words(split[0])
        if any(w != MASK for w in head_words):  # "10:32 <a headline>" has no head
            head = _hash("head", head_words)
    elif (
        len(text) <= MAX_TEMPLATE_CHARS
        and len(words) > LEAD_WORDS + 1
        and not _SENTENCE_END.search(text)
        and any(w != MASK for w in words[:LEAD_WORDS])
    ):
        lead = _hash("lead", words[:LEAD_WORDS])
    return shape, head, lead


def template(text: str, kind: int) -> str:
    """The template a learned line matched, from the line itself, ``*`` for what varies.

    >>> template("© 2024 The Ledger. All rights reserved.", SHAPE)
    '© * The Ledger. All rights reserved.'
    >>> template("MORE FROM THE LEDGER: Storm closes the bridge", HEAD)
    'MORE FROM THE LEDGER: *'
    >>> template("Subscribe to the Ledger for more on the storm", LEAD)
    'Subscribe to the *'
    """
    if kind == HEAD:
        split = _split(text)
        if split is not None:
            head, sep = split
            return f"{head.strip()}{sep.rstrip()} {MASK}"
    if kind == LEAD:
        words = list(_WORD.finditer(text))
        if len(words) > LEAD_WORDS:
            return f"{text[: words[LEAD_WORDS - 1].end()]} {MASK}"

    def mask(m: re.Match[str]) -> str:
        return MASK if _words(m.group()) == [MASK] else m.group()

    return _WORD.sub(mask, text)


@dataclass(frozen=True, slots=True)
class LearnConfig:
    min_articles: int = 3
    min_share: float = 0.1


@dataclass(frozen=True, slots=True)
class Lines:
    """Every live line, as arrays (one entry per index row)."""

    source: I64  # a code per source
    article: I64  # a code per article
    line: I64  # the line's place in its article's text
    chars: I64
    keys: dict[int, U64]  # kind -> key per line (0: none)
    copy: U64  # the line's match-key hash (pipeline.dedup.match_key; 0: too short)


def learn(lines: Lines, cfg: LearnConfig) -> npt.NDArray[np.int8]:
    """For each line, the kind of the learned template it matches (0: none)."""
    n = len(lines.source)
    out = np.zeros(n, np.int8)
    if not n:
        return out
    last = np.zeros(int(lines.article.max()) + 1, np.int64)
    np.maximum.at(last, lines.article, lines.line)
    n_lines = last[lines.article] + 1
    reach = np.maximum(EDGE_LINES, (EDGE_FRACTION * n_lines).astype(np.int64))
    edge = (lines.line < reach) | (n_lines - 1 - lines.line < reach)  # as at_edge()
    evidence = ~_repeats(lines)
    n_sources = int(lines.source.max()) + 1
    articles_in = _distinct_per_group(
        lines.source[evidence], lines.article[evidence], n_sources
    )  # articles that are evidence, per source

    learned: dict[int, Bools] = {}
    for kind, keys in lines.keys.items():
        learned[kind] = _learned(lines, kind, keys, edge, evidence, articles_in, cfg)
    short = np.where(lines.chars <= COMMON_MAX_CHARS, lines.keys[SHAPE], np.uint64(0))
    menu = edge | _in_run_of_short_lines(lines)
    learned[SHAPE] |= _learned(lines, 0, short, menu, evidence, articles_in, cfg)
    for kind in (LEAD, HEAD, SHAPE):  # the most specific kind wins
        out[learned[kind]] = kind
    return out


def _in_run_of_short_lines(lines: Lines) -> Bools:
    """Short lines next to another short line of their article: a menu, a share bar, a
    footer's links, unlike a subheading between two paragraphs."""
    order = np.lexsort((lines.line, lines.article))
    short = lines.chars[order] <= COMMON_MAX_CHARS
    article, line = lines.article[order], lines.line[order]
    # A pair of neighbouring rows: same article, consecutive lines, both short.
    pair = (article[1:] == article[:-1]) & (line[1:] == line[:-1] + 1) & short[1:] & short[:-1]
    in_run = np.zeros(len(order), bool)
    in_run[1:] |= pair
    in_run[:-1] |= pair
    out = np.zeros(len(order), bool)
    out[order] = in_run
    return out


def _learned(
    lines: Lines,
    kind: int,
    keys: U64,
    edge: Bools,
    evidence: Bools,
    articles_in: I64,
    cfg: LearnConfig,
) -> Bools:
    """The lines whose (source, key) is learned for their source, or borrowed: their key is
    learned in ``MIN_SOURCES`` sources and looks like chrome in their source too (at the
    edges, at most twice an article). Kind 0: short lines by shape, "common" ones, learned
    from no single source but borrowed once ``COMMON_SOURCES`` sources carry them so."""
    out = np.zeros(len(keys), bool)
    rows = np.flatnonzero(keys != 0)
    if not len(rows):
        return out
    # One 64-bit code per (source, key): a key mixed with its source.
    pair = keys[rows] ^ (lines.source[rows].astype(np.uint64) * _MIX)
    codes, first, group_of = np.unique(pair, return_index=True, return_inverse=True)
    group_of = group_of.ravel()
    n_groups = len(codes)
    group_key = keys[rows][first]
    group_source = lines.source[rows][first]
    # Statistics over the lines that are evidence.
    ev = evidence[rows]
    g, r = group_of[ev], rows[ev]
    occurrences = np.bincount(g, minlength=n_groups)
    at_edge = np.bincount(g, weights=edge[r], minlength=n_groups)
    long_lines = np.bincount(g, weights=lines.chars[r] >= LONG_LINE, minlength=n_groups)
    support = _distinct_per_group(g, lines.article[r], n_groups)
    _, shape_codes = np.unique(lines.keys[SHAPE][r], return_inverse=True)
    shapes = _distinct_per_group(g, shape_codes.ravel(), n_groups)
    sizes = articles_in[group_source].astype(np.float64)

    edge_share = at_edge / np.maximum(occurrences, 1)
    at_edges = edge_share >= EDGE_SHARE
    chrome_like = (support > 0) & (occurrences <= MAX_PER_ARTICLE * support)
    chrome_like &= (long_lines == 0) | at_edges  # (inside, long lines have no keys)
    need = cfg.min_share * sizes * np.where(at_edges, 1.0, MID_FACTOR)
    if kind == LEAD:
        need *= LEAD_FACTOR
    if kind == 0:
        ok = np.zeros(n_groups, bool)
        voters, enough = chrome_like & at_edges, COMMON_SOURCES
    else:
        ok = chrome_like & (support >= cfg.min_articles) & (support >= need)
        if kind != SHAPE:  # a tail that never varies is a shape
            ok &= shapes >= 2
        voters, enough = ok, MIN_SOURCES
    learned_keys, sources = np.unique(group_key[voters], return_counts=True)
    everywhere = isin(group_key, learned_keys[sources >= enough])
    out[rows] = (ok | (everywhere & chrome_like & at_edges))[group_of]
    return out


def _repeats(lines: Lines) -> Bools:
    """Lines of articles that repeat an earlier story: most of their long lines' characters
    are copies of lines of an article before them (article codes are in corpus order), so
    the first copy of a story is evidence and the others are not."""
    rows = np.flatnonzero((lines.chars >= REPEAT_LINE) & (lines.copy != 0))
    if not len(rows):
        return np.zeros(len(lines.copy), bool)
    _, inverse = np.unique(lines.copy[rows], return_inverse=True)
    inverse = inverse.ravel()
    first = np.full(int(inverse.max()) + 1, np.iinfo(np.int64).max)
    np.minimum.at(first, inverse, lines.article[rows])
    earlier = lines.article[rows] > first[inverse]
    size = int(lines.article.max()) + 1
    total = np.bincount(lines.article[rows], weights=lines.chars[rows], minlength=size)
    seen = np.bincount(lines.article[rows], weights=lines.chars[rows] * earlier, minlength=size)
    repeat = (seen >= REPEAT_SHARE * total) & (total > 0)
    repeating: Bools = repeat[lines.article]
    return repeating


def _distinct_per_group(group_of: I64, values: I64, n_groups: int) -> I64:
    """How many distinct values (small non-negative integers) each group holds."""
    pairs = np.sort((group_of.astype(np.int64) << 32) | values.astype(np.int64))
    # Distinct by sort (numpy 2's hash-based np.unique was 7 times slower on 1M values).
    distinct = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs
    counts: I64 = np.bincount(distinct >> 32, minlength=n_groups)
    return counts
