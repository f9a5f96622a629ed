"""Field managers: who a write is by, and how an apply conflict names them.

A manager is the request's `fieldManager`, or else the start of its User-Agent
(prefixFromUserAgent); names are checked like ValidateFieldManager (128 bytes, printable, and
required for apply). Managers are keyed like BuildManagerIdentifier (an applier by name and
subresource, an updater also by apiVersion), and a conflict is reported like NewConflictError
(k8s.io/apimachinery/pkg/util/managedfields/internal/conflict.go).
"""

from __future__ import annotations

import functools
import json
import unicodedata

from tend_sim import errors
from tend_sim.errors import ApiError, Cause
from tend_sim.fieldsets import Tree, member_paths

MAX_MANAGER_LENGTH = 128
FIELD_MANAGER_CONFLICT = "FieldManagerConflict"

# (manager, operation, apiVersion ("" for appliers), subresource).
Key = tuple[str, str, str, str]


# -- manager names ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)  # a client sends the same User-Agent on every request
def manager_from_user_agent(user_agent: str) -> str:
    """prefixFromUserAgent: the part before the first "/", printable characters only, cut to
    128 bytes (kubectl/v1.37.0 (linux/amd64) ... -> kubectl)."""
    out: list[str] = []
    size = 0
    for ch in user_agent.split("/", 1)[0]:
        if not _printable(ch):
            continue
        n = len(ch.encode())
        if size + n > MAX_MANAGER_LENGTH:
            break
        out.append(ch)
        size += n
    return "".join(out)


def _printable(ch: str) -> bool:
    """Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and ASCII space."""
    return ch == " " or unicodedata.category(ch)[0] in "LMNPS"


def validate_field_manager(manager: str, options_kind: str, apply: bool) -> None:
    """ValidateFieldManager (and, for apply, ValidatePatchOptions): 422 on the options."""
    causes: list[Cause] = []
    if apply and not manager:
        causes.append(
            Cause(
                errors.FIELD_VALUE_REQUIRED,
                "Required value: is required for apply patch",
                "fieldManager",
            )
        )
    if len(manager.encode()) > MAX_MANAGER_LENGTH:
        causes.append(
            Cause(
                errors.FIELD_VALUE_TOO_LONG,
                f"Too long: may not be more than {MAX_MANAGER_LENGTH} bytes",
                "fieldManager",
            )
        )
    for i, ch in enumerate(manager):
        if not _printable(ch):
            causes.append(
                Cause(
                    errors.FIELD_VALUE_INVALID,
                    f"Invalid value: {json.dumps(manager)}: invalid character "
                    f"U+{ord(ch):04X} (at position {i})",
                    "fieldManager",
                )
            )
    if causes:
        raise errors.invalid(options_kind, "meta.k8s.io", "", causes)


# -- conflicts ----------------------------------------------------------------------------------


def _identifier(key: Key) -> str:
    manager, op, api_version, sub = key
    ident: dict[str, str] = {"manager": manager, "operation": op}
    if api_version:
        ident["apiVersion"] = api_version
    if sub:
        ident["subresource"] = sub
    return json.dumps(ident, separators=(",", ":"))


def describe_manager(key: Key) -> str:
    """printManager: `"kubectl"`, `"kopf" with subresource "status"`, `"x" using apps/v1`."""
    manager, op, api_version, sub = key
    out = json.dumps(manager, ensure_ascii=False)
    if sub:
        out += f" with subresource {json.dumps(sub)}"
    if op == "Update":
        out += f" using {api_version}"
    return out


def conflict_error(conflicts: dict[Key, Tree]) -> ApiError:
    """NewConflictError: 409 Conflict, `Apply failed with N conflict(s): ...`."""
    ordered = sorted(conflicts, key=_identifier)
    pairs = [(k, p) for k in ordered for p in member_paths(conflicts[k])]
    causes = [
        Cause(FIELD_MANAGER_CONFLICT, f"conflict with {describe_manager(k)}", p) for k, p in pairs
    ]
    if len(pairs) == 1:
        k, p = pairs[0]
        message = f"Apply failed with 1 conflict: conflict with {describe_manager(k)}: {p}"
    else:
        lines = []
        for k in ordered:
            lines.append(f"conflicts with {describe_manager(k)}:")
            lines.extend(f"- {p}" for kk, p in pairs if kk == k)
        message = f"Apply failed with {len(pairs)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, causes=causes)
