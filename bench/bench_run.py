"""End-to-end benchmark: ``newsclean run`` on a corpus of at least 50 MB built from real text.

    python bench/bench_run.py --mb 50

Builds the corpus with bench/make_corpus.py (from ../shared/corpora/, outside the project), then
measures, side by side in one run on this machine:

1. the repair step alone, one core: ftfy.fix_text on every line (the naive way) against
   pipeline.repair.fix_text (a regex gate sends only suspicious lines to ftfy), with the count
   of lines whose output differs;
2. charset detection on the corpus's legacy-encoded .txt files (the generator's manifest
   holds the truth);
3. ``newsclean run`` as a user runs it (Prefect flow, temporary server, one process per
   core) and ``newsclean run --no-prefect`` (the library alone): wall time, MB/s and the peak
   memory of the process tree.

Nothing here is a test: numbers go to the README, with this command.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))


def build_corpus(out: Path, mb: int, seed: int) -> Path:
    raw = out / f"raw-{mb}mb-seed{seed}"
    manifest = out / f"raw-{mb}mb-seed{seed}.manifest.jsonl"
    if not raw.is_dir():
        subprocess.run(
            [
                sys.executable,
                str(HERE / "make_corpus.py"),
                str(raw),
                "--mb",
                str(mb),
                "--seed",
                str(seed),
                "--manifest",
                str(manifest),
            ],
            check=True,
        )
    return raw


def bench_repair(raw: Path) -> dict[str, float]:
    import ftfy

    from pipeline.ingest import discover, read_file
    from pipeline.records import RawRecord
    from pipeline.repair import FTFY_CONFIG, fix_text

    texts = [
        r.text for rel in discover(raw) for r in read_file(raw, rel) if isinstance(r, RawRecord)
    ]
    size = sum(len(t.encode()) for t in texts) / 1e6
    t0 = time.perf_counter()
    gated = [fix_text(t).text for t in texts]
    t_gated = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = [
        "\n".join(
            " ".join(ftfy.fix_text(line, FTFY_CONFIG).split())
            for line in t.replace("\r\n", "\n").split("\n")
        )
        for t in texts
    ]
    t_naive = time.perf_counter() - t0
    differ = sum(
        a != b
        for g, n in zip(gated, naive, strict=True)
        for a, b in zip(g.split("\n"), n.split("\n"), strict=False)
    )
    return {
        "mb": size,
        "ftfy_all_mb_s": size / t_naive,
        "gated_mb_s": size / t_gated,
        "lines_differing": differ,
    }


def bench_decode(raw: Path) -> dict[str, int]:
    from pipeline.decode import decode_bytes

    manifest = raw.with_name(raw.name + ".manifest.jsonl")
    seen: dict[str, str] = {}
    for line in manifest.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("encoding") and rec.get("path", "").endswith(".txt"):
            seen[rec["path"]] = rec["encoding"]
    ok = wrong = 0
    for path, encoding in sorted(seen.items()):
        data = (raw / path).read_bytes()
        truth = data.decode(encoding).lstrip("\ufeff")
        try:
            text, _ = decode_bytes(data)
        except Exception:
            wrong += 1
            continue
        ok += text.lstrip("\ufeff") == truth
        wrong += text.lstrip("\ufeff") != truth
    return {"files": ok + wrong, "decoded_as_written": ok, "other": wrong}


def bench_cli(raw: Path, clean: Path, *extra: str) -> dict[str, float]:
    shutil.rmtree(clean, ignore_errors=True)
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.setdefault("PREFECT_HOME", str(clean.parent / "prefect-home"))
    newsclean = Path(sys.executable).with_name("newsclean")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    out = subprocess.run(
        [str(newsclean), "run", "--raw", str(raw), "--clean", str(clean), *extra],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    size = sum(p.stat().st_size for p in raw.rglob("*") if p.is_file()) / 1e6
    summary = out.stdout.strip().splitlines()
    seconds = next(
        float(line.split()[-1]) for line in summary if line.strip().startswith("seconds")
    )
    return {
        "mb": size,
        "wall_s": wall,
        "wall_mb_s": size / wall,
        "run_s": seconds,
        "run_mb_s": size / seconds,
        "peak_rss_mb_any_process": max(peak, before) / 1024,
        "summary": "\n".join(summary),  # type: ignore[dict-item]
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    raw = build_corpus(args.out, args.mb, args.seed)
    print(
        f"# bench_run: python bench/bench_run.py --mb {args.mb} --seed {args.seed}  ({os.cpu_count()} cores)\n"
    )
    r = bench_repair(raw)
    print("## repair, one core")
    print(
        "| text MB | ftfy.fix_text on every line | gated fix_text | lines that differ |\n|---|---|---|---|"
    )
    print(
        f"| {r['mb']:.1f} | {r['ftfy_all_mb_s']:.1f} MB/s | {r['gated_mb_s']:.1f} MB/s | {r['lines_differing']} |\n"
    )
    d = bench_decode(raw)
    print("## charset detection on legacy-encoded .txt files")
    print(
        f"{d['decoded_as_written']} of {d['files']} decoded to the text that was written ({d['other']} other)\n"
    )
    print("## newsclean run (end to end)")
    print(
        "| mode | input MB | wall s | wall MB/s | run s (after start-up) | run MB/s | peak RSS MB (largest process) |\n|---|---|---|---|---|---|---|"
    )
    results = {}
    for label, extra in (("Prefect flow", ()), ("library only (--no-prefect)", ("--no-prefect",))):
        c = bench_cli(raw, args.out / "clean", *extra)
        results[label] = c
        print(
            f"| {label} | {c['mb']:.1f} | {c['wall_s']:.1f} | {c['wall_mb_s']:.1f} | {c['run_s']:.1f} | {c['run_mb_s']:.1f} | {c['peak_rss_mb_any_process']:.0f} |"
        )
    print("\n## summary of the last run\n```")
    print(results["library only (--no-prefect)"]["summary"])
    print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
