"""The operator runs under deploy/rbac's rules, enforced: the simulated API server
authenticates it as its ServiceAccount (system:serviceaccount:tend-system:tend) and answers
403 for anything the ClusterRole does not grant. A scenario that makes it use every grant —
create, roll out, scale, convert, conflict, crash, complete — must see no 403, and what it
used (the simulator's access log) must be what deploy/rbac grants: not less, not more.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from harness import SPEED, condition, edit, events_for, managed_service, wait_ready
from kustomized import KUBECTL, ROOT, Grant, build, granted, one
from waiting import until

from tend.api import ManagedService
from tend.api.config import OperatorConfig
from tend.api.crd import build_crd
from tend.logic import builders
from tend.runtime.handlers import RunOptions
from tend.runtime.kube import Kube
from tend_sim import SimCluster
from tend_sim.embedded import EmbeddedOperator

ACCOUNT = "system:serviceaccount:tend-system:tend"


@pytest.fixture
async def cluster() -> AsyncIterator[SimCluster]:
    async with SimCluster(speed=SPEED, auth=True) as sim:
        sim.register_crd(build_crd())
        yield sim


async def kubectl(kubeconfig: Path, *args: str, check: bool = True) -> None:
    """kubectl on a thread: the simulated cluster serves on this test's event loop."""
    result = await asyncio.to_thread(
        subprocess.run,
        [str(KUBECTL), "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0 or not check, result.stderr


def built(name: str, kinds: set[str], *, ours: bool, **spec: Any) -> list[dict[str, Any]]:
    """What tend would build for `name`, with no owner: with tend's labels (`ours`), an
    orphan it adopts (a PUT); without, a foreign object in its way (found by a GET)."""
    objects = []
    for obj in builders.build_all(ManagedService.model_validate(managed_service(name, **spec)),
                                  OperatorConfig()):  # fmt: skip
        if obj["kind"] in kinds:
            obj["metadata"].pop("ownerReferences", None)
            if not ours:
                obj["metadata"]["labels"] = {"app": name}
            objects.append(obj)
    return objects


async def scenario(kube: Kube, cluster: SimCluster) -> None:
    """Everything the operator does to the objects it owns, once each."""
    ports = [{"name": "http", "containerPort": 8080}]
    await kube.create(managed_service("api", replicas=2, ports=ports))
    await kube.create(
        managed_service(
            "migrate", image="sim/complete:200ms-0", restartPolicy={"policy": "OnFailure"}
        )
    )
    await kube.create(managed_service("crasher", image="sim/crash:200ms-1"))
    await wait_ready(cluster, kube, "api")
    await wait_ready(cluster, kube, "migrate")
    await edit(kube, "api", lambda b: b["spec"].update(image="example/api:2"))  # update
    await wait_ready(cluster, kube, "api")
    # Fewer replicas: the PDB goes; no ports: the Service goes; a Job: the Deployment goes.
    await edit(kube, "api", lambda b: b["spec"].update(replicas=1, ports=None))
    await until(cluster, lambda: kube.get("PodDisruptionBudget", "default", "api"),
                "the PDB deleted", satisfied=lambda o: o is None)  # fmt: skip
    await until(cluster, lambda: kube.get("Service", "default", "api"),
                "the Service deleted", satisfied=lambda o: o is None)  # fmt: skip
    await edit(
        kube,
        "migrate",
        lambda b: b["spec"].update(image="example/app:1", restartPolicy={"policy": "Always"}),
    )
    await wait_ready(cluster, kube, "migrate")  # its Job deleted, a Deployment instead
    # A Service in the way that someone else owns: read fresh, not through the watches.
    await kube.create({"apiVersion": "v1", "kind": "Service",
                       "metadata": {"name": "clash", "namespace": "default"},
                       "spec": {"ports": [{"port": 80}]}})  # fmt: skip
    await kube.create(managed_service("clash", ports=ports))
    await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "clash"),
        "clash reports the conflict",
        satisfied=lambda b: condition(b, "Ready").get("reason") == "OwnershipConflict",
    )
    # Restarts: one Event per failure, a repeat of the same message bumps its count (PATCH).
    await until(
        cluster,
        lambda: events_for(kube, "crasher"),
        "an Event of the crasher repeated (its count bumped)",
        satisfied=lambda events: any(int(e.get("count") or 1) > 1 for e in events),
        deadline=60,
    )
    # Orphans with tend's labels are adopted (PUT); foreign objects in the way are read.
    job = {"restartPolicy": {"policy": "OnFailure"}, "image": "sim/complete:200ms-0"}
    cases: dict[str, tuple[set[str], bool, dict[str, Any]]] = {
        "adopt-svc": ({"Service", "PodDisruptionBudget"}, True, {"replicas": 2, "ports": ports}),
        "foreign-deploy": ({"Deployment"}, False, {}),
        "foreign-pdb": ({"PodDisruptionBudget"}, False, {"replicas": 2}),
        "foreign-job": ({"Job"}, False, job),
    }
    for name, (kinds, ours, spec) in cases.items():
        for obj in built(name, kinds, ours=ours, **spec):
            await kube.create(obj)
        await kube.create(managed_service(name, **spec))
    for name, (_, ours, _) in cases.items():
        want = {"Reconciled"} if ours else {"OwnershipConflict"}
        await until(
            cluster,
            lambda n=name: kube.get("ManagedService", "default", n),  # type: ignore[misc]
            f"{name} adopted or in conflict",
            satisfied=lambda b, w=want: condition(b, "Ready").get("reason") in w,  # type: ignore[misc]
        )
    # A Job whose owner reference someone removed (same template): adopted by a PUT of its
    # metadata, not recreated (that path is the conversion above).
    await kube.create(managed_service("adopt-job", **job))
    await until(cluster, lambda: kube.get("Job", "default", "adopt-job"), "the Job")
    await edit(kube, "adopt-job", lambda j: j["metadata"].pop("ownerReferences"), kind="Job")
    await until(
        cluster,
        lambda: kube.get("Job", "default", "adopt-job"),
        "the Job adopted again",
        satisfied=lambda j: bool(((j or {}).get("metadata") or {}).get("ownerReferences")),
    )


def used(cluster: SimCluster, *, allowed: bool) -> set[Grant]:
    return {
        (a.api_group, a.resource, a.verb)
        for a in cluster.access_log(ACCOUNT, allowed=allowed)
        if not a.resource.startswith("/")  # discovery and /version: system:discovery
    }


async def test_the_operator_under_deploy_rbac_uses_every_grant_and_is_refused_nothing(
    cluster: SimCluster, tmp_path: Path
) -> None:
    admin = cluster.write_kubeconfig(tmp_path / "admin")
    await kubectl(admin, "create", "namespace", "tend-system")
    await kubectl(admin, "apply", "-k", str(ROOT / "deploy" / "rbac"))
    # Its CRDs and a ClusterKopfPeering: on a fresh cluster the second needs a second apply
    # (as `make deploy` does); kubectl would validate it against OpenAPI v2 in protobuf, which
    # the simulator does not serve (see its README).
    peering = str(ROOT / "deploy" / "peering" / "peering.yaml")
    await kubectl(admin, "apply", "--validate=false", "-f", peering, check=False)
    await kubectl(admin, "apply", "--validate=false", "-f", peering)
    token = cluster.token_for("tend-system", "tend")
    options = RunOptions(
        kubeconfig=cluster.write_kubeconfig(tmp_path / "tend", token=token),
        liveness_port=None,
        peering="tend",
        peering_mandatory=True,  # as deploy/components/ha runs it
        clock=cluster.clock.now,
        clock_speed=cluster.clock.speed,
    )
    operator = EmbeddedOperator(options)
    kube = await Kube.connect(admin)
    await operator.start()
    try:
        await scenario(kube, cluster)
    finally:
        await operator.stop()
        await kube.close()
    assert used(cluster, allowed=False) == set(), "refused: deploy/rbac grants too little"
    role = one(build(ROOT / "deploy" / "rbac"), "ClusterRole", "tend")
    grants: dict[str, Any] = {"granted": granted(role)}
    assert used(cluster, allowed=True) == grants["granted"], (
        "used but not granted, or granted but never used: "
        f"{used(cluster, allowed=True) ^ grants['granted']}"
    )
