"""Every `kubectl create <kind>` subcommand works: kubectl sends built-in kinds as protobuf, which
the simulator decodes (tend_sim/protobuf.py) into the object the API server would store."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import yaml

from tend_sim.cluster import SimCluster

from .conftest import Api, Kubectl


def _get(sim: SimCluster, resource: str, name: str, namespace: str | None = "default") -> Any:
    rt = sim.store.resource(resource)
    return sim.store.get(rt, namespace if rt.namespaced else None, name)


CASES: list[tuple[list[str], str, str, dict[str, Any]]] = [
    (
        ["deployment", "web", "--image=nginx:1.27", "--replicas=2", "--port=8080"],
        "deployments",
        "web",
        {
            "spec.replicas": 2,
            "spec.selector.matchLabels": {"app": "web"},
            "spec.template.spec.containers.0.name": "nginx",
            "spec.template.spec.containers.0.image": "nginx:1.27",
            "spec.template.spec.containers.0.ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "spec.template.spec.containers.0.resources": {},
        },
    ),
    (
        ["job", "once", "--image=busybox", "--", "echo", "hi"],
        "jobs",
        "once",
        {
            "spec.template.spec.containers.0.command": ["echo", "hi"],
            "spec.template.spec.restartPolicy": "Never",
        },
    ),
    (
        ["cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *"],
        "cronjobs",
        "tick",
        {"spec.schedule": "*/5 * * * *", "spec.jobTemplate.metadata.name": "tick"},
    ),
    (
        ["service", "clusterip", "api", "--tcp=80:8080"],
        "services",
        "api",
        {
            "spec.type": "ClusterIP",
            "spec.ports": [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}],
            "spec.selector": {"app": "api"},
        },
    ),
    (
        ["service", "nodeport", "np", "--tcp=80:8080", "--node-port=30080"],
        "services",
        "np",
        {"spec.type": "NodePort", "spec.ports.0.nodePort": 30080},
    ),
    (
        ["service", "loadbalancer", "lb", "--tcp=443"],
        "services",
        "lb",
        {"spec.type": "LoadBalancer", "spec.ports.0.port": 443},
    ),
    (
        ["service", "externalname", "ext", "--external-name=db.example.com"],
        "services",
        "ext",
        {"spec.type": "ExternalName", "spec.externalName": "db.example.com"},
    ),
    (
        ["role", "reader", "--verb=get,list", "--resource=pods"],
        "roles",
        "reader",
        {"rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]},
    ),
    (
        ["rolebinding", "read", "--role=reader", "--user=alice", "--serviceaccount=default:bot"],
        "rolebindings",
        "read",
        {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
                {"kind": "ServiceAccount", "name": "bot", "namespace": "default"},
            ],
        },
    ),
    (
        ["clusterrole", "viewer", "--verb=get", "--resource=nodes"],
        "clusterroles",
        "viewer",
        {"rules.0.resources": ["nodes"]},
    ),
    (
        ["clusterrolebinding", "view", "--clusterrole=viewer", "--group=ops"],
        "clusterrolebindings",
        "view",
        {"roleRef.kind": "ClusterRole", "subjects.0.name": "ops"},
    ),
    (
        ["poddisruptionbudget", "pdb", "--selector=app=web", "--min-available=1"],
        "poddisruptionbudgets",
        "pdb",
        {"spec.minAvailable": 1, "spec.selector.matchLabels": {"app": "web"}},
    ),
    (
        ["poddisruptionbudget", "pct", "--selector=app=web", "--max-unavailable=50%"],
        "poddisruptionbudgets",
        "pct",
        {"spec.maxUnavailable": "50%"},
    ),
    (
        ["ingress", "site", "--rule=shop.example.com/=api:80"],
        "ingresses",
        "site",
        {
            "spec.rules.0.host": "shop.example.com",
            "spec.rules.0.http.paths.0.backend.service": {"name": "api", "port": {"number": 80}},
            "spec.rules.0.http.paths.0.pathType": "Exact",
        },
    ),
    (
        ["secret", "generic", "creds", "--from-literal=user=admin"],
        "secrets",
        "creds",
        {"data": {"user": "YWRtaW4="}, "type": "Opaque"},
    ),
    (
        [
            "secret",
            "docker-registry",
            "pull",
            "--docker-server=r.example",
            "--docker-username=u",
            "--docker-password=p",
        ],
        "secrets",
        "pull",
        {"type": "kubernetes.io/dockerconfigjson"},
    ),
    (
        ["configmap", "settings", "--from-literal=a=1", "--from-literal=b=2"],
        "configmaps",
        "settings",
        {"data": {"a": "1", "b": "2"}},
    ),
    (["namespace", "shop"], "namespaces", "shop", {"spec.finalizers": ["kubernetes"]}),
    (
        ["quota", "small", "--hard=cpu=1,memory=1Gi,pods=10"],
        "resourcequotas",
        "small",
        {"spec.hard": {"cpu": "1", "memory": "1Gi", "pods": "10"}},
    ),
    (
        ["priorityclass", "high", "--value=1000", "--description=important"],
        "priorityclasses",
        "high",
        {"value": 1000, "description": "important", "preemptionPolicy": "PreemptLowerPriority"},
    ),
    (["serviceaccount", "bot"], "serviceaccounts", "bot", {"metadata.name": "bot"}),
]


def _at(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


@pytest.mark.parametrize(
    ("args", "resource", "name", "expected"), CASES, ids=[" ".join(c[0][:2]) for c in CASES]
)
async def test_kubectl_create(
    kubectl: Kubectl,
    sim: SimCluster,
    args: list[str],
    resource: str,
    name: str,
    expected: dict[str, Any],
) -> None:
    out = await kubectl("create", *args)
    assert "created" in out
    obj = _get(sim, resource, name)
    for path, value in expected.items():
        assert _at(obj, path) == value, (path, yaml.safe_dump(obj))
    assert "creationTimestamp" in obj["metadata"]
    assert obj["metadata"]["uid"]


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


async def test_kubectl_create_token(kubectl: Kubectl, sim: SimCluster, api: Api) -> None:
    await kubectl("create", "serviceaccount", "bot")
    token = (await kubectl("create", "token", "bot", "--duration=20m", "--audience=vault")).strip()
    claims = _claims(token)
    assert claims["sub"] == "system:serviceaccount:default:bot"
    assert claims["aud"] == ["vault"]
    assert claims["exp"] - claims["iat"] == 1200
    uid = _get(sim, "serviceaccounts", "bot")["metadata"]["uid"]
    assert claims["kubernetes.io"]["serviceaccount"] == {"name": "bot", "uid": uid}
    short = await kubectl("create", "token", "bot", "--duration=5m", check=False)
    assert "may not specify a duration less than 10 minutes" in short
    missing = await kubectl("create", "token", "nobody", check=False)
    assert 'serviceaccounts "nobody" not found' in missing
    reply = await api.post("/api/v1/namespaces/default/serviceaccounts/bot/token", {})
    assert reply.status == 201
    # TokenRequestSpec.BoundObjectRef has no omitempty (k8s.io/api authentication/v1 types.go).
    assert reply.body["spec"] == {
        "audiences": ["https://kubernetes.default.svc.cluster.local"],
        "expirationSeconds": 3600,
        "boundObjectRef": None,
    }
    assert reply.body["status"]["expirationTimestamp"]
