"""Exactly one Event per transition, none lost: through a status outage (every status write
refused for a while) and through kill -9 at random points of an apply.

Before: each failed status write reposted the transition's Events (2,000 duplicates for 200
services in a 30 s outage), and after kill -9 some Ready transitions never got theirs."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import Operator, events_for, is_ready, managed_service, wait_ready
from waiting import until

from tend.runtime.kube import Kube
from tend_sim import SimCluster

TEND = Path(sys.executable).parent / "tend"
SOAK = bool(os.environ.get("TEND_SOAK"))


def ready_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Occurrences of the Ready=True transition (alone, or joined to the writes' Event)."""
    return [
        e
        for e in events
        if e["reason"] == "Reconciled"
        and any(part.startswith("Ready") for part in e["message"].split("; "))
    ]


async def test_a_status_outage_neither_doubles_nor_loses_a_transition_event(
    operator: Operator, cluster: SimCluster, kube: Kube
) -> None:
    names = [f"svc-{i}" for i in range(10)]
    rule = cluster.faults.fail(verb="patch", resource="managedservices", code=503)
    for name in names:
        await kube.create(managed_service(name, replicas=2))
    # Each reconcile posts its Events, then fails to write the status, and tries again.
    await until(
        cluster,
        lambda: rule.fired,
        "every service's status write refused a few times",
        satisfied=lambda fired: fired >= 5 * len(names),
        deadline=60,
        logs=True,
    )
    cluster.faults.clear()
    for name in names:
        await wait_ready(cluster, kube, name, deadline=60)
    for name in names:
        events = await events_for(kube, name)
        assert len(ready_events(events)) == 1, (name, [e["message"] for e in events])
        per_reason = [e["reason"] for e in events]
        # One Event per transition: nothing but the writes and the conditions' changes.
        assert len(per_reason) == len(set(per_reason)), (name, per_reason)


async def test_kill_9_at_random_points_of_an_apply_leaves_one_event_per_transition(
    cluster: SimCluster, kube: Kube, kubeconfig: Path, tmp_path: Path
) -> None:
    count, kills = (2000, 30) if SOAK else (500, 12)
    shuffle = random.Random(15)  # reproducible points
    names = [f"svc-{i}" for i in range(count)]
    args = [str(TEND), "run", "--standalone", "--kubeconfig", str(kubeconfig)]
    args += ["--metrics-port", "0", "--health-port", "0"]

    def start(index: int) -> subprocess.Popen[bytes]:
        with (tmp_path / f"tend-{index}.log").open("wb") as log:
            return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

    for name in names:
        await kube.create(
            managed_service(name, replicas=2, ports=[{"name": "http", "containerPort": 80}])
        )
    proc = start(0)
    try:
        for index in range(1, kills + 1):
            # Let it write a random few more objects or statuses, then kill it outright.
            target = cluster.writes() + shuffle.randint(5, 40)
            await until(
                cluster,
                cluster.writes,
                f"kill {index}: some more writes",
                satisfied=lambda n, t=target: n >= t,  # type: ignore[misc]
                deadline=60,
            )
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            proc = start(index)
        for name in names:
            await wait_ready(cluster, kube, name, deadline=120)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    for kind in ("Deployment", "Service", "PodDisruptionBudget"):
        live = [o["metadata"]["name"] for o in await kube.list(kind, "default")]
        assert sorted(n for n in live if n != "kubernetes") == sorted(names), kind
    events = await kube.list("Event", "default")
    by_name: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        occurrences = [event] * int(event.get("count") or 1)
        by_name.setdefault(event["involvedObject"]["name"], []).extend(occurrences)
    for name in names:
        assert is_ready(await kube.get("ManagedService", "default", name))
        ready = ready_events(by_name.get(name, []))
        assert len(ready) == 1, (name, [e["message"] for e in by_name.get(name, [])])
