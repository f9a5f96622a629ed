"""API errors of the simulated cluster, rendered as metav1.Status like the real API server.

Messages follow apimachinery's `k8s.io/apimachinery/pkg/api/errors` constructors word for word,
because clients (kubectl, kopf, kubernetes_asyncio) and humans read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# metav1.CauseType values.
FIELD_VALUE_REQUIRED = "FieldValueRequired"
FIELD_VALUE_INVALID = "FieldValueInvalid"
FIELD_VALUE_NOT_SUPPORTED = "FieldValueNotSupported"
FIELD_VALUE_DUPLICATE = "FieldValueDuplicate"
FIELD_VALUE_FORBIDDEN = "FieldValueForbidden"
FIELD_VALUE_TOO_LONG = "FieldValueTooLong"
FIELD_VALUE_TYPE_INVALID = "FieldValueTypeInvalid"
FIELD_VALUE_TOO_MANY = "FieldValueTooMany"
FIELD_VALUE_UNKNOWN = "FieldValueUnknown"


@dataclass
class Cause:
    """One entry of Status.details.causes: what is wrong with which field."""

    reason: str
    message: str
    field: str

    def to_dict(self) -> dict[str, str]:
        out = {"reason": self.reason, "message": self.message, "field": self.field}
        if not self.field:  # metav1.StatusCause: every field omitempty
            del out["field"]
        return out

    def describe(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass
class ApiError(Exception):
    """An API failure with an HTTP code and a metav1 StatusReason."""

    code: int
    reason: str
    message: str
    causes: list[Cause] = field(default_factory=list)
    name: str | None = None
    group: str | None = None
    kind: str | None = None
    uid: str | None = None
    retry_after: int | None = None
    # ListMeta.continue of the Status (an inconsistent continue token after a 410).
    list_continue: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def to_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.list_continue:
            status["metadata"] = {"continue": self.list_continue}
        if not self.reason:  # metav1.StatusReasonUnknown is "", omitted like any empty field
            del status["reason"]
        details: dict[str, Any] = {}
        if self.name is not None:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind is not None:
            details["kind"] = self.kind
        if self.uid is not None:
            details["uid"] = self.uid
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        if details:
            status["details"] = details
        return status


def _qualified(resource: str, group: str) -> str:
    """`pods` or `managedservices.tend.dev`, as in schema.GroupResource.String()."""
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{_qualified(resource, group)} "{name}" not found',
        name=name,
        group=group,
        kind=resource,
    )


def already_exists(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        name=name,
        group=group,
        kind=resource,
    )


def conflict(resource: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}',
        name=name,
        group=group,
        kind=resource,
    )


STALE_OBJECT = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def stale(resource: str, group: str, name: str) -> ApiError:
    return conflict(resource, group, name, STALE_OBJECT)


def invalid(kind: str, group: str, name: str, causes: list[Cause]) -> ApiError:
    """422 Invalid, message like `Kind.group "name" is invalid: [field: msg, field: msg]`."""
    parts = [c.describe() for c in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{_qualified(kind, group)} "{name}" is invalid: {joined}',
        causes=list(causes),
        name=name,
        group=group,
        kind=kind,
    )


def bad_request(message: str, causes: list[Cause] | None = None) -> ApiError:
    return ApiError(400, "BadRequest", message, causes=list(causes or []))


def forbidden(resource: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(
        403,
        "Forbidden",
        f'{_qualified(resource, group)} "{name}" is forbidden: {why}',
        name=name,
        group=group,
        kind=resource,
    )


def expired(message: str) -> ApiError:
    """410 with reason Expired: a resourceVersion or continue token older than the history."""
    return ApiError(410, "Expired", message)


def method_not_allowed(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str, accepted: list[str]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(accepted)}",
    )


def unprocessable(message: str) -> ApiError:
    """422 without field causes, e.g. a failed JSON patch `test` operation."""
    return ApiError(422, "Invalid", message)


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", message)
