"""Near-duplicate paragraphs and articles across the whole corpus, and across runs.

Each kept paragraph of every article (a *line* of its text after in-article cleaning) has a
row in the persistent paragraph index: its text, a hash of its match key (the exact copy
test) and its LSH band keys (``pipeline.minhash``). A run:

1. **candidates**: pairs of distinct texts that share a band key, at least one of them new
   (pairs of old texts were judged by the run that brought them);
2. **verification**: rapidfuzz on each candidate only, ``fuzz.ratio`` with ``score_cutoff``,
   else ``fuzz.partial_ratio`` for a shorter text contained in a longer one, and the facts guard
   of ``pipeline.dedup.same_facts`` on the aligned text, so that a template with other numbers
   or names is not a copy; verified pairs (*edges*) are stored, they depend on the texts only;
3. **decisions**, from the edges alone, over every live paragraph, in the order of their
   articles (earliest ``published_at`` first, undated last, ties by smallest article_id): a
   paragraph that copies a kept paragraph of an earlier article is removed, with that copy,
   its position and the score; the rest is kept. An article most of whose characters copy one
   earlier article gets ``duplicate_of``.

The decisions are a function of the set of live articles, never of file order, worker count or
run history: two runs over two halves of a corpus decide what one run over all of it decides.

Parameters, measured by bench/dedup_params.py and on the 1M-paragraph bench corpus (README):
shingles of 3 words, 128 bins, 64 bands of 2 rows 8 bins apart, a pair sharing at least 6
bands.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz

from pipeline.config import DedupConfig
from pipeline.dedup import match_key, same_facts
from pipeline.minhash import band_keys, signatures

SHINGLE = 3
BINS = 128
BANDS = 64
ROWS = 2
# Rows of a band are this many bins apart (see pipeline.minhash.band_keys): on the 1M bench
# corpus, neighbouring rows (1) make 5 times the candidates of 8, and rows 64 apart miss
# 3 times as many copies of short, much edited paragraphs.
BAND_DISTANCE = 8
# What the band keys of an index part were made with; a part made otherwise (an older
# newsclean) has its band keys made again from its text when read.
FINGERPRINT_KEY = b"newsclean.fingerprint"
# "+t1": the part also has the template keys of pipeline.learned (version 1).
FINGERPRINT = f"oph-w{SHINGLE}-{BINS}-{BANDS}x{ROWS}-d{BAND_DISTANCE}+t1"
# A bucket (texts sharing one band key) of more than this many texts pairs each text only with
# the BUCKET_CAP texts before it: a boilerplate-like template shared by thousands of paragraphs
# would otherwise cost millions of comparisons. Copies of one story are far fewer.
BUCKET_CAP = 64
# A pair must share at least this many of the 64 band keys: one or a few shared bands are
# mostly two texts that share a sentence or a phrase; copies share far more.
MIN_SHARED_BANDS = 6
# Fewer candidate pairs than this are verified in the calling process: starting processes
# costs more than it saves.
PARALLEL_PAIRS = 20_000
MIN_CONTAINED = 80  # a contained text must be at least this long (characters)
# partial_ratio scores the best window of the longer text, which flatters look-alikes: on the
# 1M-paragraph bench corpus the only contained matches under 90 were unrelated sentences.
MIN_CONTAINED_SCORE = 90.0

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]


def hash64(text: str) -> int:
    """A stable 64-bit hash of a string (of a match key: the exact-copy test; of a text: the
    identity of a verified pair)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def fingerprints(keys: list[str]) -> U32:
    """LSH band keys, one row of ``BANDS`` values per match key."""
    return band_keys(signatures(keys, BINS, SHINGLE), BANDS, ROWS, BAND_DISTANCE)


def fingerprint_metadata() -> dict[bytes, bytes]:
    """The key-value metadata of an index part: how its band keys were made."""
    return {FINGERPRINT_KEY: FINGERPRINT.encode()}


def current_fingerprints(metadata: dict[bytes, bytes] | None) -> bool:
    """Whether an index part (by its Parquet metadata) has band keys made as they are now."""
    return (metadata or {}).get(FINGERPRINT_KEY) == FINGERPRINT.encode()


def candidate_pairs(
    bands: U32,
    new: npt.NDArray[np.bool_],
    min_shared: int = MIN_SHARED_BANDS,
    cap: int = BUCKET_CAP,
    workers: int = 1,
    rows: I64 | None = None,
) -> I64:
    """Pairs ``(i, j)``, ``i < j``, of rows that share at least ``min_shared`` band keys, at
    least one of them ``new``. With ``rows``, only those rows of ``bands`` take part (and
    ``i``, ``j`` and ``new`` index into ``rows``): they are taken a band at a time, so that
    no copy of all the bands is made (a second of a million rows' memory traffic).

    Rows are distinct texts in corpus order (so that a capped bucket pairs each text with the
    texts just before it, the likeliest first copies). Returns an ``(m, 2)`` array, sorted.

    Linear in rows and in pairs met: most band keys and most pairs occur once, and a
    counting pass over hashed slots sets them aside before anything is sorted. When few rows
    are new (an incremental run), each band looks only at the rows that share a key with one.
    Bands go to ``workers`` threads (numpy works outside the GIL).

    >>> bands = np.array([[1, 2, 3], [1, 2, 4], [5, 2, 3], [6, 7, 8]], dtype=np.uint32)
    >>> candidate_pairs(bands, np.ones(4, dtype=bool), min_shared=2).tolist()
    [[0, 1], [0, 2]]
    """
    n = bands.shape[0] if rows is None else rows.size
    if not new.any():
        return np.zeros((0, 2), dtype=np.int64)
    few_new = bool(new.mean() < 0.5)
    columns = bands.T  # a view: contiguous band rows when the caller keeps bands band-major

    def band(k: int) -> U64:
        column = columns[k] if rows is None else columns[k][rows]
        return _band_pairs(np.ascontiguousarray(column), new, few_new, cap)

    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            found = list(pool.map(band, range(bands.shape[1])))
    else:
        found = [band(k) for k in range(bands.shape[1])]
    need = min(min_shared, bands.shape[1])
    codes = np.concatenate(found)
    # A table of a slot per 4 pair codes: larger ones cost more to allocate and fill than
    # the extra codes they set aside save in np.unique (10.6M codes at 1M paragraphs: 0.5 s
    # against 0.7-1.2 s with a slot per code or two).
    codes = codes[_slot_counts(codes, codes.size // 4) >= need]
    codes, shared = np.unique(codes, return_counts=True)
    codes = codes[shared >= need]
    return np.stack(((codes // np.uint64(n)), (codes % np.uint64(n))), 1).astype(np.int64)


def _band_pairs(column: U32, new: npt.NDArray[np.bool_], few_new: bool, cap: int) -> U64:
    """The pairs of rows that share this band's key (one new at least), as ``i * n + j``."""
    n = column.size
    if few_new:  # an incremental run: only rows whose key's slot holds a new row's key
        slot = _slots(column, 4 * n)
        wanted = np.zeros(int(slot.max()) + 1, dtype=bool)
        wanted[slot[new]] = True
        rows = np.flatnonzero(wanted[slot])
        members, rank = _buckets(column[rows])
        members = rows[members]
    else:
        members, rank = _buckets(column)
    # Each member pairs with the (up to ``cap``) members before it in its bucket: at distance
    # k, the members of rank >= k, a set that shrinks as k grows.
    found: list[U64] = [np.zeros(0, np.uint64)]
    at = np.flatnonzero(rank >= 1)
    for k in range(1, cap + 1):
        if k > 1:
            at = at[rank[at] >= k]
        if not at.size:
            break
        lo, hi = members[at - k], members[at]
        keep = new[lo] | new[hi]
        found.append(lo[keep].astype(np.uint64) * np.uint64(n) + hi[keep].astype(np.uint64))
    return np.concatenate(found)


def isin(values: npt.NDArray[Any], keys: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """``np.isin(values, keys)`` by a sort of ``keys`` and a binary search. numpy 2's np.isin
    and np.unique hash, slowly: 0.9 s for 100k values among 1M keys here, 0.08 s this way.

    >>> isin(np.array([3, 1, 7], np.uint64), np.array([7, 2, 3], np.uint64)).tolist()
    [True, False, True]
    """
    if not len(keys):
        return np.zeros(len(values), bool)
    keys = np.sort(keys)
    at = np.searchsorted(keys, values).clip(max=len(keys) - 1)
    found: npt.NDArray[np.bool_] = keys[at] == values
    return found


def _slots(values: U64 | U32, size: int) -> npt.NDArray[np.intp]:
    """Each value's slot in a table of at least ``size`` slots (a multiplicative hash)."""
    bits = max(12, int(size).bit_length())
    slot = values.astype(np.uint64)  # one new array, worked on in place
    slot *= np.uint64(0x9E3779B97F4A7C15)
    slot >>= np.uint64(64 - bits)
    out: npt.NDArray[np.intp] = slot.view(np.intp)  # < 2**bits: the same numbers
    return out


def _slot_counts(values: U64 | U32, size: int) -> npt.NDArray[np.uint8]:
    """How many of ``values`` share each value's slot (at most 255): a value alone in its slot
    occurs once. The table is read back in random order, so it is kept to a byte a slot."""
    slot = _slots(values, size)
    counts = np.minimum(np.bincount(slot), 255).astype(np.uint8)
    out: npt.NDArray[np.uint8] = counts[slot]
    return out


def _buckets(column: U32) -> tuple[I64, I64]:
    """The rows whose key occurs more than once, ordered by key then row, and the rank of
    each in its bucket (0 for the first)."""
    maybe = np.flatnonzero(_slot_counts(column, 2 * column.size) > 1)
    if maybe.size < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = (column[maybe].astype(np.uint64) << np.uint64(32)) | maybe.astype(np.uint64)
    order.sort()
    keys = order >> np.uint64(32)
    rows = (order & np.uint64(0xFFFFFFFF)).astype(np.int64)
    same_as_prev = np.concatenate(([False], keys[1:] == keys[:-1]))
    in_group = same_as_prev | np.concatenate((same_as_prev[1:], [False]))
    starts = ~same_as_prev[in_group]
    start_of = np.flatnonzero(starts)[np.cumsum(starts) - 1]
    rank: I64 = np.arange(start_of.size) - start_of
    return rows[in_group], rank


@dataclass(frozen=True, slots=True)
class Edge:
    """Two texts verified as copies: ``fuzz.ratio`` (either may be removed), or ``contained``
    (``a`` is contained in ``b``: only ``a`` may be removed for it). By text hash: the score is
    a function of the two texts, whatever copy of them a run met first."""

    a: int  # text hash
    b: int
    score: float
    kind: str  # "ratio" | "contained"


def verify(a: str, b: str, cfg: DedupConfig) -> tuple[float, str, bool] | None:
    """Score, kind, and for ``contained`` whether ``a`` is the contained text, when ``a`` and
    ``b`` are copies.

    >>> cfg = DedupConfig()
    >>> verify("Shares of Acme rose 5% on Monday after the results.",
    ...        "Shares of Acme rose 5% on Monday, after the results.", cfg)[:2]
    (99.0, 'ratio')
    >>> verify("Shares of Acme rose 5% on Monday after the results.",
    ...        "Shares of Acme rose 7% on Monday after the results.", cfg) is None
    True
    """
    t = cfg.near_threshold
    score = fuzz.ratio(a, b, score_cutoff=t)
    if score and same_facts(a, b):
        return round(score, 1), "ratio", False
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) < MIN_CONTAINED or len(short) > 0.85 * len(long):
        return None
    # partial_ratio costs the product of the lengths: first a cheap test that most of the
    # short text's words occur in the long one at all.
    words = _words(short)
    if len(words & _words(long)) < 0.8 * len(words):
        return None
    aligned = fuzz.partial_ratio_alignment(short, long, score_cutoff=max(t, MIN_CONTAINED_SCORE))
    if aligned is None or not same_facts(short, long[aligned.dest_start : aligned.dest_end]):
        return None
    return round(aligned.score, 1), "contained", short is a


@lru_cache(maxsize=1 << 16)
def _words(text: str) -> frozenset[str]:
    """A text's distinct words; cached, as a text meets several candidates."""
    return frozenset(match_key(text).split())


def verify_pairs(
    pairs: I64,
    hashes: U64,
    text_of: Callable[[int], str],
    cfg: DedupConfig,
    workers: int = 1,
) -> list[Edge]:
    """The candidate pairs (indices into ``hashes``, the texts' hashes) that are copies.

    With ``workers`` > 1 and many pairs, rapidfuzz runs in that many processes (the texts
    go to them in chunks; a forkserver, so that nothing of the caller's threads is copied).
    """
    texts = [(text_of(i), text_of(j)) for i, j in pairs.tolist()]
    if workers > 1 and len(texts) >= PARALLEL_PAIRS:
        step = -(-len(texts) // (16 * workers))  # small chunks: candidates come in clumps
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["pipeline.corpus"])
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            chunks = [texts[k : k + step] for k in range(0, len(texts), step)]
            found = [v for part in pool.map(_verify_all, chunks, repeat(cfg)) for v in part]
    else:
        found = _verify_all(texts, cfg)
    edges = []
    for (i, j), verified in zip(pairs.tolist(), found, strict=True):
        if verified is None:
            continue
        score, kind, a_is_contained = verified
        ka, kb = int(hashes[i]), int(hashes[j])
        if kind == "contained" and not a_is_contained:
            ka, kb = kb, ka
        elif kind == "ratio" and kb < ka:
            ka, kb = kb, ka  # a ratio edge has no direction: store it one way only
        edges.append(Edge(ka, kb, score, kind))
    return edges


def _verify_all(
    texts: list[tuple[str, str]], cfg: DedupConfig
) -> list[tuple[float, str, bool] | None]:
    return [verify(a, b, cfg) for a, b in texts]


@dataclass(frozen=True, slots=True)
class Paragraph:
    """One fingerprinted line of a live article, as the decision pass needs it."""

    rank: int  # the article's place in corpus order
    line: int
    article_id: str
    position: int
    key: int  # match-key hash: same words, same key
    text_hash: int
    chars: int
    row: int = -1  # where the caller keeps it (the index row)


@dataclass(frozen=True, slots=True)
class Decision:
    """A paragraph removed as a copy of a kept paragraph of an earlier article (or, with no
    match, as learned boilerplate: ``detail`` then names the kind of template)."""

    article_id: str
    line: int
    position: int
    reason: str  # duplicate_exact | duplicate_near | boilerplate_learned
    detail: str
    matched_article_id: str | None
    matched_position: int | None
    chars: int
    row: int = -1


def decide(paragraphs: Iterable[Paragraph], edges: Iterable[Edge]) -> list[Decision]:
    """Keep the first copy of each text, in corpus order; every later copy is a Decision.

    A paragraph is removed when a paragraph kept before it, in another article, has the same
    text (``duplicate_exact``) or an edge to it (``duplicate_near``: the earliest such copy).
    A removed paragraph is no one's first copy, so every decision points to a kept paragraph.
    """
    neighbours: dict[int, list[tuple[int, float, str]]] = defaultdict(list)
    for e in edges:
        neighbours[e.a].append((e.b, e.score, e.kind))
        if e.kind == "ratio":
            neighbours[e.b].append((e.a, e.score, e.kind))
    first_kept: dict[int, Paragraph] = {}  # by match key
    first_kept_text: dict[int, Paragraph] = {}  # by text hash
    decisions = []
    for p in sorted(paragraphs, key=lambda p: (p.rank, p.line)):
        kept = first_kept.get(p.key)
        if kept is not None and kept.article_id != p.article_id:
            decisions.append(
                _decision(p, kept, "duplicate_exact", "exact copy of an earlier article")
            )
            continue
        best: tuple[Paragraph, float, str] | None = None
        for other, score, kind in neighbours.get(p.text_hash, ()):
            q = first_kept_text.get(other)
            if q is None or q.article_id == p.article_id:
                continue
            if best is None or (q.rank, q.line) < (best[0].rank, best[0].line):
                best = (q, score, kind)
        if best is not None:
            q, score, kind = best
            detail = (
                f"fuzz.ratio={score:.1f}"
                if kind == "ratio"
                else f"contained: fuzz.partial_ratio={score:.1f}"
            )
            decisions.append(_decision(p, q, "duplicate_near", detail))
            continue
        first_kept.setdefault(p.key, p)
        first_kept_text.setdefault(p.text_hash, p)
    return decisions


def _decision(p: Paragraph, q: Paragraph, reason: str, detail: str) -> Decision:
    return Decision(
        p.article_id, p.line, p.position, reason, detail, q.article_id, q.position, p.chars, p.row
    )


def duplicate_articles(
    decisions: Iterable[Decision], article_chars: dict[str, int], coverage: float
) -> dict[str, tuple[str, float]]:
    """Articles whose removed copies of one earlier article make up at least ``coverage`` of
    their characters: article id -> (that article, share)."""
    copied: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for d in decisions:
        if d.matched_article_id is not None:  # learned boilerplate copies nothing
            copied[d.article_id][d.matched_article_id] += d.chars
    out = {}
    for aid, by_source in copied.items():
        source, chars = min(by_source.items(), key=lambda kv: (-kv[1], kv[0]))
        total = article_chars.get(aid, 0)
        if total and chars >= coverage * total:
            out[aid] = (source, chars / total)
    return out
