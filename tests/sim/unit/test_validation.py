"""Built-in kinds refused like kube-apiserver refuses them (tend_sim.validation)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tend_sim.validation import validate_builtin

LABELS = {"app.kubernetes.io/name": "api"}


def meta(name: str = "api", namespace: str | None = "shop", **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, **extra}
    if namespace is not None:
        m["namespace"] = namespace
    return m


def pod_spec(**extra: Any) -> dict[str, Any]:
    return {
        "containers": [{"name": "app", "image": "img:1", "ports": [{"containerPort": 80}]}],
        **extra,
    }


def deployment(**spec: Any) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": meta(),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": LABELS},
            "template": {"metadata": {"labels": LABELS}, "spec": pod_spec()},
            **spec,
        },
    }


def job(**spec: Any) -> dict[str, Any]:
    return {
        "kind": "Job",
        "metadata": meta(),
        "spec": {"template": {"spec": pod_spec(restartPolicy="Never")}, **spec},
    }


def service(**spec: Any) -> dict[str, Any]:
    ports = [{"name": "http", "port": 80, "targetPort": "http"}]
    return {
        "kind": "Service",
        "metadata": meta(),
        "spec": {"selector": LABELS, "ports": ports, **spec},
    }


def described(kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    return [c.describe() for c in validate_builtin(kind, obj, old)]


VALID = [
    ("Pod", {"metadata": meta(), "spec": pod_spec()}),
    ("Deployment", deployment()),
    ("Job", job()),
    ("Service", service()),
    ("ConfigMap", {"metadata": meta(), "data": {"app.yaml": "x", "KEY_1": "y"}}),
    ("Secret", {"metadata": meta(), "data": {"token": "eA=="}}),
    ("Namespace", {"metadata": meta("shop", namespace=None)}),
    ("Lease", {"metadata": meta(), "spec": {"holderIdentity": "x", "leaseDurationSeconds": 15}}),
    ("PodDisruptionBudget", {"metadata": meta(), "spec": {"minAvailable": 1}}),
    (
        "EndpointSlice",
        {"metadata": meta(), "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}]},
    ),
    ("Event", {"metadata": meta("api.1"), "involvedObject": {"kind": "Pod", "namespace": "shop"}}),
]


@pytest.mark.parametrize(("kind", "obj"), VALID, ids=[k for k, _ in VALID])
def test_valid_objects_of_every_served_kind_pass(kind: str, obj: dict[str, Any]) -> None:
    assert described(kind, obj) == []


def test_names_follow_the_kind_rules_with_api_server_messages() -> None:
    bad = {"metadata": meta("Api_1"), "spec": pod_spec()}
    (line,) = described("Pod", bad)
    assert line.startswith('metadata.name: Invalid value: "Api_1": a lowercase RFC 1123 subdomain')
    svc = service()
    svc["metadata"]["name"] = "1api"
    assert described("Service", svc)[0].startswith(
        'metadata.name: Invalid value: "1api": a DNS-1035 label must consist'
    )


def test_namespace_is_required_for_namespaced_kinds_and_forbidden_on_namespaces() -> None:
    assert described("Pod", {"metadata": meta(namespace=None), "spec": pod_spec()}) == [
        "metadata.namespace: Required value"
    ]
    assert described("Namespace", {"metadata": meta("shop", namespace="x")}) == [
        "metadata.namespace: Forbidden: not allowed on this type"
    ]


def test_name_or_generate_name_is_required() -> None:
    assert described("ConfigMap", {"metadata": {"namespace": "shop"}}) == [
        "metadata.name: Required value: name or generateName is required"
    ]
    assert described("ConfigMap", {"metadata": {"namespace": "shop", "generateName": "api-"}}) == []


def test_label_keys_and_values_are_checked() -> None:
    obj = {"metadata": meta(labels={"bad key": "v", "ok": "-bad-"}), "data": {}}
    reasons = described("ConfigMap", obj)
    assert len(reasons) == 2
    assert reasons[0].startswith(
        'metadata.labels: Invalid value: "bad key": name part must consist'
    )
    assert reasons[1].startswith('metadata.labels: Invalid value: "-bad-": a valid label must be')


def test_only_one_owner_reference_may_be_the_controller() -> None:
    owner = {
        "apiVersion": "tend.dev/v1alpha1",
        "kind": "ManagedService",
        "uid": "u",
        "controller": True,
    }
    refs = [{**owner, "name": "a"}, {**owner, "name": "b"}, {"kind": "X", "name": "c", "uid": "u"}]
    lines = described("ConfigMap", {"metadata": meta(ownerReferences=refs)})
    assert lines == [
        'metadata.ownerReferences[2].apiVersion: Invalid value: "": version must not be empty',
        "metadata.ownerReferences: Invalid value: Only one reference can have Controller set to "
        'true. Found "true" in references for ManagedService/a and ManagedService/b',
    ]


def test_pod_needs_containers_with_names_images_and_valid_ports() -> None:
    assert described("Pod", {"metadata": meta(), "spec": {"containers": []}}) == [
        "spec.containers: Required value"
    ]
    spec = {
        "containers": [
            {"name": "app", "image": "", "ports": [{"containerPort": 70000}]},
            {"name": "app", "image": "x"},
        ],
        "restartPolicy": "Sometimes",
    }
    assert described("Pod", {"metadata": meta(), "spec": spec}) == [
        "spec.containers[0].image: Required value",
        "spec.containers[0].ports[0].containerPort: Invalid value: 70000: "
        "must be between 1 and 65535, inclusive",
        'spec.containers[1].name: Duplicate value: "app"',
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
        '"Always", "OnFailure", "Never"',
    ]


def test_probe_has_exactly_one_handler_and_liveness_success_threshold_one() -> None:
    spec = pod_spec()
    spec["containers"][0]["livenessProbe"] = {"successThreshold": 2, "exec": {"command": ["true"]}}
    spec["containers"][0]["readinessProbe"] = {}
    spec["containers"][0]["startupProbe"] = {"exec": {}, "tcpSocket": {"port": 80}}
    assert described("Pod", {"metadata": meta(), "spec": spec}) == [
        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
        "spec.containers[0].readinessProbe: Required value: must specify a handler type",
        "spec.containers[0].startupProbe.tcpSocket: Forbidden: "
        "may not specify more than 1 handler type",
    ]


def test_deployment_selector_must_match_template_labels_and_restart_always() -> None:
    obj = deployment(replicas=-1, selector={"matchLabels": {"app": "other"}})
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert described("Deployment", obj) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app.kubernetes.io/name":'
        '"api"}: `selector` does not match template `labels`',
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
    ]


def test_deployment_requires_a_selector_and_checks_the_strategy() -> None:
    obj = deployment(strategy={"type": "Recreate", "rollingUpdate": {}})
    del obj["spec"]["selector"]
    assert described("Deployment", obj) == [
        "spec.selector: Required value",
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is "
        "'Recreate'",
    ]
    zero = deployment(strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}})
    assert described("Deployment", zero) == [
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when "
        "`maxSurge` is 0"
    ]


def test_deployment_selector_is_immutable() -> None:
    old = deployment()
    new = copy.deepcopy(old)
    new["spec"]["selector"]["matchLabels"]["extra"] = "x"
    new["spec"]["template"]["metadata"]["labels"]["extra"] = "x"
    assert described("Deployment", new, old) == ["spec.selector: Invalid value: field is immutable"]
    assert described("Deployment", copy.deepcopy(old), old) == []


def test_job_refuses_restart_policy_always_and_negative_counts() -> None:
    obj = job(backoffLimit=-1)
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert described("Job", obj) == [
        "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: '
        '"OnFailure", "Never"',
    ]


def test_job_template_and_selector_are_immutable() -> None:
    old = job(selector={"matchLabels": {"x": "1"}})
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "img:2"
    assert described("Job", new, old) == ["spec.template: Invalid value: field is immutable"]


def test_service_ports_need_unique_names_valid_numbers_and_known_type() -> None:
    ports = [{"name": "http", "port": 80}, {"name": "http", "port": 0}, {"port": 81}]
    assert described("Service", service(ports=ports, type="Internal")) == [
        'spec.type: Unsupported value: "Internal": supported values: "ClusterIP", '
        '"ExternalName", "LoadBalancer", "NodePort"',
        'spec.ports[1].name: Duplicate value: "http"',
        "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        "spec.ports[2].name: Required value",
    ]


def test_service_cluster_ip_is_immutable() -> None:
    old = service(clusterIP="10.96.0.10")
    new = service(clusterIP="10.96.0.11")
    assert described("Service", new, old) == [
        'spec.clusterIP: Invalid value: "10.96.0.11": field is immutable'
    ]


def test_pdb_min_available_and_max_unavailable_are_exclusive() -> None:
    obj = {"metadata": meta(), "spec": {"minAvailable": 1, "maxUnavailable": 1}}
    assert described("PodDisruptionBudget", obj) == [
        "spec: Invalid value: minAvailable and maxUnavailable cannot be both set"
    ]


def test_endpointslice_address_type_is_required_and_known() -> None:
    assert described("EndpointSlice", {"metadata": meta()}) == ["addressType: Required value"]
    assert described("EndpointSlice", {"metadata": meta(), "addressType": "IPX"}) == [
        'addressType: Unsupported value: "IPX": supported values: "FQDN", "IPv4", "IPv6"'
    ]


def test_event_involved_object_must_be_in_the_event_namespace() -> None:
    obj = {"metadata": meta("api.1"), "involvedObject": {"kind": "Pod", "namespace": "other"}}
    assert described("Event", obj) == [
        'involvedObject.namespace: Invalid value: "other": does not match event.namespace'
    ]
    new_style = {"metadata": meta("api.2"), "regarding": {"namespace": "shop"}, "type": "Normal"}
    assert [line.split(":")[0] for line in described("Event", new_style)] == [
        "reportingController",
        "reportingInstance",
        "action",
        "reason",
    ]


def test_config_keys_must_be_valid_and_not_duplicated() -> None:
    obj = {"metadata": meta(), "data": {"bad/key": "x", "a": "1"}, "binaryData": {"a": "MQ=="}}
    lines = described("ConfigMap", obj)
    assert lines[0].startswith('data[bad/key]: Invalid value: "bad/key": a valid config key')
    assert lines[1] == 'data[a]: Invalid value: "a": duplicate of key present in binaryData'


def test_lease_duration_must_be_positive() -> None:
    obj = {"metadata": meta(), "spec": {"leaseDurationSeconds": 0}}
    assert described("Lease", obj) == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"
    ]


def test_name_and_namespace_cannot_change_on_update() -> None:
    old = {"metadata": meta(), "data": {}}
    new = {"metadata": meta("other"), "data": {}}
    assert described("ConfigMap", new, old) == [
        'metadata.name: Invalid value: "other": field is immutable'
    ]
