"""Which watch events make the controller reconcile: only those that can change something."""

from __future__ import annotations

from typing import Any, cast

from tend.api.config import OperatorConfig
from tend.runtime.controller import Controller
from tend.runtime.kube import Kube


def controller() -> Controller:
    # Observing touches only the caches and the queue; no API call is made.
    return Controller(cast(Kube, None), OperatorConfig())


def deployment(rv: int, *, ready: int = 0, image: str = "app:1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "api",
            "namespace": "default",
            "uid": "d-1",
            "resourceVersion": str(rv),
            "generation": 1,
            "labels": {"app.kubernetes.io/managed-by": "tend", "app.kubernetes.io/instance": "api"},
            "ownerReferences": [
                {"kind": "ManagedService", "name": "api", "uid": "ms-1", "controller": True}
            ],
        },
        "spec": {"template": {"spec": {"containers": [{"name": "main", "image": image}]}}},
        "status": {"readyReplicas": ready},
    }


def service(rv: int, *, load_balancer: dict[str, Any] | None = None) -> dict[str, Any]:
    body = deployment(rv)
    body.update(kind="Service", apiVersion="v1", spec={"ports": [{"port": 80}]})
    body["status"] = {"loadBalancer": load_balancer or {}}
    return body


async def drain(c: Controller) -> list[tuple[str, str]]:
    """What the workers would be handed now, in order."""
    keys = []
    while len(c.queue):
        key = await c.queue.get()
        c.queue.done(key)
        keys.append(key)
    return keys


async def test_a_new_owned_object_queues_its_owner() -> None:
    c = controller()
    c.observe_owned("ADDED", deployment(1))
    assert await drain(c) == [("default", "api")]


async def test_workload_status_changes_queue_the_owner() -> None:
    c = controller()
    c.observe_owned("ADDED", deployment(1))
    await drain(c)
    c.observe_owned("MODIFIED", deployment(2, ready=1))
    assert await drain(c) == [("default", "api")]


async def test_spec_changes_queue_the_owner() -> None:
    c = controller()
    c.observe_owned("ADDED", deployment(1))
    await drain(c)
    c.observe_owned("MODIFIED", deployment(2, image="app:2"))  # someone edited our object
    assert await drain(c) == [("default", "api")]


async def test_an_unchanged_object_does_not_queue_the_owner() -> None:
    c = controller()
    c.observe_owned("ADDED", deployment(1))
    await drain(c)
    c.observe_owned("MODIFIED", deployment(2))  # only the resourceVersion moved
    assert await drain(c) == []
    assert c.cache.owned["Deployment", "default", "api"]["metadata"]["resourceVersion"] == "2"


async def test_status_of_a_service_does_not_queue_the_owner() -> None:
    c = controller()
    c.observe_owned("ADDED", service(1))
    await drain(c)
    c.observe_owned("MODIFIED", service(2, load_balancer={"ingress": [{"ip": "10.0.0.1"}]}))
    assert await drain(c) == []


async def test_a_late_event_older_than_the_cache_is_ignored() -> None:
    c = controller()
    c.observe_owned("ADDED", deployment(5, ready=1))
    await drain(c)
    c.observe_owned("MODIFIED", deployment(4, ready=0))
    assert await drain(c) == []
    assert c.cache.owned["Deployment", "default", "api"]["status"]["readyReplicas"] == 1


async def test_deletion_queues_the_owner_and_empties_the_cache() -> None:
    c = controller()
    c.observe_owned("ADDED", deployment(1))
    await drain(c)
    c.observe_owned("DELETED", deployment(2))
    assert await drain(c) == [("default", "api")]
    assert ("Deployment", "default", "api") not in c.cache.owned


async def test_the_answer_to_our_own_write_never_replaces_a_newer_cached_version() -> None:
    c = controller()
    c.observe_owned("MODIFIED", deployment(5, ready=1))  # the watch was quicker than our write
    c.cache.store_owned("Deployment", ("default", "api"), deployment(4))
    assert c.cache.owned["Deployment", "default", "api"]["metadata"]["resourceVersion"] == "5"
    c.cache.store_owned("Deployment", ("default", "api"), deployment(6))
    assert c.cache.owned["Deployment", "default", "api"]["metadata"]["resourceVersion"] == "6"


async def test_a_status_write_answer_older_than_the_cache_is_not_stored() -> None:
    c = controller()
    newer = {
        "metadata": {"name": "api", "namespace": "default", "uid": "ms-1", "resourceVersion": "9"},
        "spec": {"image": "app:2"},
    }
    c.observe_managed_service("MODIFIED", newer)
    ours = {**newer, "metadata": {**newer["metadata"], "resourceVersion": "8"}}
    c.cache.store_service({**ours, "spec": {"image": "app:1"}})
    assert c.cache.services["default", "api"]["spec"] == {"image": "app:2"}


async def test_a_spec_changed_under_a_status_write_is_reconciled_again() -> None:
    """The answer to our status write can carry a newer spec than the reconcile read; the
    watch event for that spec may then arrive older than the cache and be ignored."""
    from datetime import UTC, datetime

    from tend.logic.report import Report

    seen = {"metadata": {"name": "api", "namespace": "default", "uid": "ms-1", "generation": 1}}
    newer = {**seen, "metadata": {**seen["metadata"], "generation": 2, "resourceVersion": "9"}}

    class Answering:
        async def patch_status(self, *_: Any) -> dict[str, Any]:
            return newer

    c = Controller(cast(Kube, Answering()), OperatorConfig())
    await c._carry_out(seen, Report(status={"phase": "Running"}), datetime.now(UTC))
    assert await drain(c) == [("default", "api")]
    c.observe_managed_service(
        "MODIFIED", {**newer, "metadata": {**newer["metadata"], "resourceVersion": "8"}}
    )
    assert c.cache.services["default", "api"]["metadata"]["generation"] == 2


def pod(name: str, uid: str, rv: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": uid,
            "resourceVersion": str(rv),
            "labels": {"app.kubernetes.io/managed-by": "tend", "app.kubernetes.io/instance": "api"},
        },
        "status": {"phase": "Running"},
    }


async def test_a_relist_forgets_pods_deleted_while_unwatched_and_queues_their_owner() -> None:
    c = controller()
    c.observe_pod(None, pod("api-1", "p-1"))
    c.observe_pod(None, pod("api-2", "p-2"))
    c.queue.done(await c.queue.get())
    c.relisted_pods({("default", "api-1", "p-1"), ("default", "api-2", "p-2")})
    assert len(c.queue) == 0, "a relist that changes nothing queues nothing"
    # api-2 was deleted and re-created under the same name (a new uid): the old one is gone.
    c.relisted_pods({("default", "api-1", "p-1"), ("default", "api-2", "p-3")})
    assert [p.name for p in c.cache.pods_of(("default", "api"))] == ["api-1"]
    assert len(c.queue) == 1 and await c.queue.get() == ("default", "api")
