"""lightkube (httpx, typed models from lightkube-models): each verb on a ConfigMap, a Deployment
and a ManagedService (a generic resource), with the sync Client; the AsyncClient shares its
request building, and is driven through create/watch/apply below."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from lightkube import ApiError, AsyncClient, Client, KubeConfig, codecs
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from .conftest import (
    AFTER_STRATEGIC,
    BUILDERS,
    GROUP,
    JSON_PATCH,
    KINDS,
    MERGE_PATCH,
    PLURAL,
    STRATEGIC_PATCH,
    VERSION,
    Cluster,
    applied_by,
    apply_config,
    check_created,
    configmap,
    labels,
)

ManagedService = create_namespaced_resource(GROUP, VERSION, "ManagedService", PLURAL)
RESOURCES: dict[str, Any] = {
    "configmap": ConfigMap,
    "deployment": Deployment,
    "managedservice": ManagedService,
}


@pytest.fixture
def kube(cluster: Cluster) -> Iterator[Client]:
    client = Client(config=KubeConfig.from_file(cluster.kubeconfig), field_manager="matrix-lk")
    yield client
    client.close()


def plain(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = obj.to_dict()
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_client_verbs(kube: Client, kind: str) -> None:
    ns, name, res = "lightkube", f"lk-{kind}", RESOURCES[kind]
    created = plain(kube.create(codecs.from_dict(BUILDERS[kind](ns, name))))
    check_created(created, ns, name)
    with pytest.raises(ApiError) as exists:
        kube.create(codecs.from_dict(BUILDERS[kind](ns, name)))
    assert exists.value.status.code == 409
    assert kube.get(res, name, namespace=ns).metadata.uid == created["metadata"]["uid"]
    listed = [o.metadata.name for o in kube.list(res, namespace=ns, labels={"matrix": "yes"})]
    assert listed == [name]

    merged = kube.patch(res, name, MERGE_PATCH, namespace=ns, patch_type=PatchType.MERGE)
    assert merged.metadata.labels == {"matrix": "yes", "merged": "yes"}
    rv = created["metadata"]["resourceVersion"]
    seen = None
    for op, obj in kube.watch(res, namespace=ns, resource_version=rv, server_timeout=5):
        if obj.metadata.resourceVersion == merged.metadata.resourceVersion:
            seen = (op, obj.metadata.labels)
            break
    assert seen == ("MODIFIED", {"matrix": "yes", "merged": "yes"})

    patched = kube.patch(res, name, JSON_PATCH, namespace=ns, patch_type=PatchType.JSON)
    assert patched.metadata.labels["json"] == "yes"
    if kind == "managedservice":
        # lightkube's default patch type is strategic, which custom resources refuse.
        with pytest.raises(ApiError) as unsupported:
            kube.patch(res, name, STRATEGIC_PATCH, namespace=ns)
        assert unsupported.value.status.code == 415
        reset = [{"op": "replace", "path": "/metadata/labels", "value": AFTER_STRATEGIC}]
        kube.patch(res, name, reset, namespace=ns, patch_type=PatchType.JSON)
    else:
        strategic = kube.patch(res, name, STRATEGIC_PATCH, namespace=ns)
        assert strategic.metadata.labels == AFTER_STRATEGIC

    body = apply_config(kind, ns, name)
    if kind == "deployment":  # lightkube's Deployment model requires a spec, even to apply
        body["spec"] = BUILDERS[kind](ns, name)["spec"]
    applied = plain(kube.apply(codecs.from_dict(body)))
    assert labels(applied) == {**AFTER_STRATEGIC, "applied": "yes"}
    applied_by(applied, "matrix-lk")

    kube.delete(res, name, namespace=ns)
    with pytest.raises(ApiError) as gone:
        kube.get(res, name, namespace=ns)
    assert gone.value.status.code == 404


async def test_async_client_create_watch_apply(cluster: Cluster) -> None:
    ns = "lightkube"
    client = AsyncClient(config=KubeConfig.from_file(cluster.kubeconfig))
    try:
        created = await client.create(codecs.from_dict(configmap(ns, "lk-async")))
        assert created.metadata.uid
        rv = created.metadata.resourceVersion
        body = apply_config("configmap", ns, "lk-async")
        applied = await client.apply(codecs.from_dict(body), field_manager="matrix-lk-async")
        applied_by(applied.to_dict(), "matrix-lk-async")
        async for op, obj in client.watch(
            ConfigMap, namespace=ns, resource_version=rv, server_timeout=5
        ):
            assert (op, obj.metadata.name) == ("MODIFIED", "lk-async")
            assert obj.metadata.labels == {"matrix": "yes", "applied": "yes"}
            break
        await client.delete(ConfigMap, "lk-async", namespace=ns)
    finally:
        await client.close()
