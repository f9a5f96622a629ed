"""The garbage collector and the namespace and CRD finalizers, as the store's helper.

Owners marked after a write (a dependent whose owner is gone, an object deleted with the
orphan or foregroundDeletion finalizer, a terminating namespace or CRD) are processed on the
event loop soon after it, asynchronous to the DELETE request like the real collector:
Background/Foreground/Orphan propagation, then a namespace's content and a CRD's objects.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from tend_sim.errors import ApiError
from tend_sim.objects import CRD_FINALIZER, CRD_GR, FOREGROUND, NAMESPACE_GR, ORPHAN, deep_copy
from tend_sim.resources import ResourceType

if TYPE_CHECKING:
    from tend_sim.store import Entry, Store


class GarbageCollector:
    """Owner uids whose dependents or finalizers need a look, and the work on each."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._dirty: set[str] = set()  # owner uids whose dependents need a look
        self._scheduled = False

    def mark(self, *uids: str) -> None:
        """These owners' dependents or finalizers need a look: run soon."""
        self._dirty.update(uids)
        self._schedule()

    def _schedule(self) -> None:
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self._scheduled = True
        if loop is None:
            self.run()
        else:
            loop.call_soon(self.run)

    def run(self) -> None:
        """Process owners whose dependents or finalizers need attention, until nothing changes.
        Runs on the event loop shortly after the write that made it necessary (like the real
        garbage collector, it is asynchronous to the DELETE request)."""
        self._scheduled = False
        for _ in range(10_000):
            if not self._dirty:
                return
            uid = self._dirty.pop()
            try:
                self._gc_one(uid)
            except ApiError:  # a conflicting finalizer or a validation failure: leave it be
                continue

    def _gc_one(self, uid: str) -> None:
        store = self.store
        found = store._lookup_uid(uid)
        if found is not None and found[1].obj["metadata"].get("deletionTimestamp"):
            self._finalize_owner(found[0], found[1])
            return
        # Collect dependents whose every owner is absent; drop only dangling references
        # from dependents that still have an owner.
        for drt, dep in store._dependents_of(uid):
            dmeta = dep.obj["metadata"]
            owners = dmeta.get("ownerReferences") or []
            alive = [o for o in owners if store._owner_present(dmeta.get("namespace", ""), o)]
            if len(alive) == len(owners):
                continue
            if alive:
                new = deep_copy(dep.obj)
                new["metadata"]["ownerReferences"] = alive
                store._system_update(drt, new, dep)
                continue
            if not dmeta.get("deletionTimestamp"):
                store.delete_entry(drt, dmeta.get("namespace"), dmeta["name"], "Background")

    def _finalize_owner(self, rt: ResourceType, entry: Entry) -> None:
        store = self.store
        obj = entry.obj
        meta = obj["metadata"]
        fins = list(meta.get("finalizers") or [])
        uid = meta["uid"]
        if ORPHAN in fins:
            for drt, dep in store._dependents_of(uid):
                new = deep_copy(dep.obj)
                refs = [
                    o for o in new["metadata"].get("ownerReferences") or [] if o.get("uid") != uid
                ]
                if refs:
                    new["metadata"]["ownerReferences"] = refs
                else:
                    new["metadata"].pop("ownerReferences", None)
                store._system_update(drt, new, dep)
            self._drop_finalizer(rt, entry, ORPHAN)
            return
        if FOREGROUND in fins:
            for drt, dep in store._dependents_of(uid):
                dmeta = dep.obj["metadata"]
                if not dmeta.get("deletionTimestamp"):
                    store.delete_entry(drt, dmeta.get("namespace"), dmeta["name"], "Foreground")
            if not self._blocking_dependents(uid):
                current = store._lookup_uid(uid)
                if current is not None:
                    self._drop_finalizer(current[0], current[1], FOREGROUND)
            return
        if rt.gr == NAMESPACE_GR:
            self._finalize_namespace(rt, entry)
        elif rt.gr == CRD_GR:
            self._finalize_crd(rt, entry)

    def _blocking_dependents(self, uid: str) -> bool:
        store = self.store
        for _, dep in store._dependents_of(uid):
            for o in dep.obj["metadata"].get("ownerReferences") or []:
                if o.get("uid") == uid and o.get("blockOwnerDeletion"):
                    return True
        return False

    def _drop_finalizer(self, rt: ResourceType, entry: Entry, finalizer: str) -> None:
        store = self.store
        new = deep_copy(entry.obj)
        fins = [f for f in new["metadata"].get("finalizers") or [] if f != finalizer]
        if fins:
            new["metadata"]["finalizers"] = fins
        else:
            new["metadata"].pop("finalizers", None)
        store._system_update(rt, new, entry)

    def _finalize_namespace(self, rt: ResourceType, entry: Entry) -> None:
        store = self.store
        ns = entry.obj["metadata"]["name"]
        remaining = 0
        for gr, bucket in list(store._objects.items()):
            nrt = store._rt_for_gr(gr)
            if nrt is None or not nrt.namespaced:
                continue
            for key, e in sorted(bucket.items()):
                if key[0] != ns:
                    continue
                remaining += 1
                if not e.obj["metadata"].get("deletionTimestamp"):
                    store.delete_entry(nrt, ns, key[1], "Background")
        if remaining and any(k[0] == ns for b in store._objects.values() for k in b):
            return  # wait for finalizers of the content; called again when they change
        new = deep_copy(entry.obj)
        spec = new.get("spec") or {}
        spec.pop("finalizers", None)
        new["spec"] = spec
        current = store._objects[NAMESPACE_GR].get(("", ns))
        if current is None:
            return
        store._system_update(rt, new, current)
        current = store._objects[NAMESPACE_GR].get(("", ns))
        if current is not None and not current.obj["metadata"].get("finalizers"):
            store._remove(rt, current, deep_copy(current.obj))

    def _finalize_crd(self, rt: ResourceType, entry: Entry) -> None:
        store = self.store
        crd = entry.obj
        types = store.registry.crd_types(crd["metadata"]["name"])
        if types:
            crt = types[0]
            bucket = store._objects.get(crt.gr, {})
            for key, e in sorted(bucket.items()):
                if not e.obj["metadata"].get("deletionTimestamp"):
                    store.delete_entry(crt, key[0] or None, key[1], "Background")
            if store._objects.get(crt.gr):
                return
        self._drop_finalizer(rt, entry, CRD_FINALIZER)
