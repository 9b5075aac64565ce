"""A run, in three steps that the Prefect flow (or ``run_pipeline``) calls in order:

1. ``plan_run``: which raw files to take (new or changed ones; all for a backfill), in shards.
2. ``process_shard``: read, repair, segment, strip boilerplate and in-article duplicates, and
   write the shard's Parquet parts to the run's staging directory. Shards are independent.
   Each kept line also gets a row in the shard's part of the paragraph index, with its
   fingerprints (``pipeline.corpus``).
3. ``commit_run`` (``pipeline.commit``): corpus-wide decisions (one live row per article id,
   the first copy of each paragraph kept), then one atomic swap that publishes the snapshot.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.boilerplate import RuleSet, load_rules
from pipeline.clean import clean_record
from pipeline.commit import commit_run
from pipeline.config import Config
from pipeline.corpus import BANDS, fingerprints, hash64
from pipeline.dedup import match_key
from pipeline.errors import DatasetError
from pipeline.ingest import discover, read_file
from pipeline.records import (
    Cleaned,
    Mode,
    Plan,
    RawFile,
    Rejection,
    RunSummary,
    ShardResult,
    new_run_id,
)
from pipeline.schema import ARTICLES, DATASETS, INDEX, REJECTED, REMOVED, Columns
from pipeline.store import Store, parquet_metadata, write_parquet

MB = 1024 * 1024


# -- 1. plan ---------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(MB), b""):
            h.update(block)
    return h.hexdigest()


def plan_run(
    raw_root: str | Path,
    clean_root: str | Path,
    cfg: Config,
    mode: Mode = "run",
    since: datetime | None = None,
    until: datetime | None = None,
    workers: int = 1,
) -> Plan:
    """Choose the raw files of this run and cut them into shards.

    ``run`` takes files that are new or changed since they were taken (path, size and
    content hash). ``backfill`` takes every raw file, or with ``since``/``until`` the files
    that produced an article published in that range (and any not taken yet); their earlier
    output is replaced.
    """
    raw = Path(raw_root)
    if not raw.is_dir():
        raise DatasetError(f"raw directory not found: {raw}")
    store = Store(clean_root)
    store.check_layout()
    now = datetime.now(UTC)
    manifest = {row["path"]: row for row in store.read("manifest").to_pylist()}
    chosen: list[RawFile] = []
    unchanged = 0
    in_range = _paths_published_in(store, since, until) if mode == "backfill" else set()
    for rel in discover(raw):
        st = (raw / rel).stat()
        old = manifest.get(rel)
        if mode == "backfill" and (
            (since is None and until is None) or rel in in_range or old is None
        ):
            chosen.append(RawFile(rel, st.st_size, sha256_file(raw / rel), st.st_mtime_ns))
            continue
        if mode == "backfill":
            unchanged += 1
            continue
        if old is not None and old["size"] == st.st_size and old["mtime_ns"] == st.st_mtime_ns:
            unchanged += 1
            continue
        digest = sha256_file(raw / rel)
        if old is not None and old["sha256"] == digest:
            unchanged += 1
            continue
        chosen.append(RawFile(rel, st.st_size, digest, st.st_mtime_ns))
    # A full backfill makes the dataset what data/raw holds now: files taken before and gone
    # since leave it. (A run keeps them: scrapers' folders get pruned; a wrong --raw must not
    # empty the dataset.)
    gone: set[str] = set()
    if mode == "backfill" and since is None and until is None:
        gone = set(manifest) - {f.path for f in chosen}
    # Records that lost their article id to a record of a file taken again may win now: their
    # files are taken again too, so that the earliest record of each id is live.
    taken = {f.path for f in chosen}
    for rel in sorted(_losers_of(store, (taken & set(manifest)) | gone) - taken - gone):
        if (raw / rel).is_file():
            st = (raw / rel).stat()
            chosen.append(RawFile(rel, st.st_size, sha256_file(raw / rel), st.st_mtime_ns))
            unchanged -= 1
    chosen.sort(key=lambda f: f.path)
    replaced = frozenset({f.path for f in chosen if f.path in manifest} | gone)
    return Plan(
        run_id=new_run_id(now),
        mode=mode,
        raw_root=str(raw.resolve()),
        clean_root=str(Path(clean_root).resolve()),
        started_at=now,
        config_hash=cfg.digest(),
        shards=make_shards(chosen, cfg.run.shard_mb * MB, workers),
        replaced=replaced,
        unchanged=unchanged,
        since=since,
        until=until,
    )


def _losers_of(store: Store, paths: set[str]) -> set[str]:
    """Raw files holding records that lost their article id to a record of ``paths``."""
    if not paths:
        return set()
    value_set = pa.array(sorted(paths), pa.string())
    articles = store.read("articles", ["article_id", "source_path"])
    ids = articles.filter(pc.is_in(articles["source_path"], value_set=value_set))["article_id"]
    if not len(ids):
        return set()
    removed = store.read("removed", ["article_id", "reason", "matched_article_id", "source_path"])
    mask = pc.and_(
        pc.and_(
            pc.equal(removed["reason"], "duplicate_article"),
            pc.fill_null(pc.equal(removed["matched_article_id"], removed["article_id"]), False),
        ),
        pc.is_in(removed["article_id"], value_set=ids),
    )
    return set(removed.filter(mask)["source_path"].to_pylist())


def _paths_published_in(store: Store, since: datetime | None, until: datetime | None) -> set[str]:
    if since is None and until is None:
        return set()
    table = store.read("articles", ["source_path", "published_at"])
    mask = pc.is_valid(table["published_at"])
    if since is not None:
        mask = pc.and_(
            mask,
            pc.greater_equal(
                table["published_at"], pa.scalar(since, ARTICLES.field("published_at").type)
            ),
        )
    if until is not None:
        mask = pc.and_(
            mask,
            pc.less(table["published_at"], pa.scalar(until, ARTICLES.field("published_at").type)),
        )
    return set(table.filter(mask)["source_path"].to_pylist())


def make_shards(
    files: list[RawFile], target_bytes: float, workers: int = 1
) -> tuple[tuple[RawFile, ...], ...]:
    """Consecutive runs of files (in path order) of at most about ``target_bytes``.

    At least four per worker when the input allows shards of 1 MB or more: shards cost
    unequal time (long pages cost more per byte), and a pool that picks the next shard as it
    frees keeps both cores busy only with a few to pick from. Their number is a multiple
    of ``workers``, so that no worker is left alone with the last one.
    """
    if not files:
        return ()
    total = sum(f.size for f in files)
    workers = max(1, workers)
    n = max(1, math.ceil(total / target_bytes), min(4 * workers, math.ceil(total / MB)))
    n = min(len(files), math.ceil(n / workers) * workers)
    size = total / n
    shards: list[tuple[RawFile, ...]] = []
    current: list[RawFile] = []
    acc = 0
    for f in files:
        current.append(f)
        acc += f.size
        if acc >= size * (len(shards) + 1) and len(shards) < n - 1:
            shards.append(tuple(current))
            current = []
    if current:
        shards.append(tuple(current))
    return tuple(shards)


# -- 2. shards -------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _rules(builtin: bool, files: tuple[str, ...]) -> RuleSet:
    return load_rules(builtin, files)


def process_shard(plan: Plan, shard_no: int, cfg: Config) -> ShardResult:
    """Clean every record of one shard and write its parts to the staging directory."""
    t0 = time.perf_counter()
    rules = _rules(cfg.boilerplate.builtin_rules, cfg.boilerplate.rule_files)
    files = plan.shards[shard_no]
    stamp = {"run_id": plan.run_id, "ingested_at": plan.started_at}
    articles, removed, rejected = Columns(ARTICLES), Columns(REMOVED), Columns(REJECTED)
    index = _IndexRows(cfg.dedup.min_chars)
    reasons: Counter[str] = Counter()
    records = 0
    raw_root = Path(plan.raw_root)
    for raw_file in files:
        for item in _records(raw_root, raw_file.path):
            if isinstance(item, Rejection):
                rejected.add(
                    source_path=item.source_path,
                    record_no=item.record_no,
                    error=item.error,
                    excerpt=item.excerpt,
                    **stamp,
                )
                records += item.record_no is not None
                continue
            records += 1
            try:
                cleaned = clean_record(item, rules, cfg.dedup)
            except Exception as exc:  # a bug on one record must not stop the run
                rejected.add(
                    source_path=item.source_path,
                    record_no=item.record_no,
                    error=f"cleaning failed: {type(exc).__name__}: {exc}",
                    excerpt=item.text[:200],
                    **stamp,
                )
                continue
            _add_cleaned(cleaned, articles, removed, reasons, stamp)
            index.add(cleaned)
    staging = Store(plan.clean_root).staging(plan.run_id)
    meta = parquet_metadata(plan.config_hash, plan.run_id)
    name = f"part-{plan.run_id}-{shard_no:05d}.parquet"
    for dataset, cols in (("articles", articles), ("removed", removed), ("rejected", rejected)):
        if len(cols):
            write_parquet(cols.table(), staging / dataset / name, DATASETS[dataset], meta)
    if len(index.rows):
        write_parquet(index.table(), staging / "index" / name, INDEX, meta)
    return ShardResult(
        shard_no=shard_no,
        files=len(files),
        bytes=sum(f.size for f in files),
        records=records,
        articles=len(articles),
        rejected=len(rejected),
        removed=dict(reasons),
        seconds=time.perf_counter() - t0,
    )


def _records(raw_root: Path, rel: str) -> Iterable[Any]:
    try:
        yield from read_file(raw_root, rel)
    except Exception as exc:  # an unforeseen failure reading a file stays with that file
        yield Rejection(rel, None, f"reading failed: {type(exc).__name__}: {exc}")


def _add_cleaned(
    cleaned: Cleaned,
    articles: Columns,
    removed: Columns,
    reasons: Counter[str],
    stamp: dict[str, Any],
) -> None:
    a = cleaned.article
    articles.add(
        article_id=a.article_id,
        url=a.url,
        source=a.source,
        title=a.title,
        source_path=a.source_path,
        record_no=a.record_no,
        published_at=a.published_at,
        text=a.text,
        duplicate_of=a.duplicate_of,
        fixes=list(a.fixes),
        n_paragraphs_in=a.n_paragraphs_in,
        n_paragraphs_out=a.n_paragraphs_out,
        meta=a.meta,
        **stamp,
    )
    for r in cleaned.removals:
        reasons[r.reason] += 1
        removed.add(
            article_id=r.article_id,
            position=r.position,
            text=r.text,
            reason=r.reason,
            detail=r.detail,
            matched_article_id=r.matched_article_id,
            matched_position=r.matched_position,
            source_path=a.source_path,
            record_no=a.record_no,
            **stamp,
        )


class _IndexRows:
    """The paragraph index rows of one shard; fingerprints are computed for all at the end,
    in one numpy batch."""

    def __init__(self, min_chars: int) -> None:
        self.min_chars = min_chars
        self.rows = Columns(INDEX.remove(INDEX.get_field_index("bands")))
        self.keys: list[str] = []  # match keys of the fingerprinted lines
        self.fingerprinted: list[int] = []  # their row numbers

    def add(self, cleaned: Cleaned) -> None:
        a = cleaned.article
        if not a.text:
            return
        for line, (text, position) in enumerate(
            zip(a.text.split("\n"), cleaned.positions, strict=True)
        ):
            key = match_key(text) if len(text) >= self.min_chars else ""
            if key:
                self.fingerprinted.append(len(self.rows))
                self.keys.append(key)
            self.rows.add(
                article_id=a.article_id,
                source_path=a.source_path,
                record_no=a.record_no,
                published_at=a.published_at,
                line=line,
                position=position,
                chars=len(text),
                key=hash64(key) if key else None,
                text_hash=hash64(text) if key else None,
                text=text,
            )

    def table(self) -> pa.Table:
        bands = np.zeros((len(self.rows), BANDS), dtype=np.uint32)
        if self.keys:
            bands[self.fingerprinted] = fingerprints(self.keys)
        column = pa.FixedSizeListArray.from_arrays(pa.array(bands.ravel()), BANDS)
        table = self.rows.table()
        return table.add_column(INDEX.get_field_index("bands"), INDEX.field("bands"), column)


# -- without Prefect -------------------------------------------------------------------------


def default_workers(cfg: Config) -> int:
    return cfg.run.workers or os.cpu_count() or 1


def run_pipeline(
    raw_root: str | Path,
    clean_root: str | Path,
    cfg: Config,
    mode: Mode = "run",
    since: datetime | None = None,
    until: datetime | None = None,
    workers: int | None = None,
    on_shard: Callable[[ShardResult], None] | None = None,
) -> RunSummary:
    """The whole run in this process (and a process pool for shards), without Prefect."""
    n_workers = workers or default_workers(cfg)
    store = Store(clean_root)
    with store.lock():
        store.clear_stale_staging()
        plan = plan_run(raw_root, clean_root, cfg, mode, since, until, n_workers)
        if not plan.shards and not plan.replaced:
            return nothing_to_do(plan)
        results: list[ShardResult] = []
        if n_workers > 1 and len(plan.shards) > 1:
            with ProcessPoolExecutor(max_workers=min(n_workers, len(plan.shards))) as pool:
                futures = [
                    pool.submit(process_shard, plan, i, cfg) for i in range(len(plan.shards))
                ]
                for fut in futures:
                    results.append(fut.result())
                    if on_shard:
                        on_shard(results[-1])
        else:
            for i in range(len(plan.shards)):
                results.append(process_shard(plan, i, cfg))
                if on_shard:
                    on_shard(results[-1])
        return commit_run(plan, results, cfg)


def nothing_to_do(plan: Plan) -> RunSummary:
    store = Store(plan.clean_root)
    rows = {d: sum(pq.ParquetFile(p).metadata.num_rows for p in store.parts(d)) for d in DATASETS}
    return RunSummary(
        run_id=plan.run_id,
        mode=plan.mode,
        committed=True,
        files_seen=plan.unchanged,
        files_unchanged=plan.unchanged,
        dataset_rows=rows,
        seconds=(datetime.now(UTC) - plan.started_at).total_seconds(),
        message="nothing new: every raw file was already processed, unchanged",
    )
