"""A Prefect API for this process and the processes it starts.

With no ``PREFECT_API_URL``, Prefect starts a temporary server inside each process that needs
one (7 to 11 s each). Shard tasks in a process pool would each start their own, and their
task runs would land on servers nobody sees. So we start one local server, and export its
URL to the environment that child processes inherit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.settings import PREFECT_API_URL, temporary_settings


@contextmanager
def prefect_api() -> Iterator[str]:
    """Yield the API URL in use: the configured one, else a local server's until exit."""
    configured = os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()
    if configured:
        previous = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = configured  # for child processes
        try:
            yield configured
        finally:
            _restore(previous)
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            yield server.api_url
    finally:
        _drain_to_api()
        _restore(previous)
        server.stop()


def _drain_to_api() -> None:
    """Send queued logs and events before the server goes, or they retry into the void."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)
    EventsWorker.drain_all(timeout=5)


def _restore(previous: str | None) -> None:
    if previous is None:
        os.environ.pop("PREFECT_API_URL", None)
    else:
        os.environ["PREFECT_API_URL"] = previous
