"""``newsclean serve``: scheduled flow runs on one machine, with no set-up.

If ``PREFECT_API_URL`` is set, the deployment is served against that API. Otherwise a local
Prefect server (``prefect server start``) is started in a child process on a free loopback port,
with its database under ``PREFECT_HOME``, and stopped on exit.

- One run at a time: the runner's ``limit=1`` keeps a scheduled run from starting while the
  last one still holds the writer lock (it would fail with ``LockedError``). A run that fails
  (missing raw directory, bad configuration, a crash) is recorded as Failed or Crashed and the
  next scheduled run starts as usual.
- Bounded database: flow runs of this deployment that ended more than ``retention`` ago are
  deleted through the API (with their task runs, states and logs), on any server. The local
  server also runs Prefect's own ``db_vacuum`` service for flow runs and events, which removes
  what API deletes leave behind (artifacts, orphaned logs) and whatever else ages out.
- SIGINT and SIGTERM both stop the runner (the run in flight is cancelled: a run is atomic,
  so the next one redoes its work), then every child process left, then the server; exit 0.
  If the local server dies, serve stops its runs and exits 1 (for a supervisor to restart it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn
from uuid import UUID

from pipeline.errors import NewscleanError

DEPLOYMENT = "newsclean-scheduled"
DEFAULT_CRON = "0 * * * *"
DEFAULT_RETENTION = "7d"
STARTUP_TIMEOUT_S = 120
STOP_TIMEOUT_S = 20
# Prefect's vacuum refuses retention periods of one hour or less.
VACUUM_MIN_RETENTION = timedelta(hours=1, seconds=1)
PRUNE_EVERY_MAX_S = 3600.0

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_retention(text: str) -> timedelta:
    """``7d``, ``12h``, ``90m``, ``30s``, or a plain number of days; ``0`` keeps runs forever."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 7d, 12h, 90m, 30s)")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2) or "d"])


RETENTION_HELP = (
    "delete this deployment's finished flow runs (with their task runs and logs) older than"
    " this from Prefect's database; the local server's vacuum also drops older runs, logs and"
    " artifacts (default: 7d; e.g. 30d, 12h, 90m; a plain number is days; 0 keeps them)"
)


def describe(retention: timedelta) -> str:
    """A retention as the user would write it: ``7d``, ``12h``, ``90m``, ``6s``."""
    seconds = retention.total_seconds()
    for unit in ("d", "h", "m"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{seconds / _UNITS[unit]:g}{unit}"
    return f"{seconds:g}s"


def retention_arg(text: str) -> timedelta:
    """``parse_retention`` for argparse: a bad value is a usage error (exit 2)."""
    try:
        return parse_retention(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def schedule_kwargs(cron: str | None, interval: float | None) -> dict[str, Any]:
    """The schedule for ``Runner.add_flow``: the interval if given, else the cron (hourly)."""
    if interval:
        return {"interval": interval}
    return {"cron": cron or DEFAULT_CRON}


def poll_seconds(interval: float | None) -> float | None:
    """How often the runner asks for due runs: Prefect's 10 s, or half a shorter interval.

    With one run at a time, a run due while another runs waits for the next poll.
    """
    if not interval:
        return None
    return min(max(interval / 2, 1.0), 10.0)


def prune_every(retention: timedelta) -> float:
    """How often to look for old runs: a quarter of the retention, at least 1 s, at most 1 h."""
    return min(max(retention.total_seconds() / 4, 1.0), PRUNE_EVERY_MAX_S)


# -- the local server ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(retention: timedelta) -> dict[str, str]:
    """The environment of the local server: Prefect's vacuum on for flow runs and events.

    Values the user set in the environment win. The vacuum deletes flow runs of every flow
    past its retention (at least an hour), with their logs and artifacts; events have their
    own retention (``PREFECT_SERVER_EVENTS_RETENTION_PERIOD``, 7 days by default).
    """
    env = dict(os.environ)
    if retention > timedelta(0):
        vacuum = max(retention, VACUUM_MIN_RETENTION)
        env.setdefault("PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED", "events,flow_runs")
        env.setdefault(
            "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD", str(int(vacuum.total_seconds()))
        )
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return env


def _wait_healthy(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if server.poll() is not None:
            raise NewscleanError(
                f"prefect server exited with code {server.returncode}; see {log}:\n" + _tail(log)
            )
        with suppress(OSError), urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            if response.status == 200:
                return
        if time.monotonic() > deadline:
            raise NewscleanError(f"prefect server did not answer on {url} in {STARTUP_TIMEOUT_S}s")
        time.sleep(0.5)


def _tail(path: Path, lines: int = 20) -> str:
    with suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (it runs in its own session), SIGKILL if it hangs."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    with suppress(ProcessLookupError):  # anything the server left in its group
        os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def local_server(retention: timedelta) -> Iterator[tuple[str, subprocess.Popen[bytes] | None]]:
    """The configured Prefect API (environment or profile), or a local server started here.

    The server gets its own session, so a Ctrl-C on the terminal reaches serve only: the
    runner must stop (and pause its schedule) while the API is still up. Its URL goes into
    the environment (for child processes) and into Prefect's settings context, which Prefect
    read when it was imported.
    """
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    settings = get_current_settings()
    if settings.api.url:
        yield str(settings.api.url), None
        return
    home = Path(settings.home)
    home.mkdir(parents=True, exist_ok=True)
    log = home / "newsclean-serve-server.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    cmd = [sys.executable, "-m", "prefect", "server", "start"]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    with open(log, "ab") as out:
        server = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=server_env(retention),
            start_new_session=True,
        )
    try:
        _wait_healthy(server, url, log)
        print(
            f"newsclean serve: started a Prefect server (pid {server.pid}), API {url}, "
            f"UI {url.removesuffix('/api')}, database and log in {home}",
            flush=True,
        )
        os.environ["PREFECT_API_URL"] = url
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url, server
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        _stop_group(server)


# -- pruning old flow runs -----------------------------------------------------------------


def prune_flow_runs(deployment_id: UUID, retention: timedelta, batch: int = 200) -> int:
    """Delete this deployment's finished flow runs that ended more than ``retention`` ago.

    Only runs in a final state go (Completed, Failed, Crashed, Cancelled); scheduled and
    running ones stay. Returns how many were deleted.
    """
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterEndTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import TERMINAL_STATES
    from prefect.exceptions import ObjectNotFound

    old = FlowRunFilter(
        deployment_id=FlowRunFilterDeploymentId(any_=[deployment_id]),
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=list(TERMINAL_STATES))),
        # a plain aware datetime: pydantic turns it into Prefect's DateTime
        end_time=FlowRunFilterEndTime(before_=datetime.now(UTC) - retention),  # type: ignore[arg-type]
    )
    deleted = 0
    with get_client(sync_client=True) as client:
        while runs := client.read_flow_runs(flow_run_filter=old, limit=batch):
            for run in runs:
                with suppress(ObjectNotFound):  # deleted meanwhile (vacuum, another serve)
                    client.delete_flow_run(run.id)
                    deleted += 1
            if len(runs) < batch:
                break
    return deleted


class Housekeeper(threading.Thread):
    """Prunes old flow runs now and then, and ends serve if the local server died.

    A thread, not a flow: pruning must not depend on the flow runs it cleans up, and it
    keeps going when every run fails.
    """

    def __init__(
        self,
        deployment_id: UUID,
        retention: timedelta,
        server: subprocess.Popen[bytes] | None,
    ) -> None:
        super().__init__(name="newsclean-housekeeper", daemon=True)
        self._context = contextvars.copy_context()  # Prefect's settings: the API URL
        self.deployment_id = deployment_id
        self.retention = retention
        self.server = server
        self._stop_event = threading.Event()

    def run(self) -> None:
        self._context.run(self._loop)

    def _loop(self) -> None:
        every = prune_every(self.retention)
        next_prune = time.monotonic()
        while not self._stop_event.is_set():
            server = self.server
            # dead, and not because serve stopped it (after stop() timed out on a slow prune)
            if server and server.poll() is not None and not self._stop_event.is_set():
                _exit_without_server(server)
            if self.retention and time.monotonic() >= next_prune:
                self._prune()
                next_prune = time.monotonic() + every
            self._stop_event.wait(timeout=1.0)

    def _prune(self) -> None:
        try:
            n = prune_flow_runs(self.deployment_id, self.retention)
        except Exception as exc:  # the API may be briefly unavailable; try again later
            print(f"newsclean serve: pruning old flow runs failed: {exc!r}", flush=True)
            return
        if n:
            print(
                f"newsclean serve: deleted {n} flow runs older than {describe(self.retention)}",
                flush=True,
            )

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=STOP_TIMEOUT_S)


def _exit_without_server(server: subprocess.Popen[bytes]) -> NoReturn:
    """The local server died: stop the runs and exit 1, for a supervisor to restart serve.

    Not the runner's graceful stop: every step of it calls the API, and its HTTP retries
    against a dead server take minutes. A run in flight cannot report its end anyway.
    """
    print(
        f"newsclean serve: the Prefect server exited with code {server.returncode}; stopping",
        flush=True,
    )
    _reap_children(keep={server.pid})
    _stop_group(server)
    print("newsclean serve: stopped (exit 1)", flush=True)
    os._exit(1)


# -- child processes -----------------------------------------------------------------------


def _become_subreaper() -> None:
    """Adopt orphaned descendants (Linux), so that none outlives serve.

    A flow run's own children (its shard process pool) are reparented to serve, not to
    init, if the run process dies first; ``_reap_children`` then finds them.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_child_subreaper = 36
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def _children(pid: int) -> list[int]:
    """Live children of ``pid``, from ``/proc/*/stat`` (Linux; empty elsewhere)."""
    found: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(stat.parent.name))
    return found


def _reap_children(keep: set[int]) -> None:
    """SIGTERM, then SIGKILL, every child still alive except ``keep`` (the server).

    multiprocessing's resource tracker is left alone: it ignores SIGTERM and exits by
    itself when serve does.
    """
    from multiprocessing import resource_tracker

    keep = keep | {getattr(resource_tracker._resource_tracker, "_pid", None) or -1}
    for sig in (signal.SIGTERM, signal.SIGKILL):
        left = [p for p in _children(os.getpid()) if p not in keep]
        if not left:
            return
        for pid in left:
            with suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in left):
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; reaps it if it is our exited child."""
    with suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- serve ---------------------------------------------------------------------------------


def _run_runner(runner: Any) -> None:
    """Run until SIGINT or SIGTERM; both stop the runner the same graceful way.

    The runner's own SIGTERM handler cancels the run in flight, stops polling and pauses
    the schedule (un-paused when serve starts again). SIGINT goes the same way rather than
    interrupting the event loop wherever it is; a second signal exits at once.
    """

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        print("newsclean serve: SIGINT received, stopping", flush=True)
        runner.handle_sigterm()

    signal.signal(signal.SIGINT, on_sigint)
    asyncio.run(runner.start())


def _ignore_signals() -> None:
    """While cleaning up (bounded by timeouts), a repeated Ctrl-C must not skip the rest."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def serve(
    cron: str | None = None,
    interval: float | None = None,
    raw: str | None = None,
    clean: str | None = None,
    config: str | None = None,
    retention: str | timedelta = DEFAULT_RETENTION,
) -> int:
    """Serve the flow on a schedule until SIGINT/SIGTERM (then 0; 1 if the server dies)."""
    keep = parse_retention(retention) if isinstance(retention, str) else retention
    _become_subreaper()
    # Until the runner installs its handlers, SIGTERM stops serve like Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with local_server(keep) as (url, server):
            return _serve_on(url, server, cron, interval, raw, clean, config, keep)
    except KeyboardInterrupt:
        return 0
    except SystemExit as exc:  # the runner's SIGTERM handler, when it had not started
        if exc.code not in (0, None):
            raise
        return 0
    finally:
        _ignore_signals()
        _reap_children(keep=set())
        print("newsclean serve: stopped", flush=True)


def _serve_on(
    url: str,
    server: subprocess.Popen[bytes] | None,
    cron: str | None,
    interval: float | None,
    raw: str | None,
    clean: str | None,
    config: str | None,
    retention: timedelta,
) -> int:
    from prefect.runner import Runner

    from flows.clean import newsclean_flow

    params = {"raw": raw, "clean": clean, "config": config}
    runner = Runner(
        name="newsclean-serve",
        limit=1,
        pause_on_shutdown=True,
        query_seconds=poll_seconds(interval),
    )
    deployment_id = runner.add_flow(
        newsclean_flow,
        name=DEPLOYMENT,
        parameters={k: v for k, v in params.items() if v is not None},
        **schedule_kwargs(cron, interval),
    )
    assert isinstance(deployment_id, UUID)  # add_flow is sync outside an event loop
    when = f"every {interval:g} s" if interval else f"cron {cron or DEFAULT_CRON!r}"
    kept = f"flow runs kept {describe(retention)}" if retention else "flow runs kept forever"
    print(
        f"newsclean serve: deployment newsclean/{DEPLOYMENT} ({deployment_id}) on {url}, "
        f"{when}, one run at a time, {kept}. Stop with Ctrl-C or SIGTERM.",
        flush=True,
    )
    housekeeper = Housekeeper(deployment_id, retention, server)
    housekeeper.start()
    try:
        _run_runner(runner)
    finally:
        _ignore_signals()
        housekeeper.stop()
        # Runs the runner could not stop, and their children, before the server goes.
        _reap_children(keep={server.pid} if server else set())
    return 0
