"""A run, in three steps that the Prefect flow (or ``run_pipeline``) calls in order:

1. ``plan_run``: which raw files to take (new or changed ones; all for a backfill), in shards.
2. ``process_shard``: read, repair, segment, strip boilerplate and in-article duplicates, and
   write the shard's Parquet parts to the run's staging directory. Shards are independent.
3. ``commit_run``: corpus-wide decisions (one live row per article id, the first copy kept),
   then one atomic swap that publishes the new snapshot.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import __version__
from pipeline.boilerplate import RuleSet, load_rules
from pipeline.clean import clean_record
from pipeline.config import Config
from pipeline.errors import DatasetError
from pipeline.ingest import RawFile, discover, read_file
from pipeline.records import Cleaned, Rejection
from pipeline.schema import ARTICLES, DATASETS, MANIFEST, REJECTED, REMOVED, RUNS
from pipeline.store import Store, parquet_metadata, write_parquet

Mode = Literal["run", "backfill"]
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Plan:
    """What one run will do. Small and picklable: it is passed to every shard task."""

    run_id: str
    mode: Mode
    raw_root: str
    clean_root: str
    started_at: datetime
    config_hash: str
    shards: tuple[tuple[RawFile, ...], ...]
    replaced: frozenset[str]  # raw paths whose earlier output this run replaces
    unchanged: int  # raw files skipped because they were taken before, unchanged
    since: datetime | None = None
    until: datetime | None = None

    @property
    def files(self) -> list[RawFile]:
        return [f for shard in self.shards for f in shard]


@dataclass(frozen=True, slots=True)
class ShardResult:
    shard_no: int
    files: int
    bytes: int
    records: int
    articles: int
    rejected: int
    removed: dict[str, int]
    seconds: float


@dataclass(slots=True)
class RunSummary:
    """What a run did; the CLI prints it, the flow makes a table artifact of it."""

    run_id: str
    mode: str
    committed: bool
    files_seen: int = 0
    files_processed: int = 0
    files_unchanged: int = 0
    bytes_processed: int = 0
    records: int = 0
    articles_written: int = 0
    articles_duplicate_id: int = 0
    rejected: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    paragraphs_in: int = 0
    paragraphs_out: int = 0
    dataset_rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_run_id(now: datetime) -> str:
    """Sortable by time, unique across machines: ``20261124T153000123456Z-1a2b``."""
    return f"{now:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(2)}"


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
    replaced = frozenset(f.path for f in chosen if f.path in manifest)
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


class _Columns:
    """Column lists for one dataset, turned into a table against its schema."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.cols: dict[str, list[Any]] = {name: [] for name in schema.names}

    def add(self, **row: Any) -> None:
        for name, values in self.cols.items():
            values.append(row[name])

    def table(self) -> pa.Table:
        return pa.Table.from_pydict(self.cols, schema=self.schema)

    def __len__(self) -> int:
        return len(self.cols[self.schema.names[0]])


def process_shard(plan: Plan, shard_no: int, cfg: Config) -> ShardResult:
    """Clean every record of one shard and write its parts to the staging directory."""
    t0 = time.perf_counter()
    rules = _rules(cfg.boilerplate.builtin_rules, cfg.boilerplate.rule_files)
    files = plan.shards[shard_no]
    stamp = {"run_id": plan.run_id, "ingested_at": plan.started_at}
    articles, removed, rejected = _Columns(ARTICLES), _Columns(REMOVED), _Columns(REJECTED)
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
    staging = Store(plan.clean_root).staging(plan.run_id)
    meta = parquet_metadata(plan.config_hash, plan.run_id)
    name = f"part-{plan.run_id}-{shard_no:05d}.parquet"
    for dataset, cols in (("articles", articles), ("removed", removed), ("rejected", rejected)):
        if len(cols):
            write_parquet(cols.table(), staging / dataset / name, DATASETS[dataset], meta)
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
    articles: _Columns,
    removed: _Columns,
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


# -- 3. commit -------------------------------------------------------------------------------


def commit_run(plan: Plan, results: list[ShardResult], cfg: Config) -> RunSummary:
    """Decide what survives across shards and earlier runs, then publish atomically."""
    store = Store(plan.clean_root)
    staging = store.staging(plan.run_id)
    meta = parquet_metadata(plan.config_hash, plan.run_id)
    stamp = {"run_id": plan.run_id, "ingested_at": plan.started_at}
    processed = {f.path for f in plan.files}
    replaced = set(plan.replaced) | processed

    # Earlier parts: keep as they are, or rewrite without the rows of replaced raw files.
    keep: dict[str, list[Path]] = {d: [] for d in DATASETS}
    # Only the shards' own parts: files this function derives from them get other names, so
    # that a retried commit (Prefect retries the task) starts from the same inputs.
    shard_parts = f"part-{plan.run_id}-[0-9][0-9][0-9][0-9][0-9].parquet"
    new: dict[str, list[Path]] = {d: sorted((staging / d).glob(shard_parts)) for d in DATASETS}
    shard_articles = list(new["articles"])
    existing_ids: set[str] = set()
    replaced_paths = pa.array(sorted(replaced), pa.string())
    for dataset in DATASETS:
        for part in store.parts(dataset):
            columns = ["source_path", "article_id"] if dataset == "articles" else ["source_path"]
            index = pq.read_table(part, columns=columns)
            drop = pc.is_in(index["source_path"], value_set=replaced_paths)
            if pc.any(drop).as_py():
                index = index.filter(pc.invert(drop))
                out = staging / dataset / f"rw-{plan.run_id}-{part.name}"
                if index.num_rows:
                    write_parquet(
                        pq.read_table(part).filter(pc.invert(drop)), out, DATASETS[dataset], meta
                    )
                    new[dataset].append(out)
            else:
                keep[dataset].append(part)
            if dataset == "articles":
                existing_ids.update(index["article_id"].to_pylist())

    # One live row per article id: what is already there survives; among new rows the
    # earliest published_at (unknown dates last), then the first raw record.
    published, dup_removed, n_dup = _drop_repeated_ids(shard_articles, existing_ids, meta, stamp)
    new["articles"] = published + [p for p in new["articles"] if p not in shard_articles]
    if dup_removed is not None:
        out = staging / "removed" / f"part-{plan.run_id}-ids.parquet"
        write_parquet(dup_removed, out, REMOVED, meta)
        new["removed"].append(out)

    summary = RunSummary(run_id=plan.run_id, mode=plan.mode, committed=False)
    summary.files_processed = len(plan.files)
    summary.files_unchanged = plan.unchanged
    summary.files_seen = len(plan.files) + plan.unchanged
    summary.bytes_processed = sum(r.bytes for r in results)
    summary.records = sum(r.records for r in results)
    summary.rejected = sum(r.rejected for r in results)
    summary.articles_duplicate_id = n_dup
    summary.articles_written = sum(r.articles for r in results) - n_dup
    reasons: Counter[str] = Counter()
    for r in results:
        reasons.update(r.removed)
    if n_dup:
        reasons["duplicate_article"] += n_dup
    summary.removed = dict(sorted(reasons.items()))

    # Every dataset keeps at least one file, so readers always find its schema.
    for dataset, schema in DATASETS.items():
        if not keep[dataset] and not new[dataset]:
            out = staging / dataset / f"part-{plan.run_id}-empty.parquet"
            write_parquet(schema.empty_table(), out, schema, meta)
            new[dataset].append(out)

    manifest = _next_manifest(store, plan, replaced)
    finished = datetime.now(UTC)
    summary.seconds = (finished - plan.started_at).total_seconds()
    summary.dataset_rows = {
        d: sum(pq.ParquetFile(p).metadata.num_rows for p in keep[d] + new[d]) for d in DATASETS
    }
    for part in new["articles"]:
        t = pq.read_table(part, columns=["n_paragraphs_in", "n_paragraphs_out", "run_id"])
        mine = t.filter(pc.equal(t["run_id"], plan.run_id))
        summary.paragraphs_in += pc.sum(mine["n_paragraphs_in"]).as_py() or 0
        summary.paragraphs_out += pc.sum(mine["n_paragraphs_out"]).as_py() or 0
    summary.committed = True
    runs = pa.concat_tables([store.read("runs"), _run_row(plan, summary, finished)])
    store.commit(plan.run_id, keep, new, manifest, runs)
    return summary


def _drop_repeated_ids(
    parts: list[Path], existing: set[str], meta: dict[bytes, bytes], stamp: dict[str, Any]
) -> tuple[list[Path], pa.Table | None, int]:
    """Keep one row per article id among this run's article parts: the parts to publish
    (a part with losers is copied without them, ``...-k.parquet``; the original stays for a
    retry), and the ``duplicate_article`` rows for the records that lost."""
    keys: list[tuple[str, tuple[Any, ...], int, int]] = []
    for i, part in enumerate(parts):
        t = pq.read_table(part, columns=["article_id", "published_at", "source_path", "record_no"])
        for row_no, (aid, pub, path, rec) in enumerate(
            zip(*(t[c].to_pylist() for c in t.column_names), strict=True)
        ):
            order = (pub is None, pub or datetime.min.replace(tzinfo=UTC), path, rec)
            keys.append((aid, order, i, row_no))
    winners: dict[str, tuple[Any, ...]] = {}
    for aid, order, _, _ in keys:
        if aid not in existing and (aid not in winners or order < winners[aid]):
            winners[aid] = order
    losers: dict[int, set[int]] = {}
    for aid, order, i, row_no in keys:
        if aid in existing or winners[aid] != order:
            losers.setdefault(i, set()).add(row_no)
    if not losers:
        return parts, None, 0
    rows = _Columns(REMOVED)
    published = list(parts)
    for i, row_nos in sorted(losers.items()):
        table = pq.read_table(parts[i])
        mask = pa.array([n not in row_nos for n in range(table.num_rows)])
        for rec in table.filter(pc.invert(mask)).to_pylist():
            aid = rec["article_id"]
            where = "an earlier run" if aid in existing else "#".join(map(str, winners[aid][2:]))
            rows.add(
                article_id=aid,
                position=None,
                text=rec["text"],
                reason="duplicate_article",
                detail=f"same canonical URL as the kept record ({where})",
                matched_article_id=aid,
                matched_position=None,
                source_path=rec["source_path"],
                record_no=rec["record_no"],
                **stamp,
            )
        published[i] = parts[i].with_name(parts[i].stem + "-k.parquet")
        write_parquet(table.filter(mask), published[i], ARTICLES, meta)
    return published, rows.table(), len(rows)


def _next_manifest(store: Store, plan: Plan, replaced: set[str]) -> pa.Table:
    old = store.read("manifest")
    keep = old.filter(
        pc.invert(pc.is_in(old["path"], value_set=pa.array(sorted(replaced), pa.string())))
    )
    rows = _Columns(MANIFEST)
    for f in plan.files:
        rows.add(path=f.path, size=f.size, mtime_ns=f.mtime_ns, sha256=f.sha256, run_id=plan.run_id)
    return pa.concat_tables([keep, rows.table()]).sort_by("path")


def _run_row(plan: Plan, summary: RunSummary, finished: datetime) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "run_id": plan.run_id,
                "mode": plan.mode,
                "started_at": plan.started_at,
                "finished_at": finished,
                "files": summary.files_processed,
                "records": summary.records,
                "articles": summary.articles_written,
                "removed": sum(summary.removed.values()),
                "rejected": summary.rejected,
                "summary": json.dumps(summary.to_dict(), sort_keys=True),
                "config_hash": plan.config_hash,
                "version": __version__,
            }
        ],
        schema=RUNS,
    )


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
        if not plan.shards:
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
