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
