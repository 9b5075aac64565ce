"""Parquet schemas of the three datasets, written out in full and versioned.

Columns beyond DESIGN.md's tables, and why: ``articles.record_no`` and ``meta`` (the unmapped
input fields DESIGN.md asks us to keep), ``removed.source_path``/``record_no`` (which raw record
a removal came from: two records can share an article id when they share a URL), and
``run_id``/``ingested_at`` on every dataset.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

SCHEMA_VERSION = "1"

_TS = pa.timestamp("us", tz="UTC")

ARTICLES = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("source", pa.string()),
        pa.field("title", pa.string()),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("record_no", pa.int32(), nullable=False),
        pa.field("published_at", _TS),
        pa.field("text", pa.string(), nullable=False),
        pa.field("duplicate_of", pa.string()),
        pa.field("fixes", pa.list_(pa.string()), nullable=False),
        pa.field("n_paragraphs_in", pa.int32(), nullable=False),
        pa.field("n_paragraphs_out", pa.int32(), nullable=False),
        pa.field("meta", pa.string()),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("ingested_at", _TS, nullable=False),
    ]
)

REMOVED = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("position", pa.int32()),  # null for a whole article
        pa.field("text", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
        pa.field("matched_article_id", pa.string()),
        pa.field("matched_position", pa.int32()),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("record_no", pa.int32(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("ingested_at", _TS, nullable=False),
    ]
)

REJECTED = pa.schema(
    [
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("record_no", pa.int32()),  # null when the whole file is unreadable
        pa.field("error", pa.string(), nullable=False),
        pa.field("excerpt", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("ingested_at", _TS, nullable=False),
    ]
)

# The persistent paragraph index, under .newsclean/: every line of every live article's text
# after in-article cleaning, with what corpus-wide matching needs (pipeline/corpus.py).
INDEX = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("record_no", pa.int32(), nullable=False),
        pa.field("published_at", _TS),
        pa.field("line", pa.int32(), nullable=False),  # line of the article's text
        pa.field("position", pa.int32(), nullable=False),  # paragraph position in the input
        pa.field("chars", pa.int32(), nullable=False),
        pa.field("key", pa.uint64()),  # match-key hash (exact copies); null: too short
        pa.field("text_hash", pa.uint64()),  # hash of the text itself (verified pairs)
        # Template keys of learned boilerplate (pipeline/learned.py); 0: none.
        pa.field("shape", pa.uint64(), nullable=False),
        pa.field("head", pa.uint64(), nullable=False),
        pa.field("lead", pa.uint64(), nullable=False),
        pa.field("bands", pa.list_(pa.uint32(), 64), nullable=False),  # LSH band keys
        pa.field("text", pa.string(), nullable=False),
    ]
)

# Verified copies between two texts (by text_hash): they depend on the two texts only.
EDGES = pa.schema(
    [
        pa.field("a", pa.uint64(), nullable=False),
        pa.field("b", pa.uint64(), nullable=False),
        pa.field("score", pa.float32(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # ratio | contained (a in b)
    ]
)

# Bookkeeping, under .newsclean/: which raw files were taken, and the run history.
MANIFEST = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("mtime_ns", pa.int64(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

RUNS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("mode", pa.string(), nullable=False),
        pa.field("started_at", _TS, nullable=False),
        pa.field("finished_at", _TS, nullable=False),
        pa.field("files", pa.int32(), nullable=False),
        pa.field("records", pa.int64(), nullable=False),
        pa.field("articles", pa.int64(), nullable=False),
        pa.field("removed", pa.int64(), nullable=False),
        pa.field("rejected", pa.int64(), nullable=False),
        pa.field("summary", pa.string(), nullable=False),  # the full RunSummary as JSON
        pa.field("config_hash", pa.string(), nullable=False),
        pa.field("version", pa.string(), nullable=False),
    ]
)

DATASETS: dict[str, pa.Schema] = {"articles": ARTICLES, "removed": REMOVED, "rejected": REJECTED}
# Part directories of a snapshot that readers do not see (no link under data/clean/).
STATE_PARTS: dict[str, pa.Schema] = {"index": INDEX, "edges": EDGES}
PARTS: dict[str, pa.Schema] = {**DATASETS, **STATE_PARTS}


class Columns:
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
