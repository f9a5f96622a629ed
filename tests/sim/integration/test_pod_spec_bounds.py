"""ValidatePodSpec's bounds on pods and pod templates: the 400s of decoding and the 422s of
validation a real API server answers, with its messages."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Api

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
PODS = "/api/v1/namespaces/default/pods"
C = "spec.template.spec.containers[0]"


def deployment(container: dict[str, Any] | None = None, **pod_spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{"name": "main", "image": "nginx:1", **(container or {})}],
                    **pod_spec,
                },
            },
        },
    }


def invalid(*details: str) -> str:
    joined = details[0] if len(details) == 1 else "[" + ", ".join(details) + "]"
    return f'Deployment.apps "web" is invalid: {joined}'


@pytest.mark.parametrize(
    ("container", "pod_spec", "message"),
    [
        (
            {"securityContext": {"runAsUser": 2**40}},
            {},
            f"{C}.securityContext.runAsUser: Invalid value: 1099511627776: "
            "must be between 0 and 2147483647, inclusive",
        ),
        (
            {},
            {"securityContext": {"runAsGroup": -1, "fsGroup": 2**31}},
            invalid(
                "spec.template.spec.securityContext.runAsGroup: Invalid value: -1: "
                "must be between 0 and 2147483647, inclusive",
                "spec.template.spec.securityContext.fsGroup: Invalid value: 2147483648: "
                "must be between 0 and 2147483647, inclusive",
            ),
        ),
        (
            {"resources": {"requests": {"cpu": "-100m"}}},
            {},
            f'{C}.resources.requests[cpu]: Invalid value: "-100m": '
            "must be greater than or equal to 0",
        ),
        (
            {"resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}},
            {},
            f'{C}.resources.requests: Invalid value: "2Gi": '
            "must be less than or equal to memory limit of 1Gi",
        ),
        (
            {
                "resources": {
                    "requests": {"example.com/gpu": "1"},
                    "limits": {"example.com/gpu": "2"},
                }
            },
            {},
            f'{C}.resources.requests: Invalid value: "1": '
            "must be equal to example.com/gpu limit of 2",
        ),
        (
            {"resources": {"limits": {"gpu": "1"}}},
            {},
            f'{C}.resources.limits[gpu]: Invalid value: "gpu": '
            "must be a standard resource for containers",
        ),
        (
            {"env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels"}}}]},
            {},
            f'{C}.env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "metadata.labels": '
            'supported values: "metadata.name", "metadata.namespace", "metadata.uid", '
            '"spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", '
            '"status.podIP", "status.podIPs"',
        ),
        (
            {"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.color"}}}]},
            {},
            f'{C}.env[0].valueFrom.fieldRef.fieldPath: Invalid value: "metadata.color": '
            "error converting fieldPath: field label not supported: metadata.color",
        ),
        (
            {"env": [{"name": "A=B", "value": "1"}]},
            {},
            f'{C}.env[0].name: Invalid value: "A=B": a valid environment variable name must '
            "consist only of printable ASCII characters other than '='",
        ),
        (
            {"livenessProbe": {"tcpSocket": {"port": 80}, "failureThreshold": -1}},
            {},
            f"{C}.livenessProbe.failureThreshold: Invalid value: -1: "
            "must be greater than or equal to 0",
        ),
        (
            {"livenessProbe": {"tcpSocket": {"port": 80}, "terminationGracePeriodSeconds": 0}},
            {},
            f"{C}.livenessProbe.terminationGracePeriodSeconds: Invalid value: 0: "
            "must be greater than 0",
        ),
        (
            {},
            {"terminationGracePeriodSeconds": -5},
            "spec.template.spec.terminationGracePeriodSeconds: Invalid value: -5: "
            "must be greater than or equal to 0",
        ),
    ],
)
async def test_out_of_bounds_pod_spec_fields_are_422(
    api: Api, container: dict[str, Any], pod_spec: dict[str, Any], message: str
) -> None:
    reply = await api.post(DEPLOYMENTS, deployment(container, **pod_spec))
    assert reply.status == 422, reply.body
    expected = message if message.startswith("Deployment.apps") else invalid(message)
    assert reply.body["message"] == expected


async def test_what_a_real_server_accepts_is_accepted(api: Api) -> None:
    container = {
        "env": [
            {"name": "my.var-1 x", "value": "relaxed names since 1.34"},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}},
            {"name": "TEAM", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['team']"}}},
        ],
        "resources": {"requests": {"cpu": "0"}, "limits": {"cpu": "0"}},
        "securityContext": {"runAsUser": 2147483647},
        "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 0, "failureThreshold": 0},
    }
    reply = await api.post(DEPLOYMENTS, deployment(container))
    assert reply.status == 201, reply.body
    probe = reply.body["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert (probe["periodSeconds"], probe["failureThreshold"]) == (10, 3)  # zero is unset


async def test_pods_default_requests_to_limits(api: Api) -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {
            "containers": [{"name": "m", "image": "x:1", "resources": {"limits": {"cpu": "1"}}}]
        },
    }
    reply = await api.post(PODS, pod)
    assert reply.status == 201, reply.body
    assert reply.body["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "1"}
