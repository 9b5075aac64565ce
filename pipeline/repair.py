"""Repair encoding damage and keep everything that is not broken.

ftfy does the repair; we configure it and gate it. The gate is a cheap regex that finds
the sequences mojibake, entities and control characters leave; only lines that have one go
to ftfy (ftfy runs at ~3 MB/s, the gate at tens of MB/s, and most lines are clean).

What we change from ftfy's defaults, and why (as datatrove's FTFY formatter does):

- ``uncurl_quotes=False``: curly quotes are typography, not damage. Uncurling them changes
  content (DESIGN.md: "curly quotes, dashes, ё stay").
- ``fix_character_width=False``: folding full-width characters changes CJK punctuation,
  which is correct text.
- ``unescape_html=True``: scraped text is plain text, so ``&amp;`` is always damage, even on
  a line that also holds a literal ``<``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import ftfy

FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=True,
    uncurl_quotes=False,
    fix_character_width=False,
    normalization="NFC",
    explain=True,
)

# What may be damage. UTF-8 read as cp1252/Latin-1 turns a lead byte C2-F4 into "Â".."ô" and
# a continuation byte 80-BF into a C1 control, a Latin-1 symbol, or one of cp1252's 27
# specials; entities look like "&name;"; C0/C1 controls, U+FFFD neighbours, surrogates and
# ligatures are what ftfy's other fixers handle. (Gate measured in bench/bench_repair.py.)
_CP1252_SPECIALS = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
_LEAD = "\u00c2-\u00f4"
_CONTROLS = "\u0000-\u0008\u000b\u000e-\u001f\u007f-\u009f\ud800-\udfff\ufb00-\ufb06"
SUSPICIOUS = re.compile(
    f"[{_LEAD}][\u0080-\u00bf{re.escape(_CP1252_SPECIALS)}]"
    r"|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,30});"
    f"|[{_CONTROLS}]"
)
# The characters a match of SUSPICIOUS starts with: a fast first pass (one character class
# is scanned at several times the speed of the alternation; most text has none).
_MAY_BE_SUSPICIOUS = re.compile(f"[{_LEAD}&{_CONTROLS}]")

# Whitespace we fold into one space: tabs, NBSP and the other Unicode spaces. A lone ASCII
# space needs no folding, so only runs and other spaces match: on most text the
# substitution is then one scan, not one replacement per word.
_OTHER_SPACES = "\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"
_SPACES = re.compile(f" [ {_OTHER_SPACES}]+|[{_OTHER_SPACES}][ {_OTHER_SPACES}]*")
# Invisible characters that carry nothing in running text (not ZWJ/ZWNJ, which do).
_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u00ad]")
_LINE_BREAKS = re.compile("\r\n?|[\u2028\u2029\u0085\u000b\u000c]")
_ANY_LINE_BREAK = re.compile("[\r\u2028\u2029\u0085\u000b\u000c]")

# ftfy's explanation steps -> our names for the ``fixes`` column.
_STEP_NAMES = {
    "unescape_html": "html_entities",
    "decode_inconsistent_utf8": "mojibake",
    "restore_byte_a0": "mojibake",
    "replace_lossy_sequences": "mojibake",
    "fix_c1_controls": "c1_controls",
    "remove_control_chars": "control_chars",
    "remove_terminal_escapes": "terminal_escapes",
    "fix_surrogates": "surrogates",
    "fix_latin_ligatures": "ligatures",
    "fix_line_breaks": "line_breaks",
}


@dataclass(frozen=True, slots=True)
class Repaired:
    text: str
    fixes: tuple[str, ...]


def fix_line(line: str) -> Repaired:
    """Repair one line: ftfy if the gate fires, then NFC and whitespace.

    >>> fix_line("donâ€™t &amp; “keep” – ёлка")
    Repaired(text='don’t & “keep” – ёлка', fixes=('html_entities', 'mojibake'))
    >>> fix_line("  plain\\u00a0 text ")
    Repaired(text='plain text', fixes=())
    """
    fixes: list[str] = []
    if _suspicious(line):
        fixed, steps = ftfy.fix_and_explain(line, config=FTFY_CONFIG)
        for kind, name in steps or ():
            tag = (
                "mojibake"
                if kind in ("encode", "decode", "transcode")
                else _STEP_NAMES.get(name, name)
            )
            if tag not in fixes:
                fixes.append(tag)
        line = fixed
    nfc = unicodedata.normalize("NFC", line)
    if nfc != line and "nfc" not in fixes:
        fixes.append("nfc")
    line = _INVISIBLE.sub("", nfc)
    line = _SPACES.sub(" ", line).strip()
    return Repaired(line, tuple(fixes))


def _suspicious(text: str) -> bool:
    """``SUSPICIOUS.search(text)``, from the first character a match can start with."""
    first = _MAY_BE_SUSPICIOUS.search(text)
    return first is not None and SUSPICIOUS.search(text, first.start()) is not None


def fix_text(text: str) -> Repaired:
    """Repair a whole text line by line; line structure is kept, line ends become "\\n"."""
    if _ANY_LINE_BREAK.search(text):
        text = _LINE_BREAKS.sub("\n", text)
    if not _suspicious(text):  # the common case: one pass over the whole text
        nfc = unicodedata.normalize("NFC", text)
        lines = _SPACES.sub(" ", _INVISIBLE.sub("", nfc)).split("\n")
        return Repaired("\n".join(line.strip() for line in lines), ("nfc",) if nfc != text else ())
    lines = []
    fixes: list[str] = []
    for raw_line in text.split("\n"):
        repaired = fix_line(raw_line)
        lines.append(repaired.text)
        for fix in repaired.fixes:
            if fix not in fixes:
                fixes.append(fix)
    return Repaired("\n".join(lines), tuple(fixes))


def merge_fixes(*groups: tuple[str, ...]) -> tuple[str, ...]:
    """Concatenate fix lists, keeping the first occurrence of each."""
    return tuple(dict.fromkeys(f for g in groups for f in g))
