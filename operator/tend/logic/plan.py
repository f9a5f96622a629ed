"""The writes that bring a ManagedService's owned objects to the desired state.

`plan` compares the objects the builders want with the live ones and returns the
actions to take; it writes nothing itself. A steady state plans nothing, so a resync
makes no request. Objects someone else owns are never touched: the plan reports the
conflict instead.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tend.api import ManagedService
from tend.logic.builders import (
    DESIRED_HASH_ANNOTATION,
    LAST_READY_GENERATION_ANNOTATION,
    LAST_READY_TEMPLATE_ANNOTATION,
)
from tend.logic.ownership import Ownership, ownership

Object = dict[str, Any]

# Every kind tend may own, in the order a plan creates them (workload last, so its
# Service and PodDisruptionBudget exist when the first pod starts).
OWNED_KINDS = ("PodDisruptionBudget", "Service", "Deployment", "Job")
WORKLOAD_KINDS = ("Deployment", "Job")
# The workload is written first: when the API server refuses it (the spec makes an object
# it will not take), nothing else was created that would have to be undone.
WRITE_ORDER = ("Deployment", "Job", "Service", "PodDisruptionBudget")

# Annotations tend writes on a workload besides its desired state.
RECORDED = (LAST_READY_TEMPLATE_ANNOTATION, LAST_READY_GENERATION_ANNOTATION)

# Fields of a live Service the API server allocates; a replace must carry them over.
_SERVICE_ALLOCATED = ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy")


class Verb(StrEnum):
    CREATE = "create"
    REPLACE = "replace"
    DELETE = "delete"


@dataclass(frozen=True)
class Action:
    verb: Verb
    kind: str
    name: str
    body: Object | None = None  # create/replace: the object to send
    resource_version: str | None = None  # replace/delete: precondition

    def describe(self) -> str:
        return f"{self.verb.value} {self.kind} {self.name}"


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    conflict: str | None = None  # an object we need is owned by someone else


def _hash(obj: Mapping[str, Any]) -> str | None:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(DESIRED_HASH_ANNOTATION)
    return str(value) if value is not None else None


def _containers(obj: Mapping[str, Any]) -> list[tuple[str, str]]:
    template = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [(c.get("name", ""), c.get("image", "")) for c in template.get("containers") or []]


def drifted(desired: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
    """Whether someone changed what we wrote: replicas or images edited by hand.

    The desired-hash annotation says what tend last wrote; this catches the common
    manual edits (`kubectl scale`, `kubectl set image`) without diffing server defaults.
    """
    if _hash(desired) != _hash(live):
        return True
    wanted = (desired.get("metadata") or {}).get("annotations") or {}
    present = (live.get("metadata") or {}).get("annotations") or {}
    if any(present.get(key) != wanted[key] for key in RECORDED if key in wanted):
        return True  # a last Ready template to record
    want, have = desired.get("spec") or {}, live.get("spec") or {}
    if "replicas" in want and want.get("replicas") != have.get("replicas"):
        return True
    return _containers(desired) != _containers(live)


def replacement(desired: Mapping[str, Any], live: Mapping[str, Any]) -> Object:
    """The PUT body: desired spec and our metadata over the live object's identity.

    Labels and annotations others added are kept; server-allocated Service fields
    are carried over so the replace is accepted.
    """
    body: Object = copy.deepcopy(dict(desired))
    live_meta = live.get("metadata") or {}
    meta = body["metadata"]
    meta["resourceVersion"] = live_meta.get("resourceVersion")
    meta["labels"] = {**(live_meta.get("labels") or {}), **(meta.get("labels") or {})}
    meta["annotations"] = {
        **(live_meta.get("annotations") or {}),
        **(meta.get("annotations") or {}),
    }
    if body.get("kind") == "Service":
        live_spec = live.get("spec") or {}
        for key in _SERVICE_ALLOCATED:
            if key in live_spec:
                body["spec"][key] = live_spec[key]
    if body.get("kind") == "Job":
        # Only an orphan of the template we want is replaced (adopted): its spec, selector
        # and template immutable and defaulted by the server, stays as it is; only metadata
        # (the ownerReference) is ours, as the ReplicaSet controller adopts by owner alone.
        body["spec"] = copy.deepcopy(live.get("spec") or {})
    return body


def plan(
    ms: ManagedService,
    desired: Sequence[Object],
    live: Mapping[str, Object | None],
    *,
    dependencies_ready: bool,
) -> Plan:
    """What to write so the live objects match `desired`.

    `live` maps each kind in OWNED_KINDS to the object of that kind named like the
    ManagedService, or None. The workload is neither created nor changed while a
    dependency is not ready (the running one keeps running); Services and
    PodDisruptionBudgets follow the spec at once.
    """
    result = Plan()
    wanted = {obj["kind"]: obj for obj in desired}
    for kind in WRITE_ORDER:
        current = live.get(kind)
        target = wanted.get(kind)
        if current is not None:
            owner = ownership(current, ms)
            if owner == Ownership.FOREIGN:
                if target is not None:
                    result.conflict = (
                        f"{kind} {ms.namespace}/{ms.name} exists and is not managed by this "
                        "ManagedService; tend will not touch it (delete or rename it)"
                    )
                continue
        if target is None:
            if current is not None:
                result.actions.append(_delete(current))
            continue
        gate = kind in WORKLOAD_KINDS and not dependencies_ready
        if current is None:
            if not gate:  # a workload waiting for its dependencies is not created yet
                result.actions.append(
                    Action(Verb.CREATE, kind, ms.name, body=copy.deepcopy(target))
                )
            continue
        adopt = ownership(current, ms) == Ownership.ORPHAN
        if not adopt and not drifted(target, current):
            continue
        if gate and _hash(target) != _hash(current):
            continue  # a new generation waits; drift of the old one is still fixed
        if kind == "Job" and (not adopt or _hash(target) != _hash(current)):
            # A Job's template is immutable: a changed Job is deleted, then created again.
            result.actions.append(_delete(current))
            continue
        result.actions.append(
            Action(
                Verb.REPLACE,
                kind,
                ms.name,
                body=replacement(target, current),
                resource_version=(current.get("metadata") or {}).get("resourceVersion"),
            )
        )
    if result.conflict:
        result.actions = []  # nothing partial: fix the conflict first
    return result


def _delete(live: Mapping[str, Any]) -> Action:
    metadata = live.get("metadata") or {}
    return Action(
        Verb.DELETE,
        str(live.get("kind")),
        str(metadata.get("name")),
        resource_version=metadata.get("resourceVersion"),
    )


class Refusal(StrEnum):
    """What an API error on one of the plan's writes means."""

    INVALID = "invalid"  # 400 BadRequest, 422 Invalid: the server refuses the object itself
    STALE = "stale"  # 404 NotFound, 409 AlreadyExists/Conflict: the cluster is not as cached


def refusal(status: int) -> Refusal | None:
    """How to treat an API error of `status` on a write; None: not the plan's to judge
    (throttling, server errors, timeouts), so the reconcile fails and is retried with back-off.

    An invalid object is the spec's fault, reported as InvalidSpec with the server's message;
    a stale cache is fixed by reading the object again and planning once more.
    """
    if status in (400, 422):
        return Refusal.INVALID
    if status in (404, 409):
        return Refusal.STALE
    return None


def refused_message(action: Action, namespace: str, server_message: str) -> str:
    """The InvalidSpec line for an object the API server refused, naming it and quoting why."""
    return f"{action.kind} {namespace}/{action.name} refused by the API server: {server_message}"
