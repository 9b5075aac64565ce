"""The output directory: Parquet datasets that change only by an atomic swap.

Layout of ``data/clean/``::

    articles -> .newsclean/current/articles      (fixed relative symlinks, made once)
    removed  -> .newsclean/current/removed
    rejected -> .newsclean/current/rejected
    .newsclean/
        current -> snapshots/<run_id>            (swapped with one rename: the commit)
        snapshots/<run_id>/{articles,removed,rejected}/part-*.parquet
        snapshots/<run_id>/{index,edges}/part-*.parquet  (paragraph index: pipeline/corpus.py)
        snapshots/<run_id>/manifest.parquet      (raw files taken, with size and hash)
        snapshots/<run_id>/runs.parquet          (run history)
        staging/<run_id>/...                     (a run's parts before it commits)
        lock                                     (flock: one writer at a time)

A snapshot is complete before ``current`` points to it; files a run does not change are
hard-linked from the previous snapshot, so a snapshot costs links, not copies. A run killed
at any moment leaves ``current`` on the last committed snapshot: readers see it unchanged,
and the next run clears the dead run's staging directory. Readers (pyarrow, DuckDB, pandas,
Polars, Spark) skip names that start with "." or "_", so ``.newsclean/`` is invisible to them.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import __version__
from pipeline.errors import DatasetError, LockedError
from pipeline.schema import DATASETS, MANIFEST, PARTS, RUNS, SCHEMA_VERSION

STATE_DIR = ".newsclean"
KEEP_SNAPSHOTS = 3  # the current one and two before it, for readers still holding old paths


def parquet_metadata(config_hash: str, run_id: str) -> dict[bytes, bytes]:
    return {
        b"newsclean.version": __version__.encode(),
        b"newsclean.schema_version": SCHEMA_VERSION.encode(),
        b"newsclean.config_hash": config_hash.encode(),
        b"newsclean.run_id": run_id.encode(),
    }


def write_parquet(
    table: pa.Table, path: Path, schema: pa.Schema, metadata: dict[bytes, bytes]
) -> None:
    """Write one Parquet file with an explicit schema, zstd, and our key-value metadata.

    Written to a temporary name, fsynced and renamed, so a file that exists is complete.
    """
    table = table.cast(schema).replace_schema_metadata(metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        pq.write_table(table, fh, compression="zstd")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Store:
    """One ``data/clean/`` directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.state = self.root / STATE_DIR
        self.snapshots = self.state / "snapshots"
        self.staging_root = self.state / "staging"
        self.current_link = self.state / "current"

    # -- reading -----------------------------------------------------------------------------

    def current(self) -> Path | None:
        """The committed snapshot directory, or None before the first commit."""
        if not self.current_link.is_symlink():
            return None
        target = self.current_link.resolve()
        if not target.is_dir():
            raise DatasetError(f"{self.current_link} points to a missing snapshot {target}")
        return target

    def parts(self, dataset: str) -> list[Path]:
        snap = self.current()
        if snap is None:
            return []
        return sorted((snap / dataset).glob("*.parquet"))

    def read(self, dataset: str, columns: list[str] | None = None) -> pa.Table:
        """A whole committed dataset (or some columns), empty with its schema if none."""
        schema = PARTS.get(dataset) or {"manifest": MANIFEST, "runs": RUNS}[dataset]
        if dataset in PARTS:
            paths = self.parts(dataset)
        else:
            snap = self.current()
            paths = (
                [snap / f"{dataset}.parquet"]
                if snap and (snap / f"{dataset}.parquet").exists()
                else []
            )
        if not paths:
            empty = schema.empty_table()
            return empty.select(columns) if columns else empty
        tables = [pq.read_table(p, columns=columns, schema=schema) for p in paths]
        return pa.concat_tables(tables)

    # -- writing -----------------------------------------------------------------------------

    def check_layout(self) -> None:
        """Refuse to write into a directory whose dataset names are not ours."""
        for name in DATASETS:
            p = self.root / name
            if p.exists() and not p.is_symlink():
                raise DatasetError(
                    f"{p} exists and is not managed by newsclean; choose another --clean directory"
                )

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the writer lock; LockedError if another process holds it.

        flock is released by the kernel when its holder dies, so a killed run never leaves a
        stale lock behind.
        """
        self.state.mkdir(parents=True, exist_ok=True)
        with open(self.state / "lock", "a+") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "unknown"
                raise LockedError(
                    f"another newsclean run ({holder}) is writing to {self.root}"
                ) from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()}")
            fh.flush()
            yield

    def staging(self, run_id: str) -> Path:
        return self.staging_root / run_id

    def clear_stale_staging(self, keep: str | None = None) -> None:
        """Remove staging directories of runs that died (call with the lock held)."""
        if not self.staging_root.is_dir():
            return
        for d in self.staging_root.iterdir():
            if d.name != keep:
                shutil.rmtree(d, ignore_errors=True)

    def commit(
        self,
        run_id: str,
        keep_parts: dict[str, list[Path]],
        new_parts: dict[str, list[Path]],
        manifest: pa.Table,
        runs: pa.Table,
    ) -> Path:
        """Build snapshot ``run_id`` from kept and new parts, then swap ``current`` to it.

        ``keep_parts`` are files of the current snapshot, ``new_parts`` files in this run's
        staging directory; both are hard-linked, so a failed commit can simply be retried.
        Everything before the final rename can be lost to a crash without changing what
        readers see.
        """
        snap = self.snapshots / run_id
        if self.current() == snap.resolve():
            raise DatasetError(f"snapshot {run_id} is already published")
        if snap.exists():
            shutil.rmtree(snap)
        for dataset in PARTS:
            d = snap / dataset
            d.mkdir(parents=True)
            for src in keep_parts.get(dataset, []):
                os.link(src, d / src.name)
            for src in new_parts.get(dataset, []):
                os.link(src, d / src.name)  # staging stays whole until the swap is done
            _fsync_dir(d)
        meta = {b"newsclean.version": __version__.encode()}
        write_parquet(manifest, snap / "manifest.parquet", MANIFEST, meta)
        write_parquet(runs, snap / "runs.parquet", RUNS, meta)
        _fsync_dir(snap)
        _fsync_dir(self.snapshots)
        self._swap_current(run_id)
        self.finish(run_id)
        return snap

    def finish(self, run_id: str) -> None:
        """What follows the swap: dataset links, old snapshots, the run's staging directory.
        Idempotent, so that a commit that failed after its swap can be retried."""
        self._ensure_dataset_links()
        self._drop_old_snapshots()
        shutil.rmtree(self.staging(run_id), ignore_errors=True)

    def _swap_current(self, run_id: str) -> None:
        tmp = self.state / f"current.{run_id}.tmp"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(Path("snapshots") / run_id, tmp)
        os.replace(tmp, self.current_link)  # atomic: the commit point
        _fsync_dir(self.state)

    def _ensure_dataset_links(self) -> None:
        for dataset in DATASETS:
            link = self.root / dataset
            target = Path(STATE_DIR) / "current" / dataset
            if link.is_symlink() and Path(os.readlink(link)) == target:
                continue
            tmp = self.root / f".{dataset}.tmp"
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
            os.symlink(target, tmp)
            os.replace(tmp, link)
        _fsync_dir(self.root)

    def _drop_old_snapshots(self) -> None:
        current = self.current()
        snaps = sorted(p for p in self.snapshots.iterdir() if p.is_dir())
        keep = {p.name for p in snaps[-KEEP_SNAPSHOTS:]}
        if current is not None:
            keep.add(current.name)
        for p in snaps:
            if p.name not in keep:
                shutil.rmtree(p, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
