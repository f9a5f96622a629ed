"""The ManagedService CustomResourceDefinition, generated from the pydantic models.

`build_crd()` turns `ManagedServiceSpec`/`ManagedServiceStatus` JSON Schema into a
structural OpenAPI v3 schema the API server accepts: `$ref`s inlined, `Optional[X]`
rendered as `X`, every node typed and described, pydantic's `title` and
`additionalProperties: false` dropped (unknown fields are pruned, or rejected under
strict field validation), defaults taken from the models (including default
factories), and the models' CEL rules carried over. `render_crd_yaml()` is what
`tend crd` prints and what is checked in under `crds/`.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from tend.api import (
    GROUP,
    KIND,
    PLURAL,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
    ManagedService,
    ManagedServiceSpec,
    ManagedServiceStatus,
)

CRD_NAME = f"{PLURAL}.{GROUP}"
CRD_FILE = f"crds/{CRD_NAME}.yaml"

PRINTER_COLUMNS: list[dict[str, Any]] = [
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        "description": "Whether the service is Ready.",
    },
    {
        "name": "Phase",
        "type": "string",
        "jsonPath": ".status.phase",
        "description": "Pending, Blocked, Progressing, Running, Degraded, Failed or Succeeded.",
    },
    {
        "name": "Restarts",
        "type": "integer",
        "jsonPath": ".status.restarts.total",
        "description": "Restarts counted since creation.",
    },
    {
        "name": "Blocked-By",
        "type": "string",
        "jsonPath": ".status.blockedBy[*].name",
        "description": "Dependencies that are not satisfied.",
    },
    {
        "name": "Age",
        "type": "date",
        "jsonPath": ".metadata.creationTimestamp",
        "description": "Time since creation.",
    },
    {
        "name": "Message",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].message',
        "description": "Why the service is or is not Ready.",
        "priority": 1,  # `kubectl get -o wide` only
    },
]

# kopf keeps handler progress in status.kopf (SmartProgressStorage); keep it unpruned.
KOPF_STATUS_FIELD: dict[str, Any] = {
    "type": "object",
    "x-kubernetes-preserve-unknown-fields": True,
    "description": "Handler progress kept by the kopf framework (internal).",
}

# Keywords passed through as they are; anything else pydantic emits is an error, so a
# new kind of field cannot slip into the CRD unnoticed.
_PASSTHROUGH = {
    "type",
    "format",
    "description",
    "default",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "required",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
}
_DROPPED = {"title", "$defs"}


class _SchemaGenerator(GenerateJsonSchema):
    """pydantic's generator, but default factories are rendered as defaults too."""

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            value = factory()  # type: ignore[call-arg]
            if isinstance(value, BaseModel):
                return value.model_dump(by_alias=True, exclude_none=True, mode="json")
            return value
        return super().get_default_value(schema)

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if self.get_default_value(schema) is None:  # Optional[X] = None: no default
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


def _is_null(node: dict[str, Any]) -> bool:
    return node.get("type") == "null"


def _structural(node: dict[str, Any], defs: dict[str, Any], where: str) -> dict[str, Any]:
    """One JSON Schema node from pydantic as a structural schema node."""
    node = dict(node)
    if "$ref" in node:
        target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
        # The referencing node's own keys (field description, default) win.
        return {**_structural(target, defs, where), **_structural(node, defs, where)}
    if "anyOf" in node and not node.get("x-kubernetes-int-or-string"):
        options = [o for o in node.pop("anyOf") if not _is_null(o)]
        if len(options) != 1:
            raise ValueError(f"{where}: unions other than Optional[X] have no structural form")
        return {**_structural(options[0], defs, where), **_structural(node, defs, where)}
    if "const" in node:
        node.setdefault("enum", [node.pop("const")])
    if "exclusiveMinimum" in node:  # draft 2020 number -> OpenAPI v3.0 boolean
        node["minimum"], node["exclusiveMinimum"] = node["exclusiveMinimum"], True
    if "exclusiveMaximum" in node:
        node["maximum"], node["exclusiveMaximum"] = node["exclusiveMaximum"], True

    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "properties":
            out[key] = {
                name: _structural(sub, defs, f"{where}.{name}") for name, sub in value.items()
            }
        elif key == "items":
            out[key] = _structural(value, defs, f"{where}[*]")
        elif key == "additionalProperties":
            if isinstance(value, dict):  # dict[str, X]; `false` (extra=forbid) is dropped
                out[key] = _structural(value, defs, f"{where}.*")
        elif key == "anyOf":  # the int-or-string shape: [{type: integer}, {type: string}]
            out[key] = [{"type": o["type"]} for o in value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") or key in _PASSTHROUGH:
            out[key] = copy.deepcopy(value)
        else:
            raise ValueError(f"{where}: JSON Schema keyword {key!r} has no CRD rendering")
    if out.get("type") == "object" and "properties" in out and "additionalProperties" in out:
        del out["additionalProperties"]
    if not out.get("required"):
        out.pop("required", None)
    return out


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural schema of one model (validation mode, camelCase)."""
    raw = model.model_json_schema(
        by_alias=True, mode="validation", schema_generator=_SchemaGenerator
    )
    return _structural(raw, raw.get("$defs", {}), model.__name__)


def _rules(model: type[BaseModel]) -> list[dict[str, str]]:
    extra = model.model_config.get("json_schema_extra")
    if isinstance(extra, dict):
        rules = extra.get("x-kubernetes-validations", [])
        assert isinstance(rules, list)
        return [dict(rule) for rule in rules]  # type: ignore[arg-type]
    return []


def openapi_schema() -> dict[str, Any]:
    """The version's openAPIV3Schema: the whole ManagedService object."""
    status = model_schema(ManagedServiceStatus)
    status["properties"]["kopf"] = KOPF_STATUS_FIELD
    schema: dict[str, Any] = {
        "type": "object",
        "description": (ManagedService.__doc__ or "").strip(),
        "required": ["spec"],
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": (
                    "APIVersion defines the versioned schema of this representation of an "
                    "object: tend.dev/v1alpha1."
                ),
            },
            "kind": {
                "type": "string",
                "description": "Kind is the REST resource this object represents: ManagedService.",
            },
            "metadata": {"type": "object"},
            "spec": model_schema(ManagedServiceSpec),
            "status": status,
        },
    }
    rules = _rules(ManagedService)
    if rules:
        schema["x-kubernetes-validations"] = rules
    return schema


def build_crd() -> dict[str, Any]:
    """The CustomResourceDefinition (apiextensions.k8s.io/v1) for ManagedService."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "labels": {"app.kubernetes.io/name": "tend", "app.kubernetes.io/part-of": "tend"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": ["all"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.workload.replicas",
                        },
                    },
                    "additionalPrinterColumns": [dict(c) for c in PRINTER_COLUMNS],
                    "schema": {"openAPIV3Schema": openapi_schema()},
                }
            ],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Block style, no anchors; long strings (patterns, rules) stay on one line."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def render_crd_yaml() -> str:
    """The CRD as YAML (what `tend crd` prints and crds/ holds); deterministic."""
    header = "# Generated by `tend crd` from the models in tend.api; do not edit.\n"
    body = yaml.dump(build_crd(), Dumper=_Dumper, sort_keys=True, width=1 << 16)
    return header + "---\n" + body
