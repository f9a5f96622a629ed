"""The scheduler: binds each pod without a node to a node its filters accept (scheduling.py),
with PodScheduled=True and a `Scheduled` Event; a pod no node accepts stays Pending with
PodScheduled=False, reason Unschedulable, the FitError message, and a `FailedScheduling`
Event. Unschedulable pods are tried again when a node changes or a pod leaves a node (the
scheduling queue's cluster events), not on a timer; a retry that fails the same way records no
new Event (the real scheduler records one per attempt, with back-off)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from tend_sim.clock import Clock
from tend_sim.controllers.base import (
    Controller,
    condition,
    pod_terminal,
)
from tend_sim.kubelet import NODE_NAME
from tend_sim.objects import Key, Obj, deep_copy
from tend_sim.resources import ResourceType
from tend_sim.scheduling import Usage, filter_node, fit_error, pod_requests, score
from tend_sim.store import Store


class Scheduler(Controller):
    """default-scheduler for the simulated nodes."""

    name = "scheduler"
    component = "default-scheduler"

    def __init__(self, store: Store, clock: Clock, node_name: str = NODE_NAME) -> None:
        super().__init__(store, clock)
        self.node_name = node_name
        self.pods = store.resource("pods")
        self.nodes = store.resource("nodes")
        self.pending: set[Key] = set()
        # The scheduler cache: uid -> (node, requests) of every pod bound and not finished.
        self.bound: dict[str, tuple[str, dict[str, Decimal]]] = {}

    def _account(self, type_: str, pod: Obj) -> bool:
        """Keep the cache in step with one pod event; True when it freed room on a node."""
        uid = pod["metadata"].get("uid", "")
        node = (pod.get("spec") or {}).get("nodeName")
        if type_ == "DELETED" or pod_terminal(pod) or not node:
            return self.bound.pop(uid, None) is not None
        if uid not in self.bound:
            self.bound[uid] = (node, pod_requests(pod.get("spec") or {}))
        return False

    def usage(self) -> dict[str, Usage]:
        out: dict[str, Usage] = {}
        for node, requests in self.bound.values():
            out.setdefault(node, Usage()).add(requests)
        return out

    def watches(self) -> list[tuple[ResourceType, Callable[[str, Obj], Iterable[Key]]]]:
        def pods(type_: str, pod: Obj) -> Iterable[Key]:
            key = self.key_of(pod)
            freed = self._account(type_, pod)
            if type_ == "DELETED" or pod_terminal(pod):
                self.pending.discard(key)
                if freed:
                    yield from list(self.pending)
            elif not (pod.get("spec") or {}).get("nodeName") or (
                condition(pod, "PodScheduled") is None
            ):
                yield key

        def nodes(_: str, __: Obj) -> Iterable[Key]:
            yield from list(self.pending)

        return [(self.pods, pods), (self.nodes, nodes)]

    def reconcile(self, key: Key) -> None:
        pod = self.get(self.pods, *key)
        if pod is None or pod["metadata"].get("deletionTimestamp") or pod_terminal(pod):
            self.pending.discard(key)
            return
        scheduled = condition(pod, "PodScheduled")
        if pod["spec"].get("nodeName") and scheduled is not None:
            self.pending.discard(key)
            return
        node_name = pod["spec"].get("nodeName") or self._place(key, pod)
        if node_name is None:
            return
        self.pending.discard(key)
        if not pod["spec"].get("nodeName"):
            pod["spec"]["nodeName"] = node_name
            pod = self.store.update(self.pods, pod, field_manager="kube-scheduler")
        # Assume it at once (the scheduler cache's AssumePod): the next pod in the queue may
        # be placed before this binding's watch event arrives.
        self.bound[pod["metadata"]["uid"]] = (node_name, pod_requests(pod["spec"]))
        self._set_condition(pod, {"status": "True"})
        message = f"Successfully assigned {key[0]}/{key[1]} to {node_name}"
        self.recorder.record(pod, "Normal", "Scheduled", message)

    def _place(self, key: Key, pod: Obj) -> str | None:
        """The node for `pod`, or None after reporting why there is none."""
        nodes, _ = self.store.list(self.nodes)
        usage = self.usage()
        reasons: dict[str, list[str]] = {}
        feasible: list[tuple[Decimal, str]] = []
        for node in nodes:
            name: str = node["metadata"]["name"]
            used = usage.get(name, Usage())
            refused = filter_node(pod, node, used)
            if refused:
                reasons[name] = refused
            else:
                feasible.append((-score(pod, node, used), name))
        if feasible:
            return min(feasible)[1]
        self.pending.add(key)
        message = fit_error(len(nodes), reasons)
        previous = condition(pod, "PodScheduled")
        if previous and previous.get("status") == "False" and previous.get("message") == message:
            return None
        self._set_condition(pod, {"status": "False", "reason": "Unschedulable", "message": message})
        self.recorder.record(pod, "Warning", "FailedScheduling", message)
        return None

    def _set_condition(self, pod: Obj, values: Obj) -> None:
        status = deep_copy(pod.get("status") or {})
        status.setdefault("phase", "Pending")
        others = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        status["conditions"] = [
            *others,
            {
                "type": "PodScheduled",
                "lastProbeTime": None,
                "lastTransitionTime": self.now(),
                **values,
            },
        ]
        self.write_status(self.pods, pod, status)
