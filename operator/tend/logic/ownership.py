"""Whose object a live object is, and which ManagedService it belongs to.

tend never touches what it does not own. Ownership is decided the way the ReplicaSet
controller decides adoption: the controller ownerReference names this ManagedService
(kind, group, name and uid), or, with no controller reference at all, the object carries
tend's `managed-by` and `instance` labels and is adopted. Anything else is foreign.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from tend.api import API_VERSION, KIND, ManagedService
from tend.logic.builders import MANAGED_BY

Key = tuple[str, str]  # (namespace, name) of a ManagedService

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
INSTANCE_LABEL = "app.kubernetes.io/instance"


class Ownership(StrEnum):
    OURS = "ours"
    ORPHAN = "orphan"  # carries our labels but no controller: adopt it
    FOREIGN = "foreign"


def ownership(live: Mapping[str, Any], ms: ManagedService) -> Ownership:
    """Whose object this is, the way ReplicaSet adoption decides it."""
    metadata = live.get("metadata") or {}
    controller = next(
        (ref for ref in metadata.get("ownerReferences") or [] if ref.get("controller")), None
    )
    if controller is not None:
        same_owner = (
            controller.get("kind") == KIND
            and str(controller.get("apiVersion", "")).split("/")[0] == API_VERSION.split("/")[0]
            and controller.get("name") == ms.name
            and controller.get("uid") == ms.metadata.uid
        )
        return Ownership.OURS if same_owner else Ownership.FOREIGN
    labels = metadata.get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(INSTANCE_LABEL) == ms.name:
        return Ownership.ORPHAN
    return Ownership.FOREIGN


def owned_by(live: Mapping[str, Any], ms: ManagedService) -> bool:
    """Whether `ms` is the controller of `live` (the uid matches, not just the name)."""
    refs = (live.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("controller") and r.get("uid") == ms.metadata.uid for r in refs)


def owner_key(body: Mapping[str, Any]) -> Key | None:
    """The ManagedService an owned object belongs to: its controller reference, or for an
    orphan that carries tend's labels, its instance label; None for anything else."""
    meta = body.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == KIND:
            return (namespace, ref.get("name"))
    labels = meta.get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(INSTANCE_LABEL):
        return (namespace, labels[INSTANCE_LABEL])
    return None
