"""The create-only kinds that are answered, not stored: access reviews, who-am-I, tokens.

authorization.k8s.io/v1 SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview,
LocalSubjectAccessReview (pkg/registry/authorization/*), authentication.k8s.io/v1
SelfSubjectReview and TokenReview (pkg/registry/authentication/*), and the TokenRequest of
`serviceaccounts/{name}/token` (pkg/registry/core/serviceaccount/storage/token.go). Each
echoes the request with `status` filled in, with 201 Created, as the real registries do.
"""

from __future__ import annotations

from typing import Any

from tend_sim import errors
from tend_sim.authn import ISSUER, Auth
from tend_sim.authz import Attributes, UserInfo
from tend_sim.errors import Cause

AUTHORIZATION = "authorization.k8s.io"
AUTHENTICATION = "authentication.k8s.io"
# plural -> (group, kind)
KINDS = {
    "selfsubjectaccessreviews": (AUTHORIZATION, "SelfSubjectAccessReview"),
    "selfsubjectrulesreviews": (AUTHORIZATION, "SelfSubjectRulesReview"),
    "subjectaccessreviews": (AUTHORIZATION, "SubjectAccessReview"),
    "localsubjectaccessreviews": (AUTHORIZATION, "LocalSubjectAccessReview"),
    "selfsubjectreviews": (AUTHENTICATION, "SelfSubjectReview"),
    "tokenreviews": (AUTHENTICATION, "TokenReview"),
}


def _invalid(kind: str, group: str, field: str, message: str) -> errors.ApiError:
    return errors.invalid(kind, group, "", [Cause(errors.FIELD_VALUE_INVALID, message, field)])


def _spec(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request must be a JSON object")
    spec = body.get("spec")
    if spec is None:
        spec = body["spec"] = {}
    if not isinstance(spec, dict):
        raise errors.bad_request("spec must be a JSON object")
    return spec


def _attributes(user: UserInfo, spec: dict[str, Any], kind: str) -> Attributes:
    res, non = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if (res is None) == (non is None):
        raise _invalid(
            kind,
            AUTHORIZATION,
            "spec.resourceAttributes",
            'Invalid value: "null": exactly one of nonResourceAttributes or '
            "resourceAttributes must be specified",
        )
    if res is None:
        assert non is not None
        return Attributes(user, str(non.get("verb", "")), False, path=str(non.get("path", "")))
    return Attributes(
        user,
        str(res.get("verb", "")),
        True,
        namespace=str(res.get("namespace", "")),
        api_group=str(res.get("group", "")),
        api_version=str(res.get("version", "")),
        resource=str(res.get("resource", "")),
        subresource=str(res.get("subresource", "")),
        name=str(res.get("name", "")),
    )


def _decide(auth: Auth, attrs: Attributes) -> dict[str, Any]:
    allowed, reason = auth.rbac.authorize(attrs)
    status: dict[str, Any] = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    return status


def _subject(spec: dict[str, Any], kind: str) -> UserInfo:
    user, groups = spec.get("user") or "", list(spec.get("groups") or [])
    if not user and not groups:
        raise _invalid(
            kind,
            AUTHORIZATION,
            "spec.user",
            'Invalid value: "": at least one of user or group must be specified',
        )
    extra = tuple((k, tuple(v)) for k, v in sorted((spec.get("extra") or {}).items()))
    return UserInfo(str(user), tuple(groups), str(spec.get("uid") or ""), extra)


def review(
    auth: Auth, user: UserInfo, plural: str, namespace: str | None, body: dict[str, Any]
) -> dict[str, Any]:
    """The answered object for a POST of `body` to `plural` by `user`."""
    group, kind = KINDS[plural]
    spec = _spec(body)
    body["apiVersion"], body["kind"] = f"{group}/v1", kind
    meta = body.setdefault("metadata", {})
    if plural == "selfsubjectaccessreviews":
        body["status"] = _decide(auth, _attributes(user, spec, kind))
    elif plural == "subjectaccessreviews":
        body["status"] = _decide(auth, _attributes(_subject(spec, kind), spec, kind))
    elif plural == "localsubjectaccessreviews":
        if spec.get("nonResourceAttributes") is not None:
            raise _invalid(
                kind,
                AUTHORIZATION,
                "spec.nonResourceAttributes",
                "Invalid value: disallowed on this kind of request",
            )
        res = spec.get("resourceAttributes") or {}
        if res.get("namespace") != namespace:
            raise _invalid(
                kind,
                AUTHORIZATION,
                "spec.resourceAttributes.namespace",
                f'Invalid value: "{res.get("namespace", "")}": must match metadata.namespace',
            )
        meta["namespace"] = namespace
        body["status"] = _decide(auth, _attributes(_subject(spec, kind), spec, kind))
    elif plural == "selfsubjectrulesreviews":
        ns = str(spec.get("namespace") or "")
        resource_rules, non_resource, errs = auth.rbac.rules_for(user, ns)
        status: dict[str, Any] = {
            "resourceRules": resource_rules,
            "nonResourceRules": non_resource,
            "incomplete": bool(errs),
        }
        if errs:
            status["evaluationError"] = ", ".join(errs)
        body["status"] = status
    elif plural == "selfsubjectreviews":
        body["status"] = {"userInfo": user.to_dict()}
    else:  # tokenreviews
        found = auth.token_user(str(spec.get("token") or ""))
        if found is None:
            body["status"] = {"user": {}, "error": "invalid bearer token"}
        else:
            body["status"] = {
                "authenticated": True,
                "user": found.to_dict(),
                "audiences": list(spec.get("audiences") or [ISSUER]),
            }
    return body


def token_request(auth: Auth, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """The answered TokenRequest for `serviceaccounts/{name}/token`."""
    spec = _spec(body)
    kind = "TokenRequest"
    seconds = spec.get("expirationSeconds")
    if seconds is None:
        seconds = spec["expirationSeconds"] = 3600
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise errors.bad_request("spec.expirationSeconds must be an integer")
    if seconds < 600:
        raise errors.invalid(
            kind,
            AUTHENTICATION,
            name,
            [
                Cause(
                    errors.FIELD_VALUE_INVALID,
                    f"Invalid value: {seconds}: may not specify a duration less than 10 minutes",
                    "spec.expirationSeconds",
                )
            ],
        )
    if seconds > 1 << 32:
        raise errors.invalid(
            kind,
            AUTHENTICATION,
            name,
            [
                Cause(
                    errors.FIELD_VALUE_INVALID,
                    f"Invalid value: {seconds}: may not specify a duration larger than 2^32 "
                    "seconds",
                    "spec.expirationSeconds",
                )
            ],
        )
    if not spec.get("audiences"):
        spec["audiences"] = [ISSUER]
    spec.setdefault("boundObjectRef", None)
    body["apiVersion"], body["kind"] = f"{AUTHENTICATION}/v1", kind
    meta = body.setdefault("metadata", {})
    meta.update(name=name, namespace=namespace)
    meta.setdefault("creationTimestamp", None)
    body["status"] = auth.token_request_status(namespace, name, spec)
    return body
