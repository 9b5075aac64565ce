"""Build a benchmark raw corpus of a requested size for newsclean, from real third-party corpora.

What it makes
-------------
A tree of raw input files in OUT_DIR, in the formats DESIGN.md ("Input: data/raw/") says scrapers
leave behind. Each made-up scraper (a "feed", see ``FEEDS``) writes one format, names the fields
in its own way (url/link/href, title/headline, text/content/body/article,
published_at/date/published/pubDate, source/site/domain), formats dates its own way and adds a
field or two of its own, which the pipeline should keep in ``meta``:

- mostly JSON Lines: ``.jsonl``, ``.ndjson`` and ``.jsonl.gz``;
- ``.json`` files holding a list of articles, and a few holding a single article;
- a few ``.csv`` files;
- ``.txt`` files, one article each, in cp1251, KOI8-R, cp1252, UTF-16 with BOM, UTF-8 with or
  without BOM, some with CRLF line ends.

Where the texts come from
-------------------------
The real corpora in shared/corpora/, read in place (never copied into the project):

- bsnlp2021-raw: Slavic news, .txt with a 4-line header (id, lang, date, url) and the title on
  line 5. The header is stripped and used for the fields; the placeholder URL
  ``http://www.fromtheweb.eu`` is replaced by a made-up unique one.
- aeb-scrapinghub: the gold article bodies and URLs (``ground-truth.json``) and, for about half
  of their uses, the full-page text with navigation and footers (``output/html-text.json``).
- cleaneval-cpe: CleanEval and CleanPortalEval gold texts, without the ``URL:`` line and the
  ``<p>``/``<h>``/``<l>`` markers; titles (and URLs missing from the gold) from the
  ``<text id=... title=...>`` wrapper of the input page.

Why it is built like this
-------------------------
The real corpora hold about 33 MB of text, in one fixed size, and a throughput benchmark needs
any size and the damage the pipeline has to undo, in known proportions. So the generator cycles
through the real texts (in a new shuffled order on each pass; from the second pass on under new
URLs, so article ids differ) and damages a fraction of them as scraped news gets damaged:

- ~30% site chrome added ("Read also: <other title>", "Follow us on Telegram",
  "© 2021 Site. All rights reserved.", "Читайте также: …", …); each site has its own footer, so
  it repeats within a source;
- ~5% a paragraph repeated inside the article;
- ~2% mojibake in a paragraph (UTF-8 bytes read as cp1252), ~2% HTML entities left escaped;
- ~10% syndicated copies: the same body under another site's URL, with light edits
  (dashes, re-segmented paragraphs, a dropped last paragraph, a "Source:" line);
- ~0.1% bad records (malformed JSON line, empty or missing text), an empty file, a junk file.

The texts bring damage of their own as well: chrome in the aeb full-page texts, mojibake and
entities in some CleanEval gold files, boilerplate and duplicates in the bsnlp ru/uk files.
Copies made on the second and later passes repeat the body of an earlier article under another
URL, so at sizes past one pass (~35 MB) the dedup stage finds many duplicate articles.

The output is deterministic for a given seed, size and corpora (gzip headers carry no time).
Sizes are on-disk bytes, 1 MB = 1,000,000 bytes. ``--manifest FILE`` writes the ground truth (one
JSON line per record: file, record number, origin, damage) for quality evaluations; it must be
outside OUT_DIR because the pipeline reads every file under its raw root.

Usage::

    python bench/make_corpus.py OUT_DIR --mb 50 [--seed 0] [--corpora DIR] [--manifest FILE]
"""

from __future__ import annotations

import argparse
import csv
import email.utils
import gzip
import html
import io
import json
import os
import re
import sys
import time
import unicodedata
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO, TextIO
from urllib.parse import urlsplit

import numpy as np

DEFAULT_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
MB = 1_000_000

# Damage rates (per article) and other proportions.
CHROME_RATE = 0.30
REPEAT_RATE = 0.05
MOJIBAKE_RATE = 0.02
ENTITIES_RATE = 0.02
SYNDICATION_RATE = 0.10
BAD_EVERY = 1000  # one bad record per this many good ones: ~0.1%
PAGE_TEXT_RATE = 0.5  # aeb: share of uses taking the full-page text instead of the gold body

Rng = np.random.Generator


# --------------------------------------------------------------------------------------------
# Source documents
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceDoc:
    """One real text, as read from a corpus."""

    origin: str  # corpus and file (or page id), for the manifest
    lang: str
    title: str
    paragraphs: tuple[str, ...]
    url: str | None  # None when the corpus has no usable URL
    date: str | None  # "YYYY-MM-DD" as given, or None
    page_paragraphs: tuple[str, ...] = ()  # aeb: full-page text, chrome included


def split_blocks(text: str) -> tuple[str, ...]:
    """Blocks separated by blank lines, stripped, empty ones dropped."""
    return tuple(b.strip() for b in re.split(r"\n[ \t]*\n", text) if b.strip())


def script_lang(text: str) -> str:
    """A rough language label from the script: 'ru' for Cyrillic, 'en' for Latin, else 'xx'."""
    sample = text[:3000]
    cyrillic = sum(1 for c in sample if "\u0400" <= c <= "\u04ff")
    latin = sum(1 for c in sample if c.isascii() and c.isalpha())
    if cyrillic > latin:
        return "ru"
    return "en" if latin > len(sample) / 4 else "xx"


def decode_legacy(data: bytes) -> str:
    """UTF-8 if it is valid UTF-8, else cp1252 (what the older web pages mostly are)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def load_bsnlp(root: Path) -> Iterator[SourceDoc]:
    """bsnlp2021-raw: header id/lang/date/url, title on line 5, body after it."""
    base = root / "bsnlp2021-raw" / "data" / "datasets" / "bsnlp"
    for path in sorted(base.rglob("*.txt")):
        lines = path.read_bytes().decode("utf-8-sig", errors="replace").splitlines()
        if len(lines) < 6:
            continue
        _doc_id, lang, date, url, title = (line.strip() for line in lines[:5])
        paragraphs = tuple(p for p in (line.strip() for line in lines[5:]) if p)
        if not paragraphs:
            continue
        usable_url = url.startswith("http") and "fromtheweb.eu" not in url
        yield SourceDoc(
            origin=f"bsnlp:{path.relative_to(base)}",
            lang=lang or "xx",
            title=title or paragraphs[0][:90],
            paragraphs=paragraphs,
            url=url if usable_url else None,
            date=date or None,
        )


def load_aeb(root: Path) -> Iterator[SourceDoc]:
    """aeb-scrapinghub: gold body and URL, plus the full-page text (its first line is the title)."""
    base = root / "aeb-scrapinghub"
    gold = json.loads((base / "ground-truth.json").read_text("utf-8"))
    pages = json.loads((base / "output" / "html-text.json").read_text("utf-8"))["output"]
    for key in sorted(gold):
        body = split_blocks(gold[key]["articleBody"])
        page = split_blocks(pages.get(key, {}).get("articleBody") or "")
        if not body:
            continue
        title = page[0].split("\n")[0] if page else body[0][:90]
        yield SourceDoc(
            origin=f"aeb:{key}",
            lang=script_lang(" ".join(body)),
            title=title,
            paragraphs=body,
            url=gold[key]["url"],
            date=None,
            page_paragraphs=page,
        )


GOLD_URL = re.compile(r"URL:\s*(https?://\S+)?")
GOLD_MARKER = re.compile(r"<[phl]>")
WRAPPER_ATTR = re.compile(r'\b(id|title)="([^"]*)"')


def cleaneval_wrapper(gold_path: Path) -> tuple[str | None, str | None]:
    """URL and title from the ``<text id="URL" title="...">`` wrapper of the input page."""
    page = gold_path.parent.parent / "input" / gold_path.name.replace(".txt.gz", ".html.gz")
    if not page.exists():
        return None, None
    with gzip.open(page, "rb") as fh:
        first_line = decode_legacy(fh.readline(4000))
    found = {
        key: " ".join(html.unescape(value).split())
        for key, value in WRAPPER_ATTR.findall(first_line)
    }
    url = found.get("id") or None
    return (url if url and url.startswith("http") else None), (found.get("title") or None)


def load_cleaneval(root: Path) -> Iterator[SourceDoc]:
    """cleaneval-cpe gold texts: a ``URL:`` line (often empty: then the input's wrapper has the
    URL), then blocks introduced by <p>, <h> or <l>."""
    base = root / "cleaneval-cpe"
    for path in sorted(base.glob("*/GoldStandard/*.txt.gz")):
        with gzip.open(path, "rb") as fh:
            text = decode_legacy(fh.read()).lstrip()
        url = None
        if match := GOLD_URL.match(text):  # the URL is sometimes on the line after "URL:"
            url, text = match.group(1), text[match.end() :]
        blocks = (" ".join(block.split()) for block in GOLD_MARKER.split(text))
        paragraphs = tuple(b for b in blocks if b)
        if not paragraphs:
            continue
        wrapper_url, wrapper_title = cleaneval_wrapper(path)
        url = url or wrapper_url
        title = wrapper_title or " ".join(paragraphs[0].split()[:12])
        yield SourceDoc(
            origin=f"cleaneval:{path.relative_to(base)}",
            lang="en",
            title=title,
            paragraphs=paragraphs,
            url=url,
            date=None,
        )


def load_pool(corpora: Path) -> list[SourceDoc]:
    """All source documents, in a fixed order."""
    pool = [*load_bsnlp(corpora), *load_aeb(corpora), *load_cleaneval(corpora)]
    if not pool:
        raise SystemExit(f"no source documents found under {corpora}")
    return pool


# --------------------------------------------------------------------------------------------
# Sites, URLs and dates
# --------------------------------------------------------------------------------------------

# Made-up news sites, by language, that made-up URLs (and syndicated copies) live on.
# fmt: off
HOSTS: dict[str, tuple[str, ...]] = {
    "ru": ("novosti-segodnya.ru", "vesti-regiona.ru", "gazeta-nedeli.ru", "rusinform24.ru",
           "mosday-news.ru", "sibir-vestnik.ru"),
    "uk": ("ukrnovyny.com.ua", "dnipro-info.com.ua", "kyiv-vechirniy.ua", "lviv-news24.ua"),
    "bg": ("novini-dnes.bg", "sofia-vestnik.bg", "bgnews24.bg"),
    "pl": ("wiadomosci-dnia.pl", "gazeta-lokalna.pl", "info24-polska.pl"),
    "cs": ("zpravy-dnes.cz", "denni-noviny.cz", "praha-info.cz"),
    "sk": ("spravy-dnes.sk",),
    "sl": ("novice-danes.si", "dnevnik24.si"),
    "hr": ("vijesti-danas.hr",),
    "en": ("dailyherald-news.com", "the-morning-wire.com", "metro-gazette.co.uk",
           "newsbeat24.com", "citytribune.net", "globalwire-news.org", "coastal-chronicle.com"),
    "xx": ("worldnews-portal.com", "infohub-news.net"),
}
# fmt: on
SECTIONS = ("world", "politics", "economy", "society", "tech", "health", "sport", "culture")


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "unknown.example").lower()


def site_name(host: str) -> str:
    """'www.metro-gazette.co.uk' -> 'Metro Gazette'."""
    stem = host.removeprefix("www.").split(".")[0]
    return " ".join(part.capitalize() for part in stem.split("-"))


def stable_pick(key: str, options: Sequence[str]) -> str:
    """The same option for the same key, in every run (for per-site habits)."""
    return options[zlib.crc32(key.encode()) % len(options)]


def pick_host(lang: str, rng: Rng, exclude: str = "") -> str:
    hosts = [h for h in HOSTS.get(lang, HOSTS["xx"]) if h != exclude] or list(HOSTS["xx"])
    return hosts[int(rng.integers(len(hosts)))]


# fmt: off
_TRANSLIT = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya", "і": "i", "ї": "yi",
    "є": "ye", "ґ": "g",
})
# fmt: on


def slugify(title: str, max_words: int = 8) -> str:
    """An ASCII URL slug from a title (Cyrillic transliterated)."""
    folded = unicodedata.normalize("NFKD", title.lower().translate(_TRANSLIT))
    words = re.findall(r"[a-z0-9]+", folded.encode("ascii", "ignore").decode())[:max_words]
    return "-".join(words)[:70].strip("-") or "article"


@dataclass(slots=True)
class UrlMaker:
    """Made-up, unique, plausible article URLs; each site has its own URL pattern."""

    counter: int = 0

    def make(self, host: str, title: str, when: datetime | None) -> str:
        self.counter += 1
        n = 104_729 + self.counter * 13
        slug = slugify(title)
        day = when or datetime(2020, 1, 1, tzinfo=UTC)
        section = stable_pick(host + title[:20], SECTIONS)
        pattern = zlib.crc32(host.encode()) % 4
        if pattern == 0:
            return f"https://{host}/news/{day:%Y/%m/%d}/{slug}-{n}"
        if pattern == 1:
            return f"https://{host}/{section}/{n}-{slug}.html"
        if pattern == 2:
            return f"https://www.{host}/article/{n}/{slug}"
        return f"https://{host}/{section}/{day:%Y%m%d}/{slug}-{n}.htm"


def pick_published(doc: SourceDoc, rng: Rng) -> datetime | None:
    """The source's date (or a made-up one if it has none) at a random time of day, UTC.

    bsnlp documents with an empty date stay undated, as scraped.
    """
    seconds = int(rng.integers(5 * 3600, 23 * 3600))
    if doc.date:
        try:
            day = datetime.strptime(doc.date, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            return None
    elif doc.origin.startswith("bsnlp:"):
        return None
    else:
        day = datetime(2019, 1, 1, tzinfo=UTC) + timedelta(days=int(rng.integers(0, 3 * 365)))
    return day + timedelta(seconds=seconds)


MOSCOW = timezone(timedelta(hours=3))


def format_date(when: datetime, style: str) -> str:
    """A datetime as a given scraper writes it."""
    if style == "iso_z":
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == "iso_offset":
        return when.astimezone(MOSCOW).isoformat(timespec="seconds")
    if style == "date":
        return when.strftime("%Y-%m-%d")
    if style == "space":
        return when.strftime("%Y-%m-%d %H:%M:%S")
    if style == "rfc2822":
        return email.utils.format_datetime(when)
    raise ValueError(f"unknown date style {style!r}")


# --------------------------------------------------------------------------------------------
# Damage
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChromeKit:
    """Site chrome in one language."""

    read_also: str
    lines: tuple[str, ...]
    copyright: str
    source: str


CHROME: dict[str, ChromeKit] = {
    "en": ChromeKit(
        read_also="Read also: {title}",
        lines=(
            "Follow us on Telegram",
            "Subscribe to our newsletter",
            "Share this article",
            "Sign up for our morning briefing",
            "Follow us on Facebook and Twitter",
            "Advertisement",
        ),
        copyright="© {year} {site}. All rights reserved.",
        source="Source: {host}",
    ),
    "ru": ChromeKit(
        read_also="Читайте также: {title}",
        lines=(
            "Подписывайтесь на наш канал в Telegram",
            "Поделиться",
            "Новости по теме",
            "Подписывайтесь на нас в Дзене",
            "Реклама",
            "ДОБАВИТЬ КОММЕНТАРИЙ",
        ),
        copyright="© {year} {site}. Все права защищены.",
        source="Источник: {host}",
    ),
    "uk": ChromeKit(
        read_also="Читайте також: {title}",
        lines=("Підписуйтесь на наш канал у Telegram", "Поділитися", "Новини за темою", "Реклама"),
        copyright="© {year} {site}. Усі права захищені.",
        source="Джерело: {host}",
    ),
    "bg": ChromeKit(
        read_also="Прочетете още: {title}",
        lines=("Последвайте ни в Telegram", "Сподели", "Абонирайте се за нашия бюлетин"),
        copyright="© {year} {site}. Всички права запазени.",
        source="Източник: {host}",
    ),
    "pl": ChromeKit(
        read_also="Czytaj także: {title}",
        lines=("Obserwuj nas na Telegramie", "Udostępnij", "Zapisz się do newslettera"),
        copyright="© {year} {site}. Wszelkie prawa zastrzeżone.",
        source="Źródło: {host}",
    ),
    "cs": ChromeKit(
        read_also="Čtěte také: {title}",
        lines=("Sledujte nás na Telegramu", "Sdílet", "Přihlaste se k odběru newsletteru"),
        copyright="© {year} {site}. Všechna práva vyhrazena.",
        source="Zdroj: {host}",
    ),
}


def chrome_kit(lang: str) -> ChromeKit:
    return CHROME.get(lang, CHROME["en"])


def add_chrome(
    paras: list[str], lang: str, host: str, year: int, other_title: str, rng: Rng
) -> list[str]:
    """Site chrome: the site's own footer line and ©, sometimes a header line and "Read also"."""
    kit = chrome_kit(lang)
    site = site_name(host)
    out = list(paras)
    if rng.random() < 0.2:
        out.insert(0, kit.lines[int(rng.integers(len(kit.lines)))])
    if other_title and len(out) > 2 and rng.random() < 0.6:
        out.insert(int(rng.integers(1, len(out))), kit.read_also.format(title=other_title))
    out.append(stable_pick(host, kit.lines))  # the same footer line on every page of the site
    if rng.random() < 0.7:
        out.append(kit.copyright.format(year=year, site=site))
    return out


def mojibake(paras: list[str], rng: Rng) -> list[str] | None:
    """One non-ASCII paragraph's UTF-8 bytes read as cp1252; None if all paragraphs are ASCII."""
    candidates = [i for i, p in enumerate(paras) if not p.isascii()]
    if not candidates:
        return None
    i = candidates[int(rng.integers(len(candidates)))]
    out = list(paras)
    out[i] = out[i].encode("utf-8").decode("cp1252", errors="replace")
    return out


ENTITIES = (  # "&" first, so that the entities themselves are not escaped again
    ("&", "&amp;"),
    ('"', "&quot;"),
    ("'", "&#39;"),
    ("’", "&#8217;"),
    ("“", "&#8220;"),
    ("”", "&#8221;"),
    ("„", "&bdquo;"),
    ("«", "&laquo;"),
    ("»", "&raquo;"),
    ("—", "&mdash;"),
    ("–", "&ndash;"),
    ("\u00a0", "&nbsp;"),
)


def html_entities(paras: list[str]) -> list[str] | None:
    """Characters left HTML-escaped, as by a scraper that forgot to unescape; None if no change."""

    def escape(p: str) -> str:
        for char, entity in ENTITIES:
            p = p.replace(char, entity)
        return p

    out = [escape(p) for p in paras]
    return out if out != paras else None


def repeat_paragraph(paras: list[str], rng: Rng) -> list[str] | None:
    """A long paragraph repeated further down; None if there is no long paragraph."""
    candidates = [i for i, p in enumerate(paras) if len(p) >= 80]
    if not candidates:
        return None
    i = candidates[int(rng.integers(len(candidates)))]
    out = list(paras)
    out.insert(int(rng.integers(i + 1, len(paras) + 1)), paras[i])
    return out


def light_edits(paras: Sequence[str], lang: str, orig_host: str, rng: Rng) -> list[str]:
    """What a syndicating site does to a copied body: dashes, paragraph breaks, a source line."""
    out = list(paras)
    if rng.random() < 0.5:
        out = [p.replace(" - ", " – ").replace(" — ", " – ") for p in out]
    if len(out) >= 3 and rng.random() < 0.4:
        i = int(rng.integers(len(out) - 1))
        out[i : i + 2] = [out[i] + " " + out[i + 1]]
    elif rng.random() < 0.4:
        i = max(range(len(out)), key=lambda k: len(out[k]))
        cut = out[i].find(". ", len(out[i]) // 2)
        if cut > 0:
            out[i : i + 1] = [out[i][: cut + 1], out[i][cut + 2 :]]
    if len(out) > 3 and rng.random() < 0.3:
        out.pop()
    if rng.random() < 0.5:
        out.append(chrome_kit(lang).source.format(host=orig_host.removeprefix("www.")))
    return out


# --------------------------------------------------------------------------------------------
# Articles
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Article:
    """One article as a scraper saw it, with what was done to it (for the manifest)."""

    url: str
    host: str
    title: str
    paragraphs: list[str]
    published: datetime | None
    lang: str
    origin: str
    pass_no: int
    damage: list[str] = field(default_factory=list)
    copy_of: str | None = None


def damage(art: Article, other_title: str, rng: Rng) -> None:
    """Apply each kind of damage to the article at its rate, recording what was applied."""

    def apply(label: str, damaged: list[str] | None) -> None:
        if damaged is not None:
            art.paragraphs = damaged
            art.damage.append(label)

    if rng.random() < REPEAT_RATE:
        apply("repeated_paragraph", repeat_paragraph(art.paragraphs, rng))
    if rng.random() < CHROME_RATE:
        year = art.published.year if art.published else 2021
        apply("chrome", add_chrome(art.paragraphs, art.lang, art.host, year, other_title, rng))
    if rng.random() < ENTITIES_RATE:
        apply("html_entities", html_entities(art.paragraphs))
    if rng.random() < MOJIBAKE_RATE:
        apply("mojibake", mojibake(art.paragraphs, rng))
        if "mojibake" in art.damage and not art.title.isascii() and rng.random() < 0.3:
            art.title = art.title.encode("utf-8").decode("cp1252", errors="replace")
            art.damage.append("mojibake_title")


def make_article(
    doc: SourceDoc, pass_no: int, rng: Rng, urls: UrlMaker, other_title: str
) -> Article:
    """A variant of a source document: its own URL on later passes, and maybe some damage."""
    use_page = bool(doc.page_paragraphs) and rng.random() < PAGE_TEXT_RATE
    published = pick_published(doc, rng)
    if pass_no == 0 and doc.url:
        url, host = doc.url, host_of(doc.url)
    else:
        host = pick_host(doc.lang, rng)
        url = urls.make(host, doc.title, published)
    art = Article(
        url=url,
        host=host,
        title=doc.title,
        paragraphs=list(doc.page_paragraphs if use_page else doc.paragraphs),
        published=published,
        lang=doc.lang,
        origin=doc.origin,
        pass_no=pass_no,
        damage=["page_chrome"] if use_page else [],
    )
    damage(art, other_title, rng)
    return art


def make_syndicated(
    original: Article, doc: SourceDoc, rng: Rng, urls: UrlMaker, other_title: str
) -> Article:
    """The same body republished by another site, with light edits and that site's chrome."""
    host = pick_host(doc.lang, rng, exclude=original.host)
    published = None
    if original.published:
        published = original.published + timedelta(minutes=int(rng.integers(-6 * 60, 36 * 60)))
    title = doc.title if rng.random() < 0.7 else f"{doc.title} | {site_name(host)}"
    copy = Article(
        url=urls.make(host, doc.title, published),
        host=host,
        title=title,
        paragraphs=light_edits(doc.paragraphs, doc.lang, original.host, rng),
        published=published,
        lang=doc.lang,
        origin=doc.origin,
        pass_no=original.pass_no,
        damage=["syndicated"],
        copy_of=original.url,
    )
    damage(copy, other_title, rng)
    return copy


# --------------------------------------------------------------------------------------------
# Feeds: how each made-up scraper writes its records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Feed:
    """A scraper: its output format, field names (None: not written), date style and extras."""

    name: str
    fmt: str  # jsonl | ndjson | jsonl.gz | json | json-one | csv | txt
    weight: float  # share of articles
    url: str | None = None
    title: str | None = None
    text: str = "text"
    date: str | None = None
    source: str | None = None
    date_style: str = "iso_z"
    extras: tuple[str, ...] = ()
    para_sep: str = "\n\n"
    ascii_json: bool = False
    rotate_scale: float = 1.0  # part-file size relative to the default


# fmt: off
FEEDS: tuple[Feed, ...] = (
    Feed("rss_crawler", "jsonl", 0.25, url="url", title="title", text="text",
         date="published_at", source="source", date_style="iso_z",
         extras=("lang", "crawl_id")),
    Feed("sitemap_spider", "jsonl", 0.18, url="link", title="headline", text="content",
         date="date", source="site", date_style="date",
         extras=("author", "tags"), para_sep="\n"),
    Feed("newsapi_dump", "jsonl", 0.12, url="href", title="title", text="body",
         date="pubDate", source="domain", date_style="rfc2822",
         extras=("category",), ascii_json=True),
    Feed("partner_feed", "ndjson", 0.05, url="url", title="headline", text="article",
         date="published", source="source", date_style="space",
         extras=("word_count",)),
    Feed("archive", "jsonl.gz", 0.12, url="url", title="title", text="text",
         date="published_at", source=None, date_style="iso_offset",
         extras=("fetched_at", "http_status"), rotate_scale=0.5),
    Feed("cms_export", "json", 0.10, url="link", title="title", text="body",
         date="date", source="site", date_style="iso_z",
         extras=("id",)),
    Feed("webhook", "json-one", 0.02, url="url", title="headline", text="content",
         date="published_at", source="source", date_style="iso_offset",
         extras=("lang",)),
    Feed("legacy_csv", "csv", 0.04, url="url", title="title", text="text",
         date="date", source="source", date_style="space",
         extras=("section",), para_sep="\n", rotate_scale=0.33),
    Feed("txt_drop", "txt", 0.12),  # text only: no url, title or date in a .txt file
)
# fmt: on
BAD_RECORD_FEED = "rss_crawler"
BAD_KINDS = ("malformed_json", "empty_text", "null_text", "whitespace_text", "missing_text")

AUTHORS: dict[str, tuple[str, ...]] = {
    "en": ("Staff reporter", "Anna Keller", "James Morton", "Priya Shah", "News desk"),
    "ru": ("Иван Петров", "Мария Смирнова", "Редакция", "Алексей Волков"),
    "uk": ("Олена Коваленко", "Редакція", "Андрій Шевчук"),
}


def extra_value(name: str, art: Article, text: str, seq: int) -> Any:
    """The value of a scraper's own field (it goes to `meta`)."""
    if name == "lang":
        return art.lang
    if name == "crawl_id":
        return f"crawl-{art.pass_no:02d}-{seq // 500:04d}"
    if name == "author":
        return stable_pick(art.url, AUTHORS.get(art.lang, AUTHORS["en"]))
    if name == "tags":
        words = sorted(set(re.findall(r"\w{6,}", art.title.lower())), key=lambda w: (len(w), w))
        return words[-3:]
    if name in ("category", "section"):
        return stable_pick(art.url, SECTIONS)
    if name == "fetched_at":
        fetched = (art.published or datetime(2021, 6, 1, tzinfo=UTC)) + timedelta(hours=5)
        return fetched.strftime("%Y-%m-%dT%H:%M:%SZ")
    if name == "http_status":
        return 200
    if name == "word_count":
        return len(text.split())
    if name == "id":
        return seq
    raise ValueError(f"unknown extra field {name!r}")


def to_record(art: Article, feed: Feed, seq: int, rng: Rng) -> dict[str, Any]:
    """The article as the feed's scraper writes it."""
    text = feed.para_sep.join(art.paragraphs)
    rec: dict[str, Any] = {}
    if feed.url:
        rec[feed.url] = art.url
    if feed.title:
        rec[feed.title] = art.title
    rec[feed.text] = text
    if feed.date:
        if art.published:
            rec[feed.date] = format_date(art.published, feed.date_style)
        else:  # scrapers disagree on how to say "no date"
            missing = ("omit", "null", "empty")[int(rng.integers(3))]
            if missing != "omit":
                rec[feed.date] = None if missing == "null" else ""
    if feed.source:
        rec[feed.source] = site_name(art.host) if feed.source == "site" else art.host
    for name in feed.extras:
        rec[name] = extra_value(name, art, text, seq)
    return rec


def spoil(rec: dict[str, Any], feed: Feed, kind: str) -> dict[str, Any]:
    """A record whose text cannot be used (for the bad-record kinds other than malformed JSON)."""
    bad = dict(rec)
    if kind == "missing_text":
        del bad[feed.text]
    else:
        bad[feed.text] = {"empty_text": "", "null_text": None, "whitespace_text": "  \n \t"}[kind]
    return bad


# --------------------------------------------------------------------------------------------
# Writers (streaming; rotate to a new file past a size)
# --------------------------------------------------------------------------------------------


class Writer:
    """Writes one feed's records under OUT_DIR/<feed>/; tracks files and on-disk bytes."""

    def __init__(self, out_dir: Path, feed: Feed, rotate_bytes: int) -> None:
        self.out_dir = out_dir
        self.dir = out_dir / feed.name
        self.feed = feed
        self.rotate_bytes = rotate_bytes
        self.files = 0
        self.closed_bytes = 0

    @property
    def size(self) -> int:
        return self.closed_bytes

    def rel(self, path: Path) -> str:
        return path.relative_to(self.out_dir).as_posix()

    def write(self, rec: dict[str, Any], art: Article, rng: Rng) -> dict[str, Any]:
        """Write one record; return where it went (path, record number, ...) for the manifest."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class StreamWriter(Writer):
    """A sequence of part files that records are appended to: JSON Lines, JSON lists, CSV."""

    def __init__(self, out_dir: Path, feed: Feed, rotate_bytes: int) -> None:
        super().__init__(out_dir, feed, rotate_bytes)
        self._raw: BinaryIO | None = None
        self._out: BinaryIO | gzip.GzipFile | None = None
        self._path = Path()
        self._n = 0  # records in the current file

    @property
    def size(self) -> int:
        return self.closed_bytes + (self._raw.tell() if self._raw else 0)

    def extension(self) -> str:
        return self.feed.fmt

    def header(self) -> bytes:
        return b""

    def footer(self) -> bytes:
        return b""

    def _file(self) -> BinaryIO | gzip.GzipFile:
        """The current part file, starting a new one when it is full."""
        if self._out is not None and self._raw is not None:
            if self._raw.tell() < self.rotate_bytes:
                return self._out
            self.close()
        self.files += 1
        self.dir.mkdir(parents=True, exist_ok=True)
        self._path = self.dir / f"part-{self.files:05d}.{self.extension()}"
        self._raw = open(self._path, "wb")  # noqa: SIM115 (closed in close())
        if self.extension().endswith(".gz"):
            self._out = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
        else:
            self._out = self._raw
        self._out.write(self.header())
        self._n = 0
        return self._out

    def append(self, data: bytes) -> dict[str, Any]:
        self._file().write(data)
        self._n += 1
        return {"path": self.rel(self._path), "record": self._n - 1}

    def close(self) -> None:
        if self._out is None or self._raw is None:
            return
        self._out.write(self.footer())
        if self._out is not self._raw:
            self._out.close()
        self._raw.close()
        self.closed_bytes += self._path.stat().st_size
        self._out = self._raw = None


class JsonLinesWriter(StreamWriter):
    """.jsonl / .ndjson / .jsonl.gz: one JSON object per line."""

    def encode(self, rec: dict[str, Any]) -> bytes:
        return json.dumps(rec, ensure_ascii=self.feed.ascii_json).encode("utf-8")

    def write(self, rec: dict[str, Any], art: Article, rng: Rng) -> dict[str, Any]:
        return self.append(self.encode(rec) + b"\n")

    def write_bad(self, rec: dict[str, Any], kind: str) -> dict[str, Any]:
        if kind == "malformed_json":  # a line cut short (at a character), as by a crashed scraper
            line = json.dumps(rec, ensure_ascii=self.feed.ascii_json)
            return self.append(line[: len(line) // 2].encode("utf-8") + b"\n")
        return self.append(self.encode(spoil(rec, self.feed, kind)) + b"\n")


class JsonListWriter(StreamWriter):
    """.json: a list of articles, pretty-printed as CMS exports often are."""

    def header(self) -> bytes:
        return b"[\n"

    def footer(self) -> bytes:
        return b"\n]\n"

    def write(self, rec: dict[str, Any], art: Article, rng: Rng) -> dict[str, Any]:
        body = json.dumps(rec, ensure_ascii=False, indent=2).encode("utf-8")
        out = self._file()
        if self._n:
            out.write(b",\n")
        return self.append(body)


class CsvWriter(StreamWriter):
    """.csv with a header row; texts with line breaks are quoted."""

    def columns(self) -> list[str]:
        f = self.feed
        return [c for c in (f.url, f.title, f.text, f.date, f.source) if c] + list(f.extras)

    def _row(self, values: Sequence[Any]) -> bytes:
        buf = io.StringIO()
        csv.writer(buf).writerow(values)
        return buf.getvalue().encode("utf-8")

    def header(self) -> bytes:
        return self._row(self.columns())

    def write(self, rec: dict[str, Any], art: Article, rng: Rng) -> dict[str, Any]:
        values = [rec.get(c) for c in self.columns()]
        return self.append(self._row(["" if v is None else v for v in values]))


class JsonOneWriter(Writer):
    """.json: one article per file (a webhook dumping each payload)."""

    def write(self, rec: dict[str, Any], art: Article, rng: Rng) -> dict[str, Any]:
        day = f"{art.published:%Y-%m-%d}" if art.published else "undated"
        path = self.dir / day / f"{slugify(art.title, 5)}-{self.files:06d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(rec, ensure_ascii=False).encode("utf-8")
        path.write_bytes(data)
        self.files += 1
        self.closed_bytes += len(data)
        return {"path": self.rel(path), "record": 0}


# Text-file encodings by language, with weights: what sites in those languages used.
# fmt: off
TXT_ENCODINGS: dict[str, tuple[tuple[str, float], ...]] = {
    "ru": (("cp1251", 0.3), ("koi8-r", 0.25), ("utf-16", 0.15), ("utf-8-sig", 0.15),
           ("utf-8", 0.15)),
    "uk": (("cp1251", 0.45), ("utf-16", 0.2), ("utf-8-sig", 0.15), ("utf-8", 0.2)),
    "bg": (("cp1251", 0.45), ("utf-16", 0.2), ("utf-8-sig", 0.15), ("utf-8", 0.2)),
    "en": (("cp1252", 0.4), ("utf-16", 0.15), ("utf-8-sig", 0.2), ("utf-8", 0.25)),
    "xx": (("utf-16", 0.25), ("utf-8-sig", 0.25), ("utf-8", 0.5)),
}
# fmt: on
LEGACY = ("cp1251", "koi8-r", "cp1252")
# KOI8-R has no typographic quotes or dashes: sites using it wrote ASCII ones.
# fmt: off
KOI8_PUNCT = str.maketrans({"«": '"', "»": '"', "„": '"', "“": '"', "”": '"', "’": "'",
                            "—": "-", "–": "-", "…": "...", "\u00a0": " ", "№": "N"})
# fmt: on


def encode_txt(text: str, encoding: str) -> tuple[bytes, str]:
    """The text in the encoding if it fits, else in UTF-8; returns bytes and encoding used."""
    if encoding == "koi8-r":
        text = text.translate(KOI8_PUNCT)
    try:
        return text.encode(encoding), encoding
    except UnicodeEncodeError:
        return text.encode("utf-8"), "utf-8"


class TxtWriter(Writer):
    """.txt: one article per file, paragraphs one per line or blank-line separated."""

    def write(self, rec: dict[str, Any], art: Article, rng: Rng) -> dict[str, Any]:
        choices = TXT_ENCODINGS.get(art.lang, TXT_ENCODINGS["xx"])
        weights = np.array([w for _, w in choices])
        wanted = choices[int(rng.choice(len(choices), p=weights / weights.sum()))][0]
        sep = "\n\n" if rng.random() < 0.5 else "\n"
        text = sep.join(art.paragraphs) + "\n"
        crlf = rng.random() < (0.6 if wanted in LEGACY else 0.2)
        if crlf:
            text = text.replace("\n", "\r\n")
        data, used = encode_txt(text, wanted)
        path = self.dir / art.host / f"{slugify(art.title, 6)}-{self.files:06d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.files += 1
        self.closed_bytes += len(data)
        return {"path": self.rel(path), "record": 0, "encoding": used, "crlf": crlf}

    def write_special(self, name: str, data: bytes) -> dict[str, Any]:
        """An unreadable file (empty, binary junk)."""
        path = self.dir / "_misc" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.files += 1
        self.closed_bytes += len(data)
        return {"path": self.rel(path), "record": 0}


WRITERS: dict[str, type[Writer]] = {
    "jsonl": JsonLinesWriter,
    "ndjson": JsonLinesWriter,
    "jsonl.gz": JsonLinesWriter,
    "json": JsonListWriter,
    "json-one": JsonOneWriter,
    "csv": CsvWriter,
    "txt": TxtWriter,
}


# --------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Counts:
    records: int = 0
    copies: int = 0
    bad: int = 0


class Sink:
    """Routes articles to feeds' writers and, optionally, their truth to the manifest."""

    def __init__(self, out_dir: Path, rotate_bytes: int, manifest: TextIO | None) -> None:
        self.writers = {
            f.name: WRITERS[f.fmt](out_dir, f, int(rotate_bytes * f.rotate_scale)) for f in FEEDS
        }
        self.feeds = FEEDS
        weights = np.array([f.weight for f in FEEDS])
        self.weights = weights / weights.sum()
        self.manifest = manifest
        self.counts = Counts()

    @property
    def size(self) -> int:
        return sum(w.size for w in self.writers.values())

    def note(self, where: dict[str, Any], **truth: Any) -> None:
        if self.manifest is not None:
            self.manifest.write(json.dumps({**where, **truth}, ensure_ascii=False) + "\n")

    def emit(self, art: Article, rng: Rng) -> None:
        """Write the article through a randomly chosen feed."""
        feed = self.feeds[int(rng.choice(len(self.feeds), p=self.weights))]
        rec = to_record(art, feed, self.counts.records, rng)
        where = self.writers[feed.name].write(rec, art, rng)
        self.counts.records += 1
        self.counts.copies += art.copy_of is not None
        self.note(
            where,
            url=art.url,
            origin=art.origin,
            lang=art.lang,
            pass_no=art.pass_no,
            damage=art.damage,
            copy_of=art.copy_of,
        )

    def emit_bad(self, art: Article, kind: str, rng: Rng) -> None:
        writer = self.writers[BAD_RECORD_FEED]
        assert isinstance(writer, JsonLinesWriter)
        where = writer.write_bad(to_record(art, writer.feed, self.counts.records, rng), kind)
        self.counts.records += 1
        self.counts.bad += 1
        self.note(where, url=art.url, origin=art.origin, bad=kind)

    def emit_unreadable_files(self, rng: Rng) -> None:
        """An empty file and a file of binary junk, both named .txt."""
        writer = self.writers["txt_drop"]
        assert isinstance(writer, TxtWriter)
        for name, data in (("empty.txt", b""), ("junk.txt", rng.bytes(700))):
            self.note(writer.write_special(name, data), bad=name.removesuffix(".txt"))
            self.counts.records += 1
            self.counts.bad += 1

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def other_title(
    pool: Sequence[SourceDoc], by_lang: dict[str, list[int]], lang: str, rng: Rng
) -> str:
    """The title of another article in the same language, for "Read also" lines."""
    same = by_lang.get(lang) or by_lang["en"]
    return pool[same[int(rng.integers(len(same)))]].title


def generate(
    out_dir: Path, target_bytes: int, seed: int, corpora: Path, manifest: TextIO | None
) -> Counts:
    """Write articles until the output reaches target_bytes on disk."""
    rng = np.random.default_rng(seed)
    pool = load_pool(corpora)
    by_lang: dict[str, list[int]] = {}
    for i, doc in enumerate(pool):
        by_lang.setdefault(doc.lang, []).append(i)
    by_lang.setdefault("en", list(range(len(pool))))
    rotate_bytes = min(max(target_bytes // 40, 256 * 1024), 8 * MB)
    sink = Sink(out_dir, rotate_bytes, manifest)
    urls = UrlMaker()
    good = 0
    pass_no = 0
    try:
        sink.emit_unreadable_files(rng)
        while sink.size < target_bytes:
            for i in rng.permutation(len(pool)):
                doc = pool[int(i)]
                title = other_title(pool, by_lang, doc.lang, rng)
                art = make_article(doc, pass_no, rng, urls, title)
                sink.emit(art, rng)
                good += 1
                if good % BAD_EVERY == BAD_EVERY // 3:
                    sink.emit_bad(art, BAD_KINDS[(good // BAD_EVERY) % len(BAD_KINDS)], rng)
                if rng.random() < SYNDICATION_RATE:
                    title = other_title(pool, by_lang, doc.lang, rng)
                    sink.emit(make_syndicated(art, doc, rng, urls, title), rng)
                if sink.size >= target_bytes:
                    break
            pass_no += 1
    finally:
        sink.close()
    return sink.counts


def tree_size(root: Path) -> tuple[int, int]:
    """Number of files and their total size under root."""
    files = total = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            files += 1
            total += (Path(dirpath) / name).stat().st_size
    return files, total


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Build a benchmark raw corpus (DESIGN.md input formats) from the real "
        "corpora in shared/corpora/."
    )
    parser.add_argument("out_dir", type=Path, help="output directory (created; must be empty)")
    parser.add_argument(
        "--mb", type=float, required=True, help="target size on disk in MB (1 MB = 1,000,000 bytes)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--corpora",
        type=Path,
        default=DEFAULT_CORPORA,
        help=f"the shared corpora (default {DEFAULT_CORPORA})",
    )
    parser.add_argument(
        "--manifest",
        type=Path,
        help="also write the truth per record (JSON Lines) here; outside OUT_DIR",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out_dir: Path = args.out_dir.resolve()
    if out_dir.exists() and any(out_dir.iterdir()):
        print(
            f"make_corpus: {out_dir} is not empty; give a new or empty directory", file=sys.stderr
        )
        return 2
    if args.manifest and args.manifest.resolve().is_relative_to(out_dir):
        print(
            "make_corpus: --manifest must be outside OUT_DIR (the pipeline would read it)",
            file=sys.stderr,
        )
        return 2
    if args.mb <= 0:
        print("make_corpus: --mb must be positive", file=sys.stderr)
        return 2
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    manifest = open(args.manifest, "w", encoding="utf-8") if args.manifest else None  # noqa: SIM115
    try:
        counts = generate(out_dir, int(args.mb * MB), args.seed, args.corpora, manifest)
    finally:
        if manifest:
            manifest.close()
    files, total = tree_size(out_dir)
    print(
        f"make_corpus: {files} files, {counts.records} records ({counts.copies} syndicated "
        f"copies, {counts.bad} bad), {total} bytes ({total / MB:.1f} MB) in {out_dir} "
        f"[seed {args.seed}, {time.perf_counter() - started:.1f} s]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
