"""`serviceaccounts/token`: TokenRequest (authentication.k8s.io/v1), as `kubectl create token`
and the kubelet's projected volumes use it. Defaults and limits are the API server's:
expirationSeconds 3600 unless given, at least 600 (10 minutes), at most 2^32; audiences default
to the API server's (`--api-audiences`, its issuer). The token is a JWT with the claims a real
one carries (iss, sub `system:serviceaccount:NS:NAME`, aud, exp, iat, nbf, kubernetes.io); it is
not signed (alg none): the simulator authenticates nobody.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

from tend_sim import errors
from tend_sim.clock import rfc3339

ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_SECONDS = 3600
MIN_SECONDS = 600
MAX_SECONDS = 1 << 32


def _b64(value: dict[str, Any]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token_request(body: Any, account: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The TokenRequest answered for `body` on the ServiceAccount `account`."""
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request must be a TokenRequest")
    meta = account["metadata"]
    spec = dict(body.get("spec") or {})
    seconds = spec.get("expirationSeconds")
    seconds = DEFAULT_SECONDS if seconds is None else seconds
    causes = []
    if not isinstance(seconds, int) or seconds < MIN_SECONDS:
        causes.append(
            errors.Cause(
                errors.FIELD_VALUE_INVALID,
                f"Invalid value: {seconds}: may not specify a duration less than 10 minutes",
                "spec.expirationSeconds",
            )
        )
    elif seconds > MAX_SECONDS:
        causes.append(
            errors.Cause(
                errors.FIELD_VALUE_INVALID,
                f"Invalid value: {seconds}: may not specify a duration larger than 2^32 seconds",
                "spec.expirationSeconds",
            )
        )
    if causes:
        raise errors.invalid("TokenRequest", "authentication.k8s.io", meta["name"], causes)
    audiences = list(spec.get("audiences") or [ISSUER])
    expires = now + timedelta(seconds=seconds)
    claims = {
        "aud": audiences,
        "exp": int(expires.timestamp()),
        "iat": int(now.timestamp()),
        "iss": ISSUER,
        "kubernetes.io": {
            "namespace": meta["namespace"],
            "serviceaccount": {"name": meta["name"], "uid": meta["uid"]},
        },
        "nbf": int(now.timestamp()),
        "sub": f"system:serviceaccount:{meta['namespace']}:{meta['name']}",
    }
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    spec["audiences"] = audiences
    spec["expirationSeconds"] = seconds
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "creationTimestamp": rfc3339(now),
        },
        "spec": spec,
        "status": {"token": token, "expirationTimestamp": rfc3339(expires)},
    }
