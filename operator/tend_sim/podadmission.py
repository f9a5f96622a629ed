"""Mutating admission of new Pods: the ServiceAccount and Priority admission plugins.

ServiceAccount (plugin/pkg/admission/serviceaccount/admission.go): the pod's account (default
`default`) must exist (403 `error looking up service account ns/name`), and unless
`automountServiceAccountToken` is false on the pod (which wins) or else on the account, every
init and app container without a mount at /var/run/secrets/kubernetes.io/serviceaccount gets
the projected `kube-api-access-xxxxx` volume (token, kube-root-ca.crt's ca.crt, namespace).

Priority (plugin/pkg/admission/priority/admission.go): `priorityClassName` resolves to
`spec.priority` and `preemptionPolicy` (403 for an unknown class); without one, the
globalDefault class if any, else priority 0.
"""

from __future__ import annotations

import random
import string
from typing import Any

from tend_sim import errors
from tend_sim.errors import ApiError
from tend_sim.objects import Obj

TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
# utilrand.String's alphabet: no vowels or easily confused characters.
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
assert set(_ALPHABET) <= set(string.ascii_lowercase + string.digits)


# The projected sources every kube-api-access volume has: one list shared by all stored pods
# (the store never changes a stored object in place; 10,000 pods keep one copy, not 10,000).
TOKEN_SOURCES: list[Obj] = [
    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
    {
        "configMap": {
            "name": "kube-root-ca.crt",
            "items": [{"key": "ca.crt", "path": "ca.crt"}],
        }
    },
    {
        "downwardAPI": {
            "items": [
                {
                    "path": "namespace",
                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                }
            ]
        }
    },
]


def token_volume(name: str) -> Obj:
    return {"name": name, "projected": {"defaultMode": 420, "sources": TOKEN_SOURCES}}


def _forbidden(pod: Obj, why: str) -> ApiError:
    meta = pod["metadata"]
    # admission.NewForbidden names the pod by its generateName before a name is generated.
    name = meta.get("generateName") or meta.get("name") or "Unknown"
    return errors.forbidden("pods", "", str(name), why)


def admit_pod(store: Any, pod: Obj) -> None:
    """Mutate a pod being created (in place); ApiError 403 when an admission plugin refuses."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    namespace = pod["metadata"].get("namespace") or ""
    _service_account(store, pod, spec, namespace)
    _priority(store, pod, spec)


def _service_account(store: Any, pod: Obj, spec: dict[str, Any], namespace: str) -> None:
    if (pod["metadata"].get("annotations") or {}).get("kubernetes.io/config.mirror"):
        return
    name = spec.get("serviceAccountName") or "default"
    spec["serviceAccountName"] = name
    spec.setdefault("serviceAccount", name)
    rt = store.registry.get("", "v1", "serviceaccounts")
    try:
        sa = store.get_entry(rt, namespace, name).obj
    except ApiError:
        # The plugin reads a lister, whose NotFound names the resource in the singular.
        raise _forbidden(
            pod,
            f'error looking up service account {namespace}/{name}: serviceaccount "{name}" '
            "not found",
        ) from None
    automount = spec.get("automountServiceAccountToken")
    if automount is None:
        automount = sa.get("automountServiceAccountToken")
    if automount is False:
        return
    volumes = spec.get("volumes") or []
    volume = next(
        (
            v["name"]
            for v in volumes
            if isinstance(v, dict) and str(v.get("name", "")).startswith(VOLUME_PREFIX)
        ),
        None,
    )
    has_volume = volume is not None
    if volume is None:
        volume = VOLUME_PREFIX + "".join(random.choices(_ALPHABET, k=5))  # utilrand.String
    needed = False
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            if not isinstance(c, dict):
                continue
            mounts = c.get("volumeMounts") or []
            if any(isinstance(m, dict) and m.get("mountPath") == TOKEN_MOUNT_PATH for m in mounts):
                continue
            c["volumeMounts"] = [
                *mounts,
                {"name": volume, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH},
            ]
            needed = True
    if needed and not has_volume:
        spec["volumes"] = [*volumes, token_volume(volume)]


def _priority(store: Any, pod: Obj, spec: dict[str, Any]) -> None:
    rt = store.registry.get("scheduling.k8s.io", "v1", "priorityclasses")
    if rt is None:
        return
    name = spec.get("priorityClassName")
    if name:
        try:
            pc = store.get_entry(rt, None, name).obj
        except ApiError:
            raise _forbidden(pod, f"no PriorityClass with name {name} was found") from None
    else:
        defaults = [e.obj for e in store.entries(rt) if e.obj.get("globalDefault")]
        pc = min(defaults, key=lambda o: o["metadata"]["name"]) if defaults else None
        if pc is not None:
            spec["priorityClassName"] = pc["metadata"]["name"]
    value = pc.get("value", 0) if pc is not None else 0
    if spec.get("priority") is not None and spec["priority"] != value:
        raise _forbidden(
            pod,
            f"the integer value of priority ({spec['priority']}) must not be provided in pod "
            f"spec; priority admission controller computed {value} from the given "
            "PriorityClass name",
        )
    spec["priority"] = value
    policy = (pc or {}).get("preemptionPolicy") or "PreemptLowerPriority"
    spec.setdefault("preemptionPolicy", policy)
