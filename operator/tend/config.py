"""Operator-wide configuration: defaults for every ManagedService, and alert receivers.

Loaded with pydantic-settings from `TEND_*` environment variables (nested with
`__`, e.g. `TEND_BUDGET__MAX_RESTARTS=3`) and an optional YAML file
(`tend run --config FILE` or `TEND_CONFIG_FILE`); the environment wins.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from tend.models import Duration, EscalationStep, Resources, Severity


class _Section(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", use_enum_values=True
    )


class BudgetDefaults(_Section):
    """The restart budget a ManagedService gets when its spec leaves it unset."""

    max_restarts: int = Field(5, ge=0, description="systemd StartLimitBurst default is 5.")
    window: Duration = Field("10m", description="Sliding window the budget counts over.")
    min_uptime: Duration = Field("10s", description="Shorter runs count as CrashLoop (PM2).")


class SecretKeyRef(_Section):
    """A key of a Secret in the operator's namespace (never a literal credential)."""

    name: str
    key: str


class ReceiverType(StrEnum):
    ALERTMANAGER = "alertmanager"
    PAGERDUTY = "pagerduty"
    SLACK = "slack"
    WEBHOOK = "webhook"
    EMAIL = "email"


class Receiver(_Section):
    """Where alerts go. Credentials come from Secrets by reference."""

    name: str = Field(min_length=1)
    type: ReceiverType
    url: str | None = Field(None, description="Endpoint (Alertmanager, webhook, PagerDuty).")
    url_from: SecretKeyRef | None = Field(None, description="Endpoint from a Secret (Slack).")
    routing_key_from: SecretKeyRef | None = Field(None, description="PagerDuty routing key.")
    smtp_host: str | None = None
    smtp_port: int = 25
    email_from: str | None = None
    email_to: list[str] | None = None


def _default_resources() -> Resources:
    return Resources(requests={"cpu": "50m", "memory": "64Mi"}, limits={"memory": "256Mi"})


def _default_escalation() -> list[EscalationStep]:
    return [EscalationStep(after_failures=3, severity=Severity.WARNING)]


class OperatorConfig(BaseSettings):
    """Everything `tend run` is configured with, besides its command-line flags."""

    model_config = SettingsConfigDict(
        env_prefix="TEND_",
        env_nested_delimiter="__",
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
    )

    resources: Resources = Field(
        default_factory=_default_resources, description="Default requests and limits."
    )
    budget: BudgetDefaults = Field(default_factory=BudgetDefaults)
    escalation: list[EscalationStep] = Field(default_factory=_default_escalation)
    receivers: list[Receiver] = Field(default_factory=list)
    default_receivers: list[str] = Field(
        default_factory=list, description="Receivers for steps that name none."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)


def load_config(path: Path | None = None, **overrides: Any) -> OperatorConfig:
    """Read the YAML file (if any) under the environment, which takes precedence."""
    if path is None:
        return OperatorConfig(**overrides)
    file_values = YamlConfigSettingsSource(OperatorConfig, yaml_file=path)()
    env_values = OperatorConfig(**overrides).model_dump(exclude_unset=True, by_alias=False)
    return OperatorConfig(**{**file_values, **env_values})
