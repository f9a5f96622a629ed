"""`kubectl get ... -o wide` shows the extra columns kube-apiserver's printers add."""

from __future__ import annotations

import re
from pathlib import Path

from waiting import until

from tend_sim.cluster import SimCluster

from .conftest import Kubectl

MANIFESTS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: "nginx:1.27", ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: once, image: "sim/complete:1s-0"}]
"""


def rows(table: str) -> list[list[str]]:
    """Cells of a kubectl table, split on runs of two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in table.strip().splitlines()]


async def test_wide_columns_of_workloads_nodes_and_endpoints(
    sim_full: SimCluster, tmp_path: Path
) -> None:
    kubectl = Kubectl(sim_full.write_kubeconfig(tmp_path / "kubeconfig"))
    await kubectl("apply", "-f", "-", stdin=MANIFESTS)
    store = sim_full.store

    def endpoints() -> object:
        ep = store.get(store.resource("endpoints"), "default", "web")
        return (ep.get("subsets") or [{}])[0].get("addresses")

    await until(sim_full, endpoints, "web's Endpoints have an address")
    deploy = rows(await kubectl("get", "deployment", "web", "-o", "wide"))
    assert deploy[0] == [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ]
    assert deploy[1][5:] == ["nginx", "nginx:1.27", "app=web"]
    rs = rows(await kubectl("get", "rs", "-o", "wide"))
    assert rs[0][-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert rs[1][-3:-1] == ["nginx", "nginx:1.27"]
    assert rs[1][-1].startswith("app=web,pod-template-hash=")
    node = rows(await kubectl("get", "nodes", "-o", "wide"))
    assert node[0] == [
        "NAME",
        "STATUS",
        "ROLES",
        "AGE",
        "VERSION",
        "INTERNAL-IP",
        "EXTERNAL-IP",
        "OS-IMAGE",
        "KERNEL-VERSION",
        "CONTAINER-RUNTIME",
    ]
    assert node[1][1:3] == ["Ready", "control-plane"]
    assert node[1][5:] == [
        "172.18.0.2",
        "<none>",
        "tend sim (Debian GNU/Linux 13)",
        "6.12.0-sim",
        "containerd://sim",
    ]
    ep = rows(await kubectl("get", "endpoints", "web"))
    assert ep[0] == ["NAME", "ENDPOINTS", "AGE"]
    assert ep[1][1].endswith(":80") and ep[1][1].startswith("10.244.")
    job = rows(await kubectl("get", "job", "once", "-o", "wide"))
    assert job[0][-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert job[1][-3:-1] == ["once", "sim/complete:1s-0"]
    assert job[1][-1].startswith("batch.kubernetes.io/controller-uid=")
