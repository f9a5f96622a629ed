"""NodePort allocation for Services, as kube-apiserver's service REST storage does it
(pkg/registry/core/service/storage, portallocator).

A NodePort or LoadBalancer Service (unless `allocateLoadBalancerNodePorts: false`) gets a
nodePort per port from 30000-32767: a requested one must be free and in range (422 "provided
port is already allocated" / "provided port is not in the valid range. The range of valid
ports is 30000-32767"), a missing one is picked at random, from the upper band first as the
allocator does since 1.27. An update keeps the nodePort of a port of the same name it leaves
out (patchAllocatedValues). The type's defaults come with it: externalTrafficPolicy Cluster,
allocateLoadBalancerNodePorts true.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from tend_sim import errors
from tend_sim.errors import Cause

Obj = dict[str, Any]

LOW, HIGH = 30000, 32767
# portallocator's static band: min(max(16, size/32), 128) ports at the bottom of the range
# are left for explicit requests; dynamic allocation tries above it first.
_STATIC = min(max(16, (HIGH - LOW + 1) // 32), 128)


def needs_node_ports(spec: Obj) -> bool:
    stype = spec.get("type", "ClusterIP")
    if stype == "NodePort":
        return True
    return stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False


def used_node_ports(services: Iterable[Obj], skip_uid: str | None) -> set[int]:
    used: set[int] = set()
    for svc in services:
        if skip_uid is not None and svc["metadata"].get("uid") == skip_uid:
            continue
        for port in (svc.get("spec") or {}).get("ports") or []:
            if isinstance(port, dict) and isinstance(port.get("nodePort"), int):
                used.add(port["nodePort"])
    return used


def _pick(used: set[int]) -> int | None:
    for low in (LOW + _STATIC, LOW):
        free = [p for p in range(low, HIGH + 1) if p not in used]
        if free:
            return random.choice(free)
    return None


def assign_node_ports(svc: Obj, old: Obj | None, used: set[int]) -> None:
    """Allocate nodePorts in place; 422 when one cannot be."""
    spec = svc.get("spec")
    if not isinstance(spec, dict):
        return
    if not needs_node_ports(spec):
        return
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    old_spec = (old or {}).get("spec") or {}
    if old is not None and needs_node_ports(old_spec):
        by_name = {p.get("name", ""): p.get("nodePort") for p in old_spec.get("ports") or []}
        taken = {p.get("nodePort") for p in ports}
        for port in ports:
            previous = by_name.get(port.get("name", ""))
            if not port.get("nodePort") and previous and previous not in taken:
                port["nodePort"] = previous
    mine = {p["nodePort"] for p in old_spec.get("ports") or [] if p.get("nodePort")}
    causes: list[Cause] = []
    claimed: set[int] = set()
    for i, port in enumerate(ports):
        wanted = port.get("nodePort")
        if not wanted:
            continue
        path = f"spec.ports[{i}].nodePort"
        if not isinstance(wanted, int) or not LOW <= wanted <= HIGH:
            causes.append(
                Cause(
                    errors.FIELD_VALUE_INVALID,
                    f"Invalid value: {wanted}: provided port is not in the valid range. "
                    f"The range of valid ports is {LOW}-{HIGH}",
                    path,
                )
            )
        elif (wanted in used and wanted not in mine) or wanted in claimed:
            causes.append(
                Cause(
                    errors.FIELD_VALUE_INVALID,
                    f"Invalid value: {wanted}: provided port is already allocated",
                    path,
                )
            )
        claimed.add(wanted)
    if causes:
        raise errors.invalid("Service", "", svc["metadata"].get("name", ""), causes)
    for port in ports:
        if not port.get("nodePort"):
            picked = _pick(used | claimed)
            if picked is None:
                raise errors.invalid(
                    "Service",
                    "",
                    svc["metadata"].get("name", ""),
                    [
                        Cause(
                            errors.FIELD_VALUE_INVALID,
                            "Invalid value: 0: range is full",
                            "spec.ports[0].nodePort",
                        )
                    ],
                )
            port["nodePort"] = picked
            claimed.add(picked)
