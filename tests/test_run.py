"""Whole runs through the library: output, idempotence, replacement, atomicity, locking."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from pipeline import __version__
from pipeline.config import Config
from pipeline.errors import DatasetError, LockedError, ShardFailedError
from pipeline.run import run_pipeline
from pipeline.store import Store

from .helpers import rows, snapshot_bytes, synthetic_corpus

REPO = Path(__file__).resolve().parents[1]
CFG = Config()


def test_sample_run_readable_by_pyarrow_pandas_and_duckdb(sample_raw: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    summary = run_pipeline(sample_raw, clean, CFG, workers=1)
    assert summary.committed
    assert summary.dataset_rows == {"articles": 12, "removed": 20, "rejected": 5}
    for dataset, n in summary.dataset_rows.items():
        assert ds.dataset(clean / dataset, partitioning="hive").count_rows() == n
        assert len(pd.read_parquet(clean / dataset)) == n
        glob = f"{clean}/{dataset}/**/*.parquet"
        count = duckdb.sql(
            f"select count(*) from read_parquet('{glob}', hive_partitioning=true)"
        ).fetchall()
        assert count == [(n,)]
    part = next((clean / "articles").glob("*.parquet"))
    meta = pq.read_schema(part).metadata
    assert meta[b"newsclean.version"] == __version__.encode()
    assert meta[b"newsclean.config_hash"] == CFG.digest().encode()
    assert pq.ParquetFile(part).metadata.row_group(0).column(0).compression == "ZSTD"
    assert str(pq.read_schema(part).field("published_at").type) == "timestamp[us, tz=UTC]"


def test_empty_datasets_still_have_a_schema(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("Just one paragraph of plain text, nothing to remove here.")
    run_pipeline(raw, tmp_path / "clean", CFG, workers=1)
    assert duckdb.sql(
        f"select count(*) from read_parquet('{tmp_path}/clean/rejected/*.parquet')"
    ).fetchall() == [(0,)]
    assert pd.read_parquet(tmp_path / "clean" / "removed").columns[3] == "reason"


def test_bad_inputs_never_stop_the_run(sample_raw: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    run_pipeline(sample_raw, clean, CFG, workers=1)
    rejected = {(r["source_path"], r["record_no"]): r["error"] for r in rows(clean, "rejected")}
    assert rejected == {
        ("bad/empty.txt", None): "empty file",
        ("bad/junk.txt", None): "binary content (NUL bytes, no byte order mark)",
        ("export/citynews.json", 1): "no text",
        ("wire/2022-01-10.jsonl", 2): "no text (blank or not a string)",
        (
            "wire/2022-01-10.jsonl",
            3,
        ): "malformed JSON on line 4: Unterminated string starting at (column 83)",
    }
    # Every other record of those files is in articles/.
    articles = {(r["source_path"], r["record_no"]) for r in rows(clean, "articles")}
    assert {
        ("export/citynews.json", 0),
        ("wire/2022-01-10.jsonl", 0),
        ("wire/2022-01-10.jsonl", 1),
    } <= articles


def test_second_run_changes_nothing(sample_raw: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    run_pipeline(sample_raw, clean, CFG, workers=1)
    before = snapshot_bytes(clean)
    current = Store(clean).current()
    again = run_pipeline(sample_raw, clean, CFG, workers=1)
    assert again.files_processed == 0 and again.files_unchanged == 13
    assert again.message.startswith("nothing new")
    assert snapshot_bytes(clean) == before
    assert Store(clean).current() == current


def test_new_and_changed_files_replace_what_they_produced(sample_raw: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    run_pipeline(sample_raw, clean, CFG, workers=1)
    csv = sample_raw / "export" / "valleytimes.csv"
    csv.write_text(csv.read_text().replace("80 mm", "95 mm"))
    (sample_raw / "new.txt").write_text(
        "A brand new article about the harbor, written on Friday.\n"
    )
    summary = run_pipeline(sample_raw, clean, CFG, workers=1)
    assert summary.files_processed == 2
    articles = rows(clean, "articles")
    assert len(articles) == 13
    valley = [a for a in articles if a["source_path"] == "export/valleytimes.csv"]
    assert len(valley) == 1 and "95 mm" in valley[0]["text"]
    removed = [r for r in rows(clean, "removed") if r["source_path"] == "export/valleytimes.csv"]
    assert [(r["reason"], r["detail"]) for r in removed] == [("boilerplate_rule", "advertisement")]


def test_one_live_row_per_article_id(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    rec = {
        "url": "https://x.example/story?utm_source=a",
        "text": "The same story, scraped twice from the same page.",
        "published_at": "2022-01-02",
    }
    (raw / "a.jsonl").write_text(json.dumps(rec) + "\n")
    (raw / "b.jsonl").write_text(
        json.dumps({**rec, "url": "http://www.x.example/story/", "published_at": "2022-01-01"})
        + "\n"
    )
    clean = tmp_path / "clean"
    run_pipeline(raw, clean, CFG, workers=1)
    (article,) = rows(clean, "articles")
    assert article["source_path"] == "b.jsonl"  # the earlier publication wins
    (dup,) = [r for r in rows(clean, "removed") if r["reason"] == "duplicate_article"]
    assert (dup["source_path"], dup["article_id"], dup["matched_article_id"]) == (
        "a.jsonl",
        article["article_id"],
        article["article_id"],
    )
    assert dup["detail"] == "same canonical URL as the kept record (b.jsonl#0)"
    # A later run that brings the same URL, published earlier: the earliest wins whichever
    # run read it, and the rows of the records that lost now point to it.
    (raw / "c.jsonl").write_text(json.dumps({**rec, "published_at": "2021-12-31"}) + "\n")
    run_pipeline(raw, clean, CFG, workers=1)
    assert [a["source_path"] for a in rows(clean, "articles")] == ["c.jsonl"]
    assert sorted(
        (r["source_path"], r["detail"])
        for r in rows(clean, "removed")
        if r["reason"] == "duplicate_article"
    ) == [
        ("a.jsonl", "same canonical URL as the kept record (c.jsonl#0)"),
        ("b.jsonl", "same canonical URL as the kept record (c.jsonl#0)"),
    ]
    # ... and a run with one more, later, copy changes nothing but adds its row.
    (raw / "d.jsonl").write_text(json.dumps({**rec, "published_at": "2023-01-01"}) + "\n")
    run_pipeline(raw, clean, CFG, workers=1)
    assert [a["source_path"] for a in rows(clean, "articles")] == ["c.jsonl"]
    assert len([r for r in rows(clean, "removed") if r["reason"] == "duplicate_article"]) == 3


def test_output_does_not_depend_on_workers_or_shards(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    synthetic_corpus(raw, files=6, per_file=20)
    one = tmp_path / "one"
    run_pipeline(raw, one, CFG, workers=1)
    many = tmp_path / "many"
    small_shards = Config(run=type(CFG.run)(shard_mb=0.01))
    run_pipeline(raw, many, small_shards, workers=2)
    assert len(list((many / "articles").glob("*.parquet"))) > 1
    for dataset in ("articles", "removed", "rejected"):
        assert rows(one, dataset) == rows(many, dataset)


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(
    sample_raw: Path, tmp_path: Path
) -> None:
    clean = tmp_path / "clean"
    with Store(clean).lock(), pytest.raises(LockedError, match=f"pid {os.getpid()}"):
        run_pipeline(sample_raw, clean, CFG, workers=1)
    assert run_pipeline(sample_raw, clean, CFG, workers=1).committed


def test_refuses_a_directory_it_does_not_manage(sample_raw: Path, tmp_path: Path) -> None:
    (tmp_path / "clean" / "articles").mkdir(parents=True)
    with pytest.raises(DatasetError, match="is not managed by newsclean"):
        run_pipeline(sample_raw, tmp_path / "clean", CFG, workers=1)


KILL_SCRIPT = """
import os, signal, sys
from pipeline.config import Config
from pipeline.run import run_pipeline
from pipeline import store
where = sys.argv[3]
if where != "random":
    original = getattr(store.Store, where)
    def die(self, *args, **kwargs):
        if where == "_drop_old_snapshots":
            original(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
    setattr(store.Store, where, die)
run_pipeline(sys.argv[1], sys.argv[2], Config(), workers=1)
"""


def _run_killed(raw: Path, clean: Path, where: str, delay: float | None = None) -> int:
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(raw), str(clean), where], cwd=REPO
    )
    if delay is not None:
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=120)


@pytest.fixture
def committed_twice(tmp_path: Path) -> tuple[Path, Path]:
    """A dataset with one committed run, and raw files for a second, slower run."""
    raw = tmp_path / "raw"
    synthetic_corpus(raw, files=2, per_file=10, seed=1)
    clean = tmp_path / "clean"
    run_pipeline(raw, clean, CFG, workers=1)
    synthetic_corpus(raw / "more", files=8, per_file=150, seed=2)
    return raw, clean


@pytest.mark.parametrize("where", ["_swap_current", "_ensure_dataset_links"])
def test_killed_at_the_commit_point(
    committed_twice: tuple[Path, Path], where: str, tmp_path: Path
) -> None:
    raw, clean = committed_twice
    before = snapshot_bytes(clean)
    assert _run_killed(raw, clean, where) == -signal.SIGKILL
    if where == "_swap_current":  # killed just before the swap: nothing changed
        assert snapshot_bytes(clean) == before
    else:  # killed just after: the new run is committed, whole
        assert set(before) < set(snapshot_bytes(clean))
    summary = run_pipeline(raw, clean, CFG, workers=1)
    assert summary.committed
    reference = tmp_path / "reference"
    run_pipeline(raw, reference, CFG, workers=1)
    assert rows(clean, "articles") == rows(reference, "articles")
    assert not any((clean / ".newsclean" / "staging").iterdir())


def test_killed_at_random_moments_leaves_a_whole_dataset(
    committed_twice: tuple[Path, Path], tmp_path: Path
) -> None:
    raw, clean = committed_twice
    before = rows(clean, "articles")
    reference = tmp_path / "reference"
    shutil.copytree(clean, reference, symlinks=True)
    run_pipeline(raw, reference, CFG, workers=1)
    after_run = rows(reference, "articles")
    assert len(after_run) == 20 + 8 * 150
    rng = random.Random(7)
    for _ in range(5):
        _run_killed(raw, clean, "random", delay=rng.uniform(0.3, 2.0))
        # Readers see the last committed run, whole: the one before, or the new one.
        seen = rows(clean, "articles")
        assert seen in (before, after_run)
        glob = f"{clean}/articles/**/*.parquet"
        assert duckdb.sql(
            f"select count(*), count(distinct article_id) from read_parquet('{glob}')"
        ).fetchall() == [(len(seen), len(seen))]
        if seen == after_run:
            break
    run_pipeline(raw, clean, CFG, workers=1)
    assert rows(clean, "articles") == after_run
    assert rows(clean, "removed") == rows(reference, "removed")


def test_backfill_by_published_date_retakes_the_files_of_that_range(
    sample_raw: Path, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    clean = tmp_path / "clean"
    run_pipeline(sample_raw, clean, CFG, workers=1)
    before = rows(clean, "articles")
    since, until = datetime(2022, 1, 11, tzinfo=UTC), datetime(2022, 1, 13, tzinfo=UTC)
    summary = run_pipeline(
        sample_raw, clean, CFG, mode="backfill", since=since, until=until, workers=1
    )
    assert summary.files_processed == 2  # citynews.json (Jan 11) and valleytimes.csv (Jan 12)
    assert rows(clean, "articles") == before
    assert {
        r["source_path"]
        for r in pq.read_table(clean / "articles").to_pylist()
        if r["run_id"] == summary.run_id
    } == {"export/citynews.json", "export/valleytimes.csv"}

    # The files of that range change (a scraper fixed): the backfill gives what a fresh run
    # over the same raw files gives, in every dataset.
    csv = sample_raw / "export" / "valleytimes.csv"
    csv.write_text(csv.read_text().replace("80 mm", "95 mm"))
    city = sample_raw / "export" / "citynews.json"
    city.write_text(city.read_text().replace('"headline": "Photo gallery"', '"body": "Photos."'))
    summary = run_pipeline(
        sample_raw, clean, CFG, mode="backfill", since=since, until=until, workers=1
    )
    assert summary.files_processed == 2
    reference = tmp_path / "reference"
    run_pipeline(sample_raw, reference, CFG, workers=1)
    for dataset in ("articles", "removed", "rejected"):
        assert rows(clean, dataset) == rows(reference, dataset)
    assert rows(clean, "articles") != before
    assert ("export/citynews.json", 1) not in {
        (r["source_path"], r["record_no"]) for r in rows(clean, "rejected")
    }
    # ... and the manifest took them: a run now has nothing to do.
    assert run_pipeline(sample_raw, clean, CFG, workers=1).message.startswith("nothing new")


def test_new_files_alone_are_processed_and_then_a_run_is_a_quick_no_op(
    sample_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline import run as run_module

    clean = tmp_path / "clean"
    first = run_pipeline(sample_raw, clean, CFG, workers=1)
    before = rows(clean, "articles")
    synthetic_corpus(sample_raw / "dropped", files=2, per_file=3, seed=5)
    second = run_pipeline(sample_raw, clean, CFG, workers=1)
    assert (second.files_processed, second.files_unchanged) == (2, 13)
    new = {"dropped/feed-0000.jsonl", "dropped/feed-0001.jsonl"}
    manifest = Store(clean).read("manifest").to_pylist()
    assert {m["path"] for m in manifest if m["run_id"] == second.run_id} == new
    assert {m["path"] for m in manifest if m["run_id"] == first.run_id} == {
        r["source_path"] for r in before
    } | {"bad/empty.txt", "bad/junk.txt"}
    articles = pq.read_table(clean / "articles").to_pylist()
    assert {a["source_path"] for a in articles if a["run_id"] == second.run_id} == new
    assert [a for a in rows(clean, "articles") if a["source_path"] not in new] == before

    # Nothing new: no file is read (size and mtime match the manifest), nothing is written.
    hashed: list[Path] = []
    monkeypatch.setattr(run_module, "sha256_file", lambda p: hashed.append(p) or "")
    current = Store(clean).current()
    third = run_pipeline(sample_raw, clean, CFG, workers=1)
    assert (third.files_processed, third.files_unchanged) == (0, 15)
    assert third.message == "nothing new: every raw file was already processed, unchanged"
    assert hashed == []
    assert Store(clean).current() == current
    assert third.seconds < 5


CONCURRENT = [sys.executable, "-m", "flows.cli", "run", "--no-prefect", "--workers", "1"]


def raw_records(raw: Path) -> set[tuple[str, int | None]]:
    """Every record of the raw files, as (path, record number); None for a whole file."""
    from pipeline.ingest import discover, read_file

    return {(r.source_path, r.record_no) for p in discover(raw) for r in read_file(raw, p)}


def test_two_concurrent_runs_leave_a_whole_dataset(sample_raw: Path, tmp_path: Path) -> None:
    synthetic_corpus(sample_raw / "more", files=4, per_file=60, seed=3)
    clean = tmp_path / "clean"
    cmd = [*CONCURRENT, "--raw", str(sample_raw), "--clean", str(clean)]
    procs = [
        subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    outcomes = sorted(
        (p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)
    )
    codes = [code for code, _, _ in outcomes]
    assert codes in ([0, 0], [0, 3]), outcomes
    if codes == [0, 3]:  # the second found the lock taken, and said by whom
        assert re.fullmatch(
            rf"newsclean: another newsclean run \(pid \d+\) is writing to {clean}\n"
            r"  hint: wait for it to finish, or check that it is still alive\n",
            outcomes[1][2],
        )
    else:  # one after the other: the second had nothing to do
        assert sum("nothing new" in out for _, out, _ in outcomes) == 1
    articles = ds.dataset(clean / "articles", partitioning="hive").to_table()
    glob = f"{clean}/articles/**/*.parquet"
    ids = duckdb.sql(
        f"select article_id, count(*) from read_parquet('{glob}', hive_partitioning=true)"
        " group by article_id having count(*) > 1"
    ).fetchall()
    assert ids == [] and articles.num_rows == 12 + 4 * 60
    accounted = {(a["source_path"], a["record_no"]) for a in rows(clean, "articles")}
    accounted |= {(r["source_path"], r["record_no"]) for r in rows(clean, "rejected")}
    same_url = [
        (r["source_path"], r["record_no"])
        for r in rows(clean, "removed")
        if r["reason"] == "duplicate_article" and r["matched_article_id"] == r["article_id"]
    ]
    assert raw_records(sample_raw) == accounted | set(same_url)
    assert len(accounted) + len(same_url) == len(raw_records(sample_raw))


def test_a_file_that_breaks_its_shard_is_named(
    sample_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken_file: str
) -> None:
    """Not a bad record (those go to rejected/): a failure of the code or the machine."""
    from pipeline import run as run_module

    tiny = Config(run=type(CFG.run)(shard_mb=0.001))
    plan = run_module.plan_run(sample_raw, tmp_path / "clean", tiny, workers=2)
    (shard_no,) = [
        i for i, s in enumerate(plan.shards) if "export/valleytimes.csv" in {f.path for f in s}
    ]
    assert len(plan.shards) > 2 and shard_no > 0
    # In worker processes (the exception crosses a process boundary) and in this one.
    for workers in (2, 1):
        with pytest.raises(ShardFailedError) as failure:
            run_pipeline(sample_raw, tmp_path / "clean", tiny, workers=workers)
        assert re.fullmatch(
            rf"raw file 'export/valleytimes.csv' \(record 0\) failed in shard {shard_no} of run"
            r" \S+: ZeroDivisionError: division by zero",
            str(failure.value),
        )
    assert Store(tmp_path / "clean").current() is None  # nothing committed

    # Once its files are read, a shard that cannot write names itself and its files.
    monkeypatch.undo()  # broken_file's patch: cleaning works again

    def disk_full(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_module, "write_parquet", disk_full)
    with pytest.raises(ShardFailedError) as failure:
        run_pipeline(sample_raw, tmp_path / "clean", CFG, workers=1)
    assert re.fullmatch(
        r"shard 0 of run \S+ \(13 raw files, bad/empty.txt .. wire/2022-01-10.jsonl\) failed"
        r" writing its parts: OSError: \[Errno 28\] No space left on device",
        str(failure.value),
    )


def test_a_failed_commit_can_be_retried_with_nothing_lost(
    sample_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline import commit as commit_module
    from pipeline import run as run_module

    clean = tmp_path / "clean"
    run_pipeline(sample_raw, clean, CFG, workers=1)
    csv = sample_raw / "export" / "valleytimes.csv"
    csv.write_text(csv.read_text().replace("80 mm", "95 mm"))  # a changed file: a rewritten part
    (sample_raw / "dup.jsonl").write_text(
        json.dumps({"url": "https://portnews.example/cranes", "text": "Same URL again."}) + "\n"
    )
    reference = tmp_path / "reference"
    shutil.copytree(clean, reference, symlinks=True)
    run_pipeline(sample_raw, reference, CFG, workers=1)

    store = Store(clean)
    plan = run_module.plan_run(sample_raw, clean, CFG, workers=1)
    results = [run_module.process_shard(plan, i, CFG) for i in range(len(plan.shards))]
    original = Store._swap_current
    calls = []

    def fail_once(self: Store, run_id: str) -> None:
        calls.append(run_id)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        original(self, run_id)

    monkeypatch.setattr(Store, "_swap_current", fail_once)
    with pytest.raises(OSError):
        commit_module.commit_run(plan, results, CFG)
    commit_module.commit_run(plan, results, CFG)  # what Prefect's task retry does
    assert store.current() is not None and store.current().name == plan.run_id
    for dataset in ("articles", "removed", "rejected"):
        assert rows(clean, dataset) == rows(reference, dataset)
