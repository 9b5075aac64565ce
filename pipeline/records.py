"""One record type per thing that flows through the pipeline.

All records are frozen and slotted: stages build new records instead of mutating them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

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
