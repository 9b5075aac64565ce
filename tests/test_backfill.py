"""``backfill --path GLOB``: exactly the named raw files are taken again, what they produced
is replaced, and the dataset stays what one fresh run over the raw files gives."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flows.cli import main
from pipeline.config import Config
from pipeline.errors import ConfigError
from pipeline.run import plan_run, run_pipeline
from pipeline.store import Store

from .helpers import rows
from .test_corpus import EDITED, OTHER, STORY, aid, art, write
from .test_corpus_history import fresh, view

CFG = Config()


def manifest_runs(clean: Path) -> dict[str, str]:
    return {r["path"]: r["run_id"] for r in Store(clean).read("manifest").to_pylist()}


def taken_by(clean: Path, run_id: str) -> set[str]:
    """The raw files whose article rows this run wrote."""
    table = pq.read_table(clean / "articles", columns=["source_path", "run_id"])
    return {r["source_path"] for r in table.to_pylist() if r["run_id"] == run_id}


def test_path_backfill_retakes_exactly_the_named_files(sample_raw: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    first = run_pipeline(sample_raw, clean, CFG, workers=1)
    before = {d: rows(clean, d) for d in ("articles", "removed", "rejected")}
    summary = run_pipeline(
        sample_raw,
        clean,
        CFG,
        mode="backfill",
        workers=1,
        paths=["export/*.csv", "feeds/ru-*", "bad/**"],
    )
    named = {
        "export/valleytimes.csv",
        "feeds/ru-katki.cp1251.txt",
        "feeds/ru-sneg.koi8r.txt",
        "bad/empty.txt",
        "bad/junk.txt",
    }
    assert (summary.files_processed, summary.files_unchanged) == (5, 8)
    assert {p for p, run in manifest_runs(clean).items() if run == summary.run_id} == named
    assert set(manifest_runs(clean).values()) == {first.run_id, summary.run_id}
    assert taken_by(clean, summary.run_id) == named - {"bad/empty.txt", "bad/junk.txt"}
    assert {d: rows(clean, d) for d in before} == before  # same raw: same rows, replaced


def test_path_and_date_range_take_the_files_both_select(sample_raw: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    run_pipeline(sample_raw, clean, CFG, workers=1)
    # export/: citynews Jan 11, valleytimes Jan 12, portnews Jan 13; wire/ is Jan 10.
    plan = plan_run(
        sample_raw,
        clean,
        CFG,
        "backfill",
        since=datetime(2022, 1, 12, tzinfo=UTC),
        paths=["export/**", "wire/*"],
    )
    assert [f.path for f in plan.files] == ["export/portnews.parquet", "export/valleytimes.csv"]
    assert plan.replaced == {"export/portnews.parquet", "export/valleytimes.csv"}
    assert plan.unchanged == 11


def test_a_changed_original_gives_its_copy_its_paragraphs_back(tmp_path: Path) -> None:
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "a.jsonl", art("https://a.example/x", "2024-03-01T10:00:00Z", STORY))
    write(raw, "b.jsonl", art("https://b.example/y", "2024-03-02T10:00:00Z", [*EDITED, OTHER[0]]))
    run_pipeline(raw, clean, CFG, workers=1)
    b = next(a for a in rows(clean, "articles") if a["source_path"] == "b.jsonl")
    assert (b["duplicate_of"], b["n_paragraphs_out"]) == (aid("https://a.example/x"), 1)
    write(raw, "a.jsonl", art("https://a.example/x", "2024-03-01T10:00:00Z", OTHER[1:]))
    summary = run_pipeline(raw, clean, CFG, mode="backfill", workers=1, paths=["a.jsonl"])
    assert summary.files_processed == 1
    b = next(a for a in rows(clean, "articles") if a["source_path"] == "b.jsonl")
    assert (b["duplicate_of"], b["n_paragraphs_out"]) == (None, 5)
    assert view(clean) == fresh(raw, tmp_path)


def test_a_named_file_that_now_loses_its_id_brings_the_other_record_back(tmp_path: Path) -> None:
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "f0.jsonl", art("https://a.example/x", "2024-03-01T10:00:00Z", STORY))
    write(raw, "f1.jsonl", art("https://a.example/x", "2024-03-02T10:00:00Z", OTHER))
    run_pipeline(raw, clean, CFG, workers=1)
    assert [a["source_path"] for a in rows(clean, "articles")] == ["f0.jsonl"]
    # f0's record is now published later: f1's record, not named, must become the live one.
    write(raw, "f0.jsonl", art("https://a.example/x", "2024-03-03T10:00:00Z", STORY))
    plan = plan_run(raw, clean, CFG, "backfill", paths=["f0.jsonl"])
    assert [f.path for f in plan.files] == ["f0.jsonl", "f1.jsonl"]  # f1 for the shared id
    run_pipeline(raw, clean, CFG, mode="backfill", workers=1, paths=["f0.jsonl"])
    assert [a["source_path"] for a in rows(clean, "articles")] == ["f1.jsonl"]
    assert view(clean) == fresh(raw, tmp_path)


def test_a_named_file_gone_from_raw_is_dropped_and_others_are_kept(
    sample_raw: Path, tmp_path: Path
) -> None:
    clean = tmp_path / "clean"
    run_pipeline(sample_raw, clean, CFG, workers=1)
    (sample_raw / "feeds" / "ru-sneg.koi8r.txt").unlink()
    (sample_raw / "bad" / "junk.txt").unlink()  # gone too, but not named: stays
    summary = run_pipeline(sample_raw, clean, CFG, mode="backfill", workers=1, paths=["feeds/**"])
    assert summary.files_processed == 4
    assert "feeds/ru-sneg.koi8r.txt" not in manifest_runs(clean)
    assert "bad/junk.txt" in manifest_runs(clean)
    assert "feeds/ru-sneg.koi8r.txt" not in {a["source_path"] for a in rows(clean, "articles")}
    assert ("bad/junk.txt", None) in {
        (r["source_path"], r["record_no"]) for r in rows(clean, "rejected")
    }
    reference = tmp_path / "reference"
    run_pipeline(sample_raw, reference, CFG, workers=1)
    assert rows(clean, "articles") == rows(reference, "articles")
    ids = Counter(a["article_id"] for a in rows(clean, "articles"))
    assert max(ids.values()) == 1


def test_globs_match_like_pathlib(sample_raw: Path, tmp_path: Path) -> None:
    def named(*globs: str) -> list[str]:
        plan = plan_run(sample_raw, tmp_path / "clean", CFG, "backfill", paths=globs)
        return [f.path for f in plan.files]

    with pytest.raises(ConfigError, match=r"--path '\*.jsonl' matches no raw file"):
        named("*.jsonl")  # `*` stays in one directory, as in pathlib
    assert named("**/*.jsonl") == ["wire/2022-01-10.jsonl"]
    assert named("wire/*.jsonl*") == [
        "wire/2022-01-10-syndicated.jsonl.gz",
        "wire/2022-01-10.jsonl",
    ]
    assert named("./export/[cv]*") == ["export/citynews.json", "export/valleytimes.csv"]
    assert named(str(sample_raw / "seed" / "*.txt")) == ["seed/000_58778b95823b92fe.txt"]
    with pytest.raises(ConfigError, match=r"for a directory, use 'feeds/\*\*'"):
        named("feeds")
    with pytest.raises(ConfigError, match="outside the raw root"):
        named(str(tmp_path / "elsewhere" / "*.txt"))


def test_a_glob_that_names_nothing_exits_2_and_changes_nothing(
    sample_raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = tmp_path / "clean"
    run_pipeline(sample_raw, clean, CFG, workers=1)
    current = Store(clean).current()
    argv = ["backfill", "--no-prefect", "--raw", str(sample_raw), "--clean", str(clean)]
    assert main([*argv, "--path", "export/*.csv", "--path", "exports/*.csv"]) == 2
    assert capsys.readouterr().err == (
        f"newsclean: configuration error: --path 'exports/*.csv' matches no raw file under"
        f" {sample_raw} (globs are relative to it)\n"
    )
    assert Store(clean).current() == current
    assert main([*argv, "--path", "export/*.csv", "--workers", "1"]) == 0
    assert re.search(r"^  files processed +1$", capsys.readouterr().out, re.M)
