"""The official sync `kubernetes` client sends POST and PUT bodies without a Content-Type, which
kube-apiserver reads as JSON: create, replace, the three patches and delete all work."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from tend_sim.cluster import SimCluster

from .conftest import msvc


def _clients(kubeconfig: Path) -> client.ApiClient:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    return client.ApiClient(cfg)


@contextlib.contextmanager
def _content_type(api_client: client.ApiClient, ctype: str) -> Iterator[None]:
    """Choose the patch type (the client picks strategic merge for a dict, JSON patch for a
    list, whatever the resource)."""
    api_client.set_default_header("Content-Type", ctype)
    try:
        yield
    finally:
        api_client.default_headers.pop("Content-Type", None)


def _configmap_roundtrip(api_client: client.ApiClient) -> dict[str, Any]:
    core = client.CoreV1Api(api_client)
    body = {"metadata": {"name": "settings"}, "data": {"a": "1"}}
    created = core.create_namespaced_config_map("default", body)
    created.data["b"] = "2"
    core.replace_namespaced_config_map("settings", "default", created)
    core.patch_namespaced_config_map("settings", "default", {"data": {"c": "3"}})
    core.patch_namespaced_config_map(
        "settings", "default", [{"op": "add", "path": "/data/d", "value": "4"}]
    )
    with _content_type(api_client, "application/merge-patch+json"):
        core.patch_namespaced_config_map("settings", "default", {"data": {"e": "5"}})
    got = core.read_namespaced_config_map("settings", "default").to_dict()
    core.delete_namespaced_config_map("settings", "default")
    with pytest.raises(client.ApiException) as gone:
        core.read_namespaced_config_map("settings", "default")
    assert gone.value.status == 404
    return got


def _deployment_roundtrip(api_client: client.ApiClient) -> dict[str, Any]:
    apps = client.AppsV1Api(api_client)
    labels = {"app": "web"}
    body = {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "nginx:1"}]},
            },
        },
    }
    created = apps.create_namespaced_deployment("default", body)
    created.spec.replicas = 2
    apps.replace_namespaced_deployment("web", "default", created)
    # strategic merge: the container list merges by name instead of being replaced
    apps.patch_namespaced_deployment(
        "web",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}},
    )
    apps.patch_namespaced_deployment(
        "web", "default", [{"op": "replace", "path": "/spec/replicas", "value": 3}]
    )
    got = api_client.sanitize_for_serialization(apps.read_namespaced_deployment("web", "default"))
    apps.delete_namespaced_deployment("web", "default")
    return dict(got)


def _managedservice_roundtrip(api_client: client.ApiClient) -> dict[str, Any]:
    custom = client.CustomObjectsApi(api_client)
    args = ("tend.dev", "v1alpha1", "default", "managedservices")
    created = custom.create_namespaced_custom_object(*args, msvc("api"))
    created["spec"]["replicas"] = 2
    custom.replace_namespaced_custom_object(*args, "api", created)
    with _content_type(api_client, "application/json-patch+json"):
        custom.patch_namespaced_custom_object(
            *args, "api", [{"op": "replace", "path": "/spec/replicas", "value": 3}]
        )
    with _content_type(api_client, "application/merge-patch+json"):
        custom.patch_namespaced_custom_object(*args, "api", {"metadata": {"labels": {"a": "b"}}})
    with (
        _content_type(api_client, "application/strategic-merge-patch+json"),
        pytest.raises(client.ApiException) as strategic,
    ):
        custom.patch_namespaced_custom_object(*args, "api", {"spec": {"replicas": 9}})
    assert strategic.value.status == 415  # custom resources take no strategic merge patch
    got: dict[str, Any] = custom.get_namespaced_custom_object(*args, "api")
    custom.delete_namespaced_custom_object(*args, "api")
    return got


@pytest.mark.parametrize(
    ("plural", "roundtrip", "check"),
    [
        (
            "configmaps",
            _configmap_roundtrip,
            lambda o: o["data"] == {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"},
        ),
        (
            "deployments",
            _deployment_roundtrip,
            lambda o: (
                o["spec"]["replicas"] == 3
                and o["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
            ),
        ),
        (
            "managedservices",
            _managedservice_roundtrip,
            lambda o: o["spec"]["replicas"] == 3 and o["metadata"]["labels"] == {"a": "b"},
        ),
    ],
    ids=["configmap", "deployment", "managedservice"],
)
async def test_sync_client_writes_without_content_type(
    sim: SimCluster,
    tmp_path: Path,
    plural: str,
    roundtrip: Callable[[client.ApiClient], dict[str, Any]],
    check: Callable[[dict[str, Any]], bool],
) -> None:
    with _clients(sim.write_kubeconfig(tmp_path / "kubeconfig")) as api_client:
        got = await asyncio.to_thread(roundtrip, api_client)
    assert check(got), got
    assert sim.server.requests[("delete", plural)] == 1
