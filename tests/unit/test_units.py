"""Durations and quantities parse like Go's time.ParseDuration and resource.Quantity."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tend.api.units import parse_duration, parse_quantity


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10s", 10),
        ("5m", 300),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("1.5s", 1.5),
        ("0s", 0),
        ("2h", 7200),
    ],
)
def test_durations_parse_to_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "soon", "5 m", "-5s", "1d", "s", "1h 30m", "10S"])
def test_bad_durations_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration like 500ms, 10s, 5m or 1h30m"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", Decimal("0.1")),
        ("2Gi", Decimal(2 * 2**30)),
        ("256Mi", Decimal(256 * 2**20)),
        ("2G", Decimal(2 * 10**9)),
        ("1", Decimal(1)),
        ("0.5", Decimal("0.5")),
        ("1e3", Decimal(1000)),
        (3, Decimal(3)),
    ],
)
def test_quantities_follow_kubernetes_suffixes(text: str | int, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["2GB", "lots", "1.2.3", "Gi", "2 Gi", ""])
def test_bad_quantities_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expected a Kubernetes quantity"):
        parse_quantity(text)
