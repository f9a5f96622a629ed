"""The simulated cluster's storage and registry: objects, resourceVersions, watches, deletion.

This plays etcd plus the generic registry of the API server: it assigns uid, resourceVersion
(one global counter), generation and timestamps; enforces optimistic concurrency, the /status
split, finalizers and deletionTimestamp; keeps a per-resource event history like the watch cache
(watch_cache.py: it grows while events are younger than 75 s) so watches resume from a
resourceVersion or fail with 410 Expired, and a simulated etcd compaction that expires continue
tokens and exact-version lists; refuses objects over etcd's 1.5 MiB. Every write, from HTTP or
from the in-process controllers alike, is defaulted and passes admission (admission.py), then
records its field manager in managedFields (managed_fields.py; `apply_entry` is server-side
apply); owners and finalizers that need work go to the garbage collector (garbage_collector.py).

Stored objects are never mutated in place: every write stores a new dict. Public methods
return deep copies (sharing the read-only managedFields entries); the HTTP layer uses the
`*_entry` methods and cached JSON encodings.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tend_sim import bootstrap, errors, managed_fields
from tend_sim.admission import (
    admit,
    check_field_validation,
    crd_admit,
    decode_and_default,
    decode_body,
)
from tend_sim.clock import rfc3339
from tend_sim.errors import ApiError, Cause
from tend_sim.field_types import shape_of
from tend_sim.garbage_collector import GarbageCollector
from tend_sim.last_applied import sync_last_applied
from tend_sim.objects import (
    CRD_GR,
    FOREGROUND,
    GR,
    NAMESPACE_GR,
    ORPHAN,
    Key,
    Obj,
    copy_object,
    deep_copy,
    stored_copy,
    to_json,
)
from tend_sim.resources import (
    Registry,
    ResourceType,
    builtin_types,
    from_storage,
    to_storage,
    types_from_crd,
)
from tend_sim.schema import compiled
from tend_sim.selectors import (
    fields_match,
    labels_match,
    parse_field_selector,
    parse_label_selector,
)
from tend_sim.service_ports import assign_node_ports, used_node_ports
from tend_sim.typed import SchemaError
from tend_sim.watch import Watch, WatchEvent
from tend_sim.watch_cache import COMPACTION_SECONDS, FRESH_SECONDS, LOWER_BOUND, Compaction, History

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
PROPAGATIONS = ("Background", "Foreground", "Orphan")

# etcd3/errors.go: a continue token from before the last compaction.
INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted between "
    "the time the first chunk was returned and now may show up in the list."
)
# etcd's default --max-request-bytes.
MAX_OBJECT_BYTES = 1536 * 1024
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# ---------------------------------------------------------------------------------------------
# Entries


class Entry:
    """A stored object plus its lazily cached JSON encoding."""

    __slots__ = ("_raw", "obj")

    def __init__(self, obj: Obj) -> None:
        self.obj = obj
        self._raw: bytes | None = None

    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = to_json(self.obj)
        return self._raw


@dataclass
class WriteOptions:
    dry_run: bool = False
    field_validation: str = "Strict"
    warnings: list[str] | None = None
    # The field manager recorded in managedFields (None: the store's own, `Store.field_manager`).
    manager: str | None = None
    # managedFields an apply computed (managed_fields.apply); None for every other write.
    applied: list[dict[str, Any]] | None = None
    # The subresource a write of the main object came through, for managedFields ("scale").
    via: str = ""
    # The body is the store's to keep: decoded for this request alone, its keys shared
    # already (the HTTP server's decoder caches them); else the store keeps a copy.
    owned: bool = False


# ---------------------------------------------------------------------------------------------
# The store


class Store:
    """In-memory objects of every served resource, with watch, GC and validation."""

    def __init__(
        self,
        *,
        now: Callable[[], datetime] | None = None,
        history_size: int = 5000,
        history_window: float = FRESH_SECONDS,
        compaction_interval: float = COMPACTION_SECONDS,
        seconds: Callable[[], float] | None = None,
        validate: bool = True,
    ) -> None:
        self.registry = Registry(builtin_types())
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        # The watch cache keeps >= min(100, history_size) events per resource and grows up to
        # history_size while its oldest event is younger than history_window seconds.
        self.history_size = history_size
        self.history_window = history_window
        self.seconds: Callable[[], float] = seconds or (lambda: self.now().timestamp())
        self.compaction = Compaction(compaction_interval)
        self._rv_waiters: builtins.list[tuple[int, asyncio.Future[None]]] = []
        self.validate = validate
        # Deleting a scheduled, running Pod is graceful (deletionTimestamp, kubelet finishes it)
        # only when something plays the kubelet; otherwise Pods go at once.
        self.graceful_pod_deletion = False
        self.pod_logs: Any = None  # the kubelet's logs.LogSource, while one runs
        self._rv = 0
        self._objects: dict[GR, dict[Key, Entry]] = {}
        self._history: dict[GR, History] = {}
        self._watchers: dict[GR, set[Watch]] = {}
        self._uids: dict[str, tuple[GR, Key]] = {}
        self._dependents: dict[str, set[tuple[GR, Key]]] = {}
        # (group/resource, namespace, label, value) -> keys: equality selectors are answered
        # from here instead of by scanning every object of the kind.
        self._labelled: dict[tuple[GR, str, str, str], set[Key]] = {}
        self.gc = GarbageCollector(self)
        # Who in-process writes (controllers, kubelet, tests) are in managedFields.
        self.field_manager = "tend-sim"
        self._second: datetime | None = None
        self._second_text = ""
        self._cluster_ip = 10
        self.write_listeners: builtins.list[Callable[[str, ResourceType, Obj], None]] = []
        self.watch_listeners: builtins.list[Callable[[Watch], None]] = []
        for ns in SYSTEM_NAMESPACES:
            self.create(self.resource("namespaces"), {"metadata": {"name": ns}})
        bootstrap.install(self)

    # -- lookup -----------------------------------------------------------------------------

    def resource(self, kind_or_plural: str, group: str = "") -> ResourceType:
        """The ResourceType for a kind, plural, singular or short name (404 if not served).
        group "" searches every group, preferring the core group (so "events" is core v1)."""
        rt = self.registry.lookup(kind_or_plural, group or None)
        if rt is None:
            raise ApiError(
                404,
                "NotFound",
                f'the server doesn\'t have a resource type "{kind_or_plural}"'
                + (f' in group "{group}"' if group else ""),
            )
        return rt

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def _bucket(self, rt: ResourceType) -> dict[Key, Entry]:
        b = self._objects.get(rt.gr)
        if b is None:
            b = self._objects[rt.gr] = {}
        return b

    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> Key:
        return ((namespace or "") if rt.namespaced else "", name)

    def _out(self, rt: ResourceType, obj: Obj) -> Obj:
        """A copy for callers, in the shape and version of `rt`."""
        out: Obj = copy_object(obj)
        return from_storage(rt, out) if rt.converts else out

    def entries(self, rt: ResourceType) -> builtins.list[Entry]:
        """Every stored entry of the resource, in no particular order (no list semantics)."""
        return list(self._objects.get(rt.gr, {}).values())

    def count(self, rt: ResourceType) -> int:
        return len(self._objects.get(rt.gr, {}))

    # -- reads ------------------------------------------------------------------------------

    def get_entry(self, rt: ResourceType, namespace: str | None, name: str) -> Entry:
        entry = self._objects.get(rt.gr, {}).get(self._key(rt, namespace, name))
        if entry is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return entry

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        return self._out(rt, self.get_entry(rt, namespace, name).obj)

    def list_entries(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        *,
        limit: int | None = None,
        continue_token: str | None = None,
        exact_rv: int | None = None,
    ) -> tuple[builtins.list[Entry], str, str | None, int | None]:
        """(entries, list resourceVersion, continue token, remainingItemCount). `exact_rv`:
        the list as it was at that resourceVersion (resourceVersionMatch=Exact)."""
        labels = parse_label_selector(label_selector) if label_selector else ()
        fields = parse_field_selector(rt, field_selector) if field_selector else ()
        list_rv = self._rv
        start: Key | None = None
        if continue_token:
            list_rv, start = self._decode_continue(continue_token)
            if list_rv == -1:  # an inconsistent token: continue at the latest version
                list_rv = self._rv
            elif list_rv < self.compaction.revision(self.seconds()):
                raise ApiError(
                    410,
                    "Expired",
                    INCONSISTENT_CONTINUE,
                    list_continue=self._encode_continue(-1, start),
                )
        bucket = self._objects.get(rt.gr, {})
        if exact_rv is not None and exact_rv != self._rv:
            bucket = self._entries_at(rt, exact_rv)
            list_rv = exact_rv
        equal = [r for r in labels if r.op == "="]
        if equal and namespace is not None and rt.namespaced and exact_rv is None:
            sets = [
                self._labelled.get((rt.gr, namespace, r.key, r.values[0]), set()) for r in equal
            ]
            keys = sorted(set.intersection(*sets))  # still checked against the whole selector
        elif namespace is None or not rt.namespaced:
            keys = sorted(bucket)
        else:
            keys = sorted(k for k in bucket if k[0] == namespace)
        if start is not None:
            keys = [k for k in keys if k > start]
        out: builtins.list[Entry] = []
        token: str | None = None
        remaining: int | None = None
        for i, k in enumerate(keys):
            entry = bucket[k]
            if labels and not labels_match(labels, entry.obj):
                continue
            if fields and not fields_match(fields, entry.obj):
                continue
            out.append(entry)
            if limit and len(out) >= limit:
                rest = keys[i + 1 :]
                if rest:
                    token = self._encode_continue(list_rv, k)
                    if not labels and not fields:
                        remaining = len(rest)
                break
        return out, str(list_rv), token, remaining

    def list(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[builtins.list[Obj], str]:
        entries, rv, _, _ = self.list_entries(rt, namespace, label_selector, field_selector)
        return [self._out(rt, e.obj) for e in entries], rv

    def _entries_at(self, rt: ResourceType, rv: int) -> dict[Key, Entry]:
        """The objects of `rt` at resourceVersion `rv`, the later events undone; 410 like etcd
        once `rv` is compacted (or, in the simulator, older than the resource's history)."""
        hist = self._history.get(rt.gr)
        oldest = hist.oldest_rv() if hist is not None else None
        if rv < self.compaction.revision(self.seconds()) or (oldest is not None and rv < oldest):
            raise errors.expired("The resourceVersion for the provided list is too old.")
        bucket = dict(self._objects.get(rt.gr, {}))
        for ev in reversed(hist.since(rv) if hist is not None else []):
            meta = ev.obj["metadata"]
            key = self._key(rt, meta.get("namespace"), meta["name"])
            if ev.type == "ADDED":
                bucket.pop(key, None)
            elif ev.old is not None:
                bucket[key] = Entry(ev.old)
        return bucket

    def _encode_continue(self, rv: int, key: Key) -> str:
        raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": list(key)})
        return base64.urlsafe_b64encode(raw.encode()).decode()

    def _decode_continue(self, token: str) -> tuple[int, Key]:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            rv = int(data["rv"])
            ns, name = data["start"]
            return rv, (str(ns), str(name))
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.bad_request(
                f"invalid continue token: continue key is not valid: {exc}"
            ) from None

    # -- watch ------------------------------------------------------------------------------

    def watch(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Watch:
        """Start a watch. No/"0" resourceVersion: synthetic ADDED for what exists, then changes.
        A specific resourceVersion: only changes after it; 410 Expired if it is older than the
        retained history of this resource."""
        labels = parse_label_selector(label_selector) if label_selector else ()
        fields = parse_field_selector(rt, field_selector) if field_selector else ()
        w = Watch(self, rt, namespace if rt.namespaced else None, labels, fields)
        if resource_version in (None, "", "0"):
            entries, _, _, _ = self.list_entries(rt, namespace, label_selector, field_selector)
            for e in entries:
                w._push("ADDED", WatchEvent("ADDED", e, None, self._rv))
            w.last_rv = self._rv
        else:
            try:
                since = int(str(resource_version))
            except ValueError:
                raise errors.bad_request(f'invalid resource version "{resource_version}"') from None
            hist = self._history.get(rt.gr)
            for ev in hist.since(since) if hist is not None else ():
                w.offer(ev)
            w.last_rv = max(since, w.last_rv)
            w.since = since
        self._watchers.setdefault(rt.gr, set()).add(w)
        for listener in self.watch_listeners:
            listener(w)
        return w

    async def wait_for_resource_version(self, rv: int, timeout: float) -> bool:
        """Wait up to `timeout` real seconds for the store to reach `rv` (the watch cache's
        waitUntilFreshAndBlock); whether it did."""
        if self._rv >= rv:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (rv, future)
        self._rv_waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return False
        finally:
            if waiter in self._rv_waiters:
                self._rv_waiters.remove(waiter)
        return True

    def _wake_rv_waiters(self) -> None:
        for rv, future in list(self._rv_waiters):
            if rv <= self._rv and not future.done():
                future.set_result(None)

    def watch_from_now(self, rt: ResourceType, namespace: str | None = None) -> Watch:
        return self.watch(rt, namespace, resource_version=self.resource_version)

    def _unregister(self, w: Watch) -> None:
        ws = self._watchers.get(w.rt.gr)
        if ws is not None:
            ws.discard(w)

    def close_watches(self) -> None:
        for ws in list(self._watchers.values()):
            for w in list(ws):
                w.close()

    def watch_count(self) -> int:
        return sum(len(ws) for ws in self._watchers.values())

    def _emit(self, rt: ResourceType, type_: str, entry: Entry, old: Obj | None) -> None:
        ev = WatchEvent(type_, entry, old, self._rv)
        hist = self._history.get(rt.gr)
        if hist is None:
            hist = self._history[rt.gr] = History(
                self.history_window, min(LOWER_BOUND, self.history_size), self.history_size
            )
        now = self.seconds()
        hist.add(ev, now)
        self.compaction.wrote(self._rv, now)
        if self._rv_waiters:
            self._wake_rv_waiters()
        for w in list(self._watchers.get(rt.gr, ())):
            w.offer(ev)
        for listener in self.write_listeners:
            listener(type_, rt, entry.obj)

    # -- writes -----------------------------------------------------------------------------

    def create(
        self,
        rt: ResourceType,
        obj: Obj,
        *,
        dry_run: bool = False,
        field_validation: str = "Strict",
        warnings: builtins.list[str] | None = None,
        field_manager: str | None = None,
    ) -> Obj:
        """Create; 409 AlreadyExists, 404 if the namespace is missing, 422 if invalid."""
        opts = WriteOptions(dry_run, field_validation, warnings, field_manager)
        entry = self._create(rt, obj, opts)
        return self._out(rt, entry.obj)

    def create_entry(self, rt: ResourceType, obj: Obj, opts: WriteOptions) -> Entry:
        return self._create(rt, obj, opts)

    def _check_type(self, rt: ResourceType, obj: Any) -> Obj:
        if not isinstance(obj, dict):
            raise errors.bad_request("the object provided is not a JSON object")
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if api_version is not None and api_version != rt.api_version:
            # Other served versions of the same custom resource are fine (conversion None).
            same = self.registry.get(rt.group, str(api_version).rpartition("/")[2], rt.plural)
            if not (rt.custom and same is not None and str(api_version).startswith(rt.group)):
                raise errors.bad_request(
                    f"the API version in the data ({api_version}) does not match the expected "
                    f"API version ({rt.api_version})"
                )
        if kind is not None and kind != rt.kind:
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        meta = obj.get("metadata")
        if meta is None:
            obj["metadata"] = {}
        elif not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        stored_version = rt.storage_version or rt.version
        head = {
            "apiVersion": f"{rt.group}/{stored_version}" if rt.group else stored_version,
            "kind": rt.kind,
        }
        obj.pop("apiVersion", None)
        obj.pop("kind", None)
        head.update(obj)
        return to_storage(rt, head)

    def _create(self, rt: ResourceType, obj: Obj, opts: WriteOptions) -> Entry:
        obj = self._check_type(rt, obj if opts.owned else stored_copy(obj))
        meta: Obj = obj["metadata"]
        if rt.namespaced:
            ns = meta.get("namespace")
            if not ns:
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    meta.get("name", ""),
                    [Cause(errors.FIELD_VALUE_REQUIRED, "Required value", "metadata.namespace")],
                )
            self._check_namespace_open(rt, ns, meta.get("name") or meta.get("generateName", ""))
        else:
            meta.pop("namespace", None)
        generated = ""
        if not meta.get("name"):
            gen = meta.get("generateName")
            if gen and isinstance(gen, str):
                generated = gen + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))
                meta["name"] = ""  # made in BeforeCreate, after decoding and the field manager
            else:
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    "",
                    [
                        Cause(
                            errors.FIELD_VALUE_REQUIRED,
                            "Required value: name or generateName is required",
                            "metadata.name",
                        )
                    ],
                )
        name = generated or str(meta["name"])
        rv = str(meta.get("resourceVersion") or "")
        if rv.isdigit() and int(rv) != 0:
            # etcd3 store.Create; clients see it as a 500, which is what the real server sends.
            raise errors.internal("resourceVersion should not be set on objects to be created")
        bucket = self._bucket(rt)
        key = self._key(rt, meta.get("namespace"), name)
        if key in bucket:
            raise errors.already_exists(rt.plural, rt.group, name)
        requested = meta.get("managedFields")
        for f in (
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
            "managedFields",
        ):
            meta.pop(f, None)
        _drop_empty_meta(meta)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self._time_now()
        if rt.has_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if rt.status_subresource and rt.custom:
            obj.pop("status", None)
        check_field_validation(opts.field_validation)
        if rt.custom:
            unknown = decode_body(rt, obj)
        else:
            # A built-in's defaults come with decoding, and the field manager runs before the
            # strategy and mutating admission (create.go), so it sees only the defaults.
            unknown = decode_and_default(rt, obj)
            self._record_managed(rt, None, obj, requested, "", opts)
        if generated:
            obj["metadata"]["name"] = generated
        self._prepare_create(rt, obj)
        obj = admit(rt, obj, None, opts, validate=self.validate, unknown_fields=unknown)
        if rt.gr == CRD_GR:
            crd_admit(obj, None, self._crds(), self.now)
        if rt.custom:
            # A custom resource's decoder prunes and defaults (validate_custom does both).
            self._record_managed(rt, None, obj, requested, "", opts)
        if opts.dry_run:
            return Entry(obj)
        self._rv += 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self._rv)
        entry = self._sized(Entry(obj))
        bucket[key] = entry
        self._index(rt, key, obj, None)
        self._emit(rt, "ADDED", entry, None)
        self._after_write(rt, obj, None)
        return entry

    def _sized(self, entry: Entry) -> Entry:
        """etcd refuses a request over its --max-request-bytes (1.5 MiB by default); the API
        server passes that error on as a 500 with etcd's message (handlers/rest.go
        isTooLargeError, then responsewriters' non-Status path). Measured on the JSON encoding,
        which the HTTP layer reuses; the resourceVersion just taken is given back."""
        if len(entry.raw()) > MAX_OBJECT_BYTES:
            self._rv -= 1
            raise ApiError(500, "", "etcdserver: request is too large")
        return entry

    def _check_namespace_open(self, rt: ResourceType, namespace: str, name: str) -> None:
        ns_entry = self._objects.get(NAMESPACE_GR, {}).get(("", namespace))
        if ns_entry is None:
            raise errors.not_found("namespaces", "", namespace)
        if ns_entry.obj["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                rt.plural,
                rt.group,
                name,
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated",
            )

    def update(
        self,
        rt: ResourceType,
        obj: Obj,
        subresource: str | None = None,
        *,
        dry_run: bool = False,
        field_validation: str = "Strict",
        warnings: builtins.list[str] | None = None,
        field_manager: str | None = None,
    ) -> Obj:
        """Replace (PUT). 409 Conflict on a stale resourceVersion, 422 on immutable changes.
        With subresource="status" only .status is taken from `obj`."""
        opts = WriteOptions(dry_run, field_validation, warnings, field_manager)
        return self._out(rt, self.update_entry(rt, obj, subresource, opts).obj)

    def update_entry(
        self, rt: ResourceType, obj: Obj, subresource: str | None, opts: WriteOptions
    ) -> Entry:
        obj = self._check_type(rt, obj if opts.owned else stored_copy(obj))
        meta = obj["metadata"]
        name = meta.get("name")
        if not name:
            raise errors.invalid(
                rt.kind,
                rt.group,
                "",
                [
                    Cause(
                        errors.FIELD_VALUE_REQUIRED,
                        "Required value: name is required",
                        "metadata.name",
                    )
                ],
            )
        key = self._key(rt, meta.get("namespace"), name)
        old = self._objects.get(rt.gr, {}).get(key)
        if old is None:
            if rt.allow_create_on_update and subresource is None:
                meta.pop("resourceVersion", None)
                return self._create(rt, obj, opts)
            raise errors.not_found(rt.plural, rt.group, name)
        rv = meta.get("resourceVersion")
        if not rv and not rt.allow_unconditional_update:
            raise errors.invalid(
                rt.kind,
                rt.group,
                name,
                [
                    Cause(
                        errors.FIELD_VALUE_INVALID,
                        "Invalid value: 0: must be specified for an update",
                        "metadata.resourceVersion",
                    )
                ],
            )
        return self._update(rt, obj, old, subresource, opts)

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        patch: Any,
        patch_type: str,
        subresource: str | None = None,
        *,
        dry_run: bool = False,
        field_validation: str = "Strict",
        warnings: builtins.list[str] | None = None,
        field_manager: str | None = None,
    ) -> Obj:
        """PATCH with a merge, JSON or strategic-merge patch (Content-Type as patch_type)."""
        opts = WriteOptions(dry_run, field_validation, warnings, field_manager)
        entry = self.patch_entry(rt, namespace, name, patch, patch_type, subresource, opts)
        return self._out(rt, entry.obj)

    def patch_entry(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        patch: Any,
        patch_type: str,
        subresource: str | None,
        opts: WriteOptions,
    ) -> Entry:
        from tend_sim import patch as patching

        old = self._objects.get(rt.gr, {}).get(self._key(rt, namespace, name))
        if old is None:
            raise errors.not_found(rt.plural, rt.group, name)
        current = self._out(rt, old.obj)
        patched = patching.apply_patch(rt, current, patch, patch_type)
        if not isinstance(patched, dict):
            raise errors.bad_request("the patched object is not a JSON object")
        meta = patched.get("metadata")
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if meta.get("name") != name or (rt.namespaced and meta.get("namespace") != namespace):
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the "
                f"URL ({name})"
            )
        patched = self._check_type(rt, patched)
        return self._update(rt, patched, old, subresource, opts)

    def _update(
        self,
        rt: ResourceType,
        new: Obj,
        old_entry: Entry,
        subresource: str | None,
        opts: WriteOptions,
    ) -> Entry:
        old = old_entry.obj
        old_meta = old["metadata"]
        name = old_meta["name"]
        meta = new["metadata"]
        _drop_empty_meta(meta)
        requested = meta.get("managedFields")
        rv = meta.get("resourceVersion")
        if rv and str(rv) != old_meta["resourceVersion"]:
            raise errors.stale(rt.plural, rt.group, name)
        uid = meta.get("uid")
        if uid and uid != old_meta["uid"]:
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                f"{old_meta['uid']}",
            )
        if subresource == "status":
            status = new.get("status")
            new = copy_object(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            meta = new["metadata"]
        elif subresource == "ephemeralcontainers" and rt.kind == "Pod" and not rt.group:
            new = _with_ephemeral_containers(rt, old, new)
            meta = new["metadata"]
        elif subresource is not None:
            raise errors.bad_request(f"subresource {subresource} cannot be written here")
        else:
            if rt.status_subresource:
                if "status" in old:
                    new["status"] = deep_copy(old["status"])
                else:
                    new.pop("status", None)
            # System fields are the server's.
            for f in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ):
                if f in old_meta:
                    meta[f] = old_meta[f]
                else:
                    meta.pop(f, None)
            meta["name"] = old_meta["name"]
            if rt.namespaced:
                meta["namespace"] = old_meta["namespace"]
            else:
                meta.pop("namespace", None)
            meta.pop("selfLink", None)
            meta.pop("managedFields", None)
            if old_meta.get("deletionTimestamp"):
                added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
                if added:
                    raise errors.invalid(
                        rt.kind,
                        rt.group,
                        name,
                        [
                            Cause(
                                errors.FIELD_VALUE_FORBIDDEN,
                                "Forbidden: no new finalizers can be added if the object is "
                                "being deleted, found new finalizers " + json.dumps(sorted(added)),
                                "metadata.finalizers",
                            )
                        ],
                    )
        meta["resourceVersion"] = old_meta["resourceVersion"]
        self._prepare_update(rt, new, old)
        new = admit(rt, new, old, opts, validate=self.validate)
        if rt.gr == CRD_GR:
            crd_admit(new, old, self._crds(), self.now)
        meta = new["metadata"]
        if (
            rt.has_generation
            and subresource in (None, "ephemeralcontainers")
            and _spec_changed(rt, new, old)
        ):
            meta["generation"] = int(old_meta.get("generation") or 0) + 1
        self._record_managed(rt, old, new, requested, subresource or "", opts)
        if new == old:
            return old_entry  # a no-op write is not a write: no new resourceVersion, no event
        if opts.dry_run:
            return Entry(new)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self._remove(rt, old_entry, new)
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        key = self._key(rt, meta.get("namespace"), name)
        entry = self._sized(Entry(new))
        self._objects[rt.gr][key] = entry
        self._index(rt, key, new, old)
        self._emit(rt, "MODIFIED", entry, old)
        self._after_write(rt, new, old)
        return entry

    def _record_managed(
        self,
        rt: ResourceType,
        old: Obj | None,
        new: Obj,
        requested: Any,
        sub: str,
        opts: WriteOptions,
    ) -> None:
        """managedFields of the object about to be stored (managed_fields.py)."""
        if opts.applied is not None:
            if opts.applied:
                new["metadata"]["managedFields"] = opts.applied
            else:
                new["metadata"].pop("managedFields", None)
            return
        manager = self.field_manager if opts.manager is None else opts.manager
        managed_fields.record_update(
            rt, old, new, requested, manager, sub or opts.via, self._time_now()
        )

    def _time_now(self) -> str:
        """rfc3339(now()), formatted once per second (every write's managedFields want it)."""
        now = self.now()
        second = now.replace(microsecond=0)
        if second != self._second:
            self._second = second
            self._second_text = rfc3339(now)
        return self._second_text

    def apply_entry(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        config: Any,
        subresource: str | None,
        opts: WriteOptions,
        *,
        force: bool = False,
    ) -> tuple[Entry, bool]:
        """Server-side apply of `config` by `opts.manager`: (entry, created). Creates the object
        when it does not exist (not through a subresource); 409 on conflicts unless forced."""
        config = self._check_apply_config(rt, config)
        old = self._objects.get(rt.gr, {}).get(self._key(rt, namespace, name))
        if old is None and subresource:
            raise errors.not_found(rt.plural, rt.group, name)
        shape = shape_of(rt)
        live = self._out(rt, old.obj) if old is not None else managed_fields.empty_object(rt, shape)
        managers = (
            managed_fields.decode(live.get("metadata", {}).get("managedFields"), trusted=True) or {}
        )
        key = (opts.manager or "", "Apply", "", subresource or "")
        try:
            merged, after = managed_fields.apply(
                shape,
                live,
                config,
                managers,
                key,
                rt.api_version,
                self._time_now(),
                managed_fields.reset_fields(rt.status_subresource, subresource or ""),
                force,
            )
        except SchemaError as exc:
            raise errors.internal(
                f"failed to create typed patch object ({namespace or ''}/{name}; "
                f"{rt.api_version}, Kind={rt.kind}): {exc}"
            ) from None
        merged = copy_object(merged) if merged is live else merged
        sync_last_applied(key[0], live, config, merged)
        opts.applied = managed_fields.encode(after)
        meta = merged.get("metadata")
        if not isinstance(meta, dict):
            meta = merged["metadata"] = {}
        if rt.namespaced and not meta.get("namespace"):
            meta["namespace"] = namespace
        if meta.get("name") != name:
            raise errors.bad_request(
                f"the name of the object ({meta.get('name', '')}) does not match the name on "
                f"the URL ({name})"
            )
        if rt.namespaced and meta.get("namespace") != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        if old is None:
            return self._create(rt, merged, opts), True
        return self._update(rt, self._check_type(rt, merged), old, subresource, opts), False

    def _check_apply_config(self, rt: ResourceType, config: Any) -> Obj:
        """What versionCheckManager and structuredMergeManager.Apply refuse (400)."""
        if not isinstance(config, dict):
            raise errors.bad_request("error decoding YAML: the apply configuration is not a map")
        api_version = str(config.get("apiVersion") or "")
        group, _, version = api_version.rpartition("/")
        kind = str(config.get("kind") or "")
        if (group, version, kind) != (rt.group, rt.version, rt.kind):
            raise errors.bad_request(f"invalid object type: {group}/{version}, Kind={kind}")
        meta = config.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if isinstance(meta, dict) and meta.get("managedFields") is not None:
            raise errors.bad_request("metadata.managedFields must be nil")
        return config

    def _system_update(self, rt: ResourceType, new: Obj, current: Entry) -> Entry:
        """A write of the control plane itself (garbage collector, finalizers)."""
        opts = WriteOptions(field_validation="Ignore", manager="kube-controller-manager")
        return self._update(rt, new, current, None, opts)

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        propagation: str | None = None,
        *,
        grace_period_seconds: int | None = None,
        preconditions: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """Delete. With finalizers (or Foreground/Orphan propagation) the object only gets a
        deletionTimestamp and lives on until its finalizers are removed. propagation None means
        the kind's default (Background; Orphan for batch/v1 Jobs, like the real server)."""
        entry, _ = self.delete_entry(
            rt, namespace, name, propagation, grace_period_seconds, preconditions, dry_run
        )
        return self._out(rt, entry.obj)

    def delete_entry(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        propagation: str | None = None,
        grace_period_seconds: int | None = None,
        preconditions: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> tuple[Entry, bool]:
        """(entry, deleted_now)."""
        key = self._key(rt, namespace, name)
        old_entry = self._objects.get(rt.gr, {}).get(key)
        if old_entry is None:
            raise errors.not_found(rt.plural, rt.group, name)
        old = old_entry.obj
        old_meta = old["metadata"]
        if rt.gr == NAMESPACE_GR and name in ("default", "kube-system", "kube-public"):
            raise errors.forbidden(rt.plural, rt.group, name, "this namespace may not be deleted")
        if preconditions:
            want_uid = preconditions.get("uid")
            if want_uid and want_uid != old_meta["uid"]:
                raise errors.conflict(
                    rt.plural,
                    rt.group,
                    name,
                    f"Precondition failed: UID in precondition: {want_uid}, UID in object meta: "
                    f"{old_meta['uid']}",
                )
            want_rv = preconditions.get("resourceVersion")
            if want_rv and str(want_rv) != old_meta["resourceVersion"]:
                raise errors.conflict(
                    rt.plural,
                    rt.group,
                    name,
                    f"Precondition failed: ResourceVersion in precondition: {want_rv}, "
                    f"ResourceVersion in object meta: {old_meta['resourceVersion']}",
                )
        if propagation is not None and propagation not in PROPAGATIONS:
            raise errors.invalid(
                "DeleteOptions",
                "",
                "",
                [
                    Cause(
                        errors.FIELD_VALUE_NOT_SUPPORTED,
                        f'Unsupported value: "{propagation}": supported values: "Foreground", '
                        '"Background", "Orphan"',
                        "propagationPolicy",
                    )
                ],
            )
        policy = propagation or rt.default_propagation
        new = copy_object(old)
        meta = new["metadata"]
        finalizers: builtins.list[str] = list(meta.get("finalizers") or [])
        if policy == "Foreground" and FOREGROUND not in finalizers:
            finalizers.append(FOREGROUND)
        if policy == "Orphan" and ORPHAN not in finalizers:
            finalizers.append(ORPHAN)
        if policy == "Background" and not old_meta.get("deletionTimestamp"):
            finalizers = [f for f in finalizers if f not in (FOREGROUND, ORPHAN)]
        if rt.gr == NAMESPACE_GR:
            finalizers_spec = (new.get("spec") or {}).get("finalizers") or []
            if finalizers_spec or finalizers:
                new.setdefault("status", {})["phase"] = "Terminating"
        graceful = self._graceful_seconds(rt, old, grace_period_seconds)
        if finalizers:
            meta["finalizers"] = finalizers
        else:
            meta.pop("finalizers", None)
        if not finalizers and not graceful and not _namespace_spec_finalizers(rt, new):
            if dry_run:
                return Entry(new), True
            return self._remove(rt, old_entry, new), True
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = rfc3339(self.now() + timedelta(seconds=graceful))
            meta["deletionGracePeriodSeconds"] = graceful
            if rt.has_generation:
                meta["generation"] = int(meta.get("generation") or 0) + 1
        elif graceful < int(meta.get("deletionGracePeriodSeconds") or 0):
            meta["deletionTimestamp"] = rfc3339(self.now() + timedelta(seconds=graceful))
            meta["deletionGracePeriodSeconds"] = graceful
        if new == old or dry_run:
            return (old_entry if new == old else Entry(new)), False
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        entry = Entry(new)
        self._objects[rt.gr][key] = entry
        self._index(rt, key, new, old)
        self._emit(rt, "MODIFIED", entry, old)
        self._after_write(rt, new, old)
        return entry, False

    def _graceful_seconds(self, rt: ResourceType, obj: Obj, requested: int | None) -> int:
        if rt.gr != ("", "pods") or not self.graceful_pod_deletion:
            return 0
        if requested is not None:
            return max(0, requested)
        spec = obj.get("spec") or {}
        phase = (obj.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            return 0
        current = obj["metadata"].get("deletionGracePeriodSeconds")
        if current is not None:
            return int(current)
        return int(spec.get("terminationGracePeriodSeconds", 30))

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        propagation: str | None = None,
        *,
        dry_run: bool = False,
    ) -> builtins.list[Obj]:
        entries, _, _, _ = self.list_entries(rt, namespace, label_selector, field_selector)
        out = []
        for e in entries:
            meta = e.obj["metadata"]
            try:
                got, _ = self.delete_entry(
                    rt, meta.get("namespace"), meta["name"], propagation, dry_run=dry_run
                )
            except ApiError as exc:
                if exc.code == 404:
                    continue
                raise
            out.append(self._out(rt, got.obj))
        return out

    def _remove(self, rt: ResourceType, old_entry: Entry, final: Obj) -> Entry:
        meta = final["metadata"]
        key = self._key(rt, meta.get("namespace"), meta["name"])
        del self._objects[rt.gr][key]
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        entry = Entry(final)
        self._index(rt, key, None, old_entry.obj)
        self._emit(rt, "DELETED", entry, old_entry.obj)
        self._after_remove(rt, final)
        return entry

    # -- indexes and follow-ups -------------------------------------------------------------

    def _index(self, rt: ResourceType, key: Key, new: Obj | None, old: Obj | None) -> None:
        ref = (rt.gr, key)
        old_labels = (old["metadata"].get("labels") or {}) if old is not None else {}
        new_labels = (new["metadata"].get("labels") or {}) if new is not None else {}
        if old_labels != new_labels:
            for label, value in old_labels.items():
                keys = self._labelled.get((rt.gr, key[0], label, value))
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._labelled[(rt.gr, key[0], label, value)]
            for label, value in new_labels.items():
                self._labelled.setdefault((rt.gr, key[0], label, value), set()).add(key)
        if old is not None:
            for o in old["metadata"].get("ownerReferences") or []:
                deps = self._dependents.get(o.get("uid"))
                if deps is not None:
                    deps.discard(ref)
                    if not deps:
                        del self._dependents[o.get("uid")]
            if new is None:
                self._uids.pop(old["metadata"]["uid"], None)
        if new is not None:
            meta = new["metadata"]
            self._uids[meta["uid"]] = ref
            owners = meta.get("ownerReferences") or []
            for o in owners:
                self._dependents.setdefault(o.get("uid"), set()).add(ref)
            if (
                owners
                and (old is None or old["metadata"].get("ownerReferences") != owners)
                and not all(self._owner_present(key[0], o) for o in owners)
            ):
                self.gc.mark(*(str(o.get("uid")) for o in owners))

    def _after_write(self, rt: ResourceType, new: Obj, old: Obj | None) -> None:
        meta = new["metadata"]
        if rt.gr == CRD_GR:
            self._serve_crd(new)
        if rt.gr == NAMESPACE_GR and old is None:
            self._namespace_created(meta["name"])
        if meta.get("deletionTimestamp"):
            fins = meta.get("finalizers") or []
            if FOREGROUND in fins or ORPHAN in fins or rt.gr in (NAMESPACE_GR, CRD_GR):
                self.gc.mark(meta["uid"])

    def _after_remove(self, rt: ResourceType, final: Obj) -> None:
        meta = final["metadata"]
        if meta["uid"] in self._dependents:
            self.gc.mark(meta["uid"])
        if rt.gr == CRD_GR:
            self._unserve_crd(final)
        for ref in meta.get("ownerReferences") or []:
            owner = self._lookup_uid(str(ref.get("uid")))
            if owner is not None and owner[1].obj["metadata"].get("deletionTimestamp"):
                self.gc.mark(str(ref.get("uid")))
        namespace = meta.get("namespace")
        if rt.namespaced and namespace:
            self.namespace_content_pending(namespace)

    # -- ownership index (the garbage collector's view) -------------------------------------

    def _owner_present(self, namespace: str, ref: dict[str, Any]) -> bool:
        """An owner counts when it exists and, if namespaced, lives in the dependent's namespace
        (a cross-namespace owner reference is treated as absent, like the real collector)."""
        found = self._uids.get(str(ref.get("uid")))
        if found is None:
            return False
        owner_ns = found[1][0]
        return not owner_ns or owner_ns == namespace

    def _lookup_uid(self, uid: str) -> tuple[ResourceType, Entry] | None:
        ref = self._uids.get(uid)
        if ref is None:
            return None
        gr, key = ref
        entry = self._objects.get(gr, {}).get(key)
        rt = self._rt_for_gr(gr)
        if entry is None or rt is None:
            return None
        return rt, entry

    def _rt_for_gr(self, gr: GR) -> ResourceType | None:
        for rt in self.registry:
            if rt.gr == gr and not rt.converts:
                return rt
        return None

    def dependents(self, rt: ResourceType, owner_uid: str) -> builtins.list[Obj]:
        """Copies of the objects of `rt` whose ownerReferences name `owner_uid` (indexed:
        controllers find their children without listing every object of the kind)."""
        return [
            self._out(rt, self._objects[gr][key].obj)
            for gr, key in sorted(self._dependents.get(owner_uid, ()))
            if gr == rt.gr and key in self._objects.get(gr, {})
        ]

    def _dependents_of(self, uid: str) -> builtins.list[tuple[ResourceType, Entry]]:
        out = []
        for gr, key in sorted(self._dependents.get(uid, ())):
            entry = self._objects.get(gr, {}).get(key)
            rt = self._rt_for_gr(gr)
            if entry is not None and rt is not None:
                out.append((rt, entry))
        return out

    # -- kind specific behaviour -------------------------------------------------------------

    def _prepare_create(self, rt: ResourceType, obj: Obj) -> None:
        from tend_sim import resources

        resources.prepare_create(rt, obj, self)
        self._node_ports(rt, obj, None)

    def _prepare_update(self, rt: ResourceType, new: Obj, old: Obj) -> None:
        from tend_sim import resources

        resources.default_on_update(rt, new, old)
        self._node_ports(rt, new, old)

    def _node_ports(self, rt: ResourceType, svc: Obj, old: Obj | None) -> None:
        """The service REST storage's nodePort allocation (service_ports.py)."""
        if rt.gr != ("", "services") or rt.custom:
            return
        spec = svc.get("spec")
        if not isinstance(spec, dict) or spec.get("type") not in ("NodePort", "LoadBalancer"):
            return
        others = (e.obj for e in self._objects.get(rt.gr, {}).values())
        skip = (old or {}).get("metadata", {}).get("uid")
        assign_node_ports(svc, old, used_node_ports(others, skip))

    def _namespace_created(self, namespace: str) -> None:
        """The service-account controller's part: every namespace gets a `default` account;
        and the root-ca-cert-publisher's: a `kube-root-ca.crt` ConfigMap."""
        sa = self.registry.get("", "v1", "serviceaccounts")
        if sa is not None and ((namespace, "default") not in self._objects.get(sa.gr, {})):
            self.create(sa, {"metadata": {"name": "default", "namespace": namespace}})
        cm = self.registry.get("", "v1", "configmaps")
        if cm is not None and (namespace, bootstrap.ROOT_CA) not in self._objects.get(cm.gr, {}):
            self.create(cm, bootstrap.root_ca_config_map(namespace))

    def allocate_cluster_ip(self) -> str:
        self._cluster_ip += 1
        n = self._cluster_ip
        return f"10.96.{(n // 250) % 250}.{n % 250 + 1}"

    def namespace_content_pending(self, namespace: str) -> None:
        """Something in a terminating namespace went away: check whether it can finish."""
        entry = self._objects.get(NAMESPACE_GR, {}).get(("", namespace))
        if entry is not None and entry.obj["metadata"].get("deletionTimestamp"):
            self.gc.mark(entry.obj["metadata"]["uid"])

    # -- CRDs --------------------------------------------------------------------------------

    def _crds(self) -> Iterator[Obj]:
        return (e.obj for e in self._objects.get(CRD_GR, {}).values())

    def _serve_crd(self, crd: Obj) -> None:
        established = any(
            c.get("type") == "Established" and c.get("status") == "True"
            for c in (crd.get("status") or {}).get("conditions") or []
        )
        name = crd["metadata"]["name"]
        if established:
            types = types_from_crd(crd)
            if crd["metadata"].get("deletionTimestamp"):
                for t in types:
                    t.verbs = tuple(v for v in t.verbs if v != "create")
            self.registry.set_crd(name, types)
            for t in types:  # the handler compiles the schema and its CEL rules as it serves
                if t.schema is not None:
                    compiled(t.schema)

    def _unserve_crd(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        types = self.registry.crd_types(name)
        self.registry.remove_crd(name)
        for t in types:
            self._objects.pop(t.gr, None)

    def register_crd(self, crd: Obj) -> Obj:
        """Create, or replace, a CRD (like `kubectl apply`)."""
        rt = self.resource("customresourcedefinitions", "apiextensions.k8s.io")
        name = crd.get("metadata", {}).get("name", "")
        try:
            current = self.get(rt, None, name)
        except ApiError as exc:
            if exc.code != 404:
                raise
            return self.create(rt, crd)
        body = deep_copy(crd)
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        return self.update(rt, body)


# ---------------------------------------------------------------------------------------------
# Helpers


# ObjectMeta's omitempty fields: an empty one is not written (Go's encoding/json; a custom
# resource's metadata goes through typed ObjectMeta too, apiextensions' objectmeta.Coerce), so a
# merge patch that leaves `annotations: {}` stores no annotations (what `kubectl diff` meets).
_OMITEMPTY_META = ("labels", "annotations", "finalizers", "ownerReferences")


def _drop_empty_meta(meta: Obj) -> None:
    for field in _OMITEMPTY_META:
        value = meta.get(field, 0)
        if value is None or value == {} or value == []:
            del meta[field]


def _namespace_spec_finalizers(rt: ResourceType, obj: Obj) -> bool:
    return rt.gr == NAMESPACE_GR and bool((obj.get("spec") or {}).get("finalizers"))


def _spec_changed(rt: ResourceType, new: Obj, old: Obj) -> bool:
    """Whether the write bumps generation: everything but metadata (and status when status is
    a subresource) counts, like the registry strategies of CRDs and workloads."""
    skip = {"metadata", "status"} if rt.status_subresource else {"metadata"}
    keys = (set(new) | set(old)) - skip
    return any(new.get(k) != old.get(k) for k in keys)


def _with_ephemeral_containers(rt: ResourceType, old: Obj, new: Obj) -> Obj:
    """pods/ephemeralcontainers: only spec.ephemeralContainers is taken, and only added to
    (ValidatePodEphemeralContainersUpdate: existing ones may not change or go)."""
    wanted = (new.get("spec") or {}).get("ephemeralContainers") or []
    if not isinstance(wanted, builtins.list):
        raise errors.bad_request("spec.ephemeralContainers must be a list")
    from tend_sim.resources import default_container

    for c in wanted:
        default_container(c)
    by_name = {c.get("name"): c for c in wanted if isinstance(c, dict)}
    name = old["metadata"]["name"]
    for i, current in enumerate((old.get("spec") or {}).get("ephemeralContainers") or []):
        cname = current.get("name")
        if by_name.get(cname) != current:
            gone = cname not in by_name
            raise errors.invalid(
                rt.kind,
                rt.group,
                name,
                [
                    Cause(
                        errors.FIELD_VALUE_FORBIDDEN,
                        f'Forbidden: existing ephemeral containers "{cname}" may not be '
                        + ("removed" if gone else "changed"),
                        f"spec.ephemeralContainers[{i}]",
                    )
                ],
            )
    out: Obj = deep_copy(old)
    out["spec"]["ephemeralContainers"] = wanted
    return out
