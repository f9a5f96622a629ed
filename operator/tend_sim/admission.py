"""Admission: the checks every write passes before the store keeps it.

Typed decoding of built-in kinds (decoding.py: quantities canonicalised, integer ranges),
unknown fields (per the fieldValidation mode), the CRD's schema or the built-in kind's
validation, ObjectMeta, immutable fields; and for CRDs their own definition and status.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from tend_sim import errors
from tend_sim.clock import rfc3339
from tend_sim.decoding import decode_builtin
from tend_sim.errors import Cause
from tend_sim.objects import (
    CRD_FINALIZER,
    CRD_GR,
    FOREGROUND,
    ORPHAN,
    Obj,
    alike_key,
    deep_copy,
    get_path,
)
from tend_sim.resources import ResourceType, apply_defaults, prune_unknown_builtin
from tend_sim.schema import validate_custom
from tend_sim.validation import (
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    KINDS,
    LABEL_VALUE,
    QUALIFIED_NAME,
    validate_builtin,
)

if TYPE_CHECKING:
    from tend_sim.store import WriteOptions

FIELD_VALIDATIONS = ("Strict", "Warn", "Ignore")

_DNS_SUBDOMAIN = re.compile(f"^{DNS1123_SUBDOMAIN}$")
_DNS_LABEL = re.compile(f"^{DNS1123_LABEL}$")
_QUALIFIED_NAME = re.compile(f"^{QUALIFIED_NAME}$")
_LABEL_VALUE = re.compile(f"^{LABEL_VALUE}$")
# Kinds whose names are DNS-1123 labels rather than subdomains.
_LABEL_NAMED_KINDS = {"Namespace", "Service"}


def check_field_validation(value: str) -> None:
    if value not in FIELD_VALIDATIONS:
        raise errors.bad_request(
            f"fieldValidation must be one of Ignore, Warn, Strict, got {value}"
        )


def decode_body(rt: ResourceType, obj: Obj) -> list[str]:
    """What decoding a built-in's body into its Go struct does, in place: typed fields
    canonicalised (400 when they do not fit), unknown fields dropped; their paths returned.
    A create runs it on the body as sent, before defaulting and admission add their fields,
    as kube-apiserver decodes before it defaults."""
    if not rt.custom and rt.kind != "Event":
        decode_builtin(rt.group, rt.version, rt.kind, obj)
    return prune_unknown_builtin(rt, obj)


# Kinds whose defaults (resources.apply_defaults) touch nothing but `spec`.
_SPEC_ONLY_DEFAULTS = frozenset({"Pod"})
# A clean Pod spec as sent (its JSON) -> that spec decoded and defaulted, kept private.
_DECODED_SPECS: dict[bytes, Obj] = {}
_MAX_DECODED_SPECS = 256


def decode_and_default(rt: ResourceType, obj: Obj) -> list[str]:
    """decode_body, then the kind's defaults (what kube-apiserver's codec does to a body).

    A Pod whose spec, as sent, is the spec of an earlier Pod that decoded cleanly gets a
    copy of that Pod's decoded, defaulted spec instead of three walks: a ReplicaSet's or a
    Job's Pods, or a test's, are alike. Decoding and defaulting a spec depend on nothing
    else and equal JSON is an equal value (objects.alike_key), so the result is the same
    either way. The copies
    share their strings with the remembered spec (10,000 Pods hold one "IfNotPresent"); the
    table is bounded and forgets everything when full."""
    spec = obj.get("spec")
    if rt.custom or rt.kind not in _SPEC_ONLY_DEFAULTS or type(spec) is not dict:
        unknown = decode_body(rt, obj)
        apply_defaults(rt, obj)
        return unknown
    sent = alike_key(spec)
    done = _DECODED_SPECS.get(sent) if sent is not None else None
    if done is not None:
        obj["spec"] = None  # the rest of the object is decoded as usual
        unknown = decode_body(rt, obj)
        obj["spec"] = deep_copy(done)
        return unknown
    unknown = decode_body(rt, obj)
    apply_defaults(rt, obj)
    if sent is not None and not unknown:
        if len(_DECODED_SPECS) >= _MAX_DECODED_SPECS:
            _DECODED_SPECS.clear()
        _DECODED_SPECS[sent] = deep_copy(obj["spec"])
    return unknown


def admit(
    rt: ResourceType,
    obj: Obj,
    old: Obj | None,
    opts: WriteOptions,
    *,
    validate: bool,
    unknown_fields: list[str] | None = None,
) -> Obj:
    """Validation: our metadata checks, then the schema (custom) or built-in validators.
    unknown_fields: what decode_body found, when it already ran (else it runs here)."""
    check_field_validation(opts.field_validation)
    if unknown_fields is None:
        unknown_fields = decode_body(rt, obj)
    causes: list[Cause] = [
        Cause(errors.FIELD_VALUE_UNKNOWN, f'unknown field "{path}"', path)
        for path in unknown_fields
    ]
    if validate:
        if rt.custom and rt.schema is not None:
            result = validate_custom(rt.schema, obj, old, field_validation=opts.field_validation)
            obj = result.obj
            causes.extend(result.causes)
            if opts.warnings is not None:
                opts.warnings.extend(result.warnings)
        elif (
            not rt.custom
            and rt.kind in KINDS
            and (rt.group in ("", "events.k8s.io") or rt.kind != "Event")
        ):
            causes.extend(validate_builtin(rt.kind, obj, old))
    causes.extend(validate_metadata(rt, obj, old))
    if old is not None:
        for path in rt.immutable_fields:
            if get_path(obj, path) != get_path(old, path):
                causes.append(
                    Cause(errors.FIELD_VALUE_INVALID, "Invalid value: field is immutable", path)
                )
    causes = _dedupe(causes)
    unknown = [c for c in causes if c.reason == errors.FIELD_VALUE_UNKNOWN]
    if unknown:
        if opts.field_validation == "Strict":
            fields = ", ".join(f'unknown field "{c.field}"' for c in unknown)
            raise errors.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                f"strict decoding error: {fields}",
                unknown,
            )
        if opts.field_validation == "Warn" and opts.warnings is not None:
            opts.warnings.extend(f'unknown field "{c.field}"' for c in unknown)
        causes = [c for c in causes if c.reason != errors.FIELD_VALUE_UNKNOWN]
    if causes:
        raise errors.invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), causes)
    return obj


def crd_admit(
    crd: Obj, old: Obj | None, others: Iterable[Obj], now: Callable[[], datetime]
) -> None:
    """Check a CRD against its definition rules and the other CRDs, and set its status:
    NamesAccepted, Established (Terminating once deleted), acceptedNames, storedVersions."""
    causes = validate_crd(crd, old)
    name = crd["metadata"].get("name", "")
    if causes:
        raise errors.invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, causes)
    spec = crd["spec"]
    names = spec["names"]
    for o in others:
        if o["metadata"]["name"] == name or o["spec"]["group"] != spec["group"]:
            continue
        onames = o["spec"]["names"]
        if onames.get("kind") == names.get("kind") or onames.get("plural") == names.get("plural"):
            conflict = True
            break
    else:
        conflict = False
    status = crd.setdefault("status", {})
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    accepted = {
        "plural": names["plural"],
        "singular": names.get("singular") or names["kind"].lower(),
        "kind": names["kind"],
        "listKind": names.get("listKind") or names["kind"] + "List",
    }
    for extra in ("shortNames", "categories"):
        if names.get(extra):
            accepted[extra] = names[extra]
    stamp = rfc3339(now())
    old_conditions = {
        c["type"]: c for c in ((old or {}).get("status") or {}).get("conditions") or []
    }

    def cond(type_: str, ok: bool, reason: str, message: str) -> Obj:
        prev = old_conditions.get(type_)
        st = "True" if ok else "False"
        when = prev["lastTransitionTime"] if prev and prev.get("status") == st else stamp
        return {
            "type": type_,
            "status": st,
            "lastTransitionTime": when,
            "reason": reason,
            "message": message,
        }

    conditions = [
        cond(
            "NamesAccepted",
            not conflict,
            "NoConflicts" if not conflict else "AllowedNamesConflicts",
            "no conflicts found" if not conflict else "names conflict with another CRD",
        ),
        cond(
            "Established",
            not conflict,
            "InitialNamesAccepted" if not conflict else "NotAccepted",
            "the initial names have been accepted"
            if not conflict
            else "not all names are accepted",
        ),
    ]
    if crd["metadata"].get("deletionTimestamp"):
        conditions.append(
            cond(
                "Terminating",
                True,
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
            )
        )
    status["conditions"] = conditions
    status["acceptedNames"] = accepted if not conflict else {"plural": "", "kind": ""}
    stored = list(
        status.get("storedVersions")
        or ((old or {}).get("status") or {}).get("storedVersions")
        or []
    )
    if storage not in stored:
        stored.append(storage)
    status["storedVersions"] = stored
    fins = crd["metadata"].setdefault("finalizers", [])
    if CRD_FINALIZER not in fins and not crd["metadata"].get("deletionTimestamp"):
        fins.append(CRD_FINALIZER)


def _dedupe(causes: list[Cause]) -> list[Cause]:
    seen: set[tuple[str, str]] = set()
    out = []
    for c in causes:
        k = (c.field, c.reason)
        if k in seen:
            continue
        seen.add(k)
        out.append(c)
    return out


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
