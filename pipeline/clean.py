"""Clean one raw record: repair, segment, remove boilerplate, remove in-article duplicates."""

from __future__ import annotations

from pipeline.boilerplate import RuleSet
from pipeline.config import DedupConfig
from pipeline.dedup import find_duplicates
from pipeline.ids import article_id
from pipeline.records import Article, Cleaned, RawRecord, Removal
from pipeline.repair import fix_line, fix_text, merge_fixes
from pipeline.segment import split_paragraphs


def clean_record(raw: RawRecord, rules: RuleSet, dedup: DedupConfig) -> Cleaned:
    """The cleaned article and one Removal per paragraph or span taken out of it."""
    aid = article_id(raw.url, raw.source_path, raw.record_no)
    repaired = fix_text(raw.text)
    title = fix_line(raw.title) if raw.title else None
    paragraphs = split_paragraphs(repaired.text)

    removals: dict[int, Removal] = {}
    for pos, paragraph in enumerate(paragraphs):
        rule = rules.match(paragraph)
        if rule is not None:
            removals[pos] = Removal(aid, pos, paragraph, "boilerplate_rule", rule)

    kept = list(paragraphs)
    for dup in find_duplicates(paragraphs, dedup, skip=frozenset(removals)):
        removals[dup.position] = Removal(
            aid, dup.position, dup.text, dup.reason, dup.detail, aid, dup.matched_position
        )
        if dup.kept is not None:
            kept[dup.position] = dup.kept
    out = [
        text
        for pos, text in enumerate(kept)
        if pos not in removals or removals[pos].reason == "duplicate_span"
    ]
    article = Article(
        article_id=aid,
        source_path=raw.source_path,
        record_no=raw.record_no,
        url=raw.url,
        source=raw.source,
        title=title.text if title else None,
        published_at=raw.published_at,
        text="\n".join(out),
        fixes=merge_fixes(raw.fixes, repaired.fixes, title.fixes if title else ()),
        n_paragraphs_in=len(paragraphs),
        n_paragraphs_out=len(out),
        meta=raw.meta,
    )
    return Cleaned(article, tuple(removals[p] for p in sorted(removals)))
