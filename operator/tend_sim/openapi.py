"""OpenAPI documents of the simulated API server: paths for every resource, the schemas of the
built-in kinds (kube-apiserver's own, from builtin_schemas.py) and of custom resources (their
CRD's), so `kubectl explain` works for both. The documents are built once per set of kinds and
cached (the server caches their encoding too)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from tend_sim.builtin_schemas import (
    QUANTITY,
    definition_name,
    definitions,
    ref_name,
    schema_type,
)
from tend_sim.objects import deep_copy
from tend_sim.resources import ResourceType

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_SUBSCHEMAS = ("items", "additionalProperties", "not")
_SCHEMA_LISTS = ("oneOf", "anyOf", "allOf")


def _convert(schema: dict[str, Any], prefix: str, refs: set[str]) -> dict[str, Any]:
    """A JSON Schema of builtin_schemas.py as an OpenAPI schema: one `type`, refs under
    `prefix` (wrapped in allOf beside a description, as kube-openapi writes them)."""
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref":
            continue
        if key == "type":
            t = schema_type(schema)
            if t is not None:
                out["type"] = t
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: _convert(sub, prefix, refs) for name, sub in value.items()}
        elif key in _SUBSCHEMAS and isinstance(value, dict):
            out[key] = _convert(value, prefix, refs)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_convert(sub, prefix, refs) for sub in value]
        elif key == "enum" and isinstance(value, list):
            out[key] = [v for v in value if v is not None]
        else:
            out[key] = value
    name = ref_name(schema)
    if name is not None:
        refs.add(name)
        ref = {"$ref": prefix + name}
        if out:
            out["allOf"] = [ref]
        else:
            out = ref
    return out


@lru_cache(maxsize=64)
def builtin_components(roots: tuple[str, ...], prefix: str, v3: bool) -> dict[str, Any]:
    """The definitions `roots` need, converted, from kube-apiserver's own schemas."""
    defs = definitions()
    out: dict[str, Any] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in out or name not in defs:
            continue
        if name == QUANTITY:
            out[name] = (
                {"oneOf": [{"type": "string"}, {"type": "number"}]} if v3 else {"type": "string"}
            )
            continue
        if name == INT_OR_STRING:
            # v3 has no single type (kubectl explain then names it IntOrString).
            alternatives = {"oneOf": [{"type": "integer"}, {"type": "string"}]}
            out[name] = {"format": "int-or-string", **(alternatives if v3 else {"type": "string"})}
            continue
        refs: set[str] = set()
        converted = _convert(defs[name], prefix, refs)
        for meta_field in ("apiVersion", "kind"):
            converted.get("properties", {}).get(meta_field, {}).pop("enum", None)
        out[name] = converted
        todo.extend(refs - out.keys())
    return out


def _builtin_name(rt: ResourceType) -> str | None:
    return None if rt.custom else definition_name(rt.group, rt.version, rt.kind)


def _component_name(rt: ResourceType) -> str:
    if rt.custom:
        rev = ".".join(reversed(rt.group.split(".")))
        return f"{rev}.{rt.version}.{rt.kind}"
    prefix = {
        "": "io.k8s.api.core",
        "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
    }.get(rt.group)
    if prefix is None:
        prefix = "io.k8s.api." + rt.group.split(".")[0]
    return f"{prefix}.{rt.version}.{rt.kind}"


def _crd_component(rt: ResourceType, ref_prefix: str) -> dict[str, Any]:
    schema: dict[str, Any] = deep_copy(rt.schema or {"type": "object"})
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {
        "type": "string",
        "description": "APIVersion defines the versioned schema of this representation of an "
        "object.",
    }
    props["kind"] = {
        "type": "string",
        "description": "Kind is a string value representing the REST resource this object "
        "represents.",
    }
    props["metadata"] = {
        "allOf": [{"$ref": f"{ref_prefix}io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}],
        "description": "Standard object's metadata. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"
        "#metadata",
    }
    schema["x-kubernetes-group-version-kind"] = [
        {"group": rt.group, "kind": rt.kind, "version": rt.version}
    ]
    return schema


_WRITE_PARAMS = [
    {
        "name": "dryRun",
        "in": "query",
        "schema": {"type": "string", "uniqueItems": True},
        "description": "When present, indicates that modifications should not be persisted.",
    },
    {
        "name": "fieldManager",
        "in": "query",
        "schema": {"type": "string", "uniqueItems": True},
        "description": "fieldManager is a name associated with the actor or entity that is making "
        "these changes.",
    },
    {
        "name": "fieldValidation",
        "in": "query",
        "schema": {"type": "string", "uniqueItems": True},
        "description": "fieldValidation instructs the server on how to handle objects in the "
        "request containing unknown or duplicate fields: Ignore, Warn (default) or Strict.",
    },
]


def _op(
    action: str,
    gvk: dict[str, str],
    body: dict[str, Any],
    params: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if body:
        ok["content"] = body["content"]
    return {
        "operationId": f"{action}{gvk['kind']}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
        "parameters": list(params or []),
        "responses": {"200": ok},
    }


def openapi_v3(rts: list[ResourceType], group: str, version: str) -> dict[str, Any]:
    """An OpenAPI 3.0 document for one group/version: paths (with the query parameters kubectl
    probes for) and, for custom resources, the CRD's schema as a component."""
    roots = sorted({OBJECT_META, *(n for rt in rts if (n := _builtin_name(rt)) is not None)})
    schemas: dict[str, Any] = dict(builtin_components(tuple(roots), "#/components/schemas/", True))
    paths: dict[str, Any] = {}
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    for rt in sorted(rts, key=lambda r: r.plural):
        comp = _builtin_name(rt) or _component_name(rt)
        ref = {"$ref": f"#/components/schemas/{comp}"}
        if rt.custom and rt.schema is not None:
            schemas[comp] = _crd_component(rt, "#/components/schemas/")
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        ns = "/namespaces/{namespace}" if rt.namespaced else ""
        item = f"{prefix}{ns}/{rt.plural}/{{name}}"
        collection = f"{prefix}{ns}/{rt.plural}"
        body = {"content": {"application/json": {"schema": ref}}} if comp in schemas else {}

        paths[item] = {
            "get": _op("get", gvk, body),
            "put": {
                **_op("put", gvk, body, _WRITE_PARAMS),
                **({"requestBody": body} if body else {}),
            },
            "patch": _op(
                "patch",
                gvk,
                body,
                [*_WRITE_PARAMS, {"name": "force", "in": "query", "schema": {"type": "boolean"}}],
            ),
            "delete": _op("delete", gvk, body, _WRITE_PARAMS[:1]),
        }
        paths[collection] = {
            "get": _op("list", gvk, body),
            "post": {
                **_op("post", gvk, body, _WRITE_PARAMS),
                **({"requestBody": body} if body else {}),
            },
        }
        for sub in rt.subresources:
            if sub in ("status", "scale"):
                paths[f"{item}/{sub}"] = {
                    "get": _op("get", gvk, body),
                    "put": _op("put", gvk, body, _WRITE_PARAMS),
                    "patch": _op("patch", gvk, body, _WRITE_PARAMS),
                }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def openapi_v2(rts: list[ResourceType]) -> dict[str, Any]:
    """The Swagger 2.0 document: no paths; definitions of the built-in and custom kinds."""
    roots = sorted({OBJECT_META, *(n for rt in rts if (n := _builtin_name(rt)) is not None)})
    defs: dict[str, Any] = dict(builtin_components(tuple(roots), "#/definitions/", False))
    for rt in rts:
        if rt.custom and rt.schema is not None:
            defs[_component_name(rt)] = _crd_component(rt, "#/definitions/")
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes (tend sim)", "version": "v1.37.0"},
        "paths": {},
        "definitions": defs,
    }
