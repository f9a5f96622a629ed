"""A Secret or ConfigMap the spec refers to that does not exist yet.

tend reads no Secret (it needs no access to them): it builds the Deployment at once, and the
kubelet holds the pod in CreateContainerConfigError, as a real one does, until the Secret
appears. Reporting that state from the pod comes with pod watching.
"""

from __future__ import annotations

from typing import Any

from harness import Operator, condition, managed_service, wait_ready
from waiting import until

from tend.runtime.kube import Kube
from tend_sim import SimCluster


def waiting_reason(pods: list[dict[str, Any]]) -> tuple[str, str] | None:
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason"):
                return waiting["reason"], waiting.get("message", "")
    return None


async def test_a_missing_secret_holds_the_pods_not_the_deployment(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await kube.create(managed_service("api", envFrom=[{"secretRef": {"name": "creds"}}]))
    await until(
        cluster, lambda: kube.get("Deployment", "default", "api"), "the Deployment, at once"
    )
    await until(
        cluster,
        lambda: kube.list("Pod", "default"),
        "a pod waiting for its Secret",
        satisfied=lambda pods: (
            waiting_reason(pods) == ("CreateContainerConfigError", 'secret "creds" not found')
        ),
    )
    live = await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "api"),
        "Ready=False, ConfigError, from the pod",
        satisfied=lambda b: condition(b, "Ready").get("reason") == "ConfigError",
    )
    assert live is not None and live["status"]["phase"] == "Degraded"
    assert 'secret "creds" not found' in condition(live, "Ready")["message"]
    assert live["status"]["restarts"]["total"] == 0  # not a restart: the budget is untouched
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "default"},
            "stringData": {"a": "b"},
        }
    )
    await wait_ready(cluster, kube, "api")
    reads = {verb for (verb, resource) in cluster.requests if resource == "secrets"}
    assert reads == {"create"}, "only the test's own create touches Secrets"
