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
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
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
from pipeline.corpus import BANDS, fingerprint_metadata, fingerprints, hash64
from pipeline.dedup import match_key
from pipeline.errors import ConfigError, DatasetError, ShardFailedError
from pipeline.ingest import discover, read_file
from pipeline.learned import at_edge, line_keys
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
    paths: Sequence[str] = (),
) -> Plan:
    """Choose the raw files of this run and cut them into shards.

    ``run`` takes files that are new or changed since they were taken (path, size and
    content hash). ``backfill`` takes every raw file, or only those that ``paths`` (globs
    relative to the raw root) name and, with ``since``/``until``, that produced an article
    published in that range (and any not taken yet, whose dates are unknown); their earlier
    output is replaced. A file taken before and gone from the raw root since is dropped by a
    full backfill and by a ``paths`` backfill that names it.

    Only reads: a dry run is this plan, printed.
    """
    raw = Path(raw_root)
    if not raw.is_dir():
        raise DatasetError(f"raw directory not found: {raw}")
    if paths and mode != "backfill":
        raise ConfigError("--path selects files to backfill; it does not apply to run")
    store = Store(clean_root)
    store.check_layout()
    now = datetime.now(UTC)
    manifest = {row["path"]: row for row in store.read("manifest").to_pylist()}
    found = discover(raw)
    named = _paths_named(paths, raw, found, manifest) if paths else None
    ranged = since is not None or until is not None
    in_range = _paths_published_in(store, since, until) if mode == "backfill" else set()
    chosen: list[RawFile] = []
    unchanged = 0
    for rel in found:
        st = (raw / rel).stat()
        old = manifest.get(rel)
        if mode == "backfill":
            if (named is None or rel in named) and (not ranged or rel in in_range or old is None):
                chosen.append(RawFile(rel, st.st_size, sha256_file(raw / rel), st.st_mtime_ns))
            else:
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
    # since leave it; so do those a --path backfill names. (A run keeps them: scrapers'
    # folders get pruned; a wrong --raw must not empty the dataset.)
    gone: set[str] = set()
    if mode == "backfill" and named is not None:
        gone = {p for p in named - set(found) if not ranged or p in in_range}
    elif mode == "backfill" and not ranged:
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


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A ``--path`` glob as a regex over relative paths, as ``pathlib`` globs match.

    ``*``, ``?`` and ``[...]`` stay inside one path segment; a ``**`` segment matches any
    number of segments (none included), and a trailing ``**`` everything below.

    >>> [bool(glob_regex("wire/*.jsonl").fullmatch(p)) for p in ("wire/a.jsonl", "wire/x/a.jsonl")]
    [True, False]
    >>> [bool(glob_regex("**/*.gz").fullmatch(p)) for p in ("a.gz", "wire/x/a.gz", "a.gzip")]
    [True, True, False]
    >>> [bool(glob_regex("feeds/**").fullmatch(p)) for p in ("feeds/a.txt", "feeds/x/b", "feedsx")]
    [True, True, False]
    """
    segments = pattern.split("/")
    out: list[str] = []
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
            continue
        j = 0
        while j < len(seg):
            c = seg[j]
            if c == "*":
                out.append("[^/]*")
            elif c == "?":
                out.append("[^/]")
            elif c == "[" and "]" in seg[j + 2 :]:
                end = seg.index("]", j + 2)
                body = seg[j + 1 : end]
                negate = body[:1] == "!"
                body = (body[1:] if negate else body).replace("\\", "\\\\")
                if body[:1] == "^":  # a literal caret, as in fnmatch
                    body = "\\" + body
                out.append("[" + ("^/" if negate else "") + body + "]")
                j = end
            else:
                out.append(re.escape(c))
            j += 1
        if not last:
            out.append("/")
    return re.compile("".join(out), re.DOTALL)


def check_paths(raw_root: str | Path, clean_root: str | Path, patterns: Sequence[str]) -> None:
    """Fail on a ``--path`` glob that names no file, as ``plan_run`` would, but without
    hashing anything: for callers that fail fast before starting orchestration."""
    raw = Path(raw_root)
    if not raw.is_dir():
        raise DatasetError(f"raw directory not found: {raw}")
    taken = Store(clean_root).read("manifest", ["path"])["path"].to_pylist()
    _paths_named(patterns, raw, discover(raw), taken)


def _paths_named(
    patterns: Sequence[str], raw: Path, found: Iterable[str], taken: Iterable[str]
) -> set[str]:
    """The raw paths (present now, or taken before) that the ``--path`` globs name.

    A glob that names nothing is an error: a typo must not make a silent no-op.
    """
    known = sorted(set(found) | set(taken))
    named: set[str] = set()
    for pattern in patterns:
        rel = pattern
        if Path(pattern).is_absolute():
            try:
                rel = Path(pattern).relative_to(raw.resolve()).as_posix()
            except ValueError:
                raise ConfigError(
                    f"--path {pattern!r} is outside the raw root {raw}; globs are relative to it"
                ) from None
        while rel.startswith("./"):
            rel = rel[2:]
        regex = glob_regex(rel)
        hits = {p for p in known if regex.fullmatch(p)}
        if not hits:
            hint = f"; for a directory, use '{rel.rstrip('/')}/**'" if (raw / rel).is_dir() else ""
            raise ConfigError(
                f"--path {pattern!r} matches no raw file under {raw}"
                f" (globs are relative to it){hint}"
            )
        named |= hits
    return named


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


@dataclass(frozen=True, slots=True)
class PlanPreview:
    """What a plan would change, for ``--dry-run``: its files by why they are taken, and the
    rows now in the dataset that come from files whose output would be replaced or dropped."""

    plan: Plan
    new: tuple[RawFile, ...]  # never taken
    changed: tuple[RawFile, ...]  # taken before, other content now
    retaken: tuple[RawFile, ...]  # taken before, same content (a backfill, or a shared id)
    dropped: tuple[str, ...]  # taken before, gone from the raw root: their rows leave
    rows_replaced: dict[str, int]  # rows now in each dataset from replaced or dropped files

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.plan.files)


def preview_plan(plan: Plan) -> PlanPreview:
    """Sort a plan's files into new, changed and retaken, and count the rows it replaces.

    Reads the committed snapshot without the lock, as readers do: if a run commits
    meanwhile, the preview describes the dataset before that run.
    """
    store = Store(plan.clean_root)
    manifest = {
        r["path"]: r["sha256"] for r in store.read("manifest", ["path", "sha256"]).to_pylist()
    }
    new: list[RawFile] = []
    changed: list[RawFile] = []
    retaken: list[RawFile] = []
    for f in plan.files:
        old = manifest.get(f.path)
        (new if old is None else retaken if old == f.sha256 else changed).append(f)
    value_set = pa.array(sorted(plan.replaced), pa.string())
    rows: dict[str, int] = {}
    for dataset in DATASETS:
        paths = store.read(dataset, ["source_path"])["source_path"]
        rows[dataset] = pc.sum(pc.is_in(paths, value_set=value_set)).as_py() or 0
    return PlanPreview(
        plan=plan,
        new=tuple(new),
        changed=tuple(changed),
        retaken=tuple(retaken),
        dropped=tuple(sorted(plan.replaced - {f.path for f in plan.files})),
        rows_replaced=rows,
    )


def nothing_message(plan: Plan) -> str:
    """What a plan that takes and replaces nothing says."""
    if plan.mode == "run":
        return "nothing new: every raw file was already processed, unchanged"
    return "nothing to backfill: no raw file in the selection (--path, --since, --until)"


# -- 2. shards -------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _rules(builtin: bool, files: tuple[str, ...]) -> RuleSet:
    return load_rules(builtin, files)


def process_shard(plan: Plan, shard_no: int, cfg: Config) -> ShardResult:
    """Clean every record of one shard and write its parts to the staging directory.

    A bad record becomes a ``rejected/`` row; anything else that fails (a bug, a full disk)
    raises ``ShardFailedError``, whose message names the raw file and record the shard was
    on, or says that it was writing.
    """
    where = _Where()
    try:
        return _process_shard(plan, shard_no, cfg, where)
    except Exception as exc:
        raise ShardFailedError(where.failure(plan, shard_no, exc)) from exc


@dataclass(slots=True)
class _Where:
    """What a shard is doing, for the message of a failure."""

    path: str | None = None
    record: int | None = None
    writing: bool = False

    def failure(self, plan: Plan, shard_no: int, exc: Exception) -> str:
        files = plan.shards[shard_no]
        shard = f"shard {shard_no} of run {plan.run_id}"
        what = f"{shard} ({len(files)} raw files, {files[0].path} .. {files[-1].path}) failed"
        if self.writing:
            where = f"{what} writing its parts"
        elif self.path is not None:
            record = f" (record {self.record})" if self.record is not None else ""
            where = f"raw file {self.path!r}{record} failed in {shard}"
        else:
            where = f"{what} before reading its files"
        return f"{where}: {type(exc).__name__}: {exc}"


def _process_shard(plan: Plan, shard_no: int, cfg: Config, where: _Where) -> ShardResult:
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
        where.path, where.record = raw_file.path, None
        for item in _records(raw_root, raw_file.path):
            where.record = item.record_no
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
    where.writing = True
    staging = Store(plan.clean_root).staging(plan.run_id)
    meta = parquet_metadata(plan.config_hash, plan.run_id)
    name = f"part-{plan.run_id}-{shard_no:05d}.parquet"
    for dataset, cols in (("articles", articles), ("removed", removed), ("rejected", rejected)):
        if len(cols):
            write_parquet(cols.table(), staging / dataset / name, DATASETS[dataset], meta)
    if len(index.rows):
        write_parquet(index.table(), staging / "index" / name, INDEX, meta | fingerprint_metadata())
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
        lines = a.text.split("\n")
        for line, (text, position) in enumerate(zip(lines, cleaned.positions, strict=True)):
            key = match_key(text) if len(text) >= self.min_chars else ""
            if key:
                self.fingerprinted.append(len(self.rows))
                self.keys.append(key)
            shape, head, lead = line_keys(text, at_edge(line, len(lines)), key or None)
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
                shape=shape,
                head=head,
                lead=lead,
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
    paths: Sequence[str] = (),
    on_plan: Callable[[Plan], None] | None = None,
) -> RunSummary:
    """The whole run in this process (and a process pool for shards), without Prefect.

    ``on_plan`` sees the plan before any shard runs and ``on_shard`` each shard as it
    finishes: what a progress bar needs (the library itself never prints).
    """
    n_workers = workers or default_workers(cfg)
    store = Store(clean_root)
    with store.lock():
        store.clear_stale_staging()
        plan = plan_run(raw_root, clean_root, cfg, mode, since, until, n_workers, paths)
        if not plan.shards and not plan.replaced:
            return nothing_to_do(plan)
        if on_plan:
            on_plan(plan)
        results: list[ShardResult] = []
        if n_workers > 1 and len(plan.shards) > 1:
            with ProcessPoolExecutor(max_workers=min(n_workers, len(plan.shards))) as pool:
                futures = [
                    pool.submit(process_shard, plan, i, cfg) for i in range(len(plan.shards))
                ]
                for fut in as_completed(futures):
                    results.append(fut.result())
                    if on_shard:
                        on_shard(results[-1])
        else:
            for i in range(len(plan.shards)):
                results.append(process_shard(plan, i, cfg))
                if on_shard:
                    on_shard(results[-1])
        return commit_run(plan, sorted(results, key=lambda r: r.shard_no), cfg)


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
        message=nothing_message(plan),
    )
