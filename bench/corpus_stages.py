"""The corpus-wide step of a commit, stage by stage, on a committed dataset's index.

Reads the index parts of ``CLEAN`` as new (as the first run over all of it would), or, with
``--last-run``, only the parts the last run's shards wrote (that run's commit, over the index
the runs before it left), builds the live records from its articles, and times
``pipeline.commit._corpus_decisions`` with its stages wrapped: learning boilerplate, candidate
pairs, verification, decisions. "load" is the index read; what the total holds beyond the
named stages is the glue between them (ordering, distinct texts, reading the candidates'
texts, the paragraphs to decide).

    python bench/corpus_stages.py bench/out/clean-dedup-1m [--repeat 2] [--last-run]

Run ``bench/bench_dedup.py`` first to have such a dataset. Each repeat is a fresh process
(the first touch of the index's memory is part of the cost a real commit pays).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def measure(clean: Path, last_run: bool) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.dataset as ds

    from pipeline import commit
    from pipeline.config import Config

    current = clean / ".newsclean" / "current"
    times: dict[str, Any] = {}

    def timed(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            out = f(*args, **kwargs)
            times[name] = times.get(name, 0.0) + time.perf_counter() - t
            if name == "candidates":
                times["candidate pairs"] = len(out)
            if name == "verify":
                times["edges"] = len(out)
            return out

        return wrapper

    parts = sorted((current / "index").glob("*.parquet"))
    t = time.perf_counter()
    # A shard's part, as written or with rows of records that lost their id dropped ("k-").
    shard_part = re.compile(r"(?:k-)?part-(.+)-\d{5}\.parquet")
    run_of = {p: m.group(1) for p in parts if (m := shard_part.fullmatch(p.name))}
    new = [p for p in parts if not last_run or run_of.get(p) == max(run_of.values())]
    old = [p for p in parts if p not in new]
    index = commit._Index(old, new, pa.array([], pa.string()), set())
    times["new index parts"] = len(new)
    times["load"] = time.perf_counter() - t
    articles = ds.dataset(current / "articles").to_table(
        columns=["article_id", "published_at", "source_path", "record_no", "source"]
    )
    live = {
        r["article_id"]: commit._Record(
            r["article_id"], r["published_at"], r["source_path"], r["record_no"], True, r["source"]
        )
        for r in articles.to_pylist()
    }
    for name, attr in (
        ("learn", "_learned"),
        ("candidates", "candidate_pairs"),
        ("verify", "verify_pairs"),
        ("decide", "decide"),
    ):
        setattr(commit, attr, timed(name, getattr(commit, attr)))
    t = time.perf_counter()
    # The edges runs before verified (the dataset's own: they include the last run's too).
    edges = commit._read_edges(sorted((current / "edges").glob("*.parquet")) if old else [])
    corpus = commit._corpus_decisions(index, live, edges, Config())
    times["decisions total"] = time.perf_counter() - t
    times["step total"] = times["load"] + times["decisions total"]
    times["index rows"] = len(index)
    times["decisions"] = sum(len(v) for v in corpus.by_article.values())
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clean", type=Path, help="a committed data/clean directory")
    ap.add_argument("--repeat", type=int, default=2, help="fresh processes (default 2)")
    ap.add_argument("--last-run", action="store_true", help="only the last run's parts are new")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child run
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.clean, args.last_run)))
        return
    runs = []
    for _ in range(args.repeat):
        out = subprocess.run(
            [sys.executable, __file__, str(args.clean), "--one"] + ["--last-run"] * args.last_run,
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    last = " --last-run" if args.last_run else ""
    print(f"# python bench/corpus_stages.py {args.clean} --repeat {args.repeat}{last}\n")
    print("| stage | " + " | ".join(f"run {n + 1}" for n in range(len(runs))) + " |")
    print("|---|" + "---|" * len(runs))
    for key in runs[0]:
        cells = [f"{r[key]:.2f} s" if isinstance(r[key], float) else f"{r[key]:,}" for r in runs]
        print(f"| {key} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
