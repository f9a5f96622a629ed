"""The real operator (kopf runtime, tend handlers) against the simulated cluster, over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tend.config import OperatorConfig
from tend.controller import Controller
from tend.crd import build_crd
from tend.handlers import RunOptions, run
from tend.kube import Kube
from tend.sim import SimCluster

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


@dataclass
class Operator:
    """One running operator; `restart` kills it and starts a fresh one (new caches)."""

    kubeconfig: Path
    config: OperatorConfig = field(default_factory=OperatorConfig)
    task: asyncio.Task[None] | None = None
    stop_flag: asyncio.Event = field(default_factory=asyncio.Event)
    controller: Controller | None = None

    async def start(self) -> None:
        self.stop_flag = asyncio.Event()
        ready = asyncio.Event()
        got: asyncio.Future[Controller] = asyncio.get_running_loop().create_future()
        options = RunOptions(
            kubeconfig=self.kubeconfig, standalone=True, liveness_port=None, config=self.config
        )
        self.task = asyncio.create_task(
            run(options, stop_flag=self.stop_flag, ready_flag=ready, controller_ready=got)
        )
        self.controller = await asyncio.wait_for(got, timeout=10)
        await asyncio.wait_for(ready.wait(), timeout=10)

    async def stop(self) -> None:
        if self.task is None:
            return
        self.stop_flag.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, timeout=15)
        self.task = None

    async def kill(self) -> None:
        """Like SIGKILL: cancel at once, no graceful cleanup of in-flight work."""
        if self.task is None:
            return
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        self.task = None

    async def idle(self) -> None:
        """Until the work queue is empty and nothing is being reconciled."""
        assert self.controller is not None
        await asyncio.wait_for(self.controller.queue.wait_idle(), timeout=15)


@pytest.fixture
async def cluster() -> AsyncIterator[SimCluster]:
    async with SimCluster(speed=SPEED) as sim:
        sim.register_crd(build_crd())
        yield sim


@pytest.fixture
def kubeconfig(cluster: SimCluster, tmp_path: Path) -> Path:
    return cluster.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
async def kube(kubeconfig: Path) -> AsyncIterator[Kube]:
    client = await Kube.connect(kubeconfig)
    yield client
    await client.close()


@pytest.fixture
async def operator(kubeconfig: Path) -> AsyncIterator[Operator]:
    op = Operator(kubeconfig)
    await op.start()
    yield op
    await op.stop()


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
