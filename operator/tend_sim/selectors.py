"""Label and field selectors: parsing (400 on bad syntax, like labels.Parse) and matching."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tend_sim import errors
from tend_sim.objects import Obj, get_path
from tend_sim.resources import ResourceType
from tend_sim.validation import DNS1123_SUBDOMAIN, LABEL_VALUE, QUALIFIED_NAME

_DNS_SUBDOMAIN = re.compile(f"^{DNS1123_SUBDOMAIN}$")
_QUALIFIED_NAME = re.compile(f"^{QUALIFIED_NAME}$")
_LABEL_VALUE = re.compile(f"^{LABEL_VALUE}$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        op = self.op
        if op == "=":
            return labels.get(self.key) == self.values[0]
        if op == "!=":
            return labels.get(self.key) != self.values[0]
        if op == "in":
            return self.key in labels and labels[self.key] in self.values
        if op == "notin":
            return labels.get(self.key) not in self.values
        if op == "exists":
            return self.key in labels
        return self.key not in labels


def _split_top(selector: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    depth = 0
    cur: list[str] = []
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


_SET_RE = re.compile(r"^(\S+)\s+(in|notin)\s+\(([^)]*)\)$")


def _check_label_key(key: str, selector: str) -> None:
    name = key.rsplit("/", 1)[-1]
    prefix = key.rsplit("/", 1)[0] if "/" in key else None
    ok = 0 < len(name) <= 63 and _QUALIFIED_NAME.match(name) is not None
    if prefix is not None:
        ok = ok and len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix) is not None
    if not ok:
        raise errors.bad_request(
            f'unable to parse requirement: invalid label key "{key}": name part must consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character"
        )


def _check_label_value(value: str) -> None:
    if len(value) > 63 or _LABEL_VALUE.match(value) is None:
        raise errors.bad_request(
            f'unable to parse requirement: values[0][{value}]: Invalid value: "{value}": '
            "a valid label must be an empty string or consist of alphanumeric characters, "
            "'-', '_' or '.', and must start and end with an alphanumeric character"
        )


@lru_cache(maxsize=512)
def parse_label_selector(selector: str) -> tuple[Requirement, ...]:
    """Parse `a=b,c!=d,e in (f,g),h notin (i),j,!k` like labels.Parse; 400 on bad syntax."""
    reqs: list[Requirement] = []
    for part in _split_top(selector):
        m = _SET_RE.match(part)
        if m:
            key, op, raw = m.group(1), m.group(2), m.group(3)
            values = tuple(v.strip() for v in raw.split(",") if v.strip())
            if op == "in" and not values:
                raise errors.bad_request(
                    "unable to parse requirement: for 'in', 'notin' operators, values set "
                    "can't be empty"
                )
            _check_label_key(key, selector)
            for v in values:
                _check_label_value(v)
            reqs.append(Requirement(key, op, values))
            continue
        if "(" in part or ")" in part:
            raise errors.bad_request(f"unable to parse requirement: found '(', in '{selector}'")
        if "!=" in part:
            key, _, value = part.partition("!=")
            op = "!="
        elif "==" in part:
            key, _, value = part.partition("==")
            op = "="
        elif "=" in part:
            key, _, value = part.partition("=")
            op = "="
        elif part.startswith("!"):
            key = part[1:].strip()
            _check_label_key(key, selector)
            reqs.append(Requirement(key, "!"))
            continue
        else:
            key = part
            if " " in key:
                raise errors.bad_request(
                    f"unable to parse requirement: found '{key.split()[1]}', expected: "
                    "'=', '!=', '==', 'in', notin'"
                )
            _check_label_key(key, selector)
            reqs.append(Requirement(key, "exists"))
            continue
        key, value = key.strip(), value.strip()
        _check_label_key(key, selector)
        _check_label_value(value)
        reqs.append(Requirement(key, op, (value,)))
    return tuple(reqs)


def label_selector_from_dict(sel: dict[str, Any] | None) -> str:
    """metav1.LabelSelector (matchLabels/matchExpressions) -> selector string."""
    if not sel:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for expr in sel.get("matchExpressions") or []:
        op = expr.get("operator")
        key = expr.get("key")
        values = ",".join(expr.get("values") or [])
        if op == "In":
            parts.append(f"{key} in ({values})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def labels_match(reqs: Iterable[Requirement], obj: Obj) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(r.matches(labels) for r in reqs)


@dataclass(frozen=True)
class FieldRequirement:
    path: str
    equal: bool
    value: str


def _field_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_field_selector(rt: ResourceType, selector: str) -> tuple[FieldRequirement, ...]:
    """Parse `metadata.name=x,spec.nodeName!=y`; 400 for unsupported field labels."""
    reqs: list[FieldRequirement] = []
    for part in _split_top(selector):
        if "!=" in part:
            key, _, value = part.partition("!=")
            equal = False
        elif "==" in part:
            key, _, value = part.partition("==")
            equal = True
        elif "=" in part:
            key, _, value = part.partition("=")
            equal = True
        else:
            raise errors.bad_request(f"invalid selector: '{selector}'; can't understand '{part}'")
        key = key.strip()
        if key in ("metadata.name", "metadata.namespace"):
            path = key
        elif key in rt.field_labels:
            path = rt.field_labels[key]
        else:
            raise errors.bad_request(f"field label not supported: {key}")
        reqs.append(FieldRequirement(path, equal, value.strip()))
    return tuple(reqs)


def fields_match(reqs: Iterable[FieldRequirement], obj: Obj) -> bool:
    return all((_field_str(get_path(obj, r.path)) == r.value) == r.equal for r in reqs)
