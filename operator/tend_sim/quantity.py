"""resource.Quantity as kube-apiserver decodes and re-encodes it.

A port of apimachinery/pkg/api/resource/quantity.go: `ParseQuantity` (the three formats
DecimalSI, BinarySI and DecimalExponent, values rounded up to the nano, BinarySI capped at
2^63-1) and `CanonicalizeBytes` (mantissa without trailing zeros, exponent a multiple of 3,
base 1024 for BinarySI values that are whole and at least 1Ki). A string already in canonical
form is kept as sent, as ParseQuantity keeps `s` (so `1e3` stays `1e3` and `+1` stays `+1`);
anything else is re-encoded (`1000` -> `1k`, `0.1` -> `100m`, `1.5Gi` -> `1536Mi`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Context, Decimal
from functools import lru_cache

SPLIT_RE = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT = f"quantities must match the regular expression '{SPLIT_RE}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT = "DecimalSI", "BinarySI", "DecimalExponent"
_DEC = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DEC_BY_EXP = {v: k for k, v in _DEC.items()}
_BIN = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BIN_BY_EXP = {0: "", **{v: k for k, v in _BIN.items()}}
_SUFFIX_CHARS = set("eEinumkKMGTP")
_DIGITS = set("0123456789")
_CTX = Context(prec=400)
_NANO = Decimal("1e-9")
_MAX_INT64 = (1 << 63) - 1
_MAX_INT64_FACTORS = 18


class QuantityError(ValueError):
    """The string is not a quantity; the message is ParseQuantity's error."""


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    format: str
    canonical: str

    def __str__(self) -> str:
        return self.canonical


def _split(text: str) -> tuple[bool, str, str, str, str]:
    """parseQuantityString: (positive, value, num, denom, suffix)."""
    positive, pos, end = True, 0, len(text)
    if text[:1] in ("-", "+"):
        positive, pos = text[0] == "+", 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "0", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos] or "0"
    if pos >= end:
        return positive, text, num, "", ""
    denom = ""
    if text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
        if pos >= end:
            return positive, text, num, denom, ""
    value, suffix_start = text[:pos], pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos >= end:
        return positive, value, num, denom, text[suffix_start:]
    if text[pos] in "-+":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT)
    return positive, value, num, denom, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, str]:
    if suffix in _DEC:
        return 10, _DEC[suffix], DECIMAL_SI
    if suffix in _BIN:
        return 2, _BIN[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        try:
            return 10, int(suffix[1:], 10), DECIMAL_EXPONENT
        except ValueError:
            pass
    raise QuantityError(ERR_SUFFIX)


def _kept_as_sent(num: str, denom: str, base: int, exponent: int, fmt: str) -> bool:
    """ParseQuantity's fast path: whether it keeps the string it was given."""
    if fmt == BINARY_SI:
        if exponent < 0 or denom:
            return False
        if 15 - len(num) - int(exponent * 3 / 10) - 1 < 0:
            return False
        value = int(num)
        if value << exponent > _MAX_INT64:
            return False
        return exponent % 10 == 0 and value & 0x07 != 0
    if _MAX_INT64_FACTORS - (len(num) + len(denom)) < 0:
        return False
    scale = exponent - len(denom)
    shifted = num + denom
    if scale < -9 or int(shifted) > _MAX_INT64:
        return False
    return scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"


@lru_cache(maxsize=4096)
def parse_quantity(text: str) -> Quantity:
    """ParseQuantity, with the string MarshalJSON would write back (memoised: manifests
    repeat the same few quantities)."""
    if not text:
        raise QuantityError(ERR_FORMAT)
    if text == "0":
        return Quantity(Decimal(0), DECIMAL_SI, "0")
    positive, value, num, denom, suffix = _split(text)
    base, exponent, fmt = _interpret(suffix)
    kept = _kept_as_sent(num, denom, base, exponent, fmt)
    digits = value.lstrip("+-")
    try:
        amount = abs(Decimal(digits)) if digits.strip(".") else Decimal(0)
    except ArithmeticError:
        raise QuantityError(ERR_NUMERIC) from None
    amount = _CTX.multiply(amount, _CTX.power(Decimal(base), exponent))
    if amount:
        amount = amount.quantize(_NANO, rounding=ROUND_UP, context=_CTX)
    if fmt == BINARY_SI and amount > _MAX_INT64:
        amount = Decimal(_MAX_INT64)
    if fmt == BINARY_SI and 0 < amount < 1:
        fmt = DECIMAL_SI
    if not positive:
        amount = -amount
    return Quantity(amount, fmt, text if kept else canonicalize(amount, fmt))


def canonicalize(amount: Decimal, fmt: str) -> str:
    """CanonicalizeBytes: the number and suffix a Quantity of this value and format prints."""
    if not amount:
        return "0"
    if fmt == BINARY_SI and (-1024 < amount < 1024 or amount != amount.to_integral_value()):
        fmt = DECIMAL_SI
    sign = "-" if amount < 0 else ""
    if fmt == BINARY_SI:
        mantissa, times = int(abs(amount)), 0
        while mantissa >= 1024 and mantissa % 1024 == 0 and times < 6:
            mantissa, times = mantissa // 1024, times + 1
        return f"{sign}{mantissa}{_BIN_BY_EXP[times * 10]}"
    _, digits, exp = abs(amount).normalize(_CTX).as_tuple()
    assert isinstance(exp, int)
    mantissa = int("".join(map(str, digits)))
    shift = exp % 3
    mantissa, exp = mantissa * 10**shift, exp - shift
    if fmt == DECIMAL_EXPONENT:
        return f"{sign}{mantissa}" + (f"e{exp}" if exp else "")
    if exp > 18:
        mantissa, exp = mantissa * 10 ** (exp - 18), 18
    return f"{sign}{mantissa}{_DEC_BY_EXP[exp]}"


def quantity_text(value: object) -> str:
    """What Quantity.UnmarshalJSON parses for a JSON value (a string, or a bare number)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.strip()
    return repr(value) if isinstance(value, float) else str(value)
