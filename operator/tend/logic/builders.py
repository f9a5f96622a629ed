"""The objects tend creates for a ManagedService, as pure functions of its spec.

`build_all` returns, in creation order, a PodDisruptionBudget (a Deployment with more
than one replica), a ClusterIP Service (when `spec.ports` is set) and the workload: a
Deployment for `restartPolicy.policy: Always`, a Job for `OnFailure`/`Never`. Everything
is a plain dict whose keys are in reading order (apiVersion, kind, metadata, spec, and so
on down), so `tend render` prints them as they are.

Choices worth knowing (DESIGN.md "Hardened defaults" is the contract):

- The container is named `main` in every pod, so pod watchers never need the spec to
  find it; `resourceFieldRef.containerName` may only name `main`.
- Resources are the operator's defaults merged per key with the spec (requests and limits
  separately; the spec wins). Where a merged request would exceed a merged limit, the
  value the spec gave wins and the default one follows it (a spec request of 1Gi lifts a
  default limit of 256Mi to 1Gi; a spec limit of 32Mi lowers a default request of 64Mi).
- `spec.securityContext` overrides each hardened default on its own; unset fields keep
  the default (capabilities.add does not clear the default `drop: [ALL]`).
- Probes may name a port of `spec.ports` or give any number (a probe may reach an admin
  port the Service does not expose: the kubelet probes the pod IP directly).
- Containers use `terminationMessagePolicy: FallbackToLogsOnError`, so a crash without a
  termination message still reports the tail of its log in the pod status, where
  `status.recentFailures[].message` can pick it up.
- The PodDisruptionBudget uses `unhealthyPodEvictionPolicy: AlwaysAllow`, so a service in
  a crash loop never blocks a node drain.

Every object carries `tend.dev/desired-hash`: the first 16 hex digits of the sha256 of
its canonical JSON without that annotation. The operator compares it with the live
object's annotation instead of diffing fields the API server defaults.

`spec_problems` lists what the schema accepts but Kubernetes would refuse (or could not
run); the builders raise `InvalidSpecError` before building anything when there is any.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from tend.api import (
    API_VERSION,
    CONTAINER_NAME,
    KIND,
    ManagedService,
    ManagedServiceSpec,
    Policy,
    Probe,
    Resources,
    SeccompType,
    SecurityContext,
)
from tend.api.config import OperatorConfig
from tend.api.units import parse_duration, parse_quantity
from tend.api.validation import InvalidSpecError, spec_problems

Object = dict[str, Any]

DESIRED_HASH_ANNOTATION = "tend.dev/desired-hash"
MANAGED_BY = "tend"
TMP_VOLUME = "tmp"
TMP_PATH = "/tmp"

# Old ReplicaSets kept per Deployment (Kubernetes keeps 10). Rollback restores the
# template tend recorded itself, so five is plenty for `kubectl rollout undo` and keeps
# 10,000 services from filling etcd with ReplicaSets.
REVISION_HISTORY_LIMIT = 5
# The Deployment controller's default; a startup probe that may take longer extends it.
PROGRESS_DEADLINE_SECONDS = 600
PROGRESS_DEADLINE_MARGIN_SECONDS = 60

_PROBE_KINDS = ("startup", "liveness", "readiness")


def _require_buildable(ms: ManagedService) -> None:
    problems = spec_problems(ms)
    if problems:
        raise InvalidSpecError(problems)


# --- identity ------------------------------------------------------------------------------


def labels(ms: ManagedService) -> dict[str, str]:
    """The labels on every object tend creates and on its pods."""
    return {
        "app.kubernetes.io/name": ms.name,
        "app.kubernetes.io/instance": ms.name,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }


def selector_labels(ms: ManagedService) -> dict[str, str]:
    """The labels that select the service's pods (immutable on a Deployment: keep stable)."""
    return {
        "app.kubernetes.io/name": ms.name,
        "app.kubernetes.io/instance": ms.name,
    }


def owner_reference(ms: ManagedService) -> dict[str, Any] | None:
    """The controller reference to the ManagedService; None without a uid (offline render)."""
    if not ms.metadata.uid:
        return None
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": ms.name,
        "uid": ms.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def desired_hash(obj: Mapping[str, Any]) -> str:
    """sha256 (first 16 hex) of the object's canonical JSON without the hash annotation."""
    metadata = dict(obj.get("metadata") or {})
    annotations = {
        k: v for k, v in (metadata.get("annotations") or {}).items() if k != DESIRED_HASH_ANNOTATION
    }
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    canonical = json.dumps(
        {**obj, "metadata": metadata}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _metadata(ms: ManagedService, annotations: dict[str, str] | None) -> Object:
    metadata: Object = {"name": ms.name, "namespace": ms.namespace, "labels": labels(ms)}
    if annotations:
        metadata["annotations"] = annotations
    owner = owner_reference(ms)
    if owner is not None:
        metadata["ownerReferences"] = [owner]
    return metadata


def _object(api_version: str, kind: str, ms: ManagedService, spec: Object) -> Object:
    def body(annotations: dict[str, str] | None) -> Object:
        return {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": _metadata(ms, annotations),
            "spec": spec,
        }

    return body({DESIRED_HASH_ANNOTATION: desired_hash(body(None))})


# --- the pod ---------------------------------------------------------------------------------


def _seconds(duration: str) -> int:
    """Whole seconds, rounded up (to the millisecond first, so 3000ms is 3, not 4)."""
    return math.ceil(round(parse_duration(duration), 3))


def _resources(spec: ManagedServiceSpec, config: OperatorConfig) -> Object:
    defaults, own = config.resources, spec.resources or Resources()
    own_requests, own_limits = own.requests or {}, own.limits or {}
    requests = {**(defaults.requests or {}), **own_requests}
    limits = {**(defaults.limits or {}), **own_limits}
    for name in requests.keys() & limits.keys():
        if parse_quantity(requests[name]) > parse_quantity(limits[name]):
            if name in own_requests:
                limits[name] = requests[name]
            else:
                requests[name] = limits[name]
    resources: Object = {}
    if requests:
        resources["requests"] = {k: str(requests[k]) for k in sorted(requests)}
    if limits:
        resources["limits"] = {k: str(limits[k]) for k in sorted(limits)}
    return resources


def _probe(probe: Probe) -> Object:
    out: Object = {}
    if probe.http is not None:
        http: Object = {
            "path": probe.http.path,
            "port": probe.http.port,
            "scheme": str(probe.http.scheme),
        }
        if probe.http.http_headers:
            http["httpHeaders"] = [h.to_api() for h in probe.http.http_headers]
        out["httpGet"] = http
    elif probe.tcp is not None:
        out["tcpSocket"] = {"port": probe.tcp.port}
    elif probe.grpc is not None:
        out["grpc"] = probe.grpc.to_api()
    elif probe.exec is not None:
        out["exec"] = {"command": list(probe.exec.command)}
    out["initialDelaySeconds"] = probe.initial_delay_seconds
    out["periodSeconds"] = probe.period_seconds
    out["timeoutSeconds"] = probe.timeout_seconds
    out["successThreshold"] = probe.success_threshold
    out["failureThreshold"] = probe.failure_threshold
    return out


def _pod_security_context(sc: SecurityContext) -> Object:
    out: Object = {"runAsNonRoot": True if sc.run_as_non_root is None else sc.run_as_non_root}
    if sc.run_as_user is not None:
        out["runAsUser"] = sc.run_as_user
    if sc.run_as_group is not None:
        out["runAsGroup"] = sc.run_as_group
    if sc.fs_group is not None:
        out["fsGroup"] = sc.fs_group
    profile = sc.seccomp_profile
    out["seccompProfile"] = (
        profile.to_api() if profile is not None else {"type": str(SeccompType.RUNTIME_DEFAULT)}
    )
    return out


def _container_security_context(sc: SecurityContext) -> Object:
    capabilities: Object = {}
    if sc.capabilities is not None and sc.capabilities.add is not None:
        capabilities["add"] = list(sc.capabilities.add)
    drop = sc.capabilities.drop if sc.capabilities is not None else None
    capabilities["drop"] = ["ALL"] if drop is None else list(drop)
    return {
        "allowPrivilegeEscalation": bool(sc.allow_privilege_escalation),
        "capabilities": capabilities,
        "readOnlyRootFilesystem": (
            True if sc.read_only_root_filesystem is None else sc.read_only_root_filesystem
        ),
    }


def _container(spec: ManagedServiceSpec, config: OperatorConfig) -> Object:
    container: Object = {"name": CONTAINER_NAME, "image": spec.image}
    if spec.command:
        container["command"] = list(spec.command)
    if spec.args:
        container["args"] = list(spec.args)
    if spec.env:
        container["env"] = [var.to_api() for var in spec.env]
    if spec.env_from:
        container["envFrom"] = [source.to_api() for source in spec.env_from]
    if spec.ports:
        container["ports"] = [
            {"name": p.name, "containerPort": p.container_port, "protocol": str(p.protocol)}
            for p in spec.ports
        ]
    container["resources"] = _resources(spec, config)
    for kind in _PROBE_KINDS:
        probe: Probe | None = getattr(spec.probes, kind, None)
        if probe is not None:
            container[f"{kind}Probe"] = _probe(probe)
    delay = _seconds(spec.shutdown.pre_stop_delay)
    if delay > 0:
        container["lifecycle"] = {"preStop": {"sleep": {"seconds": delay}}}
    container["terminationMessagePolicy"] = "FallbackToLogsOnError"
    container["securityContext"] = _container_security_context(
        spec.security_context or SecurityContext()
    )
    container["volumeMounts"] = [{"name": TMP_VOLUME, "mountPath": TMP_PATH}]
    return container


def _pod_template(ms: ManagedService, config: OperatorConfig) -> Object:
    spec = ms.spec
    return {
        "metadata": {"labels": labels(ms)},
        "spec": {
            "restartPolicy": str(spec.restart_policy.policy),
            "terminationGracePeriodSeconds": _seconds(spec.shutdown.grace_period),
            "automountServiceAccountToken": False,
            "securityContext": _pod_security_context(spec.security_context or SecurityContext()),
            "containers": [_container(spec, config)],
            "volumes": [{"name": TMP_VOLUME, "emptyDir": {}}],
        },
    }


# --- the objects -----------------------------------------------------------------------------


def _progress_deadline(spec: ManagedServiceSpec) -> int:
    """600s, or longer when the startup probe may legitimately take longer than that."""
    startup = spec.probes.startup if spec.probes else None
    if startup is None:
        return PROGRESS_DEADLINE_SECONDS
    allowance = startup.initial_delay_seconds + startup.failure_threshold * startup.period_seconds
    return max(PROGRESS_DEADLINE_SECONDS, allowance + PROGRESS_DEADLINE_MARGIN_SECONDS)


def _deployment(ms: ManagedService, config: OperatorConfig) -> Object:
    spec = {
        "replicas": ms.spec.replicas,
        "selector": {"matchLabels": selector_labels(ms)},
        # Zero downtime: a new pod must be Ready before an old one stops.
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        },
        "revisionHistoryLimit": REVISION_HISTORY_LIMIT,
        "progressDeadlineSeconds": _progress_deadline(ms.spec),
        "template": _pod_template(ms, config),
    }
    return _object("apps/v1", "Deployment", ms, spec)


def _job(ms: ManagedService, config: OperatorConfig) -> Object:
    budget = ms.spec.restart_policy.max_restarts
    spec = {
        "completions": ms.spec.replicas,
        "parallelism": ms.spec.replicas,
        "backoffLimit": config.budget.max_restarts if budget is None else budget,
        "template": _pod_template(ms, config),
    }
    return _object("batch/v1", "Job", ms, spec)


def _service(ms: ManagedService) -> Object | None:
    if not ms.spec.ports:
        return None
    ports = [
        {
            "name": p.name,
            "port": p.service_port or p.container_port,
            "targetPort": p.name,
            "protocol": str(p.protocol),
        }
        for p in ms.spec.ports
    ]
    spec = {"type": "ClusterIP", "selector": selector_labels(ms), "ports": ports}
    return _object("v1", "Service", ms, spec)


def _pdb(ms: ManagedService) -> Object | None:
    if ms.spec.runs_to_completion or ms.spec.replicas <= 1:
        return None
    spec = {
        "maxUnavailable": 1,
        "selector": {"matchLabels": selector_labels(ms)},
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }
    return _object("policy/v1", "PodDisruptionBudget", ms, spec)


def _workload(ms: ManagedService, config: OperatorConfig) -> Object:
    if ms.spec.restart_policy.policy == Policy.ALWAYS:
        return _deployment(ms, config)
    return _job(ms, config)


def build_all(ms: ManagedService, config: OperatorConfig) -> list[Object]:
    """Every object for the service, in creation order: PDB, Service, then the workload.

    Helm's install order; the workload comes last, so a caller waiting on dependencies
    can create everything before it.
    """
    _require_buildable(ms)
    objects = [_pdb(ms), _service(ms), _workload(ms, config)]
    return [obj for obj in objects if obj is not None]


def scaled_to_zero(objects: list[Object]) -> list[Object]:
    """The same objects with the workload stopped, like systemd's failed state: a Deployment
    at 0 replicas, a Job suspended. Nothing else changes, and the desired-hash stays the
    spec's, so lifting the hold rolls nothing out but the replicas."""
    stopped = []
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job"):
            obj = {**obj, "spec": {**obj["spec"]}}
            if obj["kind"] == "Deployment":
                obj["spec"]["replicas"] = 0
            else:
                obj["spec"]["suspend"] = True
        stopped.append(obj)
    return stopped


# --- the last Ready template (onExhausted: Rollback) -------------------------------------------

# Recorded on the Deployment when the service is Ready at a generation, so a Rollback can
# restore it: the ManagedService itself only holds the current spec.
LAST_READY_TEMPLATE_ANNOTATION = "tend.dev/last-ready-template"
LAST_READY_GENERATION_ANNOTATION = "tend.dev/last-ready-generation"


def _template_json(deployment: Mapping[str, Any]) -> str:
    template = (deployment.get("spec") or {}).get("template") or {}
    return json.dumps(template, sort_keys=True, separators=(",", ":"))


def last_ready(live: Mapping[str, Any] | None) -> tuple[str, int] | None:
    """(the recorded pod template as JSON, its generation) on a live Deployment, if any."""
    annotations = ((live or {}).get("metadata") or {}).get("annotations") or {}
    template = annotations.get(LAST_READY_TEMPLATE_ANNOTATION)
    if not template:
        return None
    try:
        return template, int(annotations.get(LAST_READY_GENERATION_ANNOTATION) or 0)
    except ValueError:
        return template, 0


def _with_deployment(objects: list[Object], change: Any) -> list[Object]:
    return [change(obj) if obj["kind"] == "Deployment" else obj for obj in objects]


def recording_ready(objects: list[Object], generation: int) -> list[Object]:
    """The objects with the Deployment's template recorded as the last one that was Ready
    (annotations only: the desired-hash, and so the pods, stay as they are)."""

    def record(obj: Object) -> Object:
        metadata = {**obj["metadata"]}
        metadata["annotations"] = {
            **(metadata.get("annotations") or {}),
            LAST_READY_TEMPLATE_ANNOTATION: _template_json(obj),
            LAST_READY_GENERATION_ANNOTATION: str(generation),
        }
        return {**obj, "metadata": metadata}

    return _with_deployment(objects, record)


def rolled_back(objects: list[Object], template: str) -> list[Object]:
    """The objects with the Deployment running `template` (a recorded last Ready template)
    instead of the spec's; its desired-hash is that of what it runs."""

    def restore(obj: Object) -> Object:
        spec = {**obj["spec"], "template": json.loads(template)}
        metadata = {**obj["metadata"]}
        annotations = {
            k: v for k, v in (metadata.get("annotations") or {}).items()
            if k != DESIRED_HASH_ANNOTATION
        }  # fmt: skip
        body = {**obj, "metadata": {**metadata, "annotations": annotations}, "spec": spec}
        annotations[DESIRED_HASH_ANNOTATION] = desired_hash(body)
        return body

    return _with_deployment(objects, restore)
