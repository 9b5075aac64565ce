"""Corpus-wide dedup across runs: retries, same-URL records, changed and deleted files, and a
property: three runs with changes give what one run over the final raw files gives."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import commit as commit_module
from pipeline import run as run_module
from pipeline.config import Config
from pipeline.corpus import BANDS, current_fingerprints
from pipeline.run import run_pipeline
from pipeline.store import Store

from .helpers import rows
from .test_corpus import EDITED, OTHER, PARAGRAPH_POOL, STORY, _lightly_edit, aid, art, write

CFG = Config()


def view(clean: Path) -> dict[str, list[Any]]:
    arts = sorted(
        (a["article_id"], a["source_path"], a["text"], a["duplicate_of"], a["n_paragraphs_out"])
        for a in rows(clean, "articles")
    )
    removed = sorted(
        (
            r["article_id"],
            r["source_path"],
            r["record_no"],
            -1 if r["position"] is None else r["position"],
            r["reason"],
            r["detail"],
            r["matched_article_id"] or "",
            -1 if r["matched_position"] is None else r["matched_position"],
            r["text"],
        )
        for r in rows(clean, "removed")
    )
    return {"articles": arts, "removed": removed}


def fresh(raw: Path, tmp: Path, name: str = "fresh") -> dict[str, list[Any]]:
    clean = tmp / name
    run_pipeline(raw, clean, CFG, workers=1)
    return view(clean)


# -- retry-safety -------------------------------------------------------------------------


def test_retry_after_failure_right_after_the_swap(tmp_path: Path, monkeypatch: Any) -> None:
    """_swap_current fails after os.replace (the fsync of the directory): the retried
    commit_run must still give the same result, not destroy the current snapshot."""
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "a.jsonl", art("https://a.example/x", "2024-03-01T10:00:00Z", STORY))
    run_pipeline(raw, clean, CFG, workers=1)
    write(raw, "b.jsonl", art("https://b.example/y", "2024-03-02T10:00:00Z", EDITED))
    plan = run_module.plan_run(raw, clean, CFG, workers=1)
    results = [run_module.process_shard(plan, i, CFG) for i in range(len(plan.shards))]
    original = Store._swap_current
    calls: list[str] = []

    def fail_after_replace(self: Store, run_id: str) -> None:
        calls.append(run_id)
        original(self, run_id)
        if len(calls) == 1:
            raise OSError(5, "Input/output error")  # e.g. fsync of .newsclean failed

    monkeypatch.setattr(Store, "_swap_current", fail_after_replace)
    with pytest.raises(OSError):
        commit_module.commit_run(plan, results, CFG)
    commit_module.commit_run(plan, results, CFG)  # Prefect's task retry
    assert view(clean) == fresh(raw, tmp_path)


# -- same article id ----------------------------------------------------------------------


def test_a_losing_record_comes_back_when_the_winners_file_changes(tmp_path: Path) -> None:
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "f0.jsonl", art("https://a.example/x", "2024-03-01T10:00:00Z", STORY))
    write(raw, "f1.jsonl", art("https://a.example/x", "2024-03-02T10:00:00Z", OTHER))
    run_pipeline(raw, clean, CFG, workers=1)
    # The winner's file now holds another URL: f1's record is the only one with that id.
    write(raw, "f0.jsonl", art("https://b.example/y", "2024-03-01T10:00:00Z", STORY))
    run_pipeline(raw, clean, CFG, workers=1)
    assert view(clean) == fresh(raw, tmp_path)


def test_a_changed_file_whose_record_now_loses_leaves_one_loser_row(tmp_path: Path) -> None:
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "f1.jsonl", art("https://a.example/x", "2024-03-02T10:00:00Z", OTHER))
    run_pipeline(raw, clean, CFG, workers=1)
    write(raw, "f0.jsonl", art("https://a.example/x", "2024-03-01T10:00:00Z", STORY))
    write(raw, "f1.jsonl", art("https://a.example/x", "2024-03-02T10:00:00Z", OTHER[:1]))
    run_pipeline(raw, clean, CFG, workers=1)
    assert view(clean) == fresh(raw, tmp_path)


def test_a_changed_file_whose_new_record_loses_its_id_does_not_crash(tmp_path: Path) -> None:
    """_loser_rows scans old parts of replaced files by (source_path, record_no): the stale
    row there has another article id, which is not live: KeyError, and every later run too."""
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "f1.jsonl", art("https://x.example/old", "2024-03-01T10:00:00Z", OTHER))
    run_pipeline(raw, clean, CFG, workers=1)
    write(raw, "f0.jsonl", art("https://y.example/new", "2024-03-01T10:00:00Z", STORY))
    write(raw, "f1.jsonl", art("https://y.example/new", "2024-03-02T10:00:00Z", OTHER))
    run_pipeline(raw, clean, CFG, workers=1)
    assert view(clean) == fresh(raw, tmp_path)


def test_a_loser_row_keeps_the_whole_text_of_an_old_record(tmp_path: Path) -> None:
    """An old record that loses its id to a newcomer gets a duplicate_article row with the
    text of its articles/ row, i.e. after corpus decisions; its corpus rows are dropped at the
    same time, so the copied paragraphs vanish from the audit trail (a full run keeps them)."""
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "a.jsonl", art("https://a.example/x", "2024-03-01T10:00:00Z", STORY))
    write(raw, "b.jsonl", art("https://b.example/y", "2024-03-03T10:00:00Z", [*EDITED, OTHER[0]]))
    run_pipeline(raw, clean, CFG, workers=1)
    write(raw, "c.jsonl", art("https://b.example/y", "2024-03-02T10:00:00Z", [OTHER[1]]))
    run_pipeline(raw, clean, CFG, workers=1)
    (loser,) = [r for r in rows(clean, "removed") if r["source_path"] == "b.jsonl"]
    assert loser["text"] == "\n".join([*EDITED, OTHER[0]])


# -- deleted raw files --------------------------------------------------------------------


def test_a_deleted_raw_file_leaves_the_dataset(tmp_path: Path) -> None:
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "a.jsonl", art("https://a.example/x", "2024-03-01T10:00:00Z", STORY))
    write(raw, "b.jsonl", art("https://b.example/y", "2024-03-02T10:00:00Z", [*EDITED, OTHER[0]]))
    run_pipeline(raw, clean, CFG, workers=1)
    (raw / "a.jsonl").unlink()
    run_pipeline(raw, clean, CFG, workers=1)
    run_pipeline(raw, clean, CFG, mode="backfill", workers=1)
    assert view(clean) == fresh(raw, tmp_path)


# -- the persistent state -----------------------------------------------------------------


def edge_rows(clean: Path) -> int:
    return sum(
        pq.ParquetFile(p).metadata.num_rows
        for p in (clean / ".newsclean" / "current" / "edges").glob("*.parquet")
    )


def test_backfill_does_not_duplicate_edges(tmp_path: Path) -> None:
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "a.jsonl", art("https://a.example/x", "2024-03-01T10:00:00Z", STORY))
    write(raw, "b.jsonl", art("https://b.example/y", "2024-03-02T10:00:00Z", EDITED))
    run_pipeline(raw, clean, CFG, workers=1)
    n = edge_rows(clean)
    assert n > 0
    for _ in range(3):
        run_pipeline(raw, clean, CFG, mode="backfill", workers=1)
    assert edge_rows(clean) == n


def test_an_edge_goes_when_one_of_its_texts_leaves_the_corpus(tmp_path: Path) -> None:
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "a.jsonl", art("https://a.example/x", "2024-03-01T10:00:00Z", STORY))
    write(raw, "b.jsonl", art("https://b.example/y", "2024-03-02T10:00:00Z", EDITED))
    write(raw, "c.jsonl", art("https://c.example/z", "2024-03-03T10:00:00Z", OTHER))
    run_pipeline(raw, clean, CFG, workers=1)
    assert edge_rows(clean) > 0
    (raw / "b.jsonl").unlink()
    run_pipeline(raw, clean, CFG, mode="backfill", workers=1)
    assert edge_rows(clean) == 0


def test_score_does_not_depend_on_which_copy_of_a_text_came_first(tmp_path: Path) -> None:
    """Edges are stored by match key but scored on one representative's text: when an
    earlier article brings the same key with other punctuation, incremental and full runs
    record different scores (and could even disagree whether it is a copy)."""
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    p = STORY[3]
    p_variant = p.replace(",", "").replace(" and that", "; and that").upper()  # same match key
    edited = EDITED[3]
    write(raw, "b.jsonl", art("https://b.example/1", "2024-03-02T10:00:00Z", [edited, OTHER[0]]))
    write(raw, "c.jsonl", art("https://c.example/1", "2024-03-03T10:00:00Z", [p, OTHER[1]]))
    run_pipeline(raw, clean, CFG, workers=1)
    write(raw, "a.jsonl", art("https://a.example/1", "2024-03-01T10:00:00Z", [p_variant]))
    run_pipeline(raw, clean, CFG, workers=1)
    assert view(clean) == fresh(raw, tmp_path)


# -- contents -----------------------------------------------------------------------------


def test_a_template_with_a_negative_number_is_not_a_copy(tmp_path: Path) -> None:
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    t = "Overnight temperatures in the mountain villages fell to {} degrees, the weather service said."
    write(
        raw,
        "feed.jsonl",
        art("https://w.example/1", "2024-01-01T10:00:00Z", [t.format("-15"), OTHER[0]]),
        art("https://w.example/2", "2024-07-01T10:00:00Z", [t.format("15"), OTHER[1]]),
    )
    run_pipeline(raw, clean, CFG, workers=1)
    out = {a["url"]: a for a in rows(clean, "articles")}
    assert out["https://w.example/2"]["text"] == "\n".join([t.format("15"), OTHER[1]])


def test_empty_short_and_undated(tmp_path: Path) -> None:
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(
        raw,
        "feed.jsonl",
        {"url": "https://e.example/short", "text": "– Yes.\n– No.\n– Certainly."},
        {"url": "https://e.example/short2", "text": "– Yes.\n– No.\n– Certainly."},
        {"url": "https://e.example/1", "text": "\n".join(STORY)},
        {"url": "https://e.example/2", "text": "\n".join(EDITED)},
    )
    run_pipeline(raw, clean, CFG, workers=1)
    out = {a["url"]: a for a in rows(clean, "articles")}
    first, second = sorted(["https://e.example/1", "https://e.example/2"], key=aid)
    assert out[second]["duplicate_of"] == aid(first)
    assert out["https://e.example/short2"]["text"] == "– Yes.\n– No.\n– Certainly."


# -- property: 3 runs vs 1, same URLs, changed and deleted files --------------------------


def _article(rnd: random.Random, n: int) -> dict[str, Any]:
    paragraphs = [
        p if rnd.random() < 0.6 else _lightly_edit(p, rnd)
        for p in rnd.sample(PARAGRAPH_POOL, rnd.randint(1, 4))
    ]
    when = None if rnd.random() < 0.2 else f"2024-03-0{rnd.randint(1, 4)}T10:00:00Z"
    return {"url": f"https://s.example/{n}", "published_at": when, "text": "\n".join(paragraphs)}


@pytest.mark.parametrize("seed", range(12))
def test_three_runs_with_changes_equal_one_run(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    for step in range(3):
        for f in range(3):
            name = f"r{step}-{f}.jsonl"
            write(raw, name, *[_article(rnd, rnd.randrange(8)) for _ in range(rnd.randint(1, 3))])
        if step:  # change an earlier file
            victim = rnd.choice(sorted(p.name for p in raw.iterdir()))
            write(raw, victim, *[_article(rnd, rnd.randrange(8)) for _ in range(2)])
        run_pipeline(raw, clean, CFG, workers=1)
    assert view(clean) == fresh(raw, tmp_path)


# -- few new texts ---------------------------------------------------------------------------


def test_candidates_for_one_new_text_among_many_old_ones() -> None:
    import numpy as np

    from pipeline.corpus import BANDS, candidate_pairs

    rng = np.random.default_rng(0)
    bands = rng.integers(0, 2**32, size=(50_000, BANDS), dtype=np.uint32)
    new = np.zeros(len(bands), dtype=bool)
    new[-1] = True
    bands[-1] = bands[7]  # the new text copies an old one
    assert candidate_pairs(bands, new).tolist() == [[7, 49_999]]


# -- fingerprints made by another version ----------------------------------------------------


def test_an_index_from_another_version_is_fingerprinted_again(tmp_path: Path) -> None:
    """Band keys change when the fingerprint does (an upgrade): an index part written with
    other band keys is fingerprinted again from its text, so an old article still catches
    a new copy, and the part is written anew, so the next run need not do it again."""
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    write(raw, "a.jsonl", art("https://a.example/x", "2024-03-01T10:00:00Z", STORY))
    run_pipeline(raw, clean, CFG, workers=1)
    store = Store(clean)
    for part in store.parts("index"):
        old = pq.read_table(part)
        bands = pa.FixedSizeListArray.from_arrays(
            pa.array(np.arange(old.num_rows * BANDS, dtype=np.uint32)), BANDS
        )
        old = old.set_column(old.schema.get_field_index("bands"), "bands", bands)
        part.unlink()  # a hard link shared with the snapshot before: write a new file
        pq.write_table(old.replace_schema_metadata({b"newsclean.fingerprint": b"older"}), part)
    write(raw, "b.jsonl", art("https://b.example/y", "2024-03-02T10:00:00Z", EDITED))
    run_pipeline(raw, clean, CFG, workers=1)
    assert view(clean) == fresh(raw, tmp_path)
    copy = next(a for a in rows(clean, "articles") if a["url"] == "https://b.example/y")
    assert copy["duplicate_of"] == aid("https://a.example/x")
    for part in store.parts("index"):
        assert current_fingerprints(pq.read_schema(part).metadata), part.name
