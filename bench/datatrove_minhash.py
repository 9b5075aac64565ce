"""Run datatrove's MinHash deduplication (the peer newsclean is compared with) on a JSONL corpus.

What it does
------------
datatrove's standard four stages, as in its example ``examples/minhash_deduplication.py``
(datatrove 0.10.1), each a ``LocalPipelineExecutor`` depending on the previous one:

1. ``MinhashDedupSignature``: a signature per document (``JsonlReader``, ``text_key="text"``,
   ``id_key="url"``, so that the removed documents are named by URL);
2. ``MinhashDedupBuckets``: matches within each of the 14 buckets;
3. ``MinhashDedupCluster``: clusters of duplicates (one task);
4. ``MinhashDedupFilter``: keeps one document per cluster, writes the dropped ones through its
   ``exclusion_writer`` and the rest as the deduplicated output.

The whole pipeline is timed (wall clock, from the first stage's start to the last one's end),
then the dropped URLs go to ``WORK_DIR/removed_urls.txt``, and one JSON line is printed:
``{"seconds", "docs_in", "docs_removed", "removed_urls", "tasks", "workers", "config"}``.
Score it with ``python bench/dedup_eval.py --documents WORK_DIR/removed_urls.txt TRUTH``.

Choices, and why
----------------
- ``MinhashConfig()`` as it comes (5-word shingles, 14 buckets of 8 hashes, 64-bit hashes):
  the peer as its users run it; its defaults are tuned for web-scale document dedup.
- The signature stage's default word tokenizer (spaCy's blank English one): the corpus is
  multilingual, and that tokenizer splits on spaces and punctuation in any script.
- One task per input file in stages 1 and 4 (they must match), ``--workers`` processes.
- Which copy survives is datatrove's choice (the root of its union-find), not the earliest by
  ``published_at``: the peer has no notion of time, which is part of what is compared.

Run it with the separate venv (datatrove's MinHash stages need regex, tokenizers, spacy and
xxhash<4, and its executor starts processes, hence the ``__main__`` guard)::

    python3 -m venv /work/dtvenv
    /work/dtvenv/bin/pip install datatrove==0.10.1 regex tokenizers spacy 'xxhash<4' orjson
    /work/dtvenv/bin/python bench/datatrove_minhash.py CORPUS_DIR WORK_DIR [--workers 2]

WORK_DIR must be new or empty: datatrove skips tasks it finds completed there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def run(corpus: Path, work: Path, workers: int) -> dict[str, object]:
    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers.jsonl import JsonlWriter

    config = MinhashConfig()
    files = sorted(corpus.glob("*.jsonl"))
    tasks = len(files)

    def reader() -> JsonlReader:
        return JsonlReader(str(corpus), glob_pattern="*.jsonl", text_key="text", id_key="url")

    stage1 = LocalPipelineExecutor(
        pipeline=[
            reader(),
            MinhashDedupSignature(output_folder=str(work / "signatures"), config=config),
        ],
        tasks=tasks,
        workers=workers,
        logging_dir=str(work / "logs" / "signatures"),
    )
    stage2 = LocalPipelineExecutor(
        pipeline=[
            MinhashDedupBuckets(
                input_folder=str(work / "signatures"),
                output_folder=str(work / "buckets"),
                config=config,
            )
        ],
        tasks=config.num_buckets,
        workers=workers,
        logging_dir=str(work / "logs" / "buckets"),
        depends=stage1,
    )
    stage3 = LocalPipelineExecutor(
        pipeline=[
            MinhashDedupCluster(
                input_folder=str(work / "buckets"),
                output_folder=str(work / "remove_ids"),
                config=config,
            )
        ],
        tasks=1,
        logging_dir=str(work / "logs" / "clusters"),
        depends=stage2,
    )
    stage4 = LocalPipelineExecutor(
        pipeline=[
            reader(),
            MinhashDedupFilter(
                input_folder=str(work / "remove_ids"),
                exclusion_writer=JsonlWriter(str(work / "removed"), compression=None),
            ),
            JsonlWriter(str(work / "deduplicated_output"), compression=None),
        ],
        tasks=tasks,
        workers=workers,
        logging_dir=str(work / "logs" / "filter"),
        depends=stage3,
    )
    started = time.perf_counter()
    stage4.run()
    seconds = time.perf_counter() - started

    removed: list[str] = []
    for path in sorted((work / "removed").glob("*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            removed.extend(json.loads(line)["id"] for line in fh if line.strip())
    urls = work / "removed_urls.txt"
    urls.write_text("".join(u + "\n" for u in removed), encoding="utf-8")
    docs_in = 0
    for path in files:
        with open(path, "rb") as fh:
            docs_in += sum(1 for line in fh if line.strip())
    return {
        "seconds": round(seconds, 2),
        "docs_in": docs_in,
        "docs_removed": len(removed),
        "removed_urls": str(urls),
        "tasks": tasks,
        "workers": workers,
        "config": str(config),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus_dir", type=Path, help="directory of *.jsonl files")
    parser.add_argument("work_dir", type=Path, help="datatrove's working directory (new/empty)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    args = parser.parse_args(argv)
    work: Path = args.work_dir.resolve()
    if work.exists() and any(work.iterdir()):
        print(f"datatrove_minhash: {work} is not empty", file=sys.stderr)
        return 2
    if not any(args.corpus_dir.glob("*.jsonl")):
        print(f"datatrove_minhash: no *.jsonl in {args.corpus_dir}", file=sys.stderr)
        return 2
    work.mkdir(parents=True, exist_ok=True)
    print(json.dumps(run(args.corpus_dir.resolve(), work, args.workers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
