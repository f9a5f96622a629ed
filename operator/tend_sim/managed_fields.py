"""metadata.managedFields: who owns which field, recorded on every write, and server-side apply.

This is kube-apiserver's field manager stack (k8s.io/apimachinery/pkg/util/managedfields/
internal: structuredmerge, managedfieldsupdater, stripmeta, conflict) over the
structured-merge-diff Updater (merge/update.go), for the simulator:

- every create, update and non-apply patch is an `Update` by its manager: it takes the
  fields it added or changed (from whoever owned them) and others lose the fields it removed;
  its entry's time moves only when it changed something; past 10 updaters the oldest fold
  into `ancient-changes` (capmanagers.go);
- an apply merges the configuration into the live object, owns exactly the configuration's
  fields, prunes the fields it applied last time and no longer does (unless someone else owns
  them), and fails with 409 when it would change a field another manager owns, unless forced;
- managers (field_managers.py) are keyed like BuildManagerIdentifier; entries are sorted
  like sortEncodedManagedFields; kubectl's last-applied annotation is last_applied.py's;
- the object's own bookkeeping (apiVersion, kind, metadata.name/uid/...) is never owned, and
  `status` is not owned through the main resource when it has a status subresource (nor
  `spec` through /status): the strategies' reset fields.

Entries are small and shared: an entry that did not change is kept as it was, and equal
entries of different objects are one dict (stored objects are never mutated in place).
"""

from __future__ import annotations

from typing import Any

from tend_sim.field_managers import Key, conflict_error
from tend_sim.field_types import Shape, shape_of
from tend_sim.fieldsets import (
    Tree,
    difference,
    intersection,
    is_member,
    recursive_difference,
    union,
    valid,
)
from tend_sim.last_applied import KUBECTL, not_allowed_by_last_applied
from tend_sim.objects import deep_copy
from tend_sim.resources import ResourceType
from tend_sim.typed import (
    INTERNED,
    SchemaError,
    compare,
    created,
    field_set,
    intern,
    merge,
    named_members,
    remove,
)


class ManagerSet:
    """One manager's fields, the apiVersion it used and when it last changed the object;
    `entry` is the encoded entry it came from while nothing changed."""

    __slots__ = ("api_version", "entry", "fields", "time")

    def __init__(
        self, fields: Tree, api_version: str, time: str | None, entry: dict[str, Any] | None
    ) -> None:
        self.fields = fields
        self.api_version = api_version
        self.time = time
        self.entry = entry


Managers = dict[Key, ManagerSet]

_STRIP: Tree = {
    "f:apiVersion": {},
    "f:kind": {},
    "f:metadata": {
        ".": {},
        **{
            f"f:{k}": {}
            for k in (
                "name",
                "namespace",
                "creationTimestamp",
                "selfLink",
                "uid",
                "clusterName",
                "generation",
                "managedFields",
                "resourceVersion",
            )
        },
    },
}
_STRIP_META = frozenset(_STRIP["f:metadata"])
_BOOKKEEPING = frozenset(k[2:] for k in _STRIP_META if k.startswith("f:"))
_STATUS: Tree = {"f:status": {}}


def _strip(fields: Tree) -> Tree:
    """stripMeta: the set without the object's bookkeeping (`fields - _STRIP`, cheaply)."""
    if "f:apiVersion" not in fields and "f:kind" not in fields and "f:metadata" not in fields:
        return fields
    out = dict(fields)
    out.pop("f:apiVersion", None)
    out.pop("f:kind", None)
    meta = out.get("f:metadata")
    if meta is not None:
        left = {k: v for k, v in meta.items() if k not in _STRIP_META or not is_member(v)}
        for k in _STRIP_META:
            v = meta.get(k)
            if v and is_member(v) and len(v) > 1:
                left[k] = intern({kk: vv for kk, vv in v.items() if kk != "."})  # its children
        if left:
            out["f:metadata"] = intern(left)
        else:
            del out["f:metadata"]
    return intern(out)


_SPEC: Tree = {"f:spec": {}}


def reset_fields(status_subresource: bool, subresource: str) -> Tree | None:
    """What the registry strategy resets, so nobody owns it through this endpoint."""
    if subresource == "status":
        return _SPEC
    if status_subresource and not subresource:
        return _STATUS
    return None


# -- decoding and encoding ----------------------------------------------------------------------


def decode(entries: Any, *, trusted: bool = False) -> Managers | None:
    """The managers of a managedFields list; None when it is not a valid one. trusted: the
    stored object's own entries (already checked when they were written)."""
    if not isinstance(entries, list):
        return None
    out: Managers = {}
    for e in entries:
        if not isinstance(e, dict):
            return None
        op = e.get("operation")
        if op not in ("Apply", "Update") or e.get("fieldsType") != "FieldsV1":
            return None
        fields = e.get("fieldsV1", {})
        if not trusted:
            if not valid(fields):
                return None
            fields = deep_copy(fields)
        api_version = str(e.get("apiVersion") or "")
        key = (
            str(e.get("manager") or ""),
            op,
            "" if op == "Apply" else api_version,
            str(e.get("subresource") or ""),
        )
        # A request's own entries are re-encoded: the store keeps no dict a caller holds.
        out[key] = ManagerSet(fields, api_version, e.get("time"), e if trusted else None)
    return out


def is_reset(entries: Any) -> bool:
    """`managedFields: []` or `[{}]` in a request clears them (isResetManagedFields)."""
    return isinstance(entries, list) and (not entries or (len(entries) == 1 and entries[0] == {}))


_SHARED: dict[tuple[Any, ...], dict[str, Any]] = {}


def encode(managers: Managers) -> list[dict[str, Any]]:
    """The managedFields list, sorted by operation, time, manager, apiVersion, subresource."""
    entries = []
    for key, ms in managers.items():
        entry = ms.entry
        if entry is None:
            manager, op, _, sub = key
            entry = {"manager": manager, "operation": op, "apiVersion": ms.api_version}
            if ms.time:
                entry["time"] = ms.time
            entry["fieldsType"] = "FieldsV1"
            entry["fieldsV1"] = ms.fields
            if sub:
                entry["subresource"] = sub
            entry = _share(entry)
        entries.append(entry)
    entries.sort(
        key=lambda e: (
            e["operation"],
            e.get("time") or "",
            e.get("manager", ""),
            e.get("apiVersion", ""),
            e.get("subresource", ""),
        )
    )
    return entries


def _share(entry: dict[str, Any]) -> dict[str, Any]:
    """One dict for equal entries of different objects (10,000 objects applied alike hold one).
    Interned field sets (typed.intern) are keyed by identity, the rest by their repr."""
    fields = entry["fieldsV1"]
    key = (
        entry["manager"],
        entry["operation"],
        entry["apiVersion"],
        entry.get("time"),
        entry.get("subresource"),
        id(fields) if id(fields) in INTERNED else repr(fields),
    )
    shared = _SHARED.get(key)
    if shared is None:
        if len(_SHARED) >= 20_000:
            _SHARED.clear()
        shared = _SHARED[key] = entry
    return shared


# -- Update and Apply ---------------------------------------------------------------------------


def _changed(ms: ManagerSet, fields: Tree, time: str | None) -> ManagerSet:
    if fields is ms.fields and time == ms.time:
        return ms
    return ManagerSet(fields, ms.api_version, time, None)


def _lose(managers: Managers, skip: Key | None, taken: Tree, removed: Tree) -> None:
    """Other managers lose what this write took (`taken`) or removed."""
    lost = union(taken, removed)
    if not lost:
        return
    for key, ms in list(managers.items()):
        if key == skip:
            continue
        left = difference(ms.fields, lost)
        if not left:
            del managers[key]
        elif left != ms.fields:
            managers[key] = _changed(ms, left, ms.time)


def update(
    shape: Shape,
    old: Any,
    new: Any,
    managers: Managers,
    key: Key,
    api_version: str,
    now: str,
    reset: Tree | None,
    *,
    creating: bool = False,
) -> Managers:
    """An Update by `key`: managers after the write old -> new (creating: old is the kind's
    zero value)."""
    modified: Tree
    removed: Tree
    if creating:
        added, modified, removed = created(old, new, shape), {}, {}
    else:
        added, modified, removed = compare(old, new, shape)
    if not (added or modified or removed):
        return managers
    if reset:
        added = recursive_difference(added, reset)
        modified = recursive_difference(modified, reset)
        removed = recursive_difference(removed, reset)
    out = dict(managers)
    taken = union(added, modified)
    _lose(out, None, taken, removed)
    mine = _strip(taken)
    if mine:
        previous = out.get(key)
        if previous is None:
            out[key] = ManagerSet(mine, api_version, now, None)
        else:
            fields = union(previous.fields, mine)
            if previous.time != now or fields != previous.fields:
                out[key] = ManagerSet(fields, api_version, now, None)
        _cap_updaters(out)
    return out


MAX_UPDATE_MANAGERS = 10
ANCIENT = "ancient-changes"


def _cap_updaters(managers: Managers) -> None:
    """capManagersManager: past 10 Update entries, the oldest merge, per apiVersion, into an
    `ancient-changes` entry (which takes the time of the newest it absorbed)."""
    updaters = [k for k in managers if k[1] == "Update"]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return
    updaters.sort(key=lambda k: (managers[k].time or "", k[0]))
    first: dict[str, Key] = {}
    length = len(updaters)
    for k in updaters:
        if length <= MAX_UPDATE_MANAGERS:
            break
        ms = managers[k]
        bucket: Key = (ANCIENT, "Update", ms.api_version, "")
        if ms.api_version not in first:
            first[ms.api_version] = k
            continue
        if bucket not in managers:
            managers[bucket] = managers.pop(first[ms.api_version])
        merged = union(ms.fields, managers[bucket].fields)
        managers[bucket] = ManagerSet(merged, ms.api_version, ms.time, None)
        del managers[k]
        length -= 1


def apply(
    shape: Shape,
    live: Any,
    config: dict[str, Any],
    managers: Managers,
    key: Key,
    api_version: str,
    now: str,
    reset: Tree | None,
    force: bool,
) -> tuple[Any, Managers]:
    """An Apply by `key`: (the object to store, its managers). 409 on conflicts unless forced.
    The object is `live` itself when the apply changes nothing in it."""
    merged = merge(live, config, shape)
    last = managers.get(key)
    applied = field_set(config, shape, strict=True)
    if reset:
        applied = recursive_difference(applied, reset)
    out = dict(managers)
    out[key] = ManagerSet(applied, api_version, last.time if last else None, None)
    if last is not None and last.fields:
        merged = _prune(shape, merged, out, last.fields)
    added, modified, removed = compare(live, merged, shape)
    if reset:
        added = recursive_difference(added, reset)
        modified = recursive_difference(modified, reset)
        removed = recursive_difference(removed, reset)
    changed = union(added, modified)
    conflicts = {
        k: both for k, ms in out.items() if k != key and (both := intersection(ms.fields, changed))
    }
    if conflicts and not force and key[0] == KUBECTL:
        conflicts = not_allowed_by_last_applied(shape, live, api_version, conflicts)
    if conflicts and not force:
        raise conflict_error(conflicts)
    _lose(out, key, changed, removed)
    mine = _strip(applied)
    unchanged = merged is live or merged == live
    time = (last.time if last else None) if unchanged else now
    if not mine:
        out.pop(key, None)
    elif last is not None and mine == last.fields and time == last.time:
        out[key] = last
    else:
        out[key] = ManagerSet(mine, api_version, time, None)
    return (live if unchanged else merged), out


def _prune(shape: Shape, merged: Any, managers: Managers, last: Tree) -> Any:
    """Updater.prune: drop what the applier applied last time and no longer does, unless a
    manager (or the new configuration) still owns it."""
    last_n = named_members(last, shape)
    pruned = remove(merged, last_n, shape)
    owned: Tree = {}
    for ms in managers.values():
        owned = union(owned, ms.fields)
    merged_n = named_members(field_set(merged, shape), shape)
    pruned_n = named_members(field_set(pruned, shape), shape)
    owned_n = named_members(owned, shape)
    pruned = remove(merged, difference(merged_n, union(pruned_n, owned_n)), shape)
    pruned_n = named_members(field_set(pruned, shape), shape)
    return remove(merged, intersection(difference(merged_n, pruned_n), last_n), shape)


# -- the store's side ---------------------------------------------------------------------------


def empty_object(rt: ResourceType, shape: Shape) -> dict[str, Any]:
    """What the live object is before a create: the kind's zero value (a built-in's Go
    struct has metadata, spec and status; an unstructured custom resource has nothing)."""
    if rt.custom:
        return {}
    return {k: {} for k in ("metadata", "spec", "status") if shape.declared(k)}


_ZEROS: dict[Shape, dict[str, Any]] = {}  # built-in kinds' (a finite set of shapes)
_CUSTOM_ZERO: dict[str, Any] = {"metadata": {}}


def _zero(rt: ResourceType, shape: Shape) -> dict[str, Any]:
    """empty_object, one shared dict per kind, for walks that only read it; a custom
    resource's has `metadata` so that, as after stripMeta, f:metadata is no member."""
    if rt.custom:
        return _CUSTOM_ZERO
    zero = _ZEROS.get(shape)
    if zero is None:
        zero = _ZEROS[shape] = empty_object(rt, shape)
    return zero


def record_update(
    rt: ResourceType,
    old: dict[str, Any] | None,
    new: dict[str, Any],
    requested: Any,
    manager: str,
    subresource: str,
    now: str,
) -> None:
    """Set new's managedFields after an Update (create, update or non-apply patch) by
    `manager`. The request's own managedFields are taken when valid (how a client edits or,
    with `[]` or `[{}]`, clears them), else the live object's (FieldManager.Update)."""
    meta = new["metadata"]
    if old is None and not requested:
        _record_create(rt, new, manager, subresource, now)
        return
    live_entries = old["metadata"].get("managedFields") if old is not None else None
    managers: Managers | None = None
    if not subresource:
        if is_reset(requested):
            managers = {}
        elif requested and requested != live_entries:  # shared entries compare by identity
            managers = decode(requested)
    from_live = managers is None
    if managers is None:
        managers = decode(live_entries, trusted=True) or {}
    shape = shape_of(rt)
    key: Key = (manager, "Update", rt.api_version, subresource)
    try:
        after = update(
            shape,
            old if old is not None else empty_object(rt, shape),
            new,
            managers,
            key,
            rt.api_version,
            now,
            reset_fields(rt.status_subresource, subresource),
            creating=old is None,
        )
    except SchemaError:
        after = {}  # UpdateNoErrors: managedFields are dropped rather than left wrong
    if after is managers and from_live and live_entries:
        meta["managedFields"] = live_entries
        return
    entries = encode(after)
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)


def _record_create(
    rt: ResourceType, new: dict[str, Any], manager: str, subresource: str, now: str
) -> None:
    """record_update's common case, a create that brings no managedFields: the one manager
    owns every field of the new object but the reset ones and the bookkeeping, which are
    left out before the walk instead of taken out of its result (`update` and `_strip` give
    the same set; a test compares them). A list item without its key inside a reset field
    (status) is therefore not walked and drops nothing, as on a real server, whose typed
    objects always carry their keys."""
    meta = new["metadata"]
    shape = shape_of(rt)
    reset = reset_fields(rt.status_subresource, subresource)
    skip = "status" if reset is _STATUS else "spec" if reset is _SPEC else None
    trimmed: dict[str, Any] = {}
    for k, v in new.items():
        if k == "apiVersion" or k == "kind" or k == skip:
            continue
        if k == "metadata" and type(v) is dict:
            v = {mk: mv for mk, mv in v.items() if mk not in _BOOKKEEPING}
        trimmed[k] = v
    try:
        fields = created(_zero(rt, shape), trimmed, shape)
    except SchemaError:
        fields = {}  # UpdateNoErrors: managedFields are dropped rather than left wrong
    if not fields:
        meta.pop("managedFields", None)
        return
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": "Update",
        "apiVersion": rt.api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if subresource:
        entry["subresource"] = subresource
    meta["managedFields"] = [_share(entry)]
