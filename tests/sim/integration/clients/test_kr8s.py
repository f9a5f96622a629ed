"""kr8s (asyncio API, httpx): each verb it has on a ConfigMap, a Deployment and a ManagedService
(a class from `new_class`). kr8s patches with merge or JSON patch only, and has no
server-side apply: the apply below goes through its raw `call_api`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import kr8s
import kr8s.asyncio
import pytest
from kr8s.asyncio.objects import ConfigMap, Deployment, new_class

from .conftest import (
    BUILDERS,
    GROUP,
    JSON_PATCH,
    KINDS,
    MERGE_PATCH,
    PLURAL,
    VERSION,
    Cluster,
    applied_by,
    apply_config,
    check_created,
)

# kr8s 0.20 knows Kubernetes up to 1.35 and says so about the simulator's 1.37.
pytestmark = pytest.mark.filterwarnings("ignore:Kubernetes version .* is not supported")

ManagedService = new_class(
    "ManagedService", version=f"{GROUP}/{VERSION}", namespaced=True, plural=PLURAL
)
CLASSES: dict[str, Any] = {
    "configmap": ConfigMap,
    "deployment": Deployment,
    "managedservice": ManagedService,
}


@pytest.mark.parametrize("kind", KINDS)
async def test_object_verbs(cluster: Cluster, kind: str) -> None:
    api = await kr8s.asyncio.api(kubeconfig=str(cluster.kubeconfig))
    ns, name, cls = "kr8s", f"k-{kind}", CLASSES[kind]
    obj = cls(BUILDERS[kind](ns, name), api=api)
    await obj.create()
    check_created(obj.raw, ns, name)
    with pytest.raises(kr8s.ServerError) as exists:
        await cls(BUILDERS[kind](ns, name), api=api).create()
    assert exists.value.response is not None and exists.value.response.status_code == 409
    got = await cls.get(name, namespace=ns, api=api)
    assert got.metadata.uid == obj.metadata.uid
    listed = api.get(cls.endpoint, namespace=ns, label_selector={"matrix": "yes"})
    assert [o.name async for o in listed] == [name]

    await got.patch(MERGE_PATCH)
    assert got.labels == {"matrix": "yes", "merged": "yes"}
    seen = None
    async with asyncio.timeout(10):  # kr8s' watch has no timeout of its own
        async for event, changed in api.watch(
            cls.endpoint, namespace=ns, since=obj.metadata.resourceVersion
        ):
            if changed.metadata.resourceVersion == got.metadata.resourceVersion:
                seen = (event, dict(changed.labels))
                break
    assert seen == ("MODIFIED", {"matrix": "yes", "merged": "yes"})
    await got.patch(JSON_PATCH, type="json")
    assert got.labels == {"matrix": "yes", "merged": "yes", "json": "yes"}

    body = json.dumps(apply_config(kind, ns, name))
    async with api.call_api(
        "PATCH",
        version=cls.version,
        url=f"{cls.endpoint}/{name}",
        namespace=ns,
        content=body,
        headers={"Content-Type": "application/apply-patch+yaml"},
        params={"fieldManager": "matrix-kr8s"},
    ) as resp:
        applied = resp.json()
    assert applied["metadata"]["labels"]["applied"] == "yes"
    applied_by(applied, "matrix-kr8s")

    await got.delete()
    assert not await got.exists()


async def test_version_is_served_with_a_trailing_slash(cluster: Cluster) -> None:
    """kr8s asks for `/version/`: kube-apiserver's version WebService is Path("/version") with
    GET("/") (apiserver/pkg/endpoints/routes/version.go), which go-restful serves either way."""
    async with aiohttp.ClientSession() as session:
        for path in ("/version", "/version/"):
            async with session.get(cluster.url + path) as resp:
                assert resp.status == 200, path
                assert (await resp.json())["major"] == "1"
