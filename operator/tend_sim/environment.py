"""A container's environment as the kubelet builds it, from env and envFrom.

A Secret, ConfigMap or key that a container needs and that is missing keeps it from being
created (CreateContainerConfigError); see `make_environment`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

# (resource, name) -> the object of that resource ("secrets", "configmaps") in the pod's
# namespace, or None when it does not exist.
Lookup = Callable[[str, str], dict[str, Any] | None]


def nothing_exists(_resource: str, _name: str) -> dict[str, Any] | None:
    return None


class ContainerConfigError(Exception):
    """makeEnvironmentVariables failed: the container cannot be created yet."""


def make_environment(spec: dict[str, Any], namespace: str, lookup: Lookup) -> dict[str, str]:
    """A container's environment from its `envFrom` and `env`, or ContainerConfigError.

    As Kubelet.makeEnvironmentVariables (pkg/kubelet/kubelet_pods.go) builds it: envFrom
    first (a ConfigMap's `data`, a Secret's base64 `data` decoded, each key behind the
    source's `prefix`), then `env` overriding it. A missing object fails with the API's
    NotFound message for the kubelet's secret/configmap managers, whose group resource is
    `secret`/`configmap` (pkg/kubelet/secret/secret_manager.go,
    pkg/kubelet/configmap/configmap_manager.go): `secret "creds" not found`; a missing key
    with `couldn't find key K in Secret ns/name` (or ConfigMap). `optional` refs are skipped
    instead. Not simulated: `$(VAR)` expansion, fieldRef/resourceFieldRef values (left
    out) and the service environment variables.
    """
    cache: dict[tuple[str, str], dict[str, Any] | None] = {}

    def get(kind: str, ref: dict[str, Any]) -> dict[str, Any] | None:
        name = str(ref.get("name") or "")
        if (kind, name) not in cache:
            cache[kind, name] = lookup(kind + "s", name)
        found = cache[kind, name]
        if found is None and not ref.get("optional"):
            raise ContainerConfigError(f'{kind} "{name}" not found')
        return found

    env: dict[str, str] = {}
    for source in spec.get("envFrom") or []:
        prefix = str(source.get("prefix") or "")
        for field_name, kind in (("configMapRef", "configmap"), ("secretRef", "secret")):
            if source.get(field_name) is None:
                continue
            found = get(kind, source[field_name])
            for key, value in ((found or {}).get("data") or {}).items():
                env[prefix + key] = _decode(value) if kind == "secret" else str(value)
    for var in spec.get("env") or []:
        if var.get("value") or not var.get("valueFrom"):
            env[var["name"]] = str(var.get("value") or "")
            continue
        value_from = var["valueFrom"]
        for field_name, kind, label in (
            ("configMapKeyRef", "configmap", "ConfigMap"),
            ("secretKeyRef", "secret", "Secret"),
        ):
            ref = value_from.get(field_name)
            if ref is None:
                continue
            found = get(kind, ref)
            if found is None:
                break  # optional, and missing: the variable is left unset
            key, data = str(ref.get("key") or ""), found.get("data") or {}
            if key in data:
                env[var["name"]] = _decode(data[key]) if kind == "secret" else str(data[key])
            elif not ref.get("optional"):
                name = ref.get("name") or ""
                raise ContainerConfigError(f"couldn't find key {key} in {label} {namespace}/{name}")
    return env


def _decode(value: Any) -> str:
    """A Secret's `data` value (base64, as stored) as the string the container sees."""
    try:
        return base64.b64decode(str(value)).decode(errors="replace")
    except ValueError:  # not base64 (binascii.Error): as stored
        return str(value)
