"""The kinds the simulated API server serves: built-ins, plus those defined by CRDs.

A ResourceType carries what discovery, the store and the HTTP layer need to know about one
(group, version, resource): scope, short names, subresources, which fields are selectable,
whether writes bump `metadata.generation`, and the CRD schema and printer columns.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tend_sim import autoscaling
from tend_sim.builtin_schemas import definitions, ref_name, schema_type, stored_definition

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ScaleSpec:
    """Where the /scale subresource reads and writes replicas (dotted paths)."""

    spec_replicas_path: str = "spec.replicas"
    status_replicas_path: str = "status.replicas"
    label_selector_path: str | None = "status.selector"


@dataclass(eq=False)
class ResourceType:
    """One served (group, version, resource)."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status_subresource: bool = False
    scale: ScaleSpec | None = None
    verbs: tuple[str, ...] = ALL_VERBS
    has_generation: bool = False
    allow_unconditional_update: bool = True
    allow_create_on_update: bool = False
    default_propagation: str = "Background"
    # field label -> dotted path; metadata.name/namespace are always selectable.
    field_labels: dict[str, str] = field(default_factory=dict)
    # dotted paths that may not change after creation (422 FieldValueInvalid "field is immutable").
    immutable_fields: tuple[str, ...] = ()
    custom: bool = False
    schema: dict[str, Any] | None = None
    printer_columns: list[dict[str, Any]] = field(default_factory=list)
    storage_version: str = ""
    crd_name: str = ""
    extra_subresources: tuple[str, ...] = ()
    # Storage shared with another resource (events.k8s.io Events are core v1 Events).
    storage: tuple[str, str] | None = None
    # Create-only kinds that are answered, never stored (access reviews; see reviews.py).
    virtual: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def gr(self) -> tuple[str, str]:
        """Storage key: all versions of a resource share one storage."""
        return self.storage or (self.group, self.plural)

    @property
    def converts(self) -> bool:
        """Whether objects are stored in another shape or version than this one serves."""
        return self.storage is not None or (self.custom and self.version != self.storage_version)

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def subresources(self) -> tuple[str, ...]:
        subs: list[str] = []
        if self.status_subresource:
            subs.append("status")
        if self.scale is not None:
            subs.append("scale")
        subs.extend(self.extra_subresources)
        return tuple(subs)

    def __repr__(self) -> str:
        return f"ResourceType({self.api_version}, {self.kind}, {self.plural})"


def _rt(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool = True,
    **kwargs: Any,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        **kwargs,
    )


_EVENT_FIELDS = {
    "involvedObject.kind": "involvedObject.kind",
    "involvedObject.namespace": "involvedObject.namespace",
    "involvedObject.name": "involvedObject.name",
    "involvedObject.uid": "involvedObject.uid",
    "involvedObject.apiVersion": "involvedObject.apiVersion",
    "involvedObject.resourceVersion": "involvedObject.resourceVersion",
    "involvedObject.fieldPath": "involvedObject.fieldPath",
    "reason": "reason",
    "reportingComponent": "reportingComponent",
    "source": "source.component",
    "type": "type",
}

# Field labels of events.k8s.io/v1 Events, as paths in the stored (core v1) shape.
_EVENTS_V1_FIELDS = {
    "regarding.kind": "involvedObject.kind",
    "regarding.namespace": "involvedObject.namespace",
    "regarding.name": "involvedObject.name",
    "regarding.uid": "involvedObject.uid",
    "regarding.apiVersion": "involvedObject.apiVersion",
    "regarding.resourceVersion": "involvedObject.resourceVersion",
    "regarding.fieldPath": "involvedObject.fieldPath",
    "reason": "reason",
    "reportingController": "reportingComponent",
    "type": "type",
}

# events.k8s.io/v1 field <-> core v1 field (the rest have the same name in both).
_EVENT_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
    "reportingController": "reportingComponent",
}
_EVENT_RENAMES_BACK = {v: k for k, v in _EVENT_RENAMES.items()}


def to_storage(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """The stored shape of an object written through `rt` (events.k8s.io, autoscaling/v1)."""
    if rt.storage is None:
        return obj
    if rt.kind == "HorizontalPodAutoscaler":
        return autoscaling.to_v2(obj)
    out = {_EVENT_RENAMES.get(k, k): v for k, v in obj.items()}
    out["apiVersion"] = "v1"
    return out


def from_storage(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """How `rt` shows a stored object (events.k8s.io shape, or another served CRD version)."""
    if rt.kind == "HorizontalPodAutoscaler" and rt.storage is not None:
        return autoscaling.to_v1(obj)
    if rt.storage is not None:
        out = {_EVENT_RENAMES_BACK.get(k, k): v for k, v in obj.items()}
        out["apiVersion"] = rt.api_version
        return out
    if rt.custom and obj.get("apiVersion") != rt.api_version:
        out = dict(obj)
        out["apiVersion"] = rt.api_version
        return out
    return obj


_POD_FIELDS = {
    "spec.nodeName": "spec.nodeName",
    "spec.restartPolicy": "spec.restartPolicy",
    "spec.schedulerName": "spec.schedulerName",
    "spec.serviceAccountName": "spec.serviceAccountName",
    "spec.hostNetwork": "spec.hostNetwork",
    "status.phase": "status.phase",
    "status.podIP": "status.podIP",
    "status.nominatedNodeName": "status.nominatedNodeName",
}

_POD_TEMPLATE_IMMUTABLE: tuple[str, ...] = ()


def builtin_types() -> list[ResourceType]:
    """Fresh ResourceType objects for every built-in kind the simulator serves."""
    return [
        _rt(
            "",
            "v1",
            "Namespace",
            "namespaces",
            namespaced=False,
            short_names=("ns",),
            status_subresource=True,
            verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
            field_labels={"status.phase": "status.phase"},
            extra_subresources=("finalize",),
        ),
        _rt(
            "",
            "v1",
            "Pod",
            "pods",
            short_names=("po",),
            categories=("all",),
            status_subresource=True,
            has_generation=True,
            field_labels=_POD_FIELDS,
            extra_subresources=("log", "eviction", "ephemeralcontainers"),
        ),
        _rt(
            "",
            "v1",
            "Service",
            "services",
            short_names=("svc",),
            categories=("all",),
            status_subresource=True,
            allow_create_on_update=True,
            verbs=(
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ),
            immutable_fields=("spec.clusterIP",),
        ),
        _rt("", "v1", "Endpoints", "endpoints", short_names=("ep",), allow_create_on_update=True),
        _rt("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
        _rt("", "v1", "Secret", "secrets", field_labels={"type": "type"}),
        _rt(
            "",
            "v1",
            "ServiceAccount",
            "serviceaccounts",
            short_names=("sa",),
            extra_subresources=("token",),
        ),
        _rt(
            "",
            "v1",
            "ResourceQuota",
            "resourcequotas",
            short_names=("quota",),
            status_subresource=True,
        ),
        _rt("", "v1", "LimitRange", "limitranges", short_names=("limits",)),
        _rt(
            "",
            "v1",
            "Event",
            "events",
            short_names=("ev",),
            allow_create_on_update=True,
            field_labels=_EVENT_FIELDS,
        ),
        _rt(
            "",
            "v1",
            "Node",
            "nodes",
            namespaced=False,
            short_names=("no",),
            status_subresource=True,
            field_labels={"spec.unschedulable": "spec.unschedulable"},
        ),
        _rt(
            "",
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            short_names=("pvc",),
            status_subresource=True,
        ),
        _rt(
            "apps",
            "v1",
            "Deployment",
            "deployments",
            short_names=("deploy",),
            categories=("all",),
            status_subresource=True,
            scale=ScaleSpec(),
            has_generation=True,
            immutable_fields=("spec.selector",),
        ),
        _rt(
            "apps",
            "v1",
            "ReplicaSet",
            "replicasets",
            short_names=("rs",),
            categories=("all",),
            status_subresource=True,
            scale=ScaleSpec(),
            has_generation=True,
            field_labels={"status.replicas": "status.replicas"},
            immutable_fields=("spec.selector",),
        ),
        _rt(
            "apps",
            "v1",
            "StatefulSet",
            "statefulsets",
            short_names=("sts",),
            categories=("all",),
            status_subresource=True,
            scale=ScaleSpec(),
            has_generation=True,
            immutable_fields=("spec.selector", "spec.serviceName"),
        ),
        _rt(
            "apps",
            "v1",
            "DaemonSet",
            "daemonsets",
            short_names=("ds",),
            categories=("all",),
            status_subresource=True,
            has_generation=True,
            immutable_fields=("spec.selector",),
        ),
        _rt(
            "batch",
            "v1",
            "Job",
            "jobs",
            categories=("all",),
            status_subresource=True,
            has_generation=True,
            default_propagation="Orphan",
            field_labels={"status.successful": "status.successful"},
            immutable_fields=("spec.selector", "spec.completions", "spec.podFailurePolicy"),
        ),
        _rt(
            "batch",
            "v1",
            "CronJob",
            "cronjobs",
            short_names=("cj",),
            categories=("all",),
            status_subresource=True,
            has_generation=True,
        ),
        _rt(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            short_names=("hpa",),
            categories=("all",),
            status_subresource=True,
        ),
        _rt(
            "autoscaling",
            "v1",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            short_names=("hpa",),
            categories=("all",),
            status_subresource=True,
            storage=("autoscaling", "horizontalpodautoscalers"),
            storage_version="v2",
        ),
        _rt(
            "scheduling.k8s.io",
            "v1",
            "PriorityClass",
            "priorityclasses",
            namespaced=False,
            short_names=("pc",),
            immutable_fields=("value", "preemptionPolicy"),
        ),
        *_review_types(),
        _rt(
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            short_names=("pdb",),
            status_subresource=True,
            has_generation=True,
        ),
        _rt(
            "discovery.k8s.io",
            "v1",
            "EndpointSlice",
            "endpointslices",
            immutable_fields=("addressType",),
        ),
        _rt(
            "events.k8s.io",
            "v1",
            "Event",
            "events",
            short_names=("ev",),
            allow_create_on_update=True,
            field_labels=_EVENTS_V1_FIELDS,
            storage=("", "events"),
        ),
        _rt(
            "coordination.k8s.io",
            "v1",
            "Lease",
            "leases",
            allow_create_on_update=True,
        ),
        _rt("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short_names=("netpol",)),
        _rt(
            "networking.k8s.io",
            "v1",
            "Ingress",
            "ingresses",
            short_names=("ing",),
            status_subresource=True,
        ),
        _rt("rbac.authorization.k8s.io", "v1", "Role", "roles"),
        _rt("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
        _rt("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
        _rt(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            namespaced=False,
        ),
        _rt(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            namespaced=False,
            short_names=("crd", "crds"),
            categories=("api-extensions",),
            status_subresource=True,
            has_generation=True,
        ),
    ]


def _review_types() -> list[ResourceType]:
    """authorization.k8s.io and authentication.k8s.io: create-only, answered by reviews.py."""
    out = []
    for group, kind, namespaced in (
        ("authorization.k8s.io", "SelfSubjectAccessReview", False),
        ("authorization.k8s.io", "SelfSubjectRulesReview", False),
        ("authorization.k8s.io", "SubjectAccessReview", False),
        ("authorization.k8s.io", "LocalSubjectAccessReview", True),
        ("authentication.k8s.io", "SelfSubjectReview", False),
        ("authentication.k8s.io", "TokenReview", False),
    ):
        out.append(
            _rt(group, "v1", kind, kind.lower() + "s", namespaced, verbs=("create",), virtual=True)
        )
    return out


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """The ResourceTypes a (valid) CustomResourceDefinition serves, one per served version."""
    spec = crd["spec"]
    names = spec["names"]
    group = spec["group"]
    namespaced = spec.get("scope", "Namespaced") == "Namespaced"
    versions = spec.get("versions") or []
    storage = next((v["name"] for v in versions if v.get("storage")), versions[0]["name"])
    out: list[ResourceType] = []
    for ver in versions:
        if not ver.get("served", True):
            continue
        subs = ver.get("subresources") or {}
        scale = None
        if "scale" in subs:
            s = subs["scale"] or {}
            scale = ScaleSpec(
                spec_replicas_path=s.get("specReplicasPath", ".spec.replicas").lstrip("."),
                status_replicas_path=s.get("statusReplicasPath", ".status.replicas").lstrip("."),
                label_selector_path=(
                    s["labelSelectorPath"].lstrip(".") if s.get("labelSelectorPath") else None
                ),
            )
        selectable = {
            f["jsonPath"].lstrip("."): f["jsonPath"].lstrip(".")
            for f in ver.get("selectableFields") or []
            if isinstance(f, dict) and "jsonPath" in f
        }
        out.append(
            ResourceType(
                group=group,
                version=ver["name"],
                kind=names["kind"],
                plural=names["plural"],
                singular=names.get("singular") or names["kind"].lower(),
                namespaced=namespaced,
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status_subresource="status" in subs,
                scale=scale,
                has_generation=True,
                allow_unconditional_update=False,
                field_labels=selectable,
                custom=True,
                schema=(ver.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=list(ver.get("additionalPrinterColumns") or []),
                storage_version=storage,
                crd_name=crd["metadata"]["name"],
            )
        )
    return out


class Registry:
    """Lookup of served ResourceTypes by group/version/plural, kind, short name."""

    def __init__(self, types: Iterable[ResourceType] = ()) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceType] = {}
        self._crd_types: dict[str, list[ResourceType]] = {}
        for rt in types:
            self._add(rt)

    def _add(self, rt: ResourceType) -> None:
        self._by_gvr[(rt.group, rt.version, rt.plural)] = rt

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._by_gvr.values()))

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def groups(self) -> dict[str, list[str]]:
        """group -> served versions (core group is "")."""
        out: dict[str, list[str]] = {}
        for g, v, _ in self._by_gvr:
            versions = out.setdefault(g, [])
            if v not in versions:
                versions.append(v)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for (g, v, _), rt in self._by_gvr.items() if g == group and v == version]

    def lookup(self, kind_or_plural: str, group: str | None = None) -> ResourceType | None:
        """Find by kind, plural, singular or short name (case-insensitive for kind)."""
        want = kind_or_plural.lower()
        matches = [
            rt
            for rt in self._by_gvr.values()
            if (group is None or rt.group == group)
            and (
                rt.plural == want
                or rt.singular == want
                or rt.kind.lower() == want
                or want in rt.short_names
            )
        ]
        if not matches:
            return None
        # Prefer the storage version, then the core/legacy group.
        matches.sort(key=lambda rt: (rt.custom and rt.version != rt.storage_version, rt.group))
        return matches[0]

    def set_crd(self, crd_name: str, types: list[ResourceType]) -> None:
        self.remove_crd(crd_name)
        self._crd_types[crd_name] = types
        for rt in types:
            self._add(rt)

    def remove_crd(self, crd_name: str) -> None:
        for rt in self._crd_types.pop(crd_name, []):
            self._by_gvr.pop((rt.group, rt.version, rt.plural), None)

    def crd_types(self, crd_name: str) -> list[ResourceType]:
        return list(self._crd_types.get(crd_name, []))


# ---------------------------------------------------------------------------------------------
# Defaulting: what the real API server fills in on decode (SetDefaults_*) and on create.
# It matters for strictness: an operator that diffs desired against live objects must cope
# with these, as it must against a real cluster.


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    # SetDefaults_Probe: a zero (Go's unset) is defaulted like a missing field.
    for key, default in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        if not probe.get(key) and probe.get(key) is not False:
            probe[key] = default
    http = probe.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def _image_pull_policy(image: Any) -> str:
    if not isinstance(image, str):
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    tag = last.rpartition(":")[2] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def default_container(c: Any) -> None:
    if not isinstance(c, dict):
        return
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("imagePullPolicy", _image_pull_policy(c.get("image")))
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(name))
    for env in c.get("env") or []:
        ref = (env.get("valueFrom") or {}).get("fieldRef") if isinstance(env, dict) else None
        if isinstance(ref, dict):
            ref.setdefault("apiVersion", "v1")


def default_pod_spec(spec: Any) -> None:
    """SetDefaults_PodSpec and friends, for a pod or a pod template; and what decoding's
    conversion does to every PodSpec: the deprecated `serviceAccount` stands in for a missing
    `serviceAccountName`, and is then its copy (Convert_v1_PodSpec_To_core_PodSpec and back)."""
    if not isinstance(spec, dict):
        return
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            default_container(c)
    for v in spec.get("volumes") or []:
        if not isinstance(v, dict):
            continue
        for src in ("secret", "configMap"):
            if isinstance(v.get(src), dict):
                v[src].setdefault("defaultMode", 420)


def _default_requests_to_limits(spec: Any) -> None:
    """SetDefaults_Pod (not templates): a container's limits stand in for missing requests."""
    if not isinstance(spec, dict):
        return
    for c in spec.get("containers") or []:
        resources = c.get("resources") if isinstance(c, dict) else None
        if not isinstance(resources, dict) or not isinstance(resources.get("limits"), dict):
            continue
        requests = resources.setdefault("requests", {})
        if isinstance(requests, dict):
            for name, value in resources["limits"].items():
                requests.setdefault(name, value)


def _default_template(obj: dict[str, Any]) -> None:
    template = (obj.get("spec") or {}).get("template")
    if isinstance(template, dict):
        default_pod_spec(template.get("spec"))


def _qos_class(spec: dict[str, Any]) -> str:
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    requests_any = False
    guaranteed = bool(containers)
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            requests_any = True
        for r in ("cpu", "memory"):
            if r not in lim or (r in req and req[r] != lim[r]):
                guaranteed = False
    if guaranteed and requests_any:
        return "Guaranteed"
    return "Burstable" if requests_any else "BestEffort"


def apply_defaults(rt: ResourceType, obj: dict[str, Any]) -> None:
    """The kind's SetDefaults_* functions, which kube-apiserver's codec runs as it decodes a
    request: so what they set is in the writer's managedFields (unlike what the strategy or
    an admission plugin adds later, see `prepare_create`)."""
    kind = rt.kind if not rt.custom else ""
    spec = obj.get("spec")
    if kind == "Namespace":
        _label_namespace(obj)  # SetDefaults_Namespace: not while the name is yet to be made
    elif kind == "Pod":
        default_pod_spec(spec)
        _default_requests_to_limits(spec)
    elif kind == "Deployment" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        if isinstance(strategy, dict):
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                ru = strategy.setdefault("rollingUpdate", {})
                if isinstance(ru, dict):
                    ru.setdefault("maxUnavailable", "25%")
                    ru.setdefault("maxSurge", "25%")
        _default_template(obj)
    elif kind in ("ReplicaSet", "StatefulSet") and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        _default_template(obj)
    elif kind == "DaemonSet":
        _default_template(obj)
    elif kind == "Job" and isinstance(spec, dict):
        if spec.get("completions") is None and spec.get("parallelism") is None:
            spec["completions"] = 1
            spec["parallelism"] = 1
        spec.setdefault("parallelism", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        _default_template(obj)
    elif kind == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        stype = spec["type"]
        if stype != "ExternalName":
            spec.setdefault("internalTrafficPolicy", "Cluster")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "port" in p:
                    p.setdefault("targetPort", p["port"])
        # service.ExternallyAccessible: a NodePort or LoadBalancer, or a ClusterIP with
        # external IPs.
        if stype in ("NodePort", "LoadBalancer") or (
            stype == "ClusterIP" and spec.get("externalIPs")
        ):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if stype == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
    elif kind == "PriorityClass":
        obj.setdefault("preemptionPolicy", "PreemptLowerPriority")
    elif kind == "HorizontalPodAutoscaler" and isinstance(spec, dict):
        spec.setdefault("minReplicas", 1)
        if not spec.get("metrics"):
            spec["metrics"] = [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                }
            ]
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {})
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
    elif kind == "CustomResourceDefinition" and isinstance(spec, dict):
        names = spec.get("names")
        if isinstance(names, dict) and isinstance(names.get("kind"), str):
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", names["kind"] + "List")
        spec.setdefault("conversion", {"strategy": "None"})


# DefaultTolerationSeconds' two tolerations: one list shared by every stored pod that has no
# tolerations of its own (stored objects are never changed in place).
DEFAULT_TOLERATIONS: list[dict[str, Any]] = [
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
]


def _label_namespace(obj: dict[str, Any]) -> None:
    meta = obj["metadata"]
    name = meta.get("name")
    if name:
        labels = meta.setdefault("labels", {})
        if isinstance(labels, dict):
            labels["kubernetes.io/metadata.name"] = name


def _mirror_quota(obj: dict[str, Any]) -> None:
    """The quota controller's part, without counting usage: status.hard mirrors spec.hard."""
    spec = obj.get("spec")
    hard = spec.get("hard") if isinstance(spec, dict) else None
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    if hard:
        status["hard"] = dict(hard)


def prepare_create(rt: ResourceType, obj: dict[str, Any], store: Any) -> None:
    """What only creation does, after the defaults (`apply_defaults`) and after the field
    manager recorded the writer's fields: the strategy's PrepareForCreate (reset status,
    generate a Job's selector), the REST storage's allocations (a Service's IP) and the
    mutating admission plugins (a Pod's service account, priority, default tolerations).
    None of it is in the writer's managedFields, as on a real server (create.go runs
    FieldManager.UpdateNoErrors before mutating admission and the registry)."""
    if rt.custom:
        return
    kind = rt.kind
    meta = obj["metadata"]
    if rt.status_subresource and kind not in ("Namespace", "CustomResourceDefinition"):
        obj.pop("status", None)
    if kind == "Namespace":
        spec = obj.setdefault("spec", {})
        spec.setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
        _label_namespace(obj)  # the strategy's PrepareForCreate: a generated name too
    elif kind == "ResourceQuota":
        _mirror_quota(obj)
    elif kind == "Job":
        spec = obj.get("spec")
        if isinstance(spec, dict) and not spec.get("manualSelector"):
            uid = meta["uid"]
            job_labels = {
                "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": meta["name"],
                "controller-uid": uid,
                "job-name": meta["name"],
            }
            spec.setdefault(
                "selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
            )
            template = spec.get("template")
            if isinstance(template, dict):
                tmeta = template.setdefault("metadata", {})
                if isinstance(tmeta, dict):
                    tlabels = tmeta.setdefault("labels", {})
                    if isinstance(tlabels, dict):
                        tlabels.update(job_labels)
    elif kind == "Service":
        spec = obj.get("spec")
        if isinstance(spec, dict):
            stype = spec.get("type", "ClusterIP")
            if stype != "ExternalName" and not spec.get("clusterIP"):
                spec["clusterIP"] = store.allocate_cluster_ip()
            if spec.get("clusterIP"):
                spec.setdefault("clusterIPs", [spec["clusterIP"]])
                spec.setdefault("ipFamilies", ["IPv4"])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
        obj["status"] = {"loadBalancer": {}}
    elif kind == "Pod":
        spec = obj.get("spec")
        if isinstance(spec, dict):
            from tend_sim.podadmission import admit_pod

            admit_pod(store, obj)
            spec.setdefault("tolerations", DEFAULT_TOLERATIONS)
            obj["status"] = {"phase": "Pending", "qosClass": _qos_class(spec)}


def default_on_update(rt: ResourceType, new: dict[str, Any], old: dict[str, Any]) -> None:
    """Defaults on every write, and values the server allocated that a PUT may leave out."""
    if rt.custom:
        return
    if rt.kind == "Service":
        spec, old_spec = new.get("spec"), old.get("spec") or {}
        if isinstance(spec, dict):
            for f in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                if not spec.get(f) and f in old_spec:
                    spec[f] = old_spec[f]
    elif rt.kind == "Namespace":
        spec = new.setdefault("spec", {})
        if (
            isinstance(spec, dict)
            and "finalizers" not in spec
            and not old["metadata"].get("deletionTimestamp")
        ):
            spec["finalizers"] = (old.get("spec") or {}).get("finalizers", ["kubernetes"])
    elif rt.kind == "ResourceQuota":
        _mirror_quota(new)
    apply_defaults(rt, new)


# ---------------------------------------------------------------------------------------------
# Server-side printing (kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io`).


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration, as kubectl shows ages."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(value: Any, now: datetime) -> str:
    ts = _parse_time(value)
    if ts is None:
        return "<unknown>"
    return human_duration((now - ts).total_seconds())


_JSONPATH_TOKEN = re.compile(
    r"\.([A-Za-z0-9_\-$]+)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*(==|!=)\s*['\"]([^'\"]*)['\"]\)\]"
    r"|\['([^']+)'\]"
)


def jsonpath(obj: Any, path: str) -> list[Any]:
    """The small JSONPath subset CRD printer columns use: .a.b, [0], [*], [?(@.k=="v")]."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    current = [obj]
    pos = 0
    while pos < len(path):
        m = _JSONPATH_TOKEN.match(path, pos)
        if m is None:
            return []
        pos = m.end()
        field_name, index, fkey, fop, fval, quoted = m.groups()
        nxt: list[Any] = []
        for cur in current:
            if field_name is not None or quoted is not None:
                key = field_name if field_name is not None else quoted
                if isinstance(cur, dict) and key in cur:
                    nxt.append(cur[key])
            elif index is not None:
                if isinstance(cur, list):
                    if index == "*":
                        nxt.extend(cur)
                    elif int(index) < len(cur):
                        nxt.append(cur[int(index)])
                elif isinstance(cur, dict) and index == "*":
                    nxt.extend(cur.values())
            else:
                items = cur if isinstance(cur, list) else []
                for item in items:
                    val: Any = item
                    for part in fkey.split("."):
                        val = val.get(part) if isinstance(val, dict) else None
                    sval = (
                        ""
                        if val is None
                        else str(val).lower()
                        if isinstance(val, bool)
                        else str(val)
                    )
                    if (sval == fval) == (fop == "=="):
                        nxt.append(item)
        current = nxt
    return current


def _col(
    name: str, type_: str = "string", description: str = "", priority: int = 0, fmt: str = ""
) -> dict[str, Any]:
    return {
        "name": name,
        "type": type_,
        "format": fmt,
        "description": description,
        "priority": priority,
    }


_NAME_COL = _col("Name", fmt="name", description="Name must be unique within a namespace.")
_AGE_COL = _col(
    "Age",
    description="CreationTimestamp is a timestamp representing the server "
    "time when this object was created.",
)


def _cell_for(type_: str, values: list[Any], now: datetime) -> Any:
    if not values:
        return None
    value: Any = values[0] if len(values) == 1 else values
    if type_ == "date":
        return age(value, now) if isinstance(value, str) else value
    if type_ == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if type_ == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if type_ == "boolean" and isinstance(value, bool):
        return value
    if isinstance(value, list):
        return ",".join(json.dumps(v) if isinstance(v, dict | list) else str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return value if type_ == "string" and isinstance(value, str) else str(value)


def _ports(ports: Any) -> str:
    out = []
    for p in ports or []:
        if not isinstance(p, dict):
            continue
        s = f"{p.get('port')}"
        if p.get("nodePort"):
            s += f":{p['nodePort']}"
        out.append(f"{s}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _pod_row(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers = spec.get("containers") or []
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    reason = status.get("reason") or status.get("phase") or "Pending"
    for c in statuses:
        state = c.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated and terminated.get("reason"):
            reason = terminated["reason"]
        elif terminated:
            reason = f"ExitCode:{terminated.get('exitCode')}"
    if obj["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    last_restart = [
        (c.get("lastState") or {}).get("terminated", {}).get("finishedAt") for c in statuses
    ]
    restart_cell: Any = restarts
    when = max((t for t in last_restart if t), default=None)
    if restarts and when:
        restart_cell = f"{restarts} ({age(when, now)} ago)"
    return [
        obj["metadata"]["name"],
        f"{ready}/{len(containers)}",
        reason,
        restart_cell,
        age(obj["metadata"].get("creationTimestamp"), now),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        "<none>",
    ]


def _event_row(obj: dict[str, Any], now: datetime) -> list[Any]:
    involved = obj.get("involvedObject") or {}
    last = (
        (obj.get("series") or {}).get("lastObservedTime")
        or obj.get("lastTimestamp")
        or obj.get("eventTime")
        or obj["metadata"].get("creationTimestamp")
    )
    return [
        age(last, now),
        obj.get("type") or "",
        obj.get("reason") or "",
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        obj.get("message") or "",
    ]


def table_columns(rt: ResourceType) -> list[dict[str, Any]]:
    """Column definitions of the server-side Table for this kind."""
    if rt.custom:
        cols = [_NAME_COL]
        if not rt.printer_columns:
            return [*cols, _AGE_COL]
        for c in rt.printer_columns:
            cols.append(
                _col(
                    str(c.get("name", "")),
                    str(c.get("type", "string")),
                    str(c.get("description", "")),
                    int(c.get("priority", 0)),
                    str(c.get("format", "")),
                )
            )
        return cols
    kind = rt.kind
    if kind == "Pod":
        return [
            _NAME_COL,
            _col("Ready"),
            _col("Status"),
            _col("Restarts", "string"),
            _AGE_COL,
            _col("IP", priority=1),
            _col("Node", priority=1),
            _col("Nominated Node", priority=1),
            _col("Readiness Gates", priority=1),
        ]
    if kind == "Deployment":
        return [
            _NAME_COL,
            _col("Ready"),
            _col("Up-to-date", "integer"),
            _col("Available", "integer"),
            _AGE_COL,
            *_WORKLOAD_WIDE,
        ]
    if kind == "ReplicaSet":
        return [
            _NAME_COL,
            _col("Desired", "integer"),
            _col("Current", "integer"),
            _col("Ready", "integer"),
            _AGE_COL,
            *_WORKLOAD_WIDE,
        ]
    if kind == "Service":
        return [
            _NAME_COL,
            _col("Type"),
            _col("Cluster-IP"),
            _col("External-IP"),
            _col("Port(s)"),
            _AGE_COL,
            _col("Selector", priority=1),
        ]
    if kind == "Job":
        return [
            _NAME_COL,
            _col("Status"),
            _col("Completions"),
            _col("Duration"),
            _AGE_COL,
            *_WORKLOAD_WIDE,
        ]
    if kind == "Event" and rt.group == "":
        return [_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")]
    if kind == "Namespace":
        return [_NAME_COL, _col("Status"), _AGE_COL]
    if kind == "ConfigMap":
        return [_NAME_COL, _col("Data", "integer"), _AGE_COL]
    if kind == "Secret":
        return [_NAME_COL, _col("Type"), _col("Data", "integer"), _AGE_COL]
    if kind == "EndpointSlice":
        return [_NAME_COL, _col("AddressType"), _col("Ports"), _col("Endpoints"), _AGE_COL]
    if kind == "Lease":
        return [_NAME_COL, _col("Holder"), _AGE_COL]
    if kind == "PodDisruptionBudget":
        return [
            _NAME_COL,
            _col("Min Available"),
            _col("Max Unavailable"),
            _col("Allowed Disruptions", "integer"),
            _AGE_COL,
        ]
    if kind == "CustomResourceDefinition":
        return [_NAME_COL, _col("Created At", "date")]
    if kind == "Node":
        return [
            _NAME_COL,
            _col("Status"),
            _col("Roles"),
            _AGE_COL,
            _col("Version"),
            *(
                _col(n, priority=1)
                for n in (
                    "Internal-IP",
                    "External-IP",
                    "OS-Image",
                    "Kernel-Version",
                    "Container-Runtime",
                )
            ),
        ]
    if kind == "Endpoints":
        return [_NAME_COL, _col("Endpoints"), _AGE_COL]
    return [_NAME_COL, _AGE_COL]


def table_row(rt: ResourceType, obj: dict[str, Any], now: datetime) -> list[Any]:
    """Cells of one object, matching table_columns(rt)."""
    meta = obj.get("metadata") or {}
    name = meta.get("name", "")
    created = age(meta.get("creationTimestamp"), now)
    raw_spec, raw_status = obj.get("spec"), obj.get("status")
    spec: dict[str, Any] = raw_spec if isinstance(raw_spec, dict) else {}
    status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
    if rt.custom:
        if not rt.printer_columns:
            return [name, created]
        return [name] + [
            _cell_for(str(c.get("type", "string")), jsonpath(obj, str(c.get("jsonPath", ""))), now)
            for c in rt.printer_columns
        ]
    kind = rt.kind
    if kind == "Pod":
        return _pod_row(obj, now)
    if kind == "Deployment":
        return [
            name,
            f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            status.get("updatedReplicas", 0),
            status.get("availableReplicas", 0),
            created,
            *_workload_wide(spec),
        ]
    if kind == "ReplicaSet":
        return [
            name,
            spec.get("replicas", 0),
            status.get("replicas", 0),
            status.get("readyReplicas", 0),
            created,
            *_workload_wide(spec),
        ]
    if kind == "Service":
        selector = ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items())
        external = ",".join(spec.get("externalIPs") or []) or (
            "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"
        )
        return [
            name,
            spec.get("type", "ClusterIP"),
            spec.get("clusterIP") or "<none>",
            external,
            _ports(spec.get("ports")),
            created,
            selector or "<none>",
        ]
    if kind == "Job":
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        state = "Running"
        if conds.get("Complete") == "True":
            state = "Complete"
        elif conds.get("Failed") == "True":
            state = "Failed"
        elif spec.get("suspend"):
            state = "Suspended"
        start, end = _parse_time(status.get("startTime")), _parse_time(status.get("completionTime"))
        duration = human_duration(((end or now) - start).total_seconds()) if start else ""
        return [
            name,
            state,
            f"{status.get('succeeded', 0)}/{spec.get('completions', 1)}",
            duration,
            created,
            *_workload_wide(spec),
        ]
    if kind == "Event" and rt.group == "":
        return _event_row(obj, now)
    if kind == "Namespace":
        return [name, status.get("phase", "Active"), created]
    if kind == "ConfigMap":
        return [name, len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), created]
    if kind == "Secret":
        return [name, obj.get("type", "Opaque"), len(obj.get("data") or {}), created]
    if kind == "EndpointSlice":
        ports = ",".join(str(p.get("port")) for p in obj.get("ports") or []) or "<unset>"
        addrs = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
        return [name, obj.get("addressType", ""), ports, ",".join(addrs) or "<unset>", created]
    if kind == "Lease":
        return [name, spec.get("holderIdentity") or "", created]
    if kind == "PodDisruptionBudget":
        return [
            name,
            str(spec.get("minAvailable", "N/A")),
            str(spec.get("maxUnavailable", "N/A")),
            status.get("disruptionsAllowed", 0),
            created,
        ]
    if kind == "CustomResourceDefinition":
        return [name, meta.get("creationTimestamp")]
    if kind == "Node":
        return _node_row(obj, created)
    if kind == "Endpoints":
        return [name, _endpoints(obj), created]
    return [name, created]


# printers.go: the `-o wide` columns of workloads (printDeployment, printReplicaSet, printJob).
_WORKLOAD_WIDE = [
    _col("Containers", priority=1, description="Names of each container in the template."),
    _col("Images", priority=1, description="Images referenced by each container in the template."),
    _col("Selector", priority=1, description="A label query over pods."),
]


def _format_selector(sel: Any) -> str:
    """metav1.FormatLabelSelector: requirements sorted by key, `<none>` when empty."""
    if not isinstance(sel, dict):
        return "<none>"
    parts = [(k, f"{k}={v}") for k, v in (sel.get("matchLabels") or {}).items()]
    for expr in sel.get("matchExpressions") or []:
        key, op = str(expr.get("key", "")), expr.get("operator")
        values = ",".join(sorted(str(v) for v in expr.get("values") or []))
        text = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(str(op))
        if text is not None:
            parts.append((key, text))
    return ",".join(text for _, text in sorted(parts)) or "<none>"


def _workload_wide(spec: dict[str, Any]) -> list[str]:
    pod_spec = ((spec.get("template") or {}).get("spec")) or {}
    containers = [c for c in pod_spec.get("containers") or [] if isinstance(c, dict)]
    return [
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
        _format_selector(spec.get("selector")),
    ]


def _node_row(obj: dict[str, Any], created: str) -> list[Any]:
    """printNode: status (with SchedulingDisabled), roles from node-role labels, and the wide
    columns from status.addresses and status.nodeInfo."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    ready = {"True": "Ready", "False": "NotReady"}.get(conds.get("Ready") or "", "Unknown")
    if spec.get("unschedulable"):
        ready += ",SchedulingDisabled"
    labels = meta.get("labels") or {}
    roles = sorted(
        {k.partition("/")[2] for k in labels if k.startswith("node-role.kubernetes.io/")}
        | ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role") else set()) - {""}
    )
    info = status.get("nodeInfo") or {}
    addresses = status.get("addresses") or []

    def address(type_: str) -> str:
        return next((a["address"] for a in addresses if a.get("type") == type_), "<none>")

    return [
        meta.get("name", ""),
        ready,
        ",".join(roles) or "<none>",
        created,
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _endpoints(obj: dict[str, Any]) -> str:
    """formatEndpoints: up to three ip:port, then `+ N more...`; `<none>` without any."""
    shown: list[str] = []
    count = 0
    for subset in obj.get("subsets") or []:
        addresses = [a.get("ip", "") for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        pairs = (
            [(ip, None) for ip in addresses]
            if not ports
            else [(ip, p.get("port")) for p in ports for ip in addresses]
        )
        count += len(pairs)
        for ip, port in pairs:
            if len(shown) < 3:
                shown.append(
                    ip if port is None else (f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}")
                )
    text = ",".join(shown)
    if count > 3:
        return f"{text} + {count - 3} more..."
    return text or "<none>"


# ---------------------------------------------------------------------------------------------
# Unknown fields of built-in kinds. The real server decodes into Go structs: unknown fields are
# dropped (fieldValidation Ignore), dropped with a warning (Warn, the default) or refused with
# 400 (Strict, what kubectl sends). The fields come from kube-apiserver's OpenAPI definitions
# (builtin_schemas.py), which mirror the Go types.
#
# A type is described by a string: a definition's name, or "[]" / "{}" before the
# description of a list's items / a map's values; None for what has no fields (scalars,
# quantities, raw extensions).


def _describe(schema: dict[str, Any]) -> str | None:
    name = ref_name(schema)
    if name is not None:
        return name
    t = schema_type(schema)
    if t == "array" and isinstance(schema.get("items"), dict):
        inner = _describe(schema["items"])
        return None if inner is None else "[]" + inner
    if t == "object" and isinstance(schema.get("additionalProperties"), dict):
        inner = _describe(schema["additionalProperties"])
        return None if inner is None else "{}" + inner
    return None


# A type's walk, compiled once: None (nothing to check), ("list", inner), ("map", inner) or
# ("model", {json field: its type or None}); a model's fields refer to their own walks lazily.
_Walk = tuple[str, Any] | None
_WALKS: dict[str, _Walk] = {}


def _walk_of(type_: str) -> _Walk:
    if type_ in _WALKS:
        return _WALKS[type_]
    walk: _Walk = None
    if type_.startswith("[]"):
        walk = ("list", type_[2:])
    elif type_.startswith("{}"):
        walk = ("map", type_[2:])
    else:
        properties = (definitions().get(type_) or {}).get("properties")
        if isinstance(properties, dict):
            walk = ("model", {k: _describe(v) for k, v in properties.items()})
    _WALKS[type_] = walk
    return walk


def _walk_unknown(value: Any, type_: str, path: str, out: list[str]) -> None:
    """Paths are only spelled out for what is walked into (most fields are scalars)."""
    walk = _walk_of(type_)
    if walk is None or value is None:
        return
    kind, arg = walk
    if kind == "list":
        if type(value) is list:
            for i, item in enumerate(value):
                if item is not None:
                    _walk_unknown(item, arg, f"{path}[{i}]", out)
        return
    if type(value) is not dict:
        return
    if kind == "map":
        for k, item in value.items():
            if item is not None:
                _walk_unknown(item, arg, f"{path}.{k}" if path else k, out)
        return
    unknown = None
    for key, item in value.items():
        if key not in arg:
            if unknown is None:
                unknown = []
            unknown.append(key)
            out.append(f"{path}.{key}" if path else key)
            continue
        t = arg[key]
        if t is not None and item is not None:
            _walk_unknown(item, t, f"{path}.{key}" if path else key, out)
    if unknown:
        for key in unknown:
            del value[key]


def _has_unknown(value: Any, type_: str) -> bool:
    """Whether _walk_unknown would find anything: the same walk, without paths or changes
    (nearly every body has no unknown field, and then builds no path strings)."""
    walk = _walk_of(type_)
    if walk is None or value is None:
        return False
    kind, arg = walk
    if kind == "list":
        if type(value) is list:
            for item in value:
                if item is not None and _has_unknown(item, arg):
                    return True
        return False
    if type(value) is not dict:
        return False
    if kind == "map":
        return any(item is not None and _has_unknown(item, arg) for item in value.values())
    for key, item in value.items():
        t = arg.get(key, _UNKNOWN)
        if t is _UNKNOWN:
            return True
        if t is not None and item is not None and _has_unknown(item, t):
            return True
    return False


_UNKNOWN = "?"


def prune_unknown_builtin(rt: ResourceType, obj: dict[str, Any]) -> list[str]:
    """Drop fields the built-in kind does not have (in place); return their paths."""
    if rt.custom:
        return []
    found: list[str] = []
    model = stored_definition(rt)
    if model is None or not _has_unknown(obj, model):
        return found
    _walk_unknown(obj, model, "", found)
    return found
