"""The reconcile loop: I/O and scheduling around the pure decisions of `tend.logic`.

Handlers feed watch events to `observe_*`, which update the informer's caches and queue
the ManagedServices a change concerns; workers call `reconcile(key)`, which reads the
caches, asks `tend.logic` what the objects should be (`builders`, `plan`), writes the
difference through `kube`, and hands what it saw and did to the report step
(`tend.logic.report`), whose status patch and Events it then carries out. A steady state
writes nothing. Dependents are woken from the graph's reverse index the moment a
dependency becomes ready or stops being ready; of its other changes (what their messages
quote) they hear within DETAIL_REFRESH, batched.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from tend.api import AlertState, ManagedService, OnExhausted, Reason, validation
from tend.api.config import OperatorConfig
from tend.api.validation import format_errors
from tend.logic import builders
from tend.logic.dependencies import blocked_by, root_cause
from tend.logic.graph import MANAGED_SERVICE, SERVICE, Graph, Ref
from tend.logic.incidents import Ladder, ladder_for
from tend.logic.notifications import TRIGGER, Message, message_from
from tend.logic.observation import Awaiting, Observation, awaiting_first_word
from tend.logic.ownership import Key, Ownership, ownership
from tend.logic.plan import (
    OWNED_KINDS,
    WORKLOAD_KINDS,
    Action,
    Plan,
    Refusal,
    Verb,
    plan,
    refusal,
    refused_message,
)
from tend.logic.readiness import News, news_for_dependents, readiness
from tend.logic.report import Report, action_events, report
from tend.logic.restarts import holding, reset_token, settings_for
from tend.logic.workload import current_workload
from tend.runtime.backoff import Backoff
from tend.runtime.delivery import Dispatcher, Outcome
from tend.runtime.informer import Informer, key_of, spec_changed
from tend.runtime.kube import Kube, KubeError
from tend.runtime.metrics import Metrics
from tend.runtime.peering import PeeringGate
from tend.runtime.receivers import Credentials, receivers_namespace
from tend.runtime.reflector import Reflector
from tend.runtime.workqueue import WorkQueue

log = logging.getLogger("tend.controller")

Object = dict[str, Any]

MANAGED_BY_SELECTOR = f"app.kubernetes.io/managed-by={builders.MANAGED_BY}"
NO_ROLLBACK = "no template of this service was ever Ready to roll back to: alerting only"
# Plan-and-write passes in one reconcile before giving up to the queue's back-off.
MAX_PASSES = 3
# Writes to one ManagedService's objects within a minute past which tend says something
# loops. A converging service takes a handful; a rollout with a Service and PDB, a few more.
WRITE_BUDGET = 30
WRITE_BUDGET_REASON = "WriteBudgetExceeded"
# Seconds (real ones: what they wait on is API and controller latency, not the clock's
# time) within which dependents hear of a dependency's changes that do not flip their
# verdict, and for which a status that only rewords, or awaits another controller's first
# word (a Deployment its controller has not observed, a dependency not created yet), is
# held back: each would be rewritten a moment later, and down a long chain that is most of
# the writes.
DETAIL_REFRESH = 2.0
# How long a new service waits for a dependency's first verdict before it writes its own
# ("not yet reconciled"): as long as this operator's queue takes to reach the dependency —
# down a chain applied at once, each member's waits on the one before's.
DEPENDENCY_PATIENCE = 30.0


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Stats:
    """Counts of what this operator did, for tests and benchmarks to assert on."""

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
        clock: Callable[[], datetime] | None = None,
        clock_speed: float = 1.0,
        namespaces: list[str] | None = None,
        selector: str | None = None,
        gate: PeeringGate | None = None,
        metrics: Metrics | None = None,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.kube = kube
        self.metrics = metrics or Metrics()
        self.config = config
        self.clock = clock or _now
        # Status times are the clock's; the queue's timers are real seconds. A clock that
        # runs faster (the simulated cluster's, sped up) shortens every timer alike.
        self.clock_speed = clock_speed
        self.cache = Informer()
        self.graph = Graph()
        self.queue: WorkQueue[Key] = WorkQueue(observer=self.metrics, max_delay=30.0)
        self.stats = Stats()
        self.synced = asyncio.Event()
        self.namespaces: list[str | None] = list(namespaces or []) or [None]
        self.selector = selector
        # Standalone unless told otherwise: a standby peer's workers wait on `gate.active`.
        self.gate = gate or PeeringGate(
            kube, name="", identity="", priority=0, namespaces=[], standalone=True
        )
        self.recheck_after = 10.0  # seconds before looking again at a foreign object
        # Alert delivery: what status's outboxes owe goes to the dispatcher's lanes; what
        # was delivered (or given up on) is dropped from the outbox by the next patch.
        self.dispatcher = dispatcher or Dispatcher(
            config.receivers,
            Credentials(kube, receivers_namespace(config)),
            on_outcome=self._delivery_outcome,
            on_failing=self._delivery_failing,
            metrics=self.metrics,
            # Receivers are the outside world: they get wall-clock times, whatever clock the
            # operator judges restarts by (the simulated cluster's, in tests and the demo).
        )
        self._delivered: dict[Key, set[str]] = {}
        # Refused by the API server at their last reconcile: retried on the back-off only (the
        # watch events of what a refused reconcile wrote and undid wake nothing).
        self._refused: set[Key] = set()
        self._writes: dict[Key, collections.deque[float]] = {}  # write times, last minute
        self._held_back: dict[Key, float] = {}  # verdict held back since (monotonic time)
        self._background: set[asyncio.Task[None]] = set()
        self._worker_count = workers
        self._workers: list[asyncio.Task[None]] = []
        # Pods are watched by tend itself, not kopf, and cached as PodViews (see reflector).
        self.pod_reflectors = [
            Reflector(
                kube,
                "Pod",
                namespace,
                observe=self.observe_pod,
                relisted=self.relisted_pods,
                label_selector=MANAGED_BY_SELECTOR,
                on_error=self.metrics.watch_failed,
            )
            for namespace in self.namespaces
        ]
        self.metrics.ready = lambda: self.kube.reachable and self.synced.is_set()
        self.metrics.collect_from(
            # A standby's cache is not kept current (kopf pauses its watches): its per-service
            # series would contradict the active replica's, so it exports none.
            services=lambda: (
                list(self.cache.services.values()) if self.gate.active.is_set() else []
            ),
            queue=lambda: (len(self.queue), self.queue.running_since()),
            active=self.gate.active.is_set,
        )

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._workers:
            return
        for index in range(self._worker_count):
            task = asyncio.create_task(self._work(), name=f"tend-worker-{index}")
            self._workers.append(task)
        for index, reflector in enumerate(self.pod_reflectors):
            task = asyncio.create_task(reflector.run(), name=f"tend-pods-{index}")
            self._workers.append(task)
        for index, reflector in enumerate(self.gate.reflectors):
            task = asyncio.create_task(self.gate.run(reflector), name=f"tend-peering-{index}")
            self._workers.append(task)
        self.dispatcher.start()

    async def prime(self) -> None:
        """Fill the caches with one (paginated) LIST per kind, like an informer's initial
        sync; reconciling starts only after this, so no reconcile sees a half-filled cache.
        An API server that does not answer yet is retried on `Backoff` (kopf would retry a
        failed start-up handler only after a minute)."""
        for delay in Backoff():
            try:
                await self._prime()
                return
            except KubeError as exc:
                if exc.status not in (0, 429) and exc.status < 500:
                    raise
                log.info("priming the caches failed (%s); again in %.1fs", exc, delay)
                await asyncio.sleep(delay)

    async def _prime(self) -> None:
        feeds: list[tuple[str, str | None, Callable[[str | None, Mapping[str, Any]], None]]] = [
            ("ManagedService", self.selector, self.observe_managed_service),
            ("EndpointSlice", None, self.observe_endpoint_slice),
        ]
        feeds += [(kind, MANAGED_BY_SELECTOR, self.observe_owned) for kind in OWNED_KINDS]
        for kind, selector, observe in feeds:
            for namespace in self.namespaces:
                for item in await self.kube.list(kind, namespace, label_selector=selector):
                    observe(None, item)
        for reflector in self.pod_reflectors:
            await reflector.list()  # page by page: pod bodies are never all held at once
        await self.gate.prime()
        self.synced.set()

    async def _work(self) -> None:
        await self.synced.wait()  # reconcile only once every cache holds its initial listing
        await self.queue.run_worker(self._process)

    async def stop(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        await self.dispatcher.stop()
        await asyncio.gather(*self._background, return_exceptions=True)
        self.queue.close()

    # --- observations (called by the kopf handlers) -----------------------------------------

    def observe_managed_service(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        update = self.cache.update_service(event_type, body)
        if update is None:
            return
        ref = Ref(MANAGED_SERVICE, *update.key)
        if update.body is None:
            cycle = set(self.graph.cycle_through(ref) or [])
            self.graph.remove(ref)
            self._wake(self.graph.dependents(ref) | cycle)
            self._held_back.pop(update.key, None)
            return
        if update.spec_changed:
            # Edges live in the spec: status-only events (most of them) leave the graph alone.
            cycle_before = set(self.graph.cycle_through(ref) or [])
            deps = _dependencies(update.body)
            self.graph.upsert(ref, deps, exists=not update.deleting)
            self._wake(cycle_before ^ set(self.graph.cycle_through(ref) or []))
            self.queue.add(update.key)
        if update.deleting:
            self._wake(self.graph.dependents(ref))
        elif update.news is not News.NONE:
            self._wake(self.graph.dependents(ref), update.news)

    def observe_owned(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        owner = self.cache.update_owned(event_type, body)
        if owner is not None and owner not in self._refused:
            self.queue.add(owner)

    def observe_pod(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        owner = self.cache.update_pod(event_type, body)
        if owner is not None and owner not in self._refused:
            self.queue.add(owner)

    def relisted_pods(self, listed: set[tuple[str, str, str]]) -> None:
        for owner in self.cache.retain_pods(listed):
            self.queue.add(owner)

    def observe_endpoint_slice(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        service = self.cache.update_slice(event_type, body)
        if service is not None:
            self._wake(self.graph.dependents(Ref(SERVICE, *service)))

    def _wake(self, refs: Iterable[Ref], news: News = News.NOW) -> None:
        """Dependents whose verdict may flip go to the front of the queue: they unblock new
        work, while status refreshes of running services can wait. News that only changes
        what their messages quote reaches them within DETAIL_REFRESH, batched."""
        for ref in refs:
            key = (ref.namespace, ref.name)
            if ref.kind != MANAGED_SERVICE or key not in self.cache.services:
                continue
            if news is News.NOW:
                self.queue.add(key, urgent=True)
            else:
                self.queue.add_after(key, DETAIL_REFRESH)

    # --- reconcile -------------------------------------------------------------------------

    async def _process(self, key: Key) -> None:
        await self.gate.active.wait()  # a standby keeps its queue and acts once active
        started = time.perf_counter()
        result = "error"
        try:
            await self.reconcile(key)
            result = "success"
        except KubeError as exc:  # the API server's answer (or none): no traceback
            delay = self.queue.retry(key)
            # While the API server does not answer, that was said once (tend.kube).
            level = logging.WARNING if self.kube.reachable else logging.DEBUG
            log.log(level, "%s/%s: reconcile failed (%s); retrying in %.2fs", *key, exc, delay)
        except Exception:
            delay = self.queue.retry(key)
            log.exception("reconcile %s/%s crashed; retrying in %.2fs", *key, delay)
        else:
            if key not in self._refused:
                self.queue.forget(key)  # refused: the back-off keeps growing
        finally:
            elapsed = time.perf_counter() - started
            self.stats.reconciles += 1
            self.stats.errors += result == "error"
            self.metrics.reconciles.labels(result=result).inc()
            self.metrics.reconcile_duration.observe(elapsed)

    async def reconcile(self, key: Key) -> None:
        """Bring one ManagedService's objects and status to where its spec says."""
        body = self.cache.services.get(key)
        if body is None or (body.get("metadata") or {}).get("deletionTimestamp"):
            self._refused.discard(key)
            self._held_back.pop(key, None)
            return
        generation = int((body.get("metadata") or {}).get("generation") or 0)
        now = self.clock()
        try:
            ms = ManagedService.model_validate(body)
        except ValidationError as exc:
            self._deliver(key, None)  # what status still owes is delivered all the same
            seen = Observation(generation, False, problems=format_errors(exc))
            await self._carry_out(body, report(body.get("status"), seen, now=now), now)
            return
        problems = [str(p) for p in validation.problems(ms, self.config)]
        blocked = blocked_by(ms, self.graph, self.cache.service, self.cache.endpoints)
        result = Plan()
        desired: list[Object] = []
        done: list[Action] = []
        status = body.get("status") or {}
        reset = reset_token(ms)
        held = holding(status.get("restarts"), generation, reset)
        settings = settings_for(ms, self.config)
        deployment = self.cache.owned_object("Deployment", ms.key)
        recorded = builders.last_ready(deployment) if deployment else None
        if settings.on_exhausted == OnExhausted.ROLLBACK and recorded is None:
            settings = replace(settings, on_exhausted=OnExhausted.ALERT.value, fallback=NO_ROLLBACK)
        if not problems:
            desired = builders.build_all(ms, self.config)
            if held == OnExhausted.SCALE_TO_ZERO:
                desired = builders.scaled_to_zero(desired)
            elif held == OnExhausted.ROLLBACK and recorded is not None:
                desired = builders.rolled_back(desired, recorded[0])
            elif ms.spec.restart_policy.on_exhausted == OnExhausted.ROLLBACK:
                workloads = {kind: self.cache.owned_object(kind, ms.key) for kind in WORKLOAD_KINDS}
                running = current_workload(ms, desired, workloads)
                if running is not None and running.ready:
                    desired = builders.recording_ready(desired, generation)
            for _ in range(MAX_PASSES):
                live = await self._live(ms)
                result = plan(ms, desired, live, dependencies_ready=not blocked)
                refused, replan = await self._execute(ms, result.actions, done)
                problems += refused
                if refused:
                    # The API server refuses what the spec makes: try again on the queue's
                    # back-off (a spec change comes at once), never in a loop of our own.
                    delay = self.queue.retry(key)
                    self._refused.add(key)
                    log.warning("%s/%s: %s; retrying in %.1fs", *key, refused[0], delay)
                else:
                    # Taken: owned objects' events wake it again (they were ignored while
                    # the last attempt was refused and its undo's events came in).
                    self._refused.discard(key)
                if not replan:
                    break
            else:
                self.queue.add(key)  # still racing another writer: try again later
        if result.conflict:
            # The foreign object is invisible to our label-filtered watches: look again later.
            self.queue.add_after(key, self.recheck_after)
        workloads = {kind: self.cache.owned_object(kind, ms.key) for kind in WORKLOAD_KINDS}
        ladder = ladder_for(ms, self.config)
        seen = Observation(
            generation=generation,
            runs_to_completion=ms.spec.runs_to_completion,
            problems=problems,
            conflict=result.conflict,
            blocked_by=blocked,
            workload=current_workload(ms, desired, workloads),
            root_cause=root_cause(blocked, self.cache.service),
            actions=done,
            pods=self.cache.pods_of(key),
            restart_settings=settings,
            reset=reset,
            last_ready_generation=recorded[1] if recorded else None,
            ladder=ladder,
            namespace=ms.namespace,
            name=ms.name,
            uid=ms.metadata.uid or "",
            delivered=frozenset(self._delivered.get(key, ())),
            dependents=self._blast_radius(key, body),
        )
        said = report(body.get("status"), seen, now=now)
        if said.recheck_in == 0:
            self.queue.add(key)  # what to build changed (a hold began): carry it out now
        elif said.recheck_in is not None:
            # Time alone will change the verdict (a restart leaves the window, a run reaches
            # minUptime): look again then. (+1s: status times have second precision.)
            self.queue.add_after(key, (said.recheck_in + 1.0) / self.clock_speed)
        if said.status is not None and self._hold_back(key, seen, said):
            # Not the status, nor its transitions' Events: the writes made are news now.
            said = Report(events=action_events(seen.actions))
        await self._carry_out(body, said, now)
        self._deliver(key, ladder)

    def _hold_back(self, key: Key, seen: Observation, said: Report) -> bool:
        """Whether to hold this status back, after which it is written as it stands: it only
        rewords what status says (for DETAIL_REFRESH), or it awaits another controller's
        first word (see `awaiting_first_word`), whose watch event wakes this service at once
        (for DETAIL_REFRESH, or DEPENDENCY_PATIENCE when a dependency's)."""
        first = not (self.cache.services.get(key) or {}).get("status")
        awaiting = awaiting_first_word(seen, self.cache.service, first_verdict=first)
        if not (said.rewording or awaiting):
            self._held_back.pop(key, None)
            return False
        patience = DEPENDENCY_PATIENCE if awaiting is Awaiting.DEPENDENCY else DETAIL_REFRESH
        now = time.monotonic()
        left = patience - (now - self._held_back.setdefault(key, now))
        if left <= 0:
            del self._held_back[key]
            return False
        self.queue.add_after(key, min(left, DETAIL_REFRESH))
        return True

    def _blast_radius(self, key: Key, body: Mapping[str, Any]) -> list[str]:
        """Who waits on this service, for its notifications; walked only when it may be
        failing (not Ready, or its pods have ended runs), not on every healthy reconcile."""
        pods = self.cache.pods_of(key)
        ended = any(c.restart_count or c.terminated for p in pods for c in p.containers)
        if readiness(body).is_ready and not ended:
            return []
        refs = self.graph.downstream(Ref(MANAGED_SERVICE, *key), limit=1000)
        return [f"{r.namespace}/{r.name}" for r in refs]

    # --- alert delivery ----------------------------------------------------------------------

    def _deliver(self, key: Key, ladder: Ladder | None) -> None:
        """Hand what the recorded status owes to the dispatcher (the same entry twice is one
        delivery), and tell Alertmanager lanes what is firing."""
        body = self.cache.services.get(key)
        if body is None:
            return
        alert = (body.get("status") or {}).get("alert") or {}
        outbox = alert.get("outbox") or []
        steps = len(ladder.steps) if ladder else 1
        owed = {str(entry.get("id")) for entry in outbox}
        done = self._delivered.get(key)
        if done is not None:
            done &= owed  # what status no longer has needs no remembering
            if not done:
                del self._delivered[key]
        for entry in outbox:
            if str(entry.get("id")) not in (done or ()):
                message = message_from(entry, body, steps)
                self.dispatcher.submit(key, str(entry.get("receiver")), message)
        if alert.get("key") and ladder is not None:
            firing = alert.get("state") == AlertState.FIRING.value and alert.get("fired")
            receivers = {
                r for i in alert.get("fired") or [] if i < steps for r in ladder.receivers(i)
            }
            last = _last_trigger(alert, body, steps) if firing else None
            self.dispatcher.track(str(alert["key"]), receivers, last)

    def _delivery_outcome(self, outcome: Outcome) -> None:
        self._delivered.setdefault(outcome.owner, set()).add(outcome.message.id)
        self.queue.add(outcome.owner)  # the next patch drops it from the outbox
        if not outcome.delivered:
            self._warn(outcome.owner, f"notification dropped: {outcome.error}")

    def _delivery_failing(self, owner: Key, message: Message, error: str) -> None:
        self._warn(owner, f"delivery keeps failing, still retrying: {error}")

    def _warn(
        self, owner: Key, message: str, reason: str = Reason.ALERT_DELIVERY_FAILED.value
    ) -> None:
        """Post a Warning Event on the ManagedService, in the background (never a retry)."""
        body = self.cache.services.get(owner)
        if body is None:
            return
        task = asyncio.create_task(self._post_warning(body, message, reason))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _post_warning(self, body: Mapping[str, Any], message: str, reason: str) -> None:
        try:
            await self.kube.post_event(
                body, type_="Warning", reason=reason, message=message, now=self.clock()
            )
        except KubeError as exc:
            log.warning("could not post Event %s: %s", reason, exc)

    async def _live(self, ms: ManagedService) -> dict[str, Object | None]:
        """The owned objects from the cache; objects someone else owns are read fresh,
        because the watches (filtered to managed-by=tend) do not see them change."""
        live: dict[str, Object | None] = {}
        for kind in OWNED_KINDS:
            obj = self.cache.owned_object(kind, ms.key)
            if obj is not None and ownership(obj, ms) == Ownership.FOREIGN:
                obj = await self._refresh(kind, ms)
            live[kind] = obj
        return live

    async def _refresh(self, kind: str, ms: ManagedService) -> Object | None:
        fresh = await self.kube.get(kind, ms.namespace, ms.name)
        self.cache.store_owned(kind, ms.key, fresh)
        return fresh

    async def _execute(
        self, ms: ManagedService, actions: list[Action], done: list[Action]
    ) -> tuple[list[str], bool]:
        """Carry out a plan, adding what was written to `done`. Returns (InvalidSpec lines
        if the API server refused an object, whether to plan again because the cluster was
        not as cached). A pass that cannot finish deletes what it created, so nothing is
        left half-built."""
        created: list[Action] = []
        for action in actions:
            try:
                await self._write(ms, action)
            except KubeError as exc:
                why = refusal(exc.status)
                if why is None:
                    raise
                for undo in created:
                    await self.kube.delete(undo.kind, ms.namespace, undo.name)
                    self.cache.store_owned(undo.kind, ms.key, None)
                if why == Refusal.INVALID:
                    return [refused_message(action, ms.namespace, exc.message)], False
                await self._refresh(action.kind, ms)
                return [], True
            if action.verb == Verb.CREATE:
                created.append(action)
        done.extend(actions)
        return [], False

    async def _write(self, ms: ManagedService, action: Action) -> None:
        if action.verb == Verb.DELETE:
            await self.kube.delete(
                action.kind, ms.namespace, action.name, resource_version=action.resource_version
            )
            self.cache.store_owned(action.kind, ms.key, None)
        else:
            assert action.body is not None
            write = self.kube.create if action.verb == Verb.CREATE else self.kube.replace
            self.cache.store_owned(action.kind, ms.key, await write(action.body))
        self.stats.writes += 1
        log.info("%s/%s: %s", ms.namespace, ms.name, action.describe())  # one line per write
        self._budget(ms)

    def _budget(self, ms: ManagedService) -> None:
        """Count a write against the object's budget: past WRITE_BUDGET writes in a minute
        something loops; say so (a Warning Event, a metric), once a minute."""
        now = time.monotonic()
        recent = self._writes.setdefault(ms.key, collections.deque())
        recent.append(now)
        while recent and now - recent[0] > 60.0:
            recent.popleft()
        if len(recent) == WRITE_BUDGET + 1:
            self.metrics.write_budget.labels(ms.namespace, ms.name).inc()
            log.warning("%s/%s: %d writes within a minute", ms.namespace, ms.name, len(recent))
            message = (
                f"more than {WRITE_BUDGET} writes to its objects within a minute: something "
                "keeps changing them back (another controller, or a loop); see tend's log"
            )
            self._warn(ms.key, message, WRITE_BUDGET_REASON)

    async def _carry_out(self, body: Mapping[str, Any], said: Report, now: datetime) -> None:
        """Post the report's Events, then patch the status it computed (if any)."""
        namespace, name = key_of(body)
        # Events first, then the status that records the transition: an operator killed in
        # between, or a status write that fails, posts the transition again under the same
        # name (a no-op), so it is neither lost nor doubled.
        meta = body.get("metadata") or {}
        for event in said.events:
            # A transition is named after the status version it changes: posted again (the
            # status write failed, or the operator died before it), it is the same Event.
            once = (
                f"{meta.get('uid')}|{meta.get('resourceVersion')}|{event.type}|{event.reason}"
                f"|{event.once}"
                if event.once is not None
                else None
            )
            try:
                await self.kube.post_event(
                    body,
                    type_=event.type,
                    reason=event.reason,
                    message=event.message,
                    now=now,
                    once=once,
                )
                self.stats.events += 1
            except KubeError as exc:  # an Event is worth a log line, never a retry
                log.warning(
                    "could not post Event %s on %s/%s: %s", event.reason, namespace, name, exc
                )
        if said.status is None:
            return
        updated = await self.kube.patch_status(namespace, name, said.status)
        self.stats.status_writes += 1
        # The watch event for this write will then look unchanged: wake dependents here.
        news = news_for_dependents(self.cache.store_service(updated), readiness(updated))
        if news is not News.NONE:
            self._wake(self.graph.dependents(Ref(MANAGED_SERVICE, namespace, name)), news)
        if spec_changed(body, updated):
            # The spec changed while we reconciled the old one, and the watch event that says
            # so may arrive after this answer, older than it and so ignored: look again now.
            self.queue.add((namespace, name))


def _last_trigger(alert: Mapping[str, Any], body: Mapping[str, Any], steps: int) -> Message:
    """The firing incident as a Message (what Alertmanager lanes re-send)."""
    step = max(int(i) for i in alert.get("fired") or [0])
    entry = {"id": f"{alert.get('key')}|firing", "action": TRIGGER, "step": step,
             "severity": alert.get("severity"), "reason": alert.get("reason")}  # fmt: skip
    return message_from(entry, body, steps)


def _dependencies(body: Mapping[str, Any]) -> list[Any]:
    try:
        return ManagedService.model_validate(body).spec.depends_on or []
    except ValidationError:
        return []
