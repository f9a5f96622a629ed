"""The Python clients the operator uses, and `tend sim serve`, work against the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException
from waiting import until

from tend_sim.cluster import SimCluster

from .conftest import Api, msvc


async def test_kubernetes_asyncio_crud_and_watch(sim: SimCluster, api: Api, tmp_path: Path) -> None:
    kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    async with client.ApiClient(cfg) as api_client:
        core = client.CoreV1Api(api_client)
        custom = client.CustomObjectsApi(api_client)
        await core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="shop")))
        namespaces = await core.list_namespace()
        assert "shop" in [n.metadata.name for n in namespaces.items]
        created = await custom.create_namespaced_custom_object(
            "tend.dev", "v1alpha1", "default", "managedservices", msvc("api")
        )
        with pytest.raises(ApiException) as conflict:
            await custom.create_namespaced_custom_object(
                "tend.dev", "v1alpha1", "default", "managedservices", msvc("api")
            )
        assert conflict.value.status == 409
        rv = created["metadata"]["resourceVersion"]
        async with watch.Watch() as watcher:
            stream = watcher.stream(
                custom.list_namespaced_custom_object,
                "tend.dev",
                "v1alpha1",
                "default",
                "managedservices",
                resource_version=rv,
                timeout_seconds=5,
            )
            patched = asyncio.create_task(anext(stream))
            await until(sim, sim.store.watch_count, "a watch open on the store")
            # A dict body defaults to application/json-patch+json, which a real server refuses:
            with pytest.raises(ApiException) as wrong_type:
                await custom.patch_namespaced_custom_object_status(
                    "tend.dev",
                    "v1alpha1",
                    "default",
                    "managedservices",
                    "api",
                    {"status": {"phase": "Running"}},
                )
            assert wrong_type.value.status == 400
            await custom.patch_namespaced_custom_object_status(
                "tend.dev",
                "v1alpha1",
                "default",
                "managedservices",
                "api",
                {"status": {"phase": "Running"}},
                _content_type="application/merge-patch+json",
            )
            event = await patched
            assert event["type"] == "MODIFIED"
            assert event["object"]["status"] == {"phase": "Running"}


@contextlib.asynccontextmanager
async def sim_serve(kubeconfig: Path, *flags: str) -> AsyncIterator[tuple[Process, str]]:
    """`tend sim serve` in its own process and the URL it prints; it must exit 0 on SIGTERM."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from tend_sim.cli import app; app()",
        "serve",
        "--kubeconfig",
        str(kubeconfig),
        "--no-controllers",
        *flags,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        first = await asyncio.wait_for(proc.stdout.readline(), 30)
        yield proc, first.decode().split()[-1]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
    assert code == 0


async def test_tend_sim_serve_writes_a_kubeconfig_and_stops_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    async with sim_serve(kubeconfig, "--port", "0") as (_, url):
        assert url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as session, session.get(url + "/version") as r:
            assert (await r.json())["major"] == "1"
        assert url in kubeconfig.read_text()


async def test_tend_sim_serve_with_auth_and_tls(tmp_path: Path) -> None:
    import base64
    import ssl

    import yaml

    kubeconfig = tmp_path / "kc"
    async with sim_serve(kubeconfig, "--auth", "--tls") as (proc, url):
        assert url.startswith("https://127.0.0.1:")
        assert proc.stdout is not None
        await asyncio.wait_for(proc.stdout.readline(), 30)  # the kubeconfig is written
        cluster = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]
        ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
        ctx = ssl.create_default_context(cadata=ca)
        async with aiohttp.ClientSession() as session:
            bogus = {"Authorization": "Bearer nope"}
            async with session.get(url + "/version", ssl=ctx, headers=bogus) as r:
                assert r.status == 401
            async with session.get(url + "/version", ssl=ctx) as r:
                assert r.status == 200
