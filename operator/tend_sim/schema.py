"""Custom resources against their CRD's openAPIV3Schema, the way kube-apiserver does it.

The pipeline and the messages follow apiextensions-apiserver and kube-openapi:

1. pruning of unknown fields (`schema/pruning`): silently, or reported as
   `unknown field "spec.foo"` (fieldValidation=Strict -> the server answers **400 BadRequest**
   `<Kind> in version "<v>" cannot be handled as a <Kind>: strict decoding error: unknown field
   "spec.foo"`, before any validation; Warn -> a `Warning` header per field; Ignore -> nothing),
2. removal of non-nullable nulls without a default, then defaulting (`schema/defaulting`):
   a default applies where the field is missing, inside objects that are present,
3. value validation (kube-openapi `validate`, converted by `kubeOpenAPIResultToFieldErrors`),
   x-kubernetes-embedded-resource and list-type checks, then CEL rules unless a type, required,
   enum or size error already blocks them (`customresource/strategy.go` hasBlockingErr).
   Any cause from 3 makes the server answer **422 Invalid**.

Cause.message is the `field.Error.ErrorBody()` (`Invalid value: -1: spec.x in body should be
greater than or equal to 0`), Cause.field the path; `Cause.describe()` gives the full line.

Deliberately like upstream, not like a textbook JSON Schema validator: a float with an integral
value (`1.0`) passes as an integer (kube-openapi's isFloatInt) and is stored as `1`; `format:
int32`/`int64` are not range-checked for custom resources (kube-openapi builds the number validator
without type and format). Not implemented: validation ratcheting on update (errors on unchanged
fields are still reported), CEL cost budgets.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import math
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tend_sim import cel
from tend_sim.errors import (
    FIELD_VALUE_DUPLICATE,
    FIELD_VALUE_FORBIDDEN,
    FIELD_VALUE_INVALID,
    FIELD_VALUE_NOT_SUPPORTED,
    FIELD_VALUE_REQUIRED,
    FIELD_VALUE_TOO_LONG,
    FIELD_VALUE_TOO_MANY,
    FIELD_VALUE_TYPE_INVALID,
    FIELD_VALUE_UNKNOWN,
    Cause,
)
from tend_sim.objects import OBJECT_META_SCALARS, deep_copy

STRICT, WARN, IGNORE = "Strict", "Warn", "Ignore"
META_FIELDS = ("apiVersion", "kind", "metadata")
OBJECT_META_FIELDS = frozenset(
    {
        *OBJECT_META_SCALARS,
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
BLOCKING = frozenset(
    {
        FIELD_VALUE_NOT_SUPPORTED,
        FIELD_VALUE_REQUIRED,
        FIELD_VALUE_TOO_LONG,
        FIELD_VALUE_TOO_MANY,
        FIELD_VALUE_TYPE_INVALID,
    }
)
RULES_NOT_CHECKED = (
    "some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)
MAX_JSON_INT_FLOAT = 2.0**53
_MISSING: Any = object()


@dataclass
class ValidationResult:
    """The object as it would be stored (pruned, defaulted) and what is wrong with it."""

    obj: dict[str, Any]
    causes: list[Cause]
    warnings: list[str] = field(default_factory=list)

    @property
    def unknown_fields(self) -> list[str]:
        return [c.field for c in self.causes if c.reason == FIELD_VALUE_UNKNOWN]


def strict_decoding_message(kind: str, version: str, unknown_fields: list[str]) -> str:
    """The 400 BadRequest message the API server gives for unknown fields under Strict."""
    errs = ", ".join(f'unknown field "{p}"' for p in unknown_fields)
    head = f'{kind} in version "{version}" cannot be handled as a {kind}'
    return f"{head}: strict decoding error: {errs}"


# --- Go-style rendering of values, as field.Error.ErrorBody prints them --------------------------


def go_float(f: float) -> str:
    """Go's `%v` for float64 (strconv 'g', shortest): exponent form below 1e-4 and from 1e6."""
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if math.isnan(f):
        return "NaN"
    if f == 0:
        return "0"
    sign, digit_tuple, exponent = Decimal(repr(f)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    exp = len("".join(map(str, digit_tuple))) + int(exponent) - 1
    minus = "-" if sign else ""
    if exp < -4 or exp >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{minus}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return minus + format(abs(Decimal(repr(f))).normalize(), "f")


def go_quote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def go_value(v: Any) -> str:
    """`%v` for simple values, `%q` for strings, `%#v` for maps and lists."""
    if v is None:
        return '"null"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, str):
        return go_quote(v)
    return _go_sharp(v)


def _go_sharp(v: Any) -> str:
    if isinstance(v, dict):
        inner = ", ".join(f"{go_quote(k)}:{_go_sharp(v[k])}" for k in sorted(v))
        return "map[string]interface {}{" + inner + "}"
    if isinstance(v, list):
        return "[]interface {}{" + ", ".join(_go_sharp(x) for x in v) + "}"
    if v is None:
        return "interface {}(nil)"
    return go_value(v)


def invalid(path: str, value: Any, detail: str, *, omit: bool = False) -> Cause:
    body = "Invalid value" if omit else f"Invalid value: {go_value(value)}"
    return Cause(FIELD_VALUE_INVALID, f"{body}: {detail}" if detail else body, path)


def type_invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(FIELD_VALUE_TYPE_INVALID, f"Invalid value: {go_value(value)}: {detail}", path)


def required(path: str, detail: str = "") -> Cause:
    return Cause(
        FIELD_VALUE_REQUIRED, f"Required value: {detail}" if detail else "Required value", path
    )


def forbidden(path: str, detail: str) -> Cause:
    return Cause(FIELD_VALUE_FORBIDDEN, f"Forbidden: {detail}", path)


def duplicate(path: str, value: Any) -> Cause:
    return Cause(FIELD_VALUE_DUPLICATE, f"Duplicate value: {go_value(value)}", path)


def not_supported(path: str, value: Any, allowed: list[str]) -> Cause:
    body = f"Unsupported value: {go_value(value)}"
    if allowed:
        body += ": supported values: " + ", ".join(go_quote(a) for a in allowed)
    return Cause(FIELD_VALUE_NOT_SUPPORTED, body, path)


def too_long(path: str, max_length: int) -> Cause:
    unit = "byte" if max_length == 1 else "bytes"
    return Cause(FIELD_VALUE_TOO_LONG, f"Too long: may not be more than {max_length} {unit}", path)


def too_many(path: str, actual: int, max_items: int) -> Cause:
    unit = "item" if max_items == 1 else "items"
    return Cause(
        FIELD_VALUE_TOO_MANY, f"Too many: {actual}: must have at most {max_items} {unit}", path
    )


# --- compiled schema -----------------------------------------------------------------------------


@dataclass
class Rule:
    rule: str
    message: str
    message_expression: str | None
    field_path: str
    reason: str | None
    optional_old_self: bool
    program: cel.Expr | None
    message_program: cel.Expr | None
    uses_old_self: bool
    compile_error: str | None


@dataclass(eq=False)
class Node:
    """One schema node, preprocessed once per schema (patterns compiled, rules compiled)."""

    types: tuple[str, ...] = ()
    nullable: bool = False
    format: str = ""
    enum: list[Any] | None = None
    pattern: re.Pattern[str] | None = None
    pattern_src: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    multiple_of: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    min_properties: int | None = None
    max_properties: int | None = None
    required: tuple[str, ...] = ()
    properties: dict[str, Node] = field(default_factory=dict)
    additional: Node | None = None
    items: Node | None = None
    preserve_unknown: bool = False
    int_or_string: bool = False
    embedded: bool = False
    list_type: str = "atomic"
    map_keys: tuple[str, ...] = ()
    map_type: str = "granular"
    default: Any = _MISSING
    any_of: list[Node] = field(default_factory=list)
    all_of: list[Node] = field(default_factory=list)
    one_of: list[Node] = field(default_factory=list)
    not_: Node | None = None
    rules: list[Rule] = field(default_factory=list)
    has_defaults: bool = False
    has_rules: bool = False
    type_name: str = ""

    def child(self, key: str) -> Node | None:
        node = self.properties.get(key)
        return node if node is not None else self.additional


def _rule(entry: dict[str, Any]) -> Rule:
    text = entry.get("rule", "")
    error: str | None = None
    program = message_program = None
    try:
        program = cel.compile_expression(text)
        if entry.get("messageExpression"):
            message_program = cel.compile_expression(entry["messageExpression"])
    except cel.CelCompileError as exc:
        error = str(exc)
    return Rule(
        rule=text,
        message=str(entry.get("message", "")).strip(),
        message_expression=entry.get("messageExpression"),
        field_path=entry.get("fieldPath", ""),
        reason=entry.get("reason"),
        optional_old_self=bool(entry.get("optionalOldSelf", False)),
        program=program,
        message_program=message_program,
        uses_old_self=cel.uses_old_self(text),
        compile_error=error,
    )


def compile_schema(raw: dict[str, Any]) -> Node:
    """Preprocess a JSONSchemaProps dict into a Node tree."""
    node = Node()
    if raw.get("x-kubernetes-int-or-string"):
        node.int_or_string = True
        node.types = ("integer", "string")
    elif raw.get("type"):
        node.types = (raw["type"],)
    node.type_name = raw.get("type", "")
    node.nullable = bool(raw.get("nullable", False))
    node.format = raw.get("format", "")
    node.enum = raw.get("enum")
    if "pattern" in raw:
        node.pattern_src = raw["pattern"]
        node.pattern = re.compile(raw["pattern"])
    node.minimum = raw.get("minimum")
    node.maximum = raw.get("maximum")
    node.exclusive_minimum = bool(raw.get("exclusiveMinimum", False))
    node.exclusive_maximum = bool(raw.get("exclusiveMaximum", False))
    node.multiple_of = raw.get("multipleOf")
    node.min_length = raw.get("minLength")
    node.max_length = raw.get("maxLength")
    node.min_items = raw.get("minItems")
    node.max_items = raw.get("maxItems")
    node.min_properties = raw.get("minProperties")
    node.max_properties = raw.get("maxProperties")
    node.required = tuple(raw.get("required", ()))
    node.properties = {k: compile_schema(v) for k, v in raw.get("properties", {}).items()}
    additional = raw.get("additionalProperties")
    if isinstance(additional, dict):
        node.additional = compile_schema(additional)
    elif additional is True:
        node.additional = Node(preserve_unknown=True)
    if isinstance(raw.get("items"), dict):
        node.items = compile_schema(raw["items"])
    node.preserve_unknown = bool(raw.get("x-kubernetes-preserve-unknown-fields", False))
    node.embedded = bool(raw.get("x-kubernetes-embedded-resource", False))
    node.list_type = raw.get("x-kubernetes-list-type", "atomic")
    node.map_keys = tuple(raw.get("x-kubernetes-list-map-keys", ()))
    node.map_type = raw.get("x-kubernetes-map-type", "granular")
    if "default" in raw:
        node.default = raw["default"]
    node.any_of = [compile_schema(s) for s in raw.get("anyOf", [])]
    node.all_of = [compile_schema(s) for s in raw.get("allOf", [])]
    node.one_of = [compile_schema(s) for s in raw.get("oneOf", [])]
    if isinstance(raw.get("not"), dict):
        node.not_ = compile_schema(raw["not"])
    node.rules = [_rule(r) for r in raw.get("x-kubernetes-validations", [])]
    kids = [*node.properties.values(), *(n for n in (node.additional, node.items) if n)]
    node.has_defaults = any(k.default is not _MISSING or k.has_defaults for k in kids)
    node.has_rules = bool(node.rules) or any(k.has_rules for k in kids)
    return node


_CACHE: dict[int, tuple[dict[str, Any], Node]] = {}


def compiled(schema: dict[str, Any]) -> Node:
    """The compiled form of a schema dict, cached for the life of the dict."""
    hit = _CACHE.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    node = compile_schema(schema)
    _CACHE[id(schema)] = (schema, node)
    return node


def rule_errors(schema: dict[str, Any]) -> list[str]:
    """Compile errors of every x-kubernetes-validations rule: the CRD is refused if any."""
    errors: list[str] = []

    def visit(node: Node, path: str) -> None:
        for r in node.rules:
            if r.compile_error:
                errors.append(f"{path or '<root>'}: rule {r.rule!r}: {r.compile_error}")
        for k, child in node.properties.items():
            visit(child, f"{path}.{k}" if path else k)
        if node.additional:
            visit(node.additional, f"{path}[*]")
        if node.items:
            visit(node.items, f"{path}[*]")

    visit(compile_schema(schema), "")
    return errors


# --- paths ---------------------------------------------------------------------------------------


def child_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --- 1. pruning ----------------------------------------------------------------------------------


def _prune(x: Any, node: Node | None, path: str, unknown: list[str], root: bool = False) -> None:
    if node is not None and node.preserve_unknown:
        _skip_prune(x, node, path, unknown)
        return
    if isinstance(x, dict):
        for k in list(x):
            if (root or (node is not None and node.embedded)) and k in META_FIELDS:
                continue
            sub = node.child(k) if node is not None else None
            if sub is not None:
                _prune(x[k], sub, child_path(path, k), unknown)
            else:
                del x[k]
                unknown.append(child_path(path, k))
    elif isinstance(x, list):
        sub = node.items if node is not None else None
        for i, v in enumerate(x):
            _prune(v, sub, f"{path}[{i}]", unknown)


def _skip_prune(x: Any, node: Node, path: str, unknown: list[str]) -> None:
    if isinstance(x, dict):
        for k, v in x.items():
            if node.embedded and k in META_FIELDS:
                continue
            sub = node.child(k)
            if sub is not None and not (sub is node.additional and sub.preserve_unknown):
                _prune(v, sub, child_path(path, k), unknown)
    elif isinstance(x, list) and node.items is not None:
        for i, v in enumerate(x):
            _skip_prune(v, node.items, f"{path}[{i}]", unknown)


def _prune_metadata(obj: dict[str, Any], unknown: list[str]) -> None:
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for k in list(meta):
            if k not in OBJECT_META_FIELDS:
                del meta[k]
                unknown.append(f"metadata.{k}")


# --- 2. nulls and defaults -----------------------------------------------------------------------


def _prune_nulls(x: Any, node: Node | None) -> None:
    if isinstance(x, dict):
        for k in list(x):
            sub = node.child(k) if node is not None else None
            v = x[k]
            if v is None and sub is not None and not sub.nullable and sub.default is _MISSING:
                del x[k]
            else:
                _prune_nulls(v, sub)
    elif isinstance(x, list):
        sub = node.items if node is not None else None
        for v in x:
            _prune_nulls(v, sub)


def _default(x: Any, node: Node | None) -> None:
    if node is None:
        return
    if isinstance(x, dict):
        for k, prop in node.properties.items():
            if prop.default is _MISSING:
                continue
            if k not in x or (x[k] is None and not prop.nullable):
                x[k] = deep_copy(prop.default)
        if not node.has_defaults:
            return
        for k in x:
            sub = node.properties.get(k)
            if sub is not None:
                _default(x[k], sub)
            elif node.additional is not None:
                add = node.additional
                if x[k] is None and not add.nullable and add.default is not _MISSING:
                    x[k] = deep_copy(add.default)
                _default(x[k], add)
    elif isinstance(x, list) and node.items is not None:
        items = node.items
        for i in range(len(x)):
            if x[i] is None and not items.nullable and items.default is not _MISSING:
                x[i] = deep_copy(items.default)
            _default(x[i], items)


# --- 3. value validation -------------------------------------------------------------------------


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer" if -(2**63) <= v < 2**63 else "number"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _is_json_integer(f: float) -> bool:
    return math.isfinite(f) and f == math.floor(f) and abs(f) <= MAX_JSON_INT_FLOAT


_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_HOSTNAME = re.compile(
    r"^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$"
)


def _check_date(v: str) -> bool:
    try:
        datetime.strptime(v, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def _check_date_time(v: str) -> bool:
    if not _DATE_TIME.match(v):
        return False
    try:
        datetime.fromisoformat(v.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _check_uuid(v: str) -> bool:
    try:
        uuid.UUID(v)
    except ValueError:
        return False
    return len(v) == 36


def _check_ip(v: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(v).version == version
    except ValueError:
        return False


def _check_cidr(v: str) -> bool:
    try:
        ipaddress.ip_network(v, strict=False)
    except ValueError:
        return False
    return "/" in v


def _check_byte(v: str) -> bool:
    try:
        base64.b64decode(v, validate=True)
    except ValueError:
        return False
    return True


FORMATS: dict[str, Callable[[str], bool]] = {
    "date": _check_date,
    "date-time": _check_date_time,
    "datetime": _check_date_time,
    "uuid": _check_uuid,
    "ipv4": lambda v: _check_ip(v, 4),
    "ipv6": lambda v: _check_ip(v, 6),
    "cidr": _check_cidr,
    "hostname": lambda v: len(v) <= 255 and bool(_HOSTNAME.match(v)),
    "byte": _check_byte,
    "email": lambda v: re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", v) is not None,
    "uri": lambda v: re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", v) is not None,
}


def _enum_allowed(values: list[Any]) -> list[str]:
    return [v if isinstance(v, str) else json.dumps(v) for v in values]


def _number_detail(path: str, value: Any, bound: float, kind: str) -> str:
    shown = str(int(bound)) if isinstance(value, int) and bound == int(bound) else go_float(bound)
    return f"{path} in body should be {kind} {shown}"


class _Validator:
    """kube-openapi's SchemaValidator, producing causes the way apiextensions converts them."""

    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def validate(self, x: Any, node: Node, path: str) -> None:
        causes = self.causes
        if x is None:
            if node.types and not node.nullable:
                detail = f'{path} in body must be of type {",".join(node.types)}: "null"'
                causes.append(type_invalid(path, "null", detail))
            return
        jtype = _json_type(x)
        if node.types and not (
            jtype in node.types
            or (jtype == "number" and "integer" in node.types and _is_json_integer(float(x)))
            or (jtype == "integer" and "number" in node.types)
        ):
            detail = f'{path} in body must be of type {",".join(node.types)}: "{jtype}"'
            causes.append(type_invalid(path, jtype, detail))
        for sub in node.all_of:
            self.validate(x, sub, path)
        if node.any_of and not any(_passes(x, sub, path) for sub in node.any_of):
            causes.append(
                invalid(path, "", f"{path} in body must validate at least one schema (anyOf)")
            )
        if node.one_of and sum(_passes(x, sub, path) for sub in node.one_of) != 1:
            causes.append(
                invalid(path, "", f"{path} in body must validate one and only one schema (oneOf)")
            )
        if node.not_ is not None and _passes(x, node.not_, path):
            causes.append(invalid(path, "", f"{path} in body must not validate the schema (not)"))
        if jtype == "string":
            self._string(x, node, path)
        elif jtype in ("integer", "number"):
            self._number(x, node, path)
        if node.enum is not None and not any(cel.cel_equal(x, e) for e in node.enum):
            causes.append(not_supported(path, x, _enum_allowed(node.enum)))
        if jtype == "array":
            self._array(x, node, path)
        elif jtype == "object":
            self._object(x, node, path)

    def _string(self, x: str, node: Node, path: str) -> None:
        if node.max_length is not None and len(x) > node.max_length:
            self.causes.append(too_long(path, node.max_length))
        if node.min_length is not None and len(x) < node.min_length:
            detail = f"{path} in body should be at least {node.min_length} chars long"
            self.causes.append(invalid(path, x, detail))
        if node.pattern is not None and not node.pattern.search(x):
            detail = f"{path} in body should match '{node.pattern_src}'"
            self.causes.append(invalid(path, x, detail))
        check = FORMATS.get(node.format)
        if check is not None and not check(x):
            detail = f'{path} in body must be of type {node.format}: "{x}"'
            self.causes.append(type_invalid(path, x, detail))

    def _number(self, x: float, node: Node, path: str) -> None:
        step = node.multiple_of
        if step is not None and step > 0 and not math.isclose(x / step, round(x / step)):
            detail = f"{path} in body should be a multiple of {go_float(step)}"
            self.causes.append(invalid(path, x, detail))
        if node.maximum is not None and (
            x >= node.maximum if node.exclusive_maximum else x > node.maximum
        ):
            kind = "less than" if node.exclusive_maximum else "less than or equal to"
            self.causes.append(invalid(path, x, _number_detail(path, x, node.maximum, kind)))
        if node.minimum is not None and (
            x <= node.minimum if node.exclusive_minimum else x < node.minimum
        ):
            kind = "greater than" if node.exclusive_minimum else "greater than or equal to"
            self.causes.append(invalid(path, x, _number_detail(path, x, node.minimum, kind)))

    def _array(self, x: list[Any], node: Node, path: str) -> None:
        if node.items is not None:
            for i, v in enumerate(x):
                self.validate(v, node.items, f"{path}[{i}]")
        if node.min_items is not None and len(x) < node.min_items:
            detail = f"{path} in body should have at least {node.min_items} items"
            self.causes.append(invalid(path, len(x), detail))
        if node.max_items is not None and len(x) > node.max_items:
            self.causes.append(too_many(path, len(x), node.max_items))

    def _object(self, x: dict[str, Any], node: Node, path: str) -> None:
        n = len(x)
        if node.min_properties is not None and n < node.min_properties:
            detail = f"{path} in body should have at least {node.min_properties} properties"
            self.causes.append(invalid(path, n, detail))
            return
        if node.max_properties is not None and n > node.max_properties:
            self.causes.append(too_many(path, n, node.max_properties))
            return
        for k, v in x.items():
            prop = node.properties.get(k)
            if prop is not None:
                if not (path == "" and k == "metadata"):
                    self.validate(v, prop, child_path(path, k))
            elif node.additional is not None:
                self.validate(v, node.additional, f"{path}.{k}")
        for k in node.required:
            if k not in x:
                self.causes.append(required(child_path(path, k)))


def _passes(x: Any, node: Node, path: str) -> bool:
    v = _Validator()
    v.validate(x, node, path)
    return not v.causes


def _normalize_integers(x: Any, node: Node | None) -> Any:
    """Integral floats accepted for integer fields are stored as integers (Go JSON round trip)."""
    if node is None:
        return x
    if isinstance(x, float) and "integer" in node.types and _is_json_integer(x):
        return int(x)
    if isinstance(x, dict):
        for k, v in x.items():
            x[k] = _normalize_integers(v, node.child(k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            x[i] = _normalize_integers(v, node.items)
    return x


def _structure(x: Any, node: Node, path: str, causes: list[Cause]) -> None:
    """x-kubernetes-embedded-resource and x-kubernetes-list-type invariants."""
    if isinstance(x, dict):
        if node.embedded:
            _embedded(x, path, causes)
        for k, v in x.items():
            sub = node.child(k)
            if sub is not None and not (path == "" and k == "metadata"):
                _structure(
                    v, sub, child_path(path, k) if k in node.properties else f"{path}[{k}]", causes
                )
    elif isinstance(x, list):
        if node.list_type == "set":
            seen: list[Any] = []
            for i, v in enumerate(x):
                if any(cel.cel_equal(v, s) for s in seen):
                    causes.append(duplicate(f"{path}[{i}]", v))
                else:
                    seen.append(v)
        elif node.list_type == "map":
            _list_map(x, node, path, causes)
        if node.items is not None:
            for i, v in enumerate(x):
                _structure(v, node.items, f"{path}[{i}]", causes)


def _list_map(x: list[Any], node: Node, path: str, causes: list[Cause]) -> None:
    seen: list[dict[str, Any]] = []
    for i, item in enumerate(x):
        if not isinstance(item, dict):
            causes.append(
                invalid(f"{path}[{i}]", item, "must be an object for an array of list-type map")
            )
            continue
        key = {k: item[k] for k in node.map_keys if k in item}
        if any(cel.cel_equal(key, s) for s in seen):
            causes.append(duplicate(f"{path}[{i}]", key))
        else:
            seen.append(key)


def _embedded(x: dict[str, Any], path: str, causes: list[Cause]) -> None:
    for k in ("apiVersion", "kind"):
        if k not in x:
            causes.append(required(child_path(path, k), "must not be empty"))
        elif not isinstance(x[k], str):
            causes.append(invalid(child_path(path, k), x[k], "must be a string"))
        elif not x[k]:
            causes.append(invalid(child_path(path, k), x[k], "must not be empty"))


# --- 4. CEL --------------------------------------------------------------------------------------


def _root_view(obj: dict[str, Any]) -> dict[str, Any]:
    """At the root, CEL sees apiVersion, kind and only metadata.name/generateName."""
    view = dict(obj)
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        view["metadata"] = {k: meta[k] for k in ("name", "generateName") if k in meta}
    return view


def _rule_field_path(base: str, node: Node, field_path: str) -> str:
    path = base
    current: Node | None = node
    for name in re.findall(r"\.([A-Za-z_$][\w$-]*)|\['((?:[^'\\]|\\.)*)'\]", field_path):
        key = name[0] or name[1]
        if current is not None and key in current.properties:
            path = child_path(path, key)
            current = current.properties[key]
        else:
            path = f"{path}[{key}]"
            current = current.additional if current is not None else None
    return path or "<nil>"


def _cel_node(x: Any, old: Any, node: Node, path: str, causes: list[Cause], root: bool) -> None:
    if x is None or not node.has_rules:
        return
    if node.rules:
        self_value = _root_view(x) if root and isinstance(x, dict) else x
        old_value = (
            (_root_view(old) if root and isinstance(old, dict) else old)
            if old is not None
            else cel.ABSENT
        )
        type_value = node.type_name or ("object" if isinstance(x, dict) else "")
        for r in node.rules:
            _run_rule(r, self_value, old_value, node, path, type_value, causes)
    if isinstance(x, dict):
        correlate = node.map_type != "atomic" and isinstance(old, dict)
        for k, v in x.items():
            if root and k == "metadata":
                continue
            sub = node.properties.get(k)
            if sub is not None:
                sub_path = child_path(path, k)
            elif node.additional is not None:
                sub, sub_path = node.additional, f"{path}[{k}]"
            else:
                continue
            _cel_node(v, old.get(k) if correlate else None, sub, sub_path, causes, sub.embedded)
    elif isinstance(x, list) and node.items is not None:
        old_items: dict[Any, Any] = {}
        if node.list_type == "map" and isinstance(old, list):
            for item in old:
                if isinstance(item, dict):
                    old_items[_map_key(item, node.map_keys)] = item
        for i, v in enumerate(x):
            old_v = (
                old_items.get(_map_key(v, node.map_keys))
                if old_items and isinstance(v, dict)
                else None
            )
            _cel_node(v, old_v, node.items, f"{path}[{i}]", causes, node.items.embedded)


def _map_key(item: dict[str, Any], keys: tuple[str, ...]) -> str:
    return json.dumps([item.get(k) for k in keys], sort_keys=True)


def _run_rule(
    r: Rule,
    self_value: Any,
    old_value: Any,
    node: Node,
    path: str,
    type_value: str,
    causes: list[Cause],
) -> None:
    err_path = path or "<nil>"
    if r.compile_error or r.program is None:
        causes.append(invalid(err_path, type_value, f"rule compile error: {r.compile_error}"))
        return
    if r.uses_old_self and old_value is cel.ABSENT and not r.optional_old_self:
        return
    env = {"self": self_value, "oldSelf": old_value}
    try:
        ok = r.program(env)
    except cel.CelError as exc:
        detail = f"{exc} evaluating rule: {r.message or r.rule}"
        causes.append(invalid(err_path, type_value, detail))
        return
    if ok is True:
        return
    if not isinstance(ok, bool):
        detail = f"no such overload: not a bool evaluating rule: {r.message or r.rule}"
        causes.append(invalid(err_path, type_value, detail))
        return
    target = _rule_field_path(path, node, r.field_path) if r.field_path else err_path
    detail = r.message or f"failed rule: {r.rule.strip()}"
    if r.message_program is not None:
        try:
            text = r.message_program(env)
            if isinstance(text, str) and text.strip() and "\n" not in text:
                detail = text.strip()
        except cel.CelError:
            pass
    if r.reason == FIELD_VALUE_FORBIDDEN:
        causes.append(forbidden(target, detail))
    elif r.reason == FIELD_VALUE_REQUIRED:
        causes.append(required(target, detail))
    elif r.reason == FIELD_VALUE_DUPLICATE:
        causes.append(duplicate(target, type_value))
    else:
        causes.append(invalid(target, type_value, detail))


# --- entry point ---------------------------------------------------------------------------------


def validate_custom(
    schema: dict[str, Any],
    obj: dict[str, Any],
    old: dict[str, Any] | None = None,
    *,
    field_validation: str = STRICT,
) -> ValidationResult:
    """Prune, default and validate a custom resource against its version's openAPIV3Schema.

    `obj` is not modified; the result holds the object as the server would store it.
    Under Strict with unknown fields, only the FieldValueUnknown causes are returned (the real
    server fails the decoding with 400 before validating anything).
    """
    node = compiled(schema)
    result = deep_copy(obj)
    unknown: list[str] = []
    _prune(result, node, "", unknown, root=True)
    _prune_metadata(result, unknown)
    unknown.sort()
    warnings: list[str] = []
    if unknown and field_validation == STRICT:
        causes = [Cause(FIELD_VALUE_UNKNOWN, f'unknown field "{p}"', p) for p in unknown]
        return ValidationResult(result, causes, [])
    if unknown and field_validation == WARN:
        warnings = [f'unknown field "{p}"' for p in unknown]
    _prune_nulls(result, node)
    _default(result, node)
    _normalize_integers(result, node)

    validator = _Validator()
    validator.validate(result, node, "")
    causes = validator.causes
    meta_node = node.properties.get("metadata")
    meta = result.get("metadata")
    if meta_node is not None and isinstance(meta, dict):
        for k in ("name", "generateName"):
            if k in meta and k in meta_node.properties:
                validator.validate(meta[k], meta_node.properties[k], f"metadata.{k}")
    _structure(result, node, "", causes)
    if node.has_rules:
        if any(c.reason in BLOCKING for c in causes):
            causes.append(invalid("<nil>", None, RULES_NOT_CHECKED))
        else:
            _cel_node(result, old, node, "", causes, root=True)
    return ValidationResult(result, causes, warnings)


def iter_rules(schema: dict[str, Any]) -> Iterator[tuple[str, Rule]]:
    """Every CEL rule of a schema with the path of its node (for tests and `rule_errors`)."""

    def visit(node: Node, path: str) -> Iterator[tuple[str, Rule]]:
        for r in node.rules:
            yield path, r
        for k, child in node.properties.items():
            yield from visit(child, child_path(path, k))
        for sub in (node.additional, node.items):
            if sub is not None:
                yield from visit(sub, f"{path}[*]")

    yield from visit(compiled(schema), "")
