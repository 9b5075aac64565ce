"""The Prefect flow around the library, and the library's independence from Prefect."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import rows

REPO = Path(__file__).resolve().parents[1]


def test_pipeline_never_imports_prefect() -> None:
    code = (
        "import sys, pkgutil, importlib, pipeline\n"
        "for m in pkgutil.walk_packages(pipeline.__path__, 'pipeline.'): importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n == 'prefect' or n.startswith('prefect.'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.usefixtures("prefect_harness")
def test_flow_runs_the_sample_and_publishes_a_table_artifact(
    sample_raw: Path, tmp_path: Path
) -> None:
    from prefect.artifacts import Artifact

    from flows.clean import newsclean_flow

    clean = tmp_path / "clean"
    state = newsclean_flow(raw=str(sample_raw), clean=str(clean), workers=1, return_state=True)
    assert state.is_completed()
    summary = state.result()
    assert summary["committed"] and summary["articles_written"] == 12 and summary["rejected"] == 5
    assert summary["removed"] == {
        "boilerplate_rule": 12,
        "duplicate_article": 1,  # the syndicated copy of a wire story
        "duplicate_exact": 5,  # its four paragraphs, and one repeated in an article
        "duplicate_near": 1,
        "duplicate_span": 1,
    }
    assert len(rows(clean, "articles")) == 12
    artifact = Artifact.get("newsclean-run")
    assert artifact is not None and artifact.type == "table"
    assert "articles written" in str(artifact.data)

    again = newsclean_flow(raw=str(sample_raw), clean=str(clean), workers=1)
    assert again["files_processed"] == 0 and again["message"].startswith("nothing new")


@pytest.mark.usefixtures("prefect_harness")
def test_backfill_reprocesses_everything_with_the_same_result(
    sample_raw: Path, tmp_path: Path
) -> None:
    from flows.clean import newsclean_flow

    clean = tmp_path / "clean"
    newsclean_flow(raw=str(sample_raw), clean=str(clean), workers=1)
    before = rows(clean, "articles")
    result = newsclean_flow(raw=str(sample_raw), clean=str(clean), mode="backfill", workers=1)
    assert result["files_processed"] == 13
    assert rows(clean, "articles") == before
