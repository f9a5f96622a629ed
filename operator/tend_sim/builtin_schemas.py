"""The schemas of the built-in kinds, from a maintained source: the JSON Schema definitions
that the `kubernetes-validate` package ships per Kubernetes version (generated from
kube-apiserver's own OpenAPI document). Loaded once, on first use (about 2 MB of JSON).

Two users: typed decoding (decoding.py: which fields are resource.Quantity, int32, int64) and
the OpenAPI documents of built-in kinds (openapi.py, for `kubectl explain`).
"""

from __future__ import annotations

import importlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

KUBE_SCHEMA_VERSION = "v1.37.0"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
REF_PREFIX = "#/$defs/"


@lru_cache(maxsize=1)
def definitions() -> dict[str, Any]:
    """Definition name (`io.k8s.api.apps.v1.Deployment`) -> JSON Schema (draft 2020-12 style:
    `type: [integer, "null"]`, `$ref: #/$defs/...`)."""
    # The package's own module, not its __init__ (which loads jsonschema for its validator).
    version_module = importlib.import_module("kubernetes_validate.version")
    root = Path(str(version_module.__file__)).parent / "kubernetes-json-schema"
    path = root / f"{KUBE_SCHEMA_VERSION}-local" / "_definitions.json"
    defs: dict[str, Any] = json.loads(path.read_text())["$defs"]
    return defs


@lru_cache(maxsize=1)
def _by_gvk() -> dict[tuple[str, str, str], str]:
    out: dict[tuple[str, str, str], str] = {}
    for name, schema in definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            out.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    return out


def definition_name(group: str, version: str, kind: str) -> str | None:
    """The definition of a built-in kind (None if kube-apiserver has no such kind)."""
    return _by_gvk().get((group, version, kind))


def ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref[len(REF_PREFIX) :] if isinstance(ref, str) else None


def schema_type(schema: dict[str, Any]) -> str | None:
    """The JSON type without the generator's `null` alternative."""
    t = schema.get("type")
    if isinstance(t, list):
        rest = [x for x in t if x != "null"]
        return rest[0] if rest else None
    return t if isinstance(t, str) else None


_CORE_EVENT = ("", "v1", "Event")


def stored_definition(rt: Any) -> str | None:
    """The definition of a built-in resource's objects as the store keeps them: Events of
    both groups in core v1's shape, HorizontalPodAutoscalers in autoscaling/v2's."""
    if rt.kind == "HorizontalPodAutoscaler":
        return definition_name("autoscaling", "v2", "HorizontalPodAutoscaler")
    return applied_definition(rt)


def applied_definition(rt: Any) -> str | None:
    """The definition a request's object is merged in (server-side apply): its own version's,
    but Events of both groups in core v1's shape, which is how they are stored and served."""
    if rt.kind == "Event":
        return definition_name(*_CORE_EVENT)
    return definition_name(rt.group, rt.version, rt.kind)
