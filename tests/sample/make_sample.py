"""Write the committed sample in data/raw/: every input format and every kind of damage.

Run from the repository root: ``python tests/sample/make_sample.py``. The texts are written
for this sample (the seed article aside, which is copied from shared/seed/ when present).
tests/test_sample.py states what newsclean must make of each file.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
RAW = ROOT / "data" / "raw"

HARBOR = [
    "The city council voted 7 to 2 on Tuesday to extend the harbor ferry service through the winter, after a year in which ridership grew by 18 percent.",
    "Mayor Elena Ruiz said the extension would cost $1.4 million and be paid for from the port authority’s reserve fund, not from the general budget.",
    "“People have told us, again and again, that the ferry is how they get to work,” Ruiz said. “We listened.”",
    "Opponents argued that the reserve fund should be kept for repairs to the north pier, which engineers flagged as unsafe in March.",
    "The new schedule starts on December 1, with boats every 30 minutes during the morning and evening rush.",
]

WIRE_A = [
    "Shares of Northwind Energy fell 12 percent on Monday after the company cut its forecast for the year, citing lower gas prices in Europe.",
    "The company now expects revenue of $4.1 billion, down from the $4.6 billion it forecast in July.",
    "Chief executive Tom Berger told analysts that the second half would be “challenging” but that the dividend was safe.",
    "Analysts at Halden Bank lowered their price target to $38 from $45.",
]

KYIV = [
    "Київ, 10 січня. Міська рада затвердила бюджет на 2022 рік: видатки на транспорт зростуть на 15 відсотків.",
    "Депутати також підтримали програму ремонту шкіл, яка триватиме до 2024 року.",
]

RU_ARTICLE = [
    "Москва, 12 января. Столичные власти объявили о продлении работы катков в парках до конца февраля.",
    "По словам представителя департамента культуры, за новогодние праздники катки посетили более 300 тысяч человек.",
    "«Мы видим, что зимний отдых в городе пользуется спросом», — отметил он. Ёлки в парках простоят до 15 января.",
]

RU_SNOW = [
    "Синоптики пообещали жителям столицы сильный снегопад в ночь на субботу: за сутки выпадет до 20 сантиметров снега.",
    "Коммунальные службы переведены на усиленный режим работы, на улицы выйдет около 10 тысяч единиц техники.",
    "Водителей попросили без необходимости не садиться за руль и заранее учесть, что ещё сутки дороги будут загружены.",
]

FR_ARTICLE = [
    "Le conseil municipal a adopté jeudi soir un plan de rénovation des écoles élémentaires, d’un montant de 12 millions d’euros.",
    "« C’est un effort sans précédent », a déclaré l’adjointe chargée de l’éducation. Les travaux débuteront à l’été.",
    "Les œuvres d’art des écoles seront restaurées à cette occasion.",
]


def sloppy_mojibake(text: str) -> str:
    """UTF-8 bytes read as Windows-1252, as browsers do (undefined bytes kept as C1)."""
    import ftfy.bad_codecs  # noqa: F401  registers "sloppy-windows-1252"

    return text.encode("utf-8").decode("sloppy-windows-1252")


def write(rel: str, data: bytes) -> None:
    path = RAW / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def main() -> int:
    if RAW.exists():
        shutil.rmtree(RAW)
    seed = ROOT.parent / "shared" / "seed" / "000_58778b95823b92fe.txt"
    if seed.is_file():
        write("seed/000_58778b95823b92fe.txt", seed.read_bytes())

    # JSON lines with field aliases, damage, an extra field for meta, and two bad records.
    harbor_damaged = [
        HARBOR[0],
        sloppy_mojibake(HARBOR[1]),  # mojibake once
        sloppy_mojibake(sloppy_mojibake(HARBOR[2])),  # mojibake twice
        HARBOR[3].replace("March", "March &amp; April").replace("north pier", "north pier"),
        HARBOR[4],
        HARBOR[4],  # repeated paragraph
        "Read more: Ferry fares to rise in spring",
        "© 2022 The Harbor Ledger. All rights reserved.",
    ]
    lines = [
        {
            "url": "https://www.harborledger.example/news/ferry-winter?utm_source=rss",
            "title": "Council extends ferry service through the winter",
            "text": "\n".join(harbor_damaged),
            "published_at": "2022-01-10T08:30:00+03:00",
            "source": "harborledger.example",
            "author": "Jane Doe",
        },
        {
            "link": "https://wire.example/markets/northwind-forecast",
            "headline": "Northwind Energy shares fall after forecast cut",
            "content": "\n\n".join(
                [*WIRE_A, "Share this article", "Sign up for our daily newsletter"]
            ),
            "date": "Mon, 10 Jan 2022 14:05:00 GMT",
            "tags": ["energy", "markets"],
        },
        {"url": "https://wire.example/empty", "title": "A record without text", "text": "   "},
    ]
    body = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines)
    body += '\n{"url": "https://wire.example/broken", "title": "cut off by the scraper", "text": "Half a\n'
    write("wire/2022-01-10.jsonl", body.encode("utf-8"))

    # The same wire story republished (gzip JSON lines), with HTML entities in the title.
    copy = {
        "href": "https://dailyplanet.example/business/northwind?ref=home",
        "title": "Northwind Energy shares fall after forecast cut &ndash; analysts react",
        "body": "\n".join(WIRE_A),
        "pubDate": "2022-01-10T16:00:00Z",
        "site": "dailyplanet.example",
    }
    write("wire/2022-01-10-syndicated.jsonl.gz", gzip.compress(json.dumps(copy).encode(), mtime=0))

    # Plain-text articles in legacy encodings and with CRLF.
    ru = "\r\n".join(
        [
            *RU_ARTICLE,
            "Читайте также: В Москве открылись новые катки",
            "Подписывайтесь на наш канал в Telegram",
        ]
    )
    write("feeds/ru-katki.cp1251.txt", ru.encode("cp1251"))
    koi8 = "\r\n".join([*RU_SNOW, "Смотрите также: Прогноз погоды на выходные"])
    write("feeds/ru-sneg.koi8r.txt", koi8.encode("koi8_r"))  # KOI8-R has no « » or dashes
    write("feeds/fr-ecoles.cp1252.txt", "\r\n\r\n".join(FR_ARTICLE).encode("cp1252"))
    write("feeds/uk-budget.utf16.txt", "\r\n".join(KYIV).encode("utf-16"))  # with BOM
    wrapped = (
        "The regional hospital opened a new emergency wing on Friday, adding 40\r\n"
        "beds and two operating theatres to a building that had not been\r\n"
        "expanded since 1998.\r\n\r\n"
        "Hospital director Amal Haddad said waiting times should fall by a\r\n"
        "third within six months.\r\n\r\n"
        "Follow us on Twitter for more local news\r\n"
    )
    write("feeds/en-hospital.utf8bom.txt", b"\xef\xbb\xbf" + wrapped.encode("utf-8"))

    # A JSON list, a CSV and a Parquet file, with other field names again.
    items = [
        {
            "link": "https://citynews.example/2022/01/11/library",
            "headline": "Library extends opening hours",
            "article": "The central library will open until 10 p.m. on weekdays from February, the city said.\n\nCookie Policy",
            "published": 1641895200,
            "domain": "citynews.example",
        },
        {"link": "https://citynews.example/2022/01/11/no-text", "headline": "Photo gallery"},
    ]
    write("export/citynews.json", json.dumps(items, indent=1).encode())
    csv_text = (
        "link,headline,body,date\r\n"
        '"https://valleytimes.example/rain","Rain warning for the valley","Forecasters issued a rain warning for the valley on Wednesday, with up to 80 mm expected.\n\nAdvertisement\n\nResidents were told to move cars away from the river.","2022-01-12"\r\n'
    )
    write("export/valleytimes.csv", csv_text.encode("utf-8"))
    table = pa.table(
        {
            "url": ["https://portnews.example/cranes"],
            "title": ["New cranes arrive at the port"],
            "text": [
                "Two new container cranes arrived at the port on Thursday.\nThey will be in service by March."
            ],
            "published_at": ["2022-01-13T09:00:00Z"],
        }
    )
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf)
    write("export/portnews.parquet", buf.getvalue().to_pybytes())

    # Inputs that cannot be read at all.
    write("bad/empty.txt", b"")
    write("bad/junk.txt", bytes((i * 37 + 11) % 256 for i in range(600)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
