"""The ManagedService models: defaults, cross-field rules, and field-named errors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tend.api import (
    KIND,
    DependencyCondition,
    ManagedService,
    OnExhausted,
    Policy,
)
from tend.api.validation import format_errors


def body(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "tend.dev/v1alpha1",
        "kind": "ManagedService",
        "metadata": {"name": "api", "namespace": "shop"},
        "spec": {"image": "example/api:1", **spec},
    }


def errors(**spec: Any) -> list[str]:
    with pytest.raises(ValidationError) as info:
        ManagedService.model_validate(body(**spec))
    return format_errors(info.value)


def test_only_image_is_required_and_defaults_fill_the_rest() -> None:
    ms = ManagedService.model_validate(body())
    assert ms.spec.replicas == 1
    assert ms.spec.restart_policy.policy == Policy.ALWAYS
    assert ms.spec.restart_policy.on_exhausted == OnExhausted.ALERT
    assert ms.spec.restart_policy.max_restarts is None  # the operator's default applies
    assert ms.spec.shutdown.grace_period == "30s"
    assert not ms.spec.runs_to_completion


def test_missing_image_names_the_field() -> None:
    raw = body()
    del raw["spec"]["image"]
    with pytest.raises(ValidationError) as info:
        ManagedService.model_validate(raw)
    assert format_errors(info.value) == ["spec.image: Field required"]


def test_api_output_round_trips_in_camel_case() -> None:
    raw = body(
        restartPolicy={"maxRestarts": 3, "window": "5m"},
        ports=[{"name": "http", "containerPort": 80}],
    )
    ms = ManagedService.model_validate(raw)
    api = ms.spec.to_api()
    assert api["restartPolicy"]["maxRestarts"] == 3
    assert api["ports"][0]["containerPort"] == 80
    assert ManagedService.model_validate({**raw, "spec": api}).spec == ms.spec


def test_dependency_targets_resolve_namespace_and_kind() -> None:
    ms = ManagedService.model_validate(
        body(
            dependsOn=[
                {"name": "postgres"},
                {"name": "redis", "namespace": "cache"},
                {"name": "migrate", "condition": "Succeeded"},
                {"service": {"name": "ldap", "namespace": "infra"}},
            ]
        )
    )
    deps = ms.spec.depends_on or []
    assert [d.target(ms.namespace) for d in deps] == [
        (KIND, "shop", "postgres"),
        (KIND, "cache", "redis"),
        (KIND, "shop", "migrate"),
        ("Service", "infra", "ldap"),
    ]
    assert deps[2].wanted == DependencyCondition.SUCCEEDED
    assert deps[0].wanted == DependencyCondition.READY


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"dependsOn": [{"name": "a", "service": {"name": "b"}}]},
            "spec.dependsOn[0]: set exactly one of name, service",
        ),
        (
            {"dependsOn": [{"service": {"name": "b"}, "condition": "Ready"}]},
            "spec.dependsOn[0]: namespace and condition",
        ),
        (
            {"restartPolicy": {"policy": "Never", "onExhausted": "Rollback"}},
            "spec.restartPolicy.onExhausted: Rollback needs policy Always",
        ),
        (
            {
                "restartPolicy": {"policy": "OnFailure"},
                "ports": [{"name": "http", "containerPort": 80}],
            },
            "spec.ports: need restartPolicy.policy Always",
        ),
        (
            {
                "ports": [
                    {"name": "http", "containerPort": 80},
                    {"name": "http", "containerPort": 81},
                ]
            },
            "spec.ports: names must be unique (repeated: http)",
        ),
        (
            {"resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}},
            "spec.resources.requests.memory: 2Gi must not exceed limits.memory (1Gi)",
        ),
        (
            {"alerts": {"escalation": [{"severity": "critical"}]}},
            "spec.alerts.escalation[0]: set exactly one of after",
        ),
        (
            {"probes": {"liveness": {"exec": {"command": ["true"]}, "successThreshold": 2}}},
            "spec.probes.liveness.successThreshold: must be 1",
        ),
        (
            {"probes": {"readiness": {"periodSeconds": 5}}},
            "spec.probes.readiness: set exactly one probe handler",
        ),
        (
            {
                "env": [
                    {
                        "name": "A",
                        "value": "1",
                        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                    }
                ]
            },
            "spec.env[0]: set value or valueFrom, not both",
        ),
        (
            {"envFrom": [{"prefix": "X_"}]},
            "spec.envFrom[0]: set exactly one of configMapRef, secretRef",
        ),
        (
            {"shutdown": {"gracePeriod": "5s", "preStopDelay": "10s"}},
            "spec.shutdown.preStopDelay: must be shorter than gracePeriod",
        ),
        ({"replicas": -1}, "spec.replicas: Input should be greater than or equal to 0"),
    ],
)
def test_cross_field_rules_name_the_field(spec: dict[str, Any], expected: str) -> None:
    assert any(expected in line for line in errors(**spec)), errors(**spec)


def test_self_dependency_by_name_is_refused_like_the_crd_does() -> None:
    raw = body(dependsOn=[{"name": "api"}])
    with pytest.raises(
        ValidationError, match=r"spec.dependsOn\[0\]: a ManagedService cannot depend on itself"
    ):
        ManagedService.model_validate(raw)


def test_self_dependency_with_its_namespace_is_left_to_the_graph() -> None:
    # CEL cannot see metadata.namespace, so the API server accepts this one; the graph
    # reports it as the cycle `api → api` (tend check, and DependencyCycle in the operator).
    ms = ManagedService.model_validate(body(dependsOn=[{"name": "api", "namespace": "shop"}]))
    assert ms.spec.depends_on is not None


def test_same_name_in_another_namespace_is_not_a_self_dependency() -> None:
    ms = ManagedService.model_validate(body(dependsOn=[{"name": "api", "namespace": "other"}]))
    assert ms.spec.depends_on is not None


def test_status_reads_conditions_by_type() -> None:
    raw = body()
    raw["status"] = {
        "conditions": [{"type": "Ready", "status": "True", "reason": "Reconciled"}],
        "kopf": {"x": 1},
    }
    ms = ManagedService.model_validate(raw)
    assert ms.status is not None
    ready = ms.status.condition("Ready")
    assert ready is not None and ready.status == "True"
    assert ms.status.condition("Degraded") is None
