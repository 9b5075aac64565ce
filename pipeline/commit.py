"""Step 3 of a run: decide across shards and earlier runs, then publish one snapshot.

What the committed dataset holds is a function of the live raw records, not of the order in
which runs met them:

1. **One live row per article id** (a canonical URL): the record with the earliest
   ``published_at`` (undated last), then the smallest (source_path, record_no), whichever run
   read it. Losers leave a ``duplicate_article`` row.
2. **Corpus-wide copies** (``pipeline.corpus``): candidates among the new paragraphs and the
   persistent index, verified, then decisions over every live paragraph. Articles whose
   decisions changed (new ones, and old ones that an earlier-published newcomer or a replaced
   file affects) are written again from their indexed lines; the rest of the snapshot is
   hard-linked.
3. Parts that hold rows of replaced raw files, losers or revised articles are rewritten
   without them (derived files get their own names, so a retried commit starts from the same
   inputs), and ``Store.commit`` swaps the snapshot in.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import __version__
from pipeline.config import Config
from pipeline.corpus import (
    BANDS,
    Decision,
    Edge,
    Paragraph,
    candidate_pairs,
    current_fingerprints,
    decide,
    duplicate_articles,
    fingerprint_metadata,
    fingerprints,
    isin,
    verify_pairs,
)
from pipeline.dedup import match_key
from pipeline.learned import (
    HEAD,
    KIND_CODES,
    KINDS,
    LEAD,
    SHAPE,
    LearnConfig,
    Lines,
    at_edge,
    learn,
    line_keys,
    template,
)
from pipeline.records import Plan, RunSummary, ShardResult
from pipeline.schema import (
    ARTICLES,
    DATASETS,
    EDGES,
    INDEX,
    MANIFEST,
    PARTS,
    REMOVED,
    RUNS,
    Columns,
)
from pipeline.store import Store, parquet_metadata, write_parquet

# Rows of removed/ that the commit decides (from the index), not the shards.
_CORPUS_REASONS = pa.array(
    ["duplicate_exact", "duplicate_near", "duplicate_article", "boilerplate_learned"]
)
_NO_DATE = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Record:
    """Where one article row lives, and how it sorts among rows with its id."""

    article_id: str
    published_at: datetime | None
    source_path: str
    record_no: int
    new: bool
    source: str | None = None

    @property
    def order(self) -> tuple[Any, ...]:
        return (
            self.published_at is None,
            self.published_at or _NO_DATE,
            self.source_path,
            self.record_no,
        )

    @property
    def ref(self) -> tuple[str, int]:
        return (self.source_path, self.record_no)


def commit_run(plan: Plan, results: list[ShardResult], cfg: Config) -> RunSummary:
    """Decide what survives across shards and earlier runs, then publish atomically."""
    store = Store(plan.clean_root)
    current = store.current()
    if current is not None and current.name == plan.run_id:
        # A retry of a commit that failed after its swap: the snapshot is published; finish.
        store.finish(plan.run_id)
        runs = store.read("runs").to_pylist()
        return RunSummary(**json.loads(runs[-1]["summary"]))
    staging = store.staging(plan.run_id)
    meta = parquet_metadata(plan.config_hash, plan.run_id)
    stamp = {"run_id": plan.run_id, "ingested_at": plan.started_at}
    replaced = set(plan.replaced) | {f.path for f in plan.files}
    replaced_arr = pa.array(sorted(replaced), pa.string())

    # Only the shards' own parts: files derived from them here get other names.
    shard_glob = f"part-{plan.run_id}-[0-9][0-9][0-9][0-9][0-9].parquet"
    new_parts = {d: sorted((staging / d).glob(shard_glob)) for d in PARTS}
    old_parts = {d: store.parts(d) for d in PARTS}

    # 1. One live record per article id.
    records = _records(old_parts["articles"], replaced_arr, new=False)
    records += _records(new_parts["articles"], None, new=True)
    live: dict[str, _Record] = {}
    for r in records:
        if r.article_id not in live or r.order < live[r.article_id].order:
            live[r.article_id] = r
    losers = [r for r in records if live[r.article_id] is not r]
    loser_refs = {r.ref for r in losers}

    # 2. Corpus-wide copies.
    t0 = time.perf_counter()
    index = _Index(old_parts["index"], new_parts["index"], replaced_arr, loser_refs)
    old_edges = _read_edges(old_parts["edges"])
    corpus = _corpus_decisions(index, live, old_edges, cfg)
    corpus_seconds = time.perf_counter() - t0
    decisions, dup_of = corpus.by_article, corpus.duplicate_of
    previous, learned_texts = _previous_decisions(old_parts["removed"], replaced_arr)
    new_ids = {aid for aid, r in live.items() if r.new}
    revised = {
        aid
        for aid, r in live.items()
        if not r.new
        and _signature(decisions.get(aid), dup_of.get(aid), learned_texts)
        != previous.get(aid, frozenset())
    }
    rewrite = revised | new_ids  # articles whose corpus rows are written by this run

    # 3. Parts.
    keep: dict[str, list[Path]] = {d: [] for d in PARTS}
    out: dict[str, list[Path]] = {d: [] for d in PARTS}
    revised_rows: list[dict[str, Any]] = []

    def derive(
        dataset: str, part: Path, drop: pa.Array, prefix: str, anew: pa.Table | None = None
    ) -> None:
        """Keep a part as it is, or write what is left of it (or of ``anew``, its rows made
        again) under a new name."""
        if anew is None and not pc.any(drop).as_py():
            (out if part.parent.parent == staging else keep)[dataset].append(part)
            return
        table = (pq.read_table(part) if anew is None else anew).filter(pc.invert(drop))
        if table.num_rows:
            path = staging / dataset / f"{prefix}-{part.name}"
            extra = fingerprint_metadata() if dataset == "index" else {}
            write_parquet(table, path, PARTS[dataset], meta | extra)
            out[dataset].append(path)

    for part in old_parts["articles"]:
        t = pq.read_table(part, columns=["article_id", "source_path", "record_no"])
        gone = _refs_mask(t, loser_refs)
        mine = pc.is_in(t["article_id"], value_set=pa.array(sorted(revised), pa.string()))
        drop = pc.or_(pc.or_(pc.is_in(t["source_path"], value_set=replaced_arr), gone), mine)
        if pc.any(mine).as_py():
            revised_rows += (
                pq.read_table(part)
                .filter(
                    pc.and_(
                        mine,
                        pc.invert(pc.or_(gone, pc.is_in(t["source_path"], value_set=replaced_arr))),
                    )
                )
                .to_pylist()
            )
        derive("articles", part, drop, f"rw-{plan.run_id}")
    touched_ids = pa.array(sorted(set(decisions) | set(dup_of)), pa.string())

    def decided(part: Path) -> Path | None:
        """A new part with the corpus decisions applied (itself when none applies)."""
        t = pq.read_table(part)
        gone = _refs_mask(t, loser_refs)
        touched = pc.is_in(t["article_id"], value_set=touched_ids)
        if not pc.any(touched).as_py() and not pc.any(gone).as_py():
            return part
        t = _apply_table(t, touched, decisions, dup_of).filter(pc.invert(gone))
        if not t.num_rows:
            return None
        path = part.with_name(part.stem + "-k.parquet")
        write_parquet(t, path, ARTICLES, meta)
        return path

    # Parquet reads, compresses and fsyncs outside the GIL: two parts at a time.
    with ThreadPoolExecutor(_READERS) as pool:
        out["articles"] += [p for p in pool.map(decided, new_parts["articles"]) if p is not None]
    if revised_rows:
        rows = [
            _apply(
                row, decisions.get(row["article_id"]), dup_of.get(row["article_id"]), index, stamp
            )
            for row in revised_rows
        ]
        path = staging / "articles" / f"part-{plan.run_id}-revised.parquet"
        write_parquet(pa.Table.from_pylist(rows, schema=ARTICLES), path, ARTICLES, meta)
        out["articles"].append(path)

    # removed/: corpus rows of the articles decided again go, and are written anew; rows of
    # records that lost their id to a newcomer now name the new winner.
    rewrite_arr = pa.array(sorted(rewrite), pa.string())
    extra = Columns(REMOVED)
    for part in old_parts["removed"]:
        t = pq.read_table(
            part, columns=["article_id", "reason", "matched_article_id", "source_path"]
        )
        own_id = pc.fill_null(pc.equal(t["matched_article_id"], t["article_id"]), False)
        corpus_row = pc.and_(pc.is_in(t["reason"], value_set=_CORPUS_REASONS), pc.invert(own_id))
        same_id = pc.and_(pc.equal(t["reason"], "duplicate_article"), own_id)
        gone = pc.is_in(t["source_path"], value_set=replaced_arr)
        renamed = pc.and_(
            pc.and_(same_id, pc.is_in(t["article_id"], value_set=rewrite_arr)), pc.invert(gone)
        )
        if pc.any(renamed).as_py():
            for row in pq.read_table(part).filter(renamed).to_pylist():
                _loser_row(extra, row, live[row["article_id"]], stamp)
        drop = pc.or_(
            pc.or_(gone, renamed),
            pc.and_(corpus_row, pc.is_in(t["article_id"], value_set=rewrite_arr)),
        )
        derive("removed", part, drop, f"rw-{plan.run_id}")
    out["removed"] += new_parts["removed"]
    n_renamed = len(extra)
    _loser_rows(losers, live, old_parts["index"], new_parts["index"], replaced_arr, extra, stamp)
    n_same_id = len(extra) - n_renamed
    n_corpus = _corpus_rows(rewrite, decisions, dup_of, live, index, extra, stamp)
    if len(extra):
        path = staging / "removed" / f"part-{plan.run_id}-decisions.parquet"
        write_parquet(extra.table(), path, REMOVED, meta)
        out["removed"].append(path)

    for part in old_parts["rejected"]:
        t = pq.read_table(part, columns=["source_path"])
        derive(
            "rejected",
            part,
            pc.is_in(t["source_path"], value_set=replaced_arr),
            f"rw-{plan.run_id}",
        )
    out["rejected"] += new_parts["rejected"]

    for part in old_parts["index"]:
        t = pq.read_table(part, columns=["source_path", "record_no"])
        drop = pc.or_(pc.is_in(t["source_path"], value_set=replaced_arr), _refs_mask(t, loser_refs))
        derive("index", part, drop, f"rw-{plan.run_id}", index.migrated.get(part))
    for part in new_parts["index"]:
        t = pq.read_table(part, columns=["source_path", "record_no"])
        derive("index", part, _refs_mask(t, loser_refs), "k")
    edges = _live_edges(old_edges, corpus.new_edges, index.live_keys())
    if corpus.new_edges or edges.num_rows != old_edges.num_rows:
        path = staging / "edges" / f"part-{plan.run_id}.parquet"
        write_parquet(edges, path, EDGES, meta)
        out["edges"].append(path)
    else:
        keep["edges"] += old_parts["edges"]

    # Every dataset keeps at least one file, so readers always find its schema.
    for dataset, schema in DATASETS.items():
        if not keep[dataset] and not out[dataset]:
            path = staging / dataset / f"part-{plan.run_id}-empty.parquet"
            write_parquet(schema.empty_table(), path, schema, meta)
            out[dataset].append(path)

    summary = _summary(plan, results, n_same_id, n_corpus, decisions, dup_of, rewrite, keep, out)
    summary.corpus_seconds = corpus_seconds
    runs = pa.concat_tables([store.read("runs"), _run_row(plan, summary)])
    store.commit(plan.run_id, keep, out, _next_manifest(store, plan, replaced), runs)
    return summary


_READERS = 2  # threads reading index parts: a second one halves the time on two cores

# -- records and the index -------------------------------------------------------------------


def _records(parts: list[Path], replaced: pa.Array | None, new: bool) -> list[_Record]:
    out = []
    for part in parts:
        t = pq.read_table(
            part, columns=["article_id", "published_at", "source_path", "record_no", "source"]
        )
        if replaced is not None:
            t = t.filter(pc.invert(pc.is_in(t["source_path"], value_set=replaced)))
        columns = (t[c].to_pylist() for c in t.column_names)
        for aid, pub, path, rec, source in zip(*columns, strict=True):
            out.append(_Record(aid, pub, path, rec, new, source))
    return out


def _refs_mask(t: pa.Table, refs: set[tuple[str, int]]) -> pa.Array:
    if not refs:
        return pa.array(np.zeros(t.num_rows, dtype=bool))
    pairs = zip(t["source_path"].to_pylist(), t["record_no"].to_pylist(), strict=True)
    return pa.array([ref in refs for ref in pairs], pa.bool_())


class _Index:
    """The live paragraph index: old parts (minus replaced files and losers) and new ones.

    Holds every column but the text in memory; the text of a row is read from its part only
    when a candidate pair or a rewritten article needs it.
    """

    _COLUMNS: ClassVar[list[str]] = [
        "article_id",
        "source_path",
        "record_no",
        "line",
        "position",
        "chars",
        "key",
        "text_hash",
        "shape",
        "head",
        "lead",
    ]

    def __init__(
        self, old: list[Path], new: list[Path], replaced: pa.Array, losers: set[tuple[str, int]]
    ) -> None:
        self.parts = [*old, *new]
        self.migrated: dict[Path, pa.Table] = {}  # parts whose band keys were made again
        tables, new_flags = [], []
        with ThreadPoolExecutor(_READERS) as pool:
            read = list(pool.map(self._read, self.parts))
        for n, t in enumerate(read):
            t = t.append_column("part", pa.array(np.full(t.num_rows, n, dtype=np.int32)))
            t = t.append_column("row", pa.array(np.arange(t.num_rows, dtype=np.int64)))
            drop = _refs_mask(t, losers)
            if n < len(old):
                drop = pc.or_(drop, pc.is_in(t["source_path"], value_set=replaced))
            if pc.any(drop).as_py():  # a filter copies every column, the bands too
                t = t.filter(pc.invert(drop))
            new_flags.append(np.full(t.num_rows, n >= len(old)))
            tables.append(t)
        # Band-major (one row per band): candidate generation works a band at a time. Each
        # chunk's keys are copied once, straight to their place (at 1M rows, 256 MB: a copy
        # more costs half a second, most of it the first touch of new memory).
        self.bands_t = np.empty((BANDS, sum(t.num_rows for t in tables)), np.uint32)
        at = 0
        for t in tables:
            for chunk in t["bands"].chunks:
                keys = chunk.flatten().to_numpy().reshape(-1, BANDS)
                self.bands_t[:, at : at + len(keys)] = keys.T
                at += len(keys)
        self.table = (
            pa.concat_tables([t.drop_columns(["bands"]) for t in tables]) if tables else None
        )
        self.new = np.concatenate(new_flags) if new_flags else np.zeros(0, bool)
        self._texts: dict[int, pa.Array] = {}
        self._part = self.column("part") if len(self) else np.zeros(0, np.int32)
        self._row = self.column("row") if len(self) else np.zeros(0, np.int64)

    def _read(self, part: Path) -> pa.Table:
        """An index part's columns; band keys made by another version of newsclean are made
        again from the text (the whole part is kept, for the commit to write it anew)."""
        if current_fingerprints(pq.read_schema(part).metadata):
            return pq.read_table(part, columns=[*self._COLUMNS, "bands"])
        whole = pq.read_table(part)
        has_key = pc.is_valid(whole["key"]).to_numpy(zero_copy_only=False)
        texts = whole["text"].to_pylist()
        bands = np.zeros((whole.num_rows, BANDS), dtype=np.uint32)
        if has_key.any():
            bands[has_key] = fingerprints([match_key(texts[i]) for i in np.flatnonzero(has_key)])
        # Columns a much older part lacks are null, as they were when read with the schema.
        columns = {
            f.name: whole[f.name] if f.name in whole.column_names else pa.nulls(len(whole), f.type)
            for f in INDEX
        }
        columns["bands"] = pa.FixedSizeListArray.from_arrays(pa.array(bands.ravel()), BANDS)
        lines = whole["line"].to_pylist()
        paths, numbers = whole["source_path"].to_pylist(), whole["record_no"].to_pylist()
        records = list(zip(paths, numbers, strict=True))
        n_lines: dict[tuple[str, int], int] = defaultdict(int)  # per record, as a shard counts
        for record, line in zip(records, lines, strict=True):
            n_lines[record] = max(n_lines[record], line + 1)
        keys = np.array(
            [
                line_keys(t, at_edge(line, n_lines[record]))
                for t, line, record in zip(texts, lines, records, strict=True)
            ],
            np.uint64,
        ).reshape(-1, 3)
        for n, name in enumerate(("shape", "head", "lead")):
            columns[name] = pa.array(keys[:, n], pa.uint64())
        whole = pa.table([columns[f.name] for f in INDEX], schema=INDEX)
        self.migrated[part] = whole
        return whole.select([*self._COLUMNS, "bands"])

    def __len__(self) -> int:
        return 0 if self.table is None else self.table.num_rows

    def column(self, name: str) -> np.ndarray[Any, Any]:
        assert self.table is not None
        column: np.ndarray[Any, Any] = self.table[name].to_numpy(zero_copy_only=False)
        return column

    def live_keys(self) -> np.ndarray[Any, Any]:
        if not len(self):
            return np.zeros(0, np.uint64)
        assert self.table is not None
        keys: np.ndarray[Any, Any] = pc.drop_null(self.table["text_hash"]).to_numpy()
        return keys

    def text(self, i: int) -> str:
        part = int(self._part[i])
        if part not in self._texts:
            self._texts[part] = self._text_column(part)
        return str(self._texts[part][int(self._row[i])].as_py())

    def _text_column(self, part: int) -> pa.Array:
        return pq.read_table(self.parts[part], columns=["text"])["text"].combine_chunks()

    def texts(self, rows: np.ndarray[Any, Any]) -> dict[int, str]:
        """The texts of many rows at once (part by part, one take each)."""
        out: dict[int, str] = {}
        rows = np.unique(rows)
        parts = self._part[rows]
        in_parts = np.unique(parts).tolist()
        needed = [p for p in in_parts if p not in self._texts]
        if needed:
            with ThreadPoolExecutor(_READERS) as pool:  # Parquet decodes outside the GIL
                self._texts.update(zip(needed, pool.map(self._text_column, needed), strict=True))
        for part in in_parts:
            mine = rows[parts == part]
            taken = self._texts[part].take(pa.array(self._row[mine])).to_pylist()
            out.update(zip(mine.tolist(), taken, strict=True))
        return out

    def lines(self, article_id: str) -> list[tuple[int, int, str]]:
        """(line, position, text) of every indexed line of one article, in order."""
        rows = self._by_article().get(article_id, [])
        return sorted((int(self._line[i]), int(self._position[i]), self.text(i)) for i in rows)

    def _by_article(self) -> dict[str, list[int]]:
        if not hasattr(self, "_rows_of"):
            self._rows_of: dict[str, list[int]] = defaultdict(list)
            if len(self):
                for i, aid in enumerate(self.column("article_id")):
                    self._rows_of[aid].append(i)
                self._line = self.column("line")
                self._position = self.column("position")
        return self._rows_of


@dataclass
class _Corpus:
    by_article: dict[str, list[Decision]]
    duplicate_of: dict[str, tuple[str, float]]
    new_edges: list[Edge]


def _corpus_decisions(
    index: _Index, live: dict[str, _Record], old_edges: pa.Table, cfg: Config
) -> _Corpus:
    """Learned boilerplate, then copies across articles, over every live line."""
    if not len(index):
        return _Corpus({}, {}, [])
    in_order = sorted(
        live, key=lambda a: (live[a].published_at is None, live[a].published_at or _NO_DATE, a)
    )
    assert index.table is not None
    ranks = pc.index_in(index.table["article_id"], value_set=pa.array(in_order, pa.string()))
    ranks = ranks.to_numpy(zero_copy_only=False).astype(np.int64)
    lines = index.column("line")
    aids = index.column("article_id")
    positions, chars = index.column("position"), index.column("chars")
    by_article: dict[str, list[Decision]] = defaultdict(list)

    learned = np.zeros(len(index), np.int8)
    if cfg.boilerplate.learn:
        learned = _learned(index, live, in_order, ranks, cfg)
        for i in np.flatnonzero(learned).tolist():
            by_article[aids[i]].append(
                Decision(
                    aids[i],
                    int(lines[i]),
                    int(positions[i]),
                    "boilerplate_learned",
                    KINDS[int(learned[i])],
                    None,
                    None,
                    int(chars[i]),
                    i,
                )
            )
    if not cfg.dedup.across_articles:
        return _Corpus(dict(by_article), {}, [])

    has_key = pc.is_valid(index.table["key"]).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(has_key)
    keys = pc.fill_null(index.table["key"], 0).to_numpy().astype(np.uint64)
    hashes = pc.fill_null(index.table["text_hash"], 0).to_numpy().astype(np.uint64)
    order = rows[np.lexsort((lines[rows], ranks[rows]))]
    # One representative per distinct text: its first row in corpus order.
    _, first = np.unique(hashes[order], return_index=True)
    reps = order[np.sort(first)]
    rep_new = ~isin(hashes[reps], hashes[~index.new & has_key])
    workers = cfg.run.workers or os.cpu_count() or 1
    pairs = candidate_pairs(index.bands_t.T, rep_new, workers=workers, rows=reps)
    # Texts with the same words are exact copies: decided by their key, never verified.
    pairs = pairs[keys[reps[pairs[:, 0]]] != keys[reps[pairs[:, 1]]]]
    in_pairs = np.unique(pairs)
    texts = index.texts(reps[in_pairs])
    text_of = dict(zip(in_pairs.tolist(), [texts[r] for r in reps[in_pairs].tolist()], strict=True))
    new_edges = verify_pairs(pairs, hashes[reps], text_of.__getitem__, cfg.dedup, workers)
    edges = [
        Edge(int(a), int(b), float(s), str(k))
        for a, b, s, k in zip(
            *(old_edges[c].to_pylist() for c in ("a", "b", "score", "kind")), strict=True
        )
    ] + new_edges
    # Only texts that occur twice or have an edge can be decided against; learned
    # boilerplate is no one's copy.
    _, inverse, counts = np.unique(keys[rows], return_inverse=True, return_counts=True)
    linked = np.array([e.a for e in edges] + [e.b for e in edges], dtype=np.uint64)
    involved = rows[(counts[inverse] > 1) | isin(hashes[rows], linked)]
    involved = involved[learned[involved] == 0]
    paragraphs = [
        Paragraph(rank, line, str(aids[i]), position, int(key), int(text_hash), n, i)
        for i, rank, line, position, key, text_hash, n in zip(
            involved.tolist(),
            ranks[involved].tolist(),
            lines[involved].tolist(),
            positions[involved].tolist(),
            keys[involved].tolist(),
            hashes[involved].tolist(),
            chars[involved].tolist(),
            strict=True,
        )
    ]
    decisions = decide(paragraphs, edges)
    for d in decisions:
        by_article[d.article_id].append(d)
    # An article's share copied: of its characters that are not learned boilerplate.
    content = np.where(learned == 0, chars, 0)
    chars_by_rank = np.bincount(ranks, weights=content, minlength=len(in_order))
    rank_of = {aid: n for n, aid in enumerate(in_order)}
    total = {aid: int(chars_by_rank[rank_of[aid]]) for aid in by_article}
    dup_of = duplicate_articles(decisions, total, cfg.dedup.article_coverage)
    return _Corpus(dict(by_article), dup_of, new_edges)


def _learned(
    index: _Index,
    live: dict[str, _Record],
    in_order: list[str],
    ranks: np.ndarray[Any, Any],
    cfg: Config,
) -> np.ndarray[Any, Any]:
    """The kind of learned template each index row matches (0: none).

    A source is the article's ``source`` (the URL's host unless the record names one), else
    the folder of its raw file."""
    assert index.table is not None
    sources = [live[aid].source or os.path.dirname(live[aid].source_path) for aid in in_order]
    codes = pc.dictionary_encode(pa.array(sources, pa.string())).indices.to_numpy()
    lines = Lines(
        source=codes.astype(np.int64)[ranks],
        article=ranks,
        line=index.column("line").astype(np.int64),
        chars=index.column("chars").astype(np.int64),
        keys={
            kind: index.column(name).astype(np.uint64)
            for kind, name in ((SHAPE, "shape"), (HEAD, "head"), (LEAD, "lead"))
        },
        copy=pc.fill_null(index.table["key"], 0).to_numpy().astype(np.uint64),
    )
    bp = cfg.boilerplate
    return learn(lines, LearnConfig(bp.learn_min_articles, bp.learn_min_share))


def _read_edges(parts: list[Path]) -> pa.Table:
    if not parts:
        return EDGES.empty_table()
    return pa.concat_tables([pq.read_table(p, schema=EDGES) for p in parts])


def _live_edges(old: pa.Table, new: list[Edge], live_keys: np.ndarray[Any, Any]) -> pa.Table:
    table = pa.concat_tables(
        [
            old,
            pa.table(
                {
                    "a": pa.array([e.a for e in new], pa.uint64()),
                    "b": pa.array([e.b for e in new], pa.uint64()),
                    "score": pa.array([e.score for e in new], pa.float32()),
                    "kind": pa.array([e.kind for e in new], pa.string()),
                },
                schema=EDGES,
            ),
        ]
    )
    n = table.num_rows
    live = isin(np.concatenate((table["a"].to_numpy(), table["b"].to_numpy())), live_keys)
    mask = live[:n] & live[n:]  # both ends live (one sort of the keys for both)
    # A pair verified again (a backfill brings its texts back) is stored once.
    table = table.filter(pa.array(mask)).group_by(["a", "b", "kind"]).aggregate([("score", "max")])
    table = table.rename_columns({"score_max": "score"}).select(EDGES.names)
    return table.cast(EDGES).sort_by([("a", "ascending"), ("b", "ascending")])


# -- decisions, as rows ----------------------------------------------------------------------


def _signature(
    decisions: list[Decision] | None,
    dup_of: tuple[str, float] | None,
    learned_texts: dict[tuple[str, int], str],
) -> frozenset[tuple[Any, ...]]:
    """What an article's corpus rows in removed/ say, to tell whether they changed. A learned
    line's detail is its template, made from its text: from the text of the row that removed
    it before (a line not removed before has none, so the article has changed anyway)."""
    sig: set[tuple[Any, ...]] = set()
    for d in decisions or ():
        detail = d.detail
        if d.reason == "boilerplate_learned":
            text = learned_texts.get((d.article_id, d.position))
            detail = template(text, KIND_CODES[d.detail]) if text is not None else ""
        sig.add((d.position, d.reason, detail, d.matched_article_id, d.matched_position))
    if dup_of:
        sig.add((None, "duplicate_article", _article_detail(dup_of), dup_of[0], None))
    return frozenset(sig)


def _article_detail(dup_of: tuple[str, float]) -> str:
    return f"{dup_of[1]:.2f} of its characters copy an earlier article"


def _previous_decisions(
    parts: list[Path], replaced: pa.Array
) -> tuple[dict[str, frozenset[tuple[Any, ...]]], dict[tuple[str, int], str]]:
    """The corpus rows of removed/ by article, as ``_signature`` puts them, and the text of
    each learned line by (article, position)."""
    cols = [
        "article_id",
        "position",
        "reason",
        "detail",
        "matched_article_id",
        "matched_position",
        "source_path",
    ]
    prev: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
    texts: dict[tuple[str, int], str] = {}
    for part in parts:
        t = pq.read_table(part, columns=cols)
        mask = pc.and_(
            pc.and_(
                pc.is_in(t["reason"], value_set=_CORPUS_REASONS),
                pc.fill_null(pc.not_equal(t["matched_article_id"], t["article_id"]), True),
            ),
            pc.invert(pc.is_in(t["source_path"], value_set=replaced)),
        )
        for row in t.filter(mask).to_pylist():
            prev[row["article_id"]].add(
                (
                    row["position"],
                    row["reason"],
                    row["detail"],
                    row["matched_article_id"],
                    row["matched_position"],
                )
            )
        learned = pc.and_(mask, pc.equal(t["reason"], "boilerplate_learned"))
        if pc.any(learned).as_py():
            rows = pq.read_table(part, columns=["article_id", "position", "text"]).filter(learned)
            for aid, position, text in zip(
                *(rows[c].to_pylist() for c in rows.column_names), strict=True
            ):
                texts[(aid, position)] = text
    return {aid: frozenset(s) for aid, s in prev.items()}, texts


def _apply_table(
    t: pa.Table,
    touched: pa.Array,
    decisions: dict[str, list[Decision]],
    dup_of: dict[str, tuple[str, float]],
) -> pa.Table:
    """A shard's articles with corpus decisions applied to the ``touched`` rows only."""
    if not pc.any(touched).as_py():
        return t
    rows = t.filter(touched).select(["article_id", "text"]).to_pylist()
    applied = [
        _apply(r, decisions.get(r["article_id"]), dup_of.get(r["article_id"]), None, None)
        for r in rows
    ]
    mask = touched.combine_chunks() if isinstance(touched, pa.ChunkedArray) else touched
    for name in ("text", "n_paragraphs_out", "duplicate_of"):
        column = t[name].combine_chunks()
        values = pa.array([a[name] for a in applied], column.type)
        i = t.schema.get_field_index(name)
        t = t.set_column(i, t.schema.field(name), pc.replace_with_mask(column, mask, values))
    return t


def _apply(
    row: dict[str, Any],
    decisions: list[Decision] | None,
    dup_of: tuple[str, float] | None,
    index: _Index | None,
    stamp: dict[str, Any] | None,
) -> dict[str, Any]:
    """The article row with its corpus decisions applied: to the lines of its text as the
    shard wrote it (``index`` None), or to its indexed lines (a row written by an earlier
    run holds only what that run kept)."""
    removed = {d.line for d in decisions or ()}
    if index is None:
        lines = row["text"].split("\n") if row["text"] else []
    else:
        lines = [text for _, _, text in index.lines(row["article_id"])]
    kept = [text for line, text in enumerate(lines) if line not in removed]
    out = dict(row)
    out["text"] = "\n".join(kept)
    out["n_paragraphs_out"] = len(kept)
    out["duplicate_of"] = dup_of[0] if dup_of else None
    if stamp:
        out.update(stamp)
    return out


def _corpus_rows(
    rewrite: Iterable[str],
    decisions: dict[str, list[Decision]],
    dup_of: dict[str, tuple[str, float]],
    live: dict[str, _Record],
    index: _Index,
    rows: Columns,
    stamp: dict[str, Any],
) -> int:
    n = 0
    for aid in sorted(rewrite):
        rec = live[aid]
        for d in sorted(decisions.get(aid, ()), key=lambda d: d.line):
            text = index.text(d.row)
            learned = d.reason == "boilerplate_learned"
            rows.add(
                article_id=aid,
                position=d.position,
                text=text,
                reason=d.reason,
                detail=template(text, KIND_CODES[d.detail]) if learned else d.detail,
                matched_article_id=d.matched_article_id,
                matched_position=d.matched_position,
                source_path=rec.source_path,
                record_no=rec.record_no,
                **stamp,
            )
            n += 1
        if aid in dup_of:
            rows.add(
                article_id=aid,
                position=None,
                text="",
                reason="duplicate_article",
                detail=_article_detail(dup_of[aid]),
                matched_article_id=dup_of[aid][0],
                matched_position=None,
                source_path=rec.source_path,
                record_no=rec.record_no,
                **stamp,
            )
            n += 1
    return n


def _loser_rows(
    losers: list[_Record],
    live: dict[str, _Record],
    old_index: list[Path],
    new_index: list[Path],
    replaced: pa.Array,
    rows: Columns,
    stamp: dict[str, Any],
) -> None:
    """A ``duplicate_article`` row for each record that lost its article id, with its whole
    text as cleaning left it (its indexed lines: its article row may hold less, an earlier
    run having taken copies out of it)."""
    if not losers:
        return
    refs = {r.ref for r in losers}
    lines: dict[tuple[str, int], list[tuple[int, str]]] = defaultdict(list)
    for n, part in enumerate([*old_index, *new_index]):
        t = pq.read_table(part, columns=["source_path", "record_no"])
        mask = _refs_mask(t, refs)
        if n < len(old_index):  # rows of files taken again are stale
            mask = pc.and_(mask, pc.invert(pc.is_in(t["source_path"], value_set=replaced)))
        if not pc.any(mask).as_py():
            continue
        t = pq.read_table(part, columns=["source_path", "record_no", "line", "text"])
        for rec in t.filter(mask).to_pylist():
            lines[(rec["source_path"], rec["record_no"])].append((rec["line"], rec["text"]))
    for r in losers:
        text = "\n".join(t for _, t in sorted(lines.get(r.ref, [])))
        rec = {"article_id": r.article_id, "text": text}
        rec.update(source_path=r.source_path, record_no=r.record_no)
        _loser_row(rows, rec, live[r.article_id], stamp)


def _loser_row(rows: Columns, rec: dict[str, Any], winner: _Record, stamp: dict[str, Any]) -> None:
    rows.add(
        article_id=rec["article_id"],
        position=None,
        text=rec["text"],
        reason="duplicate_article",
        detail=f"same canonical URL as the kept record ({winner.source_path}#{winner.record_no})",
        matched_article_id=rec["article_id"],
        matched_position=None,
        source_path=rec["source_path"],
        record_no=rec["record_no"],
        **stamp,
    )


# -- bookkeeping -----------------------------------------------------------------------------


def _summary(
    plan: Plan,
    results: list[ShardResult],
    n_same_id: int,
    n_corpus: int,
    decisions: dict[str, list[Decision]],
    dup_of: dict[str, tuple[str, float]],
    rewrite: set[str],
    keep: dict[str, list[Path]],
    out: dict[str, list[Path]],
) -> RunSummary:
    summary = RunSummary(run_id=plan.run_id, mode=plan.mode, committed=True)
    summary.files_processed = len(plan.files)
    summary.files_unchanged = plan.unchanged
    summary.files_seen = len(plan.files) + plan.unchanged
    summary.bytes_processed = sum(r.bytes for r in results)
    summary.records = sum(r.records for r in results)
    summary.rejected = sum(r.rejected for r in results)
    summary.articles_duplicate_id = n_same_id
    summary.articles_written = sum(r.articles for r in results) - n_same_id
    reasons: Counter[str] = Counter()
    for r in results:
        reasons.update(r.removed)
    reasons["duplicate_article"] += n_same_id
    for aid in rewrite:
        for d in decisions.get(aid, ()):
            reasons[d.reason] += 1
        reasons["duplicate_article"] += aid in dup_of
    summary.removed = {k: v for k, v in sorted(reasons.items()) if v}
    summary.dataset_rows = {
        d: sum(pq.ParquetFile(p).metadata.num_rows for p in keep[d] + out[d]) for d in DATASETS
    }
    for part in out["articles"]:
        t = pq.read_table(part, columns=["n_paragraphs_in", "n_paragraphs_out", "run_id"])
        mine = t.filter(pc.equal(t["run_id"], plan.run_id))
        summary.paragraphs_in += pc.sum(mine["n_paragraphs_in"]).as_py() or 0
        summary.paragraphs_out += pc.sum(mine["n_paragraphs_out"]).as_py() or 0
    summary.seconds = (datetime.now(UTC) - plan.started_at).total_seconds()
    return summary


def _next_manifest(store: Store, plan: Plan, replaced: set[str]) -> pa.Table:
    old = store.read("manifest")
    keep = old.filter(
        pc.invert(pc.is_in(old["path"], value_set=pa.array(sorted(replaced), pa.string())))
    )
    rows = Columns(MANIFEST)
    for f in plan.files:
        rows.add(path=f.path, size=f.size, mtime_ns=f.mtime_ns, sha256=f.sha256, run_id=plan.run_id)
    return pa.concat_tables([keep, rows.table()]).sort_by("path")


def _run_row(plan: Plan, summary: RunSummary) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "run_id": plan.run_id,
                "mode": plan.mode,
                "started_at": plan.started_at,
                "finished_at": datetime.now(UTC),
                "files": summary.files_processed,
                "records": summary.records,
                "articles": summary.articles_written,
                "removed": sum(summary.removed.values()),
                "rejected": summary.rejected,
                "summary": json.dumps(summary.to_dict(), sort_keys=True, default=str),
                "config_hash": plan.config_hash,
                "version": __version__,
            }
        ],
        schema=RUNS,
    )
