"""OpenAPI v3 documents of the simulated API server: paths for every resource, schemas for
custom resources (so `kubectl explain` works), ObjectMeta for all."""

from __future__ import annotations

from typing import Any

from tend_sim.objects import deep_copy
from tend_sim.resources import ResourceType

OBJECT_META_SCHEMA: dict[str, Any] = {
    "description": "ObjectMeta is metadata that all persisted resources must have, which "
    "includes all objects users must create.",
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Name must be unique within a namespace."},
        "generateName": {
            "type": "string",
            "description": "An optional prefix, used by the "
            "server, to generate a unique name ONLY IF the Name field has not been "
            "provided.",
        },
        "namespace": {
            "type": "string",
            "description": "Namespace defines the space within which each name must be unique.",
        },
        "labels": {
            "type": "object",
            "additionalProperties": {"type": "string", "default": ""},
            "description": "Map of string keys and values that can be used to organize "
            "and categorize (scope and select) objects.",
        },
        "annotations": {
            "type": "object",
            "additionalProperties": {"type": "string", "default": ""},
            "description": "Annotations is an unstructured key value map stored with a resource.",
        },
        "uid": {
            "type": "string",
            "description": "UID is the unique in time and space value for this object.",
        },
        "resourceVersion": {
            "type": "string",
            "description": "An opaque value that represents the internal version of this object.",
        },
        "generation": {
            "type": "integer",
            "format": "int64",
            "description": "A sequence "
            "number representing a specific generation of the desired state.",
        },
        "creationTimestamp": {
            "type": "string",
            "format": "date-time",
            "description": "CreationTimestamp is a timestamp representing the server time "
            "when this object was created.",
        },
        "deletionTimestamp": {
            "type": "string",
            "format": "date-time",
            "description": "DeletionTimestamp is RFC 3339 date and time at which this "
            "resource will be deleted.",
        },
        "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
        "finalizers": {
            "type": "array",
            "items": {"type": "string", "default": ""},
            "description": "Must be empty before the object is deleted from the registry.",
        },
        "ownerReferences": {
            "type": "array",
            "items": {"type": "object"},
            "description": "List of objects depended by this object.",
        },
        "managedFields": {"type": "array", "items": {"type": "object"}},
    },
}


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
    schemas: dict[str, Any] = {
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": OBJECT_META_SCHEMA,
    }
    paths: dict[str, Any] = {}
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    for rt in sorted(rts, key=lambda r: r.plural):
        comp = _component_name(rt)
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
    """The Swagger 2.0 document: no paths, definitions for ObjectMeta and custom resources."""
    definitions: dict[str, Any] = {
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": OBJECT_META_SCHEMA
    }
    for rt in rts:
        if rt.custom and rt.schema is not None:
            definitions[_component_name(rt)] = _crd_component(rt, "#/definitions/")
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes (tend sim)", "version": "v1.37.0"},
        "paths": {},
        "definitions": definitions,
    }
