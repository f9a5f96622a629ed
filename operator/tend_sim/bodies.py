"""Request bodies as kube-apiserver reads them: the media type (none at all is JSON), the size
limit (413 past MaxRequestBodyBytes) and JSON nested deeper than Go decodes."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import msgspec
from aiohttp import web

from tend_sim import errors
from tend_sim.errors import ApiError

JSON = "application/json"
# handlers/rest.go limitedReadBody: the API server's MaxRequestBodyBytes (3 MiB).
MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024
# Go's encoding/json scanner (maxNestingDepth), which every JSON body passes first.
MAX_JSON_DEPTH = 10000


def content_type(request: web.Request, default: str = JSON) -> str:
    """The request's media type; none at all reads as `default` (JSON for bodies, like
    NegotiateInputSerializerForMediaType; a PATCH without one is 415, as patch.go does)."""
    if not request.headers.get("Content-Type", "").strip():
        return default
    return request.content_type


async def read_body(request: web.Request) -> bytes:
    """The body, refused with 413 past MaxRequestBodyBytes (handlers/rest.go limitedReadBody)."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raw = b""
        too_large = True
    else:
        too_large = len(raw) > MAX_REQUEST_BODY_BYTES
    if too_large:
        raise errors.ApiError(
            413,
            "RequestEntityTooLarge",
            f"Request entity too large: limit is {MAX_REQUEST_BODY_BYTES}",
        )
    return raw


_DECODE = msgspec.json.Decoder().decode


def refuse_constant(name: str) -> Any:
    """json.loads' parse_constant: NaN and Infinity are not JSON, and Go's scanner stops at
    their first letter (after a minus sign, inside what it took for a number)."""
    if name.startswith("-"):
        raise ValueError(f"invalid character '{name[1]}' in numeric literal")
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def finite_float(text: str) -> float:
    """json.loads' parse_float: a number past float64 (1e400) does not decode in Go."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"json: cannot unmarshal number {text} into Go value of type float64")
    return value


def decode_json(raw: bytes) -> Any:
    """json.loads(raw), faster, and with the keys of every body shared: msgspec's decoder
    caches short dict keys, so 10,000 stored Pods hold one "imagePullPolicy" string, not
    10,000. What msgspec refuses (an integer past 64 bits, bad UTF-8, malformed JSON) goes
    to json.loads, so results and errors are json.loads'; NaN, Infinity and numbers past
    float64 are refused, as by Go. Both stop at the interpreter's recursion limit with
    RecursionError."""
    try:
        return _DECODE(raw)
    except msgspec.MsgspecError:
        value = json.loads(raw, parse_constant=refuse_constant, parse_float=finite_float)
        return without_lone_surrogates(value) if b"\\ud" in raw.lower() else value


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(value: Any) -> Any:
    """Go's decoder turns an escaped UTF-16 surrogate that has no pair into U+FFFD; Python's
    keeps it, and then no UTF-8 encoder will write it."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {without_lone_surrogates(k): without_lone_surrogates(v) for k, v in value.items()}
    return value


def summarize(raw: bytes, limit: int = 30) -> str:
    """handlers/rest.go summarizeData: the start of a body, as text if it looks like JSON."""
    more = " ..." if len(raw) > limit else ""
    if not raw:
        return "<empty>"
    if raw[:1] == b"{":
        return raw[:limit].decode(errors="replace") + more
    return raw[:limit].hex() + more


def too_deep(raw: bytes, kind: str) -> ApiError:
    """A body nested deeper than Python's json decoder goes. Past Go's maxNestingDepth the API
    server says so (SimpleMetaFactory.Interpret's error through transformDecodeError); below it
    the real server would decode it and the simulator cannot (README: differences)."""
    depth = 0
    in_string = escaped = False
    for i, c in enumerate(raw):
        if in_string:
            if escaped:
                escaped = False
            elif c == 0x5C:
                escaped = True
            elif c == 0x22:
                in_string = False
        elif c == 0x22:
            in_string = True
        elif c in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return errors.bad_request(
                    f"the object provided is unrecognized (must be of type {kind}): couldn't get "
                    f"version/kind; json parse error: invalid character '{chr(raw[i])}' exceeded "
                    f"max depth ({summarize(raw)})"
                )
        elif c in (0x5D, 0x7D):
            depth -= 1
    return errors.bad_request(
        f"the simulator cannot decode JSON nested {depth} levels deep (the API server decodes up "
        f"to {MAX_JSON_DEPTH})"
    )
