"""The reconcile loop: caches fed by watch events, a work queue, and one `reconcile` per key.

Handlers only feed `observe_*`; workers call `reconcile(key)`, which reads the caches,
asks the pure modules what the objects and the status should be, and writes the
difference through `kube`. A steady state writes nothing. Dependents are woken from
the reverse index the moment a dependency's readiness changes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from tend.api import KIND, ManagedService, ManagedServiceStatus, Reason, validation
from tend.api.config import OperatorConfig
from tend.api.validation import format_errors
from tend.logic import builders
from tend.logic.conditions import Observation, compute_status, merge_conditions
from tend.logic.dependencies import blocked_by, root_cause
from tend.logic.events import NORMAL, WARNING, Event, transitions
from tend.logic.graph import MANAGED_SERVICE, SERVICE, Graph, Ref
from tend.logic.plan import (
    OWNED_KINDS,
    WORKLOAD_KINDS,
    Action,
    Ownership,
    Plan,
    Verb,
    ownership,
    plan,
)
from tend.logic.workload import WorkloadState, observe_workload
from tend.runtime import metrics
from tend.runtime.kube import Kube, KubeError
from tend.runtime.workqueue import WorkQueue

log = logging.getLogger("tend.controller")

Key = tuple[str, str]  # (namespace, name) of a ManagedService
Object = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_SELECTOR = f"app.kubernetes.io/managed-by={builders.MANAGED_BY}"
# Plan-and-write passes in one reconcile before giving up to the queue's back-off.
MAX_PASSES = 3


def _key(body: Mapping[str, Any]) -> Key:
    meta = body.get("metadata") or {}
    return (meta.get("namespace") or "default", meta.get("name") or "")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _readiness(body: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """What dependents look at: generation, observedGeneration, phase, Ready."""
    if body is None:
        return ()
    status = body.get("status") or {}
    ready: Mapping[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {}
    )
    return (
        (body.get("metadata") or {}).get("generation"),
        status.get("observedGeneration"),
        status.get("phase"),
        ready.get("status"),
        ready.get("reason"),
    )


def _owner_key(body: Mapping[str, Any]) -> Key | None:
    meta = body.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == KIND:
            return (meta.get("namespace") or "default", ref.get("name"))
    labels = meta.get("labels") or {}
    if labels.get("app.kubernetes.io/managed-by") == builders.MANAGED_BY:
        instance = labels.get("app.kubernetes.io/instance")
        if instance:
            return (meta.get("namespace") or "default", instance)
    return None


@dataclass
class Stats:
    """Counters the metrics and benchmarks read."""

    reconciles: int = 0
    errors: int = 0
    writes: int = 0
    status_writes: int = 0
    events: int = 0


class Controller:
    """Owns the caches, the dependency graph and the work queue of one operator."""

    def __init__(
        self,
        kube: Kube,
        config: OperatorConfig,
        *,
        workers: int = 8,
        clock: Callable[[], datetime] = _now,
        namespaces: list[str] | None = None,
        selector: str | None = None,
    ) -> None:
        self.kube = kube
        self.config = config
        self.clock = clock
        self.services: dict[Key, Object] = {}
        self.owned: dict[tuple[str, str, str], Object] = {}
        self.slices: dict[Key, dict[str, int]] = {}
        self.graph = Graph()
        self.queue: WorkQueue[Key] = WorkQueue()
        self.stats = Stats()
        self.synced = asyncio.Event()
        self.namespaces: list[str | None] = list(namespaces or []) or [None]
        self.selector = selector
        self.recheck_after = 10.0  # seconds between looks for a missing Secret/ConfigMap
        self._worker_count = workers
        self._workers: list[asyncio.Task[None]] = []

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._workers:
            return
        for index in range(self._worker_count):
            task = asyncio.create_task(self._work(), name=f"tend-worker-{index}")
            self._workers.append(task)

    async def prime(self) -> None:
        """Fill the caches with one (paginated) LIST per kind, like an informer's initial
        sync; reconciling starts only after this, so no reconcile sees a half-filled cache."""
        feeds: list[tuple[str, str | None, Callable[[str | None, Mapping[str, Any]], None]]] = [
            ("ManagedService", self.selector, self.observe_managed_service),
            ("EndpointSlice", None, self.observe_endpoint_slice),
        ]
        feeds += [(kind, MANAGED_BY_SELECTOR, self.observe_owned) for kind in OWNED_KINDS]
        for kind, selector, observe in feeds:
            for namespace in self.namespaces:
                for item in await self.kube.list(kind, namespace, label_selector=selector):
                    observe(None, item)
        self.synced.set()

    async def _work(self) -> None:
        await self.synced.wait()  # reconcile only once every cache holds its initial listing
        await self.queue.run_worker(self._process)

    async def stop(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        self.queue.close()

    # --- observations (called by the kopf handlers) -----------------------------------------

    def observe_managed_service(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        key = _key(body)
        ref = Ref(MANAGED_SERVICE, *key)
        before = self.services.get(key)
        if event_type != "DELETED" and _older(body, before):
            return  # a late event from before our own write; the cache is newer
        if event_type == "DELETED":
            cycle = set(self.graph.cycle_through(ref) or [])
            self.services.pop(key, None)
            self.graph.remove(ref)
            self._wake(self.graph.dependents(ref) | cycle)
            return
        body = dict(body)
        self.services[key] = body
        deleting = bool((body.get("metadata") or {}).get("deletionTimestamp"))
        if before is None or _spec_changed(before, body):
            # Edges live in the spec: status-only events (most of them) leave the graph alone.
            cycle_before = set(self.graph.cycle_through(ref) or [])
            self.graph.upsert(ref, self._dependencies(body), exists=not deleting)
            self._wake(cycle_before ^ set(self.graph.cycle_through(ref) or []))
            self.queue.add(key)
        if _readiness(before) != _readiness(body) or deleting:
            self._wake(self.graph.dependents(ref))

    def observe_owned(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        cache_key = (
            str(body.get("kind")),
            meta.get("namespace") or "default",
            meta.get("name", ""),
        )
        if event_type == "DELETED":
            before = self.owned.pop(cache_key, None)
            relevant = True
        else:
            before = self.owned.get(cache_key)
            if _older(body, before):
                return  # a late event from before our own write; the cache is newer
            self.owned[cache_key] = dict(body)
            relevant = _matters(before, body)
        owner = _owner_key(body)
        if owner is not None and relevant:
            self.queue.add(owner)

    def observe_endpoint_slice(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if not service:
            return
        key = (meta.get("namespace") or "default", service)
        before = self._endpoints(*key)
        slices = self.slices.setdefault(key, {})
        if event_type == "DELETED":
            slices.pop(meta.get("name", ""), None)
            if not slices:
                del self.slices[key]
        else:
            slices[meta.get("name", "")] = sum(
                1
                for endpoint in body.get("endpoints") or []
                if (endpoint.get("conditions") or {}).get("ready") is not False
            )
        if self._endpoints(*key) != before:
            self._wake(self.graph.dependents(Ref(SERVICE, *key)))

    def _wake(self, refs: Iterable[Ref]) -> None:
        """Dependents go to the front of the queue: they unblock new work, while status
        refreshes of running services can wait."""
        for ref in refs:
            if ref.kind == MANAGED_SERVICE and (ref.namespace, ref.name) in self.services:
                self.queue.add((ref.namespace, ref.name), urgent=True)

    def _dependencies(self, body: Mapping[str, Any]) -> list[Any]:
        try:
            return ManagedService.model_validate(body).spec.depends_on or []
        except ValidationError:
            return []

    def _endpoints(self, namespace: str, name: str) -> tuple[bool, int]:
        slices = self.slices.get((namespace, name))
        return (slices is not None, sum(slices.values()) if slices else 0)

    # --- reconcile -------------------------------------------------------------------------

    async def _process(self, key: Key) -> None:
        started = time.perf_counter()
        result = "error"
        try:
            await self.reconcile(key)
            result = "success"
        except KubeError as exc:
            delay = self.queue.retry(key)
            log.warning("reconcile %s/%s failed (%s); retrying in %.2fs", *key, exc, delay)
        except Exception:
            delay = self.queue.retry(key)
            log.exception("reconcile %s/%s crashed; retrying in %.2fs", *key, delay)
        else:
            self.queue.forget(key)
        finally:
            elapsed = time.perf_counter() - started
            self.stats.reconciles += 1
            self.stats.errors += result == "error"
            metrics.RECONCILE_TOTAL.labels(result=result).inc()
            metrics.RECONCILE_DURATION.observe(elapsed)

    async def reconcile(self, key: Key) -> None:
        """Bring one ManagedService's objects and status to where its spec says."""
        body = self.services.get(key)
        if body is None or (body.get("metadata") or {}).get("deletionTimestamp"):
            return
        generation = int((body.get("metadata") or {}).get("generation") or 0)
        try:
            ms = ManagedService.model_validate(body)
        except ValidationError as exc:
            await self._write_status(
                body, Observation(generation, False, problems=format_errors(exc)), []
            )
            return
        problems = [str(p) for p in validation.problems(ms, self.config)]
        missing = await self._missing_references(ms)
        if missing:
            # Secrets and ConfigMaps are not watched; look again until they appear.
            self.queue.add_after(key, self.recheck_after)
        problems += missing
        blocked = blocked_by(ms, self.graph, self._lookup_service, self._endpoints)
        result = Plan()
        desired: list[Object] = []
        events: list[Event] = []
        if not problems:
            desired = builders.build_all(ms, self.config)
            for _ in range(MAX_PASSES):
                live = await self._live(ms)
                result = plan(ms, desired, live, dependencies_ready=not blocked)
                refused, replan = await self._execute(ms, result.actions, events)
                problems += refused
                if not replan:
                    break
            else:
                self.queue.add(key)  # still racing another writer: try again later
        if result.conflict:
            # The foreign object is invisible to our label-filtered watches: look again later.
            self.queue.add_after(key, self.recheck_after)
        workload = self._workload(ms, desired)
        running = workload is not None and workload.ready
        observation = Observation(
            generation=generation,
            runs_to_completion=ms.spec.runs_to_completion,
            problems=problems,
            conflict=result.conflict,
            blocked_by=blocked,
            workload=workload,
            suppressed_by=root_cause(blocked, self._lookup_service) if running else None,
        )
        await self._write_status(body, observation, events)

    async def _live(self, ms: ManagedService) -> dict[str, Object | None]:
        """The owned objects from the cache; objects someone else owns are read fresh,
        because the watches (filtered to managed-by=tend) do not see them change."""
        live: dict[str, Object | None] = {}
        for kind in OWNED_KINDS:
            obj = self.owned.get((kind, *ms.key))
            if obj is not None and ownership(obj, ms) == Ownership.FOREIGN:
                obj = await self._refresh(kind, ms)
            live[kind] = obj
        return live

    async def _refresh(self, kind: str, ms: ManagedService) -> Object | None:
        fresh = await self.kube.get(kind, ms.namespace, ms.name)
        if fresh is None:
            self.owned.pop((kind, *ms.key), None)
        else:
            self.owned[(kind, *ms.key)] = fresh
        return fresh

    def _lookup_service(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.services.get((namespace, name))

    def _workload(self, ms: ManagedService, desired: list[Object]) -> WorkloadState | None:
        wanted = next((o for o in desired if o["kind"] in WORKLOAD_KINDS), None)
        desired_hash = (
            wanted["metadata"]["annotations"][builders.DESIRED_HASH_ANNOTATION] if wanted else None
        )
        for kind in WORKLOAD_KINDS:
            live = self.owned.get((kind, *ms.key))
            if live is not None and _owned_by(live, ms):
                return observe_workload(live, desired_hash)
        return None

    async def _missing_references(self, ms: ManagedService) -> list[str]:
        """Secrets and ConfigMaps the pod needs that do not exist (and are not optional)."""
        problems = []
        refs: list[tuple[str, str, str]] = []
        for i, source in enumerate(ms.spec.env_from or []):
            ref = source.secret_ref or source.config_map_ref
            if ref is not None and not ref.optional:
                kind = "Secret" if source.secret_ref else "ConfigMap"
                refs.append((f"spec.envFrom[{i}]", kind, ref.name))
        for i, var in enumerate(ms.spec.env or []):
            src = var.value_from
            if src is None:
                continue
            key_ref = src.secret_key_ref or src.config_map_key_ref
            if key_ref is not None and not key_ref.optional:
                kind = "Secret" if src.secret_key_ref else "ConfigMap"
                refs.append((f"spec.env[{i}].valueFrom", kind, key_ref.name))
        for where, kind, name in refs:
            if await self.kube.get(kind, ms.namespace, name) is None:
                problems.append(f"{where}: {kind} {ms.namespace}/{name} not found (create it)")
        return problems

    async def _execute(
        self, ms: ManagedService, actions: list[Action], events: list[Event]
    ) -> tuple[list[str], bool]:
        """Carry out a plan. Returns (InvalidSpec lines if the API server refused an object,
        whether to plan again because the cluster was not as cached). A pass that cannot
        finish deletes what it created, so nothing is left half-built."""
        created: list[Action] = []
        for action in actions:
            try:
                await self._write(ms, action)
            except KubeError as exc:
                if exc.status not in (400, 404, 409, 422):
                    raise
                for done in created:
                    await self.kube.delete(done.kind, ms.namespace, done.name)
                    self.owned.pop((done.kind, *ms.key), None)
                if exc.status in (400, 422):
                    refused = f"{action.kind} {ms.namespace}/{ms.name}"
                    return [f"{refused} refused by the API server: {exc.message}"], False
                await self._refresh(action.kind, ms)  # AlreadyExists, Conflict, NotFound
                return [], True
            if action.verb == Verb.CREATE:
                created.append(action)
        if actions:
            reason = "RolloutInProgress" if _touches_workload(actions) else "Reconciled"
            events.append(Event(NORMAL, reason, ", ".join(a.describe() for a in actions)))
        return [], False

    async def _write(self, ms: ManagedService, action: Action) -> None:
        cache_key = (action.kind, *ms.key)
        if action.verb == Verb.DELETE:
            await self.kube.delete(
                action.kind, ms.namespace, action.name, resource_version=action.resource_version
            )
            self.owned.pop(cache_key, None)
        else:
            assert action.body is not None
            write = self.kube.create if action.verb == Verb.CREATE else self.kube.replace
            self.owned[cache_key] = await write(action.body)
        self.stats.writes += 1

    async def _write_status(
        self, body: Mapping[str, Any], observation: Observation, events: list[Event]
    ) -> None:
        old = _parse_status(body)
        phase, conditions = compute_status(observation)
        now = self.clock()
        merged = merge_conditions(
            old.conditions if old else None, conditions, generation=observation.generation, now=now
        )
        new: dict[str, Any] = {
            "observedGeneration": observation.generation,
            "phase": phase.value,
            "conditions": [c.to_api() for c in merged],
            "blockedBy": [b.to_api() for b in observation.blocked_by] or None,
            "workload": observation.workload.summary().to_api() if observation.workload else None,
        }
        old_alert = (body.get("status") or {}).get("alert") or {}
        if observation.suppressed_by:
            new["alert"] = {"state": "Suppressed", "suppressedBy": observation.suppressed_by}
            if old_alert.get("state") != "Suppressed":
                events.append(
                    Event(
                        WARNING,
                        Reason.ALERT_SUPPRESSED.value,
                        "alerts suppressed in favour of the root cause, "
                        + observation.suppressed_by,
                    )
                )
        elif old_alert.get("state") == "Suppressed":
            new["alert"] = None  # the dependency recovered; nothing left to suppress
        if not (body.get("status") or {}).get("restarts"):
            new["restarts"] = {
                "total": 0,
                "inWindow": 0,
            }  # fills the Restarts column from the start
        current = {k: (body.get("status") or {}).get(k) for k in new}
        if new == current:
            return
        # Events first, then the status that records the transition: an operator killed in
        # between posts an Event twice after its restart, but never loses one.
        for event in events + transitions(old, merged, already={e.reason for e in events}):
            try:
                await self.kube.post_event(
                    body, type_=event.type, reason=event.reason, message=event.message, now=now
                )
                self.stats.events += 1
            except KubeError as exc:  # an Event is worth a log line, never a retry
                log.warning("could not post Event %s on %s/%s: %s", event.reason, *_key(body), exc)
        namespace, name = _key(body)
        updated = await self.kube.patch_status(namespace, name, new)
        self.stats.status_writes += 1
        # Cache what we wrote, so the next reconcile neither repeats the write nor its
        # Events; the watch event for it then looks unchanged, so wake dependents here.
        self.services[(namespace, name)] = updated
        if _readiness(body) != _readiness(updated):
            self._wake(self.graph.dependents(Ref(MANAGED_SERVICE, namespace, name)))


def _parse_status(body: Mapping[str, Any]) -> ManagedServiceStatus | None:
    raw = body.get("status")
    if not raw:
        return None
    try:
        return ManagedServiceStatus.model_validate(raw)
    except ValidationError:
        return None


def _spec_changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    b, a = before.get("metadata") or {}, after.get("metadata") or {}
    return (
        b.get("generation") != a.get("generation")
        or b.get("uid") != a.get("uid")
        or (b.get("annotations") or {}) != (a.get("annotations") or {})
        or bool(b.get("deletionTimestamp")) != bool(a.get("deletionTimestamp"))
    )


def _matters(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> bool:
    """Whether a change of an owned object can change what the owner does or reports:
    anything but status, and of status only what the workload's readiness is read from."""
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


def _older(body: Mapping[str, Any], cached: Mapping[str, Any] | None) -> bool:
    """Whether `body` is an older version than the cached one (resourceVersions compare
    as integers on every API server we know; anything else is never called older)."""
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


def _owned_by(live: Mapping[str, Any], ms: ManagedService) -> bool:
    refs = (live.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("controller") and r.get("uid") == ms.metadata.uid for r in refs)


def _touches_workload(actions: Iterable[Action]) -> bool:
    return any(a.kind in WORKLOAD_KINDS for a in actions)
