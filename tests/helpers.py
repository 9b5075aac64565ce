"""Small helpers shared by the tests that run the pipeline."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

VOLATILE = {"run_id", "ingested_at"}


def rows(clean: Path, dataset: str) -> list[dict[str, Any]]:
    """A dataset's rows without the columns that name the run, in a stable order."""
    table = pq.read_table(clean / dataset)
    out = [{k: v for k, v in r.items() if k not in VOLATILE} for r in table.to_pylist()]
    return sorted(out, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def snapshot_bytes(clean: Path) -> dict[str, bytes]:
    """Every file readers can see under ``clean``, by relative path, with its bytes."""
    return {
        str(p.relative_to(clean)): p.read_bytes()
        for d in ("articles", "removed", "rejected")
        for p in sorted((clean / d).glob("*.parquet"))
    }


WORDS = [
    "council",
    "harbor",
    "ferry",
    "winter",
    "budget",
    "minister",
    "river",
    "school",
    "hospital",
    "market",
    "shares",
    "energy",
    "police",
    "court",
    "storm",
    "election",
    "bridge",
    "station",
    "library",
    "museum",
    "farmers",
    "prices",
    "report",
    "wage",
]


def synthetic_corpus(root: Path, files: int, per_file: int, seed: int = 0) -> None:
    """JSON-lines files of made-up articles, each with a chrome line and a repeated paragraph."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        lines = []
        for i in range(per_file):
            paragraphs = [
                " ".join(rng.choice(WORDS) for _ in range(rng.randint(25, 60))).capitalize() + "."
                for _ in range(rng.randint(4, 12))
            ]
            paragraphs += [paragraphs[0], "Follow us on Telegram for more news"]
            lines.append(
                json.dumps(
                    {
                        "url": f"https://site{f % 7}.example/{seed}/{f}/{i}",
                        "title": f"Story {f}-{i}",
                        "text": "\n\n".join(paragraphs),
                        "published_at": f"2022-01-{1 + (i % 28):02d}T10:00:00Z",
                    }
                )
            )
        (root / f"feed-{f:04d}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
