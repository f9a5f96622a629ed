"""Operator configuration: defaults, a YAML file, and the environment on top."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from tend.api.config import OperatorConfig, load_config


def test_defaults_give_every_service_a_budget_and_resources() -> None:
    config = OperatorConfig()
    assert config.budget.max_restarts == 5
    assert config.budget.window == "10m"
    assert config.resources.limits == {"memory": "256Mi"}


def test_file_values_are_read(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "budget: {max_restarts: 7, window: 1h}\n"
        "receivers: [{name: team-slack, type: slack, url_from: {name: slack, key: url}}]\n"
    )
    config = load_config(path)
    assert config.budget.max_restarts == 7
    assert config.budget.window == "1h"
    assert config.receivers[0].name == "team-slack"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("budget: {max_restarts: 7, window: 1h}\n")
    monkeypatch.setenv("TEND_BUDGET__MAX_RESTARTS", "2")
    config = load_config(path)
    assert config.budget.max_restarts == 2
    assert config.budget.window == "1h"  # the rest of the file's section survives


def test_bad_config_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("budget: {window: forever}\n")
    with pytest.raises(ValidationError, match=r"budget\.window"):
        load_config(path)


def test_receivers_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    receivers = '[{"name": "oncall", "type": "pagerduty", "routing_key_file": "/etc/pd/key"}]'
    monkeypatch.setenv("TEND_RECEIVERS", receivers)
    monkeypatch.setenv("TEND_DEFAULT_RECEIVERS", '["oncall"]')
    config = load_config()
    assert [r.name for r in config.receivers] == ["oncall"]
    assert config.default_receivers == ["oncall"]


@pytest.mark.parametrize(
    ("receivers", "default", "error"),
    [
        ([{"name": "x", "type": "webhook"}], [], "receiver 'x' (webhook) needs url"),
        ([{"name": "x", "type": "pagerduty"}], [],
         "needs routing_key_from, routing_key_file or routing_key_env"),
        ([{"name": "x", "type": "email", "smtp_host": "h", "email_from": "a@b"}], [],
         "needs email_to"),
        ([{"name": "x", "type": "webhook", "url": "u"}] * 2, [], "names must be unique (x"),
        ([{"name": "x", "type": "webhook", "url": "u"}], ["y"],
         "default_receivers: unknown receiver 'y' (configured: x)"),
    ],
)  # fmt: skip
def test_incomplete_receivers_are_refused_naming_what_they_need(
    receivers: list[dict[str, str]], default: list[str], error: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(error)):
        OperatorConfig(receivers=receivers, default_receivers=default)
