import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.ingest import discover, parse_datetime, read_file
from pipeline.records import RawRecord, Rejection


def write(root: Path, rel: str, data: bytes) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(data)


def test_jsonl_field_aliases_meta_and_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "link": "https://www.x.example/a",
                "headline": "H",
                "body": "Body.",
                "pubDate": "Mon, 10 Jan 2022 08:30:00 +0300",
                "author": "A",
            }
        ),
        "{not json",
        json.dumps({"url": "https://x.example/b", "title": "T"}),
        json.dumps(["a", "list"]),
        "",
        json.dumps(
            {
                "href": "https://x.example/c",
                "content": ["p1", "p2"],
                "site": "Site",
                "date": "yesterday",
            }
        ),
    ]
    write(tmp_path, "a.jsonl", "\n".join(lines).encode())
    out = list(read_file(tmp_path, "a.jsonl"))
    assert out[0] == RawRecord(
        source_path="a.jsonl",
        record_no=0,
        text="Body.",
        url="https://www.x.example/a",
        title="H",
        published_at=datetime(2022, 1, 10, 5, 30, tzinfo=UTC),
        source="x.example",
        meta='{"author": "A"}',
    )
    assert out[1] == Rejection(
        "a.jsonl",
        1,
        "malformed JSON on line 2: Expecting property name enclosed in double quotes (column 2)",
        "{not json",
    )
    assert out[2] == Rejection(
        "a.jsonl", 2, "no text", '{"url": "https://x.example/b", "title": "T"}'
    )
    assert out[3] == Rejection("a.jsonl", 3, "line 4 is a JSON list, not an object")
    assert isinstance(out[4], RawRecord)
    assert out[4].record_no == 5 and out[4].text == "p1\n\np2" and out[4].source == "Site"
    assert out[4].published_at is None
    assert json.loads(out[4].meta or "") == {"published_at_unparsed": "yesterday"}
    assert len(out) == 5


def test_json_list_csv_parquet_and_gzip(tmp_path: Path) -> None:
    write(
        tmp_path,
        "l.json",
        json.dumps([{"url": "u.example/1", "text": "one"}, {"text": "two"}]).encode(),
    )
    write(tmp_path, "one.json.gz", gzip.compress(json.dumps({"article": "three"}).encode()))
    write(tmp_path, "c.csv", b'headline,text,extra\r\nT,"four\nlines",x\r\n')
    buf = pa.BufferOutputStream()
    pq.write_table(pa.table({"text": ["five"], "published_at": ["2022-01-13T09:00:00Z"]}), buf)
    write(tmp_path, "p.parquet", buf.getvalue().to_pybytes())
    texts = {rel: [r.text for r in read_file(tmp_path, rel)] for rel in discover(tmp_path)}
    assert texts == {
        "c.csv": ["four\nlines"],
        "l.json": ["one", "two"],
        "one.json.gz": ["three"],
        "p.parquet": ["five"],
    }
    (csv_rec,) = read_file(tmp_path, "c.csv")
    assert (
        isinstance(csv_rec, RawRecord) and csv_rec.title == "T" and csv_rec.meta == '{"extra": "x"}'
    )


def test_whole_file_failures_are_one_rejection_each(tmp_path: Path) -> None:
    write(tmp_path, "empty.txt", b"")
    write(tmp_path, "broken.json", b'{"text": ')
    write(tmp_path, "bad.jsonl.gz", b"not gzip at all")
    write(tmp_path, "notes.md", b"# hello")
    write(tmp_path, "bad.parquet", b"PAR1 garbage")
    got = {rel: list(read_file(tmp_path, rel)) for rel in discover(tmp_path)}
    assert got["empty.txt"] == [Rejection("empty.txt", None, "empty file", "")]
    assert got["broken.json"][0].error.startswith("malformed JSON: Expecting value")
    assert got["bad.jsonl.gz"][0].error.startswith("cannot read file: ")
    assert got["notes.md"] == [
        Rejection(
            "notes.md",
            None,
            "unsupported file type (not one of .jsonl, .ndjson, .json, .csv, .parquet, .txt)",
        )
    ]
    assert got["bad.parquet"][0].error.startswith("unreadable Parquet")
    assert all(len(v) == 1 and isinstance(v[0], Rejection) for v in got.values())


def test_discover_is_sorted_recursive_and_skips_hidden(tmp_path: Path) -> None:
    for rel in ("b/2.txt", "a.txt", ".hidden/x.txt", "b/.DS_Store", "b/1.txt"):
        write(tmp_path, rel, b"x")
    assert discover(tmp_path) == ["a.txt", "b/1.txt", "b/2.txt"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-01-10T08:30:00Z", datetime(2022, 1, 10, 8, 30, tzinfo=UTC)),
        ("2022-01-10 08:30", datetime(2022, 1, 10, 8, 30, tzinfo=UTC)),
        ("Mon, 10 Jan 2022 08:30:00 GMT", datetime(2022, 1, 10, 8, 30, tzinfo=UTC)),
        (1641803400, datetime(2022, 1, 10, 8, 30, tzinfo=UTC)),
        ("1641803400000", datetime(2022, 1, 10, 8, 30, tzinfo=UTC)),
        ("", None),
        ("n/a", None),
        (True, None),
    ],
)
def test_parse_datetime(value: object, expected: datetime | None) -> None:
    assert parse_datetime(value) == expected


def test_odd_values_cost_their_record_not_the_file(tmp_path: Path) -> None:
    lines = [
        {"text": "First.", "date": "0001-01-01T00:00:00+05:00"},
        {"text": "Second.", "date": "9999-12-31T23:00:00-05:00"},
        {"text": "Third.", "date": 99999999999999, "score": 1e400},
        {"text": "Fourth.", "date": "2022-01-10"},
    ]
    write(tmp_path, "a.jsonl", "\n".join(json.dumps(x) for x in lines).encode())
    out = list(read_file(tmp_path, "a.jsonl"))
    assert [type(r).__name__ for r in out] == ["RawRecord"] * 4
    assert [r.published_at for r in out] == [None, None, None, datetime(2022, 1, 10, tzinfo=UTC)]
    assert json.loads(out[2].meta or "") == {
        "published_at_unparsed": 99999999999999,
        "score": "inf",
    }


def test_a_stray_nul_byte_costs_its_line_only(tmp_path: Path) -> None:
    good = [json.dumps({"text": f"Article {i}."}) for i in range(5)]
    write(
        tmp_path,
        "a.jsonl",
        ("\n".join(good[:2]) + '\n{"text": "bad\x00"}\n' + "\n".join(good[2:])).encode(),
    )
    out = list(read_file(tmp_path, "a.jsonl"))
    assert [type(r).__name__ for r in out] == [
        "RawRecord",
        "RawRecord",
        "Rejection",
        "RawRecord",
        "RawRecord",
        "RawRecord",
    ]
    assert isinstance(out[2], Rejection) and out[2].record_no == 2


def test_a_file_without_records_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "empty.json", b"[]")
    write(tmp_path, "header.csv", b"title,text\r\n")
    assert list(read_file(tmp_path, "empty.json")) == [
        Rejection("empty.json", None, "no records in file")
    ]
    assert list(read_file(tmp_path, "header.csv")) == [
        Rejection("header.csv", None, "no records in file")
    ]


def test_a_url_that_is_not_one_gives_no_source(tmp_path: Path) -> None:
    write(tmp_path, "a.json", json.dumps({"url": 123, "text": "Body."}).encode())
    (record,) = read_file(tmp_path, "a.json")
    assert isinstance(record, RawRecord) and (record.url, record.source) == ("123", None)
