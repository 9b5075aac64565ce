"""The command line: exit codes, messages, summary (run with --no-prefect for speed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main


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
