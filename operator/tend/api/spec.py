"""`spec` of a ManagedService: what to run and how to keep it running.

Cross-field rules live twice on purpose: as pydantic validators (so `tend check` reports
them offline) and as CEL `x-kubernetes-validations` (so the API server refuses them), and
the tests pin that both agree.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import (
    ConfigDict,
    Field,
    model_validator,
)

from tend.api.base import (
    DNS_LABEL_PATTERN,
    DNS_SUBDOMAIN_PATTERN,
    KIND,
    Duration,
    IntOrString,
    Model,
    Quantity,
    cel,
)
from tend.api.core import (
    EnvFromSource,
    EnvVar,
    Port,
)
from tend.api.units import parse_duration, parse_quantity

INT32_MAX = 2**31 - 1

__all__ = [
    "Alerts",
    "Capabilities",
    "Dependency",
    "DependencyCondition",
    "EscalationStep",
    "ExecCheck",
    "GrpcCheck",
    "HttpCheck",
    "HttpHeader",
    "ManagedServiceSpec",
    "OnExhausted",
    "Policy",
    "Probe",
    "Probes",
    "Resources",
    "RestartPolicy",
    "Scheme",
    "SeccompProfile",
    "SeccompType",
    "SecurityContext",
    "ServiceRef",
    "Severity",
    "Shutdown",
    "TcpCheck",
]


# --- restart policy and budget ------------------------------------------------------------


class Policy(StrEnum):
    ALWAYS = "Always"
    ON_FAILURE = "OnFailure"
    NEVER = "Never"


class OnExhausted(StrEnum):
    ALERT = "Alert"
    SCALE_TO_ZERO = "ScaleToZero"
    ROLLBACK = "Rollback"


class RestartPolicy(Model):
    """How the service restarts, and the budget of restarts it may spend.

    The budget follows systemd's StartLimitBurst/StartLimitIntervalSec: more than
    `maxRestarts` restarts within `window` exhausts it. Unset budget fields take
    the operator's defaults.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "self.policy == 'Always' || !has(self.onExhausted)"
                    " || self.onExhausted != 'Rollback'",
                    "onExhausted: Rollback needs policy Always (a Job has no previous template)",
                    ".onExhausted",
                ),
                cel(
                    "!has(self.window) || duration(self.window) > duration('0s')",
                    "window must be longer than 0s",
                    ".window",
                ),
            ]
        }
    )

    policy: Policy = Field(
        Policy.ALWAYS,
        description=(
            "Always runs a long-lived Deployment; OnFailure and Never run a Job to completion "
            "(OnFailure restarts failed containers, Never does not)."
        ),
    )
    max_restarts: int | None = Field(
        None,
        ge=0,
        le=10000,
        description="Restarts allowed within `window` before the budget is exhausted.",
    )
    window: Duration | None = Field(
        None, description="Sliding window the budget counts over, e.g. 10m."
    )
    min_uptime: Duration | None = Field(
        None, description="A run shorter than this is a failed start (CrashLoop), e.g. 10s."
    )
    on_exhausted: OnExhausted = Field(
        OnExhausted.ALERT,
        description=(
            "What to do when the budget is exhausted: Alert only; ScaleToZero (stop until the "
            "spec changes or tend.dev/reset-budget is set); Rollback to the last Ready template."
        ),
    )

    @model_validator(mode="after")
    def _rollback_needs_deployment(self) -> RestartPolicy:
        if self.on_exhausted == OnExhausted.ROLLBACK and self.policy != Policy.ALWAYS:
            raise ValueError(
                "onExhausted: Rollback needs policy Always (a Job has no previous template)"
            )
        if self.window is not None and parse_duration(self.window) <= 0:
            raise ValueError("window: must be longer than 0s")
        return self


# --- probes -------------------------------------------------------------------------------

_ONE_HANDLER = cel(
    "[has(self.http), has(self.tcp), has(self.grpc), has(self.exec)].filter(x, x).size() == 1",
    "set exactly one probe handler: http, tcp, grpc or exec",
)


class Scheme(StrEnum):
    HTTP = "HTTP"
    HTTPS = "HTTPS"


class HttpHeader(Model):
    """A header sent with an HTTP probe."""

    name: str = Field(min_length=1, description="Header name.")
    value: str = Field(description="Header value.")


class HttpCheck(Model):
    """An HTTP GET; 200-399 is healthy."""

    path: str = Field("/", description="Path to request.")
    port: IntOrString = Field(description="Port number, or the name of a port in spec.ports.")
    scheme: Scheme = Field(Scheme.HTTP, description="HTTP or HTTPS.")
    http_headers: list[HttpHeader] | None = Field(None, description="Extra request headers.")


class TcpCheck(Model):
    """A TCP connect; success is healthy."""

    port: IntOrString = Field(description="Port number, or the name of a port in spec.ports.")


class GrpcCheck(Model):
    """A gRPC health check (grpc.health.v1)."""

    port: int = Field(ge=1, le=65535, description="Port number of the gRPC server.")
    service: str | None = Field(None, description="Service name passed to the health check.")


class ExecCheck(Model):
    """A command run in the container; exit 0 is healthy."""

    command: list[str] = Field(min_length=1, description="Command and arguments.")


class Probe(Model):
    """A probe with core v1 semantics; set exactly one handler."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [_ONE_HANDLER]})

    http: HttpCheck | None = Field(None, description="HTTP GET handler.")
    tcp: TcpCheck | None = Field(None, description="TCP socket handler.")
    grpc: GrpcCheck | None = Field(None, description="gRPC health handler.")
    exec: ExecCheck | None = Field(None, description="Command handler.")
    # Kubernetes' probe fields are int32: a larger value is refused when the Deployment is.
    initial_delay_seconds: int = Field(
        0, ge=0, le=INT32_MAX, description="Delay before the first probe."
    )
    period_seconds: int = Field(10, ge=1, le=INT32_MAX, description="How often to probe.")
    timeout_seconds: int = Field(1, ge=1, le=INT32_MAX, description="How long one probe may take.")
    success_threshold: int = Field(
        1, ge=1, le=INT32_MAX, description="Successes in a row to count as healthy."
    )
    failure_threshold: int = Field(
        3, ge=1, le=INT32_MAX, description="Failures in a row to count as failed."
    )

    @model_validator(mode="after")
    def _one_handler(self) -> Probe:
        handlers = [self.http, self.tcp, self.grpc, self.exec]
        count = sum(h is not None for h in handlers)
        if count != 1:
            raise ValueError(
                "set exactly one probe handler: http, tcp, grpc or exec"
                + (f" (found {count})" if count else "")
            )
        return self

    @property
    def port(self) -> int | str | None:
        """The port the handler talks to, if it has one."""
        handler = self.http or self.tcp or self.grpc
        return handler.port if handler is not None else None


_SUCCESS_ONE = "successThreshold must be 1 for liveness and startup probes"


class Probes(Model):
    """Startup, liveness and readiness probes (kubelet semantics)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.liveness) || self.liveness.successThreshold == 1",
                    _SUCCESS_ONE,
                    ".liveness.successThreshold",
                ),
                cel(
                    "!has(self.startup) || self.startup.successThreshold == 1",
                    _SUCCESS_ONE,
                    ".startup.successThreshold",
                ),
            ]
        }
    )

    startup: Probe | None = Field(
        None, description="Holds the other probes off until it succeeds (slow starters)."
    )
    liveness: Probe | None = Field(None, description="Failing it kills and restarts the container.")
    readiness: Probe | None = Field(
        None, description="Failing it takes the pod out of the Service."
    )

    @model_validator(mode="after")
    def _success_threshold(self) -> Probes:
        for name in ("startup", "liveness"):
            probe: Probe | None = getattr(self, name)
            if probe is not None and probe.success_threshold != 1:
                raise ValueError(f"{name}.successThreshold: must be 1 for {name} probes")
        return self


# --- resources, shutdown, security --------------------------------------------------------


class Resources(Model):
    """Compute requests and limits. A memory limit is PM2's max_memory_restart."""

    requests: dict[str, Quantity] | None = Field(
        None, description="Guaranteed resources, e.g. {cpu: 100m, memory: 256Mi}."
    )
    limits: dict[str, Quantity] | None = Field(
        None, description="Hard caps; exceeding the memory limit is OOMKilled."
    )

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        for name, limit in (self.limits or {}).items():
            request = (self.requests or {}).get(name)
            if request is not None and parse_quantity(request) > parse_quantity(limit):
                raise ValueError(
                    f"requests.{name}: {request} must not exceed limits.{name} ({limit})"
                )
        return self


class Shutdown(Model):
    """Graceful stop: SIGTERM, wait up to gracePeriod, then SIGKILL."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "duration(self.preStopDelay) < duration(self.gracePeriod)"
                    " || duration(self.preStopDelay) == duration('0s')",
                    "preStopDelay must be shorter than gracePeriod",
                    ".preStopDelay",
                )
            ]
        }
    )

    grace_period: Duration = Field(
        "30s", description="Time between SIGTERM and SIGKILL (systemd TimeoutStopSec)."
    )
    pre_stop_delay: Duration = Field(
        "0s", description="Sleep before SIGTERM so load balancers stop sending traffic."
    )

    @model_validator(mode="after")
    def _delay_within_grace(self) -> Shutdown:
        if parse_duration(self.pre_stop_delay) >= parse_duration(self.grace_period) > 0 or (
            parse_duration(self.grace_period) == 0 and parse_duration(self.pre_stop_delay) > 0
        ):
            raise ValueError("preStopDelay: must be shorter than gracePeriod")
        return self


class Capabilities(Model):
    """Linux capabilities to add or drop."""

    add: list[str] | None = Field(None, description="Capabilities to add, e.g. NET_BIND_SERVICE.")
    drop: list[str] | None = Field(None, description="Capabilities to drop; default ALL.")


class SeccompType(StrEnum):
    RUNTIME_DEFAULT = "RuntimeDefault"
    LOCALHOST = "Localhost"
    UNCONFINED = "Unconfined"


class SeccompProfile(Model):
    """The seccomp profile of the pod."""

    type: SeccompType = Field(description="RuntimeDefault, Localhost or Unconfined.")
    localhost_profile: str | None = Field(None, description="Profile path, for Localhost.")


class SecurityContext(Model):
    """Overrides of tend's hardened defaults; unset fields keep the default."""

    run_as_non_root: bool | None = Field(None, description="Refuse to run as UID 0 (default true).")
    # Kubernetes validates ids "between 0 and 2147483647, inclusive".
    run_as_user: int | None = Field(None, ge=0, le=INT32_MAX, description="UID to run as.")
    run_as_group: int | None = Field(None, ge=0, le=INT32_MAX, description="GID to run as.")
    fs_group: int | None = Field(
        None, ge=0, le=INT32_MAX, description="GID owning mounted volumes."
    )
    read_only_root_filesystem: bool | None = Field(
        None, description="Mount the root filesystem read-only (default true; /tmp stays writable)."
    )
    allow_privilege_escalation: bool | None = Field(
        None, description="Allow setuid binaries to gain privileges (default false)."
    )
    capabilities: Capabilities | None = Field(None, description="Capabilities (default drop ALL).")
    seccomp_profile: SeccompProfile | None = Field(
        None, description="Seccomp profile (default RuntimeDefault)."
    )


# --- dependencies -------------------------------------------------------------------------


class DependencyCondition(StrEnum):
    READY = "Ready"
    SUCCEEDED = "Succeeded"


class ServiceRef(Model):
    """A plain Kubernetes Service; satisfied when it has a ready endpoint."""

    name: str = Field(pattern=DNS_LABEL_PATTERN, max_length=63, description="Service name.")
    namespace: str | None = Field(
        None,
        pattern=DNS_LABEL_PATTERN,
        max_length=63,
        description="Namespace of the Service; defaults to this one.",
    )


class Dependency(Model):
    """Something that must be ready before this service starts or rolls out.

    Either a ManagedService (`name`, optional `namespace` and `condition`) or any
    Service with ready endpoints (`service`).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel("has(self.name) != has(self.service)", "set exactly one of name, service"),
                cel(
                    "!has(self.service) || (!has(self.namespace) && !has(self.condition))",
                    "namespace and condition belong to a ManagedService dependency (name); "
                    "a service dependency takes service.namespace",
                ),
            ]
        }
    )

    name: str | None = Field(
        None,
        pattern=DNS_SUBDOMAIN_PATTERN,
        max_length=253,
        description="Name of a ManagedService.",
    )
    namespace: str | None = Field(
        None,
        pattern=DNS_LABEL_PATTERN,
        max_length=63,
        description="Namespace of the ManagedService; defaults to this one.",
    )
    condition: DependencyCondition | None = Field(
        None,
        description=(
            "Ready (default): the dependency is Ready at its current generation. "
            "Succeeded: a run-to-completion dependency has completed successfully."
        ),
    )
    service: ServiceRef | None = Field(None, description="A Service with ready endpoints.")

    @model_validator(mode="after")
    def _one_target(self) -> Dependency:
        if (self.name is None) == (self.service is None):
            raise ValueError("set exactly one of name, service")
        if self.service is not None and (self.namespace is not None or self.condition is not None):
            raise ValueError(
                "namespace and condition belong to a ManagedService dependency (name); "
                "a service dependency takes service.namespace"
            )
        return self

    def target(self, own_namespace: str) -> tuple[str, str, str]:
        """(kind, namespace, name) of what this dependency points at."""
        if self.service is not None:
            return ("Service", self.service.namespace or own_namespace, self.service.name)
        assert self.name is not None
        return (KIND, self.namespace or own_namespace, self.name)

    @property
    def wanted(self) -> DependencyCondition:
        return DependencyCondition(self.condition or DependencyCondition.READY)


# --- alerts -------------------------------------------------------------------------------


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class EscalationStep(Model):
    """One rung of the ladder: fires once per incident when its threshold is reached."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "has(self.after) != has(self.afterFailures)",
                    "set exactly one of after (time unresolved)"
                    " or afterFailures (failures in a row)",
                )
            ]
        }
    )

    after_failures: int | None = Field(
        None, ge=1, le=10000, description="Fire after this many failures in a row."
    )
    after: Duration | None = Field(
        None, description="Fire when the incident has been open this long, e.g. 15m."
    )
    severity: Severity = Field(Severity.WARNING, description="info, warning or critical.")
    receivers: list[str] | None = Field(
        None,
        description="Names of receivers configured on the operator; default: the operator's.",
    )

    @model_validator(mode="after")
    def _one_threshold(self) -> EscalationStep:
        if (self.after is None) == (self.after_failures is None):
            raise ValueError(
                "set exactly one of after (time unresolved) or afterFailures (failures in a row)"
            )
        return self


class Alerts(Model):
    """When failures page whom."""

    escalation: list[EscalationStep] | None = Field(
        None, max_length=20, description="The escalation ladder; default: the operator's."
    )
    resolve_after: Duration = Field(
        "5m", description="Healthy this long before the incident resolves."
    )


# --- the spec -----------------------------------------------------------------------------


class ManagedServiceSpec(Model):
    """What to run and how to keep it running."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.restartPolicy) || self.restartPolicy.policy == 'Always'"
                    " || !has(self.ports) || size(self.ports) == 0",
                    "ports need restartPolicy.policy Always:"
                    " a run-to-completion Job gets no Service",
                    ".ports",
                ),
                cel(
                    "!has(self.ports)"
                    " || self.ports.all(p, self.ports.exists_one(q, q.name == p.name))",
                    "port names must be unique",
                    ".ports",
                ),
            ]
        }
    )

    image: str = Field(
        min_length=1, description="Container image, e.g. registry.example/api:1.4.2."
    )
    replicas: int = Field(
        1,
        ge=0,
        le=1000,
        description="Pods to run (PM2 instances). For a Job: completions run in parallel.",
    )
    command: list[str] | None = Field(None, description="Entrypoint; default: the image's.")
    args: list[str] | None = Field(None, description="Arguments; default: the image's.")
    env: list[EnvVar] | None = Field(
        None, max_length=256, description="Environment variables (core v1 EnvVar)."
    )
    env_from: list[EnvFromSource] | None = Field(
        None,
        max_length=64,
        description="ConfigMaps and Secrets imported as environment variables.",
    )
    ports: list[Port] | None = Field(
        None, max_length=64, description="Ports; a ClusterIP Service is created when set."
    )
    restart_policy: RestartPolicy = Field(
        default_factory=RestartPolicy,
        description="Restart behaviour and budget.",
    )
    probes: Probes | None = Field(None, description="Startup, liveness and readiness probes.")
    resources: Resources | None = Field(
        None, description="Requests and limits; default: the operator's."
    )
    shutdown: Shutdown = Field(default_factory=Shutdown, description="Graceful shutdown.")
    depends_on: list[Dependency] | None = Field(
        None, max_length=64, description="What must be ready before this service starts."
    )
    alerts: Alerts | None = Field(None, description="Escalation of failures to receivers.")
    security_context: SecurityContext | None = Field(
        None, description="Overrides of the hardened security defaults."
    )

    @model_validator(mode="after")
    def _cross_field(self) -> ManagedServiceSpec:
        ports = self.ports or []
        if self.restart_policy.policy != Policy.ALWAYS and ports:
            raise ValueError(
                "ports: need restartPolicy.policy Always: a run-to-completion Job gets no Service"
            )
        names = [p.name for p in ports]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"ports: names must be unique (repeated: {', '.join(duplicates)})")
        return self

    @property
    def runs_to_completion(self) -> bool:
        return self.restart_policy.policy != Policy.ALWAYS
