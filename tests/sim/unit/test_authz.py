"""RBAC rule matching, request attributes and 403 messages, as kube-apiserver has them."""

from __future__ import annotations

from typing import Any

import pytest

from tend_sim.authz import (
    Attributes,
    UserInfo,
    forbidden,
    non_resource_url_matches,
    request_attributes,
    resource_matches,
    rule_allows,
)

SA = UserInfo(
    "system:serviceaccount:tend-system:tend",
    ("system:serviceaccounts", "system:serviceaccounts:tend-system", "system:authenticated"),
)


@pytest.mark.parametrize(
    ("method", "path", "query", "want"),
    [
        ("GET", "/api/v1/namespaces/default/pods", {}, ("list", "", "pods", "", "default", "")),
        (
            "GET",
            "/api/v1/namespaces/default/pods",
            {"watch": "true"},
            ("watch", "", "pods", "", "default", ""),
        ),
        (
            "GET",
            "/api/v1/namespaces/default/pods",
            {"watch": "false"},
            ("list", "", "pods", "", "default", ""),
        ),
        ("GET", "/api/v1/namespaces/default/pods/p", {}, ("get", "", "pods", "", "default", "p")),
        (
            "GET",
            "/api/v1/namespaces/default/pods/p",
            {"watch": "1"},
            ("get", "", "pods", "", "default", "p"),
        ),
        ("GET", "/api/v1/watch/pods", {}, ("watch", "", "pods", "", "", "")),
        ("DELETE", "/api/v1/namespaces/a/pods", {}, ("deletecollection", "", "pods", "", "a", "")),
        ("DELETE", "/api/v1/namespaces/a/pods/p", {}, ("delete", "", "pods", "", "a", "p")),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/a/deployments/d/status",
            {},
            ("patch", "apps", "deployments", "status", "a", "d"),
        ),
        (
            "PUT",
            "/api/v1/namespaces/a/finalize",
            {},
            ("update", "", "namespaces", "finalize", "a", "a"),
        ),
        ("GET", "/api/v1/namespaces/a", {}, ("get", "", "namespaces", "", "a", "a")),
        ("GET", "/api/v1/namespaces", {}, ("list", "", "namespaces", "", "", "")),
        (
            "POST",
            "/api/v1/namespaces/a/serviceaccounts/t/token",
            {},
            ("create", "", "serviceaccounts", "token", "a", "t"),
        ),
        (
            "GET",
            "/apis/tend.dev/v1alpha1/managedservices",
            {},
            ("list", "tend.dev", "managedservices", "", "", ""),
        ),
    ],
)
def test_request_attributes_follow_requestinfo(
    method: str, path: str, query: dict[str, str], want: tuple[str, ...]
) -> None:
    a = request_attributes(SA, method, path, query)
    assert a.resource_request
    assert (a.verb, a.api_group, a.resource, a.subresource, a.namespace, a.name) == want


@pytest.mark.parametrize(
    "path", ["/version", "/healthz", "/api", "/apis", "/apis/apps", "/api/v1", "/apis/apps/v1"]
)
def test_discovery_and_health_are_non_resource_requests(path: str) -> None:
    a = request_attributes(SA, "GET", path, {})
    assert not a.resource_request
    assert (a.verb, a.path) == ("get", path)


def _attrs(verb: str, group: str, resource: str, sub: str = "", name: str = "") -> Attributes:
    return Attributes(SA, verb, True, namespace="ns", api_group=group, resource=resource,
                      subresource=sub, name=name)  # fmt: skip


RULE: dict[str, Any] = {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}


def _rule(**changes: Any) -> dict[str, Any]:
    return {**RULE, **changes}


D = "deployments"


@pytest.mark.parametrize(
    ("rule", "attrs", "allowed"),
    [
        (RULE, _attrs("get", "apps", D), True),
        (RULE, _attrs("list", "apps", D), False),
        (RULE, _attrs("get", "", D), False),
        (RULE, _attrs("get", "apps", "replicasets"), False),
        # a resource rule does not cover its subresources
        (RULE, _attrs("get", "apps", D, "status"), False),
        (_rule(resources=["deployments/status"]), _attrs("get", "apps", D, "status"), True),
        (_rule(resources=["deployments/status"]), _attrs("get", "apps", D), False),
        (_rule(resources=["*/status"]), _attrs("get", "apps", D, "status"), True),
        (_rule(resources=["*/status"]), _attrs("get", "apps", D, "scale"), False),
        (_rule(resources=["*"]), _attrs("get", "apps", D, "scale"), True),
        (_rule(verbs=["*"]), _attrs("deletecollection", "apps", D), True),
        (_rule(apiGroups=["*"]), _attrs("get", "batch", D), True),
        (_rule(resourceNames=["a"]), _attrs("get", "apps", D, name="a"), True),
        (_rule(resourceNames=["a"]), _attrs("get", "apps", D, name="b"), False),
        # resourceNames cannot allow a list (no name on the request)
        (_rule(verbs=["list"], resourceNames=["a"]), _attrs("list", "apps", D), False),
        # a resource rule never allows a non-resource URL
        (_rule(resources=["*"], apiGroups=["*"]), Attributes(SA, "get", False, "/version"), False),
    ],
)
def test_rule_allows(rule: dict[str, Any], attrs: Attributes, allowed: bool) -> None:
    assert rule_allows(attrs, rule) is allowed


@pytest.mark.parametrize(
    ("urls", "url", "matches"),
    [
        (["/healthz"], "/healthz", True),
        (["/healthz"], "/healthz/etcd", False),
        (["/healthz/*"], "/healthz/etcd", True),
        (["/healthz/*"], "/healthz", False),
        (["/apis*"], "/apis/apps", True),
        (["*"], "/anything", True),
    ],
)
def test_non_resource_urls(urls: list[str], url: str, matches: bool) -> None:
    assert non_resource_url_matches({"nonResourceURLs": urls, "verbs": ["get"]}, url) is matches


def test_star_subresource_needs_the_exact_subresource() -> None:
    assert resource_matches({"resources": ["*/scale"]}, "deployments/scale", "scale")
    assert not resource_matches({"resources": ["*/scale"]}, "deployments", "")
    assert not resource_matches({"resources": ["*/scale"]}, "deployments/status", "status")


def test_forbidden_messages_are_kubernetes_own() -> None:
    ns = forbidden(request_attributes(SA, "GET", "/api/v1/namespaces/default/pods", {}), "")
    assert ns.code == 403
    assert ns.message == (
        'pods is forbidden: User "system:serviceaccount:tend-system:tend" cannot list resource '
        '"pods" in API group "" in the namespace "default"'
    )
    assert ns.to_status()["details"] == {"kind": "pods"}
    cluster = forbidden(request_attributes(SA, "GET", "/api/v1/nodes/n1", {}), "")
    assert cluster.message == (
        'nodes "n1" is forbidden: User "system:serviceaccount:tend-system:tend" cannot get '
        'resource "nodes" in API group "" at the cluster scope'
    )
    sub = forbidden(
        request_attributes(SA, "PATCH", "/apis/apps/v1/namespaces/a/deployments/d/status", {}),
        'RBAC: role.rbac.authorization.k8s.io "x" not found',
    )
    assert sub.message == (
        'deployments.apps "d" is forbidden: User "system:serviceaccount:tend-system:tend" cannot '
        'patch resource "deployments/status" in API group "apps" in the namespace "a": '
        'RBAC: role.rbac.authorization.k8s.io "x" not found'
    )
    assert sub.to_status()["details"] == {"name": "d", "group": "apps", "kind": "deployments"}
    path = forbidden(request_attributes(SA, "GET", "/metrics", {}), "")
    assert path.message == (
        'forbidden: User "system:serviceaccount:tend-system:tend" cannot get path "/metrics"'
    )
