"""Incidents on the simulated cluster: the root cause pages and names its blast radius while
its dependents stay quiet; a service that flaps inside resolveAfter stays one incident."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from harness import Operator, condition, edit, is_ready, managed_service, wait_ready
from sinks import HttpSink
from waiting import until

from tend.api.config import OperatorConfig
from tend.runtime.kube import Kube
from tend_sim import SimCluster

LADDER = [{"afterFailures": 1, "receivers": ["hook"]}]


@pytest.fixture
async def sink() -> AsyncIterator[HttpSink]:
    async with HttpSink() as http:
        yield http


@pytest.fixture
async def operator(
    kubeconfig: Path, cluster: SimCluster, sink: HttpSink
) -> AsyncIterator[Operator]:
    receivers = [{"name": "hook", "type": "webhook", "url": f"{sink.url}/hook"}]
    op = Operator(kubeconfig, cluster, OperatorConfig(receivers=receivers))
    await op.start()
    yield op
    await op.stop()


def alert_of(body: dict[str, Any] | None) -> dict[str, Any]:
    return dict(((body or {}).get("status") or {}).get("alert") or {})


async def test_only_the_root_cause_pages_and_it_names_the_services_waiting_on_it(
    operator: Operator, cluster: SimCluster, kube: Kube, sink: HttpSink
) -> None:
    alerts = {"escalation": LADDER}
    await kube.create(managed_service("db", alerts=alerts))
    await kube.create(managed_service("api", dependsOn=[{"name": "db"}], alerts=alerts))
    await kube.create(managed_service("web", dependsOn=[{"name": "api"}], alerts=alerts))
    for name in ("db", "api", "web"):
        await wait_ready(cluster, kube, name, deadline=30)
    await edit(kube, "db", lambda db: db["spec"].update(image="sim/crash:1s-3"))  # a bad release
    await sink.until(lambda: sink.answered("/hook"), "the root's page")
    for name in ("api", "web"):
        live = await until(
            cluster,
            lambda n=name: kube.get("ManagedService", "default", n),  # type: ignore[misc]
            f"{name} suppressed in favour of default/db",
            satisfied=lambda b: alert_of(b).get("state") == "Suppressed",
        )
        assert alert_of(live)["suppressedBy"] == "default/db"
        assert condition(live, "Ready")["reason"] == "DependencyNotReady"
    (page,) = sink.on("/hook")
    body = page.json()
    assert body["service"]["name"] == "db" and body["action"] == "trigger"
    assert body["dependents"] == ["default/api", "default/web"]
    assert body["dependentCount"] == 2
    # Fix the root: it recovers; the dependents follow, unsuppressed, having paged nobody.
    await edit(kube, "db", lambda db: db["spec"].update(image="example/app:2"))
    for name in ("api", "web"):
        live = await until(
            cluster,
            lambda n=name: kube.get("ManagedService", "default", n),  # type: ignore[misc]
            f"{name} Ready and no longer suppressed",
            satisfied=lambda b: is_ready(b) and not alert_of(b),
        )
    assert [r.json()["service"]["name"] for r in sink.on("/hook")] == ["db"]


async def test_a_service_that_flaps_within_resolve_after_is_one_incident(
    operator: Operator, cluster: SimCluster, kube: Kube, sink: HttpSink
) -> None:
    alerts = {"escalation": LADDER, "resolveAfter": "1h"}
    await kube.create(managed_service("api", image="sim/crash:1s-3-2", alerts=alerts))
    first = await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "api"),
        "Ready again after two crashes, the incident waiting to resolve",
        satisfied=lambda b: is_ready(b) and "healthySince" in alert_of(b),
        deadline=30,
    )
    assert first is not None
    opened = alert_of(first)
    assert opened["state"] == "Firing"
    # It fails again (a new release that crashes once), then comes back.
    await edit(kube, "api", lambda api: api["spec"].update(image="sim/crash:1s-3-1"))
    again = await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "api"),
        "the new release crashed once and is Ready",
        satisfied=lambda b: (
            is_ready(b) and ((b or {}).get("status") or {}).get("restarts", {}).get("total", 0) >= 3
        ),
        deadline=30,
    )
    alert = alert_of(again)
    assert alert["state"] == "Firing" and alert["since"] == opened["since"]
    assert alert["key"] == opened["key"]
    await sink.until(lambda: sink.answered("/hook"), "the page")
    assert [r.json()["action"] for r in sink.on("/hook")] == ["trigger"], "one incident, one page"


async def test_an_image_that_never_pulls_pages_when_its_after_step_is_due(
    operator: Operator, cluster: SimCluster, kube: Kube, sink: HttpSink
) -> None:
    """No restarts to count: the ladder's `after` step, woken by the operator's timer."""
    alerts = {"escalation": [{"after": "1m", "severity": "critical", "receivers": ["hook"]}]}
    await kube.create(managed_service("api", image="sim/nopull:typo", alerts=alerts))
    opened = await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "api"),
        "an incident open for the image that does not pull",
        satisfied=lambda b: alert_of(b).get("reason") == "NotStarting",
    )
    assert condition(opened, "Ready")["reason"] == "ImagePullFailed"
    assert not sink.requests, "not before its time"
    await sink.until(lambda: sink.answered("/hook"), "the page, a simulated minute later")
    (page,) = sink.on("/hook")
    body = page.json()
    assert (
        body["incident"]["reason"] == "NotStarting" and body["incident"]["severity"] == "critical"
    )
    assert body["message"].startswith("ImagePullFailed: ")
