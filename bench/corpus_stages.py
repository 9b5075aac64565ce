"""The corpus-wide step of a commit, stage by stage, on a committed dataset's index.

Reads every index part of ``CLEAN`` as new (as the first run over all of it would), builds
the live records from its articles, and times ``pipeline.commit._corpus_decisions`` with its
stages wrapped: learning boilerplate, candidate pairs, verification, decisions. "load" is
the index read; what the total holds beyond the named stages is the glue between them
(ordering, distinct texts, reading the candidates' texts, the paragraphs to decide).

    python bench/corpus_stages.py bench/out/clean-dedup-1m [--repeat 2]

Run ``bench/bench_dedup.py`` first to have such a dataset. Each repeat is a fresh process
(the first touch of the index's memory is part of the cost a real commit pays).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def measure(clean: Path) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.dataset as ds

    from pipeline import commit
    from pipeline.config import Config
    from pipeline.schema import EDGES

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
    index = commit._Index([], parts, pa.array([], pa.string()), set())
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
    corpus = commit._corpus_decisions(index, live, EDGES.empty_table(), Config())
    times["decisions total"] = time.perf_counter() - t
    times["step total"] = times["load"] + times["decisions total"]
    times["index rows"] = len(index)
    times["decisions"] = sum(len(v) for v in corpus.by_article.values())
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clean", type=Path, help="a committed data/clean directory")
    ap.add_argument("--repeat", type=int, default=2, help="fresh processes (default 2)")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child run
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.clean)))
        return
    runs = []
    for _ in range(args.repeat):
        out = subprocess.run(
            [sys.executable, __file__, str(args.clean), "--one"],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"# python bench/corpus_stages.py {args.clean} --repeat {args.repeat}\n")
    print("| stage | " + " | ".join(f"run {n + 1}" for n in range(len(runs))) + " |")
    print("|---|" + "---|" * len(runs))
    for key in runs[0]:
        cells = [f"{r[key]:.2f} s" if isinstance(r[key], float) else f"{r[key]:,}" for r in runs]
        print(f"| {key} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
