"""Corpus-wide dedup at 10k, 100k and 1M paragraphs, and datatrove's MinHash side by side.

    python bench/bench_dedup.py [--sizes 10k,100k,1m] [--datatrove /work/dtvenv/bin/python]

For each size, on a corpus from bench/make_dedup_corpus.py (real text, syndicated copies with
light edits, quoted paragraphs, template decoys with other numbers or names, known truth),
built once under bench/out/:

1. ``newsclean run`` as users run it (Prefect flow, temporary server, one process per core):
   wall time, throughput, peak memory of the whole process tree (sampled from /proc), and the
   corpus-wide step alone (candidates, verification, decisions: ``corpus_seconds``); then
   ``newsclean run --no-prefect`` (the same library without the flow and its server) on the
   same files;
2. quality against the truth (bench/dedup_eval.py): recall of copies, decoys merged, wrong
   survivors, article-level ``duplicate_of``;
3. datatrove 0.10.1's MinHash pipeline (bench/datatrove_minhash.py, run with the Python of a
   separate venv that has datatrove) on the same files, 2 workers: time, throughput, and its
   document-level recall and false merges, as a ratio to newsclean.

Nothing here is a test: numbers go to the README, with this command.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import dedup_eval  # noqa: E402

SIZES = {"10k": 10_000, "100k": 100_000, "150k": 150_000, "1m": 1_000_000}


def corpus(out: Path, size: str, seed: int = 0) -> tuple[Path, Path]:
    raw, truth = out / f"dedup-{size}", out / f"dedup-{size}.truth.jsonl"
    if not raw.is_dir() or not truth.exists():
        shutil.rmtree(raw, ignore_errors=True)
        cmd = [sys.executable, str(HERE / "make_dedup_corpus.py"), str(raw)]
        cmd += ["--paragraphs", str(SIZES[size]), "--seed", str(seed), "--truth", str(truth)]
        subprocess.run(cmd, check=True)
    return raw, truth


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``cmd``: wall seconds, peak resident MB of its process tree, stdout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.2):
            peak = max(peak, _tree_rss_kb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = proc.communicate()
    done.set()
    sampler.join()
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{cmd[0]} exited {proc.returncode}:\n{stdout}")
    return wall, peak / 1024, stdout


def bench_newsclean(raw: Path, clean: Path, prefect: bool = True) -> dict[str, Any]:
    shutil.rmtree(clean, ignore_errors=True)
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.setdefault("PREFECT_HOME", str(clean.parent / "prefect-home"))
    newsclean = Path(sys.executable).with_name("newsclean")
    cmd = [str(newsclean), "run", "--raw", str(raw), "--clean", str(clean)]
    wall, peak_mb, out = measured(cmd if prefect else [*cmd, "--no-prefect"], env)
    import pyarrow.parquet as pq

    runs = pq.read_table(clean / ".newsclean" / "current" / "runs.parquet").to_pylist()
    summary = json.loads(runs[-1]["summary"])
    return {
        "wall_s": wall,
        "run_s": summary["seconds"],
        "corpus_s": summary["corpus_seconds"],
        "peak_mb": peak_mb,
        "paragraphs_in": summary["paragraphs_in"],
        "summary": out.strip(),
    }


def bench_datatrove(python: str, raw: Path, work: Path) -> dict[str, Any]:
    shutil.rmtree(work, ignore_errors=True)
    cmd = [python, str(HERE / "datatrove_minhash.py"), str(raw), str(work), "--workers", "2"]
    wall, peak_mb, out = measured(cmd)
    result = json.loads(out.strip().splitlines()[-1])
    result["wall_s"] = wall
    result["peak_mb"] = peak_mb
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="10k,100k,1m")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument(
        "--datatrove",
        default="/work/dtvenv/bin/python",
        help="Python of a venv with datatrove==0.10.1 (see datatrove_minhash.py); '' to skip",
    )
    ap.add_argument("--datatrove-sizes", default="10k,100k,1m")
    args = ap.parse_args()
    sizes = args.sizes.split(",")
    print(f"# python bench/bench_dedup.py --sizes {args.sizes}  ({os.cpu_count()} cores)\n")
    rows = []
    for size in sizes:
        raw, truth = corpus(args.out, size)
        mb = sum(p.stat().st_size for p in raw.rglob("*") if p.is_file()) / 1e6
        nc = bench_newsclean(raw, args.out / f"clean-dedup-{size}")
        quality = dedup_eval.evaluate(args.out / f"clean-dedup-{size}", truth)
        lib = bench_newsclean(raw, args.out / f"clean-dedup-{size}-lib", prefect=False)
        row: dict[str, Any] = {
            "size": size,
            "mb": mb,
            "newsclean": nc,
            "library": lib,
            "quality": quality,
        }
        if args.datatrove and size in args.datatrove_sizes.split(","):
            dt = bench_datatrove(args.datatrove, raw, args.out / f"datatrove-{size}")
            dt["quality"] = dedup_eval.evaluate_documents(Path(dt["removed_urls"]), truth)
            row["datatrove"] = dt
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items()}, default=str)[:2000], file=sys.stderr)

    print("## newsclean run (Prefect flow, 2 workers)\n")
    print(
        "| paragraphs | MB | wall s | run s | MB/s (run) | corpus-wide step s | "
        "peak RSS MB (process tree) |\n|---|---|---|---|---|---|---|"
    )
    for r in rows:
        n = r["newsclean"]
        print(
            f"| {n['paragraphs_in']:,} | {r['mb']:.0f} | {n['wall_s']:.1f} | {n['run_s']:.1f} | "
            f"{r['mb'] / n['run_s']:.2f} | {n['corpus_s']:.1f} | {n['peak_mb']:.0f} |"
        )
    print("\n## newsclean run --no-prefect (the library, 2 worker processes)\n")
    print("| paragraphs | wall s | run s | MB/s (run) | corpus-wide step s | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        n = r["library"]
        print(
            f"| {n['paragraphs_in']:,} | {n['wall_s']:.1f} | {n['run_s']:.1f} | "
            f"{r['mb'] / n['run_s']:.2f} | {n['corpus_s']:.1f} | {n['peak_mb']:.0f} |"
        )
    print("\n## quality against the generator's truth\n")
    print(
        "| paragraphs | copies found / total (recall) | wrong survivor | decoys merged | "
        "unique paragraphs removed | articles: duplicate_of recall, precision, wrong target |"
        "\n|---|---|---|---|---|---|"
    )
    for r in rows:
        q = r["quality"]
        c, a = q["copies"], q["articles"]
        print(
            f"| {r['newsclean']['paragraphs_in']:,} | {c['found']:,} / {c['total']:,} "
            f"({c['recall']:.4f}) | {q['survivor']['wrong']} | {q['decoys_removed']['removed']} "
            f"of {q['decoys_removed']['total_decoys']} | "
            f"{q['originals_removed']['unique_removed']} | {a['recall']:.4f}, "
            f"{a['precision']:.4f}, {a['wrong_target']} |"
        )
    with_dt = [r for r in rows if "datatrove" in r]
    if with_dt:
        print("\n## side by side: datatrove 0.10.1 MinHash (document level, 2 workers)\n")
        print(
            "| paragraphs | MB | datatrove s | datatrove MB/s | newsclean MB/s (wall) | ratio | "
            "--no-prefect MB/s (wall) | ratio | "
            "datatrove doc recall | datatrove false merges | newsclean article recall | "
            "newsclean false merges |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
        )
        for r in with_dt:
            dt, n, q = r["datatrove"], r["newsclean"], r["quality"]
            dt_mb_s, nc_mb_s = r["mb"] / dt["wall_s"], r["mb"] / n["wall_s"]
            lib_mb_s = r["mb"] / r["library"]["wall_s"]
            print(
                f"| {n['paragraphs_in']:,} | {r['mb']:.0f} | {dt['wall_s']:.1f} | {dt_mb_s:.2f} | "
                f"{nc_mb_s:.2f} | {nc_mb_s / dt_mb_s:.1f}x | {lib_mb_s:.2f} | "
                f"{lib_mb_s / dt_mb_s:.1f}x | {_fmt(dt['quality'].get('recall'))} | "
                f"{_fmt(dt['quality'].get('false_merges'))} | "
                f"{_fmt(q['articles']['recall'])} | {q['articles']['false_merges']} |"
            )
    if len(rows) > 1:
        for mode in ("newsclean", "library"):
            a, b = rows[-2][mode], rows[-1][mode]
            print(
                f"\ncorpus-wide step ({mode}), {rows[-1]['size']} vs {rows[-2]['size']}: "
                f"{b['paragraphs_in'] / a['paragraphs_in']:.1f}x the paragraphs, "
                f"{b['corpus_s'] / a['corpus_s']:.1f}x the time"
            )
    return 0


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


if __name__ == "__main__":
    sys.exit(main())
