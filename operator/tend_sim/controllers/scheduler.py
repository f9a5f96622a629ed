"""The scheduler: binds every pod without a node to the simulated node (PodScheduled,
`Scheduled` Event)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tend_sim.clock import Clock
from tend_sim.controllers.base import (
    Controller,
    condition,
)
from tend_sim.kubelet import NODE_NAME
from tend_sim.objects import Key, Obj, deep_copy
from tend_sim.resources import ResourceType
from tend_sim.store import Store


class Scheduler(Controller):
    """Binds pods to the one simulated node."""

    name = "scheduler"
    component = "default-scheduler"

    def __init__(self, store: Store, clock: Clock, node_name: str = NODE_NAME) -> None:
        super().__init__(store, clock)
        self.node_name = node_name
        self.pods = store.resource("pods")

    def watches(self) -> list[tuple[ResourceType, Callable[[str, Obj], Iterable[Key]]]]:
        def unscheduled(type_: str, pod: Obj) -> Iterable[Key]:
            if type_ != "DELETED" and condition(pod, "PodScheduled") is None:
                yield self.key_of(pod)

        return [(self.pods, unscheduled)]

    def reconcile(self, key: Key) -> None:
        pod = self.get(self.pods, *key)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        if condition(pod, "PodScheduled") is not None:
            return
        if not pod["spec"].get("nodeName"):
            pod["spec"]["nodeName"] = self.node_name
            pod = self.store.update(self.pods, pod, field_manager="kube-scheduler")
        status = deep_copy(pod.get("status") or {})
        status.setdefault("phase", "Pending")
        status["conditions"] = [
            *(status.get("conditions") or []),
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": self.now(),
            },
        ]
        self.write_status(self.pods, pod, status)
        message = f"Successfully assigned {key[0]}/{key[1]} to {pod['spec']['nodeName']}"
        self.recorder.record(pod, "Normal", "Scheduled", message)
