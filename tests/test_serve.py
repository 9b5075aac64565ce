"""``newsclean serve`` as a user runs it: a subprocess on a machine with nothing configured.

Each end-to-end test starts the real command with a fresh ``PREFECT_HOME`` and no
``PREFECT_API_URL`` (so serve starts its own Prefect server, 7 to 11 s), watches flow runs
through the server's REST API and the dataset through ``pipeline.store``, then stops serve
with a signal and checks that nothing is left: exit code 0, no process that carries the
test's ``PREFECT_HOME`` (server, runner's flow-run processes, their children), the port free.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import pytest

from flows.cli import build_parser
from flows.serve import (
    describe,
    parse_retention,
    poll_seconds,
    prune_every,
    schedule_kwargs,
    server_env,
)
from pipeline.store import Store

from .conftest import REPO, SAMPLE
from .helpers import synthetic_corpus

T = TypeVar("T")
DEADLINE_S = 150  # generous: a loaded 2-core machine starts the server in 30 s or more

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


# -- fast checks of the pieces ---------------------------------------------------------------


def test_retention_option_parses_durations_with_a_seven_day_default() -> None:
    assert build_parser().parse_args(["serve"]).retention == timedelta(days=7)
    args = build_parser().parse_args(["serve", "--interval", "60", "--retention", "12h"])
    assert (args.interval, args.retention) == (60.0, timedelta(hours=12))
    assert parse_retention("30") == timedelta(days=30)
    assert parse_retention("90m") == timedelta(minutes=90)
    assert parse_retention("1.5s") == timedelta(seconds=1.5)
    assert parse_retention("0") == timedelta(0)
    assert [describe(parse_retention(t)) for t in ("7d", "36h", "90m", "6s", "1.5s")] == [
        "7d",
        "36h",
        "90m",
        "6s",
        "1.5s",
    ]
    with pytest.raises(ValueError, match="not a duration"):
        parse_retention("3 weeks")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--retention", "-1d"])


def test_schedule_and_vacuum_settings() -> None:
    assert schedule_kwargs(None, 900.0) == {"interval": 900.0}
    assert schedule_kwargs("*/5 * * * *", None) == {"cron": "*/5 * * * *"}
    assert schedule_kwargs(None, None) == {"cron": "0 * * * *"}
    assert (prune_every(timedelta(seconds=2)), prune_every(timedelta(days=7))) == (1.0, 3600.0)
    assert (poll_seconds(None), poll_seconds(2), poll_seconds(900)) == (None, 1.0, 10.0)
    env = server_env(timedelta(days=7))
    assert env["PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED"] == "events,flow_runs"
    assert env["PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD"] == "604800"
    # Prefect's vacuum takes no retention of an hour or less; serve prunes shorter ones itself
    env = server_env(timedelta(seconds=6))
    assert env["PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD"] == "3601"
    assert "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED" not in server_env(timedelta(0))


HOUSEKEEPER_WITH_DYING_SERVER = """
import subprocess, sys, time
from datetime import timedelta
from uuid import uuid4
from flows.serve import Housekeeper
server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1)"])
run = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print("run", run.pid, flush=True)
Housekeeper(uuid4(), timedelta(0), server).start()
time.sleep(120)
"""


def test_serve_exits_1_and_stops_its_runs_when_the_server_dies() -> None:
    """Not the runner's graceful stop, which retries against the dead API for minutes."""
    result = subprocess.run(
        [sys.executable, "-c", HOUSEKEEPER_WITH_DYING_SERVER],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    run_pid = int(re.search(r"run (\d+)", result.stdout)[1])  # type: ignore[index]
    assert result.stdout.endswith(
        "newsclean serve: the Prefect server exited with code 0; stopping\n"
        "newsclean serve: stopped (exit 1)\n"
    )
    wait_for("the run process gone", lambda: not Path(f"/proc/{run_pid}").exists(), timeout=15)


# -- helpers for the end-to-end tests --------------------------------------------------------


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = DEADLINE_S) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.3)


class Serve:
    """``newsclean serve`` in a subprocess, in its own session (as a shell would start it)."""

    def __init__(self, tmp: Path, n: int, *args: str) -> None:
        self.home = tmp / "prefect-home"  # shared by the serves of one test: a restart
        self.log = tmp / f"serve-{n}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env |= {"PREFECT_HOME": str(self.home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "flows.cli", "serve", *args],
                cwd=tmp,
                env=env | {"PYTHONPATH": str(REPO)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.server_pid, self.api = 0, ""

    def wait_started(self) -> None:
        """Until serve printed its server's pid and URL, and its deployment."""
        started = wait_for(
            "the Prefect server", lambda: self._match(r"server \(pid (\d+)\), API (\S+),")
        )
        self.server_pid, self.api = int(started[1]), started[2]
        wait_for(
            "the deployment", lambda: self._match(r"deployment newsclean/\S+ \(([0-9a-f-]+)\)")
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def _match(self, pattern: str) -> re.Match[str] | None:
        if self.proc.poll() is not None:
            pytest.fail(f"serve exited with {self.proc.returncode}:\n{self.output()[-3000:]}")
        return re.search(pattern, self.output())

    def post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            self.api + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=20) as response:
            return json.load(response)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.api + path, timeout=20) as response:
            return json.load(response)

    def flow_runs(self, *states: str) -> list[dict[str, Any]]:
        """The server's flow runs in these states (serve's deployment is the only one)."""
        body = {
            "flow_runs": {"state": {"type": {"any_": list(states)}}},
            "sort": "EXPECTED_START_TIME_ASC",
        }
        return list(self.post("/flow_runs/filter", body))

    def run_process_alive(self) -> bool:
        """True while a flow-run process (the runner's spawned child) exists."""
        return any(b"multiprocessing.spawn" in _cmdline(pid) for pid in _children(self.proc.pid))

    def stop(self, sig: signal.Signals, group: bool) -> int:
        """Send ``sig`` to serve (or, like Ctrl-C on a terminal, to its process group)."""
        (os.killpg if group else os.kill)(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"serve did not stop on {sig.name}:\n{self.output()[-3000:]}")

    def kill_leftovers(self) -> None:
        """Clean up after a failed test: serve's group and anything with our PREFECT_HOME."""
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in processes_with_home(self.home):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture
def start_serve(tmp_path: Path) -> Iterator[Callable[..., Serve]]:
    started: list[Serve] = []

    def start(*args: str) -> Serve:
        started.append(Serve(tmp_path, len(started) + 1, *args))
        started[-1].wait_started()
        return started[-1]

    yield start
    for s in started:
        s.kill_leftovers()


def _cmdline(pid: int) -> bytes:
    with suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    return b""


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            if stat.read_text().rpartition(")")[2].split()[1] == str(pid):
                out.append(int(stat.parent.name))
    return out


def processes_with_home(home: Path) -> list[int]:
    """Live processes whose environment carries this PREFECT_HOME: serve and all it started."""
    needle = f"PREFECT_HOME={home}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        with suppress(OSError):
            if needle in environ.read_bytes().split(b"\0"):
                status = (environ.parent / "stat").read_text().rpartition(")")[2].split()[0]
                if status != "Z":  # a zombie is dead, waiting for its parent to read it
                    found.append(int(environ.parent.name))
    return found


def port_answers(api: str) -> bool:
    host, port = re.match(r"http://([\d.]+):(\d+)/", api).groups()  # type: ignore[union-attr]
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex((host, int(port))) == 0


def assert_stopped_cleanly(serve: Serve, code: int) -> None:
    out = serve.output()
    assert code == 0, out[-3000:]
    assert out.rstrip().endswith("newsclean serve: stopped"), out[-3000:]
    assert "Starting temporary server" not in out  # every client used serve's server
    assert not port_answers(serve.api)
    with pytest.raises(ProcessLookupError):
        os.kill(serve.server_pid, 0)
    # children that lose their parent are reaped by init a moment later: poll, briefly
    wait_for("no process left", lambda: not processes_with_home(serve.home), timeout=15)


FINISHED = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
LATE_ARTICLE = {
    "url": "https://late.example/news/1",
    "title": "Late news",
    "text": "A story that arrived while serve was running, long enough to be kept as it is.",
}


def committed_runs(clean: Path) -> list[tuple[str, int]]:
    return [(r["mode"], r["files"]) for r in Store(clean).read("runs").to_pylist()]


def long_run_started(serve: Serve, clean: Path) -> bool:
    """The run taking ``heavy/`` has begun its shards: it logs their files, then stages parts."""
    staging = clean / ".newsclean" / "staging"
    return "heavy/feed-" in serve.output() or (staging.is_dir() and any(staging.iterdir()))


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# -- end to end ------------------------------------------------------------------------------


def test_serve_runs_survives_failures_prunes_stops_and_resumes_after_a_restart(
    tmp_path: Path, start_serve: Callable[..., Serve]
) -> None:
    """Two serves on one PREFECT_HOME: the first stopped by SIGTERM, the second by Ctrl-C."""
    raw, clean = tmp_path / "raw", tmp_path / "clean"
    sigterm_a_fresh_serve(tmp_path, raw, clean, start_serve)
    ctrl_c_a_restarted_serve(raw, clean, start_serve)


def sigterm_a_fresh_serve(
    tmp_path: Path, raw: Path, clean: Path, start_serve: Callable[..., Serve]
) -> None:
    """Failed runs, two commits, pruning, one run at a time; SIGTERM amid a long run."""
    config = tmp_path / "newsclean.toml"
    config.write_text("[run]\nworkers = 2\nshard_mb = 1\n")  # asks for the shard process pool
    # raw/ does not exist yet: the first runs fail (DatasetError), serve must carry on
    serve = start_serve(
        "--interval", "2", "--raw", str(raw), "--clean", str(clean), "--config", str(config),
        "--retention", "6s",
    )  # fmt: skip
    settings = serve.get("/admin/settings")["server"]["services"]["db_vacuum"]
    assert sorted(settings["enabled"]) == ["events", "flow_runs"]
    assert settings["retention_period"] == "PT1H1S"  # 3601 s: the vacuum's minimum

    seen: dict[str, dict[str, Any]] = {}

    def runs_where(state: str) -> list[dict[str, Any]]:
        seen.update({r["id"]: r for r in serve.flow_runs(*FINISHED)})
        return [r for r in seen.values() if r["state_type"] == state]

    first_failed = wait_for("a failed run", lambda: runs_where("FAILED"))[0]
    assert "raw directory not found" in serve.output()

    shutil.copytree(SAMPLE, raw)
    wait_for("the sample committed", lambda: committed_runs(clean) == [("run", 13)])
    (raw / "late.jsonl").write_text(json.dumps(LATE_ARTICLE) + "\n")
    wait_for("the new file committed", lambda: len(committed_runs(clean)) == 2)
    assert committed_runs(clean) == [("run", 13), ("run", 1)]

    # the first failed run ended more than 6 s ago: pruned, through the API
    def pruned() -> bool:
        try:
            serve.get(f"/flow_runs/{first_failed['id']}")
        except urllib.error.HTTPError as exc:
            return exc.code == 404
        return False

    wait_for("the old failed run deleted", pruned)
    assert re.search(r"newsclean serve: deleted \d+ flow runs older than 6s", serve.output())

    # one run at a time: no two runs overlapped
    wait_for("three finished runs", lambda: runs_where("COMPLETED")[1:])
    spans = sorted(
        (_time(r["start_time"]), _time(r["end_time"]))
        for r in seen.values()
        if r["start_time"] and r["end_time"]
    )
    assert len(spans) >= 3
    for (_, end), (start, _) in pairwise(spans):
        assert end is not None and start is not None and end <= start

    # a long run (8 files, 5.6 MB: seconds of work) in flight when SIGTERM comes
    synthetic_corpus(raw / "heavy", files=8, per_file=250)
    wait_for("the long run cleaning shards", lambda: long_run_started(serve, clean))
    assert_stopped_cleanly(serve, serve.stop(signal.SIGTERM, group=False))
    # the run SIGTERM cancelled committed all of its files or none of them
    runs = committed_runs(clean)
    assert runs in ([("run", 13), ("run", 1)], [("run", 13), ("run", 1), ("run", 8)])
    assert Store(clean).read("articles").num_rows == (13 if len(runs) == 2 else 13 + 2000)


def ctrl_c_a_restarted_serve(raw: Path, clean: Path, start_serve: Callable[..., Serve]) -> None:
    """The schedule the first serve paused runs again; what SIGTERM cut short gets done."""
    serve = start_serve(
        "--interval", "2", "--raw", str(raw), "--clean", str(clean), "--retention", "0"
    )
    settings = serve.get("/admin/settings")["server"]["services"]["db_vacuum"]
    assert settings["enabled"] == ["events"]  # Prefect's default: flow runs are kept

    # runs the restarted scheduler made (they exist, Scheduled, before they run) must complete
    finished_before = {r["id"] for r in serve.flow_runs(*FINISHED)}
    wait_for(
        "a completed run after the restart",
        lambda: [r for r in serve.flow_runs("COMPLETED") if r["id"] not in finished_before],
    )
    # nothing lost, nothing twice: the big files committed exactly once, in one serve or the other
    assert committed_runs(clean) == [("run", 13), ("run", 1), ("run", 8)]
    assert Store(clean).read("articles").num_rows == 13 + 2000

    wait_for("a run in flight", serve.run_process_alive)
    assert_stopped_cleanly(serve, serve.stop(signal.SIGINT, group=True))
    assert "newsclean serve: deleted" not in serve.output()
