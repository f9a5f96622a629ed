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

from pydantic import BaseModel, ConfigDict, Field, model_validator
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
    """Where alerts go. Credentials are never written here: each comes from a key of a Secret
    in the operator's namespace (`*_from`), a file (`*_file`, e.g. a mounted Secret) or an
    environment variable of the operator (`*_env`, e.g. from `secretKeyRef`), and is never
    logged.

    What each type needs: `alertmanager` and `webhook` a URL; `slack` its incoming-webhook
    URL (a credential: `url_from` or `url_file`); `pagerduty` a routing key (`url` defaults to
    the Events v2 endpoint); `email` `smtp_host`, `email_from` and `email_to`.
    """

    name: str = Field(min_length=1)
    type: ReceiverType
    url: str | None = Field(None, description="Endpoint (Alertmanager, webhook, PagerDuty).")
    url_from: SecretKeyRef | None = Field(None, description="Endpoint from a Secret (Slack).")
    url_file: Path | None = Field(None, description="Endpoint from a file (Slack).")
    url_env: str | None = Field(None, description="Endpoint from an environment variable.")
    routing_key_from: SecretKeyRef | None = Field(None, description="PagerDuty routing key.")
    routing_key_file: Path | None = Field(None, description="PagerDuty routing key, from a file.")
    routing_key_env: str | None = Field(None, description="PagerDuty routing key, from env.")
    secret_from: SecretKeyRef | None = Field(
        None, description="Webhook: HMAC-SHA256 key; requests carry X-Tend-Signature."
    )
    secret_file: Path | None = Field(None, description="Webhook: the HMAC key, from a file.")
    secret_env: str | None = Field(None, description="Webhook: the HMAC key, from env.")
    smtp_host: str | None = None
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_username: str | None = None
    smtp_password_from: SecretKeyRef | None = None
    smtp_password_file: Path | None = None
    smtp_password_env: str | None = None
    email_from: str | None = None
    email_to: list[str] | None = None
    timeout: float = Field(10.0, gt=0, le=300, description="Seconds one delivery may take.")
    resend_interval: Duration = Field(
        "1m",
        description="Alertmanager: re-send firing alerts this often (below its resolve_timeout).",
    )

    @model_validator(mode="after")
    def _complete(self) -> Receiver:
        def need(ok: object, what: str) -> None:
            if not ok:
                raise ValueError(f"receiver {self.name!r} ({self.type}) needs {what}")

        if self.type in (ReceiverType.ALERTMANAGER, ReceiverType.WEBHOOK):
            need(self.url, "url")
        elif self.type == ReceiverType.SLACK:
            slack_url = self.url or self.url_from or self.url_file or self.url_env
            need(slack_url, "url_from, url_file or url_env (or url)")
        elif self.type == ReceiverType.PAGERDUTY:
            key = self.routing_key_from or self.routing_key_file or self.routing_key_env
            need(key, "routing_key_from, routing_key_file or routing_key_env")
        elif self.type == ReceiverType.EMAIL:
            need(self.smtp_host, "smtp_host")
            need(self.email_from, "email_from")
            need(self.email_to, "email_to")
        return self


def _default_resources() -> Resources:
    return Resources(requests={"cpu": "50m", "memory": "64Mi"}, limits={"memory": "256Mi"})


def _default_escalation() -> list[EscalationStep]:
    # The seeds page when a service is down after 3 failures in a row; unresolved, it climbs.
    return [
        EscalationStep(after_failures=3, severity=Severity.WARNING),
        EscalationStep(after="15m", severity=Severity.CRITICAL),
    ]


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
    namespace: str | None = Field(
        None,
        description="Where the receivers' Secrets are (default: $POD_NAMESPACE, else tend-system).",
    )

    @model_validator(mode="after")
    def _known_receivers(self) -> OperatorConfig:
        names = [r.name for r in self.receivers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"receivers: names must be unique ({', '.join(twice)} repeated)")
        unknown = [n for n in self.default_receivers if n not in names]
        if unknown:
            raise ValueError(
                f"default_receivers: unknown receiver {unknown[0]!r} "
                f"(configured: {', '.join(names) or 'none'})"
            )
        return self

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
