"""Shared fixtures. Prefect gets a throw-away home before anything imports it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_PREFECT_HOME = tempfile.mkdtemp(prefix="newsclean-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "raw"
SEED_NAME = "seed/000_58778b95823b92fe.txt"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (starting one costs seconds)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def sample_raw(tmp_path: Path) -> Path:
    """A private copy of the committed sample, so tests may add and change files."""
    dst = tmp_path / "raw"
    shutil.copytree(SAMPLE, dst)
    return dst


BROKEN_FILE = "export/valleytimes.csv"  # a file of the sample that broken_file breaks


@pytest.fixture
def broken_file(monkeypatch: pytest.MonkeyPatch) -> str:
    """Cleaning any record of ``BROKEN_FILE`` raises: not a bad record (those go to
    rejected/) but a failure of the code or the machine. Returns the file's path."""
    from pipeline import run as run_module

    original = run_module._add_cleaned

    def fail(cleaned: Any, *args: Any) -> None:
        if cleaned.article.source_path == BROKEN_FILE:
            raise ZeroDivisionError("division by zero")
        original(cleaned, *args)

    monkeypatch.setattr(run_module, "_add_cleaned", fail)
    return BROKEN_FILE


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_PREFECT_HOME, ignore_errors=True)
