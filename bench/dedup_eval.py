"""Score corpus-wide duplicate detection against the truth of bench/make_dedup_corpus.py.

What it measures
----------------
``evaluate(clean_dir, truth)`` reads ``articles/`` and ``removed/`` of a newsclean output (with
pyarrow; the directories are symlinks into ``.newsclean/``, resolved first) and the truth JSONL
and reports, per paragraph (a paragraph is ``article_id:position``; ``position`` is its index
in the article's text, which the generator guarantees the pipeline sees unchanged):

- ``copies``: truth ``copy`` and ``quote`` paragraphs (their ``origin`` is the earliest member of
  their cluster by published_at, ties by the smaller article_id) and how many have a
  ``duplicate_near`` or ``duplicate_exact`` row: ``recall``, by kind, variant and by fuzz.ratio
  band to the paragraph they were made from; ``removed_other_reason`` counts copies removed
  only for another reason (those do not count as found).
- ``survivor`` (over found copies): the row's ``matched_article_id:matched_position`` is
  *exact* when it is the truth ``origin``; *acceptable* when it is another member of the same
  cluster (same origin, or the origin itself) that no row removed and that comes earlier than
  the copy (published_at, then article_id); else *wrong*, split by why: ``unknown`` (not a
  paragraph of the truth), ``other_cluster`` (a paragraph the copy does not copy: a false
  link), ``removed`` (the matched paragraph was removed itself), ``later`` (it is not earlier).
- ``decoys_removed``: truth ``decoy`` paragraphs (other numbers or names on another paragraph's
  template) removed for any reason: must be 0 (examples listed).
- ``originals_removed``: truth ``original`` paragraphs removed for any reason, split into
  ``unique`` ones (nothing copies them: false positives) and ``survivors`` (the first of a
  cluster: removing it keeps a later copy, a wrong survivor).
- ``alignment``: truth articles missing from ``articles/`` and articles whose
  ``n_paragraphs_in`` differs from the truth (either would make positions meaningless).
- ``articles``: ``duplicate_of`` against the truth ``article_copy_of`` (the earliest earlier
  article covering >= 80% of the article's characters): recall, precision, exact target, and
  false merges (set where the truth has none, with how much of the article was copied), plus
  the count of ``duplicate_article`` rows.

``evaluate_documents(removed_urls, truth)`` scores a document-level deduplicator (datatrove's
MinHash, see bench/datatrove_minhash.py) that only says which documents it dropped:
``recall`` (truth copies, ``article_copy_of`` set, that it dropped), ``pair_recall`` (copies
where it dropped the copy or the article it copies: found the pair, whichever survived),
``wrong_survivor`` (it dropped the first article of a syndication whose copy it kept),
``false_merges`` (dropped documents that are neither copies nor the first of a syndication;
with how many hold a decoy or a quoted paragraph), and ``not_copies`` (the two together:
dropped documents the truth does not call copies).

Why: the issue's done-when is recall >= 0.97, no decoy merged, the right survivor every time,
and a comparison with datatrove; these are those numbers, vectorized (pandas merges) so that
1M paragraphs take seconds.

Usage::

    python bench/dedup_eval.py CLEAN_DIR TRUTH.jsonl
    python bench/dedup_eval.py --documents REMOVED_URLS.txt TRUTH.jsonl   # one URL per line
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.json as pj

DUP_REASONS = ("duplicate_exact", "duplicate_near")
RATIO_BANDS = [(100, 101, "100"), (95, 100, "95-100"), (90, 95, "90-95"), (0, 90, "<90")]

TRUTH_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("record_no", pa.int64()),
        ("url", pa.string()),
        ("article_id", pa.string()),
        ("published_at", pa.string()),
        ("position", pa.int64()),
        ("kind", pa.string()),
        ("origin", pa.string()),
        ("ratio", pa.float64()),
        ("variant", pa.string()),
        ("n_paragraphs", pa.int64()),
        ("article_copy_of", pa.string()),
        ("copy_share", pa.float64()),
    ]
)


def read_truth(truth: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Paragraph lines and article lines of the truth."""
    table = pj.read_json(
        truth,
        read_options=pj.ReadOptions(block_size=64 << 20),
        parse_options=pj.ParseOptions(
            explicit_schema=TRUTH_SCHEMA, unexpected_field_behavior="ignore"
        ),
    )
    df = table.to_pandas()
    paragraphs = df[df["position"].notna()].copy()
    paragraphs["position"] = paragraphs["position"].astype(np.int64)
    paragraphs["pid"] = paragraphs["article_id"] + ":" + paragraphs["position"].astype(str)
    articles = df[df["position"].isna()].copy()
    return paragraphs, articles


def read_dataset(path: Path, columns: list[str]) -> pd.DataFrame:
    path = path.resolve()  # the datasets are symlinks into .newsclean/
    dataset = ds.dataset(str(path), format="parquet", partitioning="hive")
    return dataset.to_table(columns=columns).to_pandas()


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 5) if whole else None


def _examples(df: pd.DataFrame, columns: list[str], n: int = 5) -> list[dict[str, Any]]:
    return json.loads(df[columns].head(n).to_json(orient="records", force_ascii=False))


def evaluate(clean_dir: Path, truth: Path) -> dict[str, Any]:
    """Paragraph- and article-level scores of newsclean's output in clean_dir (see module)."""
    par, art = read_truth(truth)
    out_articles = read_dataset(
        clean_dir / "articles", ["article_id", "duplicate_of", "n_paragraphs_in"]
    )
    removed = read_dataset(
        clean_dir / "removed",
        ["article_id", "position", "reason", "detail", "matched_article_id", "matched_position"],
    )
    whole = removed[removed["position"].isna()]
    rows = removed[removed["position"].notna()].copy()
    rows["pid"] = rows["article_id"] + ":" + rows["position"].astype(np.int64).astype(str)

    # Any removal of a paragraph, and its duplicate_exact/near row if it has one.
    any_removed = rows.groupby("pid")["reason"].agg(lambda r: ",".join(sorted(set(r))))
    dup = rows[rows["reason"].isin(DUP_REASONS)].drop_duplicates("pid")
    dup = dup.assign(
        matched=dup["matched_article_id"].fillna("?")
        + ":"
        + dup["matched_position"].fillna(-1).astype(np.int64).astype(str)
    )[["pid", "reason", "detail", "matched"]]
    par = par.merge(dup, on="pid", how="left")
    par["removed_by"] = par["pid"].map(any_removed)
    par["removed"] = par["removed_by"].notna()

    # Clusters: a copy's cluster is its origin; an original's (or decoy's) is itself.
    copying = par["kind"].isin(("copy", "quote"))
    par["cluster"] = np.where(copying, par["origin"], par["pid"])
    order = par[["pid", "cluster", "published_at", "article_id", "removed"]]

    copies = par[copying]
    found = copies[copies["reason"].notna()]
    result: dict[str, Any] = {"paragraphs": len(par), "kinds": par["kind"].value_counts().to_dict()}

    by_band = {}
    for lo, hi, name in RATIO_BANDS:
        band = copies[(copies["ratio"] >= lo) & (copies["ratio"] < hi)]
        by_band[name] = {
            "copies": len(band),
            "found": int(band["reason"].notna().sum()),
            "recall": _rate(int(band["reason"].notna().sum()), len(band)),
        }
    missed = copies[copies["reason"].isna()]
    result["copies"] = {
        "total": len(copies),
        "found": len(found),
        "recall": _rate(len(found), len(copies)),
        "by_reason": found["reason"].value_counts().to_dict(),
        "by_kind": {
            k: {"total": int((copies["kind"] == k).sum()), "found": int((found["kind"] == k).sum())}
            for k in ("copy", "quote")
        },
        "by_variant": {
            str(v): {"total": int(n), "found": int((found["variant"] == v).sum())}
            for v, n in copies["variant"].value_counts().items()
        },
        "by_ratio": by_band,
        "removed_other_reason": missed["removed_by"].value_counts().to_dict(),
        "missed_examples": _examples(missed, ["pid", "kind", "variant", "ratio", "origin"]),
    }

    # Survivors of found copies.
    m = found.merge(
        order.rename(
            columns={
                "pid": "matched",
                "cluster": "m_cluster",
                "published_at": "m_published",
                "article_id": "m_article",
                "removed": "m_removed",
            }
        ),
        on="matched",
        how="left",
    )
    known = m["m_cluster"].notna()
    same = known & (m["m_cluster"] == m["cluster"])
    earlier = (m["m_published"] < m["published_at"]) | (
        (m["m_published"] == m["published_at"]) & (m["m_article"] < m["article_id"])
    )
    exact = m["matched"] == m["origin"]
    acceptable = same & ~m["m_removed"].fillna(True).astype(bool) & earlier
    wrong = m[~(exact | acceptable)]
    result["survivor"] = {
        "exact": int(exact.sum()),
        "acceptable_not_exact": int((acceptable & ~exact).sum()),
        "wrong": len(wrong),
        "wrong_unknown": int((~known).sum()),
        "wrong_other_cluster": int((known & ~same).sum()),
        "wrong_removed": int((same & m["m_removed"].fillna(False).astype(bool) & ~exact).sum()),
        "wrong_later": int((same & ~earlier & ~exact).sum()),
        "wrong_examples": _examples(wrong, ["pid", "kind", "origin", "matched", "detail"]),
    }

    decoys = par[par["kind"] == "decoy"]
    gone = decoys[decoys["removed"]]
    result["decoys_removed"] = {
        "total_decoys": len(decoys),
        "removed": len(gone),
        "by_reason": gone["removed_by"].value_counts().to_dict(),
        "by_variant": gone["variant"].value_counts().to_dict(),
        "examples": _examples(
            gone, ["pid", "variant", "origin", "removed_by", "matched", "detail"]
        ),
    }

    originals = par[par["kind"] == "original"]
    has_copies = originals["pid"].isin(set(copies["origin"]))
    lost = originals[originals["removed"]]
    lost_survivors = lost[lost["pid"].isin(set(copies["origin"]))]
    lost_unique = lost[~lost["pid"].isin(set(copies["origin"]))]
    result["originals_removed"] = {
        "unique_total": int((~has_copies).sum()),
        "unique_removed": len(lost_unique),
        "unique_removed_by_reason": lost_unique["removed_by"].value_counts().to_dict(),
        "survivors_total": int(has_copies.sum()),
        "survivors_removed": len(lost_survivors),
        "survivors_removed_by_reason": lost_survivors["removed_by"].value_counts().to_dict(),
        "examples": _examples(lost, ["pid", "variant", "removed_by", "matched", "detail"]),
    }
    result["removals_not_in_truth"] = int((~rows["pid"].isin(set(par["pid"]))).sum())

    # Alignment: every truth article is there, with the truth's paragraph count.
    a = art.merge(out_articles, on="article_id", how="left")
    result["alignment"] = {
        "truth_articles": len(art),
        "missing": int(a["n_paragraphs_in"].isna().sum()),
        "n_paragraphs_differ": int(
            (a["n_paragraphs_in"].notna() & (a["n_paragraphs_in"] != a["n_paragraphs"])).sum()
        ),
    }

    truth_copy = a["article_copy_of"].notna()
    flagged = a["duplicate_of"].notna()
    both = truth_copy & flagged
    right = both & (a["duplicate_of"] == a["article_copy_of"])
    false_merge = a[flagged & ~truth_copy]
    wrong_target = a[both & ~right]
    result["articles"] = {
        "truth_copies": int(truth_copy.sum()),
        "flagged": int(flagged.sum()),
        "found": int(both.sum()),
        "recall": _rate(int(both.sum()), int(truth_copy.sum())),
        "precision": _rate(int(both.sum()), int(flagged.sum())),
        "right_target": int(right.sum()),
        "wrong_target": len(wrong_target),
        "false_merges": len(false_merge),
        "false_merges_copy_share_ge_0.5": int((false_merge["copy_share"] >= 0.5).sum()),
        "false_merge_examples": _examples(
            false_merge, ["article_id", "duplicate_of", "copy_share", "n_paragraphs"]
        ),
        "wrong_target_examples": _examples(
            wrong_target, ["article_id", "duplicate_of", "article_copy_of", "copy_share"]
        ),
        "duplicate_article_rows": int((whole["reason"] == "duplicate_article").sum()),
    }
    return result


def evaluate_documents(removed_urls: Iterable[str] | Path, truth: Path) -> dict[str, Any]:
    """Document-level scores of a deduplicator that reports the URLs it dropped."""
    if isinstance(removed_urls, Path):
        removed_urls = removed_urls.read_text("utf-8").split()
    dropped = set(removed_urls)
    par, art = read_truth(truth)
    is_copy = art["article_copy_of"].notna()
    firsts = set(art.loc[is_copy, "article_copy_of"])
    is_first = art["article_id"].isin(firsts)
    gone = art["url"].isin(dropped)
    copies = int(is_copy.sum())
    found = int((gone & is_copy).sum())
    gone_ids = set(art.loc[gone, "article_id"])
    either = is_copy & (gone | art["article_copy_of"].isin(gone_ids))
    wrong_survivor = art[gone & ~is_copy & is_first]
    false_merges = art[gone & ~is_copy & ~is_first]
    with_decoy = set(par.loc[par["kind"] == "decoy", "article_id"])
    with_quote = set(par.loc[par["kind"] == "quote", "article_id"])
    return {
        "documents": len(art),
        "dropped": int(gone.sum()),
        "dropped_not_in_truth": len(dropped - set(art["url"])),
        "truth_copies": copies,
        "found": found,
        "recall": _rate(found, copies),
        "pair_detected": int(either.sum()),
        "pair_recall": _rate(int(either.sum()), copies),
        "not_copies": len(wrong_survivor) + len(false_merges),
        "wrong_survivor": len(wrong_survivor),
        "false_merges": len(false_merges),
        "false_merges_copy_share_ge_0.5": int((false_merges["copy_share"] >= 0.5).sum()),
        "false_merges_with_decoy": int(false_merges["article_id"].isin(with_decoy).sum()),
        "false_merges_with_quote": int(false_merges["article_id"].isin(with_quote).sum()),
        "false_merge_examples": _examples(false_merges, ["url", "copy_share", "n_paragraphs"]),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="CLEAN_DIR TRUTH, or TRUTH")
    parser.add_argument(
        "--documents", type=Path, help="score a file of dropped URLs (one per line) instead"
    )
    args = parser.parse_args(argv)
    if args.documents:
        if len(args.paths) != 1:
            parser.error("with --documents give TRUTH only")
        result = evaluate_documents(args.documents, args.paths[0])
    else:
        if len(args.paths) != 2:
            parser.error("give CLEAN_DIR TRUTH")
        result = evaluate(args.paths[0], args.paths[1])
    print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
