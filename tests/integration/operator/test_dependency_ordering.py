"""Dependency ordering on the simulated cluster: start order, gates, blockers, cycles, wake-ups."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from harness import Operator, condition, events_for, managed_service, wait_ready
from waiting import until

from tend.runtime.kube import Kube
from tend_sim import SimCluster


@pytest.fixture
def created(cluster: SimCluster) -> Iterator[list[str]]:
    """Names of Deployments and Jobs, in the order the API server created them."""
    order: list[str] = []

    def listen(type_: str, rt: Any, obj: dict[str, Any]) -> None:
        if type_ == "ADDED" and obj.get("kind") in ("Deployment", "Job"):
            order.append(obj["metadata"]["name"])

    cluster.store.write_listeners.append(listen)
    yield order
    cluster.store.write_listeners.remove(listen)


def dep(*names: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"name": n, **extra} for n in names]


async def status_of(kube: Kube, name: str, namespace: str = "default") -> dict[str, Any]:
    body = await kube.get("ManagedService", namespace, name)
    return dict((body or {}).get("status") or {})


async def wait_status(
    cluster: SimCluster,
    kube: Kube,
    name: str,
    predicate: Any,
    what: str,
    namespace: str = "default",
    deadline: float = 20,
) -> dict[str, Any]:
    """The ManagedService's status, read through the API, once `predicate` holds for it."""
    return await until(
        cluster,
        lambda: status_of(kube, name, namespace),
        f"ManagedService {namespace}/{name}: {what}",
        satisfied=lambda status: bool(status) and predicate(status),
        deadline=deadline,
    )


async def test_a_chain_starts_in_dependency_order(
    operator: Operator, kube: Kube, cluster: SimCluster, created: list[str]
) -> None:
    # Applied in reverse: the operator must still start d1 first. (How soon each level is
    # woken after the one it waits for is a benchmark figure, not a test: bench/README.md,
    # `bench_operator.py forest --width 1 --depth 4`.)
    chain = ["d4", "d3", "d2", "d1"]
    for i, name in enumerate(chain):
        deps = dep(chain[i + 1]) if i + 1 < len(chain) else None
        await kube.create(managed_service(name, image="sim/ready:1s", dependsOn=deps))
    for name in reversed(chain):
        await wait_ready(cluster, kube, name, deadline=30)
    assert created == ["d1", "d2", "d3", "d4"]


async def test_a_diamond_starts_the_shared_dependency_first(
    operator: Operator, kube: Kube, cluster: SimCluster, created: list[str]
) -> None:
    await kube.create(managed_service("top", dependsOn=dep("left", "right")))
    await kube.create(managed_service("left", dependsOn=dep("base")))
    await kube.create(managed_service("right", dependsOn=dep("base")))
    await kube.create(managed_service("base"))
    await wait_ready(cluster, kube, "top", deadline=30)
    assert created[0] == "base"
    assert set(created[1:3]) == {"left", "right"}
    assert created[3] == "top"


async def test_blocked_services_say_what_blocks_them(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await kube.create(managed_service("db", image="sim/ready:3s"))
    await kube.create(managed_service("app", dependsOn=dep("db")))
    # kopf hands events of different objects to handlers in no fixed order, so app may be
    # seen before db: its first verdict then waits a moment for db (applied together).
    status = await wait_status(
        cluster,
        kube,
        "app",
        lambda s: (
            s.get("phase") == "Blocked"
            and condition({"status": s}, "Ready").get("reason") == "DependencyNotReady"
        ),
        "Blocked by a db that is not Ready yet",
    )
    assert status["blockedBy"][0]["name"] == "db"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "DependencyNotReady")
    assert "waiting for default/db" in ready["message"]
    deps_ready = next(c for c in status["conditions"] if c["type"] == "DependenciesReady")
    assert deps_ready["reason"] == "DependencyNotReady"
    assert await kube.get("Deployment", "default", "app") is None
    await wait_ready(cluster, kube, "app", deadline=30)
    # Its wait was the start-up order working (status said so); its Events tell what tend
    # wrote and that it is Ready. No DependencyNotFound: db was only on its way.
    reasons = sorted(e["reason"] for e in await events_for(kube, "app"))  # names: no order
    assert reasons == ["Reconciled", "RolloutInProgress"]


async def test_migrations_gate_the_app_until_they_succeed(
    operator: Operator, kube: Kube, cluster: SimCluster, created: list[str]
) -> None:
    await kube.create(
        managed_service("migrate", image="sim/complete:2s-0", restartPolicy={"policy": "OnFailure"})
    )
    await kube.create(managed_service("app", dependsOn=dep("migrate", condition="Succeeded")))
    await wait_ready(cluster, kube, "app", deadline=30)
    assert created == ["migrate", "app"]
    assert (await status_of(kube, "migrate"))["phase"] == "Succeeded"


async def test_a_service_dependency_waits_for_a_ready_endpoint(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await kube.create(
        managed_service("app", dependsOn=[{"service": {"name": "ldap", "namespace": "default"}}])
    )
    status = await wait_status(
        cluster, kube, "app", lambda s: s.get("phase") == "Blocked", "Blocked"
    )
    assert status["blockedBy"][0] == {
        "kind": "Service",
        "namespace": "default",
        "name": "ldap",
        "reason": "DependencyNotFound",
        "message": "not found",
    }
    # A plain Service with a pod behind it, not managed by tend.
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "ldap", "namespace": "default"},
            "spec": {"selector": {"app": "ldap"}, "ports": [{"port": 389}]},
        }
    )
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "ldap-0", "namespace": "default", "labels": {"app": "ldap"}},
            "spec": {"containers": [{"name": "ldap", "image": "openldap:2"}]},
        }
    )
    await wait_ready(cluster, kube, "app", deadline=30)


async def test_a_missing_dependency_that_appears_later_unblocks(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await kube.create(managed_service("app", dependsOn=dep("cache")))
    status = await wait_status(
        cluster,
        kube,
        "app",
        lambda s: s.get("blockedBy", [{}])[0].get("reason") == "DependencyNotFound",
        "DependencyNotFound",
    )
    assert condition({"status": status}, "Ready")["reason"] == "DependencyNotFound"
    await kube.create(managed_service("cache"))
    await wait_ready(cluster, kube, "app", deadline=30)


@pytest.mark.parametrize(
    ("services", "in_cycle", "path"),
    [
        ({"a": [{"name": "a", "namespace": "default"}]}, ["a"], "a → a"),
        ({"a": dep("b"), "b": dep("a")}, ["a", "b"], "a → b → a"),
        (
            {"a": dep("b"), "b": dep("c"), "c": dep("d"), "d": dep("a")},
            ["a", "b", "c", "d"],
            "a → b → c → d → a",
        ),
    ],
    ids=["self", "two", "four"],
)
async def test_cycles_are_named_and_block_their_members(
    operator: Operator,
    kube: Kube,
    cluster: SimCluster,
    services: dict[str, Any],
    in_cycle: list[str],
    path: str,
) -> None:
    for name, deps in services.items():
        await kube.create(managed_service(name, dependsOn=deps))
    for name in in_cycle:
        status = await wait_status(
            cluster,
            kube,
            name,
            lambda s: (
                s.get("phase") == "Blocked"
                and condition({"status": s}, "Ready").get("reason") == "DependencyCycle"
            ),
            "DependencyCycle",
        )
        message = condition({"status": status}, "Ready")["message"]
        rotated = path.split(" → ")
        assert name in rotated
        assert "dependency cycle" in message
        assert len(message.split(" → ")) == len(rotated), message
        assert await kube.get("Deployment", "default", name) is None


async def test_a_cycle_introduced_by_an_edit_blocks_rollouts_but_keeps_services_running(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await kube.create(managed_service("a", dependsOn=dep("b")))
    await kube.create(managed_service("b"))
    await wait_ready(cluster, kube, "a", deadline=30)
    body = await kube.get("ManagedService", "default", "b")
    assert body is not None
    body["spec"]["dependsOn"] = dep("a")
    body["spec"]["image"] = "example/b:2"
    await kube.replace(body)
    status = await wait_status(
        cluster,
        kube,
        "b",
        lambda s: condition({"status": s}, "Ready").get("reason") == "DependencyCycle",
        "DependencyCycle",
    )
    assert (
        "a → b → a" in condition({"status": status}, "Ready")["message"]
        or "b → a → b" in condition({"status": status}, "Ready")["message"]
    )
    deployment = await kube.get("Deployment", "default", "b")
    assert deployment is not None, "a running service is never torn down"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "example/app:1"
    assert deployment["status"].get("readyReplicas") == 1
    # Breaking the cycle lets the new generation roll out.
    body = await kube.get("ManagedService", "default", "b")
    assert body is not None
    del body["spec"]["dependsOn"]
    await kube.replace(body)
    await wait_ready(cluster, kube, "b", deadline=30)
    deployment = await kube.get("Deployment", "default", "b")
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "example/b:2"


async def test_cross_namespace_dependencies(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cache"}})
    await kube.create(managed_service("app", dependsOn=[{"name": "redis", "namespace": "cache"}]))
    status = await wait_status(
        cluster, kube, "app", lambda s: s.get("phase") == "Blocked", "Blocked"
    )
    assert status["blockedBy"][0]["namespace"] == "cache"
    await kube.create(managed_service("redis", namespace="cache"))
    await wait_ready(cluster, kube, "app", deadline=30)


async def test_a_failing_dependency_degrades_dependents_without_restarting_them(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await kube.create(managed_service("db"))
    await kube.create(managed_service("cache", dependsOn=dep("db")))
    await kube.create(managed_service("app", dependsOn=dep("cache")))
    await wait_ready(cluster, kube, "app", deadline=30)
    before = await kube.get("Deployment", "default", "app")
    assert before is not None
    body = await kube.get("ManagedService", "default", "db")
    assert body is not None
    body["spec"]["image"] = "sim/crash:500ms-1"  # the new generation never becomes Ready
    await kube.replace(body)
    for name in ("cache", "app"):
        status = await wait_status(
            cluster, kube, name, lambda s: s.get("phase") == "Degraded", "Degraded", deadline=30
        )
        degraded = condition({"status": status}, "Degraded")
        assert (degraded["status"], degraded["reason"]) == ("True", "DependencyNotReady")
        assert status["alert"] == {"state": "Suppressed", "suppressedBy": "default/db"}
    after = await kube.get("Deployment", "default", "app")
    assert after is not None
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["status"].get("readyReplicas") == 1
    # Recovery: the dependency comes back, the dependents are Ready and unsuppressed again.
    body = await kube.get("ManagedService", "default", "db")
    assert body is not None
    body["spec"]["image"] = "example/db:2"
    await kube.replace(body)
    app = await wait_ready(cluster, kube, "app", deadline=30)
    assert "alert" not in app["status"]


async def test_deleting_a_dependency_blocks_new_rollouts_but_not_running_services(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await kube.create(managed_service("db"))
    await kube.create(managed_service("app", dependsOn=dep("db")))
    await wait_ready(cluster, kube, "app", deadline=30)
    await kube.delete("ManagedService", "default", "db")
    await wait_status(
        cluster,
        kube,
        "app",
        lambda s: condition({"status": s}, "Degraded").get("status") == "True",
        "Degraded after its dependency was deleted",
    )
    body = await kube.get("ManagedService", "default", "app")
    assert body is not None
    body["spec"]["image"] = "example/app:2"
    await kube.replace(body)
    status = await wait_status(
        cluster, kube, "app", lambda s: s.get("phase") == "Blocked", "Blocked"
    )
    assert status["blockedBy"][0]["reason"] == "DependencyNotFound"
    deployment = await kube.get("Deployment", "default", "app")
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "example/app:1"


async def test_an_operator_restart_while_blocked_keeps_the_block_without_new_events(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await kube.create(managed_service("app", dependsOn=dep("db")))
    await wait_status(cluster, kube, "app", lambda s: s.get("phase") == "Blocked", "Blocked")
    await operator.idle()
    events_before = len(await events_for(kube, "app"))
    await operator.stop()
    await operator.start()
    await operator.idle()
    assert (await status_of(kube, "app"))["phase"] == "Blocked"
    assert len(await events_for(kube, "app")) == events_before
    await kube.create(managed_service("db"))
    await wait_ready(cluster, kube, "app", deadline=30)
