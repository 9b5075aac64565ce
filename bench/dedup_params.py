"""Choose the LSH parameters of corpus-wide dedup by measurement, against all pairs.

    python bench/dedup_params.py [--corpus bench/out/dedup-10k] [--limit 12000]

Reads the paragraphs (>= 40 characters, distinct match keys) of a corpus made by
bench/make_dedup_corpus.py and computes the reference: every pair with ``fuzz.ratio`` >= 83
whose facts agree (``pipeline.dedup.same_facts``), by rapidfuzz ``cdist`` over all pairs. Then,
side by side for each parameter set: signatures per second (one core), candidate pairs, and
the recall of candidate generation against the reference. The parameters in
``pipeline/corpus.py`` are the row marked "<- used".

Nothing here is a test: numbers go to the README, with this command.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pipeline import corpus  # noqa: E402
from pipeline.dedup import match_key, same_facts  # noqa: E402
from pipeline.minhash import band_keys, signatures  # noqa: E402

# (shingle words, bins, bands, rows, rows' distance in bins, min_shared): the one in use first.
CONFIGS = [
    (
        corpus.SHINGLE,
        corpus.BINS,
        corpus.BANDS,
        corpus.ROWS,
        corpus.BAND_DISTANCE,
        corpus.MIN_SHARED_BANDS,
    ),
    (3, 128, 64, 2, 8, 4),
    (3, 128, 64, 2, 1, 6),
    (3, 128, 64, 2, 16, 4),
    (3, 128, 64, 2, 64, 4),
    (4, 128, 64, 2, 1, 6),  # the parameters before 2026-11-24
    (4, 128, 64, 2, 8, 6),
    (4, 128, 64, 2, 64, 2),
    (5, 128, 64, 2, 1, 6),
    (2, 128, 64, 2, 64, 6),
]


def paragraphs(root: Path, limit: int) -> list[str]:
    seen: set[str] = set()
    out = []
    for path in sorted(root.glob("*.jsonl")):
        for line in path.open(encoding="utf-8"):
            for p in json.loads(line)["text"].split("\n"):
                key = match_key(p)
                if len(p) >= 40 and key and key not in seen:
                    seen.add(key)
                    out.append(p)
                    if len(out) >= limit:
                        return out
    return out


def reference(texts: list[str], threshold: float) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    step = 2000
    for lo in range(0, len(texts), step):
        block = process.cdist(
            texts[lo : lo + step],
            texts,
            scorer=fuzz.ratio,
            score_cutoff=threshold,
            dtype=np.uint8,
            workers=-1,
        )
        for i, j in zip(*np.nonzero(block), strict=True):
            a, b = lo + int(i), int(j)
            if a < b and same_facts(texts[a], texts[b]):
                pairs.add((a, b))
    return pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=HERE / "out" / "dedup-10k")
    ap.add_argument("--limit", type=int, default=12000)
    ap.add_argument("--threshold", type=float, default=83.0)
    args = ap.parse_args()
    texts = paragraphs(args.corpus, args.limit)
    keys = [match_key(t) for t in texts]
    t0 = time.perf_counter()
    ref = reference(texts, args.threshold)
    ref_s = time.perf_counter() - t0
    n = len(texts)
    print(
        f"{n} distinct paragraphs, all {n * (n - 1) // 2:,} pairs with rapidfuzz cdist "
        f"(2 cores): {ref_s:.1f} s, {n * n / ref_s / 1e6:.2f} M comparisons/s; "
        f"{len(ref)} pairs >= {args.threshold:g} with the same facts"
    )
    print(
        f"{'words':>5} {'bins':>5} {'bands':>5} {'rows':>4} {'dist':>4} {'min':>4} {'sig/s':>8} "
        f"{'cands':>8} {'recall':>7}"
    )
    signatures(keys[:100])  # the first call pays for numpy warming up
    for config in CONFIGS:
        shingle, bins, bands, rows, distance, min_shared = config
        t0 = time.perf_counter()
        sig = signatures(keys, bins, shingle)
        sig_s = time.perf_counter() - t0
        bk = band_keys(sig, bands, rows, distance)
        pairs = corpus.candidate_pairs(bk, np.ones(n, dtype=bool), min_shared=min_shared)
        found = {(int(a), int(b)) for a, b in pairs}
        recall = len(ref & found) / len(ref) if ref else 1.0
        used = " <- used" if config == CONFIGS[0] else ""
        print(
            f"{shingle:>5} {bins:>5} {bands:>5} {rows:>4} {distance:>4} {min_shared:>4} "
            f"{n / sig_s:>8.0f} "
            f"{len(found):>8} {recall:>7.4f}{used}"
        )


if __name__ == "__main__":
    main()
