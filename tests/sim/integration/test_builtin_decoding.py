"""Typed decoding of built-in kinds: quantities come back canonical, integers must fit their
Go type, and custom resources are stored as sent."""

from __future__ import annotations

from typing import Any

from .conftest import MSVC, Api, msvc

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
PODS = "/api/v1/namespaces/default/pods"


def deployment(container: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "main", "image": "nginx:1", **container}]},
            },
            **spec,
        },
    }


async def test_quantities_are_canonicalised_in_builtin_objects(api: Api) -> None:
    body = deployment(
        {"resources": {"requests": {"cpu": 0.5, "memory": "1.5Gi"}, "limits": {"cpu": "1000"}}}
    )
    body["spec"]["template"]["spec"]["volumes"] = [
        {"name": "tmp", "emptyDir": {"sizeLimit": "1073741824"}}
    ]
    reply = await api.post(DEPLOYMENTS, body)
    assert reply.status == 201, reply.body
    pod_spec = reply.body["spec"]["template"]["spec"]
    resources = pod_spec["containers"][0]["resources"]
    assert resources == {"requests": {"cpu": "500m", "memory": "1536Mi"}, "limits": {"cpu": "1k"}}
    assert pod_spec["volumes"][0]["emptyDir"]["sizeLimit"] == "1073741824"
    stored = await api.get(f"{DEPLOYMENTS}/web")
    assert stored.body["spec"]["template"]["spec"]["containers"][0]["resources"] == resources


async def test_quantities_in_quota_and_pvc(api: Api) -> None:
    quota = {
        "metadata": {"name": "q"},
        "spec": {"hard": {"requests.memory": "2048Mi", "pods": "10", "cpu": "0.1"}},
    }
    reply = await api.post("/api/v1/namespaces/default/resourcequotas", quota)
    assert reply.status == 201, reply.body
    assert reply.body["spec"]["hard"] == {"requests.memory": "2Gi", "pods": "10", "cpu": "100m"}
    pvc = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1000M"}}},
    }
    reply = await api.post("/api/v1/namespaces/default/persistentvolumeclaims", pvc)
    assert reply.status == 201, reply.body
    assert reply.body["spec"]["resources"]["requests"]["storage"] == "1G"


async def test_malformed_quantity_fails_decoding(api: Api) -> None:
    reply = await api.post(DEPLOYMENTS, deployment({"resources": {"limits": {"memory": "2GB"}}}))
    assert reply.status == 400, reply.body
    assert reply.body["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: quantities must match '
        "the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


async def test_int32_overflow_fails_decoding(api: Api) -> None:
    probe = {"tcpSocket": {"port": 80}, "periodSeconds": 2147483648}
    reply = await api.post(DEPLOYMENTS, deployment({"livenessProbe": probe}))
    assert reply.status == 400, reply.body
    assert reply.body["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal '
        "number 2147483648 into Go struct field "
        "Probe.spec.template.spec.containers.livenessProbe.periodSeconds of type int32"
    )
    reply = await api.post(DEPLOYMENTS, deployment({}, replicas="2"))
    assert reply.status == 400, reply.body
    assert (
        "cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas"
        in (reply.body["message"])
    )


async def test_custom_resource_quantities_are_stored_as_sent(api: Api) -> None:
    reply = await api.post(
        MSVC, msvc("api", resources={"requests": {"cpu": "0.5", "memory": "1073741824"}})
    )
    assert reply.status == 201, reply.body
    assert reply.body["spec"]["resources"]["requests"] == {"cpu": "0.5", "memory": "1073741824"}


async def test_quantities_in_limit_ranges(api: Api) -> None:
    limits = {
        "metadata": {"name": "l"},
        "spec": {"limits": [{"type": "Container", "default": {"memory": "0.25Gi"}}]},
    }
    reply = await api.post("/api/v1/namespaces/default/limitranges", limits)
    assert reply.status == 201, reply.body
    assert reply.body["spec"]["limits"][0]["default"] == {"memory": "256Mi"}


async def test_a_create_decodes_the_body_before_defaulting_and_admission(api: Api) -> None:
    """kube-apiserver decodes a body into its Go struct before it defaults or admits it: the
    QoS class sees canonical quantities (0.5 CPU is 500m), and a body that cannot be decoded
    is a 400 even when admission would refuse it too (no such service account: 403)."""
    same = {"cpu": "0.5", "memory": "64Mi"}
    pod = {
        "metadata": {"name": "qos"},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "nginx:1",
                    "resources": {"requests": same, "limits": {**same, "cpu": "500m"}},
                }
            ]
        },
    }
    reply = await api.post(PODS, pod)
    assert reply.status == 201, reply.body
    assert reply.body["status"]["qosClass"] == "Guaranteed"
    bad = {
        "metadata": {"name": "bad"},
        "spec": {
            "serviceAccountName": "nobody",
            "containers": [
                {"name": "main", "image": "nginx:1", "resources": {"limits": {"memory": "2GB"}}}
            ],
        },
    }
    reply = await api.post(PODS, bad)
    assert reply.status == 400, reply.body
    assert "quantities must match" in reply.body["message"]
