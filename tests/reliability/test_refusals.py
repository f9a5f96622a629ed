"""An object the API server refuses: InvalidSpec with the server's words, nothing partial,
retried on a growing back-off — never the undo-and-recreate loop (7,386 writes in 10 s from
one object, before) — and at once when the spec changes."""

from __future__ import annotations

import pytest
from harness import Operator, condition, edit, events_for, is_ready, managed_service
from waiting import until

from tend.runtime.kube import Kube, KubeError
from tend_sim import SimCluster

PORTS = [{"name": "http", "containerPort": 8080}]
ATTEMPTS = 6  # refused creates to watch: back-off 0.05 s doubling, about 3 s in all


@pytest.mark.parametrize("refused", ["deployments", "services"])
async def test_a_refused_object_backs_off_leaves_nothing_partial_and_says_why(
    operator: Operator, cluster: SimCluster, kube: Kube, refused: str
) -> None:
    rule = cluster.faults.fail(verb="create", resource=refused, code=422)
    await kube.create(managed_service("api", ports=PORTS))
    live = await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "api"),
        "Ready=False, InvalidSpec, quoting the server",
        satisfied=lambda b: condition(b, "Ready").get("reason") == "InvalidSpec",
    )
    message = condition(live, "Ready")["message"]
    kind = {"deployments": "Deployment", "services": "Service"}[refused]
    assert f"{kind} default/api refused by the API server: injected: the object is" in message

    # Every retry logs one line; wait on those for a few more refusals.
    async def attempts() -> tuple[int, bool]:
        # How many were refused, and whether the last attempt's undo has finished.
        return rule.fired, await kube.get("Deployment", "default", "api") is None

    await until(
        cluster,
        attempts,
        f"{ATTEMPTS} refused attempts, each undone",
        satisfied=lambda seen: seen[0] >= ATTEMPTS and seen[1],
        deadline=30,
        logs=True,
    )
    # A loop would have run far past ATTEMPTS by the time the wait saw the sixth: the
    # back-off doubles from 0.05 s, so the seventh is still 3 s away.
    assert rule.fired <= ATTEMPTS + 1, rule.fired
    # The refused creates are the rule's (the fault answers before the server counts).
    if refused == "deployments":
        assert cluster.writes("deployments") == 0
        assert cluster.writes("services") == 0, "nothing partial: the workload goes first"
    else:
        # The Deployment, written first, is undone when its Service is refused: two writes
        # an attempt, and the undo's own watch events wake nothing.
        assert cluster.writes("deployments") <= 2 * rule.fired + 2
    assert cluster.writes("managedservices/status") <= 2
    assert [e["reason"] for e in await events_for(kube, "api")].count("InvalidSpec") == 1
    # Fixed (here: the server takes it again) and the spec changes: it converges at once.
    cluster.faults.clear()
    await edit(kube, "api", lambda body: body["spec"].update(image="example/app:2"))
    await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "api"),
        "Ready after the spec change",
        satisfied=is_ready,
        deadline=10,
    )
    assert await kube.get("Service", "default", "api") is not None


async def test_a_fight_with_another_writer_trips_the_write_budget(
    operator: Operator, cluster: SimCluster, kube: Kube
) -> None:
    """Someone keeps scaling tend's Deployment; tend keeps putting it back. Past 30 writes a
    minute it says so, once: a Warning Event and a metric."""
    await kube.create(managed_service("api"))
    await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "api"),
        "Ready",
        satisfied=is_ready,
    )
    for _ in range(35):
        live = await kube.get("Deployment", "default", "api")
        assert live is not None
        live["spec"]["replicas"] = 5
        try:
            await kube.replace(live)
        except KubeError as exc:  # tend wrote it back meanwhile: scale it again
            if not exc.conflict:
                raise
            continue
        await until(
            cluster,
            lambda: kube.get("Deployment", "default", "api"),
            "tend scaled it back",
            satisfied=lambda d: d is not None and d["spec"]["replicas"] == 1,
        )
    warnings = [e for e in await events_for(kube, "api") if e["reason"] == "WriteBudgetExceeded"]
    assert len(warnings) == 1, warnings
    assert "more than 30 writes" in warnings[0]["message"]
    controller = operator.controller
    assert controller is not None
    assert 'tend_write_budget_exceeded_total{name="api",namespace="default"} 1.0' in (
        controller.metrics.render().decode()
    )
