"""``newsclean serve``: scheduled flow runs on one machine, with no set-up.

If ``PREFECT_API_URL`` is set, the deployment is served against that API. Otherwise a local
Prefect server (``prefect server start``, with its scheduler service) is started in a child
process on a free loopback port, with its database under ``PREFECT_HOME``, and stopped on exit.
SIGINT and SIGTERM both stop the runner, then the server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType

DEFAULT_CRON = "0 * * * *"
STARTUP_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def local_server() -> Iterator[str]:
    """The configured Prefect API, or a local server started (and stopped) here."""
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    cmd = [
        sys.executable,
        "-m",
        "prefect",
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"prefect server exited with code {server.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"prefect server did not answer on {url} in {STARTUP_TIMEOUT_S}s"
                )
            time.sleep(0.5)
        os.environ["PREFECT_API_URL"] = url
        yield url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(
    cron: str | None = None,
    interval: float | None = None,
    raw: str | None = None,
    clean: str | None = None,
    config: str | None = None,
) -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    with local_server() as url:
        print(f"newsclean serve: Prefect API {url}", flush=True)
        from flows.clean import newsclean_flow

        params = {"raw": raw, "clean": clean, "config": config}
        with suppress(KeyboardInterrupt):
            newsclean_flow.serve(
                name="newsclean-scheduled",
                cron=None if interval else (cron or DEFAULT_CRON),
                interval=interval,
                parameters={k: v for k, v in params.items() if v is not None},
            )
    print("newsclean serve: stopped", flush=True)
    return 0
