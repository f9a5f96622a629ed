"""Typed decoding of built-in objects: what happens when kube-apiserver unmarshals a request
body into its Go structs, before defaulting and validation.

- Every resource.Quantity field (resources requests/limits, emptyDir sizeLimit, overhead,
  PVC, ResourceQuota, LimitRange, node capacity ...) is parsed and stored in canonical form
  (quantity.py): `0.5` comes back `500m`, `1073741824` stays, `1.5Gi` is `1536Mi`.
- An int32/int64 field gets a JSON integer in range; anything else fails decoding.

Failures are 400 BadRequest with the decoder's message, wrapped like the API server's
`<Kind> in version "<v>" cannot be handled as a <Kind>: ...` (e.g. `json: cannot unmarshal
number 2147483648 into Go struct field Probe.spec.template.spec.containers.livenessProbe.
periodSeconds of type int32`). Custom resources are not touched (a CR body is unstructured
JSON to the server; an `x-kubernetes-int-or-string` quantity in a CRD stays as sent).

Which fields are typed comes from builtin_schemas.py; a plan of only the typed fields is
compiled per definition once, so a write walks just those paths.
"""

from __future__ import annotations

from typing import Any

from tend_sim import errors
from tend_sim.builtin_schemas import (
    QUANTITY,
    definition_name,
    definitions,
    ref_name,
    schema_type,
)
from tend_sim.quantity import QuantityError, parse_quantity, quantity_text

# A plan: "quantity" | "int32" | "int64" | ("list", plan) | ("map", plan)
#        | ("struct", go_name, {json_name: plan})
Plan = Any

_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_plans: dict[str, Plan] = {}
_COMPILING = object()


def _compile(schema: dict[str, Any]) -> Plan:
    name = ref_name(schema)
    if name is not None:
        return _compile_definition(name)
    t = schema_type(schema)
    if t == "integer" and schema.get("format") in _INT_RANGES:
        return schema["format"]
    if t == "array" and isinstance(schema.get("items"), dict):
        inner = _compile(schema["items"])
        return ("list", inner) if inner is not None else None
    if t == "object" and isinstance(schema.get("additionalProperties"), dict):
        inner = _compile(schema["additionalProperties"])
        return ("map", inner) if inner is not None else None
    return None


def _compile_definition(name: str) -> Plan:
    if name == QUANTITY:
        return "quantity"
    cached = _plans.get(name)
    if cached is _COMPILING:
        return None  # a recursive type (JSONSchemaProps): its inner levels are not typed
    if name in _plans:
        return cached
    _plans[name] = _COMPILING
    schema = definitions().get(name) or {}
    fields = {
        prop: plan
        for prop, sub in (schema.get("properties") or {}).items()
        if isinstance(sub, dict) and (plan := _compile(sub)) is not None
    }
    plan = ("struct", name.rsplit(".", 1)[-1], fields) if fields else None
    _plans[name] = plan
    return plan


def _type_name(plan: Plan) -> str:
    return "resource.Quantity" if plan == "quantity" else str(plan)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number " + (str(value) if isinstance(value, int) else repr(value))
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


class _Mismatch(Exception):
    """A JSON value that does not fit its Go type; the struct and the path are added as it
    propagates up (so a body that decodes builds no path strings)."""

    def __init__(self, value: Any, plan: Plan) -> None:
        super().__init__()
        self.value_kind = _json_kind(value)
        self.type_name = _type_name(plan)
        self.struct = ""
        self.keys: list[str] = []

    def message(self, top: str) -> str:
        path = ".".join(reversed(self.keys))
        return (
            f"json: cannot unmarshal {self.value_kind} into Go struct field "
            f"{self.struct or top}.{path} of type {self.type_name}"
        )


def _decode(value: Any, plan: Plan) -> Any:
    """The decoded (canonical) value; raises _Mismatch (or QuantityError) as the decoder."""
    if value is None:
        return None
    if plan == "quantity":
        if isinstance(value, list | dict):
            raise _Mismatch(value, plan)
        return parse_quantity(quantity_text(value)).canonical
    if isinstance(plan, str):
        low, high = _INT_RANGES[plan]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Mismatch(value, plan)
        return value
    kind = plan[0]
    if kind == "list":
        if isinstance(value, list):
            for i, item in enumerate(value):
                value[i] = _decode(item, plan[1])
        return value
    if kind == "map":
        if isinstance(value, dict):
            for key, item in value.items():
                value[key] = _decode(item, plan[1])
        return value
    _, go_name, fields = plan
    if type(value) is dict:
        for key, item in value.items():  # usually fewer than the struct's typed fields
            sub = fields.get(key)
            if sub is None or item is None:
                continue
            if type(sub) is str and sub != "quantity":  # an in-range int needs no call
                low, high = _INT_RANGES[sub]
                if type(item) is int and low <= item <= high:
                    continue
            try:
                value[key] = _decode(item, sub)
            except _Mismatch as exc:
                if not exc.struct:
                    exc.struct = go_name  # Go names the innermost struct, then the whole path
                exc.keys.append(key)
                raise
    return value


def decode_builtin(group: str, version: str, kind: str, obj: dict[str, Any]) -> None:
    """Canonicalise the typed fields of a built-in object in place; 400 when it cannot be
    decoded into kube-apiserver's types."""
    name = definition_name(group, version, kind)
    if name is None:
        return
    plan = _compile_definition(name)
    if plan is None:
        return
    try:
        _decode(obj, plan)
    except _Mismatch as exc:
        raise errors.bad_request(
            f'{kind} in version "{version}" cannot be handled as a {kind}: {exc.message(plan[1])}'
        ) from None
    except (QuantityError, ValueError) as exc:
        raise errors.bad_request(
            f'{kind} in version "{version}" cannot be handled as a {kind}: {exc}'
        ) from None
