"""JSON-like objects as the simulator keeps them: copying, dotted paths, well-known names."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace or "", name)
GR = tuple[str, str]  # (group, plural)

CRD_GR: GR = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACE_GR: GR = ("", "namespaces")
CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


def deep_copy(value: Any) -> Any:
    """Copy of a JSON-like value (dicts, lists, scalars); much faster than copy.deepcopy."""
    t = type(value)
    if t is dict:
        return {k: deep_copy(v) for k, v in value.items()}
    if t is list:
        return [deep_copy(v) for v in value]
    return value


def get_path(obj: Any, dotted: str) -> Any:
    cur = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def set_path(obj: Obj, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    cur = obj
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[part] = nxt
        cur = nxt
    cur[parts[-1]] = value
