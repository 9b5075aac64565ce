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
import traceback
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.errors import (
    ConfigError,
    DatasetError,
    LockedError,
    NewscleanError,
    ShardFailedError,
)
from pipeline.ingest import parse_datetime

if TYPE_CHECKING:
    from pipeline.config import Config


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
            "--shard-mb", type=float, help="raw MB per shard (same as --set run.shard_mb=)"
        )
        settings(p)
        p.add_argument(
            "--no-prefect",
            action="store_true",
            help="run the library directly, without a Prefect flow run (no server start-up)",
        )
        p.add_argument(
            "--dry-run",
            action="store_true",
            help="print what the run would take and replace, and write nothing (no Prefect)",
        )

    def settings(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="SECTION.KEY=VALUE",
            dest="settings",
            help="override a newsclean.toml key, e.g. --set dedup.near_threshold=90 (repeatable;"
            " VALUE is TOML, a bare word a string)",
        )

    run = sub.add_parser("run", help="process raw files not processed before")
    common(run)
    backfill = sub.add_parser(
        "backfill", help="reprocess all raw files, or those named by --path and/or a date range"
    )
    common(backfill)
    backfill.add_argument("--since", type=_date, help="published at or after this date")
    backfill.add_argument("--until", type=_date, help="published before this date")
    backfill.add_argument(
        "--path",
        action="append",
        default=[],
        metavar="GLOB",
        dest="paths",
        help="raw files to reprocess, a glob relative to the raw root ('wire/*.jsonl',"
        " 'feeds/**'); repeatable; with --since/--until, the files both select",
    )

    serve = sub.add_parser(
        "serve", help="keep scheduled runs going (starts a local Prefect server if needed)"
    )
    when = serve.add_mutually_exclusive_group()
    when.add_argument("--cron", help='cron schedule, e.g. "0 * * * *" (default: hourly)')
    when.add_argument("--interval", type=float, help="seconds between runs")
    serve.add_argument("--raw")
    serve.add_argument("--clean")
    serve.add_argument("--config")
    from flows.serve import RETENTION_HELP, retention_arg

    serve.add_argument("--retention", type=retention_arg, default="7d", help=RETENTION_HELP)

    stats = sub.add_parser("stats", help="what the dataset holds, and the last runs")
    stats.add_argument("--clean", default=None)
    stats.add_argument("--config")
    settings(stats)
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

            cfg = load_config(_config_path(args.config), _overrides(args))
            return print_stats(args.clean or cfg.paths.clean)
        if args.command == "serve":
            from flows.serve import serve

            return serve(
                cron=args.cron,
                interval=args.interval,
                raw=args.raw,
                clean=args.clean,
                config=_config_path(args.config),
                retention=args.retention,
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
    except ShardFailedError as exc:
        # A bug or the machine, not the data: the traceback is for the bug report, the last
        # line names the raw file and the shard.
        traceback.print_exception(exc.__cause__ or exc, file=sys.stderr)
        print(f"newsclean: {exc}", file=sys.stderr)
        return 1
    except NewscleanError as exc:
        print(f"newsclean: {exc}", file=sys.stderr)
        return 1
    return 2


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """``--set`` items (and direct flags such as ``--shard-mb``) as ``{section: {key: value}}``;
    later ones win, as on most command lines."""
    from pipeline.config import parse_setting

    out: dict[str, dict[str, Any]] = {}
    for item in args.settings:
        section, key, value = parse_setting(item)
        out.setdefault(section, {})[key] = value
    if getattr(args, "shard_mb", None) is not None:
        out.setdefault("run", {})["shard_mb"] = args.shard_mb
    return out


def _run(args: argparse.Namespace) -> int:
    from pipeline.config import load_config

    overrides = _overrides(args)
    config = _config_path(args.config)
    cfg = load_config(config, overrides)  # a bad key fails here, before Prefect starts
    params: dict[str, Any] = {
        "raw": args.raw,
        "clean": args.clean,
        "config": config,
        "mode": args.command,
        "since": getattr(args, "since", None),
        "until": getattr(args, "until", None),
        "workers": args.workers,
        "paths": getattr(args, "paths", []),
        "overrides": overrides,
    }
    from flows.stats import format_summary

    if args.dry_run:
        return _dry_run(params, cfg)
    if params["paths"]:  # a glob that names nothing fails now, not after Prefect's start-up
        from pipeline.run import check_paths

        check_paths(args.raw or cfg.paths.raw, args.clean or cfg.paths.clean, params["paths"])
    if args.no_prefect:
        summary = _run_library(params, cfg)
    else:
        from flows.clean import run_flow

        summary = run_flow(**params, progress=sys.stderr.isatty())
    print(format_summary(summary))
    return 0 if summary["committed"] else 1


def _what_to_run(params: dict[str, Any], cfg: Config) -> dict[str, Any]:
    """The arguments that ``plan_run`` and ``run_pipeline`` share, from the CLI's parameters."""
    return {
        "raw_root": params["raw"] or cfg.paths.raw,
        "clean_root": params["clean"] or cfg.paths.clean,
        "cfg": cfg,
        "mode": params["mode"],
        "since": params["since"],
        "until": params["until"],
        "paths": params["paths"],
    }


def _dry_run(params: dict[str, Any], cfg: Config) -> int:
    """The plan, printed: it only reads, so it runs here, without Prefect and without the
    lock (a run committing meanwhile is seen as readers see it)."""
    from flows.stats import format_preview
    from pipeline.run import default_workers, plan_run, preview_plan

    plan = plan_run(**_what_to_run(params, cfg), workers=params["workers"] or default_workers(cfg))
    print(format_preview(preview_plan(plan)))
    return 0


def _run_library(params: dict[str, Any], cfg: Config) -> dict[str, Any]:
    from flows.stats import ShardProgress
    from pipeline.run import run_pipeline

    with ShardProgress(sys.stderr.isatty()) as bar:
        result = run_pipeline(
            **_what_to_run(params, cfg),
            workers=params["workers"],
            on_plan=bar.start,
            on_shard=bar.advance,
        )
    return result.to_dict()


if __name__ == "__main__":
    sys.exit(main())
