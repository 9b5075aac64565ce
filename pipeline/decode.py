"""Bytes to text: BOMs, UTF-8, and charset detection for everything else.

Detection is charset-normalizer's; we only break its ties. On short Western text it often
scores cp1250, cp1252 and cp1257 the same, and picking the first would turn "œ" into "ś":
among equally good candidates we take the one most common on news sites.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

from pipeline.errors import RecordError

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Tie-break order among candidates charset-normalizer scores the same (most common first, by
# W3Techs' survey of site encodings); anything else ranks after these.
_PREFERRED = (
    "utf_8",
    "cp1252",
    "cp1251",
    "koi8_r",
    "cp1250",
    "latin_1",
    "iso8859_15",
    "iso8859_2",
    "cp1257",
    "koi8_u",
    "cp1253",
    "cp1254",
)

# Chaos scores closer than this are a tie (charset-normalizer reports them in steps of ~0.02);
# coherence closer than this is noise between Latin code pages (measured: 0.05 apart).
CHAOS_TIE = 0.01
COHERENCE_TIE = 0.1
MIN_HIGH_BYTES = 20

# A CJK decoding needs this many CJK characters to be believed.
MIN_CJK_CHARS = 20
_CJK_CODECS = frozenset(
    [
        "cp932",
        "shift_jis",
        "shift_jis_2004",
        "shift_jisx0213",
        "euc_jp",
        "euc_jis_2004",
        "euc_jisx0213",
        "gb2312",
        "gbk",
        "gb18030",
        "hz",
        "big5",
        "big5hkscs",
        "cp950",
        "cp949",
        "euc_kr",
        "johab",
        "iso2022_jp",
        "iso2022_kr",
    ]
)
_CJK_CHARS = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff66-\uff9f]")

# A control character other than tab, newline, carriage return or form feed is not text.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
_HIGH_BYTE = re.compile(b"[\x80-\xff]")


def canonical_encoding(name: str) -> str:
    """Python's canonical spelling of an encoding name: ``windows-1251`` -> ``cp1251``."""
    return codecs.lookup(name).name


def decode_bytes(data: bytes) -> tuple[str, str | None]:
    """Decode raw bytes; return the text and the encoding used if it was not plain UTF-8.

    Raises RecordError for bytes that are empty, binary or undecodable.

    >>> decode_bytes("Ёлка стоит на площади до 15 января, сообщили в мэрии.".encode("cp1251"))
    ('Ёлка стоит на площади до 15 января, сообщили в мэрии.', 'cp1251')
    >>> decode_bytes(b"plain")
    ('plain', None)
    """
    if not data.strip():
        raise RecordError("empty file")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise RecordError(f"invalid {encoding} after its byte order mark: {exc}") from None
            _reject_binary(text)
            return text, None if encoding == "utf-8" else canonical_encoding(encoding)
    utf16 = _utf16_without_bom(data) if b"\x00" in data else None
    if utf16 is not None:  # no other text encoding puts NULs on one byte parity
        text = data.decode(utf16)
        _reject_binary(text)
        return text, utf16
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        _reject_binary(text)  # a stray NUL in a line of JSON stays that line's problem
        return text, None
    if b"\x00" in data:
        raise RecordError("binary content (NUL bytes, no byte order mark)")
    if _mostly_utf8(data):
        # UTF-8 with a few stray bytes: a file glued from two sources, say with cp1252
        # quotes pasted into UTF-8. Decoding the whole as a legacy code page would turn
        # every UTF-8 character into mojibake, so only the stray bytes are read as cp1252.
        text = data.decode("utf-8", errors=_CP1252_FALLBACK)
        _reject_binary(text)
        return text, "utf-8+cp1252"
    detected = detect_encoding(data)
    if detected is None and _UTF8_SEQUENCE.search(data):
        text = data.decode("utf-8", errors=_CP1252_FALLBACK)  # mixed, and more cp1252 than not
        _reject_binary(text)
        return text, "utf-8+cp1252"
    if detected is None:
        raise RecordError("binary content or unknown encoding (no charset detected)")
    text = data.decode(detected, errors="replace")
    _reject_binary(text)
    return text, canonical_encoding(detected)


def _utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le``/``-be`` when NULs sit on one parity, as in BOM-less UTF-16 of mostly
    Latin text (what some Windows tools write), and the bytes decode; else None."""
    if len(data) % 2:
        return None
    even, odd = data[0::2].count(0), data[1::2].count(0)
    half = len(data) // 2
    # Latin text has a NUL in every other byte; Cyrillic or Greek only in its spaces and
    # punctuation (~15%), so the bar is low, and the other parity must have next to none.
    for encoding, nuls, others in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if nuls >= 0.05 * half and others <= 0.005 * half:
            try:
                data.decode(encoding)
            except UnicodeDecodeError:
                return None
            return encoding
    return None


def _mostly_utf8(data: bytes) -> bool:
    """More valid UTF-8 multi-byte sequences than bytes that are not part of one."""
    sequences = len(_UTF8_SEQUENCE.findall(data))
    stray = len(_HIGH_BYTE.findall(data)) - sum(len(m) for m in _UTF8_SEQUENCE.findall(data))
    return sequences > 0 and sequences >= stray


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    chunk = error.object[error.start : error.end]
    return chunk.decode("cp1252", errors="replace"), error.end


_CP1252_FALLBACK = "newsclean-cp1252-fallback"
codecs.register_error(_CP1252_FALLBACK, _cp1252_fallback)
_UTF8_SEQUENCE = re.compile(
    b"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def detect_encoding(data: bytes) -> str | None:
    """The most plausible single encoding for non-UTF-8 bytes, or None.

    charset-normalizer ranks candidates by "chaos" (how much the decoded text looks like
    noise), then by language coherence. Three corrections, each measured on the cp1252,
    cp1251 and KOI8-R files that bench/make_corpus.py writes:

    - a multi-byte CJK reading of mostly-ASCII bytes is not Japanese or Chinese: one "©" in
      32 KB of English decodes without chaos as half-width katakana in cp932;
    - coherence is a language model: it separates cp1251 from KOI8-R well, but among Latin
      code pages it is noise (it preferred mac_latin2's "adoptť" to cp1252's "adopté"), and
      with a few non-ASCII bytes in a page ("Brontë") it measures nothing at all;
    - so among candidates tied on chaos and close on coherence, including every encoding
      that decodes to the same text (``could_be_from_charset``), we take the most common one
      on the web.
    """
    matches = [m for m in from_bytes(data) if not _sparse_cjk(m.encoding, str(m))]
    if not matches:
        return None
    best_chaos = min(m.chaos for m in matches)
    tied = [m for m in matches if m.chaos <= best_chaos + CHAOS_TIE]
    best_coherence = max(m.coherence for m in tied)
    # With a handful of non-ASCII bytes, coherence measures nothing: go by the prior alone.
    few = len(_HIGH_BYTE.findall(data, 0, 1 << 20)) < MIN_HIGH_BYTES
    candidates = {
        enc
        for m in tied
        if few or m.coherence >= best_coherence - COHERENCE_TIE
        for enc in (m.could_be_from_charset or [m.encoding])
    }

    def rank(encoding: str) -> tuple[int, str]:
        return (_PREFERRED.index(encoding) if encoding in _PREFERRED else len(_PREFERRED), encoding)

    return min(candidates, key=rank)


def _sparse_cjk(encoding: str, text: str) -> bool:
    if encoding not in _CJK_CODECS:
        return False
    return len(_CJK_CHARS.findall(text)) < MIN_CJK_CHARS


def _reject_binary(text: str) -> None:
    """Raise if more than 1% of the characters are control characters (binary junk)."""
    sample = text[:65536]
    bad = len(_CONTROL.findall(sample))
    if sample and bad > max(2, len(sample) // 100):
        raise RecordError(f"binary content ({bad} control characters in {len(sample)})")
