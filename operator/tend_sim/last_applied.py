"""kubectl's client-side apply annotation under server-side apply.

`kubectl apply --server-side` on an object that client-side apply wrote may take, without
conflicts, the fields its `kubectl.kubernetes.io/last-applied-configuration` annotation still
describes (lastappliedmanager.go), and an apply by `kubectl` keeps an existing annotation
current (lastappliedupdater.go). Both only for the manager named `kubectl`, as upstream.
"""

from __future__ import annotations

import json
from typing import Any

from tend_sim.field_managers import Key
from tend_sim.field_types import Shape
from tend_sim.fieldsets import Tree, difference
from tend_sim.typed import SchemaError, compare, field_set

KUBECTL = "kubectl"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _last_applied(live: Any) -> str | None:
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(LAST_APPLIED)
    return value if isinstance(value, str) and value else None


def not_allowed_by_last_applied(
    shape: Shape, live: Any, api_version: str, conflicts: dict[Key, Tree]
) -> dict[Key, Tree]:
    """lastAppliedManager: `kubectl apply --server-side` after client-side applies may take the
    fields its last-applied annotation still describes (unchanged in the live object)."""
    raw = _last_applied(live)
    if raw is None:
        return conflicts
    try:
        last = json.loads(raw)
        if not isinstance(last, dict) or last.get("apiVersion") != api_version:
            return conflicts
        allowed = field_set(last, shape)
        modified_added_removed = compare(last, live, shape)
    except (ValueError, SchemaError):
        return conflicts
    for part in modified_added_removed:
        allowed = difference(allowed, part)
    left = {k: difference(t, allowed) for k, t in conflicts.items()}
    return {k: t for k, t in left.items() if t}


def sync_last_applied(manager: str, live: Any, config: dict[str, Any], obj: dict[str, Any]) -> None:
    """lastAppliedUpdater: an apply by kubectl keeps an existing annotation up to date."""
    if manager != KUBECTL or _last_applied(live) is None:
        return
    applied = json.loads(json.dumps(config))
    annotations = (applied.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
    value = json.dumps(applied, sort_keys=True, separators=(",", ":"))
    meta = obj.setdefault("metadata", {})
    meta["annotations"] = {**(meta.get("annotations") or {}), LAST_APPLIED: value}
