"""kopf: a tiny operator of its own (not tend's) on a thread of its own, handling create,
update and delete of ManagedServices in one namespace, with kopf's default storages (the
last-handled-configuration annotation, progress in annotations, its finalizer)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import kopf
import pytest
from waiting import until

from .conftest import GROUP, PLURAL, VERSION, Cluster, managed_service

NS = "kopf"
PATH = f"/apis/{GROUP}/{VERSION}/namespaces/{NS}/{PLURAL}"
LAST_HANDLED = "kopf.zalando.org/last-handled-configuration"
FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"


class TinyOperator:
    """The handlers record what kopf hands them; `seen` is appended from kopf's thread."""

    def __init__(self, url: str) -> None:
        self.seen: list[tuple[str, str, Any]] = []
        self.registry = kopf.OperatorRegistry()
        self.stop_flag = threading.Event()
        self.ready_flag = threading.Event()
        self.error: BaseException | None = None
        resource = (GROUP, VERSION, PLURAL)

        @kopf.on.login(registry=self.registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return kopf.ConnectionInfo(server=url, insecure=True)

        @kopf.on.create(*resource, registry=self.registry)
        def created(name: str, spec: Any, **_: Any) -> None:
            self.seen.append(("create", name, spec["image"]))

        @kopf.on.update(*resource, registry=self.registry)
        def updated(name: str, diff: Any, **_: Any) -> None:
            self.seen.append(("update", name, [tuple(d) for d in diff]))

        @kopf.on.delete(*resource, registry=self.registry)
        def deleted(name: str, **_: Any) -> None:
            self.seen.append(("delete", name, None))

        self.thread = threading.Thread(target=self._main, name="tiny-kopf", daemon=True)

    def _main(self) -> None:
        settings = kopf.OperatorSettings()
        settings.scanning.disabled = True  # the CRD is there at start; no cluster-wide scans
        settings.posting.enabled = False
        try:
            asyncio.run(
                kopf.operator(
                    registry=self.registry,
                    settings=settings,
                    clusterwide=False,
                    namespaces=[NS],
                    standalone=True,
                    stop_flag=self.stop_flag,
                    ready_flag=self.ready_flag,
                )
            )
        except BaseException as exc:
            self.error = exc


@pytest.fixture
def operator(cluster: Cluster) -> Iterator[TinyOperator]:
    op = TinyOperator(cluster.url)
    op.thread.start()
    assert op.ready_flag.wait(20), f"kopf did not start: {op.error!r}"
    try:
        yield op
    finally:
        op.stop_flag.set()
        op.thread.join(30)
    assert not op.thread.is_alive()
    assert op.error is None, repr(op.error)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with session.get(url) as resp:
        return resp.status, await resp.json()


async def test_kopf_handles_create_update_delete(
    cluster: Cluster, operator: TinyOperator, session: aiohttp.ClientSession
) -> None:
    url = cluster.url + PATH
    async with session.post(url, json=managed_service(NS, "shop")) as resp:
        assert resp.status == 201, await resp.text()

    def seen(what: str) -> list[tuple[str, str, Any]]:
        return [s for s in operator.seen if s[0] == what]

    await until(cluster.store, lambda: seen("create"), "kopf's create handler")
    assert seen("create") == [("create", "shop", "shop/api:1.0")]

    async def handled() -> dict[str, Any] | None:
        status, obj = await _get(session, f"{url}/shop")
        annotations = obj["metadata"].get("annotations") or {}
        return obj if status == 200 and LAST_HANDLED in annotations else None

    obj = await until(cluster.store, handled, "the last-handled-configuration annotation")
    assert FINALIZER in obj["metadata"]["finalizers"]
    assert json.loads(obj["metadata"]["annotations"][LAST_HANDLED])["spec"]["image"] == (
        "shop/api:1.0"
    )

    patch = {"spec": {"image": "shop/api:2.0"}}
    headers = {"Content-Type": "application/merge-patch+json"}
    async with session.patch(f"{url}/shop", json=patch, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
    await until(cluster.store, lambda: seen("update"), "kopf's update handler")
    assert seen("update") == [
        ("update", "shop", [("change", ("spec", "image"), "shop/api:1.0", "shop/api:2.0")])
    ]

    async with session.delete(f"{url}/shop") as resp:
        assert resp.status == 200, await resp.text()
        # kopf's finalizer holds the object until the delete handler has run.
        assert (await resp.json())["metadata"]["deletionTimestamp"]
    await until(cluster.store, lambda: seen("delete"), "kopf's delete handler")

    async def gone() -> bool:
        return (await _get(session, f"{url}/shop"))[0] == 404

    await until(cluster.store, gone, "the object gone once kopf removed its finalizer")
    assert [s[0] for s in operator.seen] == ["create", "update", "delete"]
