"""The HTTP surface of the simulated API server, as kube-apiserver answers: Warning headers,
Accept negotiation (406, YAML, pretty), body and object size limits, health and version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tend_sim.cluster import SimCluster

from .conftest import MSVC, Api, Kubectl, msvc

CM = "/api/v1/namespaces/default/configmaps"


def configmap(name: str, **data: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


# -- Warning headers -------------------------------------------------------------------------


async def test_warnings_are_quoted_like_the_api_server(api: Api) -> None:
    body = msvc("api")
    body["spec"]["bogus"] = 1
    body["spec"]["other"] = 2
    reply = await api.post(MSVC, body, params={"fieldValidation": "Warn"})
    assert reply.status == 201
    assert reply.headers.getall("Warning") == [
        '299 - "unknown field \\"spec.bogus\\""',
        '299 - "unknown field \\"spec.other\\""',
    ]


async def test_kubectl_prints_the_servers_warnings(kubectl: Kubectl, tmp_path: Path) -> None:
    body = msvc("api")
    body["spec"]["bogus"] = 1
    manifest = tmp_path / "msvc.yaml"
    manifest.write_text(yaml.safe_dump(body))
    out = await kubectl("apply", "--validate=warn", "-f", str(manifest), check=False)
    assert 'Warning: unknown field "spec.bogus"' in out, out
    assert "managedservice.tend.dev/api created" in out


# -- Accept negotiation ----------------------------------------------------------------------


async def test_unsupported_accept_is_406_with_the_real_status(api: Api) -> None:
    reply = await api.get(CM, headers={"Accept": "text/html"})
    assert reply.status == 406
    assert reply.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "only the following media types are accepted: application/json, "
        "application/yaml, application/vnd.kubernetes.protobuf",
        "reason": "NotAcceptable",
        "code": 406,
    }
    watch = await api.get(CM, headers={"Accept": "application/yaml"}, params={"watch": "1"})
    assert watch.status == 406
    assert watch.body["message"] == (
        "only the following media types are accepted: application/json;stream=watch, "
        "application/vnd.kubernetes.protobuf;stream=watch"
    )
    unknown_target = await api.get(CM, headers={"Accept": "application/json;as=Foo;g=x;v=v1"})
    assert unknown_target.status == 406


async def test_accept_yaml_wildcards_and_q_values(api: Api) -> None:
    await api.post(CM, configmap("settings", a="1"))
    as_yaml = await api.get(f"{CM}/settings", headers={"Accept": "application/yaml"})
    assert as_yaml.status == 200
    assert as_yaml.headers["Content-Type"].startswith("application/yaml")
    doc = yaml.safe_load(as_yaml.body)
    assert doc["data"] == {"a": "1"}
    assert doc["kind"] == "ConfigMap"
    preferred = await api.get(
        f"{CM}/settings", headers={"Accept": "application/json;q=0.5, application/yaml"}
    )
    assert preferred.headers["Content-Type"].startswith("application/yaml")
    for accept in ("*/*", "application/*", "text/plain, */*;q=0.1"):
        any_ = await api.get(f"{CM}/settings", headers={"Accept": accept})
        assert any_.status == 200, accept
        assert any_.headers["Content-Type"].startswith("application/json")
    missing = await api.get(f"{CM}/nope", headers={"Accept": "application/yaml"})
    assert missing.status == 404
    assert yaml.safe_load(missing.body)["reason"] == "NotFound"


async def test_pretty_output_by_query_parameter_and_user_agent(sim: SimCluster, api: Api) -> None:
    await api.post(CM, configmap("settings", a="1"))
    compact = await api.session.get(f"{sim.url}{CM}/settings")
    assert b"\n" not in await compact.read()
    pretty = await api.session.get(f"{sim.url}{CM}/settings", params={"pretty": "true"})
    text = await pretty.text()
    assert text.startswith('{\n  "apiVersion": "v1",\n  "kind": "ConfigMap",\n')
    assert json.loads(text)["data"] == {"a": "1"}
    curl = await api.session.get(f"{sim.url}{CM}/settings", headers={"User-Agent": "curl/8.5.0"})
    assert (await curl.text()).startswith("{\n  ")
    told_not = await api.session.get(
        f"{sim.url}{CM}/settings",
        params={"pretty": "false"},
        headers={"User-Agent": "curl/8.5.0"},
    )
    assert b"\n" not in await told_not.read()
    by_param = await api.session.get(
        f"{sim.url}/version", headers={"Accept": "application/json;pretty=1"}
    )
    assert (await by_param.text()).startswith("{\n  ")


async def test_custom_resources_do_not_serve_protobuf(api: Api) -> None:
    await api.post(MSVC, msvc("api"))
    only = await api.get(f"{MSVC}/api", headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert only.status == 406
    assert only.body["reason"] == "NotAcceptable"
    fallback = await api.get(
        f"{MSVC}/api", headers={"Accept": "application/vnd.kubernetes.protobuf, application/json"}
    )
    assert fallback.status == 200
    assert fallback.body["kind"] == "ManagedService"
    # built-in kinds do serve protobuf; the simulator answers those requests in JSON
    builtin = await api.get(CM, headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert builtin.status == 200
    assert builtin.headers["Content-Type"].startswith("application/json")


# -- body limits -----------------------------------------------------------------------------


async def test_request_bodies_over_3_mib_are_413(api: Api) -> None:
    reply = await api.post(CM, configmap("big", a="x" * (3 * 1024 * 1024)))
    assert reply.status == 413
    assert reply.body["reason"] == "RequestEntityTooLarge"
    assert reply.body["message"] == "Request entity too large: limit is 3145728"


async def test_objects_over_etcds_limit_are_refused_like_etcd(api: Api) -> None:
    body = msvc("api", args=["x" * (1536 * 1024)])  # valid, only too large for etcd
    reply = await api.post(MSVC, body)
    assert reply.status == 500
    assert reply.body["message"] == "etcdserver: request is too large"
    assert "reason" not in reply.body
    assert (await api.get(f"{MSVC}/api")).status == 404
    body["spec"]["args"] = ["x" * (1024 * 1024)]
    created = await api.post(MSVC, body)
    assert created.status == 201
    grown = created.body
    grown["spec"]["args"].append("y" * (600 * 1024))
    assert (await api.put(f"{MSVC}/api", grown)).status == 500
    kept = await api.get(f"{MSVC}/api")
    assert kept.body["metadata"]["resourceVersion"] == created.body["metadata"]["resourceVersion"]
    assert len(kept.body["spec"]["args"]) == 1


async def test_json_nested_past_gos_limit_is_400(api: Api) -> None:
    raw = b'{"metadata":{"name":"deep"},"data":' + b"[" * 10001 + b"]" * 10001 + b"}"
    async with api.session.post(
        api.base + CM, data=raw, headers={"Content-Type": "application/json"}
    ) as resp:
        status, body = resp.status, await resp.json()
    assert status == 400
    assert body["message"] == (
        "the object provided is unrecognized (must be of type ConfigMap): couldn't get "
        "version/kind; json parse error: invalid character '[' exceeded max depth "
        '({"metadata":{"name":"deep"},"d ...)'
    )
    empty = await api.call("POST", CM, None)
    assert empty.status == 400  # an empty body: a client error, never a 500


# -- health, version, discovery --------------------------------------------------------------


@pytest.mark.parametrize("root", ["healthz", "livez", "readyz"])
async def test_health_endpoints_answer_like_kube_apiserver(api: Api, root: str) -> None:
    plain = await api.get(f"/{root}")
    assert (plain.status, plain.body) == (200, "ok")
    assert plain.headers["X-Content-Type-Options"] == "nosniff"
    verbose = await api.get(f"/{root}", params={"verbose": ""})
    lines = verbose.body.splitlines()
    assert lines[0] == "[+]ping ok"
    assert "[+]etcd ok" in lines
    assert lines[-1] == f"{root} check passed"
    if root == "readyz":
        assert "[+]shutdown ok" in lines
    excluded = await api.get(f"/{root}?verbose&exclude=etcd&exclude=nonsense")
    assert "[+]etcd excluded: ok" in excluded.body.splitlines()
    assert 'warn: some health checks cannot be excluded: no matches for "nonsense"' in (
        excluded.body
    )
    one = await api.get(f"/{root}/ping")
    assert (one.status, one.body) == (200, "ok")
    hook = await api.get(f"/{root}/poststarthook/rbac/bootstrap-roles")
    assert (hook.status, hook.body) == (200, "ok")
    for wrong in (f"/{root}/nonsense", f"/{root}/"):
        missing = await api.get(wrong)
        assert (missing.status, missing.body) == (404, "404 page not found\n")
        assert missing.headers["Content-Type"] == "text/plain; charset=utf-8"


async def test_version_and_discovery_roots(api: Api) -> None:
    version = await api.get("/version")
    assert version.body["major"] == "1"
    assert version.body["gitVersion"].startswith("v1.")
    core = await api.get("/api")
    assert core.body["kind"] == "APIVersions"
    assert core.body["versions"] == ["v1"]
    groups = await api.get("/apis")
    names = [g["name"] for g in groups.body["groups"]]
    assert "apps" in names
    assert "tend.dev" in names
    assert (await api.get("/api", headers={"Accept": "text/html"})).status == 406


# -- the legacy watch prefix -----------------------------------------------------------------


async def test_legacy_watch_paths(api: Api) -> None:
    await api.post(CM, configmap("one"))
    await api.post(MSVC, msvc("api"))
    namespaced = await api.watch(
        "/api/v1/watch/namespaces/default/configmaps", {"timeoutSeconds": "1"}, stop_after=1
    )
    assert namespaced[0]["type"] == "ADDED"
    named = await api.watch(
        "/api/v1/watch/namespaces/default/configmaps/one", {"timeoutSeconds": "1"}, stop_after=1
    )
    assert named[0]["object"]["metadata"]["name"] == "one"
    every = await api.watch("/api/v1/watch/configmaps", {"timeoutSeconds": "1"}, stop_after=1)
    assert every[0]["object"]["kind"] == "ConfigMap"
    custom = await api.watch(
        "/apis/tend.dev/v1alpha1/watch/namespaces/default/managedservices",
        {"timeoutSeconds": "1"},
        stop_after=1,
    )
    assert custom[0]["object"]["metadata"]["name"] == "api"
    assert (
        await api.post("/api/v1/watch/namespaces/default/configmaps", configmap("x"))
    ).status == (405)


async def test_protobuf_delete_options_and_scale(api: Api) -> None:
    """client-go's typed clients send DeleteOptions and Scale as protobuf too."""
    from google.protobuf import message_factory

    from tend_sim.protobuf import _pool

    def message(name: str) -> Any:
        return message_factory.GetMessageClass(_pool().FindMessageTypeByName(name))()

    def envelope(api_version: str, kind: str, msg: Any) -> bytes:
        unknown = message("k8s.io.apimachinery.pkg.runtime.Unknown")
        unknown.typeMeta.apiVersion, unknown.typeMeta.kind = api_version, kind
        unknown.raw = msg.SerializeToString()
        return b"k8s\x00" + bytes(unknown.SerializeToString())

    pb = {"Content-Type": "application/vnd.kubernetes.protobuf"}
    await api.post(CM, configmap("doomed"))
    options = message("k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions")
    options.preconditions.resourceVersion = "1"  # stale: the precondition must be read
    body = envelope("v1", "DeleteOptions", options)
    async with api.session.delete(f"{api.base}{CM}/doomed", data=body, headers=pb) as resp:
        assert resp.status == 409, await resp.text()
    deploy = "/apis/apps/v1/namespaces/default/deployments"
    labels = {"app": "web"}
    template = {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "w", "image": "x"}]},
    }
    spec = {"selector": {"matchLabels": labels}, "template": template}
    created = await api.post(deploy, {"metadata": {"name": "web"}, "spec": spec})
    assert created.status == 201
    scale = message("k8s.io.api.autoscaling.v1.Scale")
    scale.metadata.name = "web"
    scale.spec.replicas = 4
    body = envelope("autoscaling/v1", "Scale", scale)
    async with api.session.put(f"{api.base}{deploy}/web/scale", data=body, headers=pb) as resp:
        assert resp.status == 200, await resp.text()
    assert (await api.get(f"{deploy}/web")).body["spec"]["replicas"] == 4


async def test_long_lists_are_streamed_and_read_whole_by_every_client(
    sim: SimCluster, api: Api, kubectl: Kubectl
) -> None:
    """A list past 500 items goes out chunked as it is encoded (as the API server streams
    its encoder's output); JSON, YAML and kubectl read the same items as from a short list."""
    store = sim.store
    rt = store.resource("configmaps")
    for i in range(1200):
        store.create(
            rt, {"metadata": {"name": f"cm-{i:04d}", "namespace": "default"}, "data": {"i": str(i)}}
        )
    reply = await api.session.get(f"{sim.url}{CM}")
    assert reply.headers.get("Transfer-Encoding") == "chunked"
    listed = json.loads(await reply.read())
    names = [o["metadata"]["name"] for o in listed["items"]]
    assert [n for n in names if n.startswith("cm-")] == [f"cm-{i:04d}" for i in range(1200)]
    assert listed["kind"] == "ConfigMapList"
    assert listed["metadata"]["resourceVersion"] == store.resource_version
    as_yaml = await api.session.get(f"{sim.url}{CM}", headers={"Accept": "application/yaml"})
    assert yaml.safe_load(await as_yaml.text())["items"] == listed["items"]
    short = await api.session.get(f"{sim.url}{CM}", params={"limit": "10"})
    assert "Transfer-Encoding" not in short.headers
    assert [o["metadata"]["name"] for o in json.loads(await short.read())["items"]] == names[:10]
    out = await kubectl("get", "configmaps", "-o", "name")
    assert sum(line.startswith("configmap/cm-") for line in out.splitlines()) == 1200
