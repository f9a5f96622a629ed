"""Durations (`10s`, `5m`, `1h30m`) and Kubernetes quantities (`100m`, `2Gi`).

Pure parsing with error messages that say what is accepted; the models use these
as field validators and the CRD carries the same patterns.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|h|m|s))+$"
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|h|m|s)")
_DURATION_RE = re.compile(DURATION_PATTERN)

DURATION_HELP = "a duration like 500ms, 10s, 5m or 1h30m (units ms, s, m, h)"


def parse_duration(text: str) -> float:
    """Return the duration in seconds; raise ValueError naming what is accepted."""
    if not isinstance(text, str) or not _DURATION_RE.match(text):
        raise ValueError(f"invalid duration {text!r}: expected {DURATION_HELP}")
    return sum(float(num) * DURATION_UNITS[unit] for num, unit in _DURATION_PART.findall(text))


# The exact grammar of resource.Quantity (k8s.io/apimachinery/pkg/api/resource).
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
_QUANTITY_RE = re.compile(QUANTITY_PATTERN)
# Resource requests, limits and divisors: Kubernetes refuses a negative one ("must be
# greater than or equal to 0"), so the CRD does too.
NON_NEGATIVE_QUANTITY_PATTERN = QUANTITY_PATTERN.replace(r"^(\+|-)?", r"^\+?", 1)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
QUANTITY_HELP = "a Kubernetes quantity like 100m, 0.5, 256Mi or 2Gi"


def parse_quantity(value: str | int | float) -> Decimal:
    """Return a quantity's value as a Decimal (`100m` -> 0.1, `2Gi` -> 2147483648)."""
    text = str(value).strip()
    if not _QUANTITY_RE.match(text):
        raise ValueError(f"invalid quantity {value!r}: expected {QUANTITY_HELP}")
    match = re.match(r"^([+-]?[0-9.]+)(.*)$", text)
    if match is None:  # pragma: no cover - the pattern above guarantees a number
        raise ValueError(f"invalid quantity {value!r}: expected {QUANTITY_HELP}")
    number, suffix = match.groups()
    try:
        base = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - guarded by the pattern
        raise ValueError(f"invalid quantity {value!r}: expected {QUANTITY_HELP}") from exc
    if suffix in _BINARY:
        return base * _BINARY[suffix]
    if suffix in _DECIMAL:
        return base * _DECIMAL[suffix]
    return base * Decimal(10) ** int(suffix[1:])  # exponent form: 1e3, 5E-2
