"""Helpers for running the real operator against the simulated cluster in tests."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

from waiting import until

from tend.api.config import OperatorConfig
from tend.logic.readiness import readiness
from tend.runtime.handlers import RunOptions
from tend.runtime.kube import Kube, KubeError
from tend_sim import SimCluster
from tend_sim.embedded import EmbeddedOperator

SPEED = 20.0


class Operator(EmbeddedOperator):
    """The real operator on its own thread, pointed at the simulated cluster."""

    def __init__(
        self, kubeconfig: Path, cluster: SimCluster, config: OperatorConfig | None = None
    ) -> None:
        super().__init__(
            RunOptions(
                kubeconfig=kubeconfig,
                standalone=True,
                liveness_port=None,
                config=config or OperatorConfig(),
                clock=cluster.clock.now,  # the kubelet's time, which runs at the cluster's speed
                clock_speed=cluster.clock.speed,
            )
        )


async def edit(
    kube: Kube, name: str, change: Callable[[dict[str, Any]], None], kind: str = "ManagedService"
) -> None:
    """Change the object like `kubectl edit`: read, change, replace; again on 409 (the
    operator, or another controller, writes its status meanwhile)."""
    for _ in range(20):
        body = await kube.get(kind, "default", name)
        assert body is not None
        change(body)
        try:
            await kube.replace(body)
            return
        except KubeError as exc:
            if not exc.conflict:
                raise
    raise AssertionError(f"{name} kept changing under the edit")


async def create_secret(
    kube: Kube, name: str, data: dict[str, str], namespace: str = "tend-system"
) -> None:
    """A Secret (and its namespace, the operator's by default) holding `data` as given."""
    try:
        await kube.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )
    except KubeError as exc:
        if not exc.conflict:
            raise
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
    )


def managed_service(name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    spec.setdefault("image", "example/app:1")
    return {
        "apiVersion": "tend.dev/v1alpha1",
        "kind": "ManagedService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def condition(body: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for cond in ((body or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return {}


def is_ready(body: dict[str, Any] | None) -> bool:
    """Ready at its generation, by the operator's own verdict."""
    return readiness(body).is_ready


async def wait_ready(
    cluster: SimCluster, kube: Kube, name: str, namespace: str = "default", deadline: float = 20
) -> dict[str, Any]:
    """The ManagedService, read through the API, once it is Ready at its current generation."""
    body = await until(
        cluster,
        lambda: kube.get("ManagedService", namespace, name),
        f"ManagedService {namespace}/{name} Ready at its generation",
        satisfied=is_ready,
        deadline=deadline,
    )
    assert body is not None
    return body


async def events_for(kube: Kube, name: str, namespace: str = "default") -> list[dict[str, Any]]:
    """Every occurrence of an Event on the ManagedService: an Event whose repeats were
    aggregated into its `count` appears `count` times."""
    events = await kube.list("Event", namespace)
    return [
        e
        for e in events
        if e["involvedObject"].get("kind") == "ManagedService"
        and e["involvedObject"]["name"] == name
        for _ in range(int(e.get("count") or 1))
    ]
