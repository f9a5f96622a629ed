"""The EndpointSlice controller: EndpointSlices (and the legacy Endpoints) per Service with a
selector, with ready/serving/terminating conditions."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable

from tend_sim.clock import Clock
from tend_sim.controllers.base import (
    FIELD_MANAGER,
    Controller,
    owner_reference,
    pod_ready,
    pod_terminal,
)
from tend_sim.errors import ApiError
from tend_sim.objects import Key, Obj
from tend_sim.resources import ResourceType
from tend_sim.selectors import labels_match, parse_label_selector
from tend_sim.store import Store

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
SLICE_MANAGER = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS_PER_SLICE = 100


class EndpointSliceController(Controller):
    name = "endpointslice-controller"
    component = "endpointslice-controller"

    def __init__(self, store: Store, clock: Clock) -> None:
        super().__init__(store, clock)
        self.services = store.resource("services")
        self.pods = store.resource("pods")
        self.slices = store.resource("endpointslices", "discovery.k8s.io")
        self.endpoints = store.resource("endpoints")
        self._pod_services: dict[Key, set[Key]] = {}  # pod -> services whose slices list it
        self._service_pods: dict[Key, set[Key]] = {}  # service -> pods its slices list

    def watches(self) -> list[tuple[ResourceType, Callable[[str, Obj], Iterable[Key]]]]:
        return [(self.services, self.self_keys), (self.pods, self._services_of_pod)]

    def _services_of_pod(self, _: str, pod: Obj) -> Iterable[Key]:
        """Services selecting the pod now, and those whose slices listed it before."""
        namespace = pod["metadata"].get("namespace", "")
        keys = set(self._pod_services.get((namespace, pod["metadata"]["name"]), ()))
        labels = pod["metadata"].get("labels") or {}
        entries = self.store.list_entries(self.services, namespace)[0]  # read-only, no copies
        for entry in entries:
            service = entry.obj
            selector = (service.get("spec") or {}).get("selector")
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                keys.add(self.key_of(service))
        return keys

    def _index_endpoints(self, key: Key, endpoints: Iterable[Obj]) -> None:
        for pod_key in self._service_pods.pop(key, set()):
            services = self._pod_services.get(pod_key)
            if services is not None:
                services.discard(key)
                if not services:
                    del self._pod_services[pod_key]
        listed = {(e["targetRef"]["namespace"], e["targetRef"]["name"]) for e in endpoints}
        for pod_key in listed:
            self._pod_services.setdefault(pod_key, set()).add(key)
        if listed:
            self._service_pods[key] = listed

    def reconcile(self, key: Key) -> None:
        service = self.get(self.services, *key)
        slices, _ = self.store.list(
            self.slices, key[0], label_selector=f"{SERVICE_NAME_LABEL}={key[1]}"
        )
        slices = [s for s in slices if (s["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL)]
        selector = (service or {}).get("spec", {}).get("selector")
        if service is None or not selector or service["metadata"].get("deletionTimestamp"):
            self._index_endpoints(key, [])
            for stale in slices:
                with contextlib.suppress(ApiError):
                    self.store.delete(self.slices, key[0], stale["metadata"]["name"])
            return
        query = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        pods, _ = self.store.list(self.pods, key[0], label_selector=query)
        reqs = parse_label_selector(query)
        groups: dict[str, tuple[list[Obj], list[Obj]]] = {}
        for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
            ip = (pod.get("status") or {}).get("podIP")
            if not ip or pod_terminal(pod) or not labels_match(reqs, pod):
                continue
            ports = self._ports(service, pod)
            group = groups.setdefault(json.dumps(ports, sort_keys=True), (ports, []))
            group[1].append(self._endpoint(service, pod, ip))
        wanted: list[tuple[list[Obj], list[Obj]]] = []
        for ports, endpoints in groups.values():
            for i in range(0, len(endpoints), MAX_ENDPOINTS_PER_SLICE):
                wanted.append((ports, endpoints[i : i + MAX_ENDPOINTS_PER_SLICE]))
        if not wanted:
            wanted.append(([], []))  # the placeholder slice of a service without endpoints
        for (ports, endpoints), existing in zip(
            wanted, slices + [None] * len(wanted), strict=False
        ):
            self._write_slice(service, existing, ports, endpoints)
        for stale in slices[len(wanted) :]:
            with contextlib.suppress(ApiError):
                self.store.delete(self.slices, key[0], stale["metadata"]["name"])
        self._index_endpoints(key, [e for _, eps in wanted for e in eps])
        self._write_endpoints(service, wanted)

    @staticmethod
    def _ports(service: Obj, pod: Obj) -> list[Obj]:
        container_ports = {
            p.get("name"): p.get("containerPort")
            for c in (pod.get("spec") or {}).get("containers") or []
            for p in c.get("ports") or []
            if p.get("name")
        }
        out = []
        for port in (service.get("spec") or {}).get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            if isinstance(target, str):
                if target not in container_ports:
                    continue
                target = container_ports[target]
            entry: Obj = {"port": int(target), "protocol": port.get("protocol", "TCP")}
            entry["name"] = port.get("name", "")
            if port.get("appProtocol"):
                entry["appProtocol"] = port["appProtocol"]
            out.append(entry)
        return out

    @staticmethod
    def _endpoint(service: Obj, pod: Obj, ip: str) -> Obj:
        ready = pod_ready(pod)
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
        return {
            "addresses": [ip],
            "conditions": {
                "ready": (publish or ready) and not terminating,
                "serving": publish or ready,
                "terminating": terminating,
            },
            "nodeName": pod["spec"].get("nodeName"),
            "targetRef": {
                "kind": "Pod",
                "namespace": pod["metadata"]["namespace"],
                "name": pod["metadata"]["name"],
                "uid": pod["metadata"]["uid"],
            },
        }

    def _write_slice(
        self, service: Obj, existing: Obj | None, ports: list[Obj], endpoints: list[Obj]
    ) -> None:
        name = service["metadata"]["name"]
        body: Obj = {
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": ports or None,
        }
        if existing is not None:
            current = {k: existing.get(k) for k in body}
            if current == body:
                return
            existing.update(body)
            existing["metadata"].setdefault("annotations", {})[
                "endpoints.kubernetes.io/last-change-trigger-time"
            ] = self.now()
            self.store.update(self.slices, existing, field_manager=FIELD_MANAGER)
            return
        labels = dict(service["metadata"].get("labels") or {})
        labels.update({SERVICE_NAME_LABEL: name, MANAGED_BY_LABEL: SLICE_MANAGER})
        slice_ = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "generateName": f"{name}-",
                "namespace": service["metadata"]["namespace"],
                "labels": labels,
                "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": self.now()},
                "ownerReferences": [owner_reference(service)],
            },
            **body,
        }
        self.store.create(self.slices, slice_, field_manager=FIELD_MANAGER)

    def _write_endpoints(self, service: Obj, groups: list[tuple[list[Obj], list[Obj]]]) -> None:
        subsets = []
        for ports, eps in groups:
            if not eps:
                continue
            ready = [self._address(e) for e in eps if e["conditions"]["ready"]]
            not_ready = [
                self._address(e)
                for e in eps
                if not e["conditions"]["ready"] and not e["conditions"]["terminating"]
            ]
            subset: Obj = {"ports": [{k: v for k, v in p.items() if v != ""} for p in ports]}
            if ready:
                subset["addresses"] = ready
            if not_ready:
                subset["notReadyAddresses"] = not_ready
            if ready or not_ready:
                subsets.append(subset)
        meta = service["metadata"]
        existing = self.get(self.endpoints, meta["namespace"], meta["name"])
        if existing is not None:
            if (existing.get("subsets") or []) == subsets:
                return
            existing["subsets"] = subsets
            self.store.update(self.endpoints, existing, field_manager=FIELD_MANAGER)
            return
        labels = dict(meta.get("labels") or {})
        labels["endpoints.kubernetes.io/managed-by"] = "endpoint-controller"
        self.store.create(
            self.endpoints,
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "labels": labels,
                },
                "subsets": subsets,
            },
            field_manager=FIELD_MANAGER,
        )

    @staticmethod
    def _address(endpoint: Obj) -> Obj:
        return {
            "ip": endpoint["addresses"][0],
            "nodeName": endpoint.get("nodeName"),
            "targetRef": endpoint["targetRef"],
        }
