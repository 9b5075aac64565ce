"""Read raw files into RawRecords, and everything unreadable into Rejections.

Formats are recognised by name (``.gz`` on any of them means gzip): ``.jsonl``/``.ndjson``
(one article per line), ``.json`` (one article or a list), ``.csv``, ``.parquet`` and ``.txt``
(one article per file). Field names differ between scrapers; ``FIELD_ALIASES`` maps them.
A bad record never stops the file, and a bad file never stops the run.
"""

from __future__ import annotations

import csv
import email.utils
import gzip
import io
import json
import math
import os
import re
import sys
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.parquet as pq

from pipeline.decode import decode_bytes
from pipeline.errors import RecordError
from pipeline.records import RawRecord, Rejection

FORMATS = (".jsonl", ".ndjson", ".json", ".csv", ".parquet", ".txt")

# Our field -> the names scrapers use for it, in order of preference (DESIGN.md).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "url": ("url", "link", "href"),
    "title": ("title", "headline"),
    "text": ("text", "content", "body", "article"),
    "published_at": ("published_at", "date", "published", "pubDate"),
    "source": ("source", "site", "domain"),
}

EXCERPT_CHARS = 200

csv.field_size_limit(sys.maxsize)


def file_format(path: str) -> str | None:
    """The format of a raw file from its name, or None if it is not one we read.

    >>> file_format("a/b/2024-01.JSONL.gz")
    '.jsonl'
    >>> file_format("notes.md") is None
    True
    """
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for ext in FORMATS:
        if name.endswith(ext):
            return ext
    return None


def discover(raw_root: Path) -> list[str]:
    """Every file under raw_root (recursively, hidden ones skipped), sorted, as relative paths."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(raw_root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            rel = Path(dirpath, name).relative_to(raw_root).as_posix()
            found.append(rel)
    return sorted(found)


def read_file(raw_root: Path, rel_path: str) -> Iterator[RawRecord | Rejection]:
    """Yield every record of one raw file, or Rejections for what cannot be read."""
    fmt = file_format(rel_path)
    if fmt is None:
        yield Rejection(
            rel_path, None, "unsupported file type (not one of " + ", ".join(FORMATS) + ")"
        )
        return
    try:
        data = (raw_root / rel_path).read_bytes()
        if rel_path.lower().endswith(".gz"):
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        yield Rejection(rel_path, None, f"cannot read file: {exc}")
        return
    try:
        if fmt == ".parquet":
            yield from _records_from_rows(rel_path, _parquet_rows(data), ())
            return
        text, encoding = decode_bytes(data)
    except RecordError as exc:
        yield Rejection(rel_path, None, str(exc), _excerpt(data))
        return
    fixes = (f"decoded:{encoding}",) if encoding else ()
    if fmt == ".txt":
        yield from _records_from_rows(rel_path, iter([(0, {"text": text})]), fixes)
    elif fmt in (".jsonl", ".ndjson"):
        yield from _records_from_rows(rel_path, _jsonl_rows(text), fixes)
    elif fmt == ".json":
        yield from _records_from_rows(rel_path, _json_rows(text), fixes)
    else:
        yield from _records_from_rows(rel_path, _csv_rows(text), fixes)


Row = tuple[int, dict[str, Any] | RecordError]


def _jsonl_rows(text: str) -> Iterator[Row]:
    for line_no, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield (
                line_no,
                RecordError(
                    f"malformed JSON on line {line_no + 1}: {exc.msg} (column {exc.colno})",
                    line[:EXCERPT_CHARS],
                ),
            )
            continue
        yield (
            line_no,
            obj
            if isinstance(obj, dict)
            else RecordError(f"line {line_no + 1} is a JSON {type(obj).__name__}, not an object"),
        )


def _json_rows(text: str) -> Iterator[Row]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"malformed JSON: {exc}", text[:EXCERPT_CHARS]) from None
    items = obj if isinstance(obj, list) else [obj]
    for i, item in enumerate(items):
        yield (
            i,
            item
            if isinstance(item, dict)
            else RecordError(f"item {i} is a JSON {type(item).__name__}, not an object"),
        )


def _csv_rows(text: str) -> Iterator[Row]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        for i, row in enumerate(reader):
            if None in row:  # more cells than header columns
                yield i, RecordError(f"CSV row {i + 1} has more cells than the header")
                continue
            yield i, {k: v for k, v in row.items() if k is not None and v not in (None, "")}
    except csv.Error as exc:
        raise RecordError(f"malformed CSV: {exc}") from None


def _parquet_rows(data: bytes) -> Iterator[Row]:
    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise RecordError(f"unreadable Parquet: {exc}") from None
    for i, row in enumerate(table.to_pylist()):
        yield i, {k: v for k, v in row.items() if v is not None}


def _records_from_rows(
    rel_path: str, rows: Iterator[Row], fixes: tuple[str, ...]
) -> Iterator[RawRecord | Rejection]:
    seen = False
    try:
        for record_no, row in rows:
            seen = True
            if isinstance(row, RecordError):
                yield Rejection(rel_path, record_no, str(row), row.excerpt)
                continue
            try:
                yield record_from_fields(rel_path, record_no, row, fixes)
            except RecordError as exc:
                yield Rejection(rel_path, record_no, str(exc), _excerpt(row))
            except Exception as exc:  # an odd value must cost its record, not the file
                error = f"unreadable record: {type(exc).__name__}: {exc}"
                yield Rejection(rel_path, record_no, error, _excerpt(row))
    except RecordError as exc:
        yield Rejection(rel_path, None, str(exc), exc.excerpt)
        return
    if not seen:  # an empty list, a header without rows: say so rather than leave no trace
        yield Rejection(rel_path, None, "no records in file")


def record_from_fields(
    rel_path: str, record_no: int, row: dict[str, Any], fixes: tuple[str, ...] = ()
) -> RawRecord:
    """Map a scraper's fields onto a RawRecord; unmapped fields go to ``meta`` as JSON."""
    values: dict[str, Any] = {}
    used: set[str] = set()
    for name, aliases in FIELD_ALIASES.items():
        for alias in aliases:
            if alias in row and row[alias] not in (None, ""):
                values[name] = row[alias]
                used.add(alias)
                break
    text = values.get("text")
    if isinstance(text, list) and all(isinstance(p, str) for p in text):
        text = "\n\n".join(text)
    if not isinstance(text, str) or not text.strip():
        raise RecordError(
            "no text" if text is None or text == "" else "no text (blank or not a string)"
        )
    url = _as_str(values.get("url"))
    meta_fields = {k: v for k, v in row.items() if k not in used}
    published_at: datetime | None = None
    if "published_at" in values:
        published_at = parse_datetime(values["published_at"])
        if published_at is None:
            meta_fields["published_at_unparsed"] = values["published_at"]
    source = _as_str(values.get("source")) or host_of(url)
    return RawRecord(
        source_path=rel_path,
        record_no=record_no,
        text=text,
        url=url,
        title=_as_str(values.get("title")),
        published_at=published_at,
        source=source,
        meta=_json_or_str(meta_fields) if meta_fields else None,
        fixes=fixes,
    )


def _json_or_str(value: Any) -> str:
    """Strict JSON (no NaN or Infinity, which other readers reject), else ``str`` values."""
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), ensure_ascii=False, sort_keys=True, default=str)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    s = str(value).strip()
    return s or None


def host_of(url: str | None) -> str | None:
    """The host of a URL, lower-cased, without ``www.``.

    >>> host_of("https://WWW.Example.com:443/a?b")
    'example.com'
    """
    if not url:
        return None
    try:
        host = urlsplit(url if "//" in url else "//" + url).hostname
    except ValueError:
        return None
    if not host or "." not in host:
        return None
    return host.removeprefix("www.")


# Dates outside these years are typos or placeholders ("0001-01-01", epoch in microseconds).
MIN_YEAR, MAX_YEAR = 1800, 2200

_EPOCH_RE = re.compile(r"^\d{9,13}(\.\d+)?$")


def parse_datetime(value: Any) -> datetime | None:
    """Parse the dates scrapers write: ISO 8601, RFC 2822, epoch seconds or milliseconds.

    Naive times are taken as UTC; the result is always UTC.

    >>> parse_datetime("Mon, 10 Jan 2022 08:30:00 +0300").isoformat()
    '2022-01-10T05:30:00+00:00'
    >>> parse_datetime("2022-01-10").isoformat()
    '2022-01-10T00:00:00+00:00'
    >>> parse_datetime("last Tuesday") is None
    True
    """
    dt: datetime | None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch(float(value))
    elif isinstance(value, str):
        s = value.strip()
        if not s:
            return None
        if _EPOCH_RE.match(s):
            return _from_epoch(float(s))
        try:
            dt = datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith("Z") else s)
        except ValueError:
            try:
                dt = email.utils.parsedate_to_datetime(s)
            except (TypeError, ValueError, IndexError):
                return None
    else:
        return None
    try:
        utc = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    except (OverflowError, ValueError):  # "0001-01-01T00:00:00+05:00" has no UTC time
        return None
    return utc if MIN_YEAR <= utc.year <= MAX_YEAR else None


def _from_epoch(x: float) -> datetime | None:
    if x > 1e11:  # milliseconds
        x /= 1000.0
    try:
        dt = datetime.fromtimestamp(x, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return dt if MIN_YEAR <= dt.year <= MAX_YEAR else None


def _excerpt(obj: Any) -> str:
    if isinstance(obj, bytes):
        head = obj[: EXCERPT_CHARS // 2]
        return head.decode("utf-8", errors="backslashreplace")
    if isinstance(obj, dict):
        return json.dumps(obj, ensure_ascii=False, default=str)[:EXCERPT_CHARS]
    return str(obj)[:EXCERPT_CHARS]
