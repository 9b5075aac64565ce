"""The ``newsclean`` command: run, backfill, serve, stats.

The library raises small exceptions named after the condition; this is the one place that
turns them into a message with a hint, and into an exit code:
0 committed (even with rejected records), 1 the run failed, 2 bad usage or configuration,
3 another run holds the lock.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from typing import Any

from pipeline.errors import ConfigError, DatasetError, LockedError, NewscleanError
from pipeline.ingest import parse_datetime


def _date(value: str) -> datetime:
    dt = parse_datetime(value)
    if dt is None:
        raise argparse.ArgumentTypeError(f"not a date: {value!r} (use YYYY-MM-DD or ISO 8601)")
    return dt


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsclean", description="Turn scraped news into clean, deduplicated Parquet."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--raw", help="raw input directory (default: data/raw, or [paths] raw)")
        p.add_argument("--clean", help="output directory (default: data/clean, or [paths] clean)")
        p.add_argument("--config", help="newsclean.toml (default: ./newsclean.toml if present)")
        p.add_argument("--workers", type=int, help="processes for shards (default: one per core)")
        p.add_argument(
            "--no-prefect",
            action="store_true",
            help="run the library directly, without a Prefect flow run (no server start-up)",
        )

    run = sub.add_parser("run", help="process raw files not processed before")
    common(run)
    backfill = sub.add_parser("backfill", help="reprocess all raw files, or a published-date range")
    common(backfill)
    backfill.add_argument("--since", type=_date, help="published at or after this date")
    backfill.add_argument("--until", type=_date, help="published before this date")

    serve = sub.add_parser(
        "serve", help="keep scheduled runs going (starts a local Prefect server if needed)"
    )
    when = serve.add_mutually_exclusive_group()
    when.add_argument("--cron", help='cron schedule, e.g. "0 * * * *" (default: hourly)')
    when.add_argument("--interval", type=float, help="seconds between runs")
    serve.add_argument("--raw")
    serve.add_argument("--clean")
    serve.add_argument("--config")

    stats = sub.add_parser("stats", help="what the dataset holds, and the last runs")
    stats.add_argument("--clean", default=None)
    stats.add_argument("--config")
    return parser


def _config_path(arg: str | None) -> str | None:
    if arg:
        return arg
    return "newsclean.toml" if os.path.isfile("newsclean.toml") else None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Prefect's server phones home by default; on a machine without internet that is an
    # error in the log of every run. Users can still turn it on.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    try:
        if args.command in ("run", "backfill"):
            return _run(args)
        if args.command == "stats":
            from flows.stats import print_stats
            from pipeline.config import load_config

            cfg = load_config(_config_path(args.config))
            return print_stats(args.clean or cfg.paths.clean)
        if args.command == "serve":
            from flows.serve import serve

            return serve(
                cron=args.cron,
                interval=args.interval,
                raw=args.raw,
                clean=args.clean,
                config=_config_path(args.config),
            )
    except ConfigError as exc:
        print(f"newsclean: configuration error: {exc}", file=sys.stderr)
        return 2
    except LockedError as exc:
        print(
            f"newsclean: {exc}\n  hint: wait for it to finish, or check that it is still alive",
            file=sys.stderr,
        )
        return 3
    except DatasetError as exc:
        print(f"newsclean: {exc}", file=sys.stderr)
        return 1
    except NewscleanError as exc:
        print(f"newsclean: {exc}", file=sys.stderr)
        return 1
    return 2


def _run(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {
        "raw": args.raw,
        "clean": args.clean,
        "config": _config_path(args.config),
        "mode": args.command,
        "since": getattr(args, "since", None),
        "until": getattr(args, "until", None),
        "workers": args.workers,
    }
    from flows.clean import format_summary

    if args.no_prefect:
        summary = _run_library(params)
    else:
        from flows.clean import run_flow

        summary = run_flow(**params, progress=sys.stderr.isatty())
    print(format_summary(summary))
    return 0 if summary["committed"] else 1


def _run_library(params: dict[str, Any]) -> dict[str, Any]:
    from pipeline.config import load_config
    from pipeline.run import run_pipeline

    cfg = load_config(params["config"])
    result = run_pipeline(
        params["raw"] or cfg.paths.raw,
        params["clean"] or cfg.paths.clean,
        cfg,
        mode=params["mode"],
        since=params["since"],
        until=params["until"],
        workers=params["workers"],
    )
    return result.to_dict()


if __name__ == "__main__":
    sys.exit(main())
