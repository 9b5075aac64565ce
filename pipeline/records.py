"""One record type per thing that flows through the pipeline.

All records are frozen and slotted: stages build new records instead of mutating them.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

Reason = Literal[
    "boilerplate_rule",
    "boilerplate_learned",
    "duplicate_exact",
    "duplicate_near",
    "duplicate_span",
    "duplicate_article",
]


@dataclass(frozen=True, slots=True)
class RawRecord:
    """An article as read from a raw file, decoded but not yet repaired."""

    source_path: str  # relative to the raw root, with "/" separators
    record_no: int  # 0-based position of the record in its file
    text: str
    url: str | None = None
    title: str | None = None
    published_at: datetime | None = None
    source: str | None = None
    meta: str | None = None  # the fields we do not map, as JSON
    fixes: tuple[str, ...] = ()  # what reading did, e.g. "decoded:cp1251"


@dataclass(frozen=True, slots=True)
class Rejection:
    """An input that could not be read, with the reason."""

    source_path: str
    record_no: int | None  # None when the whole file is unreadable
    error: str
    excerpt: str = ""


@dataclass(frozen=True, slots=True)
class Removal:
    """One paragraph, or one span inside a paragraph, taken out of an article."""

    article_id: str
    position: int | None  # paragraph position in the repaired input; None for a whole article
    text: str
    reason: Reason
    detail: str
    matched_article_id: str | None = None
    matched_position: int | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """A cleaned article: one row of ``articles/``."""

    article_id: str
    source_path: str
    record_no: int
    url: str | None
    source: str | None
    title: str | None
    published_at: datetime | None
    text: str
    fixes: tuple[str, ...]
    n_paragraphs_in: int
    n_paragraphs_out: int
    meta: str | None = None
    duplicate_of: str | None = None


@dataclass(frozen=True, slots=True)
class Cleaned:
    """What cleaning one raw record produced: the article and its removals."""

    article: Article
    removals: tuple[Removal, ...] = field(default=())
    positions: tuple[int, ...] = ()  # input position of each line of ``article.text``


@dataclass(frozen=True, slots=True)
class RawFile:
    """A raw input file: its path relative to the raw root, size, content hash, and its
    modification time when it was planned (a later change makes the next run look again)."""

    path: str
    size: int
    sha256: str
    mtime_ns: int = 0


# -- a run ----------------------------------------------------------------------------------

Mode = Literal["run", "backfill"]


@dataclass(frozen=True, slots=True)
class Plan:
    """What one run will do. Small and picklable: it is passed to every shard task."""

    run_id: str
    mode: Mode
    raw_root: str
    clean_root: str
    started_at: datetime
    config_hash: str
    shards: tuple[tuple[RawFile, ...], ...]
    replaced: frozenset[str]  # raw paths whose earlier output this run replaces
    unchanged: int  # raw files skipped because they were taken before, unchanged
    since: datetime | None = None
    until: datetime | None = None

    @property
    def files(self) -> list[RawFile]:
        return [f for shard in self.shards for f in shard]


@dataclass(frozen=True, slots=True)
class ShardResult:
    shard_no: int
    files: int
    bytes: int
    records: int
    articles: int
    rejected: int
    removed: dict[str, int]
    seconds: float


@dataclass(slots=True)
class RunSummary:
    """What a run did; the CLI prints it, the flow makes a table artifact of it."""

    run_id: str
    mode: str
    committed: bool
    files_seen: int = 0
    files_processed: int = 0
    files_unchanged: int = 0
    bytes_processed: int = 0
    records: int = 0
    articles_written: int = 0
    articles_duplicate_id: int = 0
    rejected: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    paragraphs_in: int = 0
    paragraphs_out: int = 0
    dataset_rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    corpus_seconds: float = 0.0  # the corpus-wide step: candidates, verification, decisions
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_run_id(now: datetime) -> str:
    """Sortable by time, unique across machines: ``20261124T153000123456Z-1a2b``."""
    return f"{now:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(2)}"
