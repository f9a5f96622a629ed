"""Admission checks every write passes: ObjectMeta for every kind, a CRD's own definition."""

from __future__ import annotations

import re

from tend.sim import errors
from tend.sim.errors import Cause
from tend.sim.objects import CRD_GR, FOREGROUND, ORPHAN, Obj
from tend.sim.resources import ResourceType

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# Kinds whose names are DNS-1123 labels rather than subdomains.
_LABEL_NAMED_KINDS = {"Namespace", "Service"}


def validate_metadata(rt: ResourceType, obj: Obj, old: Obj | None) -> list[Cause]:
    meta = obj["metadata"]
    causes: list[Cause] = []
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        causes.append(
            Cause(
                errors.FIELD_VALUE_REQUIRED,
                "Required value: name or generateName is required",
                "metadata.name",
            )
        )
    elif old is None:
        pattern = (
            _DNS_LABEL if rt.kind in _LABEL_NAMED_KINDS and not rt.custom else (_DNS_SUBDOMAIN)
        )
        limit = 63 if pattern is _DNS_LABEL else 253
        if rt.gr == CRD_GR or rt.kind == "Event" or rt.gr == ("", "nodes"):
            pattern = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
        if rt.group == "rbac.authorization.k8s.io":
            pattern = re.compile(r"^[^/%]+$")  # path segment names (e.g. system:controller)
        if len(name) > limit or pattern.match(name) is None:
            what = "RFC 1123 label" if pattern is _DNS_LABEL else "RFC 1123 subdomain"
            causes.append(
                Cause(
                    errors.FIELD_VALUE_INVALID,
                    f'Invalid value: "{name}": a lowercase {what} must consist of lower case '
                    "alphanumeric characters, '-' or '.', and must start and end with an "
                    "alphanumeric character",
                    "metadata.name",
                )
            )
    for field_name in ("labels", "annotations"):
        value = meta.get(field_name)
        if value is None:
            continue
        if not isinstance(value, dict) or any(not isinstance(v, str) for v in value.values()):
            causes.append(
                Cause(
                    errors.FIELD_VALUE_TYPE_INVALID,
                    "Invalid value: must be a map of string to string",
                    f"metadata.{field_name}",
                )
            )
            continue
        for k, v in value.items():
            kname = k.rsplit("/", 1)[-1]
            prefix = k.rsplit("/", 1)[0] if "/" in k else None
            if not (0 < len(kname) <= 63 and _QUALIFIED_NAME.match(kname)) or (
                prefix is not None and not _DNS_SUBDOMAIN.match(prefix)
            ):
                causes.append(
                    Cause(
                        errors.FIELD_VALUE_INVALID,
                        f'Invalid value: "{k}": name part must consist of '
                        "alphanumeric characters, '-', '_' or '.', and must start "
                        "and end with an alphanumeric character",
                        f"metadata.{field_name}",
                    )
                )
            if field_name == "labels" and (len(v) > 63 or not _LABEL_VALUE.match(v)):
                causes.append(
                    Cause(
                        errors.FIELD_VALUE_INVALID,
                        f'Invalid value: "{v}": a valid label must be an empty '
                        "string or consist of alphanumeric characters, '-', '_' "
                        "or '.', and must start and end with an alphanumeric "
                        "character",
                        "metadata.labels",
                    )
                )
    owners = meta.get("ownerReferences")
    if owners is not None:
        if not isinstance(owners, list):
            causes.append(
                Cause(
                    errors.FIELD_VALUE_TYPE_INVALID,
                    "Invalid value: must be a list",
                    "metadata.ownerReferences",
                )
            )
        else:
            controllers = 0
            for i, o in enumerate(owners):
                path = f"metadata.ownerReferences[{i}]"
                if not isinstance(o, dict):
                    causes.append(
                        Cause(
                            errors.FIELD_VALUE_TYPE_INVALID,
                            "Invalid value: must be an object",
                            path,
                        )
                    )
                    continue
                for req in ("apiVersion", "kind", "name", "uid"):
                    if not o.get(req):
                        causes.append(
                            Cause(errors.FIELD_VALUE_REQUIRED, "Required value", f"{path}.{req}")
                        )
                if o.get("controller"):
                    controllers += 1
                if o.get("uid") and o.get("uid") == meta.get("uid"):
                    causes.append(
                        Cause(
                            errors.FIELD_VALUE_INVALID,
                            "Invalid value: an object cannot own itself",
                            f"{path}.uid",
                        )
                    )
            if controllers > 1:
                causes.append(
                    Cause(
                        errors.FIELD_VALUE_INVALID,
                        "Invalid value: Only one reference can have Controller set to true",
                        "metadata.ownerReferences",
                    )
                )
    fins = meta.get("finalizers")
    if fins is not None:
        if not isinstance(fins, list) or any(not isinstance(f, str) for f in fins):
            causes.append(
                Cause(
                    errors.FIELD_VALUE_TYPE_INVALID,
                    "Invalid value: must be a list of strings",
                    "metadata.finalizers",
                )
            )
        elif ORPHAN in fins and FOREGROUND in fins:
            causes.append(
                Cause(
                    errors.FIELD_VALUE_INVALID,
                    'Invalid value: finalizer "orphan" and "foregroundDeletion" cannot be both set',
                    "metadata.finalizers",
                )
            )
    return causes


def validate_crd(crd: Obj, old: Obj | None) -> list[Cause]:
    """Light validation of a CustomResourceDefinition itself."""
    causes: list[Cause] = []
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [Cause(errors.FIELD_VALUE_REQUIRED, "Required value", "spec")]
    group = spec.get("group")
    names = spec.get("names")
    if not group or not isinstance(group, str):
        causes.append(Cause(errors.FIELD_VALUE_REQUIRED, "Required value", "spec.group"))
    elif "." not in group:
        causes.append(
            Cause(
                errors.FIELD_VALUE_INVALID,
                f'Invalid value: "{group}": should be a domain with at least one dot',
                "spec.group",
            )
        )
    if not isinstance(names, dict):
        causes.append(Cause(errors.FIELD_VALUE_REQUIRED, "Required value", "spec.names"))
        names = {}
    for req in ("plural", "kind"):
        if not names.get(req):
            causes.append(Cause(errors.FIELD_VALUE_REQUIRED, "Required value", f"spec.names.{req}"))
    plural = names.get("plural")
    if plural and group and crd["metadata"].get("name") != f"{plural}.{group}":
        causes.append(
            Cause(
                errors.FIELD_VALUE_INVALID,
                f'Invalid value: "{crd["metadata"].get("name")}": must be '
                f'spec.names.plural+"."+spec.group',
                "metadata.name",
            )
        )
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        causes.append(
            Cause(
                errors.FIELD_VALUE_NOT_SUPPORTED,
                f'Unsupported value: "{scope}": supported values: "Cluster", "Namespaced"',
                "spec.scope",
            )
        )
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        causes.append(
            Cause(
                errors.FIELD_VALUE_INVALID,
                "Invalid value: must have exactly one version marked as storage version",
                "spec.versions",
            )
        )
    else:
        storage = [v for v in versions if isinstance(v, dict) and v.get("storage")]
        if len(storage) != 1:
            causes.append(
                Cause(
                    errors.FIELD_VALUE_INVALID,
                    "Invalid value: must have exactly one version marked as storage version",
                    "spec.versions",
                )
            )
        seen: set[str] = set()
        for i, v in enumerate(versions):
            if not isinstance(v, dict) or not v.get("name"):
                causes.append(
                    Cause(errors.FIELD_VALUE_REQUIRED, "Required value", f"spec.versions[{i}].name")
                )
                continue
            if v["name"] in seen:
                causes.append(
                    Cause(
                        errors.FIELD_VALUE_DUPLICATE,
                        f'Duplicate value: "{v["name"]}"',
                        f"spec.versions[{i}].name",
                    )
                )
            seen.add(v["name"])
            if "served" not in v or "storage" not in v:
                causes.append(
                    Cause(
                        errors.FIELD_VALUE_REQUIRED, "Required value", f"spec.versions[{i}].served"
                    )
                )
            schema = (v.get("schema") or {}).get("openAPIV3Schema")
            if not isinstance(schema, dict):
                causes.append(
                    Cause(
                        errors.FIELD_VALUE_REQUIRED,
                        "Required value: schemas are required",
                        f"spec.versions[{i}].schema.openAPIV3Schema",
                    )
                )
            elif schema.get("type") != "object":
                causes.append(
                    Cause(
                        errors.FIELD_VALUE_INVALID,
                        'Invalid value: must be "object" at the root',
                        f"spec.versions[{i}].schema.openAPIV3Schema.type",
                    )
                )
    if old is not None:
        for path in ("group", "scope"):
            if spec.get(path) != (old.get("spec") or {}).get(path):
                causes.append(
                    Cause(
                        errors.FIELD_VALUE_INVALID,
                        "Invalid value: field is immutable",
                        f"spec.{path}",
                    )
                )
    return causes
