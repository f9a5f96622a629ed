"""The ReplicaSet controller: Pods with generateName and controller ownerReferences, the
deletion ranking of the real controller, status replicas/ready/available (minReadySeconds)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tend_sim.clock import Clock
from tend_sim.controllers.base import (
    Controller,
    condition,
    parse_time,
    pod_active,
    pod_rank,
    pod_ready,
)
from tend_sim.objects import Key, Obj
from tend_sim.resources import ResourceType
from tend_sim.store import Store


class ReplicaSetController(Controller):
    name = "replicaset-controller"
    component = "replicaset-controller"

    def __init__(self, store: Store, clock: Clock) -> None:
        super().__init__(store, clock)
        self.rs = store.resource("replicasets", "apps")
        self.pods = store.resource("pods")

    def watches(self) -> list[tuple[ResourceType, Callable[[str, Obj], Iterable[Key]]]]:
        return [(self.rs, self.self_keys), (self.pods, self.owner_keys("ReplicaSet"))]

    def reconcile(self, key: Key) -> None:
        rs = self.get(self.rs, *key)
        if rs is None:
            return
        spec = rs.get("spec") or {}
        pods = self.owned(self.pods, rs)
        active = [p for p in pods if pod_active(p)]
        if not rs["metadata"].get("deletionTimestamp"):
            want = int(spec.get("replicas", 1))
            if len(active) < want:
                for _ in range(want - len(active)):
                    active.append(self.create_pod(rs))
            elif len(active) > want:
                doomed = sorted(active, key=pod_rank)[: len(active) - want]
                for pod in doomed:
                    self.delete_pod(rs, pod)
                    active.remove(pod)
        self._update_status(rs, active)

    def _update_status(self, rs: Obj, active: list[Obj]) -> None:
        min_ready = float((rs.get("spec") or {}).get("minReadySeconds") or 0)
        template_labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get(
            "labels"
        ) or {}
        ready = [p for p in active if pod_ready(p)]
        available = 0
        now = self.clock.now()
        wait: float | None = None
        for pod in ready:
            since = parse_time((condition(pod, "Ready") or {}).get("lastTransitionTime"))
            ready_for = (now - since).total_seconds() if since else 0.0
            if ready_for >= min_ready:
                available += 1
            else:
                left = min_ready - ready_for
                wait = left if wait is None else min(wait, left)
        if wait is not None:
            self.enqueue_after(self.key_of(rs), wait + 1)
        fully_labeled = sum(
            1
            for p in active
            if all(
                (p["metadata"].get("labels") or {}).get(k) == v for k, v in template_labels.items()
            )
        )
        status: Obj = {
            "replicas": len(active),
            "fullyLabeledReplicas": fully_labeled,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        if ready:
            status["readyReplicas"] = len(ready)
        if available:
            status["availableReplicas"] = available
        old = rs.get("status") or {}
        if "conditions" in old:
            status["conditions"] = old["conditions"]
        self.write_status(self.rs, rs, status)
