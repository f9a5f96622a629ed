"""Protobuf request bodies. `kubectl create namespace|configmap|secret|serviceaccount|token`
and `kubectl auth` send built-in objects as application/vnd.kubernetes.protobuf; we decode
those few kinds (fields by number from k8s.io/api generated.proto). Anything else answers 415
with a clear message."""

from __future__ import annotations

from typing import Any

from tend_sim import errors

_PB_MAGIC = b"k8s\x00"
# field number -> (json name, type); types: s=string, b=bytes(base64), i=varint int,
# B=bool, m=map<string,string>, M=map<string,bytes>, S=repeated string, or a nested schema dict.
_PbSchema = dict[int, tuple[str, Any]]
_PB_OBJECT_META: _PbSchema = {
    1: ("name", "s"),
    2: ("generateName", "s"),
    3: ("namespace", "s"),
    11: ("labels", "m"),
    12: ("annotations", "m"),
    14: ("finalizers", "S"),
}
_PB_LOCAL_REF: _PbSchema = {1: ("name", "s")}
_PB_KINDS: dict[str, _PbSchema] = {
    "Namespace": {1: ("metadata", _PB_OBJECT_META), 2: ("spec", {1: ("finalizers", "S")})},
    "ConfigMap": {
        1: ("metadata", _PB_OBJECT_META),
        2: ("data", "m"),
        3: ("binaryData", "M"),
        4: ("immutable", "B"),
    },
    "Secret": {
        1: ("metadata", _PB_OBJECT_META),
        2: ("data", "M"),
        3: ("type", "s"),
        4: ("stringData", "m"),
        5: ("immutable", "B"),
    },
    "ServiceAccount": {
        1: ("metadata", _PB_OBJECT_META),
        3: ("imagePullSecrets", ("list", _PB_LOCAL_REF)),
        4: ("automountServiceAccountToken", "B"),
    },
}
# authorization.k8s.io/v1 and authentication.k8s.io/v1: what `kubectl auth` and
# `kubectl create token` send (their status, empty in a request, is answered in JSON).
_PB_RESOURCE_ATTRIBUTES: _PbSchema = {
    1: ("namespace", "s"),
    2: ("verb", "s"),
    3: ("group", "s"),
    4: ("version", "s"),
    5: ("resource", "s"),
    6: ("subresource", "s"),
    7: ("name", "s"),
}
_PB_NON_RESOURCE_ATTRIBUTES: _PbSchema = {1: ("path", "s"), 2: ("verb", "s")}
_PB_ACCESS_SPEC: _PbSchema = {
    1: ("resourceAttributes", _PB_RESOURCE_ATTRIBUTES),
    2: ("nonResourceAttributes", _PB_NON_RESOURCE_ATTRIBUTES),
    3: ("user", "s"),
    4: ("groups", "S"),
    6: ("uid", "s"),
}
_PB_ACCESS_STATUS: _PbSchema = {
    1: ("allowed", "B"),
    2: ("reason", "s"),
    3: ("evaluationError", "s"),
    4: ("denied", "B"),
}
_PB_KINDS.update(
    {
        "SelfSubjectAccessReview": {
            1: ("metadata", _PB_OBJECT_META),
            2: ("spec", _PB_ACCESS_SPEC),
            3: ("status", _PB_ACCESS_STATUS),
        },
        "SubjectAccessReview": {
            1: ("metadata", _PB_OBJECT_META),
            2: ("spec", _PB_ACCESS_SPEC),
            3: ("status", _PB_ACCESS_STATUS),
        },
        "LocalSubjectAccessReview": {
            1: ("metadata", _PB_OBJECT_META),
            2: ("spec", _PB_ACCESS_SPEC),
            3: ("status", _PB_ACCESS_STATUS),
        },
        "SelfSubjectRulesReview": {
            1: ("metadata", _PB_OBJECT_META),
            2: ("spec", {1: ("namespace", "s")}),
            3: ("status", {3: ("incomplete", "B"), 4: ("evaluationError", "s")}),
        },
        "SelfSubjectReview": {1: ("metadata", _PB_OBJECT_META), 2: ("status", {})},
        "TokenRequest": {
            1: ("metadata", _PB_OBJECT_META),
            2: (
                "spec",
                {
                    1: ("audiences", "S"),
                    3: (
                        "boundObjectRef",
                        {
                            1: ("kind", "s"),
                            2: ("apiVersion", "s"),
                            3: ("name", "s"),
                            4: ("uid", "s"),
                        },
                    ),
                    4: ("expirationSeconds", "i"),
                },
            ),
            3: ("status", {1: ("token", "s")}),
        },
        "TokenReview": {
            1: ("metadata", _PB_OBJECT_META),
            2: ("spec", {1: ("token", "s"), 2: ("audiences", "S")}),
            3: ("status", {1: ("authenticated", "B")}),
        },
    }
)


def _pb_fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) triples of one protobuf message."""
    out: list[tuple[int, int, Any]] = []
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            if pos >= len(buf):
                raise ValueError("truncated varint")
            b = buf[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    while pos < len(buf):
        tag = varint()
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            out.append((number, wire, varint()))
        elif wire == 2:
            n = varint()
            out.append((number, wire, buf[pos : pos + n]))
            pos += n
        elif wire == 1:
            out.append((number, wire, buf[pos : pos + 8]))
            pos += 8
        elif wire == 5:
            out.append((number, wire, buf[pos : pos + 4]))
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def _pb_empty(value: Any) -> bool:
    if isinstance(value, int):
        return value == 0
    if not value:
        return True
    try:
        return all(_pb_empty(v) for _, _, v in _pb_fields(value))
    except (ValueError, IndexError):
        return False


def _pb_message(buf: bytes, schema: _PbSchema) -> dict[str, Any]:
    import base64

    obj: dict[str, Any] = {}
    for number, _, value in _pb_fields(buf):
        spec = schema.get(number)
        if spec is None:
            if _pb_empty(value):  # gogo-proto writes every non-nullable field, empty or not
                continue
            raise ValueError(f"field {number} is not understood by the simulator")
        name, kind = spec
        if isinstance(kind, dict):
            obj[name] = _pb_message(value, kind)
        elif isinstance(kind, tuple):
            obj.setdefault(name, []).append(_pb_message(value, kind[1]))
        elif kind == "s":
            if value:
                obj[name] = value.decode()
        elif kind == "i":
            obj[name] = int(value)
        elif kind == "B":
            obj[name] = bool(value)
        elif kind == "S":
            obj.setdefault(name, []).append(value.decode())
        elif kind in ("m", "M"):
            entry = {n: v for n, _, v in _pb_fields(value)}
            key = entry.get(1, b"").decode()
            raw = entry.get(2, b"")
            obj.setdefault(name, {})[key] = (
                raw.decode() if kind == "m" else base64.b64encode(raw).decode()
            )
    return obj


def decode_protobuf(raw: bytes) -> dict[str, Any]:
    """A k8s protobuf envelope (runtime.Unknown) of one of a few built-in kinds -> JSON dict."""
    if not raw.startswith(_PB_MAGIC):
        raise errors.bad_request("protobuf body without the k8s magic prefix")
    try:
        envelope = {n: v for n, _, v in _pb_fields(raw[len(_PB_MAGIC) :])}
        type_meta = {n: v.decode() for n, _, v in _pb_fields(envelope.get(1, b""))}
        api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
        schema = _PB_KINDS.get(kind)
        if schema is None:
            raise errors.unsupported_media_type(
                "application/vnd.kubernetes.protobuf", ["application/json", "application/yaml"]
            )
        obj = _pb_message(envelope.get(2, b""), schema)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"cannot decode protobuf body: {exc}") from None
    return {"apiVersion": api_version, "kind": kind, **obj}
