"""``newsclean stats``: what the dataset holds, and the last runs."""

from __future__ import annotations

import json

import pyarrow.compute as pc

from pipeline.store import Store


def print_stats(clean: str, last_runs: int = 5) -> int:
    store = Store(clean)
    snap = store.current()
    if snap is None:
        print(f"{clean}: no committed dataset yet (run `newsclean run` first)")
        return 1
    print(f"{clean}: snapshot {snap.name}")
    articles = store.read("articles", ["article_id", "source", "duplicate_of"])
    removed = store.read("removed", ["reason"])
    rejected = store.read("rejected", ["error"])
    print(f"  articles  {articles.num_rows} rows, {len(pc.unique(articles['source']))} sources")
    print(f"  removed   {removed.num_rows} rows")
    for row in (
        removed.group_by("reason").aggregate([("reason", "count")]).sort_by("reason").to_pylist()
    ):
        print(f"    {row['reason']:<22} {row['reason_count']}")
    print(f"  rejected  {rejected.num_rows} rows")
    errors = rejected.group_by("error").aggregate([("error", "count")])
    for row in errors.sort_by([("error_count", "descending")]).to_pylist()[:5]:
        print(f"    {row['error_count']:>6}  {row['error'][:70]}")
    runs = store.read("runs").sort_by([("started_at", "descending")]).to_pylist()[:last_runs]
    print(f"  last {len(runs)} runs:")
    for r in runs:
        s = json.loads(r["summary"])
        print(
            f"    {r['run_id']}  {r['mode']:<8} files {r['files']:>5}  articles {r['articles']:>7}"
            f"  removed {r['removed']:>7}  rejected {r['rejected']:>4}  {s.get('seconds', 0):.1f}s"
        )
    return 0
