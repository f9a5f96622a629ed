"""Content negotiation of the simulated API server, after kube-apiserver's
`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/negotiation/negotiate.go`.

- Request bodies: no Content-Type reads as JSON (`NegotiateInputSerializerForMediaType` takes
  the first supported media type when the header is empty); what the official sync client sends.
- Responses: the Accept header's clauses are tried in order of `q` (goautoneg), each against the
  served media types JSON, YAML and protobuf; `type/*` and `*/*` match too. The parameters `as`,
  `g`, `v` ask for a Table or PartialObjectMetadata (an unknown target skips the clause, as
  `AllowsMediaTypeTransform` does); `stream=watch` only for JSON and protobuf. No clause left:
  406 NotAcceptable with the real message. A protobuf clause is answered in JSON: the simulator
  does not encode protobuf (see operator/tend_sim/README.md).
- Pretty output: `;pretty=1` on the clause, `?pretty=true`, or a human's User-Agent (curl, Wget,
  Mozilla/5.0), like `isPrettyPrint`. `reencode` turns the JSON a handler built into YAML or
  indented JSON; plain JSON, the common case, is served as built.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import yaml
from aiohttp import web

from tend_sim.errors import ApiError

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
# runtime.SerializerInfo order of the API server's codec factory.
SERVED = (JSON, YAML, PROTOBUF)
STREAMED = (f"{JSON};stream=watch", f"{PROTOBUF};stream=watch")
_META_GROUP_VERSIONS = (("meta.k8s.io", "v1"), ("meta.k8s.io", "v1beta1"))
_HUMAN_AGENTS = ("curl", "Wget", "Mozilla/5.0")


class Negotiated:
    """The representation chosen for a response: media type (JSON or YAML), the `as` target
    ("" for the object itself, "Table", "PartialObjectMetadata") and pretty-printing."""

    __slots__ = ("as_", "media", "pretty", "protobuf")

    def __init__(
        self, media: str, as_: str = "", pretty: bool = False, protobuf: bool = False
    ) -> None:
        self.media = media
        self.as_ = as_
        self.pretty = pretty
        # A protobuf clause won (answered in JSON): custom resources do not serve it.
        self.protobuf = protobuf

    @property
    def plain(self) -> bool:
        """Compact JSON: the encoding the store caches, served without re-encoding."""
        return self.media == JSON and not self.pretty


PLAIN = Negotiated(JSON)


def not_acceptable(stream: bool) -> ApiError:
    """errNotAcceptable of negotiation/errors.go."""
    accepted = STREAMED if stream else SERVED
    return ApiError(
        406,
        "NotAcceptable",
        f"only the following media types are accepted: {', '.join(accepted)}",
    )


def _clauses(header: str) -> list[tuple[str, str, dict[str, str]]]:
    """goautoneg.ParseAccept: (type, subtype, params), by descending q then specificity."""
    out: list[tuple[float, int, int, str, str, dict[str, str]]] = []
    for i, part in enumerate(header.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0]
        if not media:
            continue
        type_, _, subtype = media.partition("/")
        params: dict[str, str] = {}
        q = 1.0
        for p in pieces[1:]:
            key, eq, value = p.partition("=")
            if not eq:
                continue
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
            else:
                params[key.strip()] = value.strip()
        specific = (type_ != "*") + (subtype != "*")
        out.append((-q, -specific, i, type_, subtype or "*", params))
    out.sort(key=lambda c: c[:3])
    return [(t, s, p) for q, _, _, t, s, p in out if q < 0]


def _accepts(params: dict[str, str], media: str, stream: bool) -> Negotiated | None:
    """acceptMediaTypeOptions + AllowsMediaTypeTransform for one served media type."""
    as_ = params.get("as", "")
    if "stream" in params and params["stream"] and (media == YAML or params["stream"] != "watch"):
        return None
    if stream and media == YAML:
        return None  # YAML has no stream serializer
    target = ""
    if as_ or "g" in params or "v" in params:
        if (params.get("g", ""), params.get("v", "")) not in _META_GROUP_VERSIONS:
            return None
        if as_ == "Table":
            if media not in (JSON, YAML):
                return None
            target = "Table"
        elif as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            target = "PartialObjectMetadata"
        else:
            return None
    return Negotiated(
        YAML if media == YAML else JSON, target, params.get("pretty") == "1", media == PROTOBUF
    )


@functools.lru_cache(maxsize=512)
def negotiate(header: str, stream: bool = False, custom: bool = False) -> Negotiated | None:
    """The representation for an Accept header (None: 406). Cached: clients repeat headers.
    `custom`: a custom resource, whose endpoints serve the object itself in JSON and YAML only
    (the CRD handler's StandardSerializers); Tables and metadata also in protobuf."""
    if not header:
        return PLAIN
    for type_, subtype, params in _clauses(header):
        for media in SERVED:
            if custom and media == PROTOBUF and not params.get("as"):
                continue
            mtype, _, msub = media.partition("/")
            if (type_ == "*" and subtype == "*") or (type_ == mtype and subtype in (msub, "*")):
                got = _accepts(params, media, stream)
                if got is not None:
                    return got
    return None


def wants_pretty(query_string: str, query: Any, user_agent: str) -> bool:
    """isPrettyPrint: `?pretty=<bool>` decides when present, else a human's User-Agent."""
    if "pretty" in query_string:
        value = query.get("pretty", "")
        if value:
            return value.lower() in ("1", "t", "true")
    return user_agent.startswith(_HUMAN_AGENTS)


def reencode(resp: web.Response, nego: Negotiated) -> None:
    """Serve a JSON response as YAML or pretty JSON (json.MarshalIndent's two spaces;
    YAML like sigs.k8s.io/yaml: keys sorted, block style)."""
    if resp.content_type != JSON or not isinstance(resp.body, bytes):
        return
    value = json.loads(resp.body)
    if nego.media == YAML:
        resp.body = yaml.safe_dump(value, default_flow_style=False, allow_unicode=True).encode()
        resp.content_type = YAML
    else:
        resp.body = json.dumps(value, indent=2, ensure_ascii=False).encode() + b"\n"
