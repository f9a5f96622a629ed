"""kubectl's everyday verbs against the simulated cluster, each checked by what the server then
holds (read back with `kubectl get -o json`), beyond tests/sim/integration/test_kubectl.py
(apply of CRDs and samples, explain and wait on a custom resource, events) and
test_kubectl_create.py (every `kubectl create <kind>`)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from waiting import until

from .conftest import Cluster, Ran, configmap, deployment, managed_service, run_kubectl

NS = "kubectl"


async def ok(cluster: Cluster, *args: str, stdin: str | None = None, **env: str) -> str:
    ran = await run_kubectl(cluster, "-n", NS, *args, stdin=stdin, env=env or None)
    assert ran.code == 0, f"kubectl {' '.join(args)}: {ran.err}"
    return ran.out


async def fails(cluster: Cluster, *args: str, stdin: str | None = None) -> Ran:
    ran = await run_kubectl(cluster, "-n", NS, *args, stdin=stdin)
    assert ran.code != 0, f"kubectl {' '.join(args)} succeeded: {ran.out}"
    return ran


async def get(cluster: Cluster, *what: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(await ok(cluster, "get", *what, "-o", "json"))
    return out


async def test_configmap_create_get_describe_label_annotate_patch_edit_delete(
    cluster: Cluster, tmp_path: Path
) -> None:
    manifest = yaml.safe_dump(configmap(NS, "settings"))
    assert (await ok(cluster, "create", "-f", "-", stdin=manifest)).strip() == (
        "configmap/settings created"
    )
    obj = await get(cluster, "configmap", "settings")
    assert obj["data"] == {"a": "1"} and obj["metadata"]["uid"]
    assert (await ok(cluster, "get", "cm", "-l", "matrix=yes", "-o", "name")).split() == [
        "configmap/settings"
    ]
    # A client-side diff of an object `kubectl create` made: the dry-run patch carries
    # `annotations: {}` (no last-applied to keep), which the server does not store.
    changed = yaml.safe_dump({**configmap(NS, "settings"), "data": {"a": "2"}})
    diff = await run_kubectl(cluster, "-n", NS, "diff", "-f", "-", stdin=changed)
    assert diff.code == 1 and '+  a: "2"' in diff.out, diff.err
    assert "annotations" not in diff.out
    described = await ok(cluster, "describe", "configmap", "settings")
    assert "Name:         settings" in described and "Labels:       matrix=yes" in described

    assert "configmap/settings labeled" in await ok(cluster, "label", "cm", "settings", "t=x")
    assert "annotated" in await ok(cluster, "annotate", "cm", "settings", "note=hi")
    meta = (await get(cluster, "cm", "settings"))["metadata"]
    assert (meta["labels"], meta["annotations"]) == ({"matrix": "yes", "t": "x"}, {"note": "hi"})

    await ok(cluster, "patch", "cm", "settings", "--type=merge", "-p", '{"data":{"b":"2"}}')
    json_patch = '[{"op":"remove","path":"/data/a"}]'
    await ok(cluster, "patch", "cm", "settings", "--type=json", "-p", json_patch)
    # The default (strategic) with a directive only strategic merge knows:
    await ok(cluster, "patch", "cm", "settings", "-p", '{"data":{"$patch":"replace","c":"3"}}')
    assert (await get(cluster, "cm", "settings"))["data"] == {"c": "3"}

    editor = tmp_path / "editor.py"
    editor.write_text(
        "import pathlib, sys\n"
        "p = pathlib.Path(sys.argv[-1])\n"
        "p.write_text(p.read_text().replace('c: \"3\"', 'c: edited'))\n"
    )
    edited = await ok(cluster, "edit", "cm", "settings", KUBE_EDITOR=f"{sys.executable} {editor}")
    assert "configmap/settings edited" in edited
    assert (await get(cluster, "cm", "settings"))["data"] == {"c": "edited"}

    assert 'configmap "settings" deleted' in await ok(cluster, "delete", "cm", "settings")
    await ok(cluster, "wait", "--for=delete", "cm/settings", "--timeout=10s")
    missing = await fails(cluster, "get", "cm", "settings")
    assert 'configmaps "settings" not found' in missing.err


async def test_deployment_apply_diff_scale_rollout_set_image_logs_events(
    cluster: Cluster,
) -> None:
    manifest = deployment(NS, "web")
    assert "deployment.apps/web created" in await ok(
        cluster, "apply", "-f", "-", stdin=yaml.safe_dump(manifest)
    )
    assert "deployment.apps/web unchanged" in await ok(
        cluster, "apply", "-f", "-", stdin=yaml.safe_dump(manifest)
    )
    changed = yaml.safe_dump(deployment(NS, "web", image="nginx:2"))
    diff = await run_kubectl(cluster, "-n", NS, "diff", "-f", "-", stdin=changed)
    assert diff.code == 1, diff.err  # 1: differences found
    assert "-      - image: nginx:1" in diff.out and "+      - image: nginx:2" in diff.out
    assert "+  generation: 2" in diff.out
    assert "configured" in await ok(cluster, "apply", "-f", "-", stdin=changed)
    obj = await get(cluster, "deploy", "web")
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]
    assert (await run_kubectl(cluster, "-n", NS, "diff", "-f", "-", stdin=changed)).code == 0

    assert "deployment.apps/web scaled" in await ok(cluster, "scale", "deploy/web", "--replicas=2")
    assert "successfully rolled out" in await ok(
        cluster, "rollout", "status", "deploy/web", "--timeout=60s"
    )
    assert (await get(cluster, "deploy", "web"))["status"]["readyReplicas"] == 2
    await ok(cluster, "wait", "--for=condition=Available", "deploy/web", "--timeout=30s")

    assert "image updated" in await ok(cluster, "set", "image", "deploy/web", "web=nginx:3")
    await ok(cluster, "rollout", "status", "deploy/web", "--timeout=60s")
    history = await ok(cluster, "rollout", "history", "deploy/web")
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2", "3"]
    assert "rolled back" in await ok(cluster, "rollout", "undo", "deploy/web")
    obj = await get(cluster, "deploy", "web")
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert "restarted" in await ok(cluster, "rollout", "restart", "deploy/web")
    template = (await get(cluster, "deploy", "web"))["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
    await ok(cluster, "rollout", "status", "deploy/web", "--timeout=60s")

    logs = await ok(cluster, "logs", "deploy/web")
    assert "ready: serving requests" in logs
    events = await ok(cluster, "events", "--for", "deploy/web")
    assert "ScalingReplicaSet" in events and "Deployment/web" in events


async def test_custom_resource_server_side_apply_conflicts_and_patch_types(
    cluster: Cluster,
) -> None:
    manifest = yaml.safe_dump(managed_service(NS, "api"))
    applied = await ok(cluster, "apply", "--server-side", "-f", "-", stdin=manifest)
    assert "managedservice.tend.dev/api serverside-applied" in applied
    obj = await get(cluster, "msvc", "api", "--show-managed-fields")
    entries = [(e["manager"], e["operation"]) for e in obj["metadata"]["managedFields"]]
    assert entries == [("kubectl", "Apply")]

    await ok(cluster, "patch", "msvc", "api", "--type=merge", "-p", '{"spec":{"image":"a:2"}}')
    conflicting = yaml.safe_dump(managed_service(NS, "api", image="a:3"))
    conflict = await fails(cluster, "apply", "--server-side", "-f", "-", stdin=conflicting)
    assert 'Apply failed with 1 conflict: conflict with "kubectl-patch"' in conflict.err
    assert ".spec.image" in conflict.err
    diff = await run_kubectl(
        cluster,
        "-n",
        NS,
        "diff",
        "--server-side",
        "--force-conflicts",
        "-f",
        "-",
        stdin=conflicting,
    )
    assert diff.code == 1 and "+  image: a:3" in diff.out, diff.err
    await ok(cluster, "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=conflicting)
    assert (await get(cluster, "msvc", "api"))["spec"]["image"] == "a:3"

    json_patch = '[{"op":"add","path":"/metadata/labels/j","value":"y"}]'
    await ok(cluster, "patch", "msvc", "api", "--type=json", "-p", json_patch)
    assert (await get(cluster, "msvc", "api"))["metadata"]["labels"]["j"] == "y"
    strategic = await fails(cluster, "patch", "msvc", "api", "-p", '{"spec":{"image":"b"}}')
    assert "application/strategic-merge-patch+json is not supported by tend.dev/v1alpha1" in (
        strategic.err
    )
    assert "accepted media types include: application/json-patch+json, " in strategic.err
    await ok(cluster, "delete", "msvc", "api", "--wait")


async def test_discovery_explain_auth_and_version(cluster: Cluster) -> None:
    resources = await ok(cluster, "api-resources", "--api-group=tend.dev")
    rows = [line.split() for line in resources.splitlines()]
    assert rows[0] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert rows[1][:2] == ["managedservices", "msvc"]
    assert rows[1][2:] == ["tend.dev/v1alpha1", "true", "ManagedService"]
    versions = (await ok(cluster, "api-versions")).split()
    assert {"v1", "apps/v1", "tend.dev/v1alpha1", "authorization.k8s.io/v1"} <= set(versions)
    explained = await ok(cluster, "explain", "deployment.spec.replicas")
    assert "FIELD: replicas <integer>" in explained
    assert (await ok(cluster, "auth", "can-i", "create", "deployments")).strip() == "yes"
    assert "kubernetes-admin" in await ok(cluster, "auth", "whoami")
    assert "Server Version: v1.37.0-tend-sim" in await ok(cluster, "version")


@pytest.mark.parametrize(
    "args",
    [
        ("exec", "deploy/stream", "--", "ls"),
        ("attach", "deploy/stream"),
        ("port-forward", "deploy/stream", "18080:80"),
        ("cp", "README.md", "__POD__:/tmp/README.md"),
    ],
    ids=["exec", "attach", "port-forward", "cp"],
)
async def test_streaming_verbs_are_refused_as_unserved(cluster: Cluster, args: Any) -> None:
    """pods/exec, attach and portforward need a connection upgrade (SPDY or WebSocket) the
    simulator does not serve: it answers 404, which kubectl reports as below."""
    await run_kubectl(cluster, "-n", NS, "create", "deployment", "stream", "--image=nginx:1")
    await ok(cluster, "rollout", "status", "deploy/stream", "--timeout=60s")
    pods = await ok(cluster, "get", "pods", "-l", "app=stream", "-o", "name")
    pod = pods.split()[0].removeprefix("pod/")
    ran = await fails(cluster, *(a.replace("__POD__", pod) for a in args))
    assert "unable to upgrade connection: the server could not find the requested resource" in (
        ran.err
    )


async def test_top_says_the_metrics_api_is_not_available(cluster: Cluster) -> None:
    for what in ("pod", "node"):
        ran = await fails(cluster, "top", what)
        assert ran.err.strip() == "error: Metrics API not available"


async def test_autoscale_expose_run_replace_raw_and_node_verbs(cluster: Cluster) -> None:
    await ok(cluster, "create", "deployment", "api", "--image=nginx:1")
    # kubectl sends HorizontalPodAutoscaler (autoscaling/v2) and Service as protobuf.
    autoscaled = await ok(cluster, "autoscale", "deploy/api", "--min=1", "--max=3", "--cpu=80%")
    assert "horizontalpodautoscaler.autoscaling/api autoscaled" in autoscaled
    hpa = await get(cluster, "hpa", "api")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 3)
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {
        "type": "Utilization",
        "averageUtilization": 80,
    }
    assert "service/api exposed" in await ok(cluster, "expose", "deploy/api", "--port=80")
    svc = await get(cluster, "svc", "api")
    assert svc["spec"]["selector"] == {"app": "api"} and svc["spec"]["clusterIP"]
    await ok(cluster, "wait", "--for=jsonpath={.status.readyReplicas}=1", "deploy/api")

    assert "pod/once created" in await ok(cluster, "run", "once", "--image=nginx:1", "-l", "x=y")
    await ok(cluster, "wait", "--for=condition=Ready", "pod/once", "--timeout=30s")
    replaced = configmap(NS, "swap", a="1")
    await ok(cluster, "create", "-f", "-", stdin=yaml.safe_dump(replaced))
    replaced["data"] = {"b": "2"}
    assert "configmap/swap replaced" in await ok(
        cluster, "replace", "-f", "-", stdin=yaml.safe_dump(replaced)
    )
    raw = json.loads(await ok(cluster, "get", "--raw", f"/api/v1/namespaces/{NS}/configmaps/swap"))
    assert raw["data"] == {"b": "2"}
    dry = await ok(cluster, "delete", "cm", "swap", "--dry-run=server")
    assert "(server dry run)" in dry
    assert (await get(cluster, "cm", "swap"))["data"] == {"b": "2"}

    node = (await ok(cluster, "get", "nodes", "-o", "name")).split()[0].removeprefix("node/")
    try:
        drained = await ok(cluster, "drain", node, "--pod-selector=x=y", "--force", "--timeout=30s")
        assert f"node/{node} cordoned" in drained and "pod/once evicted" in drained
        assert (await get(cluster, "node", node))["spec"]["unschedulable"] is True
        assert (await fails(cluster, "get", "pod", "once")).err.strip().endswith("not found")
    finally:
        assert f"node/{node} uncordoned" in await ok(cluster, "uncordon", node)
    assert "unschedulable" not in (await get(cluster, "node", node))["spec"]


async def test_subresources_watch_pause_resume_and_foreground_delete(cluster: Cluster) -> None:
    await ok(cluster, "create", "-f", "-", stdin=yaml.safe_dump(managed_service(NS, "sub")))
    status = '{"status":{"phase":"Running"}}'
    await ok(cluster, "patch", "msvc", "sub", "--subresource=status", "--type=merge", "-p", status)
    assert (await get(cluster, "msvc", "sub", "--subresource=status"))["status"] == {
        "phase": "Running"
    }
    # The CRD's scale subresource: spec.replicas through autoscaling/v1 Scale.
    assert "managedservice.tend.dev/sub scaled" in await ok(
        cluster, "scale", "msvc", "sub", "--replicas=3"
    )
    scale = await get(cluster, "msvc", "sub", "--subresource=scale")
    assert (scale["kind"], scale["spec"]["replicas"]) == ("Scale", 3)
    assert (await get(cluster, "msvc", "sub"))["metadata"]["generation"] == 2

    watches = cluster.store.watch_count()  # the simulated controllers' own watches
    watching = asyncio.create_task(
        run_kubectl(
            cluster,
            "-n",
            NS,
            "get",
            "msvc",
            "sub",
            "--watch-only",
            "--output-watch-events",
            "-o",
            "jsonpath={.type} {.object.spec.image}{'\\n'}",
            "--request-timeout=3s",
        )
    )
    await until(cluster.store, lambda: cluster.store.watch_count() > watches, "kubectl's watch")
    await ok(cluster, "patch", "msvc", "sub", "--type=merge", "-p", '{"spec":{"image":"w:2"}}')
    watched = await watching
    assert watched.out.splitlines()[0] == "MODIFIED w:2", watched

    await ok(cluster, "create", "deployment", "held", "--image=nginx:1")
    assert "paused" in await ok(cluster, "rollout", "pause", "deploy/held")
    await ok(cluster, "set", "image", "deploy/held", "nginx=nginx:2")
    held = await get(cluster, "deploy", "held")
    assert held["spec"]["paused"] is True
    assert "resumed" in await ok(cluster, "rollout", "resume", "deploy/held")
    await ok(cluster, "rollout", "status", "deploy/held", "--timeout=60s")
    # Foreground: the Deployment waits (foregroundDeletion) for its ReplicaSets and pods.
    await ok(cluster, "delete", "deploy", "held", "--cascade=foreground", "--timeout=60s")
    leftover = await ok(cluster, "get", "rs,pods", "-l", "app=held", "-o", "name")
    assert leftover.strip() == ""
