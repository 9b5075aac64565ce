"""Clean one raw record: repair, segment, remove boilerplate, remove in-article duplicates."""

from __future__ import annotations

from pipeline.boilerplate import RuleSet
from pipeline.config import DedupConfig
from pipeline.dedup import find_duplicates
from pipeline.ids import article_id
from pipeline.markup import html_to_text, looks_like_html
from pipeline.records import Article, Cleaned, RawRecord, Removal
from pipeline.repair import fix_line, fix_text, merge_fixes
from pipeline.segment import split_paragraphs


def clean_record(raw: RawRecord, rules: RuleSet, dedup: DedupConfig) -> Cleaned:
    """The cleaned article and one Removal per paragraph or span taken out of it."""
    aid = article_id(raw.url, raw.source_path, raw.record_no)
    text, markup = raw.text, tuple[str, ...]()
    if looks_like_html(text):
        text, markup = html_to_text(text), ("html_markup",)
    repaired = fix_text(text)
    title = fix_line(raw.title) if raw.title else None
    paragraphs = split_paragraphs(repaired.text)

    removals: list[Removal] = []
    dropped: set[int] = set()  # positions removed whole
    for pos, paragraph in enumerate(paragraphs):
        rule = rules.match(paragraph)
        if rule is not None:
            removals.append(Removal(aid, pos, paragraph, "boilerplate_rule", rule))
            dropped.add(pos)

    kept = list(paragraphs)
    for dup in find_duplicates(paragraphs, dedup, skip=frozenset(dropped)):
        removals.append(
            Removal(aid, dup.position, dup.text, dup.reason, dup.detail, aid, dup.matched_position)
        )
        if dup.kept is None:
            dropped.add(dup.position)
        else:
            kept[dup.position] = dup.kept  # a span was cut out of it
    positions = tuple(pos for pos in range(len(kept)) if pos not in dropped)
    out = [kept[pos] for pos in positions]
    article = Article(
        article_id=aid,
        source_path=raw.source_path,
        record_no=raw.record_no,
        url=raw.url,
        source=raw.source,
        title=title.text if title else None,
        published_at=raw.published_at,
        text="\n".join(out),
        fixes=merge_fixes(raw.fixes, markup, repaired.fixes, title.fixes if title else ()),
        n_paragraphs_in=len(paragraphs),
        n_paragraphs_out=len(out),
        meta=raw.meta,
    )
    removals.sort(key=lambda r: r.position or 0)  # stable: spans of one paragraph stay in order
    return Cleaned(article, tuple(removals), positions)
