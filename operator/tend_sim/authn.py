"""Authentication: bearer tokens to users, impersonation, and the per-user access log.

Off by default: every request is the cluster admin, as before. With `SimCluster(auth=True)`:

- no `Authorization` header, or the kubeconfig's token (`tend-sim`), is the admin
  `kubernetes-admin` in `system:masters` (a real server calls a request without credentials
  `system:anonymous`; here it stays the admin so the tests' raw HTTP clients keep working);
- a ServiceAccount token (minted by `serviceaccounts/{name}/token`, `kubectl create token`, or
  `Auth.token_for`) is `system:serviceaccount:<ns>:<name>` with the groups
  `system:serviceaccounts`, `system:serviceaccounts:<ns>` and `system:authenticated`, while the
  ServiceAccount exists with the same uid and the token has not expired (simulated time);
- any other bearer token is 401 Unauthorized.

`Impersonate-User` / `Impersonate-Group` headers switch the identity after checking the
`impersonate` verb on users / groups / serviceaccounts, as
staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go does.

kubectl sends bearer tokens only over TLS (client-go), so a kubeconfig with a ServiceAccount
token needs `SimCluster(tls=True)`; over http kubectl is the admin.

Tokens look like JWTs (header.claims.signature, base64url) signed with HMAC-SHA256 by a key of
the cluster; they are checked by signature, so they survive `restart_server`.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from tend_sim.authz import RBAC, Attributes, UserInfo, forbidden
from tend_sim.clock import rfc3339
from tend_sim.errors import ApiError

ADMIN_TOKEN = "tend-sim"
ADMIN = UserInfo("kubernetes-admin", ("system:masters", "system:authenticated"))
AUTHENTICATED = "system:authenticated"
SA_PREFIX = "system:serviceaccount:"
ISSUER = "https://kubernetes.default.svc.cluster.local"


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def service_account_user(namespace: str, name: str, uid: str = "", jti: str = "") -> UserInfo:
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()
    if jti:
        extra = (("authentication.kubernetes.io/credential-id", (f"JTI={jti}",)),)
    return UserInfo(
        f"{SA_PREFIX}{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED),
        uid,
        extra,
    )


def split_service_account(username: str) -> tuple[str, str] | None:
    if not username.startswith(SA_PREFIX):
        return None
    ns, sep, name = username[len(SA_PREFIX) :].partition(":")
    return (ns, name) if sep and ns and name and ":" not in name else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Access(NamedTuple):
    """One kind of request a user made: what RBAC checked, and whether it allowed it."""

    user: str
    verb: str
    api_group: str
    resource: str  # "deployments" or "deployments/status"; a path for non-resource requests
    namespace: str
    allowed: bool


class Auth:
    """The cluster's authenticator, authorizer and access log."""

    def __init__(self, store: Any, enabled: bool = False) -> None:
        self.store = store
        self.enabled = enabled
        self.rbac = RBAC(store)
        self._key = secrets.token_bytes(32)
        self._sa = store.registry.get("", "v1", "serviceaccounts")
        self.access: collections.Counter[Access] = collections.Counter()

    # -- tokens ------------------------------------------------------------------------------

    def token_for(
        self,
        namespace: str,
        name: str,
        *,
        expiration_seconds: int = 3600,
        audiences: list[str] | None = None,
    ) -> tuple[str, datetime]:
        """Mint a token for an existing ServiceAccount (404 if it does not exist); its `aud`
        claim is the TokenRequest's audiences, the API server's own by default."""
        sa = self.store.get_entry(self._sa, namespace, name).obj
        now = self.store.now()
        expires = now + timedelta(seconds=expiration_seconds)
        claims = {
            "aud": list(audiences or [ISSUER]),
            "exp": int(expires.timestamp()),
            "iat": int(now.timestamp()),
            "iss": ISSUER,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {
                "namespace": namespace,
                "serviceaccount": {"name": name, "uid": sa["metadata"]["uid"]},
            },
            "nbf": int(now.timestamp()),
            "sub": f"{SA_PREFIX}{namespace}:{name}",
        }
        head = _b64(json.dumps({"alg": "HS256", "kid": "tend-sim"}).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = _b64(hmac.new(self._key, f"{head}.{body}".encode(), hashlib.sha256).digest())
        return f"{head}.{body}.{sig}", expires

    def token_user(self, token: str) -> UserInfo | None:
        """The ServiceAccount a token authenticates, or None (bad, expired, account gone)."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        want = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(_unb64(parts[2]), want):
                return None
            claims = json.loads(_unb64(parts[1]))
        except ValueError:
            return None
        if claims.get("exp", 0) <= self.store.now().timestamp():
            return None
        k8s = claims.get("kubernetes.io") or {}
        ns, sa = k8s.get("namespace", ""), k8s.get("serviceaccount") or {}
        try:
            current = self.store.get_entry(self._sa, ns, sa.get("name", "")).obj
        except ApiError:
            return None
        uid = current["metadata"]["uid"]
        if uid != sa.get("uid"):
            return None
        return service_account_user(ns, sa["name"], uid, str(claims.get("jti", "")))

    def token_request_status(self, namespace: str, name: str, spec: dict[str, Any]) -> Any:
        seconds = spec.get("expirationSeconds") or 3600
        token, expires = self.token_for(
            namespace, name, expiration_seconds=int(seconds), audiences=spec.get("audiences")
        )
        return {"token": token, "expirationTimestamp": rfc3339(expires)}

    # -- per request -------------------------------------------------------------------------

    def authenticate(self, headers: Any) -> UserInfo:
        """The requesting user (after impersonation); ApiError 401 or 403."""
        header = headers.get("Authorization")
        user = ADMIN
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise unauthorized()
            token = token.strip()
            if token != ADMIN_TOKEN:
                found = self.token_user(token)
                if found is None:
                    raise unauthorized()
                user = found
        if "Impersonate-User" in headers or "Impersonate-Group" in headers:
            user = self._impersonate(user, headers)
        return user

    def _impersonate(self, requester: UserInfo, headers: Any) -> UserInfo:
        target = headers.get("Impersonate-User", "")
        groups = list(headers.getall("Impersonate-Group", []))
        if not target:
            raise ApiError(500, "InternalError", "requested impersonation of groups without a user")
        sa = split_service_account(target)
        checks: list[Attributes] = []
        if sa is not None:
            checks.append(
                Attributes(
                    requester,
                    "impersonate",
                    True,
                    namespace=sa[0],
                    resource="serviceaccounts",
                    name=sa[1],
                )
            )
        else:
            checks.append(Attributes(requester, "impersonate", True, resource="users", name=target))
        checks.extend(
            Attributes(requester, "impersonate", True, resource="groups", name=g) for g in groups
        )
        for attrs in checks:
            allowed, reason = self.rbac.authorize(attrs)
            if not allowed:
                raise forbidden(attrs, reason)
        if not groups:
            if sa is not None:
                groups = ["system:serviceaccounts", f"system:serviceaccounts:{sa[0]}"]
            if AUTHENTICATED not in groups and target != "system:anonymous":
                groups.append(AUTHENTICATED)
        return UserInfo(target, tuple(groups))

    def authorize(self, attrs: Attributes) -> tuple[bool, str]:
        """RBAC decision for a request, recorded in the access log."""
        allowed, reason = self.rbac.authorize(attrs)
        resource = attrs.combined_resource if attrs.resource_request else attrs.path
        self.access[
            Access(attrs.user.name, attrs.verb, attrs.api_group, resource, attrs.namespace, allowed)
        ] += 1
        return allowed, reason

    # -- the log, for tests ------------------------------------------------------------------

    def used(self, user: str | None = None, *, allowed: bool | None = None) -> set[Access]:
        """The distinct requests made (by `user`), optionally only allowed or denied ones."""
        return {
            a
            for a in self.access
            if (user is None or a.user == user) and (allowed is None or a.allowed == allowed)
        }
