"""tend's own pod watch (`tend.runtime.reflector`) against the simulated API server, over
HTTP, through the faults a real one has: dropped watches, 410 Expired, a brown-out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tend.logic.ownership import INSTANCE_LABEL, MANAGED_BY_LABEL
from tend.runtime.controller import MANAGED_BY_SELECTOR
from tend.runtime.informer import Informer
from tend.runtime.kube import Kube
from tend.runtime.reflector import Identity, Reflector
from tend_sim import SimCluster

DEADLINE = 20.0  # real seconds; the brown-out below backs off 0.5 + 1 + 2 s


class Sink:
    """The informer's pod cache, fed by the reflector; waits for what it has seen."""

    def __init__(self) -> None:
        self.informer = Informer()
        self.forgotten: set[tuple[str, str]] = set()
        self._changed = asyncio.Event()

    def observe(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        self.informer.update_pod(event_type, body)
        self._changed.set()

    def relisted(self, listed: set[Identity]) -> None:
        self.forgotten |= self.informer.retain_pods(listed)
        self._changed.set()

    def names(self) -> set[str]:
        return {
            view.name
            for owner in ("a", "b", "c", "d")
            for view in self.informer.pods_of(("default", owner))
        }

    async def until(self, check: Callable[[], bool], what: str) -> None:
        try:
            async with asyncio.timeout(DEADLINE):
                while not check():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            have = self.names()
            raise AssertionError(f"not seen within {DEADLINE}s: {what}; have {have}") from None


def pod(name: str, owner: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {MANAGED_BY_LABEL: "tend", INSTANCE_LABEL: owner},
        },
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
    }


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def reflector(kube: Kube, sink: Sink) -> Reflector:
    return Reflector(
        kube,
        "Pod",
        "default",
        observe=sink.observe,
        relisted=sink.relisted,
        label_selector=MANAGED_BY_SELECTOR,
    )


async def test_lists_then_watches_resumes_after_drops_and_relists_after_410(
    cluster: SimCluster, kube: Kube, sink: Sink, reflector: Reflector
) -> None:
    await kube.create(pod("a-1", "a"))
    await kube.create(pod("stray", "a") | {"metadata": {"name": "stray", "namespace": "default"}})
    version = await reflector.list()
    assert version and sink.names() == {"a-1"}, "the label selector keeps the stray pod out"
    watching = asyncio.create_task(reflector.run())
    try:
        await kube.create(pod("b-1", "b"))
        await sink.until(lambda: "b-1" in sink.names(), "a pod created after the LIST")

        # A dropped watch resumes from the last resourceVersion: no second LIST.
        cluster.faults.drop_watches()
        await kube.create(pod("c-1", "c"))
        await sink.until(lambda: "c-1" in sink.names(), "a pod created after a drop")
        assert reflector.lists == 1

        await kube.delete("Pod", "default", "c-1")
        await sink.until(lambda: "c-1" not in sink.names(), "a deleted pod forgotten")
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)

    # While nobody watches, a pod goes away; the next watch is answered 410 Expired, so the
    # reflector lists again and forgets the pod no LIST has any more.
    await kube.delete("Pod", "default", "a-1")
    cluster.faults.force_gone_next_watch("pods")
    watching = asyncio.create_task(reflector.run())
    try:
        await sink.until(lambda: "a-1" not in sink.names(), "a pod deleted while unwatched")
        assert reflector.lists == 2
        assert ("default", "a") in sink.forgotten
        assert sink.names() == {"b-1"}
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)


async def test_a_brown_out_costs_retries_not_the_watch(
    cluster: SimCluster, kube: Kube, sink: Sink, reflector: Reflector
) -> None:
    await reflector.list()
    watching = asyncio.create_task(reflector.run())
    try:
        # Every watch and LIST of pods answers 503 three times in a row, then recovers.
        for verb in ("watch", "list"):
            cluster.faults.fail(verb=verb, resource="pods", code=503, count=3)
        cluster.faults.drop_watches()
        await kube.create(pod("d-1", "d"))
        await sink.until(lambda: "d-1" in sink.names(), "a pod created during the brown-out")
        assert not watching.done(), "the watch loop must outlive the errors"
        assert cluster.faults.injected[("watch", "pods", 503)] == 3
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
