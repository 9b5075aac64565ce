"""Split repaired text into paragraphs, and paragraphs into sentences.

Scrapers write one paragraph per line, or paragraphs separated by blank lines, sometimes
hard-wrapped at a fixed width. We handle both without a mode switch: text is cut into blocks
at blank lines, and a block is one paragraph when it looks hard-wrapped, else one paragraph
per line.
"""

from __future__ import annotations

import itertools
import re

# A block is hard-wrapped when every line but the last fills most of the widest line, the
# widest line is about as wide as a terminal or an email (RFC 5322's 78, with margin), and
# some line breaks mid-sentence.
WRAP_MIN_WIDTH = 40
WRAP_MAX_WIDTH = 100
WRAP_MIN_FILL = 0.6
_ENDS_SENTENCE = re.compile(r"[.!?…:;\"”»]$")
# A line that starts like this opens its own paragraph even inside a wrapped block.
_OPENER = re.compile(r"^\s*(?:[-–—•*·]\s|\d{1,3}[.)]\s)")


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of a repaired text (lines already stripped), empty ones dropped.

    >>> split_paragraphs("one\\ntwo\\n\\nthree")
    ['one', 'two', 'three']
    >>> text = "A mail client wrapped this paragraph at a fixed\\n"
    >>> text += "width of fifty characters, so we rejoin it.\\n\\nNext."
    >>> split_paragraphs(text)[0]
    'A mail client wrapped this paragraph at a fixed width of fifty characters, so we rejoin it.'
    """
    paragraphs: list[str] = []
    block: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            block.append(line.strip())
            continue
        paragraphs.extend(_block_paragraphs(block))
        block = []
    paragraphs.extend(_block_paragraphs(block))
    return paragraphs


def _block_paragraphs(lines: list[str]) -> list[str]:
    if len(lines) < 2 or not _is_hard_wrapped(lines):
        return lines
    out: list[str] = []
    current = lines[0]
    for line in lines[1:]:
        if _OPENER.match(line):
            out.append(current)
            current = line
        elif current.endswith("-") and not current.endswith(" -") and line[:1].islower():
            current += line  # a word hyphenated at the wrap: keep the hyphen, drop the break
        else:
            current += " " + line
    out.append(current)
    return out


def _is_hard_wrapped(lines: list[str]) -> bool:
    width = max(len(line) for line in lines)
    if not WRAP_MIN_WIDTH <= width <= WRAP_MAX_WIDTH:
        return False
    if all(_ENDS_SENTENCE.search(line) for line in lines[:-1]):
        return False  # every line ends a sentence: one paragraph per line
    # A wrap falls mid-sentence, so most continuation lines go on in lower case; a block
    # whose lines start with capitals is a list of headlines, subheads or scores.
    pairs = [(line, nxt) for line, nxt in itertools.pairwise(lines) if not _OPENER.match(nxt)]
    mid_sentence = sum(
        1
        for line, nxt in pairs
        if nxt[:1].islower() or (not _ENDS_SENTENCE.search(line) and not nxt[:1].isupper())
    )
    if pairs and mid_sentence * 2 < len(pairs):
        return False
    # A line may be short where the next one opens a list item: that ends a paragraph.
    return all(
        len(line) >= WRAP_MIN_FILL * width or _OPENER.match(nxt)
        for line, nxt in itertools.pairwise(lines)
    )


# A sentence ends at . ! ? … (possibly repeated, possibly followed by closing quotes or
# brackets) before whitespace; the next one starts with anything that is not lower-case.
# The pattern starts with the end mark itself (not a look-behind) so that re can skip to it.
_SENTENCE_END = re.compile(r"[.!?…]([\"'”’»)\]]*)\s+(?=[^\s\w]*[^\W\d_a-zа-яё]|[\"“„«'‘(\[–—-]|\d)")


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph; joining them with single spaces gives it back.

    Tuned for recall of repeated runs, not for linguistics: an abbreviation may cut a
    sentence in two, which only makes the units of repetition smaller.

    >>> split_sentences("It rained. “Yes,” he said! Then… nothing? 5 left.")
    ['It rained.', '“Yes,” he said!', 'Then… nothing?', '5 left.']
    """
    parts: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(paragraph):
        end = m.start() + 1 + len(m.group(1))  # the mark and its closing quotes
        parts.append(paragraph[start:end])
        start = m.end()
    parts.append(paragraph[start:])
    return [p for p in parts if p]
