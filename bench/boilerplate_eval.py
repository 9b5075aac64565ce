"""Quality of boilerplate removal: rules alone, learned alone, and both.

Two labelled sets, each run through the library (``run_pipeline``, no Prefect) three times,
with ``boilerplate.learn = false`` (rules alone), ``boilerplate.builtin_rules = false``
(learned alone) and the defaults (both):

- **aeb**: the 181 full-page texts of aeb-scrapinghub (``output/html-text.json``), one record
  per page with its URL; a paragraph is *content* when it is in the page's gold body
  (``ground-truth.json``, the test of ``bench/mine_chrome.py``), *chrome* when it is not, and
  not counted when it is a short phrase found inside the gold text ("Twitter", "2"). ~126
  hosts for 181 pages: little for a source to learn from, what helps here is evidence shared
  across sources.
- **generated**: real article text (bsnlp ru/uk, aeb and CleanEval gold bodies, one use each)
  published by made-up sites, each with its own chrome made from phrase lists below (no rule
  names them): exact lines, lines whose numbers or dates differ, and templates with a varying
  tail (a headline of another article, a photographer's name), at the top, the bottom or in
  the middle, each on a share of the site's pages; and a few tails after no separator
  ("lead": "Keep reading on <site> <a headline>"). Some sites have few articles. Also: dialogue
  lines that repeat across a site's interviews ("– Yes."), and stories a site publishes twice
  (an update): their paragraphs are content that repeats. Then a **later run**: the corpus
  without each site's last three articles, and a second run that adds them; scored on those
  new articles only.

Scores: chrome recall (chrome paragraphs removed as ``boilerplate_rule`` or
``boilerplate_learned``), content kept (content paragraphs not removed as boilerplate; the
copies that corpus dedup removes from story repeats are counted apart), dialogue kept (not
removed for any reason).

    python bench/boilerplate_eval.py                  # both sets, all three settings
    python bench/boilerplate_eval.py --set generated --sites 60 --seed 2
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import pyarrow.dataset as ds  # noqa: E402
from make_corpus import load_aeb, load_bsnlp, load_cleaneval  # noqa: E402
from mine_chrome import Doc, gold_status, norm, read_aeb  # noqa: E402

from pipeline.config import load_config  # noqa: E402
from pipeline.repair import fix_text  # noqa: E402
from pipeline.run import run_pipeline  # noqa: E402
from pipeline.segment import split_paragraphs  # noqa: E402

DEFAULT_CORPORA = Path("/work/shared/corpora")
SETTINGS = {
    "rules": {"boilerplate": {"learn": False}},
    "learned": {"boilerplate": {"builtin_rules": False}},
    "both": {},
}
BOILERPLATE = {"boilerplate_rule", "boilerplate_learned"}
MIN_CONTENT = 60
SHOW = 0

# --- phrase lists of the generated sites (none of them is in the rule pack) ---------------------
# {site} the site's name, {SITE} in capitals, {title} another article's headline, {name} a
# person, {n} a number, {date} a date, {time} a time, {weekday} a weekday, {year} a year.
# fmt: off
CHROME: dict[str, dict[str, list[str]]] = {
    "en": {
        "exact": [
            "Independent journalism from the heart of {city}.", "{site} is reader-supported.",
            "Tips? Write to newsroom@{host}", "Story continues below", "ADVERTISEMENT · SCROLL TO CONTINUE",
            "Listen to this story", "Tweet Pin Email WhatsApp", "Facebook | X | Reddit | Email",
            "Get the {site} app", "Our journalism needs your support. Become a member today.",
            "{site} Daily — the day's news in five minutes", "Comments are moderated for civility.",
            "Have a story idea? Contact our news desk.", "This article was produced by the {site} newsroom.",
            "Join the conversation", "Got a news tip? We want to hear from you.",
        ],
        "numbers": [
            "© {year} {site} Media Group", "Last updated {date} at {time}", "{n} min read",
            "Posted {weekday}, {date}", "{n} comments", "Copyright {year} {site} LLC",
            "Updated {time} ET {date}", "Issue {n} · {date}", "Filed {date}, {time}",
        ],
        "tail": [
            "MORE FROM {SITE}: {title}", "In other news: {title}", "Earlier on {site}: {title}",
            "Trending on {site} » {title}", "Editors' pick | {title}", "PREVIOUSLY — {title}",
            "Photo: {name}/{site}", "Image credit: {name}", "Also worth your time: {title}",
            "Don't skip: {title}", "Our top story today — {title}", "Video: {title}",
        ],
        "lead": ["Keep reading on {site} {title}", "Coverage continues in our app {title}"],
    },
    "ru": {
        "exact": [
            "Независимые новости {city}", "Редакция {site} в соцсетях", "Нашли ошибку? Выделите её и нажмите Ctrl+Enter",
            "Материал подготовлен редакцией {site}", "Мнение редакции может не совпадать с мнением автора",
            "Все самое важное — в нашем ежедневном дайджесте", "Есть новость? Пишите нам: news@{host}",
            "Вконтакте Одноклассники Телеграм", "Продолжение ниже", "Слушать материал",
        ],
        "numbers": [
            "© {year} {site}", "Обновлено {date} в {time}", "{n} просмотров", "Опубликовано: {date}, {time}",
            "Время чтения: {n} мин", "Выпуск № {n} от {date}",
        ],
        "tail": [
            "ЕЩЁ ПО ТЕМЕ: {title}", "Главное за день: {title}", "Самое читаемое — {title}",
            "Фотограф: {name}", "Также в разделе: {title}", "Не пропустите » {title}",
            "Рекомендуем | {title}",
        ],
        "lead": ["Больше материалов в разделе {title}", "Продолжение темы в приложении {title}"],
    },
    "uk": {
        "exact": [
            "Незалежні новини {city}", "Редакція {site} у соцмережах", "Помітили помилку? Виділіть її та натисніть Ctrl+Enter",
            "Матеріал підготувала редакція {site}", "Думка редакції може не збігатися з думкою автора",
            "Маєте новину? Пишіть нам: news@{host}", "Слухати матеріал",
        ],
        "numbers": [
            "© {year} {site}", "Оновлено {date} о {time}", "{n} переглядів", "Опубліковано: {date}, {time}",
            "Час читання: {n} хв",
        ],
        "tail": [
            "ЩЕ НА ТЕМУ: {title}", "Головне за день: {title}", "Найпопулярніше — {title}",
            "Фотограф: {name}", "Не пропустіть » {title}", "Рекомендуємо | {title}",
        ],
        "lead": ["Більше матеріалів у розділі {title}", "Продовження теми в застосунку {title}"],
    },
}
DIALOGUE = {
    "en": ["– Yes.", "– No.", "– Certainly.", "– Why?", "– I don't know.", "– Of course."],
    "ru": ["– Да.", "– Нет.", "— Конечно.", "— Почему?", "– Не знаю.", "– Спасибо."],
    "uk": ["– Так.", "– Ні.", "— Звичайно.", "— Чому?", "– Не знаю.", "– Дякую."],
}
NAMES = ["Anna Petrova", "John Carter", "Olena Kovalenko", "Maria Lopez", "Ivan Sidorov",
         "Tom Baker", "Ірина Шевченко", "Сергей Иванов", "Lee Chen", "Sam Patel", "Rosa Diaz"]
CITIES = {"en": ["Harbor City", "Riverside", "Northfield", "Lakewood", "the valley"],
          "ru": ["Приволжья", "Северной столицы", "Зауралья", "Поморья"],
          "uk": ["Прикарпаття", "Слобожанщини", "Полісся", "Поділля"]}
MONTHS = {"en": ["January", "March", "April", "June", "September", "November"],
          "ru": ["января", "марта", "апреля", "июня", "сентября", "ноября"],
          "uk": ["січня", "березня", "квітня", "червня", "вересня", "листопада"]}
WEEKDAYS = {"en": ["Monday", "Tuesday", "Friday", "Sunday"], "ru": ["понедельник", "пятница"],
            "uk": ["понеділок", "пʼятниця"]}
SITE_WORDS = ["Harbor", "Ledger", "Valley", "Courier", "Beacon", "Sentinel", "Pioneer", "Echo",
              "Herald", "Observer", "Gazette", "Chronicle", "Dispatch", "Monitor", "Tribune"]
# fmt: on


# --- the generated set ---------------------------------------------------------------------------


@dataclass
class Line:
    text: str
    label: str  # content | chrome | dialogue | repeat (content of a story published again)
    kind: str = ""  # chrome: exact | numbers | tail


@dataclass
class Page:
    site: str
    url: str
    published: datetime
    lines: list[Line]


@dataclass
class Site:
    name: str
    host: str
    lang: str
    chrome: list[tuple[str, str, float, str]] = field(
        default_factory=list
    )  # kind, phrase, p, where


def _fill(phrase: str, site: Site, rnd: random.Random, titles: list[str], when: datetime) -> str:
    lang = site.lang
    month = MONTHS[lang][when.month % len(MONTHS[lang])]
    values = {
        "site": site.name,
        "SITE": site.name.upper(),
        "host": site.host,
        "city": rnd.choice(CITIES[lang]) if "{city}" in phrase else "",
        "title": rnd.choice(titles),
        "name": rnd.choice(NAMES),
        "n": str(rnd.randint(2, 999)),
        "date": f"{when.day} {month} {when.year}"
        if lang != "en"
        else f"{month} {when.day}, {when.year}",
        "time": f"{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}",
        "weekday": rnd.choice(WEEKDAYS[lang]),
        "year": str(when.year),
    }
    return phrase.format(**values)


def make_sites(n_sites: int, rnd: random.Random) -> list[Site]:
    sites = []
    for i in range(n_sites):
        lang = ("en", "en", "ru", "uk")[i % 4]
        name = f"{rnd.choice(SITE_WORDS)} {rnd.choice(SITE_WORDS)} {i}"
        site = Site(name, f"{name.lower().replace(' ', '-')}.example", lang)
        site_city = rnd.choice(CITIES[lang])
        kinds = CHROME[lang]
        picks = [("exact", p) for p in rnd.sample(kinds["exact"], 2)]
        picks += [("numbers", p) for p in rnd.sample(kinds["numbers"], 2)]
        picks += [("tail", p) for p in rnd.sample(kinds["tail"], 2)]
        picks += [("lead", p) for p in rnd.sample(kinds["lead"], 1) if rnd.random() < 0.5]
        for kind, phrase in picks:
            where = rnd.choice(["top", "bottom", "bottom", "middle"])
            p = rnd.choice([1.0, 1.0, 0.8, 0.6])
            site.chrome.append((kind, phrase.replace("{city}", site_city), p, where))
        sites.append(site)
    return sites


def make_pages(
    sites: list[Site], pool: dict[str, list[list[str]]], rnd: random.Random
) -> list[Page]:
    """Each site's pages: real text, its chrome, and sometimes dialogue or a story again."""
    pages: list[Page] = []
    sizes = [rnd.choice([2, 3, 4, 6, 8, 12, 20, 30, 40, 60]) for _ in sites]
    for site, size in zip(sites, sizes, strict=True):
        docs = pool[site.lang]
        titles = [d[0][:90].rsplit(" ", 1)[0] for d in docs[:200]]
        start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=rnd.randint(0, 300))
        stories: list[list[Line]] = []
        for k in range(size):
            when = start + timedelta(hours=7 * k)
            if not docs:  # every real text is used once
                break
            if stories and rnd.random() < 0.08:  # the same story again (an update)
                body = [Line(ln.text, "repeat") for ln in rnd.choice(stories)]
            else:
                body = [Line(p, "content") for p in docs.pop()]
                if site.lang in DIALOGUE and rnd.random() < 0.25:  # an interview
                    for _ in range(rnd.randint(2, 5)):
                        at = rnd.randint(1, max(1, len(body)))
                        body.insert(at, Line(rnd.choice(DIALOGUE[site.lang]), "dialogue"))
                stories.append(body)
            lines = list(body)
            for kind, phrase, p, where in site.chrome:
                if rnd.random() >= p:
                    continue
                chrome = Line(_fill(phrase, site, rnd, titles, when), "chrome", kind)
                if where == "top":
                    lines.insert(0, chrome)
                elif where == "bottom":
                    lines.append(chrome)
                else:
                    lines.insert(rnd.randint(1, max(1, len(lines) - 1)), chrome)
            url = f"https://{site.host}/news/{k}"
            pages.append(Page(site.name, url, when, lines))
    return pages


def write_pages(pages: list[Page], raw: Path) -> None:
    by_site: dict[str, list[Page]] = defaultdict(list)
    for page in pages:
        by_site[page.site].append(page)
    for site, mine in by_site.items():
        path = raw / f"{site.replace(' ', '_')}.jsonl"
        with path.open("a", encoding="utf-8") as fh:
            for page in mine:
                record = {
                    "url": page.url,
                    "published_at": page.published.isoformat(),
                    "text": "\n".join(line.text for line in page.lines),
                }
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def load_texts(corpora: Path) -> dict[str, list[list[str]]]:
    """Paragraphs of real articles, by language. The bsnlp bodies are raw and carry their
    sites' chrome, and some gold bodies keep a footer, so a paragraph is taken as content
    only when it is at least ``MIN_CONTENT`` characters long, found in one document only,
    and not one of the last two of its document (where the footers are)."""
    docs = [*load_bsnlp(corpora), *load_aeb(corpora), *load_cleaneval(corpora)]
    seen = Counter(norm(p) for doc in docs for p in set(doc.paragraphs))
    pool: dict[str, list[list[str]]] = {"en": [], "ru": [], "uk": []}
    for doc in docs:
        paragraphs = [
            " ".join(p.split())
            for p in doc.paragraphs[:-2]
            if len(p) >= MIN_CONTENT and seen[norm(p)] == 1
        ]
        if doc.lang in pool and 2 <= len(paragraphs) <= 40:
            pool[doc.lang].append(paragraphs)
    return pool


# --- running and scoring -------------------------------------------------------------------


def run(raw: Path, clean: Path, setting: str) -> float:
    cfg = load_config(None, SETTINGS[setting])
    t0 = time.perf_counter()
    run_pipeline(raw, clean, cfg)
    return time.perf_counter() - t0


def removed_rows(clean: Path) -> dict[tuple[str, str], str]:
    """(url, normalised text) -> reason, for every removed paragraph."""
    articles = ds.dataset(clean / "articles", partitioning="hive").to_table(
        columns=["article_id", "url"]
    )
    url_of = dict(zip(*(articles[c].to_pylist() for c in ("article_id", "url")), strict=True))
    t = ds.dataset(clean / "removed", partitioning="hive").to_table(
        columns=["article_id", "text", "reason"]
    )
    out = {}
    for aid, text, reason in zip(*(t[c].to_pylist() for c in t.column_names), strict=True):
        if aid in url_of:
            out[(url_of[aid], norm(text))] = reason
    return out


@dataclass
class Score:
    counts: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)  # content removed as boilerplate
    missed: list[str] = field(default_factory=list)  # chrome left

    def add(self, label: str, reason: str | None, kind: str = "", text: str = "") -> None:
        self.counts[label] += 1
        if label in ("content", "repeat") and reason in BOILERPLATE:
            self.lost.append(f"{reason}: {text[:100]}")
        if label == "chrome" and reason not in BOILERPLATE:
            self.missed.append(f"{kind}: {text[:100]}")
        if label == "chrome":
            hit = reason in BOILERPLATE
            self.counts["chrome_removed"] += hit
            self.counts[f"chrome_{kind}"] += 1
            self.counts[f"chrome_{kind}_removed"] += hit
        elif label in ("content", "repeat"):
            self.counts[f"{label}_lost"] += reason in BOILERPLATE
            self.counts[f"{label}_dedup"] += reason is not None and reason not in BOILERPLATE
        elif label == "dialogue":
            self.counts["dialogue_lost"] += reason is not None

    def row(self) -> dict[str, Any]:
        c = self.counts

        def share(a: str, b: str) -> str:
            return f"{c[a] / c[b]:.3f}" if c[b] else "-"

        content = c["content"] + c["repeat"]
        kept = content - c["content_lost"] - c["repeat_lost"]
        return {
            "chrome recall": f"{share('chrome_removed', 'chrome')} ({c['chrome_removed']}/{c['chrome']})",
            "exact": share("chrome_exact_removed", "chrome_exact"),
            "numbers": share("chrome_numbers_removed", "chrome_numbers"),
            "tail": share("chrome_tail_removed", "chrome_tail"),
            "lead": share("chrome_lead_removed", "chrome_lead"),
            "content kept": f"{kept / content:.4f} ({kept}/{content})" if content else "-",
            "dialogue kept": f"{c['dialogue'] - c['dialogue_lost']}/{c['dialogue']}",
        }


def score_generated(pages: list[Page], removed: dict[tuple[str, str], str]) -> Score:
    score = Score()
    for page in pages:
        for line in page.lines:
            reason = removed.get((page.url, norm(line.text)))
            score.add(line.label, reason, line.kind, line.text)
    return score


def score_aeb(docs: list[Doc], urls: dict[str, str], removed: dict[tuple[str, str], str]) -> Score:
    score = Score()
    for doc in docs:
        url = urls[doc.doc_id]
        for para in split_paragraphs(fix_text("\n".join(doc.lines)).text):
            status = gold_status(norm(para), doc)
            if status == "short":
                continue
            label = "content" if status else "chrome"
            score.add(label, removed.get((url, norm(para))), "page", para)
    return score


def eval_aeb(corpora: Path, work: Path) -> None:
    gold = json.loads((corpora / "aeb-scrapinghub" / "ground-truth.json").read_text("utf-8"))
    docs = list(read_aeb(corpora))
    urls = {key[:12]: page["url"] for key, page in gold.items()}  # read_aeb's short ids
    raw = work / "aeb-raw"
    raw.mkdir(parents=True)
    with (raw / "pages.jsonl").open("w", encoding="utf-8") as fh:
        for doc in docs:
            fh.write(json.dumps({"url": urls[doc.doc_id], "text": "\n".join(doc.lines)}) + "\n")
    print(f"\n## aeb-scrapinghub: {len(docs)} full pages, gold bodies as labels\n")
    table(
        [
            (s, score_aeb(docs, urls, removed_rows(_run(raw, work / f"aeb-{s}", s))))
            for s in SETTINGS
        ]
    )


def _run(raw: Path, clean: Path, setting: str) -> Path:
    seconds = run(raw, clean, setting)
    print(f"  ({setting}: {seconds:.1f} s)", file=sys.stderr)
    return clean


def eval_generated(corpora: Path, work: Path, n_sites: int, seed: int) -> None:
    rnd = random.Random(seed)
    pool = load_texts(corpora)
    for docs in pool.values():
        rnd.shuffle(docs)
    sites = make_sites(n_sites, rnd)
    pages = make_pages(sites, pool, rnd)
    raw = work / "gen-raw"
    raw.mkdir(parents=True)
    write_pages(pages, raw)
    labels = Counter(line.label for page in pages for line in page.lines)
    sizes = Counter(page.site for page in pages)
    print(
        f"\n## generated: {len(sites)} sites, {len(pages)} pages "
        f"({sum(1 for n in sizes.values() if n <= 4)} sites with 4 or fewer), "
        f"{dict(labels)}\n"
    )
    table(
        [
            (s, score_generated(pages, removed_rows(_run(raw, work / f"gen-{s}", s))))
            for s in SETTINGS
        ]
    )

    # A later run: each site's last three pages arrive in a second run.
    by_site: dict[str, list[Page]] = defaultdict(list)
    for page in pages:
        by_site[page.site].append(page)
    first = [p for mine in by_site.values() for p in mine[:-3]]
    later = [p for mine in by_site.values() for p in mine[-3:] if len(mine) > 3]
    rows = []
    for s in ("learned", "both"):
        raw2 = work / f"later-raw-{s}"
        (raw2 / "a").mkdir(parents=True)
        (raw2 / "b").mkdir()
        write_pages(first, raw2 / "a")
        clean = work / f"later-{s}"
        run(raw2, clean, s)
        write_pages(later, raw2 / "b")
        run(raw2, clean, s)
        rows.append(
            (f"{s}, new pages of a second run", score_generated(later, removed_rows(clean)))
        )
    print(f"\nA later run: {len(later)} new pages of known sites (3 per site with more than 3)\n")
    table(rows)


def table(rows: list[tuple[str, Score]]) -> None:
    cols = list(rows[0][1].row())
    print("| setting | " + " | ".join(cols) + " |")
    print("| --- " * (len(cols) + 1) + "|")
    for name, score in rows:
        print(f"| {name} | " + " | ".join(str(v) for v in score.row().values()) + " |")
    for name, score in rows:
        if SHOW and (score.lost or score.missed):
            print(f"\n{name}: content removed as boilerplate ({len(score.lost)}):")
            print("\n".join(f"    {line}" for line in sorted(score.lost)[:SHOW]))
            print(f"{name}: chrome left ({len(score.missed)}), a sample:")
            sample = random.Random(0).sample(score.missed, min(SHOW, len(score.missed)))
            print("\n".join(f"    {line}" for line in sorted(sample)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--set", choices=["aeb", "generated", "all"], default="all")
    ap.add_argument("--sites", type=int, default=48)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="keep the raw and clean trees here")
    ap.add_argument("--show", type=int, default=0, help="print this many errors per setting")
    args = ap.parse_args()
    global SHOW
    SHOW = args.show
    work = args.keep or Path(tempfile.mkdtemp(prefix="bp-eval-"))
    if args.keep and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.set in ("aeb", "all"):
            eval_aeb(args.corpora, work)
        if args.set in ("generated", "all"):
            eval_generated(args.corpora, work, args.sites, args.seed)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
