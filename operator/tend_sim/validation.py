"""Validation of the built-in kinds the simulated API server serves.

Mirrors `k8s.io/kubernetes/pkg/apis/*/validation` and apimachinery's ObjectMeta validation for
the fields tend and kopf send: field paths and messages are the API server's, so a test that sees
a 422 here would see the same 422 from a real cluster. Validation runs on the object after the
server's defaulting (e.g. a missing pod restartPolicy is Always, a missing Service type ClusterIP).
It is not a full port of Kubernetes validation: fields nobody sends us are not checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tend_sim import container_validation
from tend_sim.errors import Cause
from tend_sim.schema import (
    duplicate,
    forbidden,
    go_quote,
    invalid,
    not_supported,
    required,
    too_long,
)

Obj = dict[str, Any]

DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = DNS1123_LABEL + r"(\." + DNS1123_LABEL + ")*"
DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE = "(" + QUALIFIED_NAME + ")?"
CONFIG_KEY = "[-._a-zA-Z0-9]+"
IANA_SVC_NAME = "[a-z0-9]([a-z0-9-]*[a-z0-9])*"

_RE = {
    k: re.compile(f"^{v}$")
    for k, v in {
        "label": DNS1123_LABEL,
        "subdomain": DNS1123_SUBDOMAIN,
        "dns1035": DNS1035_LABEL,
        "qualified": QUALIFIED_NAME,
        "value": LABEL_VALUE,
        "config": CONFIG_KEY,
        "iana": IANA_SVC_NAME,
    }.items()
}

MSG_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    f"regex used for validation is '{DNS1123_LABEL}')"
)
MSG_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    f"for validation is '{DNS1123_SUBDOMAIN}')"
)
MSG_DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    f"'abc-123', regex used for validation is '{DNS1035_LABEL}')"
)
MSG_QUALIFIED = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    f"validation is '{QUALIFIED_NAME}')"
)
MSG_LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    f"'my_value',  or '12345', regex used for validation is '{LABEL_VALUE}')"
)
MSG_CONFIG_KEY = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    f"'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '{CONFIG_KEY}')"
)
MSG_PORT = "must be between 1 and 65535, inclusive"
MSG_PERCENT = (
    "a valid percent string must be a numeric string followed by an ending '%' "
    "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
)
MSG_IMMUTABLE = "field is immutable"
MSG_NON_NEGATIVE = "must be greater than or equal to 0"
TOTAL_ANNOTATION_SIZE = 256 * 1024
MAX_CONFIG_SIZE = 1024 * 1024
RESTART_POLICIES = ["Always", "OnFailure", "Never"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]


def _too_long_msg(n: int) -> str:
    return f"must be no more than {n} characters"


def is_dns1123_label(v: str) -> list[str]:
    errs = [_too_long_msg(63)] if len(v) > 63 else []
    return errs if _RE["label"].match(v) else [*errs, MSG_LABEL]


def is_dns1123_subdomain(v: str) -> list[str]:
    errs = [_too_long_msg(253)] if len(v) > 253 else []
    return errs if _RE["subdomain"].match(v) else [*errs, MSG_SUBDOMAIN]


def is_dns1035_label(v: str) -> list[str]:
    errs = [_too_long_msg(63)] if len(v) > 63 else []
    return errs if _RE["dns1035"].match(v) else [*errs, MSG_DNS1035]


def is_qualified_name(v: str) -> list[str]:
    prefix, sep, name = v.rpartition("/")
    errs: list[str] = []
    if sep and not prefix:
        errs.append("prefix part must be non-empty")
    elif sep:
        errs += ["prefix part " + m for m in is_dns1123_subdomain(prefix)]
    if not name:
        return [*errs, "name part must be non-empty"]
    if len(name) > 63:
        errs.append("name part " + _too_long_msg(63))
    if not _RE["qualified"].match(name):
        errs.append(MSG_QUALIFIED)
    return errs


def is_label_value(v: str) -> list[str]:
    errs = [_too_long_msg(63)] if len(v) > 63 else []
    return errs if _RE["value"].match(v) else [*errs, MSG_LABEL_VALUE]


def is_port_name(v: str) -> list[str]:
    errs = []
    if len(v) > 15:
        errs.append(_too_long_msg(15))
    if not _RE["iana"].match(v):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in v:
        errs.append("must not contain consecutive hyphens")
    if not re.search("[a-z]", v):
        errs.append("must contain at least one letter (a-z)")
    return errs


def _port_ok(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 65535


NameCheck = Callable[[str], list[str]]


# --- ObjectMeta ----------------------------------------------------------------------------------


def validate_object_meta(
    obj: Obj, *, namespaced: bool = True, name_check: NameCheck = is_dns1123_subdomain
) -> list[Cause]:
    """apimachinery ValidateObjectMeta: name, namespace, labels, annotations, owners, finalizers."""
    meta = obj.get("metadata") or {}
    causes: list[Cause] = []
    name = meta.get("name", "")
    generate = meta.get("generateName", "")
    if generate:
        causes += [
            invalid("metadata.generateName", generate, m) for m in name_check(generate.rstrip("-"))
        ]
    if not name and not generate:
        causes.append(required("metadata.name", "name or generateName is required"))
    elif name:
        causes += [invalid("metadata.name", name, m) for m in name_check(name)]
    ns = meta.get("namespace", "")
    if namespaced:
        if not ns:
            causes.append(required("metadata.namespace"))
        else:
            causes += [invalid("metadata.namespace", ns, m) for m in is_dns1123_label(ns)]
    elif ns:
        causes.append(forbidden("metadata.namespace", "not allowed on this type"))
    causes += validate_labels(meta.get("labels") or {}, "metadata.labels")
    annotations = meta.get("annotations") or {}
    for k in annotations:
        causes += [invalid("metadata.annotations", k, m) for m in is_qualified_name(k.lower())]
    if sum(len(k) + len(str(v)) for k, v in annotations.items()) > TOTAL_ANNOTATION_SIZE:
        causes.append(too_long("metadata.annotations", TOTAL_ANNOTATION_SIZE))
    causes += _owner_references(meta.get("ownerReferences") or [])
    for i, f in enumerate(meta.get("finalizers") or []):
        path = f"metadata.finalizers[{i}]"
        causes += [invalid(path, f, m) for m in is_qualified_name(f)]
    return causes


def validate_labels(labels: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for k, v in labels.items():
        causes += [invalid(path, k, m) for m in is_qualified_name(k)]
        if not isinstance(v, str):
            causes.append(invalid(path, v, "must be a string"))
            continue
        causes += [invalid(path, v, m) for m in is_label_value(v)]
    return causes


def _owner_references(refs: list[Obj]) -> list[Cause]:
    causes: list[Cause] = []
    controllers = []
    for i, ref in enumerate(refs):
        path = f"metadata.ownerReferences[{i}]"
        if not ref.get("apiVersion"):
            causes.append(invalid(f"{path}.apiVersion", "", "version must not be empty"))
        if not ref.get("kind"):
            causes.append(invalid(f"{path}.kind", "", "kind must not be empty"))
        if not ref.get("name"):
            causes.append(invalid(f"{path}.name", "", "name must not be empty"))
        if not ref.get("uid"):
            causes.append(invalid(f"{path}.uid", "", "uid must not be empty"))
        if ref.get("controller"):
            controllers.append(f"{ref.get('kind')}/{ref.get('name')}")
    if len(controllers) > 1:
        detail = (
            'Only one reference can have Controller set to true. Found "true" in references for '
            + " and ".join(controllers)
        )
        causes.append(invalid("metadata.ownerReferences", refs, detail, omit=True))
    return causes


def _meta_update(obj: Obj, old: Obj) -> list[Cause]:
    causes = []
    for k in ("name", "namespace", "uid"):
        new_v, old_v = obj.get("metadata", {}).get(k), old.get("metadata", {}).get(k)
        if old_v and new_v != old_v:
            causes.append(invalid(f"metadata.{k}", new_v or "", MSG_IMMUTABLE))
    return causes


# --- label selectors -----------------------------------------------------------------------------


def validate_label_selector(sel: Obj, path: str) -> list[Cause]:
    causes = validate_labels(sel.get("matchLabels") or {}, f"{path}.matchLabels")
    for i, expr in enumerate(sel.get("matchExpressions") or []):
        p = f"{path}.matchExpressions[{i}]"
        op, values = expr.get("operator"), expr.get("values") or []
        if op in ("In", "NotIn") and not values:
            causes.append(
                required(f"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'")
            )
        elif op in ("Exists", "DoesNotExist") and values:
            causes.append(
                forbidden(
                    f"{p}.values",
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )
        elif op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            causes.append(invalid(f"{p}.operator", op, "not a valid selector operator"))
        causes += [
            invalid(f"{p}.key", expr.get("key", ""), m)
            for m in is_qualified_name(expr.get("key", ""))
        ]
    return causes


def selector_matches(sel: Obj, labels: dict[str, str]) -> bool:
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if (
            (op == "In" and (not present or labels[key] not in values))
            or (op == "NotIn" and present and labels[key] in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def _go_string_map(m: dict[str, Any]) -> str:
    inner = ", ".join(f"{go_quote(k)}:{go_quote(str(m[k]))}" for k in sorted(m))
    return "map[string]string{" + inner + "}"


# --- Pod -----------------------------------------------------------------------------------------


def _probe(probe: Obj, path: str, liveness_like: bool) -> list[Cause]:
    handlers = [h for h in ("exec", "httpGet", "tcpSocket", "grpc") if h in probe]
    causes: list[Cause] = []
    if not handlers:
        causes.append(required(path, "must specify a handler type"))
    elif len(handlers) > 1:
        causes.append(
            forbidden(f"{path}.{handlers[1]}", "may not specify more than 1 handler type")
        )
    for key in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        v = probe.get(key)
        if isinstance(v, int) and v < 0:
            causes.append(invalid(f"{path}.{key}", v, MSG_NON_NEGATIVE))
    grace = probe.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace <= 0:
        causes.append(
            invalid(f"{path}.terminationGracePeriodSeconds", grace, "must be greater than 0")
        )
    if liveness_like and probe.get("successThreshold", 1) != 1:
        causes.append(invalid(f"{path}.successThreshold", probe["successThreshold"], "must be 1"))
    for handler in ("httpGet", "tcpSocket", "grpc"):
        port = (probe.get(handler) or {}).get("port")
        if port is None and handler in probe:
            causes.append(required(f"{path}.{handler}.port"))
        elif isinstance(port, int) and not _port_ok(port):
            causes.append(invalid(f"{path}.{handler}.port", port, MSG_PORT))
        elif isinstance(port, str) and handler != "grpc":
            causes += [invalid(f"{path}.{handler}.port", port, m) for m in is_port_name(port)]
    return causes


def _container(c: Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    name = c.get("name", "")
    if not name:
        causes.append(required(f"{path}.name"))
    else:
        causes += [invalid(f"{path}.name", name, m) for m in is_dns1123_label(name)]
    if not c.get("image"):
        causes.append(required(f"{path}.image"))
    seen_ports: set[str] = set()
    for i, port in enumerate(c.get("ports") or []):
        p = f"{path}.ports[{i}]"
        cp = port.get("containerPort", 0)
        if not cp:
            causes.append(required(f"{p}.containerPort"))
        elif not _port_ok(cp):
            causes.append(invalid(f"{p}.containerPort", cp, MSG_PORT))
        if port.get("name"):
            causes += [invalid(f"{p}.name", port["name"], m) for m in is_port_name(port["name"])]
            if port["name"] in seen_ports:
                causes.append(duplicate(f"{p}.name", port["name"]))
            seen_ports.add(port["name"])
        if port.get("protocol", "TCP") not in PROTOCOLS:
            causes.append(not_supported(f"{p}.protocol", port["protocol"], PROTOCOLS))
    causes += container_validation.env(c.get("env") or [], f"{path}.env")
    if isinstance(c.get("resources"), dict):
        causes += container_validation.resources(c["resources"], f"{path}.resources")
    if isinstance(c.get("securityContext"), dict):
        sc_path = f"{path}.securityContext"
        causes += container_validation.security_context(c["securityContext"], sc_path, False)
    for kind, liveness_like in (
        ("livenessProbe", True),
        ("readinessProbe", False),
        ("startupProbe", True),
    ):
        if c.get(kind) is not None:
            causes += _probe(c[kind], f"{path}.{kind}", liveness_like)
    return causes


def validate_pod_spec(spec: Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    containers = spec.get("containers") or []
    if not containers:
        causes.append(required(f"{path}.containers"))
    names: set[str] = set()
    for group in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(group) or []):
            p = f"{path}.{group}[{i}]"
            causes += _container(c, p)
            if c.get("name") in names:
                causes.append(duplicate(f"{p}.name", c["name"]))
            names.add(c.get("name", ""))
    policy = spec.get("restartPolicy", "Always")
    if policy not in RESTART_POLICIES:
        causes.append(not_supported(f"{path}.restartPolicy", policy, RESTART_POLICIES))
    if isinstance(spec.get("securityContext"), dict):
        causes += container_validation.security_context(
            spec["securityContext"], f"{path}.securityContext", True
        )
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        causes.append(invalid(f"{path}.terminationGracePeriodSeconds", grace, MSG_NON_NEGATIVE))
    vol_names: set[str] = set()
    for i, vol in enumerate(spec.get("volumes") or []):
        vname = vol.get("name", "")
        if not vname:
            causes.append(required(f"{path}.volumes[{i}].name"))
        elif vname in vol_names:
            causes.append(duplicate(f"{path}.volumes[{i}].name", vname))
        vol_names.add(vname)
    return causes


def _pod(obj: Obj, old: Obj | None) -> list[Cause]:
    return validate_pod_spec(obj.get("spec") or {}, "spec")


def _template(spec: Obj, path: str) -> tuple[list[Cause], Obj]:
    template = spec.get("template") or {}
    if not template:
        return [required(path)], {}
    meta = template.get("metadata") or {}
    causes = validate_labels(meta.get("labels") or {}, f"{path}.metadata.labels")
    causes += validate_pod_spec(template.get("spec") or {}, f"{path}.spec")
    return causes, template


# --- workloads -----------------------------------------------------------------------------------


def _non_negative(spec: Obj, keys: tuple[str, ...]) -> list[Cause]:
    return [
        invalid(f"spec.{k}", spec[k], MSG_NON_NEGATIVE)
        for k in keys
        if isinstance(spec.get(k), int) and spec[k] < 0
    ]


def _replicated(obj: Obj, old: Obj | None, kind: str) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes = _non_negative(spec, ("replicas", "minReadySeconds", "revisionHistoryLimit"))
    selector = spec.get("selector")
    if selector is None:
        causes.append(required("spec.selector"))
    else:
        causes += validate_label_selector(selector, "spec.selector")
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            causes.append(
                invalid(
                    "spec.selector", selector, f"empty selector is invalid for {kind}", omit=True
                )
            )
    template_causes, template = _template(spec, "spec.template")
    causes += template_causes
    labels = (template.get("metadata") or {}).get("labels") or {}
    if template and selector and not selector_matches(selector, labels):
        detail = "`selector` does not match template `labels`"
        causes.append(invalid("spec.template.metadata.labels", None, detail, omit=True))
        causes[-1].message = f"Invalid value: {_go_string_map(labels)}: {detail}"
    policy = (template.get("spec") or {}).get("restartPolicy", "Always")
    if template and policy != "Always":
        causes.append(not_supported("spec.template.spec.restartPolicy", policy, ["Always"]))
    if old is not None and (old.get("spec") or {}).get("selector") != selector:
        causes.append(invalid("spec.selector", selector, MSG_IMMUTABLE, omit=True))
    return causes


def _deployment(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = _replicated(obj, old, "deployment")
    spec = obj.get("spec") or {}
    strategy = spec.get("strategy") or {}
    stype = strategy.get("type", "RollingUpdate")
    if stype not in ("Recreate", "RollingUpdate"):
        causes.append(not_supported("spec.strategy.type", stype, ["Recreate", "RollingUpdate"]))
    elif stype == "Recreate" and strategy.get("rollingUpdate") is not None:
        causes.append(
            forbidden(
                "spec.strategy.rollingUpdate",
                "may not be specified when strategy `type` is 'Recreate'",
            )
        )
    rolling = strategy.get("rollingUpdate") or {}
    surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable")
    for key, value in (("maxSurge", surge), ("maxUnavailable", unavailable)):
        p = f"spec.strategy.rollingUpdate.{key}"
        if isinstance(value, int) and value < 0:
            causes.append(invalid(p, value, MSG_NON_NEGATIVE))
        elif isinstance(value, str) and not re.fullmatch(r"\d+%", value):
            causes.append(
                invalid(
                    p,
                    value,
                    MSG_PERCENT,
                )
            )
    if surge in (0, "0%") and unavailable in (0, "0%"):
        causes.append(
            invalid(
                "spec.strategy.rollingUpdate.maxUnavailable",
                unavailable,
                "may not be 0 when `maxSurge` is 0",
            )
        )
    pds = spec.get("progressDeadlineSeconds")
    if (
        isinstance(pds, int)
        and isinstance(spec.get("minReadySeconds"), int)
        and pds <= spec["minReadySeconds"]
    ):
        causes.append(
            invalid("spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds")
        )
    return causes


def _replicaset(obj: Obj, old: Obj | None) -> list[Cause]:
    return _replicated(obj, old, "replicaset")


def _job(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes = _non_negative(
        spec, ("parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished")
    )
    ads = spec.get("activeDeadlineSeconds")
    if isinstance(ads, int) and ads <= 0:
        causes.append(invalid("spec.activeDeadlineSeconds", ads, "must be greater than 0"))
    if spec.get("selector") is not None:
        causes += validate_label_selector(spec["selector"], "spec.selector")
    template_causes, template = _template(spec, "spec.template")
    causes += template_causes
    policy = (template.get("spec") or {}).get("restartPolicy", "Always")
    if template and policy not in ("OnFailure", "Never"):
        causes.append(
            not_supported("spec.template.spec.restartPolicy", policy, ["OnFailure", "Never"])
        )
    if old is not None:
        old_spec = old.get("spec") or {}
        if old_spec.get("selector") != spec.get("selector"):
            causes.append(invalid("spec.selector", spec.get("selector"), MSG_IMMUTABLE, omit=True))
        if old_spec.get("template") != spec.get("template") and not spec.get("suspend"):
            causes.append(invalid("spec.template", spec.get("template"), MSG_IMMUTABLE, omit=True))
        if old_spec.get("completions") != spec.get("completions"):
            causes.append(invalid("spec.completions", spec.get("completions"), MSG_IMMUTABLE))
    return causes


# --- networking ----------------------------------------------------------------------------------

SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]


def _service(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    stype = spec.get("type", "ClusterIP")
    if stype not in SERVICE_TYPES:
        causes.append(not_supported("spec.type", stype, SERVICE_TYPES))
    ports = spec.get("ports") or []
    if not ports and stype != "ExternalName" and spec.get("clusterIP") != "None":
        causes.append(required("spec.ports"))
    names: set[str] = set()
    keys: set[tuple[Any, str]] = set()
    for i, port in enumerate(ports):
        p = f"spec.ports[{i}]"
        name = port.get("name", "")
        if len(ports) > 1 and not name:
            causes.append(required(f"{p}.name"))
        elif name:
            causes += [invalid(f"{p}.name", name, m) for m in is_dns1123_label(name)]
            if name in names:
                causes.append(duplicate(f"{p}.name", name))
            names.add(name)
        number = port.get("port", 0)
        if not _port_ok(number):
            causes.append(invalid(f"{p}.port", number, MSG_PORT))
        protocol = port.get("protocol", "TCP")
        if protocol not in PROTOCOLS:
            causes.append(not_supported(f"{p}.protocol", protocol, PROTOCOLS))
        if (number, protocol) in keys:
            causes.append(duplicate(p, {"port": number, "protocol": protocol}))
        keys.add((number, protocol))
        node_port = port.get("nodePort")
        if node_port and stype == "ClusterIP":
            causes.append(forbidden(f"{p}.nodePort", "may not be used when `type` is 'ClusterIP'"))
        target = port.get("targetPort")
        if isinstance(target, int) and not _port_ok(target):
            causes.append(invalid(f"{p}.targetPort", target, MSG_PORT))
        elif isinstance(target, str):
            causes += [invalid(f"{p}.targetPort", target, m) for m in is_port_name(target)]
    causes += validate_labels(spec.get("selector") or {}, "spec.selector")
    if old is not None:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        if old_ip and spec.get("clusterIP") != old_ip:
            causes.append(invalid("spec.clusterIP", spec.get("clusterIP", ""), MSG_IMMUTABLE))
    return causes


def _endpointslice(obj: Obj, old: Obj | None) -> list[Cause]:
    types = ["FQDN", "IPv4", "IPv6"]
    address_type = obj.get("addressType")
    causes: list[Cause] = []
    if not address_type:
        causes.append(required("addressType"))
    elif address_type not in types:
        causes.append(not_supported("addressType", address_type, types))
    for i, ep in enumerate(obj.get("endpoints") or []):
        if not ep.get("addresses"):
            causes.append(required(f"endpoints[{i}].addresses", "must contain at least 1 address"))
    for i, port in enumerate(obj.get("ports") or []):
        number = port.get("port")
        if number is not None and not _port_ok(number):
            causes.append(invalid(f"ports[{i}].port", number, MSG_PORT))
    if old is not None and old.get("addressType") != address_type:
        causes.append(invalid("addressType", address_type, MSG_IMMUTABLE))
    return causes


def _pdb(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        causes.append(
            invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set", omit=True)
        )
    for key in ("minAvailable", "maxUnavailable"):
        value = spec.get(key)
        if isinstance(value, int) and value < 0:
            causes.append(invalid(f"spec.{key}", value, MSG_NON_NEGATIVE))
    if spec.get("selector") is not None:
        causes += validate_label_selector(spec["selector"], "spec.selector")
    return causes


# --- coordination, events, config ----------------------------------------------------------------


def _lease(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        causes.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if isinstance(transitions, int) and transitions < 0:
        causes.append(invalid("spec.leaseTransitions", transitions, MSG_NON_NEGATIVE))
    return causes


def _event(obj: Obj, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    ns = (obj.get("metadata") or {}).get("namespace", "")
    if "regarding" in obj or "reportingController" in obj:  # events.k8s.io/v1
        for key in ("reportingController", "reportingInstance", "action", "reason"):
            if not obj.get(key):
                causes.append(required(key))
        if obj.get("type") not in ("Normal", "Warning"):
            causes.append(not_supported("type", obj.get("type", ""), ["Normal", "Warning"]))
        involved_ns = (obj.get("regarding") or {}).get("namespace", "")
        path = "regarding.namespace"
    else:
        involved_ns = (obj.get("involvedObject") or {}).get("namespace", "")
        path = "involvedObject.namespace"
        event_type = obj.get("type")
        if event_type and event_type not in ("Normal", "Warning") and obj.get("reportingComponent"):
            causes.append(not_supported("type", event_type, ["Normal", "Warning"]))
    if involved_ns and ns and involved_ns != ns:
        causes.append(invalid(path, involved_ns, "does not match event.namespace"))
    return causes


def _config_keys(obj: Obj, sections: tuple[str, str]) -> list[Cause]:
    causes: list[Cause] = []
    first, second = (obj.get(s) or {} for s in sections)
    for section, data in zip(sections, (first, second), strict=True):
        for key in data:
            path = f"{section}[{key}]"
            errs = [MSG_CONFIG_KEY] if not _RE["config"].match(key) else []
            if len(key) > 253:
                errs.append(_too_long_msg(253))
            if key in (".", "..") or key.startswith(".."):
                errs.append(
                    "must not be '.' or '..'" if key in (".", "..") else "must not start with '..'"
                )
            causes += [invalid(path, key, m) for m in errs]
    for key in set(first) & set(second):
        causes.append(
            invalid(f"{sections[0]}[{key}]", key, f"duplicate of key present in {sections[1]}")
        )
    size = sum(len(k) + len(str(v)) for d in (first, second) for k, v in d.items())
    if size > MAX_CONFIG_SIZE:
        causes.append(too_long("", MAX_CONFIG_SIZE))
    return causes


def _configmap(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = _config_keys(obj, ("data", "binaryData"))
    if (
        old is not None
        and old.get("immutable")
        and (old.get("data") != obj.get("data") or old.get("binaryData") != obj.get("binaryData"))
    ):
        causes.append(forbidden("data", "field is immutable when `immutable` is set"))
    return causes


def _secret(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = _config_keys(obj, ("data", "stringData"))
    if old is not None and old.get("type", "Opaque") != obj.get("type", "Opaque"):
        causes.append(invalid("type", obj.get("type", ""), MSG_IMMUTABLE))
    return causes


def _namespace(obj: Obj, old: Obj | None) -> list[Cause]:
    return []


# kind -> (validator, namespaced, name check)
KINDS: dict[str, tuple[Callable[[Obj, Obj | None], list[Cause]], bool, NameCheck]] = {
    "Pod": (_pod, True, is_dns1123_subdomain),
    "Deployment": (_deployment, True, is_dns1123_subdomain),
    "ReplicaSet": (_replicaset, True, is_dns1123_subdomain),
    "Job": (_job, True, is_dns1123_subdomain),
    "Service": (_service, True, is_dns1035_label),
    "EndpointSlice": (_endpointslice, True, is_dns1123_subdomain),
    "PodDisruptionBudget": (_pdb, True, is_dns1123_subdomain),
    "Lease": (_lease, True, is_dns1123_subdomain),
    "Event": (_event, True, is_dns1123_subdomain),
    "ConfigMap": (_configmap, True, is_dns1123_subdomain),
    "Secret": (_secret, True, is_dns1123_subdomain),
    "Namespace": (_namespace, False, is_dns1123_label),
}


def validate_builtin(kind: str, obj: Obj, old: Obj | None = None) -> list[Cause]:
    """Causes for a 422 Invalid on create (old None) or update of a built-in kind.

    Unknown kinds get only the generic ObjectMeta checks (namespaced, DNS-1123 subdomain name).
    """
    check, namespaced, name_check = KINDS.get(kind, (None, True, is_dns1123_subdomain))
    causes = validate_object_meta(obj, namespaced=namespaced, name_check=name_check)
    if old is not None:
        causes += _meta_update(obj, old)
    if check is not None:
        causes += check(obj, old)
    return causes
