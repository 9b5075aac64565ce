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
