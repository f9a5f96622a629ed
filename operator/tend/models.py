"""The `ManagedService` API (`tend.dev/v1alpha1`): spec and status as pydantic models.

These models are the single source of the API: the CRD is generated from them
(`tend crd`), `tend check` validates with them, and the operator parses every
object through them. Field names follow DESIGN.md; JSON uses camelCase aliases.
Cross-field rules live twice on purpose: as pydantic validators (so `tend check`
reports them offline) and as CEL `x-kubernetes-validations` (so the API server
refuses them), and the tests pin that both agree.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel

from tend.units import (
    DURATION_HELP,
    DURATION_PATTERN,
    QUANTITY_HELP,
    QUANTITY_PATTERN,
    parse_duration,
    parse_quantity,
)

JsonDict = dict[str, JsonValue]

GROUP = "tend.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "ManagedService"
PLURAL = "managedservices"
SINGULAR = "managedservice"
SHORT_NAMES = ["msvc"]

# DNS-1123 label (names of ports, Services, ManagedServices) and subdomain.
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
PORT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"  # IANA_SVC_NAME, 1-15 chars
ENV_NAME_PATTERN = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"


def _duration(value: str) -> str:
    parse_duration(value)
    return value


def _quantity(value: str | int | float) -> str:
    parse_quantity(value)
    return str(value)


Duration = Annotated[
    str,
    AfterValidator(_duration),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "description": DURATION_HELP}),
]
Quantity = Annotated[
    str | int | float,
    AfterValidator(_quantity),
    WithJsonSchema(
        {
            "x-kubernetes-int-or-string": True,
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "description": QUANTITY_HELP,
        }
    ),
]
IntOrString = Annotated[
    int | str,
    WithJsonSchema(
        {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    ),
]


def cel(rule: str, message: str, field_path: str | None = None) -> JsonDict:
    """One `x-kubernetes-validations` entry."""
    entry: JsonDict = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    return entry


class Model(BaseModel):
    """Base for API objects: camelCase JSON, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=True,
        validate_default=False,
    )

    def to_api(self) -> dict[str, Any]:
        """The object as the API shows it: camelCase, unset optionals left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


# --- core v1 shapes (the subset tend passes through) -------------------------------------


class KeySelector(Model):
    """Selects a key of a ConfigMap or Secret."""

    name: str = Field(min_length=1, description="Name of the ConfigMap or Secret.")
    key: str = Field(min_length=1, description="The key to select.")
    optional: bool | None = Field(None, description="Whether the object or key may be missing.")


class ObjectFieldSelector(Model):
    """Selects a field of the pod (downward API)."""

    field_path: str = Field(description="Path of the field, e.g. metadata.name or status.podIP.")
    api_version: str | None = Field(None, description="Version of the schema the path is in.")


class ResourceFieldSelector(Model):
    """Selects a resource of the container (downward API)."""

    resource: str = Field(description="Resource to select, e.g. limits.memory.")
    container_name: str | None = Field(None, description="Container name; defaults to this one.")
    divisor: Quantity | None = Field(None, description="Output unit for the resource.")


class EnvVarSource(Model):
    """Where an environment variable's value comes from; set exactly one."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "[has(self.secretKeyRef), has(self.configMapKeyRef), has(self.fieldRef),"
                    " has(self.resourceFieldRef)].filter(x, x).size() == 1",
                    "set exactly one of secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef",
                )
            ]
        }
    )

    secret_key_ref: KeySelector | None = Field(None, description="A key of a Secret.")
    config_map_key_ref: KeySelector | None = Field(None, description="A key of a ConfigMap.")
    field_ref: ObjectFieldSelector | None = Field(None, description="A field of the pod.")
    resource_field_ref: ResourceFieldSelector | None = Field(
        None, description="A resource limit or request of the container."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> EnvVarSource:
        chosen = [
            self.secret_key_ref,
            self.config_map_key_ref,
            self.field_ref,
            self.resource_field_ref,
        ]
        if sum(x is not None for x in chosen) != 1:
            raise ValueError(
                "set exactly one of secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef"
            )
        return self


class EnvVar(Model):
    """An environment variable (core v1 EnvVar)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel("!(has(self.value) && has(self.valueFrom))", "set value or valueFrom, not both")
            ]
        }
    )

    name: str = Field(pattern=ENV_NAME_PATTERN, description="Name of the variable.")
    value: str | None = Field(None, description="Literal value.")
    value_from: EnvVarSource | None = Field(None, description="Value taken from another object.")

    @model_validator(mode="after")
    def _value_or_source(self) -> EnvVar:
        if self.value is not None and self.value_from is not None:
            raise ValueError("set value or valueFrom, not both")
        return self


class NamedRef(Model):
    """A reference to a ConfigMap or Secret by name."""

    name: str = Field(pattern=DNS_SUBDOMAIN_PATTERN, description="Name of the object.")
    optional: bool | None = Field(None, description="Whether the object may be missing.")


class EnvFromSource(Model):
    """Imports every key of a ConfigMap or Secret as environment variables."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "has(self.configMapRef) != has(self.secretRef)",
                    "set exactly one of configMapRef, secretRef",
                )
            ]
        }
    )

    prefix: str | None = Field(None, description="Prefix added to every variable name.")
    config_map_ref: NamedRef | None = Field(None, description="The ConfigMap to import.")
    secret_ref: NamedRef | None = Field(None, description="The Secret to import.")

    @model_validator(mode="after")
    def _exactly_one(self) -> EnvFromSource:
        if (self.config_map_ref is None) == (self.secret_ref is None):
            raise ValueError("set exactly one of configMapRef, secretRef")
        return self


class Protocol(StrEnum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


class Port(Model):
    """A port the container listens on; services with ports get a ClusterIP Service."""

    name: str = Field(
        pattern=PORT_NAME_PATTERN,
        max_length=15,
        description="Port name (IANA service name); probes and the Service refer to it.",
    )
    container_port: int = Field(ge=1, le=65535, description="Port number in the container.")
    protocol: Protocol = Field(Protocol.TCP, description="TCP, UDP or SCTP.")
    service_port: int | None = Field(
        None, ge=1, le=65535, description="Port on the Service; defaults to containerPort."
    )


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
    initial_delay_seconds: int = Field(0, ge=0, description="Delay before the first probe.")
    period_seconds: int = Field(10, ge=1, description="How often to probe.")
    timeout_seconds: int = Field(1, ge=1, description="How long one probe may take.")
    success_threshold: int = Field(1, ge=1, description="Successes in a row to count as healthy.")
    failure_threshold: int = Field(3, ge=1, description="Failures in a row to count as failed.")

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
    run_as_user: int | None = Field(None, ge=0, description="UID to run as.")
    run_as_group: int | None = Field(None, ge=0, description="GID to run as.")
    fs_group: int | None = Field(None, ge=0, description="GID owning mounted volumes.")
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


# --- status -------------------------------------------------------------------------------


class Phase(StrEnum):
    PENDING = "Pending"
    BLOCKED = "Blocked"
    PROGRESSING = "Progressing"
    RUNNING = "Running"
    DEGRADED = "Degraded"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"


class ConditionType(StrEnum):
    READY = "Ready"
    DEPENDENCIES_READY = "DependenciesReady"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    RESTART_BUDGET_EXHAUSTED = "RestartBudgetExhausted"


class Reason(StrEnum):
    """CamelCase reasons shared by conditions, Events and metric labels."""

    DEPENDENCY_NOT_READY = "DependencyNotReady"
    DEPENDENCY_NOT_FOUND = "DependencyNotFound"
    DEPENDENCY_CYCLE = "DependencyCycle"
    INVALID_SPEC = "InvalidSpec"
    RECONCILED = "Reconciled"
    ROLLOUT_IN_PROGRESS = "RolloutInProgress"
    CRASH_LOOP = "CrashLoop"
    OOM_KILLED = "OOMKilled"
    PROBE_FAILED = "ProbeFailed"
    IMAGE_PULL_FAILED = "ImagePullFailed"
    EXIT_CODE = "ExitCode"
    RESTART_BUDGET_EXHAUSTED = "RestartBudgetExhausted"
    ROLLED_BACK = "RolledBack"
    SCALED_TO_ZERO = "ScaledToZero"
    ESCALATED = "Escalated"
    ALERT_RESOLVED = "AlertResolved"
    ALERT_SUPPRESSED = "AlertSuppressed"


class Status(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(Model):
    """A metav1.Condition."""

    type: str = Field(description="Ready, DependenciesReady, Progressing, Degraded, ...")
    status: Status = Field(description="True, False or Unknown.")
    reason: str = Field(description="CamelCase reason, shared with Events and metrics.")
    message: str = Field("", description="Human-readable detail.")
    last_transition_time: datetime | None = Field(None, description="When status last changed.")
    observed_generation: int | None = Field(None, description="Generation this was computed at.")


class BlockedBy(Model):
    """A dependency that is not satisfied, and why."""

    kind: str = Field(description="ManagedService or Service.")
    namespace: str = Field(description="Namespace of the dependency.")
    name: str = Field(description="Name of the dependency.")
    reason: str = Field(description="Why it blocks, e.g. DependencyNotFound or CrashLoop.")
    message: str | None = Field(None, description="Detail, e.g. the cycle path.")


class WorkloadKind(StrEnum):
    DEPLOYMENT = "Deployment"
    JOB = "Job"


class Workload(Model):
    """The Deployment or Job that runs the service."""

    kind: WorkloadKind = Field(description="Deployment or Job.")
    name: str = Field(description="Name of the workload.")
    replicas: int = Field(0, description="Desired pods.")
    ready_replicas: int = Field(0, description="Ready pods (Job: succeeded pods).")


class Restarts(Model):
    """Restart accounting against the budget."""

    total: int = Field(0, ge=0, description="Restarts counted since creation.")
    in_window: int = Field(0, ge=0, description="Restarts within the budget window.")
    budget_remaining: int | None = Field(None, description="Restarts left before exhaustion.")
    last_reason: str | None = Field(None, description="Reason of the last restart.")
    last_exit_code: int | None = Field(None, description="Exit code of the last restart.")
    last_time: datetime | None = Field(None, description="When the last restart happened.")


class Failure(Model):
    """One classified container failure."""

    time: datetime = Field(description="When it failed.")
    pod: str = Field(description="Pod name.")
    container: str = Field(description="Container name.")
    reason: str = Field(description="CrashLoop, OOMKilled, ProbeFailed, ImagePullFailed, ExitCode.")
    exit_code: int | None = Field(None, description="Exit code, if it exited.")
    message: str | None = Field(None, description="Detail from the kubelet.")


class AlertState(StrEnum):
    FIRING = "Firing"
    RESOLVED = "Resolved"
    SUPPRESSED = "Suppressed"


class AlertStatus(Model):
    """The open incident, if any."""

    state: AlertState = Field(description="Firing, Resolved or Suppressed.")
    severity: Severity | None = Field(None, description="Severity of the last step fired.")
    step: int | None = Field(None, ge=0, description="Index of the last ladder step fired.")
    since: datetime | None = Field(None, description="When the incident opened.")
    key: str | None = Field(None, description="Incident key, stable across operator restarts.")
    suppressed_by: str | None = Field(
        None, description="namespace/name of the failing dependency that owns the alert."
    )


class ManagedServiceStatus(Model):
    """What the operator observed, at observedGeneration."""

    model_config = ConfigDict(extra="ignore")

    observed_generation: int | None = Field(None, description="Generation last reconciled.")
    phase: Phase | None = Field(None, description="Pending, Blocked, Progressing, Running, ...")
    conditions: list[Condition] | None = Field(None, description="Ready and friends.")
    blocked_by: list[BlockedBy] | None = Field(None, description="Unsatisfied dependencies.")
    workload: Workload | None = Field(None, description="The Deployment or Job.")
    restarts: Restarts | None = Field(None, description="Restart accounting.")
    recent_failures: list[Failure] | None = Field(
        None, max_length=10, description="The last 10 classified failures."
    )
    alert: AlertStatus | None = Field(None, description="The current incident.")

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions or [] if c.type == type_), None)


# --- the object ---------------------------------------------------------------------------


class ObjectMeta(Model):
    """The parts of metadata tend reads."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(pattern=DNS_SUBDOMAIN_PATTERN, max_length=253)
    namespace: str | None = Field(None, pattern=DNS_LABEL_PATTERN, max_length=63)
    uid: str | None = None
    generation: int | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class ManagedService(Model):
    """A service tend runs: `kubectl apply` one per service."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.spec.dependsOn) || self.spec.dependsOn.all(d,"
                    " !has(d.name) || has(d.namespace) || d.name != self.metadata.name)",
                    "spec.dependsOn: a ManagedService cannot depend on itself",
                    ".spec.dependsOn",
                )
            ]
        }
    )

    api_version: Literal["tend.dev/v1alpha1"] = Field("tend.dev/v1alpha1", description=API_VERSION)
    kind: Literal["ManagedService"] = Field("ManagedService", description=KIND)
    metadata: ObjectMeta
    spec: ManagedServiceSpec
    status: ManagedServiceStatus | None = None

    @model_validator(mode="after")
    def _no_self_dependency(self) -> ManagedService:
        # The same rule as the CEL one above (which cannot see metadata.namespace): a
        # dependency naming this service without a namespace. One that spells out its own
        # namespace passes, and the dependency graph reports it as the cycle `api → api`.
        for index, dep in enumerate(self.spec.depends_on or []):
            if dep.name == self.metadata.name and dep.namespace is None:
                raise ValueError(
                    f"spec.dependsOn[{index}]: a ManagedService cannot depend on itself"
                )
        return self

    @property
    def namespace(self) -> str:
        return self.metadata.namespace or "default"

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


_FIELD_FIRST = re.compile(
    r"^([A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*|\[\d+\])*): (.*)$", re.S
)


def format_errors(error: ValidationError, prefix: str = "") -> list[str]:
    """One line per problem: `spec.restartPolicy.maxRestarts: must be >= 0`.

    Cross-field validators start their message with the field they are about
    (`window: must be longer than 0s`); that field is folded into the path, so
    every line names the exact field the API server would name.
    """
    lines = []
    for item in error.errors():
        path = ".".join(
            f"[{part}]" if isinstance(part, int) else str(part) for part in item["loc"]
        ).replace(".[", "[")
        message = item["msg"].removeprefix("Value error, ")
        folded = _FIELD_FIRST.match(message)
        if folded and item["type"] == "value_error":
            inner, message = folded.groups()
            path = f"{path}.{inner}".replace(".[", "[") if path else inner
        if item["type"] == "extra_forbidden":
            message = "unknown field (not part of tend.dev/v1alpha1; check the spelling)"
        elif item["type"] == "literal_error" and path in {"apiVersion", "kind"}:
            message = f"must be {item['ctx']['expected']}"
        where = ".".join(p for p in (prefix, path) if p)
        lines.append(f"{where}: {message}" if where else message)
    return lines


def parse_managed_service(body: dict[str, Any]) -> ManagedService:
    """Validate a ManagedService body; raises pydantic.ValidationError."""
    return ManagedService.model_validate(body)
