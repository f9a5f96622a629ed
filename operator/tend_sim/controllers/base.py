"""What the simulated controllers share: the watch-fed loop over a queue of keys, and helpers
for owner references, conditions, pod states and pod-template hashes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from tend_sim.clock import Clock, rfc3339
from tend_sim.errors import ApiError
from tend_sim.events import EventRecorder
from tend_sim.objects import Key, Obj, deep_copy
from tend_sim.resources import ResourceType
from tend_sim.store import Store

log = logging.getLogger(__name__)

HASH_LABEL = "pod-template-hash"
# The manager of the controllers' writes in managedFields, as on a real cluster.
FIELD_MANAGER = "kube-controller-manager"
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def controller_ref(obj: Obj) -> Obj | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def owned_by(obj: Obj, owner: Obj) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == owner["metadata"]["uid"]


def owner_reference(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def condition(obj: Obj, type_: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


def pod_ready(pod: Obj) -> bool:
    cond = condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def pod_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_active(pod: Obj) -> bool:
    """Counted by a ReplicaSet/Job: not finished and not being deleted."""
    return not pod_terminal(pod) and not pod["metadata"].get("deletionTimestamp")


def pod_rank(pod: Obj) -> tuple[Any, ...]:
    """controller.ActivePods ordering: the pods to delete first sort first."""
    status = pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", ""), 0)
    restarts = sum(c.get("restartCount", 0) for c in status.get("containerStatuses") or [])
    ready = condition(pod, "Ready")
    ready_since = (ready or {}).get("lastTransitionTime") or ""
    created = pod["metadata"].get("creationTimestamp") or ""
    return (
        bool(pod["spec"].get("nodeName")),
        phase_rank,
        pod_ready(pod),
        # ready for less time first: later transition first
        "".join(chr(0x10FFFF - ord(c)) for c in ready_since) if pod_ready(pod) else "",
        -restarts,
        "".join(chr(0x10FFFF - ord(c)) for c in created),  # newer first
    )


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(value: int) -> str:
    """rand.SafeEncodeString of the decimal form, as the deployment controller names RSs."""
    return "".join(_SAFE_ALPHABET[ord(ch) % len(_SAFE_ALPHABET)] for ch in str(value))


def template_hash(template: Obj, collision_count: int = 0) -> str:
    """A stable pod-template-hash (fnv32a of the template, safe-encoded)."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    return safe_encode(fnv32a(data))


def without_hash(template: Obj) -> Obj:
    copy: Obj = deep_copy(template)
    labels = (copy.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return copy


def resolve_int_or_percent(value: Any, total: int, round_up: bool) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and value.endswith("%"):
        scaled = int(value[:-1]) * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    return int(value)


def set_condition(
    conditions: list[Obj], new: Obj, now: str, *, update_time: bool = False
) -> list[Obj]:
    """Replace the condition of new["type"], keeping lastTransitionTime if status is the same."""
    out = []
    found = False
    for cond in conditions:
        if cond.get("type") != new["type"]:
            out.append(cond)
            continue
        found = True
        merged = dict(new)
        same_status = cond.get("status") == new["status"]
        merged["lastTransitionTime"] = cond.get("lastTransitionTime") if same_status else now
        if update_time:
            same = same_status and cond.get("reason") == new.get("reason")
            merged["lastUpdateTime"] = cond.get("lastUpdateTime") if same else now
        out.append(merged)
    if not found:
        merged = dict(new)
        merged["lastTransitionTime"] = now
        if update_time:
            merged["lastUpdateTime"] = now
        out.append(merged)
    return out


class Controller:
    """A queue of keys, fed by watches, drained by `reconcile(key)`."""

    name = "controller"
    component = "controller"

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.recorder = EventRecorder(store, clock, self.component)
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._queued: set[Key] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._delayed: dict[Key, asyncio.Task[None]] = {}

    # Subclasses: the watched resources and how an object maps to keys.
    def watches(self) -> list[tuple[ResourceType, Callable[[str, Obj], Iterable[Key]]]]:
        raise NotImplementedError

    def reconcile(self, key: Key) -> None:
        raise NotImplementedError

    def start(self) -> None:
        for rt, mapper in self.watches():
            self._tasks.append(asyncio.create_task(self._watch(rt, mapper), name=self.name))
        self._tasks.append(asyncio.create_task(self._work(), name=self.name))

    async def stop(self) -> None:
        tasks = self._tasks + list(self._delayed.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._delayed.clear()

    def create_pod(self, owner: Obj) -> Obj:
        """A pod from `owner`'s template (generateName, owner reference), with its Event."""
        template = owner["spec"]["template"]
        meta = template.get("metadata") or {}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": f"{owner['metadata']['name']}-",
                "namespace": owner["metadata"]["namespace"],
                "labels": dict(meta.get("labels") or {}),
                "annotations": dict(meta.get("annotations") or {}),
                "ownerReferences": [owner_reference(owner)],
            },
            "spec": deep_copy(template.get("spec") or {}),
        }
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        try:
            created = self.store.create(
                self.store.resource("pods"), pod, field_manager=FIELD_MANAGER
            )
        except ApiError as exc:
            # As the ReplicaSet and Job controllers report a refused pod (e.g. by admission).
            self.recorder.record(owner, "Warning", "FailedCreate", f"Error creating: {exc.message}")
            raise
        self.recorder.record(
            owner, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}"
        )
        return created

    def delete_pod(self, owner: Obj, pod: Obj) -> None:
        """Delete one of `owner`'s pods (gone already is fine), with the owner's Event."""
        name = pod["metadata"]["name"]
        with contextlib.suppress(ApiError):
            self.store.delete(self.store.resource("pods"), pod["metadata"]["namespace"], name)
            self.recorder.record(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

    def enqueue(self, key: Key) -> None:
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def enqueue_after(self, key: Key, sim_seconds: float) -> None:
        """Look at `key` again after `sim_seconds` of simulated time (earliest wins)."""
        if key in self._delayed:
            return

        async def later() -> None:
            try:
                await self.clock.sleep(sim_seconds)
            finally:
                self._delayed.pop(key, None)
            self.enqueue(key)

        self._delayed[key] = asyncio.create_task(later())

    async def _watch(self, rt: ResourceType, mapper: Callable[[str, Obj], Iterable[Key]]) -> None:
        while True:
            watch = self.store.watch(rt)
            async for type_, obj in watch:
                try:
                    for key in mapper(type_, obj):
                        self.enqueue(key)
                except Exception:
                    log.exception("%s: mapping a %s event failed", self.name, rt.kind)
            await asyncio.sleep(0)

    async def _work(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            try:
                self.reconcile(key)
            except ApiError as exc:
                if exc.code in (404, 409):  # raced with another writer: look again
                    self.enqueue(key)
                else:
                    log.warning("%s: %s/%s: %s", self.name, key[0], key[1], exc)
            except Exception:
                log.exception("%s: reconcile of %s/%s failed", self.name, *key)
            await asyncio.sleep(0)

    # -- shared helpers ------------------------------------------------------------------

    def now(self) -> str:
        return rfc3339(self.clock.now())

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj | None:
        try:
            return self.store.get(rt, namespace, name)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    def owned(self, rt: ResourceType, owner: Obj) -> list[Obj]:
        items = self.store.dependents(rt, owner["metadata"]["uid"])
        return [item for item in items if owned_by(item, owner)]

    def write_status(self, rt: ResourceType, obj: Obj, status: Obj) -> None:
        if obj.get("status") == status:
            return
        obj["status"] = status
        self.store.update(rt, obj, subresource="status", field_manager=FIELD_MANAGER)

    @staticmethod
    def key_of(obj: Obj) -> Key:
        meta = obj["metadata"]
        return (meta.get("namespace", ""), meta["name"])

    def owner_keys(self, kind: str) -> Callable[[str, Obj], Iterable[Key]]:
        def mapper(_: str, obj: Obj) -> Iterable[Key]:
            ref = controller_ref(obj)
            if ref is not None and ref.get("kind") == kind:
                yield (obj["metadata"].get("namespace", ""), ref["name"])

        return mapper

    def self_keys(self, _: str, obj: Obj) -> Iterable[Key]:
        yield self.key_of(obj)
