"""The operator's caches: what it has seen of the cluster, kept like a client-go informer.

Each kind tend reads (ManagedServices, the objects it owns, their pods, EndpointSlices) is
primed with one paginated LIST at start-up and then kept current by kopf's watch events,
which the handlers feed here. Pods are kept as `PodView`s, the few fields tend reads, not
whole bodies. Why not kopf's own indices: kopf holds back every handler until all indices
are filled, and that readiness gate costs O(n²) in the number of objects — with 10,000
ManagedServices start-up spent minutes there (measured; see bench/README.md).

What this guarantees the controller:
- **Synced before reconciling.** `Controller.prime` fills every cache before the first
  reconcile, so no reconcile sees a half-listed cluster and mistakes a dependency or an
  owned object for missing.
- **Never older than our own writes.** The controller stores what the API server answered
  to its writes; a watch event that arrives later with an older resourceVersion of the same
  object (same uid) is ignored (`older`), so a reconcile never acts on a stale copy.
- **Only changes that matter.** `update_*` say whom a change concerns, and only when it
  can change what the owner does or reports (`matters`, `spec_changed`, readiness), so a
  resync or a status-only change of a Service queues nothing.

Pure bookkeeping: no I/O, no kopf, no client; the controller decides what to schedule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tend.logic.ownership import Key, owner_key
from tend.logic.plan import WORKLOAD_KINDS
from tend.logic.pods import PodView, pod_view
from tend.logic.readiness import News, Readiness, news_for_dependents, readiness

Object = dict[str, Any]
OwnedKey = tuple[str, str, str]  # (kind, namespace, name)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
DELETED = "DELETED"


def key_of(body: Mapping[str, Any]) -> Key:
    meta = body.get("metadata") or {}
    return (meta.get("namespace") or "default", meta.get("name") or "")


@dataclass(frozen=True)
class ServiceUpdate:
    """What one ManagedService event changed."""

    key: Key
    body: Object | None  # None: deleted
    spec_changed: bool  # new, or generation/uid/annotations/deletion changed: edges too
    news: News  # what it means to its dependents

    @property
    def deleting(self) -> bool:
        return self.body is not None and bool(
            (self.body.get("metadata") or {}).get("deletionTimestamp")
        )


class Informer:
    """ManagedServices, owned objects and ready-endpoint counts, as last seen."""

    def __init__(self) -> None:
        self.services: dict[Key, Object] = {}
        self.owned: dict[OwnedKey, Object] = {}
        self._slices: dict[Key, dict[str, int]] = {}  # Service -> slice name -> ready count
        self._pods: dict[Key, dict[str, PodView]] = {}  # ManagedService -> pod name -> view
        # Objects this operator deleted itself, by uid: their late watch events (the ADDED of
        # an object created and undone in one reconcile, its DELETED) are news to nobody.
        self._deleted: dict[OwnedKey, str] = {}

    # --- ManagedServices ---------------------------------------------------------------------

    def update_service(
        self, event_type: str | None, body: Mapping[str, Any]
    ) -> ServiceUpdate | None:
        """Record a ManagedService event; None when it is older than the cache."""
        key = key_of(body)
        before = self.services.get(key)
        if event_type == DELETED:
            self.services.pop(key, None)
            return ServiceUpdate(key, None, spec_changed=False, news=News.NOW)
        if older(body, before):
            return None  # a late event from before our own write; the cache is newer
        after = dict(body)
        self.services[key] = after
        return ServiceUpdate(
            key,
            after,
            spec_changed=before is None or spec_changed(before, after),
            news=news_for_dependents(readiness(before), readiness(after)),
        )

    def store_service(self, body: Object) -> Readiness:
        """Cache what the API server answered to our own status write, so the next reconcile
        neither repeats it nor its Events (unless a newer version arrived meanwhile);
        returns the readiness it replaced."""
        key = key_of(body)
        cached = self.services.get(key)
        before = readiness(cached)
        if not older(body, cached):
            self.services[key] = body
        return before

    def service(self, namespace: str, name: str) -> Object | None:
        return self.services.get((namespace, name))

    # --- owned objects -------------------------------------------------------------------------

    def update_owned(self, event_type: str | None, body: Mapping[str, Any]) -> Key | None:
        """Record an owned object's event; returns the ManagedService to reconcile, if the
        change can make a difference to it."""
        cache_key = owned_key(body)
        uid = str((body.get("metadata") or {}).get("uid") or "")
        if uid and self._deleted.get(cache_key) == uid:
            if event_type == DELETED:
                del self._deleted[cache_key]
            return None  # our own delete, seen late: nothing to do, nobody to wake
        if event_type == DELETED:
            self.owned.pop(cache_key, None)
            return owner_key(body)
        before = self.owned.get(cache_key)
        if older(body, before):
            return None
        self.owned[cache_key] = dict(body)
        return owner_key(body) if matters(before, body) else None

    def owned_object(self, kind: str, key: Key) -> Object | None:
        return self.owned.get((kind, *key))

    def store_owned(self, kind: str, key: Key, body: Object | None) -> None:
        """Cache the answer to our own write (None: the object is gone), unless a watch
        event already brought a newer version of it."""
        if body is None:
            gone = self.owned.pop((kind, *key), None)
            uid = str(((gone or {}).get("metadata") or {}).get("uid") or "")
            if uid:
                self._deleted[(kind, *key)] = uid
        elif not older(body, self.owned.get((kind, *key))):
            self.owned[(kind, *key)] = body

    # --- pods ---------------------------------------------------------------------------------

    def update_pod(self, event_type: str | None, body: Mapping[str, Any]) -> Key | None:
        """Record a pod (only the fields tend reads: `PodView`); returns its ManagedService
        when what tend reads of the pod changed."""
        view = pod_view(body)
        if view.owner is None:
            return None
        pods = self._pods.setdefault(view.owner, {})
        before = pods.get(view.name)
        if event_type == DELETED:
            if before is not None and before.uid == view.uid:
                del pods[view.name]
                if not pods:
                    del self._pods[view.owner]
            return view.owner
        if before is not None and before.uid == view.uid and _rv(view) < _rv(before):
            return None  # a late event; the cache is newer
        pods[view.name] = view
        return None if view.same_state(before) else view.owner

    def retain_pods(self, listed: set[tuple[str, str, str]]) -> set[Key]:
        """After a relist: forget the pods the LIST no longer has (deleted while no watch
        saw it), by (namespace, name, uid); returns their ManagedServices."""
        gone: set[Key] = set()
        for owner, pods in list(self._pods.items()):
            for name, view in list(pods.items()):
                if (view.namespace, name, view.uid) not in listed:
                    del pods[name]
                    gone.add(owner)
            if not pods:
                del self._pods[owner]
        return gone

    def pods_of(self, key: Key) -> list[PodView]:
        """The pods of one ManagedService, by name."""
        pods = self._pods.get(key) or {}
        return [pods[name] for name in sorted(pods)]

    # --- EndpointSlices ----------------------------------------------------------------------

    def update_slice(self, event_type: str | None, body: Mapping[str, Any]) -> Key | None:
        """Record an EndpointSlice; returns its Service when that Service's endpoint state
        (exists, ready count) changed."""
        meta = body.get("metadata") or {}
        service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if not service:
            return None
        key = (meta.get("namespace") or "default", service)
        before = self.endpoints(*key)
        slices = self._slices.setdefault(key, {})
        if event_type == DELETED:
            slices.pop(meta.get("name", ""), None)
            if not slices:
                del self._slices[key]
        else:
            slices[meta.get("name", "")] = sum(
                1
                for endpoint in body.get("endpoints") or []
                if (endpoint.get("conditions") or {}).get("ready") is not False
            )
        return key if self.endpoints(*key) != before else None

    def endpoints(self, namespace: str, name: str) -> tuple[bool, int]:
        """(the Service has EndpointSlices, how many endpoints are ready)."""
        slices = self._slices.get((namespace, name))
        return (slices is not None, sum(slices.values()) if slices else 0)


def _rv(view: PodView) -> int:
    try:
        return int(view.resource_version or 0)
    except ValueError:
        return 0


def owned_key(body: Mapping[str, Any]) -> OwnedKey:
    meta = body.get("metadata") or {}
    return (str(body.get("kind")), meta.get("namespace") or "default", meta.get("name", ""))


def spec_changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether a ManagedService event changed what its reconcile reads besides status."""
    b, a = before.get("metadata") or {}, after.get("metadata") or {}
    return (
        b.get("generation") != a.get("generation")
        or b.get("uid") != a.get("uid")
        or (b.get("annotations") or {}) != (a.get("annotations") or {})
        or bool(b.get("deletionTimestamp")) != bool(a.get("deletionTimestamp"))
    )


def matters(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> bool:
    """Whether a change of an owned object can change what the owner does or reports:
    anything but status, and of status only a workload's (readiness is read from it)."""
    if before is None:
        return True

    def relevant(obj: Mapping[str, Any]) -> tuple[Any, ...]:
        meta = obj.get("metadata") or {}
        status = (obj.get("status") or {}) if obj.get("kind") in WORKLOAD_KINDS else {}
        return (
            meta.get("generation"),
            meta.get("labels"),
            meta.get("annotations"),
            meta.get("ownerReferences"),
            bool(meta.get("deletionTimestamp")),
            obj.get("spec"),
            status,
        )

    return relevant(before) != relevant(after)


def older(body: Mapping[str, Any], cached: Mapping[str, Any] | None) -> bool:
    """Whether `body` is an older version of the cached object (same uid, lower
    resourceVersion). resourceVersions are opaque by contract but integers on every API
    server we know (etcd revisions); anything that is not an integer is never older."""
    if cached is None:
        return False
    try:
        new = int((body.get("metadata") or {}).get("resourceVersion") or 0)
        old = int((cached.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return False
    same_object = (body.get("metadata") or {}).get("uid") == (cached.get("metadata") or {}).get(
        "uid"
    )
    return same_object and new < old
