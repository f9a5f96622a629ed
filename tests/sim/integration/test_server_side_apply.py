"""Server-side apply and managedFields over HTTP: raw requests, kubectl and kubernetes_asyncio."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config
from waiting import until

from tend_sim.cluster import SimCluster

from .conftest import MSVC, Api, Kubectl, msvc

APPLY = "application/apply-patch+yaml"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
CMS = "/api/v1/namespaces/default/configmaps"
MERGE = "application/merge-patch+json"


def deployment(replicas: int = 1, image: str = "nginx:1", **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": image, "ports": [{"containerPort": 80}]}
                    ]
                },
            },
            **extra,
        },
    }


def entry(obj: dict[str, Any], manager: str) -> dict[str, Any]:
    found = [e for e in obj["metadata"].get("managedFields", []) if e["manager"] == manager]
    assert len(found) == 1, obj["metadata"].get("managedFields")
    return found[0]


async def apply(api: Api, path: str, body: Any, **params: str) -> Any:
    return await api.patch(path, body, APPLY, params=params)


# -- the apply request --------------------------------------------------------------------------


async def test_apply_creates_then_updates_and_records_managed_fields(api: Api) -> None:
    created = await apply(api, f"{DEPLOYS}/web", deployment(), fieldManager="ci")
    assert created.status == 201, created.body
    mf = entry(created.body, "ci")
    assert mf["operation"] == "Apply"
    assert mf["apiVersion"] == "apps/v1"
    assert mf["fieldsType"] == "FieldsV1"
    assert mf["time"].endswith("Z")
    spec = mf["fieldsV1"]["f:spec"]
    assert "f:replicas" in spec and spec["f:selector"] == {}
    ports = spec["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']["f:ports"]
    assert list(ports) == ['k:{"containerPort":80,"protocol":"TCP"}']
    assert "f:progressDeadlineSeconds" not in spec  # defaults are nobody's
    again = await apply(api, f"{DEPLOYS}/web", deployment(replicas=3), fieldManager="ci")
    assert again.status == 200, again.body
    assert again.body["spec"]["replicas"] == 3
    assert again.body["metadata"]["generation"] == 2


async def test_apply_requires_a_field_manager_and_a_matching_kind(api: Api) -> None:
    missing = await apply(api, f"{DEPLOYS}/web", deployment())
    assert missing.status == 422, missing.body
    assert missing.body["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: '
        "fieldManager: Required value: is required for apply patch"
    )
    wrong = await apply(api, f"{CMS}/web", deployment(), fieldManager="ci")
    assert wrong.status == 400
    assert wrong.body["message"] == "invalid object type: apps/v1, Kind=Deployment"
    body = deployment()
    body["metadata"]["managedFields"] = [{"manager": "x"}]
    refused = await apply(api, f"{DEPLOYS}/web", body, fieldManager="ci")
    assert refused.status == 400
    assert refused.body["message"] == "metadata.managedFields must be nil"
    unknown = deployment(bogus=1)
    refused = await apply(api, f"{DEPLOYS}/web", unknown, fieldManager="ci")
    assert refused.status == 500
    assert refused.body["message"] == (
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
        ".spec.bogus: field not declared in schema"
    )
    named = await apply(api, f"{DEPLOYS}/other", deployment(), fieldManager="ci")
    assert named.status == 400
    assert "does not match the name on the URL (other)" in named.body["message"]


async def test_apply_through_scale_and_cbor_apply_are_unsupported(api: Api) -> None:
    await apply(api, f"{DEPLOYS}/web", deployment(), fieldManager="ci")
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale", "spec": {"replicas": 2}}
    reply = await apply(api, f"{DEPLOYS}/web/scale", scale, fieldManager="ci")
    assert (reply.status, reply.reason) == (415, "UnsupportedMediaType")
    cbor = await api.patch(
        f"{DEPLOYS}/web", {}, "application/apply-patch+cbor", params={"fieldManager": "ci"}
    )
    assert (cbor.status, cbor.reason) == (415, "UnsupportedMediaType")


async def test_field_manager_is_validated_on_every_write(api: Api) -> None:
    reply = await api.post(CMS, {"metadata": {"name": "a"}}, params={"fieldManager": "m" * 129})
    assert reply.status == 422
    assert reply.body["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: '
        "fieldManager: Too long: may not be more than 128 bytes"
    )
    ok = await api.post(CMS, {"metadata": {"name": "a"}}, params={"fieldManager": "m" * 128})
    assert ok.status == 201
    forced = await api.patch(
        f"{CMS}/a", {"data": {"k": "v"}}, "application/merge-patch+json", params={"force": "true"}
    )
    assert forced.status == 422
    assert "force: Forbidden: may not be specified for non-apply patch" in forced.body["message"]


async def test_update_managers_come_from_the_parameter_or_the_user_agent(api: Api) -> None:
    made = await api.post(
        CMS,
        {"metadata": {"name": "a"}, "data": {"k": "v"}},
        headers={"User-Agent": "my-operator/1.2 (linux)"},
    )
    mf = entry(made.body, "my-operator")
    assert mf["operation"] == "Update"
    assert mf["fieldsV1"] == {"f:data": {".": {}, "f:k": {}}}
    patched = await api.patch(
        f"{CMS}/a",
        {"data": {"other": "x"}},
        "application/merge-patch+json",
        params={"fieldManager": "patcher"},
    )
    assert entry(patched.body, "patcher")["fieldsV1"] == {"f:data": {"f:other": {}}}
    assert entry(patched.body, "my-operator")["fieldsV1"] == {"f:data": {".": {}, "f:k": {}}}


BY_MAKER = {"fieldManager": "maker"}


async def test_a_create_owns_the_defaults_but_not_what_admission_or_the_registry_add(
    api: Api,
) -> None:
    """create.go runs the field manager after decoding (which defaults) and before mutating
    admission and the registry: a Pod's writer owns dnsPolicy and imagePullPolicy, not the
    service account's volume, the default tolerations or the priority; a Service's writer
    owns sessionAffinity, not the allocated clusterIP (what `kubectl run`/`expose` show)."""
    pod = {
        "metadata": {"name": "p", "labels": {"run": "p"}},
        "spec": {"containers": [{"name": "main", "image": "nginx:1"}]},
    }
    made = await api.post("/api/v1/namespaces/default/pods", pod, params=BY_MAKER)
    assert made.status == 201, made.body
    assert made.body["spec"]["volumes"] and made.body["spec"]["tolerations"]
    spec = entry(made.body, "maker")["fieldsV1"]["f:spec"]
    assert set(spec) == {
        "f:containers",
        "f:dnsPolicy",
        "f:enableServiceLinks",
        "f:restartPolicy",
        "f:schedulerName",
        "f:securityContext",
        "f:terminationGracePeriodSeconds",
    }
    assert set(spec["f:containers"]['k:{"name":"main"}']) == {
        ".",
        "f:image",
        "f:imagePullPolicy",
        "f:name",
        "f:resources",
        "f:terminationMessagePath",
        "f:terminationMessagePolicy",
    }
    svc = {"metadata": {"name": "s"}, "spec": {"selector": {"run": "p"}, "ports": [{"port": 80}]}}
    made = await api.post("/api/v1/namespaces/default/services", svc, params=BY_MAKER)
    assert made.status == 201, made.body
    assert made.body["spec"]["clusterIP"]
    assert set(entry(made.body, "maker")["fieldsV1"]["f:spec"]) == {
        "f:internalTrafficPolicy",
        "f:ports",
        "f:selector",
        "f:sessionAffinity",
        "f:type",
    }
    made = await api.post("/api/v1/namespaces", {"metadata": {"name": "owned"}}, params=BY_MAKER)
    assert entry(made.body, "maker")["fieldsV1"] == {
        "f:metadata": {"f:labels": {".": {}, "f:kubernetes.io/metadata.name": {}}}
    }


async def test_defaults_of_every_kind_are_owned_where_kubernetes_sets_them(api: Api) -> None:
    """SetDefaults_Service gives an externally reachable Service its traffic policy and a
    LoadBalancer its nodePort allocation; decoding copies serviceAccountName into the
    deprecated serviceAccount (and takes the old name when it is the only one); an
    imagePullSecrets item without a name is keyed by the Go default, ""."""
    made = await api.post(
        "/api/v1/namespaces/default/services",
        {
            "metadata": {"name": "lb"},
            "spec": {"type": "LoadBalancer", "selector": {"a": "b"}, "ports": [{"port": 80}]},
        },
        params=BY_MAKER,
    )
    spec = entry(made.body, "maker")["fieldsV1"]["f:spec"]
    assert {"f:externalTrafficPolicy", "f:allocateLoadBalancerNodePorts"} <= set(spec)
    assert "f:clusterIP" not in spec
    assert made.body["spec"]["ports"][0]["nodePort"]
    await api.post("/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "robot"}})
    pods = "/api/v1/namespaces/default/pods"
    containers = [{"name": "main", "image": "nginx:1"}]
    made = await api.post(
        pods,
        {
            "metadata": {"name": "p"},
            "spec": {
                "serviceAccountName": "robot",
                "imagePullSecrets": [{}],
                "containers": containers,
            },
        },
        params=BY_MAKER,
    )
    assert made.status == 201, made.body
    spec = entry(made.body, "maker")["fieldsV1"]["f:spec"]
    assert {"f:serviceAccountName", "f:serviceAccount"} <= set(spec)
    assert spec["f:imagePullSecrets"] == {'k:{"name":""}': {}, ".": {}}
    old_name = await api.post(
        pods,
        {"metadata": {"name": "q"}, "spec": {"serviceAccount": "robot", "containers": containers}},
    )
    assert old_name.body["spec"]["serviceAccountName"] == "robot"


async def test_a_generated_name_is_made_after_the_field_manager(api: Api) -> None:
    """SetDefaults_Namespace skips a namespace without a name yet; the strategy labels it."""
    made = await api.post(
        "/api/v1/namespaces", {"metadata": {"generateName": "t-"}}, params=BY_MAKER
    )
    name = made.body["metadata"]["name"]
    assert name.startswith("t-") and len(name) == 7
    assert made.body["metadata"]["labels"] == {"kubernetes.io/metadata.name": name}
    assert entry(made.body, "maker")["fieldsV1"] == {"f:metadata": {"f:generateName": {}}}


async def test_apply_in_an_older_version_merges_in_that_versions_schema(api: Api) -> None:
    hpa = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"},
        "spec": {
            "maxReplicas": 3,
            "scaleTargetRef": {"kind": "Deployment", "name": "d", "apiVersion": "apps/v1"},
            "targetCPUUtilizationPercentage": 50,
        },
    }
    path = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/h"
    made = await apply(api, path, hpa, fieldManager="ci")
    assert made.status == 201, made.body
    assert made.body["spec"]["targetCPUUtilizationPercentage"] == 50
    f_spec = entry(made.body, "ci")["fieldsV1"]["f:spec"]
    assert {"f:maxReplicas", "f:scaleTargetRef", "f:targetCPUUtilizationPercentage"} <= set(f_spec)


async def test_clients_may_replace_or_clear_managed_fields_but_not_break_them(api: Api) -> None:
    made = await api.post(CMS, {"metadata": {"name": "a"}, "data": {"k": "v"}})
    live = made.body["metadata"]["managedFields"]
    json_patch = "application/json-patch+json"
    bogus = [{"op": "replace", "path": "/metadata/managedFields", "value": [{"operation": "?"}]}]
    kept = await api.patch(f"{CMS}/a", bogus, json_patch)
    assert kept.body["metadata"]["managedFields"] == live  # invalid: the live ones stay
    mine = [{**live[0], "manager": "renamed"}]
    edit = [{"op": "replace", "path": "/metadata/managedFields", "value": mine}]
    renamed = await api.patch(f"{CMS}/a", edit, json_patch)
    assert [e["manager"] for e in renamed.body["metadata"]["managedFields"]] == ["renamed"]
    for i, reset in enumerate(([{}], [])):
        touched = await api.patch(f"{CMS}/a", {"data": {"n": str(i)}}, MERGE)
        assert touched.body["metadata"]["managedFields"]
        clear = [{"op": "add", "path": "/metadata/managedFields", "value": reset}]
        cleared = await api.patch(f"{CMS}/a", clear, json_patch)
        assert cleared.status == 200, cleared.body
        assert "managedFields" not in cleared.body["metadata"]


async def test_status_writes_record_their_subresource(api: Api) -> None:
    await api.post(MSVC, msvc("api"), params={"fieldManager": "creator"})
    reply = await api.patch(
        f"{MSVC}/api/status",
        {"status": {"phase": "Running"}},
        "application/merge-patch+json",
        params={"fieldManager": "kopf"},
    )
    assert reply.status == 200, reply.body
    mf = entry(reply.body, "kopf")
    assert mf["subresource"] == "status"
    assert mf["fieldsV1"] == {"f:status": {".": {}, "f:phase": {}}}
    creator = entry(reply.body, "creator")
    assert "subresource" not in creator
    assert "f:status" not in creator["fieldsV1"]


async def test_status_is_applied_through_its_subresource_only(api: Api) -> None:
    body = {**msvc("api"), "status": {"phase": "Running"}}
    made = await apply(api, f"{MSVC}/api", body, fieldManager="gitops")
    assert made.status == 201, made.body
    assert "status" not in made.body  # the main resource resets status ...
    assert "f:status" not in entry(made.body, "gitops")["fieldsV1"]  # ... and nobody owns it
    missing = await apply(api, f"{MSVC}/other/status", body, fieldManager="ctl")
    assert missing.status == 404  # a subresource never creates
    status = {**msvc("api"), "status": {"phase": "Running"}}
    status["spec"]["image"] = "ignored:1"
    applied = await apply(api, f"{MSVC}/api/status", status, fieldManager="ctl")
    assert applied.status == 200, applied.body
    assert applied.body["status"] == {"phase": "Running"}
    assert applied.body["spec"]["image"] == "registry.example/shop/api:1.0"
    mf = entry(applied.body, "ctl")
    assert (mf["operation"], mf["subresource"]) == ("Apply", "status")
    assert mf["fieldsV1"] == {"f:status": {"f:phase": {}}}
    clash = await api.patch(
        f"{MSVC}/api/status",
        {"status": {"phase": "Failed"}},
        "application/merge-patch+json",
        params={"fieldManager": "kopf"},
    )
    assert clash.status == 200  # an update takes the field ...
    again = await apply(api, f"{MSVC}/api/status", status, fieldManager="ctl")
    assert again.status == 409  # ... and the applier now conflicts with it
    assert again.body["message"] == (
        'Apply failed with 1 conflict: conflict with "kopf" with subresource "status" '
        "using tend.dev/v1alpha1: .status.phase"
    )


async def test_scale_writes_record_their_subresource(api: Api) -> None:
    await apply(api, f"{DEPLOYS}/web", deployment(), fieldManager="ci")
    scaled = await api.patch(
        f"{DEPLOYS}/web/scale",
        {"spec": {"replicas": 3}},
        "application/merge-patch+json",
        params={"fieldManager": "scaler"},
    )
    assert scaled.status == 200, scaled.body
    d = (await api.get(f"{DEPLOYS}/web")).body
    mf = entry(d, "scaler")
    assert (mf["operation"], mf["subresource"]) == ("Update", "scale")
    assert mf["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in entry(d, "ci")["fieldsV1"]["f:spec"]


# -- ownership ----------------------------------------------------------------------------------


async def test_conflicts_name_the_owner_and_force_takes_the_field(api: Api) -> None:
    await apply(api, f"{DEPLOYS}/web", deployment(), fieldManager="alice")
    clash = await apply(api, f"{DEPLOYS}/web", deployment(replicas=5), fieldManager="bob")
    assert clash.status == 409, clash.body
    assert clash.body["reason"] == "Conflict"
    assert clash.body["message"] == (
        'Apply failed with 1 conflict: conflict with "alice": .spec.replicas'
    )
    assert clash.body["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "alice"',
            "field": ".spec.replicas",
        }
    ]
    two = await apply(
        api, f"{DEPLOYS}/web", deployment(replicas=5, image="nginx:2"), fieldManager="bob"
    )
    assert two.body["message"] == (
        'Apply failed with 2 conflicts: conflicts with "alice":\n- .spec.replicas\n'
        '- .spec.template.spec.containers[name="web"].image'
    )
    forced = await apply(
        api, f"{DEPLOYS}/web", deployment(replicas=5), fieldManager="bob", force="true"
    )
    assert forced.status == 200, forced.body
    assert forced.body["spec"]["replicas"] == 5
    assert "f:replicas" not in entry(forced.body, "alice")["fieldsV1"]["f:spec"]
    assert "f:replicas" in entry(forced.body, "bob")["fieldsV1"]["f:spec"]


async def test_the_same_value_is_shared_and_an_update_conflicts_with_appliers(api: Api) -> None:
    await apply(api, f"{DEPLOYS}/web", deployment(), fieldManager="alice")
    shared = await apply(api, f"{DEPLOYS}/web", deployment(), fieldManager="bob")
    assert shared.status == 200, shared.body
    for who in ("alice", "bob"):
        assert "f:replicas" in entry(shared.body, who)["fieldsV1"]["f:spec"]
    scaled = await api.patch(
        f"{DEPLOYS}/web",
        {"spec": {"replicas": 4}},
        "application/merge-patch+json",
        params={"fieldManager": "hpa"},
    )
    assert entry(scaled.body, "hpa")["operation"] == "Update"
    clash = await apply(api, f"{DEPLOYS}/web", deployment(replicas=2), fieldManager="alice")
    assert clash.status == 409
    assert clash.body["message"] == (
        'Apply failed with 1 conflict: conflict with "hpa" using apps/v1: .spec.replicas'
    )


async def test_fields_dropped_from_the_config_are_removed_unless_someone_else_owns_them(
    api: Api,
) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    first = {**body, "data": {"a": "1", "b": "2", "c": "3"}}
    await apply(api, f"{CMS}/c", first, fieldManager="alice")
    await apply(api, f"{CMS}/c", {**body, "data": {"c": "3"}}, fieldManager="bob")
    after = await apply(api, f"{CMS}/c", {**body, "data": {"a": "1"}}, fieldManager="alice")
    assert after.body["data"] == {"a": "1", "c": "3"}  # b removed, c kept: bob owns it
    assert entry(after.body, "alice")["fieldsV1"] == {"f:data": {"f:a": {}}}


async def test_list_items_merge_by_key_and_dry_run_stores_nothing(api: Api) -> None:
    await apply(api, f"{DEPLOYS}/web", deployment(), fieldManager="alice")
    sidecar = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "template": {"spec": {"containers": [{"name": "proxy", "image": "envoy:1"}]}},
        },
    }
    dry = await apply(api, f"{DEPLOYS}/web", sidecar, fieldManager="mesh", dryRun="All")
    assert [c["name"] for c in dry.body["spec"]["template"]["spec"]["containers"]] == [
        "web",
        "proxy",
    ]
    stored = (await api.get(f"{DEPLOYS}/web")).body
    assert len(stored["spec"]["template"]["spec"]["containers"]) == 1
    assert [e["manager"] for e in stored["metadata"]["managedFields"]] == ["alice"]
    real = await apply(api, f"{DEPLOYS}/web", sidecar, fieldManager="mesh")
    containers = real.body["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web", "proxy"]
    assert containers[0]["image"] == "nginx:1"


async def test_service_ports_merge_by_port_and_protocol(api: Api) -> None:
    path = "/api/v1/namespaces/default/services/web"

    def service(*ports: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": list(ports)},
        }

    await apply(api, path, service({"name": "http", "port": 80}), fieldManager="alice")
    both = await apply(
        api, path, service({"name": "dns", "port": 53, "protocol": "UDP"}), fieldManager="bob"
    )
    assert both.status == 200, both.body
    assert [(p["port"], p["protocol"]) for p in both.body["spec"]["ports"]] == [
        (80, "TCP"),
        (53, "UDP"),
    ]
    bob = entry(both.body, "bob")["fieldsV1"]["f:spec"]
    assert list(bob["f:ports"]) == ['k:{"port":53,"protocol":"UDP"}']
    assert bob["f:selector"] == {}  # an atomic map: bob co-owns it with the same value


async def test_crd_list_map_keys_merge_items(api: Api, sim: SimCluster) -> None:
    crd = yaml.safe_load(
        """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  names: {kind: Gadget, plural: gadgets, singular: gadget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    port: {type: integer}
              tags:
                type: array
                x-kubernetes-list-type: set
                items: {type: string}
              args:
                type: array
                items: {type: string}
"""
    )
    sim.register_crd(crd)
    path = "/apis/example.com/v1/namespaces/default/gadgets/g"

    def gadget(**spec: Any) -> dict[str, Any]:
        return {
            "apiVersion": "example.com/v1",
            "kind": "Gadget",
            "metadata": {"name": "g"},
            "spec": spec,
        }

    await apply(
        api,
        path,
        gadget(ports=[{"name": "http", "port": 80}], tags=["a"], args=["x"]),
        fieldManager="alice",
    )
    reply = await apply(
        api,
        path,
        gadget(ports=[{"name": "grpc", "port": 90}], tags=["b"], args=["y"]),
        fieldManager="bob",
    )
    assert reply.status == 409  # args is atomic: bob would replace alice's list
    assert reply.body["message"].endswith(": .spec.args")
    reply = await apply(
        api, path, gadget(ports=[{"name": "grpc", "port": 90}], tags=["b"]), fieldManager="bob"
    )
    spec = reply.body["spec"]
    assert spec["ports"] == [{"name": "http", "port": 80}, {"name": "grpc", "port": 90}]
    assert spec["tags"] == ["a", "b"]
    assert spec["args"] == ["x"]
    bob = entry(reply.body, "bob")["fieldsV1"]["f:spec"]
    assert bob == {
        "f:ports": {'k:{"name":"grpc"}': {".": {}, "f:name": {}, "f:port": {}}},
        "f:tags": {'v:"b"': {}},
    }


# -- clients ------------------------------------------------------------------------------------


async def test_kubectl_server_side_apply_diff_force_and_show_managed_fields(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text(yaml.safe_dump(deployment()))
    out = await kubectl("apply", "--server-side", "-f", str(manifest))
    assert "deployment.apps/web serverside-applied" in out
    manifest.write_text(yaml.safe_dump(deployment(replicas=3)))
    diff = await kubectl("diff", "--server-side", "-f", str(manifest), check=False)
    assert "-  replicas: 1" in diff and "+  replicas: 3" in diff
    await kubectl("scale", "deployment/web", "--replicas=2")
    clash = await kubectl("apply", "--server-side", "-f", str(manifest), check=False)
    assert "conflict" in clash and ".spec.replicas" in clash
    forced = await kubectl("apply", "--server-side", "--force-conflicts", "-f", str(manifest))
    assert "serverside-applied" in forced
    shown = yaml.safe_load(
        await kubectl("get", "deployment", "web", "-o", "yaml", "--show-managed-fields")
    )
    managers = {e["manager"]: e for e in shown["metadata"]["managedFields"]}
    assert managers["kubectl"]["operation"] == "Apply"
    assert "f:replicas" in managers["kubectl"]["fieldsV1"]["f:spec"]
    hidden = yaml.safe_load(await kubectl("get", "deployment", "web", "-o", "yaml"))
    assert "managedFields" not in hidden["metadata"]
    assert hidden["spec"]["replicas"] == 3


async def test_kubectl_moves_from_client_side_to_server_side_apply(
    kubectl: Kubectl, api: Api, tmp_path: Path
) -> None:
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text(yaml.safe_dump(deployment()))
    await kubectl("apply", "-f", str(manifest))
    manifest.write_text(yaml.safe_dump(deployment(replicas=4)))
    # kubectl-client-side-apply owns .spec.replicas, but the last-applied annotation still
    # describes it: the server lets kubectl take it (lastAppliedManager), and kubectl then
    # moves the client-side manager's fields to itself.
    assert "serverside-applied" in await kubectl("apply", "--server-side", "-f", str(manifest))
    d = (await api.get(f"{DEPLOYS}/web")).body
    assert d["spec"]["replicas"] == 4
    managers = {(e["manager"], e["operation"]) for e in d["metadata"]["managedFields"]}
    assert managers == {("kubectl", "Apply"), ("kubectl-last-applied", "Apply")}
    last = json.loads(
        d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    )
    assert last["spec"]["replicas"] == 4  # lastAppliedUpdater keeps the annotation current


async def test_kubectl_server_side_apply_of_a_managed_service(
    kubectl: Kubectl, api: Api, tmp_path: Path
) -> None:
    manifest = tmp_path / "msvc.yaml"
    manifest.write_text(yaml.safe_dump(msvc("api", replicas=2)))
    assert "serverside-applied" in await kubectl("apply", "--server-side", "-f", str(manifest))
    got = (await api.get(f"{MSVC}/api")).body
    assert got["spec"]["replicas"] == 2
    assert entry(got, "kubectl")["fieldsV1"]["f:spec"] == {"f:image": {}, "f:replicas": {}}


async def test_kubernetes_asyncio_apply(sim: SimCluster, tmp_path: Path) -> None:
    kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
    api_client = await k8s_config.new_client_from_config(config_file=str(kubeconfig))
    async with api_client:
        apps = k8s.AppsV1Api(api_client)
        body = deployment()
        body["metadata"]["namespace"] = "default"
        made = await apps.patch_namespaced_deployment(
            "web",
            "default",
            body,
            field_manager="asyncio-app",
            _content_type=APPLY,
        )
        assert made.spec.replicas == 1
        assert made.metadata.managed_fields[0].manager == "asyncio-app"
        assert made.metadata.managed_fields[0].operation == "Apply"


async def test_the_simulated_control_plane_writes_under_its_real_manager_names(
    sim_full: SimCluster,
) -> None:
    store = sim_full.store
    async with aiohttp.ClientSession() as session:
        api = Api(session, sim_full.url)
        made = await apply(api, f"{DEPLOYS}/web", deployment(), fieldManager="ci")
        assert made.status == 201, made.body
        deployments = store.resource("deployments", "apps")

        def available() -> Any:
            d = store.get(deployments, "default", "web")
            return (d.get("status") or {}).get("availableReplicas") == 1 and d

        d = await until(sim_full, available, "web available")

    def managers(o: dict[str, Any]) -> set[tuple[str, str, str]]:
        return {
            (e["manager"], e["operation"], e.get("subresource", ""))
            for e in o["metadata"]["managedFields"]
        }

    assert managers(d) >= {("ci", "Apply", ""), ("kube-controller-manager", "Update", "status")}
    (status_entry,) = [e for e in d["metadata"]["managedFields"] if e.get("subresource")]
    assert "f:availableReplicas" in status_entry["fieldsV1"]["f:status"]
    (pod,) = store.list(store.resource("pods"), "default")[0]
    assert managers(pod) >= {
        ("kube-controller-manager", "Update", ""),
        ("kubelet", "Update", "status"),
    }
