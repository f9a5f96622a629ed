"""ValidatePodSpec's checks of container fields that take bounded values
(pkg/apis/core/validation/validation.go), with its field paths and messages:

- resources (ValidateContainerResourceRequirements): a quantity below 0, a request above its
  limit, an extended resource whose request is not its limit or not whole, a container
  resource name that is not standard;
- env (ValidateEnv, validateObjectFieldSelector): names under the relaxed rule of 1.34+
  (printable ASCII but '='), fieldRef.fieldPath among the downward API's fields;
- security contexts (IsValidUserID/IsValidGroupID): runAsUser, runAsGroup, fsGroup,
  supplementalGroups within 0..2147483647.
"""

from __future__ import annotations

import re
from typing import Any

from tend_sim.errors import Cause
from tend_sim.quantity import QuantityError, parse_quantity, quantity_text
from tend_sim.schema import invalid, not_supported, required

Obj = dict[str, Any]

MSG_NEGATIVE = "must be greater than or equal to 0"
MSG_ID_RANGE = "must be between 0 and 2147483647, inclusive"
MSG_ENV_NAME = (
    "a valid environment variable name must consist only of printable ASCII characters "
    "other than '='"
)
MAX_ID = 2147483647
ENV_FIELD_PATHS = sorted(
    [
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "spec.nodeName",
        "spec.serviceAccountName",
        "status.hostIP",
        "status.hostIPs",
        "status.podIP",
        "status.podIPs",
    ]
)
# podshelper.ConvertDownwardAPIFieldLabel: the labels v1 pods convert.
_CONVERTIBLE = {
    *ENV_FIELD_PATHS,
    "metadata.annotations",
    "metadata.labels",
    "spec.restartPolicy",
    "spec.schedulerName",
    "status.phase",
}
_SUBSCRIPTED = re.compile(r"^(.*)\['(.*)'\]$")
_STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")


def _native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _standard(name: str) -> bool:
    return name in _STANDARD_CONTAINER_RESOURCES or name.startswith("hugepages-")


def _overcommit_allowed(name: str) -> bool:
    return _native(name) and not name.startswith("hugepages-")


def _quantity(value: Any) -> Any:
    try:
        return parse_quantity(quantity_text(value))
    except QuantityError:
        return None  # decoding refuses it before validation runs


def resources(res: Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    limits = res.get("limits") or {}
    requests = res.get("requests") or {}
    parsed_limits = {}
    for section, values in (("limits", limits), ("requests", requests)):
        for name, value in values.items():
            p = f"{path}.{section}[{name}]"
            if "/" not in name and not _standard(name):
                causes.append(invalid(p, name, "must be a standard resource for containers"))
            q = _quantity(value)
            if q is None:
                continue
            if q.value < 0:
                causes.append(invalid(p, q.canonical, MSG_NEGATIVE))
            if not _native(name) and q.value != q.value.to_integral_value():
                causes.append(invalid(p, q.canonical, "must be an integer"))
            if section == "limits":
                parsed_limits[name] = q
    for name, value in requests.items():
        q = _quantity(value)
        if q is None:
            continue
        limit = parsed_limits.get(name)
        if limit is not None:
            if q.value != limit.value and not _overcommit_allowed(name):
                causes.append(
                    invalid(
                        f"{path}.requests",
                        q.canonical,
                        f"must be equal to {name} limit of {limit.canonical}",
                    )
                )
            elif q.value > limit.value:
                causes.append(
                    invalid(
                        f"{path}.requests",
                        q.canonical,
                        f"must be less than or equal to {name} limit of {limit.canonical}",
                    )
                )
        elif not _overcommit_allowed(name):
            causes.append(
                required(f"{path}.limits", "Limit must be set for non overcommitable resources")
            )
    return causes


def _field_ref(ref: Obj, path: str) -> list[Cause]:
    if not ref.get("apiVersion"):
        return [required(f"{path}.apiVersion")]
    field_path = ref.get("fieldPath") or ""
    if not field_path:
        return [required(f"{path}.fieldPath")]
    if ref["apiVersion"] != "v1":
        detail = f"error converting fieldPath: unsupported pod version: {ref['apiVersion']}"
        return [invalid(f"{path}.fieldPath", field_path, detail)]
    subscripted = _SUBSCRIPTED.match(field_path)
    if subscripted:
        if subscripted.group(1) not in ("metadata.annotations", "metadata.labels"):
            detail = (
                f"error converting fieldPath: field label does not support subscript: {field_path}"
            )
            return [invalid(f"{path}.fieldPath", field_path, detail)]
        return []
    converted = "spec.nodeName" if field_path == "spec.host" else field_path
    if converted not in _CONVERTIBLE:
        detail = f"error converting fieldPath: field label not supported: {field_path}"
        return [invalid(f"{path}.fieldPath", field_path, detail)]
    if converted not in ENV_FIELD_PATHS:
        return [not_supported(f"{path}.fieldPath", converted, ENV_FIELD_PATHS)]
    return []


def env(variables: list[Obj], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, var in enumerate(variables):
        p = f"{path}[{i}]"
        name = var.get("name") or ""
        if not name:
            causes.append(required(f"{p}.name"))
        elif any(ord(ch) > 126 or ord(ch) < 32 or ch == "=" for ch in name):
            causes.append(invalid(f"{p}.name", name, MSG_ENV_NAME))
        ref = (var.get("valueFrom") or {}).get("fieldRef")
        if isinstance(ref, dict):
            causes += _field_ref(ref, f"{p}.valueFrom.fieldRef")
    return causes


def _id(value: Any, path: str) -> list[Cause]:
    if isinstance(value, int) and not 0 <= value <= MAX_ID:
        return [invalid(path, value, MSG_ID_RANGE)]
    return []


def security_context(sc: Obj, path: str, pod_level: bool) -> list[Cause]:
    causes = _id(sc.get("runAsUser"), f"{path}.runAsUser")
    causes += _id(sc.get("runAsGroup"), f"{path}.runAsGroup")
    if pod_level:
        causes += _id(sc.get("fsGroup"), f"{path}.fsGroup")
        for i, gid in enumerate(sc.get("supplementalGroups") or []):
            causes += _id(gid, f"{path}.supplementalGroups[{i}]")
    return causes
