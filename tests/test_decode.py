import codecs

import pytest

from pipeline.decode import decode_bytes
from pipeline.errors import RecordError

RU = (
    "Синоптики пообещали жителям столицы сильный снегопад в ночь на субботу: за сутки "
    "выпадет до 20 сантиметров снега. Ещё сутки дороги будут загружены."
)
UK = "Київ, 10 січня. Міська рада затвердила бюджет на 2022 рік: видатки на транспорт зростуть."
FR = (
    "Le conseil municipal a adopté jeudi soir un plan de rénovation des écoles, d’un montant "
    "de 12 millions d’euros. « C’est un effort sans précédent », a-t-elle déclaré. Les œuvres."
)
DE = "Die Bürger müssen für die Straße zahlen, sagte der Bürgermeister. Größere Änderungen folgen."


@pytest.mark.parametrize(
    ("text", "encoding", "expected_fix"),
    [
        (RU, "cp1251", "cp1251"),
        (RU, "koi8_r", "koi8-r"),
        (FR, "cp1252", "cp1252"),
        (DE, "latin-1", "cp1252"),  # Latin-1 text reads the same as cp1252
        (RU + "\r\n" + UK, "utf-16", "utf-16-le"),
        (FR, "utf-16-be", None),  # no BOM: not detectable, see below
    ],
)
def test_legacy_encodings_come_out_as_the_original_text(
    text: str, encoding: str, expected_fix: str | None
) -> None:
    data = text.encode(encoding)
    if expected_fix is None:
        data = codecs.BOM_UTF16_BE + data
        expected_fix = "utf-16-be"
    assert decode_bytes(data) == (text, expected_fix)


def test_utf8_with_and_without_bom() -> None:
    assert decode_bytes(RU.encode("utf-8")) == (RU, None)
    assert decode_bytes(codecs.BOM_UTF8 + RU.encode("utf-8")) == (RU, None)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"  \r\n\t ", "empty file"),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
            "binary content (NUL bytes, no byte order mark)",
        ),
        (bytes(range(1, 9)) * 50, "binary content (400 control characters in 400)"),
    ],
)
def test_unreadable_bytes_raise_a_record_error(data: bytes, message: str) -> None:
    with pytest.raises(RecordError) as info:
        decode_bytes(data)
    assert str(info.value) == message


def test_utf16_without_bom_is_recognised_by_its_nul_bytes() -> None:
    text = "UTF-16 text without a byte order mark, as some Windows tools write it."
    assert decode_bytes(text.encode("utf-16-le")) == (text, "utf-16-le")
    assert decode_bytes(text.encode("utf-16-be")) == (text, "utf-16-be")


def test_utf8_with_stray_cp1252_bytes_keeps_both() -> None:
    data = (
        "UTF-8 “smart” quotes, Привет,".encode()
        + b" then cp1252 \x93smart\x94 quotes \x96 pasted in."
    )
    assert decode_bytes(data) == (
        "UTF-8 “smart” quotes, Привет, then cp1252 “smart” quotes – pasted in.",
        "utf-8+cp1252",
    )


def test_legacy_text_with_few_high_bytes_is_not_taken_for_utf8() -> None:
    # Two cp1252 bytes that happen to form no UTF-8 sequence: detection, not the fallback.
    assert decode_bytes(FR.encode("cp1252")) == (FR, "cp1252")


def test_utf16_without_bom_in_cyrillic() -> None:
    assert decode_bytes(RU.encode("utf-16-le")) == (RU, "utf-16-le")


def test_utf8_with_many_cp1252_quotes_is_read_not_rejected() -> None:
    data = (
        "One “UTF-8” line.\n".encode() + b"\x93Three\x94 \x93cp1252\x94 \x93lines\x94 \x96 here.\n"
    )
    assert decode_bytes(data) == (
        "One “UTF-8” line.\n“Three” “cp1252” “lines” – here.\n",
        "utf-8+cp1252",
    )
