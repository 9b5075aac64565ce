"""The command line: exit codes, messages, summary (run with --no-prefect for speed)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flows.cli import main
from flows.stats import human_bytes
from pipeline.config import Config, DedupConfig

from .helpers import rows

REPO = Path(__file__).resolve().parents[1]


def test_run_prints_a_summary_and_exits_0_with_rejected_records(
    sample_raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "run",
            "--no-prefect",
            "--workers",
            "1",
            "--raw",
            str(sample_raw),
            "--clean",
            str(tmp_path / "c"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "committed" in out.splitlines()[0]
    assert "  rejected records            5" in out
    assert "  removed: duplicate_span     1" in out
    assert main(["stats", "--clean", str(tmp_path / "c")]) == 0
    stats = capsys.readouterr().out
    assert "articles  12 rows" in stats and "duplicate_span         1" in stats


def test_config_errors_name_the_bad_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "newsclean.toml"
    cfg.write_text("[dedup]\nnear_treshold = 80\n")
    assert main(["run", "--no-prefect", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "configuration error: unknown key dedup.near_treshold" in err
    cfg.write_text("[dedup]\nnear_threshold = 180\n")
    assert main(["run", "--no-prefect", "--config", str(cfg)]) == 2
    assert "dedup.near_threshold must be in (0, 100]" in capsys.readouterr().err


def test_missing_raw_directory_is_an_error_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            ["run", "--no-prefect", "--raw", str(tmp_path / "nope"), "--clean", str(tmp_path / "c")]
        )
        == 1
    )
    assert "raw directory not found" in capsys.readouterr().err


def test_stats_on_an_empty_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--clean", str(tmp_path)]) == 1
    assert "no committed dataset yet" in capsys.readouterr().out


def _argv(command: str, raw: Path, clean: Path, *more: str) -> list[str]:
    return [
        command,
        "--no-prefect",
        "--workers",
        "1",
        "--raw",
        str(raw),
        "--clean",
        str(clean),
        *more,
    ]


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root (links not followed), with its size and modification time."""
    return {
        str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


def test_dry_run_prints_what_would_change_and_writes_nothing(
    sample_raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = tmp_path / "clean"
    assert main(_argv("run", sample_raw, clean, "--dry-run")) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:9] == [
        "newsclean run --dry-run: nothing written",
        f"  files to take              13  ({human_bytes(_size(sample_raw))}, 1 shard)",
        "    new                      13",
        "    changed                  0",
        "    retaken                  0",
        "  output replaced (files)    0",
        "  output dropped (files)     0  (taken before, gone from the raw root)",
        "  rows now from those files  articles 0, removed 0, rejected 0",
        "  files unchanged (skipped)  0",
    ]
    assert len(out) == 9 + 13 and out[9].startswith("  new      bad/empty.txt ")
    assert not clean.exists()

    assert main(_argv("run", sample_raw, clean)) == 0
    capsys.readouterr()
    assert main(_argv("run", sample_raw, clean, "--dry-run")) == 0
    assert capsys.readouterr().out == (
        "newsclean run --dry-run: nothing written\n"
        "  nothing new: every raw file was already processed, unchanged (13 files unchanged)\n"
    )

    csv = sample_raw / "export" / "valleytimes.csv"
    csv.write_text(csv.read_text().replace("80 mm", "95 mm"))
    (sample_raw / "new.txt").write_text("A new article about the ferry, written on Friday.\n")
    (sample_raw / "bad" / "junk.txt").unlink()
    before = _tree(clean)
    globs = ["--path", "export/*", "--path", "bad/**", "--path", "new.txt"]
    assert main(_argv("backfill", sample_raw, clean, "--dry-run", *globs)) == 0
    out = capsys.readouterr().out.splitlines()
    taken = [
        "new.txt",
        "export/valleytimes.csv",
        "bad/empty.txt",
        "export/citynews.json",
        "export/portnews.parquet",
    ]
    old = {"bad/empty.txt", "bad/junk.txt", *taken[1:]}
    counts = {
        d: sum(r["source_path"] in old for r in rows(clean, d))
        for d in ("articles", "removed", "rejected")
    }
    assert counts["articles"] == 3 and counts["rejected"] == 3
    width = max(len(p) for p in taken)
    assert out == [
        "newsclean backfill --dry-run: nothing written",
        f"  files to take              5  ({human_bytes(sum(_size(sample_raw / p) for p in taken))}, 1 shard)",
        "    new                      1",
        "    changed                  1",
        "    retaken                  3",
        "  output replaced (files)    4",
        "  output dropped (files)     1  (taken before, gone from the raw root)",
        f"  rows now from those files  articles 3, removed {counts['removed']}, rejected 3",
        "  files unchanged (skipped)  8",
        *(
            f"  {kind:<8} {p:<{width}}  {human_bytes(_size(sample_raw / p)):>9}"
            for kind, p in zip(
                ["new", "changed", "retaken", "retaken", "retaken"], taken, strict=True
            )
        ),
        "  dropped  bad/junk.txt",
    ]
    assert _tree(clean) == before  # not even the lock file or a staging directory
    # What the dry run said is what the backfill does.
    assert main(_argv("backfill", sample_raw, clean, *globs)) == 0
    summary = capsys.readouterr().out
    assert re.search(r"^  files processed +5$", summary, re.M)
    assert re.search(r"^  files unchanged \(skipped\) +8$", summary, re.M)
    assert "bad/junk.txt" not in {r["source_path"] for r in rows(clean, "rejected")}


def _size(path: Path) -> int:
    return (
        sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        if path.is_dir()
        else path.stat().st_size
    )


def _config_hash(clean: Path) -> str:
    (part,) = (clean / "articles").glob("*.parquet")
    return pq.read_schema(part).metadata[b"newsclean.config_hash"].decode()


def test_set_overrides_the_config_file_and_its_hash(
    sample_raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "newsclean.toml"
    cfg.write_text("[dedup]\nnear_threshold = 80\n")
    plain, overridden = tmp_path / "plain", tmp_path / "overridden"
    assert main(_argv("run", sample_raw, plain, "--config", str(cfg))) == 0
    more = ["--config", str(cfg), "--set", "dedup.near_threshold=90", "--set", "dedup.min_chars=30"]
    assert main(_argv("run", sample_raw, overridden, *more)) == 0
    assert _config_hash(plain) == Config(dedup=DedupConfig(near_threshold=80.0)).digest()
    assert (
        _config_hash(overridden)
        == Config(dedup=DedupConfig(near_threshold=90.0, min_chars=30)).digest()
    )
    assert _config_hash(plain) != _config_hash(overridden)
    # --shard-mb and --set run.shard_mb change the shards (and not the hash: not the output).
    capsys.readouterr()
    for flag, shards in (
        ([], "1 shard"),
        (["--shard-mb", "0.001"], "5 shards"),  # the seed file alone is 16 KiB
        (["--set", "run.shard_mb=0.001"], "5 shards"),
    ):
        assert main(_argv("backfill", sample_raw, plain, "--dry-run", *flag)) == 0
        assert capsys.readouterr().out.splitlines()[1].endswith(f" KiB, {shards})")


def test_set_errors_name_the_key_as_the_config_file_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["run", "--no-prefect", "--raw", str(tmp_path), "--clean", str(tmp_path / "c")]
    cases = {
        "dedup.near_treshold=80": "unknown key dedup.near_treshold (known: across_articles,"
        " article_coverage, contained_coverage, min_chars, near_threshold, span_min_chars)",
        "dedup.near_threshold=180": "dedup.near_threshold must be in (0, 100]",
        "dedup.near_threshold=high": "dedup.near_threshold must be a number",
        "run.workers=-1": "run.workers must be >= 0 (0 = one per core)",
        "boilerplate.rule_files=['nope.toml']": "boilerplate.rule_files: no such file: "
        + str(Path("nope.toml").resolve()),
        "dedupe.min_chars=3": "unknown section [dedupe] (known: boilerplate, dedup, paths, run)",
        "min_chars=3": "--set 'min_chars=3': expected SECTION.KEY=VALUE, e.g. dedup.min_chars=30",
    }
    for setting, message in cases.items():
        assert main([*base, "--set", setting]) == 2, setting
        assert capsys.readouterr().err == f"newsclean: configuration error: {message}\n"
    assert not (tmp_path / "c").exists()


def test_stats_lists_the_last_runs(
    sample_raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = tmp_path / "clean"
    assert main(_argv("run", sample_raw, clean)) == 0
    (sample_raw / "new.txt").write_text("A new article about the ferry, written on Friday.\n")
    assert main(_argv("run", sample_raw, clean)) == 0
    assert main(_argv("backfill", sample_raw, clean, "--path", "new.txt")) == 0
    ids = re.findall(
        r"^newsclean (?:run|backfill) (\S+): committed$", capsys.readouterr().out, re.M
    )
    assert len(ids) == 3
    assert main(["stats", "--clean", str(clean)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "  raw files taken  14" in out
    i = out.index("  last 3 runs:")
    listed = [(line.split()[0], line.split()[1], line.split()[3]) for line in out[i + 1 :]]
    assert listed == [(ids[2], "backfill", "1"), (ids[1], "run", "1"), (ids[0], "run", "13")]


def test_a_file_that_breaks_its_shard_is_named_on_stderr(
    sample_raw: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    broken_file: str,
) -> None:
    assert main(_argv("run", sample_raw, tmp_path / "clean")) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):\n")
    assert re.search(
        r"\nnewsclean: raw file 'export/valleytimes.csv' \(record 0\) failed in shard 0 of run"
        r" \S+: ZeroDivisionError: division by zero\n\Z",
        err,
    )


def test_progress_bar_on_a_terminal_without_prefect(sample_raw: Path, tmp_path: Path) -> None:
    primary, replica = pty.openpty()
    cmd = [sys.executable, "-m", "flows.cli", *_argv("run", sample_raw, tmp_path / "clean")]
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    proc = subprocess.Popen(cmd, cwd=REPO, stdin=replica, stdout=replica, stderr=replica, env=env)
    os.close(replica)
    screen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        screen += chunk
    os.close(primary)
    assert proc.wait(timeout=60) == 0
    assert b"cleaning 13 files" in screen and b"\xe2\x94\x81" in screen  # the bar's line
    assert b"committed\r\n  files processed" in screen
    # Not on a pipe: no bar in captured output.
    clean = tmp_path / "piped"
    piped = subprocess.run([*cmd[:-1], str(clean)], cwd=REPO, capture_output=True, check=True)
    assert b"cleaning" not in piped.stderr + piped.stdout
