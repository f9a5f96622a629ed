"""resourceVersion, resourceVersionMatch and sendInitialEvents of list and watch requests.

Validation is apimachinery's `ValidateListOptions` / `validateWatchOptions`
(`pkg/apis/meta/internalversion/validation/validation.go`): 422 Invalid on `ListOptions`.
A resourceVersion newer than the store's waits for it like the watch cache's
`waitUntilFreshAndBlock` (3 s), then answers `storage.NewTooLargeResourceVersionError`: 504
Timeout with retryAfterSeconds 1 and the cause ResourceVersionTooLarge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tend_sim import errors
from tend_sim.errors import ApiError, Cause

EXACT = "Exact"
NOT_OLDER_THAN = "NotOlderThan"


@dataclass(frozen=True)
class ListOptions:
    resource_version: str
    match: str
    send_initial_events: bool | None
    allow_bookmarks: bool

    @property
    def rv(self) -> int | None:
        """The resourceVersion as a number; None for "" (and 0 means "any")."""
        return int(self.resource_version) if self.resource_version else None


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    if value.lower() in ("1", "t", "true"):
        return True
    if value.lower() in ("0", "f", "false", ""):
        return False
    raise errors.bad_request(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def parse(query: Mapping[str, str], *, watch: bool, continue_: bool) -> ListOptions:
    """Parse and validate; 400 for an unparsable value, 422 for a forbidden combination."""
    rv = query.get("resourceVersion", "")
    if rv:
        try:
            if int(rv) < 0:
                raise ValueError(rv)
        except ValueError:
            raise errors.bad_request(f'invalid resource version "{rv}"') from None
    opts = ListOptions(
        rv,
        query.get("resourceVersionMatch", ""),
        _bool(query.get("sendInitialEvents")),
        bool(_bool(query.get("allowWatchBookmarks"))),
    )
    causes = _watch_causes(opts, continue_) if watch else _list_causes(opts, continue_)
    if causes:
        raise errors.invalid("ListOptions", "meta.k8s.io", "", causes)
    return opts


def _forbidden(field: str, message: str) -> Cause:
    return Cause(errors.FIELD_VALUE_FORBIDDEN, f"Forbidden: {message}", field)


def _not_supported(field: str, value: str, supported: list[str]) -> Cause:
    values = ", ".join(f'"{s}"' for s in supported)
    return Cause(
        errors.FIELD_VALUE_NOT_SUPPORTED,
        f'Unsupported value: "{value}": supported values: {values}',
        field,
    )


def _list_causes(opts: ListOptions, continue_: bool) -> list[Cause]:
    causes = []
    match = opts.match
    if match:
        if not opts.resource_version:
            causes.append(
                _forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                )
            )
        if continue_:
            causes.append(
                _forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided",
                )
            )
        if match not in (EXACT, NOT_OLDER_THAN):
            causes.append(
                _not_supported("resourceVersionMatch", match, [EXACT, NOT_OLDER_THAN, ""])
            )
        if match == EXACT and opts.resource_version == "0":
            causes.append(
                _forbidden(
                    "resourceVersionMatch",
                    'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
                )
            )
    if opts.send_initial_events is not None:
        causes.append(_forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    return causes


def _watch_causes(opts: ListOptions, continue_: bool) -> list[Cause]:
    causes = []
    match = opts.match
    if opts.send_initial_events is not None and match != NOT_OLDER_THAN:
        causes.append(
            _forbidden(
                "resourceVersionMatch",
                f"sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}",
            )
        )
    if match:
        if opts.send_initial_events is None:
            causes.append(
                _forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
                    "provided",
                )
            )
        if match != NOT_OLDER_THAN:
            causes.append(_not_supported("resourceVersionMatch", match, [NOT_OLDER_THAN]))
        if continue_:
            causes.append(
                _forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided",
                )
            )
    return causes


def too_large(requested: int, current: int) -> ApiError:
    """storage.NewTooLargeResourceVersionError(requested, current, 1)."""
    return ApiError(
        504,
        "Timeout",
        f"Timeout: Too large resource version: {requested}, current: {current}",
        causes=[Cause("ResourceVersionTooLarge", "Too large resource version", "")],
        retry_after=1,
    )
