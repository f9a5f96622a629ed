"""Long chains and cycles: a chain converges in a bounded number of writes per member, and
a cycle's members carry a bounded status."""

from __future__ import annotations

import json
import os

from harness import Operator, condition, is_ready, managed_service
from waiting import until

from tend.runtime.controller import DETAIL_REFRESH
from tend.runtime.kube import Kube
from tend_sim import SimCluster

SOAK = bool(os.environ.get("TEND_SOAK"))
# Issue #15's bound. Each member: its Deployment, three status patches (Blocked, Progressing,
# Running: the rewordings in between are held back, see tend.runtime.controller
# DETAIL_REFRESH) and two Events (the writes', Ready). 11.3 at 1,000 before this suite.
WRITES_PER_MEMBER = 6


async def test_a_chain_converges_in_a_few_writes_per_member(
    operator: Operator, cluster: SimCluster, kube: Kube
) -> None:
    length = 1000 if SOAK else 60
    before = cluster.writes()
    for i in range(length):
        deps = [{"name": f"c{i - 1}"}] if i else None
        await kube.create(managed_service(f"c{i}", dependsOn=deps))
    await until(
        cluster,
        lambda: kube.get("ManagedService", "default", f"c{length - 1}"),
        "the chain's last member Ready",
        satisfied=is_ready,
        deadline=60 + length / 5,
    )
    await operator.idle()
    writes = {
        res: cluster.writes(res) for res in ("deployments", "managedservices/status", "events")
    }
    per_member = (cluster.writes() - before - length) / length  # the creates are ours
    told: dict[str, list[str]] = {}
    for event in await kube.list("Event", "default"):
        if event["involvedObject"].get("kind") == "ManagedService":
            told.setdefault(event["involvedObject"]["name"], []).append(event["reason"])
    extra = {name: reasons for name, reasons in told.items() if len(reasons) > 2}
    print(f"\nwrites per member: {per_member} {writes}")
    assert per_member <= WRITES_PER_MEMBER, (per_member, writes, extra)


async def test_a_long_cycle_keeps_each_members_status_small(
    operator: Operator, cluster: SimCluster, kube: Kube
) -> None:
    size = 200
    for i in range(size):
        await kube.create(managed_service(f"r{i}", dependsOn=[{"name": f"r{(i + 1) % size}"}]))
    live = await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "r0"),
        "r0 reports the cycle",
        satisfied=lambda b: condition(b, "Ready").get("reason") == "DependencyCycle",
    )
    assert live is not None
    assert len(json.dumps(live["status"])) < 4000
    assert f"({size} services)" in condition(live, "Ready")["message"]
    # The head of the cycle settles on one verdict: it does not flap NotFound/NotReady.
    watch = cluster.store.watch_from_now(cluster.store.resource("managedservices", "tend.dev"))
    await operator.idle()
    reasons = set()
    while watch.pending():
        _, event = watch._pending.popleft()
        if event.obj["metadata"]["name"] == "r0":
            reasons.add(condition(event.obj, "Ready").get("reason"))
    watch.close()
    assert reasons <= {"DependencyCycle"}, reasons


async def test_a_chain_to_a_missing_service_names_each_link_honestly(
    operator: Operator, cluster: SimCluster, kube: Kube
) -> None:
    """a -> b -> missing: b is missing a dependency; a waits for b, which exists."""
    await kube.create(managed_service("a", dependsOn=[{"name": "b"}]))
    await kube.create(managed_service("b", dependsOn=[{"name": "missing"}]))
    expected = "waiting for default/b (Blocked: DependencyNotFound default/missing)"
    a = await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "a"),
        "a waits for b, which is blocked",
        satisfied=lambda body: condition(body, "Ready").get("message") == expected,
    )
    assert condition(a, "Ready")["reason"] == "DependencyNotReady"
    b = await kube.get("ManagedService", "default", "b")
    assert condition(b, "Ready")["reason"] == "DependencyNotFound"
    assert condition(b, "Ready")["message"] == "default/missing not found"


async def test_a_dependencys_new_state_reaches_its_dependents_message_soon_after(
    operator: Operator, cluster: SimCluster, kube: Kube
) -> None:
    """What only rewords a dependent's status (b went from a missing dependency to one that
    is starting) is written within DETAIL_REFRESH, batched, not at once and not never."""
    await kube.create(managed_service("a", dependsOn=[{"name": "b"}]))
    await kube.create(managed_service("b", dependsOn=[{"name": "c"}]))
    await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "a"),
        "a names b's missing dependency",
        satisfied=lambda body: (
            "DependencyNotFound default/c" in condition(body, "Ready").get("message", "")
        ),
    )
    await kube.create(managed_service("c", image="sim/ready:10m"))  # starting, for long
    a = await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "a"),
        "a's message follows b's",
        satisfied=lambda body: (
            condition(body, "Ready").get("message")
            == "waiting for default/b (Blocked: DependencyNotReady default/c)"
        ),
        deadline=5 * DETAIL_REFRESH,
    )
    assert condition(a, "Ready")["reason"] == "DependencyNotReady"
    assert a["status"]["blockedBy"][0]["reason"] == "DependencyNotReady"  # b's own reason
