"""JSON-like objects as the simulator keeps them: copying, dotted paths, well-known names."""

from __future__ import annotations

import json
from sys import intern
from typing import Any

import msgspec

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace or "", name)
GR = tuple[str, str]  # (group, plural)

CRD_GR: GR = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACE_GR: GR = ("", "namespaces")
CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


_ENCODER = msgspec.json.Encoder()

# ObjectMeta's scalar fields (k8s.io/apimachinery ObjectMeta), shared by the schema walk and
# the field sets of server-side apply.
OBJECT_META_SCALARS = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


def to_json(value: Any) -> bytes:
    """Compact JSON of a JSON-like value, keys in their order (msgspec: several times faster
    than json.dumps on the 3 KB a stored Pod takes). Non-ASCII text is written as UTF-8, as
    Go's encoding/json does; what msgspec refuses (an int past 64 bits, a non-string key)
    goes through json.dumps."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, OverflowError, msgspec.EncodeError):
        return json.dumps(value, separators=(",", ":")).encode()


def alike_key(value: Any, limit: int = 8192) -> bytes | None:
    """The compact JSON of a value, as the key of a table of results for alike values (equal
    JSON is an equal value); None when it cannot serve: msgspec cannot encode the value, it
    is longer than `limit`, or it holds a null (msgspec writes NaN and infinities as null)."""
    try:
        encoded = _ENCODER.encode(value)
    except (TypeError, OverflowError, UnicodeEncodeError, msgspec.EncodeError):
        return None
    if len(encoded) > limit or b"null" in encoded:
        return None
    return encoded


def deep_copy(value: Any) -> Any:
    """Copy of a JSON-like value (dicts, lists, scalars); much faster than copy.deepcopy."""
    t = type(value)
    if t is dict:
        return {k: deep_copy(v) for k, v in value.items()}
    if t is list:
        return [deep_copy(v) for v in value]
    return value


def stored_copy(value: Any) -> Any:
    """deep_copy of a request body about to be stored, with its keys interned: json.loads
    gives every body its own copies of "metadata", "containers", "imagePullPolicy" ..., which
    10,000 stored objects would otherwise each keep."""
    t = type(value)
    if t is dict:
        return {intern(k) if type(k) is str else k: stored_copy(v) for k, v in value.items()}
    if t is list:
        return [stored_copy(v) for v in value]
    return value


def copy_object(obj: Obj) -> Obj:
    """deep_copy of an API object whose metadata.managedFields entries are shared, not copied:
    the store never changes an entry in place (a write stores new ones), and neither may
    callers; copying their field sets on every read would cost more than the rest of the
    object."""
    out: Obj = {}
    for k, v in obj.items():
        if k == "metadata" and type(v) is dict and "managedFields" in v:
            out[k] = {
                mk: list(mv) if mk == "managedFields" and type(mv) is list else deep_copy(mv)
                for mk, mv in v.items()
            }
        else:
            out[k] = deep_copy(v)
    return out


def get_path(obj: Any, dotted: str) -> Any:
    cur = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def set_path(obj: Obj, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    cur = obj
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[part] = nxt
        cur = nxt
    cur[parts[-1]] = value
