"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge patch.

Strategic merge patch is served for built-in kinds only (custom resources answer 415, like the
real server); lists merge by the patchMergeKey of the Kubernetes Go types (containers by name,
ports by containerPort/port, env by name, conditions by type, ...), and the directives kubectl
sends ($patch, $setElementOrder, $deleteFromPrimitiveList, $retainKeys) are honoured.
Server-side apply (application/apply-patch+yaml) is not a patch of this kind: the store runs
it through managed_fields.py (apply_patch refuses it with 415, which is what /scale answers).
"""

from __future__ import annotations

from typing import Any

from tend_sim import errors
from tend_sim.objects import deep_copy
from tend_sim.resources import ResourceType

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE, STRATEGIC, APPLY)
CUSTOM_PATCH_TYPES = (JSON_PATCH, MERGE, APPLY)


def apply_patch(rt: ResourceType, current: dict[str, Any], patch: Any, patch_type: str) -> Any:
    """The patched object; ApiError 400/415/422 like the real server."""
    if patch_type == MERGE:
        if not isinstance(patch, dict):
            raise errors.bad_request(
                "json: cannot unmarshal into Go value of type map[string]"
                "interface {}: a merge patch must be a JSON object"
            )
        return merge_patch(current, patch)
    if patch_type == JSON_PATCH:
        return json_patch(current, patch)
    if patch_type == STRATEGIC:
        if rt.custom:
            raise errors.unsupported_media_type(patch_type, list(CUSTOM_PATCH_TYPES))
        if not isinstance(patch, dict):
            raise errors.bad_request("a strategic merge patch must be a JSON object")
        result = strategic_merge(current, patch, (), rt)
        return result if result is not None else {}
    accepted = list(CUSTOM_PATCH_TYPES if rt.custom else PATCH_TYPES)
    if patch_type == APPLY:
        raise errors.ApiError(
            415,
            "UnsupportedMediaType",
            "server-side apply through /scale is not supported by the simulated API server; "
            "apply to the resource itself, or patch /scale with a merge patch",
        )
    raise errors.unsupported_media_type(patch_type, accepted)


# -- RFC 7386 ----------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return deep_copy(patch)
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# -- RFC 6902 ----------------------------------------------------------------------------------


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise errors.bad_request(f"invalid JSON pointer: {path!r}")
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _fail(message: str) -> errors.ApiError:
    return errors.unprocessable(message)


def _resolve(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise _fail(f'doc is missing path: "{path}": missing value')
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                i = int(p)
            except ValueError:
                raise _fail(f'doc is missing path: "{path}": invalid index') from None
            if not 0 <= i < len(cur):
                raise _fail(f'doc is missing path: "{path}": missing value')
            cur = cur[i]
        else:
            raise _fail(f'doc is missing path: "{path}": missing value')
    return cur


def _add(doc: Any, parts: list[str], value: Any, path: str) -> Any:
    if not parts:
        return value
    parent = _resolve(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                i = int(last)
            except ValueError:
                raise _fail(f'add operation on "{path}": invalid index') from None
            if not 0 <= i <= len(parent):
                raise _fail(f'add operation does not apply: doc is missing path: "{path}"')
            parent.insert(i, value)
    else:
        raise _fail(f'add operation does not apply: doc is missing path: "{path}"')
    return doc


def _remove(doc: Any, parts: list[str], path: str) -> tuple[Any, Any]:
    if not parts:
        raise _fail("remove operation does not apply: cannot remove the whole document")
    parent = _resolve(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _fail(f'remove operation does not apply: doc is missing path: "{path}"')
        return doc, parent.pop(last)
    if isinstance(parent, list):
        try:
            i = int(last)
        except ValueError:
            raise _fail(f'remove operation on "{path}": invalid index') from None
        if not 0 <= i < len(parent):
            raise _fail(f'remove operation does not apply: doc is missing path: "{path}"')
        return doc, parent.pop(i)
    raise _fail(f'remove operation does not apply: doc is missing path: "{path}"')


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise errors.bad_request(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
        )
    doc = deep_copy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise errors.bad_request(f"invalid JSON patch operation: {op!r}")
        kind = op["op"]
        path = op["path"]
        parts = _pointer(path)
        if kind in ("add", "replace", "test") and "value" not in op:
            raise errors.bad_request(f"missing value for {kind} operation at {path}")
        if kind == "add":
            doc = _add(doc, parts, deep_copy(op["value"]), path)
        elif kind == "remove":
            doc, _ = _remove(doc, parts, path)
        elif kind == "replace":
            doc, _ = _remove(doc, parts, path) if parts else (doc, None)
            doc = _add(doc, parts, deep_copy(op["value"]), path)
        elif kind in ("move", "copy"):
            src = _pointer(op.get("from"))
            if kind == "move":
                doc, value = _remove(doc, src, str(op.get("from")))
            else:
                value = deep_copy(_resolve(doc, src, str(op.get("from"))))
            doc = _add(doc, parts, value, path)
        elif kind == "test":
            try:
                actual = _resolve(doc, parts, path)
            except errors.ApiError:
                raise _fail(f"testing value {path} failed: test failed") from None
            if actual != op["value"]:
                raise _fail(f"testing value {path} failed: test failed")
        else:
            raise errors.bad_request(f"Unexpected kind: {kind}")
    return doc


# -- strategic merge patch ---------------------------------------------------------------------

_PRIMITIVE_MERGE = "<primitive>"
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
_BY_NAME = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "resourceClaims": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
}


def merge_key(rt: ResourceType, path: tuple[str, ...]) -> str | None:
    """patchMergeKey of the list at `path` (map keys only), None when the list is atomic."""
    last = path[-1]
    parent = path[-2] if len(path) > 1 else ""
    if last == "finalizers" and parent == "metadata":
        return _PRIMITIVE_MERGE
    if last == "ports":
        if parent in _CONTAINER_LISTS:
            return "containerPort"
        if rt.kind == "Service" and path == ("spec", "ports"):
            return "port"
        return None
    if last == "conditions" and "status" not in path:
        return None
    return _BY_NAME.get(last)


def _strip(value: Any) -> Any:
    """A patch value used as-is: drop directives."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def strategic_merge(
    original: Any, patch: dict[str, Any], path: tuple[str, ...], rt: ResourceType
) -> dict[str, Any] | None:
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        replaced: dict[str, Any] = _strip({k: v for k, v in patch.items() if k != "$patch"})
        return replaced
    if directive not in (None, "merge"):
        raise errors.bad_request(f"Unknown patch type: {directive}")
    result: dict[str, Any] = dict(original) if isinstance(original, dict) else {}
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            if not isinstance(value, list):
                raise errors.bad_request("invalid $setElementOrder directive: not a list")
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            current = result.get(field)
            if isinstance(current, list) and isinstance(value, list):
                result[field] = [v for v in current if v not in value]
            continue
        if key.startswith("$"):
            raise errors.bad_request(f"unknown strategic merge patch directive {key}")
        if value is None:
            result.pop(key, None)
            continue
        sub = (*path, key)
        current = result.get(key)
        if isinstance(value, dict):
            merged = strategic_merge(current if isinstance(current, dict) else {}, value, sub, rt)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            mk = merge_key(rt, sub)
            if mk is None:
                result[key] = _strip(value)
            elif mk == _PRIMITIVE_MERGE:
                merged_list = list(current) if isinstance(current, list) else []
                for v in value:
                    if v not in merged_list:
                        merged_list.append(v)
                result[key] = merged_list
            else:
                result[key] = _merge_list(
                    current if isinstance(current, list) else [], value, mk, sub, rt
                )
        else:
            result[key] = value
    for field, order in orders.items():
        items = result.get(field)
        if isinstance(items, list):
            result[field] = _reorder(items, order, merge_key(rt, (*path, field)))
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(
    original: list[Any], patch: list[Any], key: str, path: tuple[str, ...], rt: ResourceType
) -> list[Any]:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [_strip(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    result = [deep_copy(o) for o in original]
    for item in patch:
        if not isinstance(item, dict):
            raise errors.bad_request(f"map: {item!r} does not contain declared merge key: {key}")
        if key not in item:
            raise errors.bad_request(f"map: {item!r} does not contain declared merge key: {key}")
        idx = next(
            (i for i, o in enumerate(result) if isinstance(o, dict) and o.get(key) == item[key]),
            None,
        )
        if item.get("$patch") == "delete":
            if idx is not None:
                result.pop(idx)
            continue
        if idx is None:
            merged = strategic_merge({}, item, path, rt)
            if merged is not None:
                result.append(merged)
        else:
            merged = strategic_merge(result[idx], item, path, rt)
            if merged is None:
                result.pop(idx)
            else:
                result[idx] = merged
    return result


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(v: Any) -> Any:
        if key and key != _PRIMITIVE_MERGE and isinstance(v, dict):
            return v.get(key)
        return v if not isinstance(v, dict | list) else repr(v)

    wanted = [ident(o) for o in order]
    position = {w: i for i, w in enumerate(wanted)}
    ranked = sorted(
        enumerate(items),
        key=lambda pair: (position.get(ident(pair[1]), len(wanted)), pair[0]),
    )
    return [v for _, v in ranked]
