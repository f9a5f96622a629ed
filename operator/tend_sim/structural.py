"""Offline checks that a CRD and its schema are what the API server accepts.

`check_structural()` follows the rules of k8s.io/apiextensions-apiserver
(pkg/apiserver/schema/validation.go and complete.go, and the OpenAPI checks of
pkg/apis/apiextensions/validation/validation.go): every node typed, value
validations (anyOf/allOf/oneOf/not) free of structure, metadata restricted,
list/map markers consistent, CEL rules well-formed, defaults valid against their
own schema. One rule is stricter than the API server: `additionalProperties: false`
is refused, because unknown fields are pruned (or rejected under strict field
validation) anyway and `false` only hides the schema from `kubectl explain`.

`check_crd()` adds the CRD-level shape: names, versions, exactly one storage
version, subresources and printer columns. Every problem is one string
`"<field path>: <problem>"`, the path written like the API server writes it
(`spec.versions[0].schema.openAPIV3Schema.properties[spec].type`).
"""

from __future__ import annotations

import re
from typing import Any

import celpy

ROOT = "openAPIV3Schema"

_TYPES = {"string", "number", "integer", "boolean", "array", "object"}
_JUNCTORS = ("allOf", "anyOf", "oneOf")
_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]
_UNSUPPORTED = {
    "id": "id is not supported",
    "$ref": "$ref is not supported",
    "additionalItems": "additionalItems is not supported",
    "patternProperties": "patternProperties is not supported",
    "definitions": "definitions is not supported",
    "$defs": "definitions is not supported",
    "dependencies": "dependencies is not supported",
}
# Keys a value validation (anything under allOf/anyOf/oneOf/not) must not carry.
_NOT_IN_VALUE_VALIDATION = {
    "type": "must be empty to be structural",
    "additionalProperties": "must be undefined to be structural",
    "default": "must be undefined to be structural",
    "title": "must be empty to be structural",
    "description": "must be empty to be structural",
    "nullable": "must be false to be structural",
    "externalDocs": "must be undefined to be structural",
    "x-kubernetes-preserve-unknown-fields": "must be false to be structural",
    "x-kubernetes-embedded-resource": "must be false to be structural",
    "x-kubernetes-int-or-string": "must be false to be structural",
    "x-kubernetes-list-map-keys": "must be empty to be structural",
    "x-kubernetes-list-type": "must be undefined to be structural",
    "x-kubernetes-map-type": "must be undefined to be structural",
    "x-kubernetes-validations": "must be empty to be structural",
}
# With the status subresource, only these may appear at the root of the schema.
_ALLOWED_AT_ROOT = {
    "description",
    "type",
    "format",
    "title",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "required",
    "items",
    "properties",
    "externalDocs",
    "example",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
}
_RULE_REASONS = {
    "FieldValueInvalid",
    "FieldValueForbidden",
    "FieldValueRequired",
    "FieldValueDuplicate",
}
_META_FIELDS = ("metadata", "kind", "apiVersion")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_PRINTER_TYPES = {"integer", "number", "string", "boolean", "date"}
_PRINTER_FORMATS = {"int32", "int64", "float", "double", "byte", "date", "date-time", "password"}
# Go's regexp (RE2) has no lookaround and no backreferences.
_NOT_RE2 = re.compile(r"\(\?[=!]|\(\?<[=!]|\\[1-9]")

_cel_env: celpy.Environment | None = None


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _prop(path: str, name: str) -> str:
    return f"{path}.properties[{name}]"


def _is_int_or_string_any_of(any_of: Any) -> bool:
    return bool(any_of == _INT_OR_STRING_ANY_OF)


# --- structural invariants ---------------------------------------------------------------


def check_structural(schema: dict[str, Any], path: str = ROOT) -> list[str]:
    """Every way `schema` (an openAPIV3Schema) is not a valid structural schema."""
    errors: list[str] = []
    _node(schema, path, "root", errors, in_meta=False)
    errors.extend(_check_defaults(schema, path))
    return sorted(set(errors), key=errors.index)


def _node(s: Any, path: str, level: str, errors: list[str], *, in_meta: bool) -> None:
    """One structural node (root, array items, object field, additionalProperties)."""
    if not isinstance(s, dict):
        errors.append(f"{path}: must be a schema object")
        return
    _openapi_keywords(s, path, errors)
    typ = s.get("type")
    int_or_string = bool(s.get("x-kubernetes-int-or-string"))
    preserve = s.get("x-kubernetes-preserve-unknown-fields")
    embedded = bool(s.get("x-kubernetes-embedded-resource"))

    if typ == "array" and "items" not in s:
        errors.append(f"{path}.items: Required value: must be specified")
    if "items" in s:
        if isinstance(s["items"], list):
            errors.append(
                f"{path}.items: Forbidden: items must be a schema object and not an array"
            )
        else:
            _node(s["items"], f"{path}.items", "item", errors, in_meta=in_meta)
    properties = s.get("properties") or {}
    if not isinstance(properties, dict):
        errors.append(f"{path}.properties: must be a map of schemas")
        properties = {}
    for name, sub in properties.items():
        sub_meta = in_meta or ((level == "root" or embedded) and name in _META_FIELDS)
        _node(sub, _prop(path, name), "field", errors, in_meta=sub_meta)

    additional = s.get("additionalProperties")
    if additional is not None:
        if level == "root":
            errors.append(f"{path}.additionalProperties: Forbidden: must not be used at the root")
        if properties:
            errors.append(
                f"{path}.additionalProperties: Forbidden: "
                "additionalProperties and properties are mutual exclusive"
            )
        if additional is False:
            errors.append(
                f"{path}.additionalProperties: Forbidden: must not be false "
                "(unknown fields are pruned; list the fields under properties)"
            )
        elif isinstance(additional, dict):
            _node(additional, f"{path}.additionalProperties", "field", errors, in_meta=in_meta)
        if embedded:
            errors.append(
                f"{path}.additionalProperties: Forbidden: "
                "must not be used if x-kubernetes-embedded-resource is set"
            )

    if int_or_string and preserve:
        errors.append(
            f"{path}.x-kubernetes-preserve-unknown-fields: Invalid value: "
            "must be false if x-kubernetes-int-or-string is true"
        )
    if int_or_string and embedded:
        errors.append(
            f"{path}.x-kubernetes-embedded-resource: Invalid value: "
            "must be false if x-kubernetes-int-or-string is true"
        )
    if embedded and typ != "object":
        errors.append(
            f"{path}.type: Required value: must be object if x-kubernetes-embedded-resource is true"
        )
    elif not typ and not int_or_string and not preserve:
        where = {
            "root": "at the root",
            "item": "for specified array items",
            "field": "for specified object fields",
        }[level]
        errors.append(f"{path}.type: Required value: must not be empty {where}")
    if level == "root" and typ and typ != "object":
        errors.append(f"{path}.type: Invalid value: {typ!r}: must be object at the root")
    if level == "root" or embedded:
        for name in ("kind", "apiVersion"):
            if name in properties and properties[name].get("type") != "string":
                errors.append(f"{_prop(path, name)}.type: Invalid value: must be string")
        if "metadata" in properties:
            _root_metadata(properties["metadata"], _prop(path, "metadata"), level, errors)
    if embedded and not preserve and not properties:
        errors.append(
            f"{path}.properties: Required value: must not be empty if "
            "x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"
        )
    if in_meta and embedded:
        errors.append(
            f"{path}.x-kubernetes-embedded-resource: Forbidden: must not be used inside of "
            "resource meta"
        )

    _value_validation(s, path, errors, skip_int_or_string=True)
    _completeness(s, s, path, path, errors)
    _list_and_map_markers(s, path, errors)
    _cel_rules(s, path, errors)


def _openapi_keywords(s: dict[str, Any], path: str, errors: list[str]) -> None:
    """The OpenAPI subset CRDs accept."""
    for key, problem in _UNSUPPORTED.items():
        if key in s:
            errors.append(f"{path}.{key}: Forbidden: {problem}")
    typ = s.get("type")
    if typ == "null":
        errors.append(
            f"{path}.type: Forbidden: type cannot be set to null, use nullable as an alternative"
        )
    elif typ is not None and typ not in _TYPES:
        errors.append(f"{path}.type: Unsupported value: {typ!r}: must be one of {sorted(_TYPES)}")
    if s.get("uniqueItems"):
        errors.append(
            f"{path}.uniqueItems: Forbidden: uniqueItems cannot be set to true since the "
            "runtime complexity becomes quadratic"
        )
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        errors.append(
            f"{path}.x-kubernetes-preserve-unknown-fields: Invalid value: must be true or undefined"
        )
    pattern = s.get("pattern")
    if isinstance(pattern, str):
        try:
            re.compile(pattern)
        except re.error as exc:
            errors.append(
                f"{path}.pattern: Invalid value: must be a valid regular expression: {exc}"
            )
        else:
            if _NOT_RE2.search(pattern):
                errors.append(
                    f"{path}.pattern: Invalid value: must be a valid RE2 regular expression "
                    "(no lookaround, no backreferences)"
                )


def _root_metadata(meta: Any, path: str, level: str, errors: list[str]) -> None:
    """metadata at the root may only be {type: object} and restrict name/generateName."""
    if not isinstance(meta, dict):
        return
    if meta.get("type") != "object":
        errors.append(f"{path}.type: Invalid value: must be object")
    if level != "root":
        return
    rest = {k: v for k, v in meta.items() if k not in ("type", "default")}
    props = rest.pop("properties", None) or {}
    extra_props = set(props) - {"name", "generateName"}
    if rest or extra_props:
        errors.append(
            f"{path}: Forbidden: must not specify anything other than name and generateName, "
            "but metadata is implicitly specified"
        )


def _value_validation(
    v: dict[str, Any], path: str, errors: list[str], *, skip_int_or_string: bool
) -> None:
    """allOf/anyOf/oneOf/not under `v`: value validation only, no structure."""
    skip_any_of = skip_int_or_string and _is_int_or_string_any_of(v.get("anyOf"))
    all_of = v.get("allOf") or []
    skip_first_all_of = (
        skip_int_or_string
        and bool(all_of)
        and isinstance(all_of[0], dict)
        and _is_int_or_string_any_of(all_of[0].get("anyOf"))
    )
    for junctor in _JUNCTORS:
        if junctor == "anyOf" and skip_any_of:
            continue
        for i, nested in enumerate(v.get(junctor) or []):
            skip = junctor == "allOf" and i == 0 and skip_first_all_of
            _nested(nested, f"{path}.{junctor}[{i}]", errors, skip_any_of=skip)
    if "not" in v:
        _nested(v["not"], f"{path}.not", errors, skip_any_of=False)


def _nested(v: Any, path: str, errors: list[str], *, skip_any_of: bool) -> None:
    if not isinstance(v, dict):
        errors.append(f"{path}: must be a schema object")
        return
    _openapi_keywords(v, path, errors)
    if skip_any_of:
        rest = {k: x for k, x in v.items() if k != "anyOf"}
        _value_validation(rest, path, errors, skip_int_or_string=False)
    else:
        _value_validation(v, path, errors, skip_int_or_string=False)
    for key, problem in _NOT_IN_VALUE_VALIDATION.items():
        if key in v and v[key] not in (False, None, "", []):
            errors.append(f"{path}.{key}: Forbidden: {problem}")
    if isinstance(v.get("items"), dict):
        _nested(v["items"], f"{path}.items", errors, skip_any_of=False)
    for name, sub in (v.get("properties") or {}).items():
        _nested(sub, _prop(path, name), errors, skip_any_of=False)
    if "metadata" in (v.get("properties") or {}):
        errors.append(
            f"{_prop(path, 'metadata')}: Forbidden: must not be specified in a nested context"
        )


def _completeness(
    v: dict[str, Any], s: dict[str, Any] | None, s_path: str, v_path: str, errors: list[str]
) -> None:
    """Every field or array a value validation mentions is specified structurally too."""
    for junctor in _JUNCTORS:
        for i, nested in enumerate(v.get(junctor) or []):
            if isinstance(nested, dict):
                _nested_completeness(nested, s, s_path, f"{v_path}.{junctor}[{i}]", errors)
    if isinstance(v.get("not"), dict):
        _nested_completeness(v["not"], s, s_path, f"{v_path}.not", errors)


def _nested_completeness(
    v: dict[str, Any], s: dict[str, Any] | None, s_path: str, v_path: str, errors: list[str]
) -> None:
    if s is None:
        errors.append(f"{s_path}: Required value: because it is defined in {v_path}")
        return
    _completeness(v, s, s_path, v_path, errors)
    if isinstance(v.get("items"), dict):
        items = s.get("items") if isinstance(s.get("items"), dict) else None
        _nested_completeness(v["items"], items, f"{s_path}.items", f"{v_path}.items", errors)
    s_props = s.get("properties") or {}
    for name, sub in (v.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        if name not in s_props:
            errors.append(
                f"{_prop(s_path, name)}: Required value: because it is defined in "
                f"{_prop(v_path, name)}"
            )
        else:
            _nested_completeness(
                sub, s_props[name], _prop(s_path, name), _prop(v_path, name), errors
            )


def _list_and_map_markers(s: dict[str, Any], path: str, errors: list[str]) -> None:
    typ = s.get("type")
    map_type = s.get("x-kubernetes-map-type")
    if map_type is not None:
        if typ != "object":
            errors.append(
                f"{path}.type: Required value: must be object if x-kubernetes-map-type is specified"
            )
        if map_type not in ("atomic", "granular"):
            errors.append(
                f"{path}.x-kubernetes-map-type: Unsupported value: {map_type!r}: "
                "supported values: atomic, granular"
            )
    list_type = s.get("x-kubernetes-list-type")
    keys = s.get("x-kubernetes-list-map-keys") or []
    items = s.get("items") if isinstance(s.get("items"), dict) else None
    if list_type is not None:
        if typ != "array":
            errors.append(
                f"{path}.type: Required value: must be array if x-kubernetes-list-type is specified"
            )
        if list_type not in ("atomic", "set", "map"):
            errors.append(
                f"{path}.x-kubernetes-list-type: Unsupported value: {list_type!r}: "
                "supported values: atomic, set, map"
            )
    if keys and list_type != "map":
        errors.append(
            f"{path}.x-kubernetes-list-type: Required value: "
            "must be map if x-kubernetes-list-map-keys is non-empty"
        )
    if list_type in ("set", "map") and items is not None and items.get("nullable"):
        errors.append(
            f"{path}.items.nullable: Forbidden: cannot be nullable when x-kubernetes-list-type "
            f"is {list_type}"
        )
    if list_type == "set" and items is not None:
        if (
            items.get("type") == "array"
            and items.get("x-kubernetes-list-type", "atomic") != "atomic"
        ):
            errors.append(
                f"{path}.items.x-kubernetes-list-type: Invalid value: "
                "must be atomic as item of a list with x-kubernetes-list-type=set"
            )
        if items.get("type") == "object" and items.get("x-kubernetes-map-type") != "atomic":
            errors.append(
                f"{path}.items.x-kubernetes-map-type: Invalid value: "
                "must be atomic as item of a list with x-kubernetes-list-type=set"
            )
    if list_type != "map":
        return
    if not keys:
        errors.append(
            f"{path}.x-kubernetes-list-map-keys: Required value: "
            "must not be empty if x-kubernetes-list-type is map"
        )
    if items is None:
        errors.append(
            f"{path}.items: Required value: must have a schema if x-kubernetes-list-type is map"
        )
        return
    if items.get("type") != "object":
        errors.append(
            f"{path}.items.type: Invalid value: must be object if parent array's "
            "x-kubernetes-list-type is map"
        )
        return
    props = items.get("properties") or {}
    required = set(items.get("required") or [])
    if len(set(keys)) != len(keys):
        errors.append(
            f"{path}.x-kubernetes-list-map-keys: Invalid value: must not contain duplicate entries"
        )
    for key in keys:
        if key not in props:
            errors.append(
                f"{path}.x-kubernetes-list-map-keys: Invalid value: "
                "entries must all be names of item properties"
            )
            continue
        key_path = _prop(f"{path}.items", key)
        if props[key].get("type") in ("array", "object"):
            errors.append(
                f"{key_path}.type: Invalid value: must be a scalar type if parent array's "
                "x-kubernetes-list-type is map"
            )
        if key not in required and "default" not in props[key]:
            errors.append(
                f"{key_path}.default: Required value: this property is in "
                "x-kubernetes-list-map-keys, so it must have a default or be a required property"
            )
        if props[key].get("nullable"):
            errors.append(
                f"{key_path}.nullable: Forbidden: this property is in x-kubernetes-list-map-keys, "
                "so it cannot be nullable"
            )


def _compile_cel(rule: str) -> str | None:
    """None if the rule parses, else the parser's complaint."""
    global _cel_env
    if _cel_env is None:
        _cel_env = celpy.Environment()
    try:
        _cel_env.compile(rule)
    except Exception as exc:  # celpy raises CELParseError and lark errors
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


_FIELD_PATH = re.compile(r"^(\.[A-Za-z_][A-Za-z0-9_]*|\[('[^']*'|[0-9]+)\])+$")


def _cel_rules(s: dict[str, Any], path: str, errors: list[str]) -> None:
    rules = s.get("x-kubernetes-validations")
    if rules is None:
        return
    if not isinstance(rules, list):
        errors.append(f"{path}.x-kubernetes-validations: Invalid value: must be a list")
        return
    for i, rule in enumerate(rules):
        where = f"{path}.x-kubernetes-validations[{i}]"
        text = str(rule.get("rule", "")).strip()
        message = rule.get("message")
        if not text:
            errors.append(f"{where}.rule: Required value: rule is not specified")
            continue
        if message is not None and not str(message).strip():
            errors.append(f"{where}.message: Invalid value: must be non-empty if specified")
        elif message is not None and re.search(r"[\n\r]", str(message).strip()):
            errors.append(f"{where}.message: Invalid value: must not contain line breaks")
        elif message is None and re.search(r"[\n\r]", text):
            errors.append(
                f"{where}.message: Required value: message must be specified if rule contains "
                "line breaks"
            )
        reason = rule.get("reason")
        if reason is not None and reason not in _RULE_REASONS:
            errors.append(
                f"{where}.reason: Unsupported value: {reason!r}: supported values: "
                + ", ".join(sorted(_RULE_REASONS))
            )
        field_path = rule.get("fieldPath")
        if field_path is not None:
            if not str(field_path).strip():
                errors.append(f"{where}.fieldPath: Invalid value: must be non-empty if specified")
            elif not _FIELD_PATH.match(field_path) or _resolve(s, field_path) is None:
                errors.append(
                    f"{where}.fieldPath: Invalid value: {field_path!r}: must be a valid path"
                )
        problem = _compile_cel(text)
        if problem is not None:
            errors.append(f"{where}.rule: Invalid value: compilation failed: {problem}")


def _resolve(s: dict[str, Any], field_path: str) -> dict[str, Any] | None:
    """The schema node a CEL fieldPath (`.a.b`, `.list[0]`, `.map['k']`) points at."""
    node: dict[str, Any] | None = s
    for match in re.finditer(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[('[^']*'|[0-9]+)\]", field_path):
        if node is None:
            return None
        name, index = match.groups()
        if name is not None:
            node = (node.get("properties") or {}).get(name)
        elif index.startswith("'"):
            extra = node.get("additionalProperties")
            node = (
                extra
                if isinstance(extra, dict)
                else (node.get("properties") or {}).get(index.strip("'"))
            )
        else:
            items = node.get("items")
            node = items if isinstance(items, dict) else None
    return node


# --- defaults ------------------------------------------------------------------------------


def _check_defaults(schema: dict[str, Any], path: str) -> list[str]:
    errors: list[str] = []

    def walk(s: Any, p: str, meta: str | None, in_additional_meta: bool) -> None:
        if not isinstance(s, dict):
            return
        if "default" in s:
            if meta is not None:
                errors.append(f"{p}.default: Forbidden: must not be set in top-level {meta}")
            elif in_additional_meta:
                errors.append(
                    f"{p}.default: Forbidden: must not be set inside additionalProperties "
                    "applying to object metadata"
                )
            else:
                errors.extend(validate_value(s["default"], s, f"{p}.default"))
        for name, sub in (s.get("properties") or {}).items():
            sub_meta = name if p == path and name in _META_FIELDS else meta
            walk(sub, _prop(p, name), sub_meta, in_additional_meta)
        if isinstance(s.get("items"), dict):
            walk(s["items"], f"{p}.items", meta, in_additional_meta)
        if isinstance(s.get("additionalProperties"), dict):
            walk(s["additionalProperties"], f"{p}.additionalProperties", meta, meta is not None)

    walk(schema, path, None, False)
    return errors


def validate_value(value: Any, s: dict[str, Any], path: str) -> list[str]:
    """OpenAPI validation of one value (types, enum, pattern, bounds, required, unknown
    fields); enough to check defaults. CEL rules are not evaluated here."""
    errors: list[str] = []
    if value is None:
        if not s.get("nullable"):
            errors.append(f"{path}: Invalid value: null: must not be null")
        return errors
    typ = s.get("type")
    if s.get("x-kubernetes-int-or-string"):
        if isinstance(value, bool) or not isinstance(value, int | str):
            errors.append(f"{path}: Invalid value: {value!r}: must be an integer or a string")
            return errors
    elif typ and not _is_type(value, typ):
        errors.append(f"{path}: Invalid value: {value!r}: must be of type {typ}")
        return errors
    if "enum" in s and value not in s["enum"]:
        errors.append(f"{path}: Unsupported value: {value!r}: supported values: {s['enum']}")
    if isinstance(value, str):
        if "pattern" in s and not re.search(s["pattern"], value):
            errors.append(f"{path}: Invalid value: {value!r}: must match {s['pattern']!r}")
        if "minLength" in s and len(value) < s["minLength"]:
            errors.append(f"{path}: Invalid value: {value!r}: shorter than {s['minLength']}")
        if "maxLength" in s and len(value) > s["maxLength"]:
            errors.append(f"{path}: Too long: {value!r}: longer than {s['maxLength']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in s and (
            value < s["minimum"] or (s.get("exclusiveMinimum") is True and value == s["minimum"])
        ):
            errors.append(f"{path}: Invalid value: {value!r}: must be >= {s['minimum']}")
        if "maximum" in s and (
            value > s["maximum"] or (s.get("exclusiveMaximum") is True and value == s["maximum"])
        ):
            errors.append(f"{path}: Invalid value: {value!r}: must be <= {s['maximum']}")
    if isinstance(value, list):
        if "minItems" in s and len(value) < s["minItems"]:
            errors.append(f"{path}: Invalid value: fewer than {s['minItems']} items")
        if "maxItems" in s and len(value) > s["maxItems"]:
            errors.append(f"{path}: Too many: more than {s['maxItems']} items")
        items = s.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                errors.extend(validate_value(item, items, f"{path}[{i}]"))
    if isinstance(value, dict):
        props = s.get("properties") or {}
        for name in s.get("required") or []:
            if name not in value:
                errors.append(f"{_child(path, name)}: Required value")
        additional = s.get("additionalProperties")
        for name, sub in value.items():
            if name in props:
                errors.extend(validate_value(sub, props[name], _child(path, name)))
            elif isinstance(additional, dict):
                errors.extend(validate_value(sub, additional, _child(path, name)))
            elif not s.get("x-kubernetes-preserve-unknown-fields"):
                errors.append(f"{_child(path, name)}: Invalid value: must not have unknown fields")
    return errors


def _is_type(value: Any, typ: str) -> bool:
    if typ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if typ == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(
        value, {"string": str, "boolean": bool, "array": list, "object": dict}.get(typ, object)
    )


# --- the CRD -------------------------------------------------------------------------------


def check_crd(crd: dict[str, Any]) -> list[str]:
    """Every way `crd` is not a CustomResourceDefinition the API server accepts."""
    errors: list[str] = []
    if crd.get("apiVersion") != "apiextensions.k8s.io/v1":
        errors.append("apiVersion: Unsupported value: must be apiextensions.k8s.io/v1")
    if crd.get("kind") != "CustomResourceDefinition":
        errors.append("kind: Unsupported value: must be CustomResourceDefinition")
    spec = crd.get("spec") or {}
    group = spec.get("group") or ""
    names = spec.get("names") or {}
    if not group:
        errors.append("spec.group: Required value")
    elif not _DNS1123_SUBDOMAIN.match(group) or "." not in group:
        errors.append(
            f"spec.group: Invalid value: {group!r}: should be a domain with at least one dot"
        )
    name = (crd.get("metadata") or {}).get("name")
    if name != f"{names.get('plural')}.{group}":
        errors.append(
            f'metadata.name: Invalid value: {name!r}: must be spec.names.plural+"."+spec.group'
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errors.append(
            f"spec.scope: Unsupported value: {spec.get('scope')!r}: "
            "supported values: Cluster, Namespaced"
        )
    errors.extend(_check_names(names))
    if spec.get("preserveUnknownFields"):
        errors.append("spec.preserveUnknownFields: Invalid value: true: cannot set to true")
    strategy = (spec.get("conversion") or {}).get("strategy", "None")
    if strategy not in ("None", "Webhook"):
        errors.append(f"spec.conversion.strategy: Unsupported value: {strategy!r}")

    versions = spec.get("versions") or []
    if not versions:
        errors.append("spec.versions: Required value: must have at least one version")
    version_names = [v.get("name") for v in versions]
    if len(set(version_names)) != len(version_names):
        errors.append("spec.versions: Invalid value: must contain unique version names")
    if sum(bool(v.get("storage")) for v in versions) != 1:
        errors.append(
            "spec.versions: Invalid value: must have exactly one version marked as storage version"
        )
    if versions and not any(v.get("served") for v in versions):
        errors.append("spec.versions: Invalid value: must have at least one served version")
    for i, version in enumerate(versions):
        errors.extend(_check_version(version, f"spec.versions[{i}]"))
    return errors


def _check_names(names: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    for key in ("plural", "singular", "kind", "listKind"):
        value = names.get(key)
        if not value:
            errors.append(f"spec.names.{key}: Required value")
        elif not _DNS1035.match(value.lower() if key in ("kind", "listKind") else value):
            errors.append(f"spec.names.{key}: Invalid value: {value!r}: must be a DNS-1035 label")
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        errors.append("spec.names.listKind: Invalid value: kind and listKind may not be the same")
    for key in ("shortNames", "categories"):
        for i, value in enumerate(names.get(key) or []):
            if not _DNS1035.match(value):
                errors.append(
                    f"spec.names.{key}[{i}]: Invalid value: {value!r}: must be a DNS-1035 label"
                )
    return errors


def _check_version(version: dict[str, Any], path: str) -> list[str]:
    errors: list[str] = []
    if not _DNS1035.match(version.get("name") or ""):
        errors.append(
            f"{path}.name: Invalid value: {version.get('name')!r}: must be a DNS-1035 label"
        )
    schema = (version.get("schema") or {}).get("openAPIV3Schema")
    schema_path = f"{path}.schema.openAPIV3Schema"
    if schema is None:
        if version.get("served"):
            errors.append(f"{schema_path}: Required value: because otherwise all fields are pruned")
        return errors
    subresources = version.get("subresources") or {}
    if "status" in subresources:
        for key in schema:
            if key not in _ALLOWED_AT_ROOT:
                errors.append(
                    f"{schema_path}.{key}: Forbidden: only {sorted(_ALLOWED_AT_ROOT)} are "
                    "allowed at the root of the schema if the status subresource is enabled"
                )
    if schema.get("nullable"):
        errors.append(f"{schema_path}.nullable: Forbidden: nullable cannot be true at the root")
    errors.extend(check_structural(schema, schema_path))

    scale = subresources.get("scale")
    if scale is not None:
        for key, prefix, want in (
            ("specReplicasPath", ".spec.", "integer"),
            ("statusReplicasPath", ".status.", "integer"),
        ):
            where = f"{path}.subresources.scale.{key}"
            value = scale.get(key)
            if not value:
                errors.append(f"{where}: Required value")
            elif not _simple_json_path(value):
                errors.append(
                    f"{where}: Invalid value: {value!r}: must be a simple json path starting with ."
                )
            elif not value.startswith(prefix):
                errors.append(
                    f"{where}: Invalid value: {value!r}: should be a json path under {prefix[:-1]}"
                )
            elif (_schema_at(schema, value) or {}).get("type") != want:
                errors.append(
                    f"{where}: Invalid value: {value!r}: "
                    f"must point to an {want} field of the schema"
                )
        selector = scale.get("labelSelectorPath")
        if selector and not (
            _simple_json_path(selector) and selector.startswith((".spec.", ".status."))
        ):
            errors.append(
                f"{path}.subresources.scale.labelSelectorPath: Invalid value: {selector!r}: "
                "should be a json path under either .spec or .status"
            )

    seen: set[str] = set()
    for i, column in enumerate(version.get("additionalPrinterColumns") or []):
        where = f"{path}.additionalPrinterColumns[{i}]"
        col_name = column.get("name")
        if not col_name:
            errors.append(f"{where}.name: Required value")
        elif col_name in seen:
            errors.append(f"{where}.name: Duplicate value: {col_name!r}")
        seen.add(col_name or "")
        if column.get("type") not in _PRINTER_TYPES:
            errors.append(
                f"{where}.type: Invalid value: {column.get('type')!r}: "
                f"must be one of {sorted(_PRINTER_TYPES)}"
            )
        if "format" in column and column["format"] not in _PRINTER_FORMATS:
            errors.append(f"{where}.format: Invalid value: {column['format']!r}")
        json_path = column.get("jsonPath")
        if not json_path:
            errors.append(f"{where}.jsonPath: Required value")
            continue
        problem = parse_json_path(json_path)
        if problem:
            errors.append(f"{where}.jsonPath: Invalid value: {json_path!r}: {problem}")
        elif not json_path.startswith(".metadata.") and _schema_at(schema, json_path) is None:
            errors.append(
                f"{where}.jsonPath: Invalid value: {json_path!r}: not a field of the schema"
            )
    return errors


def _simple_json_path(value: str) -> bool:
    return value.startswith(".") and all(value[1:].split(".")) if value != "." else True


# --- JSONPath (the kubectl subset printer columns use) ---------------------------------

_JP_TOKEN = re.compile(
    r"""\.\.?(?P<field>[A-Za-z0-9_$-]+|\*)
      | \[(?P<bracket>
            \*
          | -?[0-9]+
          | -?[0-9]*:-?[0-9]*(:-?[0-9]+)?
          | '[^']*'(,\s*'[^']*')*
          | "[^"]*"
          | \?\(\s*(?P<filter>[^)]*)\)
        )\]
    """,
    re.VERBOSE,
)
_JP_FILTER = re.compile(
    r"""^@(\.[A-Za-z0-9_-]+|\[[^\]]+\])+
         (\s*(==|!=|<=|>=|<|>|=~)\s*("[^"]*"|'[^']*'|-?[0-9.]+|true|false|@(\.[A-Za-z0-9_-]+)+))?$""",
    re.VERBOSE,
)


def parse_json_path(expr: str) -> str | None:
    """None if `expr` is a JSONPath the printer-column code can run, else the problem."""
    if not expr.startswith("."):
        return "must be a simple json path starting with ."
    pos = 0
    while pos < len(expr):
        match = _JP_TOKEN.match(expr, pos)
        if match is None:
            return f"unexpected {expr[pos:]!r} at position {pos}"
        filt = match.group("filter")
        if filt is not None and not _JP_FILTER.match(filt.strip()):
            return f"unparsable filter {filt!r}"
        pos = match.end()
    return None


def _schema_at(schema: dict[str, Any], json_path: str) -> dict[str, Any] | None:
    """The schema node a JSONPath selects (fields, [*], [n], filters), or None."""
    node: dict[str, Any] | None = schema
    for match in _JP_TOKEN.finditer(json_path):
        if node is None:
            return None
        field = match.group("field")
        if field is not None:
            node = (node.get("properties") or {}).get(field)
        else:
            items = node.get("items")
            node = items if isinstance(items, dict) else None
    return node
