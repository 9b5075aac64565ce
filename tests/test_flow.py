"""The Prefect flow around the library, and the library's independence from Prefect."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import ShardFailedError

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


def _task_runs(flow_run_id: Any) -> dict[str, int]:
    """The task runs of a flow run, by task name (``plan-1a2`` -> ``plan``): how often each ran."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return {r.name.rsplit("-", 1)[0]: r.run_count for r in runs}


def _logs(flow_run_id: Any) -> list[str]:
    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return [log.message for log in logs]


@pytest.mark.usefixtures("prefect_harness")
def test_flow_takes_overrides_and_paths_as_parameters(sample_raw: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from flows.clean import newsclean_flow
    from pipeline.config import Config, DedupConfig
    from pipeline.errors import ConfigError

    clean = tmp_path / "clean"
    overrides = {"dedup": {"near_threshold": 90}}
    newsclean_flow(raw=str(sample_raw), clean=str(clean), workers=1, overrides=overrides)
    (part,) = (clean / "articles").glob("*.parquet")
    digest = Config(dedup=DedupConfig(near_threshold=90.0)).digest()
    assert pq.read_schema(part).metadata[b"newsclean.config_hash"] == digest.encode()
    result = newsclean_flow(
        raw=str(sample_raw), clean=str(clean), mode="backfill", workers=1, paths=["export/*.csv"]
    )
    assert (result["files_processed"], result["files_unchanged"]) == (1, 12)
    # A glob that names nothing fails the plan once: it is not worth a retry.
    state = newsclean_flow(
        raw=str(sample_raw),
        clean=str(clean),
        mode="backfill",
        paths=["exports/*.csv"],
        return_state=True,
    )
    assert state.is_failed()
    with pytest.raises(ConfigError, match=r"--path 'exports/\*.csv' matches no raw file"):
        state.result()
    assert _task_runs(state.state_details.flow_run_id) == {"plan": 1}


@pytest.mark.usefixtures("prefect_harness")
def test_flow_names_the_file_that_broke_a_shard(
    sample_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken_file: str
) -> None:
    from flows import clean as flow_module

    monkeypatch.setattr(flow_module, "shard_task", flow_module.shard_task.with_options(retries=0))
    state = flow_module.newsclean_flow(
        raw=str(sample_raw), clean=str(tmp_path / "clean"), workers=1, return_state=True
    )
    assert state.is_failed()
    with pytest.raises(ShardFailedError) as failure:
        state.result()
    message = re.compile(
        r"raw file 'export/valleytimes.csv' \(record 0\) failed in shard 0 of run \S+:"
        r" ZeroDivisionError: division by zero"
    )
    assert message.fullmatch(str(failure.value))
    logs = _logs(state.state_details.flow_run_id)
    assert any(message.search(log) for log in logs), logs
