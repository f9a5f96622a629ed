"""The official synchronous client (`kubernetes`): typed APIs, CustomObjectsApi and
`kubernetes.dynamic`, each verb on a ConfigMap, a Deployment and a ManagedService."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config, dynamic, watch
from kubernetes.client.exceptions import ApiException

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
def api_client(cluster: Cluster) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(str(cluster.kubeconfig))
    with api:
        yield api


class Typed:
    """One kind's verbs through the typed APIs (CustomObjectsApi for the custom resource)."""

    def __init__(self, api: client.ApiClient, kind: str, ns: str) -> None:
        self.api, self.ns = api, ns
        if kind == "managedservice":
            custom = client.CustomObjectsApi(api)
            args = (GROUP, VERSION, ns, PLURAL)
            self.create = lambda body: custom.create_namespaced_custom_object(*args, body)
            self.read = lambda name: custom.get_namespaced_custom_object(*args, name)
            self.list: Callable[..., Any] = custom.list_namespaced_custom_object
            self.list_args: tuple[Any, ...] = args
            self.patch = lambda name, body, **kw: custom.patch_namespaced_custom_object(
                *args, name, body, **kw
            )
            self.delete = lambda name: custom.delete_namespaced_custom_object(*args, name)
            return
        typed = client.CoreV1Api(api) if kind == "configmap" else client.AppsV1Api(api)
        suffix = "config_map" if kind == "configmap" else "deployment"
        self.create = lambda body: getattr(typed, f"create_namespaced_{suffix}")(ns, body)
        self.read = lambda name: getattr(typed, f"read_namespaced_{suffix}")(name, ns)
        self.list = getattr(typed, f"list_namespaced_{suffix}")
        self.list_args = (ns,)
        self.patch = lambda name, body, **kw: getattr(typed, f"patch_namespaced_{suffix}")(
            name, ns, body, **kw
        )
        self.delete = lambda name: getattr(typed, f"delete_namespaced_{suffix}")(name, ns)

    def plain(self, value: Any) -> dict[str, Any]:
        """A typed model back as the server's JSON (custom objects already are)."""
        out: dict[str, Any] = self.api.sanitize_for_serialization(value)
        return out


@pytest.mark.parametrize("kind", KINDS)
def test_typed_api_verbs(api_client: client.ApiClient, kind: str) -> None:
    ns, name = "sync", f"typed-{kind}"
    api = Typed(api_client, kind, ns)
    created = api.plain(api.create(BUILDERS[kind](ns, name)))
    check_created(created, ns, name)
    with pytest.raises(ApiException) as exists:
        api.create(BUILDERS[kind](ns, name))
    assert exists.value.status == 409
    assert api.plain(api.read(name))["metadata"]["uid"] == created["metadata"]["uid"]
    listed = api.plain(api.list(*api.list_args, label_selector="matrix=yes"))
    assert name in [i["metadata"]["name"] for i in listed["items"]]
    assert int(listed["metadata"]["resourceVersion"]) >= int(created["metadata"]["resourceVersion"])

    merged = api.plain(api.patch(name, MERGE_PATCH, _content_type=MERGE))
    assert labels(merged) == {"matrix": "yes", "merged": "yes"}
    stream = watch.Watch().stream(
        api.list,
        *api.list_args,
        resource_version=created["metadata"]["resourceVersion"],
        timeout_seconds=5,
    )
    # The first MODIFIED event with the label (a controller may have written status before).
    event = next(e for e in stream if "merged" in e["raw_object"]["metadata"]["labels"])
    stream.close()
    assert event["type"] == "MODIFIED"
    assert (
        event["raw_object"]["metadata"]["resourceVersion"] == merged["metadata"]["resourceVersion"]
    )

    patched = api.plain(api.patch(name, JSON_PATCH, _content_type=JSON))
    assert labels(patched) == {"matrix": "yes", "merged": "yes", "json": "yes"}
    if kind == "managedservice":
        # customresource_handler: strategic merge patch is not supported for custom resources.
        with pytest.raises(ApiException) as unsupported:
            api.patch(name, STRATEGIC_PATCH, _content_type=STRATEGIC)
        assert unsupported.value.status == 415
        # CustomObjectsApi sends merge-patch+json unless told: a JSON patch needs the type.
        reset = [{"op": "replace", "path": "/metadata/labels", "value": AFTER_STRATEGIC}]
        api.patch(name, reset, _content_type=JSON)
    else:
        strategic = api.plain(api.patch(name, STRATEGIC_PATCH, _content_type=STRATEGIC))
        assert labels(strategic) == AFTER_STRATEGIC

    applied = api.plain(
        api.patch(
            name, apply_config(kind, ns, name), field_manager="matrix-sync", _content_type=APPLY
        )
    )
    assert labels(applied) == {**AFTER_STRATEGIC, "applied": "yes"}
    assert applied_by(applied, "matrix-sync")["fieldsV1"]["f:metadata"]["f:labels"] == {
        "f:applied": {}
    }

    api.delete(name)
    with pytest.raises(ApiException) as gone:
        api.read(name)
    assert gone.value.status == 404


@pytest.mark.parametrize("kind", KINDS)
def test_dynamic_client_verbs(api_client: client.ApiClient, kind: str) -> None:
    ns, name = "dynamic", f"dyn-{kind}"
    body = BUILDERS[kind](ns, name)
    dyn = dynamic.DynamicClient(api_client)
    resource = dyn.resources.get(api_version=body["apiVersion"], kind=body["kind"])
    assert resource.namespaced
    created = resource.create(body=body, namespace=ns).to_dict()
    check_created(created, ns, name)
    assert resource.get(name=name, namespace=ns).metadata.uid == created["metadata"]["uid"]
    listed = resource.get(namespace=ns, label_selector="matrix=yes")
    assert [i.metadata.name for i in listed.items] == [name]

    merged = resource.patch(body=MERGE_PATCH, name=name, namespace=ns, content_type=MERGE)
    assert merged.metadata.labels.merged == "yes"
    rv = created["metadata"]["resourceVersion"]
    seen = None
    for event in resource.watch(namespace=ns, resource_version=rv, timeout=5):
        if event["raw_object"]["metadata"]["resourceVersion"] == merged.metadata.resourceVersion:
            seen = event
            break
    assert seen is not None, "the watch from the create's resourceVersion missed the patch"
    assert seen["type"] == "MODIFIED"
    assert seen["raw_object"]["metadata"]["labels"]["merged"] == "yes"
    patched = resource.patch(body=JSON_PATCH, name=name, namespace=ns, content_type=JSON)
    assert patched.metadata.labels.json == "yes"
    if kind == "managedservice":  # the dynamic client's default patch type is strategic
        with pytest.raises(ApiException) as unsupported:
            resource.patch(body=STRATEGIC_PATCH, name=name, namespace=ns)
        assert unsupported.value.status == 415
    else:
        strategic = resource.patch(body=STRATEGIC_PATCH, name=name, namespace=ns)
        assert strategic.to_dict()["metadata"]["labels"] == AFTER_STRATEGIC

    applied = resource.server_side_apply(
        body=apply_config(kind, ns, name), namespace=ns, field_manager="matrix-dynamic"
    ).to_dict()
    assert labels(applied)["applied"] == "yes"
    applied_by(applied, "matrix-dynamic")
    fresh = apply_config(kind, ns, f"{name}-applied")
    if kind != "configmap":
        fresh = {**BUILDERS[kind](ns, f"{name}-applied"), "metadata": fresh["metadata"]}
    made = resource.server_side_apply(body=fresh, namespace=ns, field_manager="matrix-dynamic")
    assert made.metadata.uid and made.metadata.labels.applied == "yes"

    resource.delete(name=name, namespace=ns)
    resource.delete(name=f"{name}-applied", namespace=ns)
    with pytest.raises(dynamic.exceptions.NotFoundError):
        resource.get(name=name, namespace=ns)
