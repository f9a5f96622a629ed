"""resource.Quantity canonicalisation, tables lifted from apimachinery's quantity_test.go."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tend_sim.quantity import ERR_FORMAT, ERR_SUFFIX, QuantityError, parse_quantity

# TestQuantityString: (canonical, an alternate spelling that canonicalises to it).
STRING_TABLE = [
    ("1Gi", "1024Mi"),
    ("300Mi", "307200Ki"),
    ("6Ki", ""),
    ("1001Gi", "1025024Mi"),
    ("1Ti", "1024Gi"),
    ("5", "5000m"),
    ("500m", "0.5"),
    ("1G", "1000M"),
    ("1G", "0.001T"),
    ("1m", "1000u"),
    ("80m", ""),
    ("1080m", "1.08"),
    ("1080m", "1080000000n"),
    ("300M", ""),
    ("1T", ""),
    ("1234567M", ""),
    ("1234567m", ""),
    ("3k", ""),
    ("1025", ""),
    ("0", "00"),
    ("1e9", ".001e12"),
    ("1e-3", "0.001e0"),
    ("1e-9", "1000e-12"),
    ("80e-3", ""),
    ("300e6", ""),
    ("1e12", ""),
    ("1e3", ""),
    ("3e3", ""),
    ("1n", ""),
    ("80n", ""),
    ("1080n", ""),
    ("1u", ""),
    ("80u", ""),
    ("1080u", ""),
]


@pytest.mark.parametrize(("canonical", "alternate"), STRING_TABLE)
def test_canonical_strings_are_kept_and_alternates_canonicalised(
    canonical: str, alternate: str
) -> None:
    assert parse_quantity(canonical).canonical == canonical
    if alternate:
        assert parse_quantity(alternate).canonical == canonical
    if canonical != "0":
        assert parse_quantity("-" + canonical).canonical == "-" + canonical


# TestQuantityParseEmit, plus the cases a manifest commonly sends.
@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("1Ki", "1Ki"),
        ("1Mi", "1Mi"),
        ("1Gi", "1Gi"),
        ("1024Mi", "1Gi"),
        ("1000M", "1G"),
        (".001Ki", "1024m"),
        (".000001Ki", "1024u"),
        (".000000001Ki", "1024n"),
        (".000000000001Ki", "2n"),
        ("1.5Gi", "1536Mi"),
        ("0.5Gi", "512Mi"),
        ("1.5Ki", "1536"),
        ("0.1", "100m"),
        ("1000", "1k"),
        ("1500", "1500"),
        ("1073741824", "1073741824"),
        ("0.5", "500m"),
        ("100m", "100m"),
        ("2", "2"),
        ("+1", "+1"),
        ("0.0000000001", "1n"),
        ("10e100", "100e99"),
    ],
)
def test_parse_emit(sent: str, stored: str) -> None:
    assert parse_quantity(sent).canonical == stored


def test_values() -> None:
    assert parse_quantity("1.5Gi").value == Decimal(1536 * 1024 * 1024)
    assert parse_quantity("-100m").value == Decimal("-0.1")
    assert parse_quantity("1e3").format == "DecimalExponent"
    assert parse_quantity("0.5Ki").format == "BinarySI"
    assert parse_quantity(".0001Ki").format == "DecimalSI"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.1.M", ERR_FORMAT),
        ("1+1.0M", ERR_FORMAT),
        ("0.1mi", ERR_SUFFIX),
        ("0.1am", ERR_FORMAT),
        ("aoeu", ERR_FORMAT),
        (".5i", ERR_SUFFIX),
        ("1i", ERR_SUFFIX),
        ("-3.01i", ERR_SUFFIX),
        ("-3.01e-", ERR_SUFFIX),
        (" 1", ERR_FORMAT),
        ("1 ", ERR_FORMAT),
        ("", ERR_FORMAT),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as caught:
        parse_quantity(text)
    assert str(caught.value) == message
