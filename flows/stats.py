"""What newsclean tells people: the one-screen run summary, the dry-run plan, the progress bar,
and ``newsclean stats`` (what the dataset holds, and the last runs).

Free of Prefect, so that ``--no-prefect``, ``--dry-run`` and ``stats`` do not pay for its
import (seconds), and shared by the flow and the command line.
"""

from __future__ import annotations

import json
import sys
from types import TracebackType
from typing import Any

import pyarrow.compute as pc

from pipeline.records import Plan, RawFile, RunSummary, ShardResult
from pipeline.run import PlanPreview, nothing_message
from pipeline.store import Store

LIST_AT_MOST = 20  # files listed per kind in a dry run; the counts are always whole


def summary_rows(s: RunSummary) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"what": "files processed", "value": s.files_processed},
        {"what": "files unchanged (skipped)", "value": s.files_unchanged},
        {"what": "records read", "value": s.records},
        {"what": "articles written", "value": s.articles_written},
        {"what": "rejected records", "value": s.rejected},
        {"what": "paragraphs in -> out", "value": f"{s.paragraphs_in} -> {s.paragraphs_out}"},
    ]
    rows += [{"what": f"removed: {reason}", "value": n} for reason, n in s.removed.items()]
    rows += [{"what": f"dataset rows: {d}", "value": n} for d, n in s.dataset_rows.items()]
    rows.append({"what": "seconds", "value": round(s.seconds, 2)})
    if s.corpus_seconds:
        rows.append({"what": "seconds in corpus dedup", "value": round(s.corpus_seconds, 2)})
    return rows


def format_summary(s: RunSummary | dict[str, Any]) -> str:
    """The one-screen summary printed at the end of a run."""
    if isinstance(s, dict):
        s = RunSummary(**s)
    head = f"newsclean {s.mode} {s.run_id}: " + ("committed" if s.committed else "NOT committed")
    lines = [head]
    if s.message:
        lines.append(f"  {s.message}")
    width = max(len(r["what"]) for r in summary_rows(s))
    lines += [f"  {r['what']:<{width}}  {r['value']}" for r in summary_rows(s)]
    if s.seconds and s.bytes_processed:
        mb_s = s.bytes_processed / s.seconds / 1e6
        lines.append(f"  {'throughput':<{width}}  {mb_s:.2f} MB/s")
    return "\n".join(lines)


def human_bytes(n: int) -> str:
    """``57 B``, ``1.5 KiB``, ``50.0 MiB``: sizes as people read them."""
    if n < 1024:
        return f"{n} B"
    size, units = n / 1024, ["KiB", "MiB", "GiB", "TiB"]
    while size >= 1024 and len(units) > 1:
        size /= 1024
        units.pop(0)
    return f"{size:.1f} {units[0]}"


def format_preview(p: PlanPreview) -> str:
    """What ``--dry-run`` prints: the files a run would take, and the output it would replace."""
    plan = p.plan
    head = f"newsclean {plan.mode} --dry-run: nothing written"
    if not plan.shards and not plan.replaced:
        return f"{head}\n  {nothing_message(plan)} ({plan.unchanged} files unchanged)"
    rows = ", ".join(f"{d} {n}" for d, n in p.rows_replaced.items())
    n_replaced = len(plan.replaced) - len(p.dropped)
    lines = [
        head,
        f"  files to take              {len(plan.files)}  ({human_bytes(p.bytes)},"
        f" {len(plan.shards)} shard{'s' if len(plan.shards) != 1 else ''})",
        f"    new                      {len(p.new)}",
        f"    changed                  {len(p.changed)}",
        f"    retaken                  {len(p.retaken)}",
        f"  output replaced (files)    {n_replaced}",
        f"  output dropped (files)     {len(p.dropped)}  (taken before, gone from the raw root)",
        f"  rows now from those files  {rows}",
        f"  files unchanged (skipped)  {plan.unchanged}",
    ]
    kinds: list[tuple[str, tuple[RawFile, ...]]] = [
        ("new", p.new),
        ("changed", p.changed),
        ("retaken", p.retaken),
    ]
    width = max((len(f.path) for _, files in kinds for f in files[:LIST_AT_MOST]), default=0)
    for kind, files in kinds:
        sizes = [f"{f.path:<{width}}  {human_bytes(f.size):>9}" for f in files]
        lines += _listing(kind, sizes)
    lines += _listing("dropped", list(p.dropped))
    return "\n".join(lines)


def _listing(kind: str, items: list[str]) -> list[str]:
    """At most LIST_AT_MOST lines of one kind, then how many more."""
    out = [f"  {kind:<8} {item}" for item in items[:LIST_AT_MOST]]
    if len(items) > LIST_AT_MOST:
        out.append(f"  {kind:<8} ... and {len(items) - LIST_AT_MOST} more")
    return out


class ShardProgress:
    """A rich progress bar over a run's bytes, on stderr, when ``enabled`` (a terminal).

    Fed by the plan (``start``) and by each finished shard (``advance``): the hooks of
    ``run_pipeline`` and what the flow's shard futures give. Disabled, it does nothing.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._job: Any = None

    def __enter__(self) -> ShardProgress:
        return self

    def start(self, plan: Plan) -> None:
        if not self.enabled or not plan.shards:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
        self._bar = Progress(
            "[progress.description]{task.description}",
            *columns,
            console=Console(file=sys.stderr),
            transient=True,
        )
        self._bar.start()
        total = sum(f.size for f in plan.files)
        self._job = self._bar.add_task(f"cleaning {len(plan.files)} files", total=total)
        self._bar.refresh()

    def advance(self, result: ShardResult) -> None:
        if self._bar is not None:
            self._bar.advance(self._job, result.bytes)
            if self._bar.tasks[0].finished:  # what remains is the corpus-wide step
                self._bar.update(self._job, description="committing (corpus-wide dedup)")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def print_stats(clean: str, last_runs: int = 5) -> int:
    store = Store(clean)
    snap = store.current()
    if snap is None:
        print(f"{clean}: no committed dataset yet (run `newsclean run` first)")
        return 1
    print(f"{clean}: snapshot {snap.name}")
    articles = store.read("articles", ["article_id", "source", "duplicate_of"])
    removed = store.read("removed", ["reason"])
    rejected = store.read("rejected", ["error"])
    print(f"  raw files taken  {store.read('manifest', ['path']).num_rows}")
    print(f"  articles  {articles.num_rows} rows, {len(pc.unique(articles['source']))} sources")
    print(f"  removed   {removed.num_rows} rows")
    for row in (
        removed.group_by("reason").aggregate([("reason", "count")]).sort_by("reason").to_pylist()
    ):
        print(f"    {row['reason']:<22} {row['reason_count']}")
    print(f"  rejected  {rejected.num_rows} rows")
    errors = rejected.group_by("error").aggregate([("error", "count")])
    for row in errors.sort_by([("error_count", "descending")]).to_pylist()[:5]:
        print(f"    {row['error_count']:>6}  {row['error'][:70]}")
    runs = store.read("runs").sort_by([("started_at", "descending")]).to_pylist()[:last_runs]
    print(f"  last {len(runs)} runs:")
    for r in runs:
        s = json.loads(r["summary"])
        print(
            f"    {r['run_id']}  {r['mode']:<8} files {r['files']:>5}  articles {r['articles']:>7}"
            f"  removed {r['removed']:>7}  rejected {r['rejected']:>4}  {s.get('seconds', 0):.1f}s"
        )
    return 0
