"""Operator-wide configuration: defaults for every ManagedService, and alert receivers.

Loaded with pydantic-settings from `TEND_*` environment variables (nested with
`__`, e.g. `TEND_BUDGET__MAX_RESTARTS=3`) and an optional YAML file
(`tend run --config FILE`); the environment wins. Keys are snake_case, like
Alertmanager's and Prometheus's configuration files.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from tend.api import Duration, EscalationStep, Resources, Severity


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=True)


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
        return (init_settings, env_settings, *cls._file_sources(settings_cls))

    @classmethod
    def _file_sources(
        cls, settings_cls: type[BaseSettings]
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return ()


def load_config(path: Path | None = None, **overrides: Any) -> OperatorConfig:
    """Read the YAML file (if any) under the environment, which takes precedence.

    pydantic-settings merges the sources field by field, so `TEND_BUDGET__MAX_RESTARTS`
    overrides one key of the file's `budget` section and keeps the rest.
    """
    if path is None:
        return OperatorConfig(**overrides)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such configuration file")

    class FromFile(OperatorConfig):
        model_config = SettingsConfigDict(yaml_file=path)

        @classmethod
        def _file_sources(
            cls, settings_cls: type[BaseSettings]
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (YamlConfigSettingsSource(settings_cls),)

    return FromFile(**overrides)
