"""Mine real page chrome from the shared corpora and score the boilerplate rule pack on it.

Reads the corpora in place (nothing is copied into the repo):

- aeb-scrapinghub: ``output/html-text.json`` (text of the whole page) against
  ``ground-truth.json`` (the gold article body). A line of the page is *content* when it
  occurs in the gold text (normalised, on word boundaries), else *chrome*.
- CleanPortalEval (cleaneval-cpe): ``input/*.html.gz`` with tags stripped crudely, against
  ``GoldStandard/*.txt.gz`` (``URL:`` line, then ``<p>``/``<h>``/``<l>`` blocks).
- bsnlp2021-raw: the ru and uk documents (4 header lines, then the title and the body). There
  is no gold, so it reports what each rule matches, with samples for a human to judge, and
  the short lines that repeat across documents.

For each corpus with gold it prints how many chrome lines the rules remove, how many content
lines they wrongly remove (with the worst false positives), and the most frequent short chrome
lines that no rule matches yet: the candidates for new rules.

    python bench/mine_chrome.py                       # all corpora, built-in pack
    python bench/mine_chrome.py --corpus aeb --top 100
    python bench/mine_chrome.py --rules extra.toml    # built-in pack + a user pack
    python bench/mine_chrome.py --samples 20          # more matched lines per rule, to read
    python bench/mine_chrome.py --max-content 10      # exit 1 if more content lines are removed

Some gold bodies keep lines that the pack removes on purpose (copyright notices such as
"© 2019 Associated Press. All Rights Reserved. …", photo credits such as "© Reuters"): they show
up as false positives, and are listed so that a reader can judge them.
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import re
import sys
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.boilerplate import RuleSet, load_rules  # noqa: E402

DEFAULT_CORPORA = Path("/work/shared/corpora")
SHORT = 250  # chrome candidates are lines shorter than this
MIN_WORDS = 3  # a line found inside a gold paragraph is content from this many words on


@dataclass
class Doc:
    doc_id: str
    lines: list[str]  # stripped, non-empty lines, in page order
    gold: str | None = None  # normalised gold text (None: no gold)
    gold_paragraphs: set[str] = field(default_factory=set)  # normalised gold paragraphs


# --- normalisation and the content test --------------------------------------------------------

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"', "\xa0": " "})
_WS = re.compile(r"\s+")


def norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", html.unescape(text)).translate(_QUOTES)
    return _WS.sub(" ", text).strip().casefold()


def gold_status(line_norm: str, doc: Doc) -> str:
    """How a page line relates to the gold text.

    ``"paragraph"``: it is a whole gold paragraph; ``"inside"``: it occurs inside the gold text
    on word boundaries and has at least ``MIN_WORDS`` words; ``"short"``: a line of fewer words
    that occurs only inside a gold paragraph ("Twitter", "About", "2"): most likely a menu item
    that happens to be a word of the article, so it counts neither as content nor as chrome;
    ``""``: not in the gold text, i.e. chrome.
    """
    assert doc.gold is not None
    if not line_norm:
        return ""
    if line_norm in doc.gold_paragraphs:
        return "paragraph"
    start = doc.gold.find(line_norm)
    while start >= 0:
        end = start + len(line_norm)
        before = doc.gold[start - 1] if start else " "
        after = doc.gold[end] if end < len(doc.gold) else " "
        if not (before.isalnum() and line_norm[0].isalnum()) and not (
            after.isalnum() and line_norm[-1].isalnum()
        ):
            return "inside" if len(line_norm.split()) >= MIN_WORDS else "short"
        start = doc.gold.find(line_norm, start + 1)
    return ""


def split_lines(text: str) -> list[str]:
    return [s for s in (_WS.sub(" ", line).strip() for line in text.splitlines()) if s]


# --- readers -----------------------------------------------------------------------------------


def read_aeb(root: Path) -> Iterator[Doc]:
    base = root / "aeb-scrapinghub"
    gold = json.loads((base / "ground-truth.json").read_text(encoding="utf-8"))
    page = json.loads((base / "output" / "html-text.json").read_text(encoding="utf-8"))["output"]
    for doc_id in sorted(gold):
        if doc_id not in page:
            continue
        body = gold[doc_id]["articleBody"]
        yield Doc(
            doc_id=doc_id[:12],
            lines=split_lines(page[doc_id]["articleBody"]),
            gold=norm(body),
            gold_paragraphs={norm(p) for p in body.splitlines() if p.strip()},
        )


_DROP_BLOCKS = re.compile(
    r"<!--.*?-->|<(script|style|noscript|head|iframe|svg)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|table|section|article|header|footer|nav|aside|"
    r"form|option|select|blockquote|dd|dt|dl|figure|figcaption|title|pre|hr|body|html|"
    r"button|label|caption|center|span\s+class=\"?(?:caption|byline))\b[^>]*>",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]*>", re.DOTALL)


def html_to_lines(raw: bytes) -> list[str]:
    text = raw.decode("utf-8", errors="replace")
    if text.count("\ufffd") > 20:
        text = raw.decode("cp1252", errors="replace")
    text = re.sub(r"^\s*<text\b[^>]*>|</text>\s*$", "", text)
    text = _DROP_BLOCKS.sub("\n", text)
    text = _BLOCK_TAG.sub("\n", text)
    text = _TAG.sub(" ", text)
    return split_lines(html.unescape(text))


_GOLD_MARK = re.compile(r"^\s*<(?:p|h|l)>", re.MULTILINE)


def read_cpe(root: Path) -> Iterator[Doc]:
    base = root / "cleaneval-cpe" / "CleanPortalEval-master"
    for gold_path in sorted((base / "GoldStandard").glob("*.txt.gz")):
        name = gold_path.name.removesuffix(".txt.gz")
        html_path = base / "input" / f"{name}.html.gz"
        if not html_path.exists():
            continue
        gold_text = gzip.decompress(gold_path.read_bytes()).decode("utf-8", errors="replace")
        gold_text = re.sub(r"^\s*URL:[^\n]*\n", "", gold_text)
        blocks = [_WS.sub(" ", b).strip() for b in _GOLD_MARK.split(gold_text)]
        blocks = [b for b in blocks if b]
        yield Doc(
            doc_id=name,
            lines=html_to_lines(gzip.decompress(html_path.read_bytes())),
            gold=norm("\n".join(blocks)),
            gold_paragraphs={norm(b) for b in blocks},
        )


def read_bsnlp(root: Path, langs: tuple[str, ...] = ("ru", "uk")) -> Iterator[Doc]:
    base = root / "bsnlp2021-raw" / "data" / "datasets" / "bsnlp"
    for lang in langs:
        for path in sorted(base.glob(f"*/raw/{lang}/*.txt")):
            text = path.read_bytes().decode("utf-8-sig", errors="replace")
            lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            yield Doc(doc_id=str(path.relative_to(base)), lines=split_lines("\n".join(lines[4:])))


# --- reports -----------------------------------------------------------------------------------


def clip(text: str, width: int = 140) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def report_gold(
    name: str, docs: list[Doc], rules: RuleSet, top: int, worst: int, samples: int = 0
) -> dict[str, int]:
    totals: Counter[str] = Counter()  # chrome / content / short, and what the rules removed
    per_rule: dict[str, Counter[str]] = defaultdict(Counter)
    rule_lines: dict[str, Counter[str]] = defaultdict(Counter)  # chrome lines each rule removes
    false_pos: list[tuple[str, str, str, str]] = []
    unmatched_docs: Counter[str] = Counter()  # chrome line -> number of pages, no rule matches
    matched_docs: Counter[str] = Counter()
    seconds = 0.0  # time spent in RuleSet.match
    for doc in docs:
        seen_unmatched: set[str] = set()
        seen_matched: set[str] = set()
        for line in doc.lines:
            status = gold_status(norm(line), doc)
            kind = {"": "chrome", "short": "short"}.get(status, "content")
            totals[kind] += 1
            start = time.perf_counter()
            rule = rules.match(line)
            seconds += time.perf_counter() - start
            if rule is None:
                if kind == "chrome" and len(line) < SHORT:
                    seen_unmatched.add(line)
                continue
            totals[f"{kind}_removed"] += 1
            per_rule[rule][kind] += 1
            if kind == "chrome":
                rule_lines[rule][line] += 1
            if kind == "content":
                totals[f"{status}_removed"] += 1
                false_pos.append((rule, line, doc.doc_id, status))
            elif kind == "chrome":
                seen_matched.add(line)
        unmatched_docs.update(seen_unmatched)
        matched_docs.update(seen_matched)

    chrome, content = totals["chrome"], totals["content"]
    print(f"\n=== {name}: {len(docs)} pages, {chrome + content + totals['short']} lines")
    print(
        f"chrome lines (not in gold): {chrome}; content lines (in gold): {content}; "
        f"short lines found only inside a gold paragraph (neither): {totals['short']}"
    )
    share = 100 * totals["chrome_removed"] / max(chrome, 1)
    print(f"rules remove {totals['chrome_removed']} chrome lines ({share:.1f}% of chrome)")
    print(
        f"rules wrongly remove {totals['content_removed']} content lines "
        f"({totals['paragraph_removed']} whole gold paragraphs, "
        f"{totals['inside_removed']} inside a gold paragraph)"
    )
    print(f"rules remove {totals['short_removed']} short lines found only inside gold paragraphs")
    n_lines = chrome + content + totals["short"]
    print(f"matching took {seconds:.2f} s ({1e6 * seconds / max(n_lines, 1):.1f} µs a line)")
    print("\nper rule (chrome removed / content removed / short-inside removed):")
    for rule_name, c in sorted(per_rule.items(), key=lambda kv: -sum(kv[1].values())):
        print(f"  {rule_name:32} {c['chrome']:6} {c['content']:4} {c['short']:4}")
        for line, k in rule_lines[rule_name].most_common(samples):
            print(f"        {k:4}  {clip(line, 130)!r}")
    if false_pos:
        print(f"\nworst false positives ({min(worst, len(false_pos))} of {len(false_pos)}):")
        # Whole gold paragraphs first, then the longest: those are surely content.
        ranked = sorted(false_pos, key=lambda f: (f[3] != "paragraph", -len(f[1])))
        for rule_name, line, doc_id, status in ranked[:worst]:
            mark = "P" if status == "paragraph" else "i"
            print(f"  {mark} [{rule_name}] {doc_id}: {clip(line)!r}")
    print(f"\nmost frequent chrome lines no rule matches (pages, line), top {top}:")
    for line, n in unmatched_docs.most_common(top):
        print(f"  {n:4}  {clip(line)!r}")
    print(f"\nmost frequent chrome lines the rules remove (pages, line), top {min(top, 30)}:")
    for line, n in matched_docs.most_common(min(top, 30)):
        print(f"  {n:4}  [{rules.match(line)}] {clip(line)!r}")
    return {
        "chrome": chrome,
        "chrome_removed": totals["chrome_removed"],
        "content": content,
        "content_removed": totals["content_removed"],
        "short_inside_removed": totals["short_removed"],
    }


def report_bsnlp(docs: list[Doc], rules: RuleSet, top: int, samples: int) -> dict[str, int]:
    per_rule: Counter[str] = Counter()
    rule_docs: dict[str, set[str]] = defaultdict(set)
    rule_lines: dict[str, Counter[str]] = defaultdict(Counter)
    repeated: Counter[str] = Counter()  # short unmatched line -> number of documents
    total = 0
    for doc in docs:
        seen: set[str] = set()
        for i, line in enumerate(doc.lines):
            total += 1
            rule = rules.match(line)
            if rule is None:
                if i > 0 and len(line) < SHORT:  # line 0 is the title
                    seen.add(line)
                continue
            per_rule[rule] += 1
            rule_docs[rule].add(doc.doc_id)
            rule_lines[rule][line] += 1
        repeated.update(seen)

    matched = sum(per_rule.values())
    n_docs = len({d for ds in rule_docs.values() for d in ds})
    print(f"\n=== bsnlp2021-raw ru+uk: {len(docs)} documents, {total} lines (no gold)")
    print(f"rules match {matched} lines in {n_docs} documents")
    print("\nper rule (lines / documents), with a sample of the matched lines:")
    for rule_name, n in per_rule.most_common():
        print(f"  {rule_name:32} {n:5} {len(rule_docs[rule_name]):5}")
        for line, k in rule_lines[rule_name].most_common(samples):
            print(f"        {k:4}  {clip(line, 130)!r}")
    print(f"\nshort lines in 3+ documents that no rule matches (documents, line), top {top}:")
    for line, n in repeated.most_common(top):
        if n < 3:
            break
        print(f"  {n:4}  {clip(line)!r}")
    return {"lines": total, "matched": matched, "documents_matched": n_docs}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument(
        "--corpus", action="append", choices=["aeb", "cpe", "bsnlp"], help="default: all"
    )
    ap.add_argument("--rules", action="append", default=[], help="extra rule pack (TOML)")
    ap.add_argument("--no-builtin", action="store_true", help="leave out the built-in pack")
    ap.add_argument("--top", type=int, default=60, help="chrome candidates to list")
    ap.add_argument("--worst", type=int, default=30, help="false positives to list")
    ap.add_argument("--samples", type=int, default=6, help="matched lines to show per rule")
    ap.add_argument(
        "--max-content",
        type=int,
        default=None,
        help="exit 1 when the rules remove more content lines than this in a gold corpus",
    )
    args = ap.parse_args(argv)

    rules = load_rules(builtin=not args.no_builtin, rule_files=tuple(args.rules))
    print(f"rule pack: {len(rules)} rules")
    corpora = args.corpus or ["aeb", "cpe", "bsnlp"]
    summary: dict[str, dict[str, int]] = {}
    if "aeb" in corpora:
        docs = list(read_aeb(args.corpora))
        summary["aeb-scrapinghub"] = report_gold(
            "aeb-scrapinghub", docs, rules, args.top, args.worst, args.samples
        )
    if "cpe" in corpora:
        docs = list(read_cpe(args.corpora))
        summary["CleanPortalEval"] = report_gold(
            "CleanPortalEval", docs, rules, args.top, args.worst, args.samples
        )
    if "bsnlp" in corpora:
        summary["bsnlp2021-raw"] = report_bsnlp(
            list(read_bsnlp(args.corpora)), rules, args.top, args.samples
        )
    print("\n=== summary")
    for name, numbers in summary.items():
        print(f"  {name:18} " + "  ".join(f"{k}={v}" for k, v in numbers.items()))
    if args.max_content is not None:
        over = {n: v["content_removed"] for n, v in summary.items() if "content_removed" in v}
        over = {n: v for n, v in over.items() if v > args.max_content}
        if over:
            print(f"content lines removed above --max-content {args.max_content}: {over}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
