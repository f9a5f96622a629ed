"""kubernetes_asyncio (the operator's client): typed APIs and CustomObjectsApi, each verb on a
ConfigMap, a Deployment and a ManagedService. tests/sim/integration/test_clients.py has its
custom-resource CRUD and watch; this adds the built-in kinds, the patch types and apply."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException

from .conftest import (
    AFTER_STRATEGIC,
    APPLY,
    BUILDERS,
    GROUP,
    JSON,
    JSON_PATCH,
    KINDS,
    MERGE,
    MERGE_PATCH,
    PLURAL,
    STRATEGIC,
    STRATEGIC_PATCH,
    VERSION,
    Cluster,
    applied_by,
    apply_config,
    check_created,
    labels,
)


@pytest.fixture
async def api_client(cluster: Cluster) -> AsyncIterator[client.ApiClient]:
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(cluster.kubeconfig), client_configuration=cfg)
    async with client.ApiClient(cfg) as api:
        yield api


def verbs(api: client.ApiClient, kind: str, ns: str) -> dict[str, Callable[..., Any]]:
    """create/read/list/patch/delete of one kind, each taking what differs (name, body)."""
    if kind == "managedservice":
        custom = client.CustomObjectsApi(api)
        args = (GROUP, VERSION, ns, PLURAL)
        return {
            "create": lambda body: custom.create_namespaced_custom_object(*args, body),
            "read": lambda name: custom.get_namespaced_custom_object(*args, name),
            "list": lambda **kw: custom.list_namespaced_custom_object(*args, **kw),
            "list_fn": custom.list_namespaced_custom_object,
            "list_args": lambda: args,
            "patch": lambda name, body, **kw: custom.patch_namespaced_custom_object(
                *args, name, body, **kw
            ),
            "delete": lambda name: custom.delete_namespaced_custom_object(*args, name),
        }
    typed: Any = client.CoreV1Api(api) if kind == "configmap" else client.AppsV1Api(api)
    suffix = "config_map" if kind == "configmap" else "deployment"

    def op(verb: str) -> Any:
        return getattr(typed, f"{verb}_namespaced_{suffix}")

    return {
        "create": lambda body: op("create")(ns, body),
        "read": lambda name: op("read")(name, ns),
        "list": lambda **kw: op("list")(ns, **kw),
        "list_fn": op("list"),
        "list_args": lambda: (ns,),
        "patch": lambda name, body, **kw: op("patch")(name, ns, body, **kw),
        "delete": lambda name: op("delete")(name, ns),
    }


@pytest.mark.parametrize("kind", KINDS)
async def test_typed_api_verbs(api_client: client.ApiClient, kind: str) -> None:
    ns, name = "asyncio", f"typed-{kind}"
    api = verbs(api_client, kind, ns)

    def plain(value: Any) -> dict[str, Any]:
        out: dict[str, Any] = api_client.sanitize_for_serialization(value)
        return out

    created = plain(await api["create"](BUILDERS[kind](ns, name)))
    check_created(created, ns, name)
    with pytest.raises(ApiException) as exists:
        await api["create"](BUILDERS[kind](ns, name))
    assert exists.value.status == 409
    assert plain(await api["read"](name))["metadata"]["uid"] == created["metadata"]["uid"]
    listed = plain(await api["list"](label_selector="matrix=yes"))
    assert [i["metadata"]["name"] for i in listed["items"]] == [name]

    merged = plain(await api["patch"](name, MERGE_PATCH, _content_type=MERGE))
    assert labels(merged) == {"matrix": "yes", "merged": "yes"}
    seen = None
    async with watch.Watch() as watcher:
        stream = watcher.stream(
            api["list_fn"],
            *api["list_args"](),
            resource_version=created["metadata"]["resourceVersion"],
            timeout_seconds=5,
        )
        async for event in stream:
            if (
                event["raw_object"]["metadata"]["resourceVersion"]
                == merged["metadata"]["resourceVersion"]
            ):
                seen = event
                break
    assert seen is not None and seen["type"] == "MODIFIED"
    assert seen["raw_object"]["metadata"]["labels"]["merged"] == "yes"

    patched = plain(await api["patch"](name, JSON_PATCH, _content_type=JSON))
    assert labels(patched) == {"matrix": "yes", "merged": "yes", "json": "yes"}
    if kind == "managedservice":
        with pytest.raises(ApiException) as unsupported:
            await api["patch"](name, STRATEGIC_PATCH, _content_type=STRATEGIC)
        assert unsupported.value.status == 415
        reset = [{"op": "replace", "path": "/metadata/labels", "value": AFTER_STRATEGIC}]
        await api["patch"](name, reset, _content_type=JSON)
    else:
        strategic = plain(await api["patch"](name, STRATEGIC_PATCH, _content_type=STRATEGIC))
        assert labels(strategic) == AFTER_STRATEGIC

    config_ = apply_config(kind, ns, name)
    applied = plain(
        await api["patch"](name, config_, field_manager="matrix-asyncio", _content_type=APPLY)
    )
    assert labels(applied) == {**AFTER_STRATEGIC, "applied": "yes"}
    applied_by(applied, "matrix-asyncio")
    # An apply without a field manager is refused (PatchOptions.fieldManager is required).
    with pytest.raises(ApiException) as no_manager:
        await api["patch"](name, config_, _content_type=APPLY)
    assert no_manager.value.status == 422

    await api["delete"](name)
    with pytest.raises(ApiException) as gone:
        await api["read"](name)
    assert gone.value.status == 404
