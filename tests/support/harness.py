"""Helpers for running the real operator against the simulated cluster in tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from tend.api.config import OperatorConfig
from tend.runtime.handlers import RunOptions
from tend.runtime.kube import Kube
from tend_sim.embedded import EmbeddedOperator

T = TypeVar("T")
SPEED = 20.0


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, deadline: float = 15.0, what: str = ""
) -> T:
    """Poll `probe` until it returns something truthy, or fail after `deadline` seconds."""
    started = time.monotonic()
    last: Any = None
    while time.monotonic() - started < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {deadline}s: {what or probe} (last: {last!r})")


class Operator(EmbeddedOperator):
    """The real operator on its own thread, pointed at the simulated cluster."""

    def __init__(self, kubeconfig: Path, config: OperatorConfig | None = None) -> None:
        super().__init__(
            RunOptions(
                kubeconfig=kubeconfig,
                standalone=True,
                liveness_port=None,
                config=config or OperatorConfig(),
            )
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
    if not body:
        return False
    gen = body["metadata"].get("generation")
    return (
        condition(body, "Ready").get("status") == "True"
        and body.get("status", {}).get("observedGeneration") == gen
    )


async def wait_ready(
    kube: Kube, name: str, namespace: str = "default", deadline: float = 20
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        body = await kube.get("ManagedService", namespace, name)
        return body if is_ready(body) else None

    return await eventually(probe, deadline=deadline, what=f"{namespace}/{name} Ready")


async def events_for(kube: Kube, name: str, namespace: str = "default") -> list[dict[str, Any]]:
    events = await kube.list("Event", namespace)
    return [
        e
        for e in events
        if e["involvedObject"].get("kind") == "ManagedService"
        and e["involvedObject"]["name"] == name
    ]
