"""Stable article ids: a hash of the canonical URL, else of where the record was read."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit

# Query parameters that track the visitor and never select content.
_TRACKING = (
    "utm_",
    "fbclid",
    "gclid",
    "yclid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "ocid",
    "cmpid",
    "igshid",
)


def canonical_url(url: str) -> str | None:
    """The URL two scrapers of the same page agree on: no scheme, ``www.``, port 80/443,
    fragment, tracking parameters or trailing slash; host lower-cased; query sorted.

    >>> canonical_url("HTTPS://www.Example.com:443/News/a/?utm_source=x&b=2&a=1#top")
    'example.com/News/a?a=1&b=2'
    >>> canonical_url("not a url") is None
    True
    """
    try:
        parts = urlsplit(url.strip() if "//" in url else "//" + url.strip())
        host = (parts.hostname or "").removeprefix("www.")
        port = parts.port
    except ValueError:
        return None
    if not host or "." not in host or " " in host:
        return None
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING)
    )
    return netloc + path + ("?" + urlencode(query) if query else "")


def article_id(url: str | None, source_path: str, record_no: int) -> str:
    """16 hex digits: blake2b of the canonical URL, else of ``source_path#record_no``."""
    canonical = canonical_url(url) if url else None
    key = f"url:{canonical}" if canonical else f"path:{source_path}#{record_no}"
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()
