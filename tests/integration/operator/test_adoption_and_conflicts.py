"""Objects that already exist: ours are adopted, not duplicated; someone else's are refused."""

from __future__ import annotations

from harness import Operator, condition, events_for, managed_service, wait_ready
from waiting import until

from tend.api import ManagedService
from tend.api.config import OperatorConfig
from tend.logic.builders import build_all
from tend.runtime.kube import Kube
from tend_sim import SimCluster


async def test_an_existing_object_of_ours_is_adopted_not_duplicated(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await operator.stop()
    body = managed_service("api")
    created = await kube.create(body)
    orphan = build_all(ManagedService.model_validate(created), OperatorConfig())[-1]
    del orphan["metadata"]["ownerReferences"]
    await kube.create(orphan)
    await operator.start()
    await wait_ready(cluster, kube, "api")
    deployments = await kube.list("Deployment", "default")
    assert [d["metadata"]["name"] for d in deployments] == ["api"]
    assert deployments[0]["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]


async def test_an_object_owned_by_someone_else_is_refused(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    foreign = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "api", "namespace": "default", "labels": {"team": "other"}},
        "spec": {"ports": [{"port": 80}], "selector": {"app": "other"}},
    }
    await kube.create(foreign)
    await kube.create(managed_service("api", ports=[{"name": "http", "containerPort": 80}]))

    live = await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "api"),
        "Ready=False, OwnershipConflict, for the foreign Service",
        satisfied=lambda live: condition(live, "Ready").get("reason") == "OwnershipConflict",
    )
    assert live is not None
    assert "not managed by this ManagedService" in condition(live, "Ready")["message"]
    assert live["status"]["phase"] == "Failed"
    service = await kube.get("Service", "default", "api")
    assert service is not None and service["metadata"]["labels"] == {"team": "other"}
    assert await kube.get("Deployment", "default", "api") is None  # nothing partial
    refused = [e for e in await events_for(kube, "api") if e["reason"] == "OwnershipConflict"]
    assert len(refused) == 1
    assert refused[0]["type"] == "Warning"
