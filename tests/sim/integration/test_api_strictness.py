"""The simulated API server refuses what a real one refuses, with the same codes and reasons."""

from __future__ import annotations

from typing import Any

import pytest

from tend_sim.cluster import SimCluster

from .conftest import MSVC, Api, msvc

CM = "/api/v1/namespaces/default/configmaps"
DEPLOY = "/apis/apps/v1/namespaces/default/deployments"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
SMP = "application/strategic-merge-patch+json"


def configmap(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}


def deployment(name: str = "web", image: str = "nginx:1.25") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": image, "env": [{"name": "A", "value": "1"}]},
                        {"name": "side", "image": "busybox:1.36"},
                    ]
                },
            },
        },
    }


async def test_update_with_stale_resource_version_is_a_conflict(api: Api) -> None:
    created = (await api.post(CM, configmap("a"))).body
    fresh = dict(created, data={"k": "w"})
    assert (await api.put(f"{CM}/a", fresh)).status == 200
    stale = await api.put(f"{CM}/a", dict(created, data={"k": "x"}))
    assert stale.status == 409
    assert stale.reason == "Conflict"
    assert stale.body["details"] == {"name": "a", "kind": "configmaps"}
    assert "the object has been modified" in stale.body["message"]


async def test_creating_twice_is_already_exists(api: Api) -> None:
    assert (await api.post(CM, configmap("a"))).status == 201
    again = await api.post(CM, configmap("a"))
    assert (again.status, again.reason) == (409, "AlreadyExists")
    assert again.body["message"] == 'configmaps "a" already exists'


async def test_objects_in_a_missing_namespace_are_not_found(api: Api) -> None:
    reply = await api.post("/api/v1/namespaces/nope/configmaps", configmap("a"))
    assert (reply.status, reply.reason) == (404, "NotFound")
    assert reply.body["message"] == 'namespaces "nope" not found'


async def test_generate_name_makes_a_unique_name(api: Api) -> None:
    body = {"metadata": {"generateName": "job-"}, "data": {}}
    a, b = (await api.post(CM, body)).body, (await api.post(CM, body)).body
    assert a["metadata"]["name"].startswith("job-")
    assert len(a["metadata"]["name"]) == len("job-") + 5
    assert a["metadata"]["name"] != b["metadata"]["name"]


async def test_failed_json_patch_test_is_unprocessable(api: Api) -> None:
    await api.post(CM, configmap("a"))
    ops = [
        {"op": "test", "path": "/data/k", "value": "other"},
        {"op": "replace", "path": "/data/k", "value": "new"},
    ]
    reply = await api.patch(f"{CM}/a", ops, JSON_PATCH)
    assert (reply.status, reply.reason) == (422, "Invalid")
    assert (await api.get(f"{CM}/a")).body["data"] == {"k": "v"}
    ops[0]["value"] = "v"
    ok = await api.patch(f"{CM}/a", ops, JSON_PATCH)
    assert ok.status == 200
    assert ok.body["data"] == {"k": "new"}


async def test_strategic_merge_patch_is_refused_for_custom_resources(api: Api) -> None:
    await api.post(MSVC, msvc("api"))
    reply = await api.patch(f"{MSVC}/api", {"spec": {"replicas": 3}}, SMP)
    assert (reply.status, reply.reason) == (415, "UnsupportedMediaType")


async def test_strategic_merge_patch_merges_containers_and_env_by_name(api: Api) -> None:
    await api.post(DEPLOY, deployment())
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.26", "env": [{"name": "B", "value": "2"}]}
                    ]
                }
            }
        }
    }
    reply = await api.patch(f"{DEPLOY}/web", patch, SMP)
    assert reply.status == 200, reply.body
    containers = reply.body["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web", "side"]
    assert containers[0]["image"] == "nginx:1.26"
    assert containers[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    delete = {
        "spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}}
    }
    reply = await api.patch(f"{DEPLOY}/web", delete, SMP)
    assert [c["name"] for c in reply.body["spec"]["template"]["spec"]["containers"]] == ["web"]


async def test_merge_patch_replaces_lists(api: Api) -> None:
    await api.post(DEPLOY, deployment())
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x:1"}]}}}}
    reply = await api.patch(f"{DEPLOY}/web", patch, MERGE)
    assert [c["name"] for c in reply.body["spec"]["template"]["spec"]["containers"]] == ["only"]


async def test_status_subresource_is_isolated_from_the_main_resource(api: Api) -> None:
    created = (await api.post(MSVC, msvc("api"))).body
    assert "status" not in created
    # Writes to the main resource ignore .status ...
    main = await api.patch(f"{MSVC}/api", {"status": {"phase": "Running"}}, MERGE)
    assert main.status == 200
    assert "status" not in main.body
    # ... and /status writes ignore everything but .status.
    status = await api.patch(
        f"{MSVC}/api/status",
        {
            "metadata": {"labels": {"x": "y"}},
            "spec": {"replicas": 5},
            "status": {"phase": "Running"},
        },
        MERGE,
    )
    assert status.status == 200, status.body
    assert status.body["status"]["phase"] == "Running"
    assert status.body["spec"].get("replicas") == created["spec"].get("replicas")
    assert "x" not in (status.body["metadata"].get("labels") or {})


async def test_generation_bumps_on_spec_changes_only(api: Api) -> None:
    created = (await api.post(MSVC, msvc("api"))).body
    assert created["metadata"]["generation"] == 1
    labelled = await api.patch(f"{MSVC}/api", {"metadata": {"labels": {"a": "b"}}}, MERGE)
    assert labelled.body["metadata"]["generation"] == 1
    status = await api.patch(f"{MSVC}/api/status", {"status": {"phase": "Running"}}, MERGE)
    assert status.body["metadata"]["generation"] == 1
    spec = await api.patch(f"{MSVC}/api", {"spec": {"replicas": 3}}, MERGE)
    assert spec.body["metadata"]["generation"] == 2


async def test_a_write_that_changes_nothing_keeps_the_resource_version(api: Api) -> None:
    created = (await api.post(CM, configmap("a"))).body
    same = await api.patch(f"{CM}/a", {"data": {"k": "v"}}, MERGE)
    assert same.body["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    put = await api.put(f"{CM}/a", created)
    assert put.body["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_custom_resources_need_a_resource_version_to_be_replaced(api: Api) -> None:
    created = (await api.post(MSVC, msvc("api"))).body
    del created["metadata"]["resourceVersion"]
    reply = await api.put(f"{MSVC}/api", created)
    assert (reply.status, reply.reason) == (422, "Invalid")
    assert reply.body["details"]["causes"][0]["field"] == "metadata.resourceVersion"


async def test_changing_an_immutable_field_is_invalid(api: Api) -> None:
    await api.post(DEPLOY, deployment())
    patch = {
        "spec": {
            "selector": {"matchLabels": {"app": "other"}},
            "template": {"metadata": {"labels": {"app": "other"}}},
        }
    }
    reply = await api.patch(f"{DEPLOY}/web", patch, MERGE)
    assert (reply.status, reply.reason) == (422, "Invalid")
    assert "spec.selector" in [c["field"] for c in reply.body["details"]["causes"]]


async def test_uid_and_creation_timestamp_are_the_servers(api: Api) -> None:
    created = (await api.post(CM, configmap("a"))).body
    body = dict(
        created, metadata={**created["metadata"], "creationTimestamp": "2000-01-01T00:00:00Z"}
    )
    kept = (await api.put(f"{CM}/a", body)).body
    assert kept["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]
    body = dict(created, metadata={**created["metadata"], "uid": "someone-else"})
    assert (await api.put(f"{CM}/a", body)).status == 409


async def test_strict_field_validation_refuses_unknown_fields(api: Api) -> None:
    body = msvc("api", colour="blue")
    strict = await api.post(MSVC, body, params={"fieldValidation": "Strict"})
    assert (strict.status, strict.reason) == (400, "BadRequest")
    assert 'unknown field "spec.colour"' in strict.body["message"]
    warn = await api.post(MSVC, body, params={"fieldValidation": "Warn"})
    assert warn.status == 201
    assert "spec.colour" in warn.headers.get("Warning", "")
    assert "colour" not in warn.body["spec"]


async def post_raw(
    api: Api, path: str, raw: bytes, content_type: str = "application/json", **params: str
) -> tuple[int, Any]:
    """POST the bytes as they are (Api.post writes its body as JSON); the status and the reply."""
    headers = {"Content-Type": content_type}
    async with api.session.post(api.base + path, data=raw, params=params, headers=headers) as r:
        return r.status, await r.json()


async def test_duplicate_json_fields_are_refused_under_strict(api: Api) -> None:
    raw = b'{"metadata": {"name": "a", "name": "b"}, "data": {}}'
    status, reply = await post_raw(api, CM, raw, fieldValidation="Strict")
    assert status == 400
    assert 'duplicate field "name"' in reply["message"]


@pytest.mark.parametrize("validation", ["Strict", "Warn"])
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_nan_and_infinity_are_not_json(api: Api, validation: str, constant: str) -> None:
    """Go's decoder stops at them; Python's json would read them as floats."""
    raw = b'{"metadata": {"name": "a"}, "data": {"k": ' + constant.encode() + b"}}"
    status, reply = await post_raw(api, CM, raw, fieldValidation=validation)
    assert status == 400
    where = "in numeric literal" if constant[0] == "-" else "looking for beginning of value"
    assert f"invalid character '{constant.lstrip('-')[0]}' {where}" in reply["message"]
    assert (await api.get(f"{CM}/a")).status == 404


@pytest.mark.parametrize("validation", ["Strict", "Warn"])
async def test_a_lone_surrogate_escape_decodes_to_the_replacement_character(
    api: Api, validation: str
) -> None:
    """As Go's decoder does; a pair stays the character it encodes."""
    raw = b'{"metadata": {"name": "a"}, "data": {"lone": "x\\ud800y", "pair": "\\ud83d\\ude00"}}'
    status, reply = await post_raw(api, CM, raw, fieldValidation=validation)
    assert status == 201, reply
    assert reply["data"] == {"lone": "x\ufffdy", "pair": "\U0001f600"}


async def test_a_number_past_float64_is_not_decoded(api: Api) -> None:
    status, reply = await post_raw(api, CM, b'{"metadata": {"name": "a"}, "data": {"k": 1e400}}')
    assert status == 400
    assert "cannot unmarshal number 1e400" in reply["message"]


async def test_an_infinity_in_yaml_is_refused_even_after_an_alike_pod_with_null(api: Api) -> None:
    """msgspec writes null for NaN and infinities: the alike-spec shortcuts must not take a
    spec with .inf for an earlier one with null."""
    pods = "/api/v1/namespaces/default/pods"
    spec = {"containers": [{"name": "m", "image": "i:1"}], "terminationGracePeriodSeconds": None}
    first = await api.post(pods, {"metadata": {"name": "a"}, "spec": spec})
    assert first.status == 201, first.body
    body = "metadata: {name: b}\nspec:\n  containers: [{name: m, image: 'i:1'}]\n"
    body += "  terminationGracePeriodSeconds: .inf\n"
    status, reply = await post_raw(api, pods, body.encode(), "application/yaml")
    assert status == 400, reply
    assert "terminationGracePeriodSeconds of type int64" in reply["message"]


async def test_yaml_aliases_are_stored_as_copies(api: Api) -> None:
    """A YAML body may share one node in two places; the stored object must not (defaults
    added to one would show in the other)."""
    body = "metadata:\n  name: alias\n  labels: &l {a: b}\n  annotations: *l\n"
    status, made = await post_raw(api, "/api/v1/namespaces", body.encode(), "application/yaml")
    assert status == 201
    assert made["metadata"]["annotations"] == {"a": "b"}
    assert made["metadata"]["labels"] == {"a": "b", "kubernetes.io/metadata.name": "alias"}


async def test_dry_run_validates_without_persisting(api: Api, sim: SimCluster) -> None:
    before = sim.store.resource_version
    reply = await api.post(CM, configmap("a"), params={"dryRun": "All"})
    assert reply.status == 201
    assert reply.body["metadata"]["name"] == "a"
    assert (await api.get(f"{CM}/a")).status == 404
    assert sim.store.resource_version == before
    bad = await api.post(MSVC, msvc("api", replicas=-1), params={"dryRun": "All"})
    assert bad.status == 422


async def test_errors_are_status_objects_with_causes(api: Api) -> None:
    reply = await api.post(MSVC, msvc("api", replicas=-1))
    assert reply.status == 422
    body = reply.body
    assert (body["kind"], body["status"], body["reason"], body["code"]) == (
        "Status",
        "Failure",
        "Invalid",
        422,
    )
    assert body["details"]["kind"] == "ManagedService"
    assert body["details"]["group"] == "tend.dev"
    assert [c["field"] for c in body["details"]["causes"]] == ["spec.replicas"]


async def test_label_selectors_equality_and_set_based(api: Api) -> None:
    await api.post(CM, configmap("a", tier="web", env="prod"))
    await api.post(CM, configmap("b", tier="db", env="prod"))
    await api.post(CM, configmap("c", tier="web"))

    async def names(selector: str) -> list[str]:
        reply = await api.get(CM, params={"labelSelector": selector})
        assert reply.status == 200, reply.body
        return [i["metadata"]["name"] for i in reply.body["items"]]

    assert await names("tier=web") == ["a", "c"]
    # Like every namespace, default holds the root-ca-cert-publisher's kube-root-ca.crt.
    assert await names("tier!=web") == ["b", "kube-root-ca.crt"]
    assert await names("tier in (web,db),env") == ["a", "b"]
    assert await names("tier notin (db),!env") == ["c", "kube-root-ca.crt"]
    assert (await api.get(CM, params={"labelSelector": "tier in web"})).status == 400


async def test_field_selectors_by_name_and_per_kind(api: Api) -> None:
    await api.post(CM, configmap("a"))
    await api.post(CM, configmap("b"))
    reply = await api.get(CM, params={"fieldSelector": "metadata.name!=a"})
    assert [i["metadata"]["name"] for i in reply.body["items"]] == ["b", "kube-root-ca.crt"]
    unsupported = await api.get(CM, params={"fieldSelector": "data.k=v"})
    assert (unsupported.status, unsupported.reason) == (400, "BadRequest")
    event = {
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "Pod", "name": "p"},
        "reason": "Started",
        "message": "m",
        "type": "Normal",
    }
    await api.post("/api/v1/namespaces/default/events", event)
    found = await api.get(
        "/api/v1/events", params={"fieldSelector": "involvedObject.kind=Pod,involvedObject.name=p"}
    )
    assert [e["metadata"]["name"] for e in found.body["items"]] == ["e1"]


async def test_list_pages_with_limit_and_continue(api: Api) -> None:
    for i in range(5):
        await api.post(CM, configmap(f"cm-{i}"))
    seen: list[str] = []
    params = {"limit": "2"}
    pages = 0
    while True:
        reply = await api.get(CM, params=params)
        pages += 1
        seen += [i["metadata"]["name"] for i in reply.body["items"]]
        token = reply.body["metadata"].get("continue")
        if not token:
            break
        params = {"limit": "2", "continue": token}
    assert pages == 3
    assert seen == [*(f"cm-{i}" for i in range(5)), "kube-root-ca.crt"]


@pytest.mark.parametrize(
    ("path", "verb"),
    [
        ("/api/v1/namespaces/default/configmaps/a/status", "GET"),
        ("/apis/nope.dev/v1/things", "GET"),
    ],
)
async def test_unknown_paths_are_not_found(api: Api, path: str, verb: str) -> None:
    assert (await api.call(verb, path)).status == 404


async def test_scale_subresource_reads_and_writes_replicas(api: Api) -> None:
    await api.post(DEPLOY, deployment())
    scale = (await api.get(f"{DEPLOY}/web/scale")).body
    assert (scale["kind"], scale["spec"]["replicas"]) == ("Scale", 1)
    assert scale["status"]["selector"] == "app=web"
    scale["spec"]["replicas"] = 4
    assert (await api.put(f"{DEPLOY}/web/scale", scale)).status == 200
    assert (await api.get(f"{DEPLOY}/web")).body["spec"]["replicas"] == 4
    await api.post(MSVC, msvc("api"))
    patched = await api.patch(f"{MSVC}/api/scale", {"spec": {"replicas": 3}}, MERGE)
    assert patched.status == 200, patched.body
    assert (await api.get(f"{MSVC}/api")).body["spec"]["replicas"] == 3


async def test_services_get_a_cluster_ip_that_updates_keep(api: Api) -> None:
    svc = {
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    created = (await api.post("/api/v1/namespaces/default/services", svc)).body
    ip = created["spec"]["clusterIP"]
    assert ip.startswith("10.96.")
    assert created["spec"]["ports"][0]["targetPort"] == 80
    body = dict(created, spec={"selector": {"app": "web"}, "ports": [{"port": 81}]})
    replaced = (await api.put("/api/v1/namespaces/default/services/web", body)).body
    assert replaced["spec"]["clusterIP"] == ip
    changed = dict(replaced, spec={**replaced["spec"], "clusterIP": "10.96.99.99"})
    assert (await api.put("/api/v1/namespaces/default/services/web", changed)).status == 422


async def test_requests_are_counted_by_verb_and_resource(api: Api, sim: SimCluster) -> None:
    await api.post(CM, configmap("a"))
    await api.get(f"{CM}/a")
    await api.patch(f"{CM}/a", {"data": {"x": "y"}}, MERGE)
    assert sim.requests[("create", "configmaps")] == 1
    assert sim.requests[("get", "configmaps")] == 1
    assert sim.writes("configmaps") == 2


async def test_core_and_events_k8s_io_events_share_storage(api: Api) -> None:
    new_style = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "e1"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "tend.dev/operator",
        "reportingInstance": "tend-0",
        "action": "Reconcile",
        "reason": "Reconciled",
        "regarding": {"kind": "ManagedService", "name": "api", "namespace": "default"},
        "note": "all good",
        "type": "Normal",
    }
    created = await api.post("/apis/events.k8s.io/v1/namespaces/default/events", new_style)
    assert created.status == 201, created.body
    assert created.body["note"] == "all good"
    core = (await api.get("/api/v1/namespaces/default/events/e1")).body
    assert (core["apiVersion"], core["message"], core["involvedObject"]["name"]) == (
        "v1",
        "all good",
        "api",
    )
    assert core["reportingComponent"] == "tend.dev/operator"
    listed = await api.get(
        "/apis/events.k8s.io/v1/events", params={"fieldSelector": "regarding.name=api"}
    )
    assert [e["metadata"]["name"] for e in listed.body["items"]] == ["e1"]
    assert listed.body["items"][0]["regarding"]["kind"] == "ManagedService"


async def test_unknown_fields_of_builtin_kinds_are_refused_or_dropped(api: Api) -> None:
    body = deployment()
    body["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    strict = await api.post(DEPLOY, body, params={"fieldValidation": "Strict"})
    assert (strict.status, strict.reason) == (400, "BadRequest")
    assert (
        'unknown field "spec.template.spec.containers[0].imagePullPolicyy"'
        in (strict.body["message"])
    )
    warned = await api.post(DEPLOY, body)  # no fieldValidation: the server default, Warn
    assert warned.status == 201
    assert "imagePullPolicyy" in warned.headers.get("Warning", "")
    container = warned.body["spec"]["template"]["spec"]["containers"][0]
    assert "imagePullPolicyy" not in container


async def test_creating_with_a_resource_version_fails_like_etcd(api: Api) -> None:
    created = (await api.post(CM, configmap("a"))).body
    again = dict(created, metadata={**created["metadata"], "name": "b"})
    reply = await api.post(CM, again)
    assert reply.status == 500
    assert reply.body["message"] == "resourceVersion should not be set on objects to be created"
