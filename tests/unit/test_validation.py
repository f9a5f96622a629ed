"""One validation for `tend check` and the operator: schema, buildability, configuration."""

from __future__ import annotations

from typing import Any

import pytest

from tend.api import ManagedService
from tend.api.config import OperatorConfig
from tend.api.validation import config_problems, problems

SLACK = {"name": "team-slack", "type": "slack", "url_from": {"name": "slack", "key": "url"}}
PAGER = {"name": "oncall", "type": "pagerduty", "routing_key_file": "/etc/tend/pd-key"}


def service(**spec: Any) -> ManagedService:
    return ManagedService.model_validate(
        {"metadata": {"name": "api", "namespace": "shop"}, "spec": {"image": "api:1", **spec}}
    )


def ladder(*receivers: list[str]) -> dict[str, Any]:
    return {"escalation": [{"afterFailures": 3, "receivers": names} for names in receivers]}


@pytest.mark.parametrize(
    ("configured", "alerts", "expected"),
    [
        # No receivers configured: nothing to check a name against.
        ([], ladder(["nobody"]), []),
        ([SLACK], ladder(["team-slack"]), []),
        ([SLACK], None, []),
        (
            [SLACK, PAGER],
            ladder(["team-slack"], ["team-slak", "oncall"]),
            [
                "spec.alerts.escalation[1].receivers: unknown receiver 'team-slak' "
                "(configured: oncall, team-slack)"
            ],
        ),
    ],
    ids=["none-configured", "known", "no-alerts", "one-unknown"],
)
def test_unknown_receivers_are_named_with_the_configured_ones(
    configured: list[dict[str, str]], alerts: dict[str, Any] | None, expected: list[str]
) -> None:
    config = OperatorConfig(receivers=configured)
    ms = service(alerts=alerts) if alerts else service()
    assert [str(p) for p in config_problems(ms, config)] == expected


def test_problems_lists_spec_problems_before_configuration_problems() -> None:
    config = OperatorConfig(receivers=[SLACK])
    ms = service(
        env=[{"name": "A", "value": "1"}, {"name": "A", "value": "2"}], alerts=ladder(["x"])
    )
    assert [p.field for p in problems(ms, config)] == [
        "spec.env[1].name",
        "spec.alerts.escalation[0].receivers",
    ]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"probes": {"readiness": {"tcp": {"port": 80}, "periodSeconds": 2**31}}},
         "spec.probes.readiness.periodSeconds"),
        ({"probes": {"liveness": {"tcp": {"port": 80}, "timeoutSeconds": 2**31}}},
         "spec.probes.liveness.timeoutSeconds"),
        ({"securityContext": {"runAsUser": 2**40}}, "spec.securityContext.runAsUser"),
        ({"securityContext": {"fsGroup": 2**31}}, "spec.securityContext.fsGroup"),
        ({"resources": {"limits": {"memory": "-1Gi"}}}, "spec.resources.limits.memory"),
        ({"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.containers"}}}]},
         "spec.env[0].valueFrom.fieldRef.fieldPath"),
    ],
    ids=["period-int32", "timeout-int32", "uid-range", "gid-range", "negative-limit",
         "field-path"],
)  # fmt: skip
def test_what_kubernetes_would_refuse_in_the_built_object_is_refused_here(
    spec: dict[str, Any], field: str
) -> None:
    """Before, the CRD admitted these and the API server refused the Deployment (a loop)."""
    from pydantic import ValidationError

    from tend.api.validation import format_errors

    with pytest.raises(ValidationError) as refused:
        service(**spec)
    lines = format_errors(refused.value)
    assert any(line.startswith(f"{field}: ") for line in lines), lines


def test_the_largest_values_kubernetes_takes_are_taken() -> None:
    service(
        probes={"readiness": {"tcp": {"port": 80}, "periodSeconds": 2**31 - 1}},
        securityContext={"runAsUser": 2**31 - 1},
        resources={"limits": {"memory": "0"}},
        env=[{"name": "P", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}}],
    )
