"""Everything wrong with a ManagedService, in one place: `tend check` and the operator ask here.

Three layers, each reported as `field: message` naming the exact field and the fix:

- the schema (`format_errors` of the models' ValidationError: types, enums, bounds, the
  cross-field rules the CRD also carries as CEL);
- what the schema accepts but Kubernetes would refuse or could not run (`spec_problems`:
  names too long for a label, duplicate env names, probe ports that name no port, ...);
- what only the operator's configuration can tell (`config_problems`: an escalation step
  naming a receiver that is not configured).

`problems` runs the last two on a parsed ManagedService; the operator reports what it
returns as InvalidSpec and builds nothing, `tend check` prints it and exits 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from tend.api import (
    CONTAINER_NAME,
    ManagedService,
    ManagedServiceSpec,
    Probe,
    SeccompType,
    SecurityContext,
)
from tend.api.config import OperatorConfig

_PROBE_KINDS = ("startup", "liveness", "readiness")
_HTTP_HEADER_NAME = re.compile(r"^[-A-Za-z0-9]+$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE_MAX = 63

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


@dataclass(frozen=True)
class SpecProblem:
    """One thing in a spec the schema accepts but tend cannot build or Kubernetes refuses."""

    field: str  # a path like "spec.probes.readiness.http.port"
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidSpecError(ValueError):
    """Raised by the builders, before building anything, when `spec_problems` finds any."""

    def __init__(self, problems: Sequence[SpecProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


def spec_problems(ms: ManagedService) -> list[SpecProblem]:
    """Everything that would make the built objects invalid or unrunnable, in field order."""
    return [
        *_name_problems(ms),
        *_image_problems(ms.spec),
        *_env_problems(ms.spec),
        *_port_problems(ms.spec),
        *_probe_problems(ms.spec),
        *_security_problems(ms.spec.security_context),
    ]


def _name_problems(ms: ManagedService) -> Iterator[SpecProblem]:
    if len(ms.name) > _LABEL_VALUE_MAX:
        yield SpecProblem(
            "metadata.name",
            f"must be at most {_LABEL_VALUE_MAX} characters: it is the value of the "
            "app.kubernetes.io/name label on every object tend creates",
        )
    if ms.spec.ports and not _DNS_1035_LABEL.match(ms.name):
        yield SpecProblem(
            "metadata.name",
            "a ManagedService with ports gets a Service of the same name, and a Service name "
            "must start with a letter and contain no dots (DNS-1035 label)",
        )


def _image_problems(spec: ManagedServiceSpec) -> Iterator[SpecProblem]:
    if spec.image != spec.image.strip():
        yield SpecProblem("spec.image", "must not have leading or trailing whitespace")


def _env_problems(spec: ManagedServiceSpec) -> Iterator[SpecProblem]:
    first_seen: dict[str, int] = {}
    for index, var in enumerate(spec.env or []):
        if var.name in first_seen:
            yield SpecProblem(
                f"spec.env[{index}].name",
                f"duplicate name {var.name!r} (first set in spec.env[{first_seen[var.name]}]);"
                " only one value can win",
            )
        else:
            first_seen[var.name] = index
        ref = var.value_from.resource_field_ref if var.value_from else None
        if ref is not None and ref.container_name not in (None, CONTAINER_NAME):
            yield SpecProblem(
                f"spec.env[{index}].valueFrom.resourceFieldRef.containerName",
                f"the pod has one container, named {CONTAINER_NAME!r}; leave this unset",
            )


def _port_problems(spec: ManagedServiceSpec) -> Iterator[SpecProblem]:
    # The models' pattern accepts names Kubernetes refuses (IANA_SVC_NAME needs a letter).
    service_ports: dict[tuple[int, str], int] = {}
    for index, port in enumerate(spec.ports or []):
        if not re.search(r"[a-z]", port.name):
            yield SpecProblem(f"spec.ports[{index}].name", "must contain at least one letter (a-z)")
        if "--" in port.name:
            yield SpecProblem(f"spec.ports[{index}].name", "must not contain consecutive hyphens")
        key = (port.service_port or port.container_port, str(port.protocol))
        if key in service_ports:
            which = "servicePort" if port.service_port else "containerPort"
            yield SpecProblem(
                f"spec.ports[{index}].{which}",
                f"Service port {key[0]}/{key[1]} is already used by "
                f"spec.ports[{service_ports[key]}]; set a different servicePort",
            )
        else:
            service_ports[key] = index


def _probe_problems(spec: ManagedServiceSpec) -> Iterator[SpecProblem]:
    port_names = [p.name for p in spec.ports or []]
    for kind in _PROBE_KINDS:
        probe: Probe | None = getattr(spec.probes, kind, None)
        if probe is None:
            continue
        handler = "http" if probe.http else "tcp" if probe.tcp else "grpc" if probe.grpc else None
        if handler is not None:
            yield from _probe_port_problems(
                f"spec.probes.{kind}.{handler}.port", probe.port, port_names
            )
        headers = (probe.http.http_headers if probe.http else None) or []
        for index, header in enumerate(headers):
            if not _HTTP_HEADER_NAME.match(header.name):
                yield SpecProblem(
                    f"spec.probes.{kind}.http.httpHeaders[{index}].name",
                    "must be a valid HTTP header name (letters, digits and '-')",
                )


def _probe_port_problems(
    path: str, port: int | str | None, port_names: list[str]
) -> Iterator[SpecProblem]:
    if isinstance(port, int):
        if not 1 <= port <= 65535:
            yield SpecProblem(path, f"port number {port} must be between 1 and 65535")
    elif port is not None and port not in port_names:
        defined = ", ".join(port_names) if port_names else "none are defined"
        hint = " (write a number without quotes for a port number)" if port.isdigit() else ""
        yield SpecProblem(path, f"no port named {port!r} in spec.ports ({defined}){hint}")


def _security_problems(sc: SecurityContext | None) -> Iterator[SpecProblem]:
    if sc is None:
        return
    profile = sc.seccomp_profile
    if profile is not None:
        localhost = profile.type == SeccompType.LOCALHOST
        if localhost and not profile.localhost_profile:
            yield SpecProblem(
                "spec.securityContext.seccompProfile.localhostProfile",
                "is required when type is Localhost",
            )
        if not localhost and profile.localhost_profile is not None:
            yield SpecProblem(
                "spec.securityContext.seccompProfile.localhostProfile",
                "may only be set when type is Localhost",
            )
    if sc.run_as_user == 0 and sc.run_as_non_root is not False:
        yield SpecProblem(
            "spec.securityContext.runAsUser",
            "0 (root) cannot run with runAsNonRoot: true (the default); "
            "set runAsNonRoot: false to run as root",
        )
    added = (sc.capabilities.add or []) if sc.capabilities else []
    if sc.allow_privilege_escalation is not True and {"SYS_ADMIN", "CAP_SYS_ADMIN"} & set(added):
        yield SpecProblem(
            "spec.securityContext.capabilities.add",
            "SYS_ADMIN cannot be added while allowPrivilegeEscalation is false (the default)",
        )


def config_problems(ms: ManagedService, config: OperatorConfig) -> Iterator[SpecProblem]:
    """What the operator's configuration refuses: receivers it does not know.

    Checked only when receivers are configured at all: without any, no step can page, and
    that is the operator's configuration to fix, not the ManagedService's.
    """
    known = {r.name for r in config.receivers}
    if not known:
        return
    steps = (ms.spec.alerts.escalation if ms.spec.alerts else None) or []
    for index, step in enumerate(steps):
        for receiver in step.receivers or []:
            if receiver not in known:
                yield SpecProblem(
                    f"spec.alerts.escalation[{index}].receivers",
                    f"unknown receiver {receiver!r} (configured: {', '.join(sorted(known))})",
                )


def problems(ms: ManagedService, config: OperatorConfig) -> list[SpecProblem]:
    """Everything wrong with a parsed ManagedService besides its schema, in field order."""
    return [*spec_problems(ms), *config_problems(ms, config)]
