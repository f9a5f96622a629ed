"""The simulated control plane's controllers: what kube-controller-manager and the scheduler
do for the kinds tend creates, plus the simulated kubelet.

- scheduler: binds every pod without a node to `sim-node-1` (PodScheduled, `Scheduled` Event);
- Deployment -> ReplicaSets: pod-template-hash, revision annotations, RollingUpdate with
  maxSurge/maxUnavailable, Recreate, scaling, revisionHistoryLimit, status and the
  Available/Progressing conditions (NewReplicaSetCreated, ReplicaSetUpdated,
  NewReplicaSetAvailable, ProgressDeadlineExceeded), `ScalingReplicaSet` Events;
- ReplicaSet -> Pods: generateName, controller ownerReferences, the deletion ranking of the
  real controller, status replicas/ready/available (minReadySeconds);
- Job -> Pods: parallelism, completions, backoffLimit (failed pods for restartPolicy Never,
  container restarts for OnFailure), the pod-recreation back-off (10s doubling to 6m),
  activeDeadlineSeconds, and the Kubernetes >= 1.31 terminal conditions: SuccessCriteriaMet
  then Complete (reason CompletionsReached), FailureTarget then Failed (BackoffLimitExceeded /
  DeadlineExceeded) once no pod is left running;
- EndpointSlices (and the legacy Endpoints) per Service with a selector, with ready/serving/
  terminating conditions.

Garbage collection by ownerReference is the store's (tend.sim.garbage_collector). Every
controller is a watch-driven loop over a queue of keys; reconciles are synchronous against the
store, so they always see the latest state (no informer lag, no expectations needed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from tend.sim.clock import Clock, rfc3339
from tend.sim.errors import ApiError
from tend.sim.kubelet import NODE_NAME, EventRecorder, Kubelet
from tend.sim.objects import deep_copy
from tend.sim.resources import ResourceType
from tend.sim.selectors import labels_match, parse_label_selector
from tend.sim.store import Store

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
SLICE_MANAGER = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS_PER_SLICE = 100
JOB_BACKOFF_INITIAL = 10.0
JOB_BACKOFF_MAX = 360.0
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# --------------------------------------------------------------------------- helpers


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


# --------------------------------------------------------------------------- the loop


class _Controller:
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
        self.store.update(rt, obj, subresource="status")

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


# --------------------------------------------------------------------------- scheduler


class Scheduler(_Controller):
    """Binds pods to the one simulated node."""

    name = "scheduler"
    component = "default-scheduler"

    def __init__(self, store: Store, clock: Clock, node_name: str = NODE_NAME) -> None:
        super().__init__(store, clock)
        self.node_name = node_name
        self.pods = store.resource("pods")

    def watches(self) -> list[tuple[ResourceType, Callable[[str, Obj], Iterable[Key]]]]:
        def unscheduled(type_: str, pod: Obj) -> Iterable[Key]:
            if type_ != "DELETED" and condition(pod, "PodScheduled") is None:
                yield self.key_of(pod)

        return [(self.pods, unscheduled)]

    def reconcile(self, key: Key) -> None:
        pod = self.get(self.pods, *key)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        if condition(pod, "PodScheduled") is not None:
            return
        if not pod["spec"].get("nodeName"):
            pod["spec"]["nodeName"] = self.node_name
            pod = self.store.update(self.pods, pod)
        status = deep_copy(pod.get("status") or {})
        status.setdefault("phase", "Pending")
        status["conditions"] = [
            *(status.get("conditions") or []),
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": self.now(),
            },
        ]
        self.write_status(self.pods, pod, status)
        message = f"Successfully assigned {key[0]}/{key[1]} to {pod['spec']['nodeName']}"
        self.recorder.record(pod, "Normal", "Scheduled", message)


# --------------------------------------------------------------------------- ReplicaSet


def _pod_rank(pod: Obj) -> tuple[Any, ...]:
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


class ReplicaSetController(_Controller):
    name = "replicaset-controller"
    component = "replicaset-controller"

    def __init__(self, store: Store, clock: Clock) -> None:
        super().__init__(store, clock)
        self.rs = store.resource("replicasets", "apps")
        self.pods = store.resource("pods")

    def watches(self) -> list[tuple[ResourceType, Callable[[str, Obj], Iterable[Key]]]]:
        return [(self.rs, self.self_keys), (self.pods, self.owner_keys("ReplicaSet"))]

    def reconcile(self, key: Key) -> None:
        rs = self.get(self.rs, *key)
        if rs is None:
            return
        spec = rs.get("spec") or {}
        pods = self.owned(self.pods, rs)
        active = [p for p in pods if pod_active(p)]
        if not rs["metadata"].get("deletionTimestamp"):
            want = int(spec.get("replicas", 1))
            if len(active) < want:
                for _ in range(want - len(active)):
                    active.append(self._create_pod(rs))
            elif len(active) > want:
                doomed = sorted(active, key=_pod_rank)[: len(active) - want]
                for pod in doomed:
                    self._delete_pod(rs, pod)
                    active.remove(pod)
        self._update_status(rs, active)

    def _create_pod(self, rs: Obj) -> Obj:
        template = rs["spec"]["template"]
        meta = template.get("metadata") or {}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": f"{rs['metadata']['name']}-",
                "namespace": rs["metadata"]["namespace"],
                "labels": dict(meta.get("labels") or {}),
                "annotations": dict(meta.get("annotations") or {}),
                "ownerReferences": [owner_reference(rs)],
            },
            "spec": deep_copy(template.get("spec") or {}),
        }
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        created = self.store.create(self.pods, pod)
        self.recorder.record(
            rs, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}"
        )
        return created

    def _delete_pod(self, rs: Obj, pod: Obj) -> None:
        name = pod["metadata"]["name"]
        with contextlib.suppress(ApiError):
            self.store.delete(self.pods, pod["metadata"]["namespace"], name)
            self.recorder.record(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

    def _update_status(self, rs: Obj, active: list[Obj]) -> None:
        min_ready = float((rs.get("spec") or {}).get("minReadySeconds") or 0)
        template_labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get(
            "labels"
        ) or {}
        ready = [p for p in active if pod_ready(p)]
        available = 0
        now = self.clock.now()
        wait: float | None = None
        for pod in ready:
            since = parse_time((condition(pod, "Ready") or {}).get("lastTransitionTime"))
            ready_for = (now - since).total_seconds() if since else 0.0
            if ready_for >= min_ready:
                available += 1
            else:
                left = min_ready - ready_for
                wait = left if wait is None else min(wait, left)
        if wait is not None:
            self.enqueue_after(self.key_of(rs), wait + 1)
        fully_labeled = sum(
            1
            for p in active
            if all(
                (p["metadata"].get("labels") or {}).get(k) == v for k, v in template_labels.items()
            )
        )
        status: Obj = {
            "replicas": len(active),
            "fullyLabeledReplicas": fully_labeled,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        if ready:
            status["readyReplicas"] = len(ready)
        if available:
            status["availableReplicas"] = available
        old = rs.get("status") or {}
        if "conditions" in old:
            status["conditions"] = old["conditions"]
        self.write_status(self.rs, rs, status)


# --------------------------------------------------------------------------- Deployment


class DeploymentController(_Controller):
    name = "deployment-controller"
    component = "deployment-controller"

    def __init__(self, store: Store, clock: Clock) -> None:
        super().__init__(store, clock)
        self.deployments = store.resource("deployments", "apps")
        self.rs = store.resource("replicasets", "apps")

    def watches(self) -> list[tuple[ResourceType, Callable[[str, Obj], Iterable[Key]]]]:
        return [(self.deployments, self.self_keys), (self.rs, self.owner_keys("Deployment"))]

    def reconcile(self, key: Key) -> None:
        deployment = self.get(self.deployments, *key)
        if deployment is None or deployment["metadata"].get("deletionTimestamp"):
            return
        spec = deployment["spec"]
        all_rs = self.owned(self.rs, deployment)
        template = spec["template"]
        new_rs = next((rs for rs in all_rs if self._same_template(rs, template)), None)
        old_rs = [rs for rs in all_rs if rs is not new_rs]
        created = False
        if spec.get("paused"):
            self._sync_status(deployment, new_rs, old_rs, progressed=False, created=False)
            return
        if new_rs is None:
            new_rs = self._create_rs(deployment, old_rs)
            created = True
        else:
            new_rs = self._ensure_revision(deployment, new_rs, old_rs)
        strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
        if strategy == "Recreate":
            progressed = self._recreate(deployment, new_rs, old_rs)
        else:
            progressed = self._rolling(deployment, new_rs, old_rs)
        self._cleanup(deployment, old_rs)
        self._sync_status(deployment, new_rs, old_rs, progressed=progressed, created=created)

    # -- replica sets -------------------------------------------------------------------

    @staticmethod
    def _same_template(rs: Obj, template: Obj) -> bool:
        rs_template = (rs.get("spec") or {}).get("template") or {}
        return bool(without_hash(rs_template) == without_hash(template))

    @staticmethod
    def _revision(rs: Obj) -> int:
        try:
            return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
        except ValueError:
            return 0

    def _create_rs(self, deployment: Obj, old_rs: list[Obj]) -> Obj:
        spec = deployment["spec"]
        status = deployment.get("status") or {}
        pod_hash = template_hash(spec["template"], int(status.get("collisionCount") or 0))
        template = deep_copy(spec["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = deep_copy(spec["selector"])
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        revision = max((self._revision(rs) for rs in old_rs), default=0) + 1
        replicas = int(spec.get("replicas", 1))
        strategy = spec.get("strategy") or {}
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            initial = self._new_rs_replicas(deployment, old_rs, None)
        else:
            initial = 0
        surge = self._surge_unavailable(deployment)[0]
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{deployment['metadata']['name']}-{pod_hash}",
                "namespace": deployment["metadata"]["namespace"],
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {
                    REVISION: str(revision),
                    DESIRED_REPLICAS: str(replicas),
                    MAX_REPLICAS: str(replicas + surge),
                },
                "ownerReferences": [owner_reference(deployment)],
            },
            "spec": {
                "replicas": initial,
                "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                "selector": selector,
                "template": template,
            },
        }
        created = self.store.create(self.rs, rs)
        self._annotate_revision(deployment, revision)
        if initial:
            self._event_scaled(deployment, created, 0, initial)
        return created

    def _ensure_revision(self, deployment: Obj, new_rs: Obj, old_rs: list[Obj]) -> Obj:
        """A rollback to an older template makes its ReplicaSet the newest revision."""
        newest = max((self._revision(rs) for rs in old_rs), default=0)
        if self._revision(new_rs) <= newest:
            new_rs["metadata"].setdefault("annotations", {})[REVISION] = str(newest + 1)
            new_rs = self.store.update(self.rs, new_rs)
        self._annotate_revision(deployment, self._revision(new_rs))
        return new_rs

    def _annotate_revision(self, deployment: Obj, revision: int) -> None:
        annotations = deployment["metadata"].setdefault("annotations", {})
        if annotations.get(REVISION) != str(revision):
            annotations[REVISION] = str(revision)
            updated = self.store.update(self.deployments, deployment)
            deployment["metadata"] = updated["metadata"]

    def _scale(self, deployment: Obj, rs: Obj, replicas: int) -> bool:
        current = int(rs["spec"].get("replicas", 0))
        if current == replicas:
            return False
        want = int(deployment["spec"].get("replicas", 1))
        surge = self._surge_unavailable(deployment)[0]
        rs["spec"]["replicas"] = replicas
        annotations = rs["metadata"].setdefault("annotations", {})
        annotations[DESIRED_REPLICAS] = str(want)
        annotations[MAX_REPLICAS] = str(want + surge)
        updated = self.store.update(self.rs, rs)
        rs.clear()
        rs.update(updated)
        self._event_scaled(deployment, rs, current, replicas)
        return True

    def _event_scaled(self, deployment: Obj, rs: Obj, before: int, after: int) -> None:
        direction = "up" if after > before else "down"
        name = rs["metadata"]["name"]
        message = f"Scaled {direction} replica set {name} from {before} to {after}"
        self.recorder.record(deployment, "Normal", "ScalingReplicaSet", message)

    # -- strategies ---------------------------------------------------------------------

    def _surge_unavailable(self, deployment: Obj) -> tuple[int, int]:
        spec = deployment["spec"]
        replicas = int(spec.get("replicas", 1))
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        surge = resolve_int_or_percent(rolling.get("maxSurge", "25%"), replicas, round_up=True)
        unavailable = resolve_int_or_percent(
            rolling.get("maxUnavailable", "25%"), replicas, round_up=False
        )
        if surge == 0 and unavailable == 0:
            unavailable = 1
        return surge, unavailable

    def _new_rs_replicas(self, deployment: Obj, old_rs: list[Obj], new_rs: Obj | None) -> int:
        replicas = int(deployment["spec"].get("replicas", 1))
        surge, _ = self._surge_unavailable(deployment)
        current = int(new_rs["spec"].get("replicas", 0)) if new_rs else 0
        total = current + sum(int(rs["spec"].get("replicas", 0)) for rs in old_rs)
        max_total = replicas + surge
        if total >= max_total:
            return current
        return current + min(max_total - total, max(0, replicas - current))

    def _rolling(self, deployment: Obj, new_rs: Obj, old_rs: list[Obj]) -> bool:
        replicas = int(deployment["spec"].get("replicas", 1))
        progressed = False
        # Scale the new ReplicaSet up (within maxSurge) or down (to the desired count).
        current = int(new_rs["spec"].get("replicas", 0))
        if current > replicas:
            progressed |= self._scale(deployment, new_rs, replicas)
        elif current < replicas:
            target = self._new_rs_replicas(deployment, old_rs, new_rs)
            progressed |= self._scale(deployment, new_rs, target)
        # Scale old ReplicaSets down without going below minAvailable.
        active_old = [rs for rs in old_rs if int(rs["spec"].get("replicas", 0)) > 0]
        if not active_old:
            return progressed
        _, max_unavailable = self._surge_unavailable(deployment)
        min_available = replicas - max_unavailable
        all_rs = [new_rs, *old_rs]
        all_pods = sum(int(rs["spec"].get("replicas", 0)) for rs in all_rs)
        new_status = new_rs.get("status") or {}
        new_unavailable = int(new_rs["spec"].get("replicas", 0)) - int(
            new_status.get("availableReplicas", 0)
        )
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return progressed
        oldest_first = sorted(active_old, key=lambda rs: rs["metadata"]["creationTimestamp"])
        # First the old pods that are not available anyway.
        cleaned = 0
        for rs in oldest_first:
            if cleaned >= max_scaled_down:
                break
            count = int(rs["spec"].get("replicas", 0))
            unhealthy = count - int((rs.get("status") or {}).get("availableReplicas", 0))
            down = min(max_scaled_down - cleaned, max(0, unhealthy))
            if down > 0:
                progressed |= self._scale(deployment, rs, count - down)
                cleaned += down
        max_scaled_down -= cleaned
        if max_scaled_down <= 0:
            return progressed
        available = sum(int((rs.get("status") or {}).get("availableReplicas", 0)) for rs in all_rs)
        total_down = min(available - min_available, max_scaled_down)
        for rs in oldest_first:
            if total_down <= 0:
                break
            count = int(rs["spec"].get("replicas", 0))
            down = min(count, total_down)
            if down > 0:
                progressed |= self._scale(deployment, rs, count - down)
                total_down -= down
        return progressed

    def _recreate(self, deployment: Obj, new_rs: Obj, old_rs: list[Obj]) -> bool:
        progressed = False
        for rs in old_rs:
            progressed |= self._scale(deployment, rs, 0)
        still_running = any(int((rs.get("status") or {}).get("replicas", 0)) for rs in old_rs)
        if not still_running:
            replicas = int(deployment["spec"].get("replicas", 1))
            progressed |= self._scale(deployment, new_rs, replicas)
        return progressed

    def _cleanup(self, deployment: Obj, old_rs: list[Obj]) -> None:
        limit = int(deployment["spec"].get("revisionHistoryLimit", 10))
        idle = [
            rs
            for rs in old_rs
            if int(rs["spec"].get("replicas", 0)) == 0
            and int((rs.get("status") or {}).get("replicas", 0)) == 0
            and not rs["metadata"].get("deletionTimestamp")
        ]
        idle.sort(key=self._revision)
        for rs in idle[: max(0, len(idle) - limit)]:
            with contextlib.suppress(ApiError):
                self.store.delete(self.rs, rs["metadata"]["namespace"], rs["metadata"]["name"])

    # -- status -------------------------------------------------------------------------

    def _sync_status(
        self,
        deployment: Obj,
        new_rs: Obj | None,
        old_rs: list[Obj],
        *,
        progressed: bool,
        created: bool,
    ) -> None:
        spec = deployment["spec"]
        replicas = int(spec.get("replicas", 1))
        all_rs = [rs for rs in [new_rs, *old_rs] if rs is not None]

        def total(field: str) -> int:
            return sum(int((rs.get("status") or {}).get(field, 0)) for rs in all_rs)

        updated = int(((new_rs or {}).get("status") or {}).get("replicas", 0))
        available = total("availableReplicas")
        old_status = deployment.get("status") or {}
        status: Obj = {
            "observedGeneration": deployment["metadata"].get("generation", 1),
            "replicas": total("replicas"),
            "updatedReplicas": updated,
            "readyReplicas": total("readyReplicas"),
            "availableReplicas": available,
        }
        if replicas - available > 0:
            status["unavailableReplicas"] = replicas - available
        for field in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
            if not status[field]:
                del status[field]
        if "collisionCount" in old_status:
            status["collisionCount"] = old_status["collisionCount"]
        now = self.now()
        conditions = list(old_status.get("conditions") or [])
        _, max_unavailable = self._surge_unavailable(deployment)
        if available >= replicas - max_unavailable:
            available_cond = {
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
            }
        else:
            available_cond = {
                "type": "Available",
                "status": "False",
                "reason": "MinimumReplicasUnavailable",
                "message": "Deployment does not have minimum availability.",
            }
        conditions = set_condition(conditions, available_cond, now, update_time=True)
        progressing = self._progressing(deployment, new_rs, old_rs, status, progressed, created)
        if progressing is not None:
            conditions = set_condition(conditions, progressing, now, update_time=True)
            if progressing["reason"] in ("ReplicaSetUpdated", "NewReplicaSetCreated"):
                for cond in conditions:  # progress refreshes lastUpdateTime
                    if cond["type"] == "Progressing" and progressed:
                        cond["lastUpdateTime"] = now
        order = {"Available": 0, "Progressing": 1, "ReplicaFailure": 2}
        status["conditions"] = sorted(conditions, key=lambda c: order.get(c["type"], 9))
        self.write_status(self.deployments, deployment, status)
        deadline = spec.get("progressDeadlineSeconds", 600)
        if progressing is not None and progressing["reason"] != "NewReplicaSetAvailable":
            self.enqueue_after(self.key_of(deployment), float(deadline) + 1)

    def _progressing(
        self,
        deployment: Obj,
        new_rs: Obj | None,
        old_rs: list[Obj],
        status: Obj,
        progressed: bool,
        created: bool,
    ) -> Obj | None:
        if new_rs is None:
            return None
        spec = deployment["spec"]
        replicas = int(spec.get("replicas", 1))
        name = new_rs["metadata"]["name"]
        old_pods = sum(int((rs.get("status") or {}).get("replicas", 0)) for rs in old_rs)
        complete = (
            status.get("updatedReplicas", 0) == replicas
            and status.get("replicas", 0) == replicas
            and status.get("availableReplicas", 0) == replicas
            and old_pods == 0
        )
        if complete:
            return {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{name}" has successfully progressed.',
            }
        if created:
            return {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetCreated",
                "message": f'Created new replica set "{name}"',
            }
        current = condition(deployment, "Progressing")
        if progressed or current is None or current.get("reason") == "NewReplicaSetAvailable":
            return {
                "type": "Progressing",
                "status": "True",
                "reason": "ReplicaSetUpdated",
                "message": f'ReplicaSet "{name}" is progressing.',
            }
        deadline = spec.get("progressDeadlineSeconds", 600)
        last = parse_time(current.get("lastUpdateTime"))
        if (
            current.get("status") == "True"
            and last is not None
            and (self.clock.now() - last).total_seconds() > float(deadline)
        ):
            return {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": f'ReplicaSet "{name}" has timed out progressing.',
            }
        return current


# --------------------------------------------------------------------------- Job


class JobController(_Controller):
    name = "job-controller"
    component = "job-controller"

    def __init__(self, store: Store, clock: Clock) -> None:
        super().__init__(store, clock)
        self.jobs = store.resource("jobs", "batch")
        self.pods = store.resource("pods")
        self._counted: dict[str, dict[str, str]] = {}  # job uid -> pod uid -> outcome
        self._last_failure: dict[str, float] = {}  # job uid -> monotonic time

    def watches(self) -> list[tuple[ResourceType, Callable[[str, Obj], Iterable[Key]]]]:
        return [(self.jobs, self.self_keys), (self.pods, self.owner_keys("Job"))]

    def reconcile(self, key: Key) -> None:
        job = self.get(self.jobs, *key)
        if job is None:
            return
        uid = job["metadata"]["uid"]
        spec, status = job["spec"], deep_copy(job.get("status") or {})
        pods = self.owned(self.pods, job)
        active = [p for p in pods if pod_active(p)]
        counted = self._counted.setdefault(uid, {})
        new_failure = False
        for pod in pods:
            phase = (pod.get("status") or {}).get("phase")
            pod_uid = pod["metadata"]["uid"]
            if phase in ("Succeeded", "Failed") and pod_uid not in counted:
                counted[pod_uid] = phase
                if phase == "Failed":
                    new_failure = True
        if new_failure:
            self._last_failure[uid] = self.clock.monotonic()
        succeeded = max(
            int(status.get("succeeded", 0)), sum(v == "Succeeded" for v in counted.values())
        )
        failed = max(int(status.get("failed", 0)), sum(v == "Failed" for v in counted.values()))
        now = self.now()
        if not status.get("startTime") and not spec.get("suspend"):
            status["startTime"] = now
        finished = self._finished(job)
        terminal = self._terminal_target(job)
        if finished is None and terminal is None:
            terminal = self._check_terminal(job, active, succeeded, failed, status, now)
        if terminal is not None or finished is not None:
            for pod in active:  # a finished job stops what still runs
                self._delete_pod(job, pod)
            active = []
            terminating = [p for p in pods if p["metadata"].get("deletionTimestamp")]
            if finished is None and terminal is not None and not terminating:
                self._finish(job, status, terminal, now)
        elif not spec.get("suspend"):
            active = self._manage(job, active, succeeded, failed)
        status["active"] = len(active)
        ready = sum(1 for p in active if pod_ready(p))
        status["ready"] = ready
        status["succeeded"], status["failed"] = succeeded, failed
        for field in ("active", "succeeded", "failed"):
            if not status[field]:
                del status[field]
        status.setdefault("uncountedTerminatedPods", {})
        self.write_status(self.jobs, job, status)

    # -- terminal conditions --------------------------------------------------------------

    @staticmethod
    def _finished(job: Obj) -> Obj | None:
        for type_ in ("Complete", "Failed"):
            cond = condition(job, type_)
            if cond is not None and cond.get("status") == "True":
                return cond
        return None

    @staticmethod
    def _terminal_target(job: Obj) -> Obj | None:
        for type_ in ("SuccessCriteriaMet", "FailureTarget"):
            cond = condition(job, type_)
            if cond is not None and cond.get("status") == "True":
                return cond
        return None

    def _check_terminal(
        self,
        job: Obj,
        active: list[Obj],
        succeeded: int,
        failed: int,
        status: Obj,
        now: str,
    ) -> Obj | None:
        spec = job["spec"]
        completions = spec.get("completions")
        backoff_limit = int(spec.get("backoffLimit", 6))
        policy = (spec["template"].get("spec") or {}).get("restartPolicy", "Never")
        target: Obj | None = None
        if (completions is not None and succeeded >= int(completions)) or (
            completions is None and succeeded > 0 and not active
        ):
            target = {
                "type": "SuccessCriteriaMet",
                "reason": "CompletionsReached",
                "message": "Reached expected number of succeeded pods",
            }
        elif failed > backoff_limit or self._past_backoff_on_failure(job, active, policy):
            target = {
                "type": "FailureTarget",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
            }
        elif self._past_deadline(job, status):
            target = {
                "type": "FailureTarget",
                "reason": "DeadlineExceeded",
                "message": "Job was active longer than specified deadline",
            }
        if target is None:
            return None
        full = {"status": "True", "lastProbeTime": now, **target}
        status["conditions"] = set_condition(list(status.get("conditions") or []), full, now)
        return full

    @staticmethod
    def _past_backoff_on_failure(job: Obj, active: list[Obj], policy: str) -> bool:
        if policy != "OnFailure":
            return False
        restarts = sum(
            int(c.get("restartCount", 0))
            for pod in active
            if (pod.get("status") or {}).get("phase") in ("Running", "Pending")
            for c in (pod.get("status") or {}).get("containerStatuses") or []
        )
        limit = int(job["spec"].get("backoffLimit", 6))
        return restarts > 0 if limit == 0 else restarts >= limit

    def _past_deadline(self, job: Obj, status: Obj) -> bool:
        deadline = job["spec"].get("activeDeadlineSeconds")
        started = parse_time(status.get("startTime"))
        if deadline is None or started is None:
            return False
        left = float(deadline) - (self.clock.now() - started).total_seconds()
        if left > 0:
            self.enqueue_after(self.key_of(job), left + 0.5)
            return False
        return True

    def _finish(self, job: Obj, status: Obj, target: Obj, now: str) -> None:
        success = target["type"] == "SuccessCriteriaMet"
        final = {
            "type": "Complete" if success else "Failed",
            "status": "True",
            "reason": target["reason"],
            "message": target["message"],
            "lastProbeTime": now,
        }
        status["conditions"] = set_condition(list(status.get("conditions") or []), final, now)
        if success:
            status["completionTime"] = now
            self.recorder.record(job, "Normal", "Completed", "Job completed")
        else:
            self.recorder.record(job, "Warning", target["reason"], target["message"])

    # -- pods ---------------------------------------------------------------------------

    def _manage(self, job: Obj, active: list[Obj], succeeded: int, failed: int) -> list[Obj]:
        spec = job["spec"]
        parallelism = int(spec.get("parallelism", 1))
        completions = spec.get("completions")
        if completions is None:
            want = parallelism if succeeded == 0 else 0
        else:
            want = min(parallelism, max(0, int(completions) - succeeded))
        if len(active) > want:
            doomed = sorted(active, key=_pod_rank)[: len(active) - want]
            for pod in doomed:
                self._delete_pod(job, pod)
                active.remove(pod)
            return active
        if len(active) < want:
            uid = job["metadata"]["uid"]
            if failed and uid in self._last_failure:
                delay = min(JOB_BACKOFF_INITIAL * 2 ** (failed - 1), JOB_BACKOFF_MAX)
                left = self._last_failure[uid] + delay - self.clock.monotonic()
                if left > 0:
                    self.enqueue_after(self.key_of(job), left)
                    return active
            for _ in range(want - len(active)):
                active.append(self._create_pod(job))
        return active

    def _create_pod(self, job: Obj) -> Obj:
        template = job["spec"]["template"]
        meta = template.get("metadata") or {}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": f"{job['metadata']['name']}-",
                "namespace": job["metadata"]["namespace"],
                "labels": dict(meta.get("labels") or {}),
                "ownerReferences": [owner_reference(job)],
            },
            "spec": deep_copy(template.get("spec") or {}),
        }
        if meta.get("annotations"):
            pod["metadata"]["annotations"] = dict(meta["annotations"])
        created = self.store.create(self.pods, pod)
        self.recorder.record(
            job, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}"
        )
        return created

    def _delete_pod(self, job: Obj, pod: Obj) -> None:
        name = pod["metadata"]["name"]
        with contextlib.suppress(ApiError):
            self.store.delete(self.pods, pod["metadata"]["namespace"], name)
            self.recorder.record(job, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")


# --------------------------------------------------------------------------- EndpointSlice


class EndpointSliceController(_Controller):
    name = "endpointslice-controller"
    component = "endpointslice-controller"

    def __init__(self, store: Store, clock: Clock) -> None:
        super().__init__(store, clock)
        self.services = store.resource("services")
        self.pods = store.resource("pods")
        self.slices = store.resource("endpointslices", "discovery.k8s.io")
        self.endpoints = store.resource("endpoints")
        self._pod_services: dict[Key, set[Key]] = {}  # pod -> services whose slices list it
        self._service_pods: dict[Key, set[Key]] = {}  # service -> pods its slices list

    def watches(self) -> list[tuple[ResourceType, Callable[[str, Obj], Iterable[Key]]]]:
        return [(self.services, self.self_keys), (self.pods, self._services_of_pod)]

    def _services_of_pod(self, _: str, pod: Obj) -> Iterable[Key]:
        """Services selecting the pod now, and those whose slices listed it before."""
        namespace = pod["metadata"].get("namespace", "")
        keys = set(self._pod_services.get((namespace, pod["metadata"]["name"]), ()))
        labels = pod["metadata"].get("labels") or {}
        entries = self.store.list_entries(self.services, namespace)[0]  # read-only, no copies
        for entry in entries:
            service = entry.obj
            selector = (service.get("spec") or {}).get("selector")
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                keys.add(self.key_of(service))
        return keys

    def _index_endpoints(self, key: Key, endpoints: Iterable[Obj]) -> None:
        for pod_key in self._service_pods.pop(key, set()):
            services = self._pod_services.get(pod_key)
            if services is not None:
                services.discard(key)
                if not services:
                    del self._pod_services[pod_key]
        listed = {(e["targetRef"]["namespace"], e["targetRef"]["name"]) for e in endpoints}
        for pod_key in listed:
            self._pod_services.setdefault(pod_key, set()).add(key)
        if listed:
            self._service_pods[key] = listed

    def reconcile(self, key: Key) -> None:
        service = self.get(self.services, *key)
        slices, _ = self.store.list(
            self.slices, key[0], label_selector=f"{SERVICE_NAME_LABEL}={key[1]}"
        )
        slices = [s for s in slices if (s["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL)]
        selector = (service or {}).get("spec", {}).get("selector")
        if service is None or not selector or service["metadata"].get("deletionTimestamp"):
            self._index_endpoints(key, [])
            for stale in slices:
                with contextlib.suppress(ApiError):
                    self.store.delete(self.slices, key[0], stale["metadata"]["name"])
            return
        query = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        pods, _ = self.store.list(self.pods, key[0], label_selector=query)
        reqs = parse_label_selector(query)
        groups: dict[str, tuple[list[Obj], list[Obj]]] = {}
        for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
            ip = (pod.get("status") or {}).get("podIP")
            if not ip or pod_terminal(pod) or not labels_match(reqs, pod):
                continue
            ports = self._ports(service, pod)
            group = groups.setdefault(json.dumps(ports, sort_keys=True), (ports, []))
            group[1].append(self._endpoint(service, pod, ip))
        wanted: list[tuple[list[Obj], list[Obj]]] = []
        for ports, endpoints in groups.values():
            for i in range(0, len(endpoints), MAX_ENDPOINTS_PER_SLICE):
                wanted.append((ports, endpoints[i : i + MAX_ENDPOINTS_PER_SLICE]))
        if not wanted:
            wanted.append(([], []))  # the placeholder slice of a service without endpoints
        for (ports, endpoints), existing in zip(
            wanted, slices + [None] * len(wanted), strict=False
        ):
            self._write_slice(service, existing, ports, endpoints)
        for stale in slices[len(wanted) :]:
            with contextlib.suppress(ApiError):
                self.store.delete(self.slices, key[0], stale["metadata"]["name"])
        self._index_endpoints(key, [e for _, eps in wanted for e in eps])
        self._write_endpoints(service, wanted)

    @staticmethod
    def _ports(service: Obj, pod: Obj) -> list[Obj]:
        container_ports = {
            p.get("name"): p.get("containerPort")
            for c in (pod.get("spec") or {}).get("containers") or []
            for p in c.get("ports") or []
            if p.get("name")
        }
        out = []
        for port in (service.get("spec") or {}).get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            if isinstance(target, str):
                if target not in container_ports:
                    continue
                target = container_ports[target]
            entry: Obj = {"port": int(target), "protocol": port.get("protocol", "TCP")}
            entry["name"] = port.get("name", "")
            if port.get("appProtocol"):
                entry["appProtocol"] = port["appProtocol"]
            out.append(entry)
        return out

    @staticmethod
    def _endpoint(service: Obj, pod: Obj, ip: str) -> Obj:
        ready = pod_ready(pod)
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
        return {
            "addresses": [ip],
            "conditions": {
                "ready": (publish or ready) and not terminating,
                "serving": publish or ready,
                "terminating": terminating,
            },
            "nodeName": pod["spec"].get("nodeName"),
            "targetRef": {
                "kind": "Pod",
                "namespace": pod["metadata"]["namespace"],
                "name": pod["metadata"]["name"],
                "uid": pod["metadata"]["uid"],
            },
        }

    def _write_slice(
        self, service: Obj, existing: Obj | None, ports: list[Obj], endpoints: list[Obj]
    ) -> None:
        name = service["metadata"]["name"]
        body: Obj = {
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": ports or None,
        }
        if existing is not None:
            current = {k: existing.get(k) for k in body}
            if current == body:
                return
            existing.update(body)
            existing["metadata"].setdefault("annotations", {})[
                "endpoints.kubernetes.io/last-change-trigger-time"
            ] = self.now()
            self.store.update(self.slices, existing)
            return
        labels = dict(service["metadata"].get("labels") or {})
        labels.update({SERVICE_NAME_LABEL: name, MANAGED_BY_LABEL: SLICE_MANAGER})
        slice_ = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "generateName": f"{name}-",
                "namespace": service["metadata"]["namespace"],
                "labels": labels,
                "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": self.now()},
                "ownerReferences": [owner_reference(service)],
            },
            **body,
        }
        self.store.create(self.slices, slice_)

    def _write_endpoints(self, service: Obj, groups: list[tuple[list[Obj], list[Obj]]]) -> None:
        subsets = []
        for ports, eps in groups:
            if not eps:
                continue
            ready = [self._address(e) for e in eps if e["conditions"]["ready"]]
            not_ready = [
                self._address(e)
                for e in eps
                if not e["conditions"]["ready"] and not e["conditions"]["terminating"]
            ]
            subset: Obj = {"ports": [{k: v for k, v in p.items() if v != ""} for p in ports]}
            if ready:
                subset["addresses"] = ready
            if not_ready:
                subset["notReadyAddresses"] = not_ready
            if ready or not_ready:
                subsets.append(subset)
        meta = service["metadata"]
        existing = self.get(self.endpoints, meta["namespace"], meta["name"])
        if existing is not None:
            if (existing.get("subsets") or []) == subsets:
                return
            existing["subsets"] = subsets
            self.store.update(self.endpoints, existing)
            return
        labels = dict(meta.get("labels") or {})
        labels["endpoints.kubernetes.io/managed-by"] = "endpoint-controller"
        self.store.create(
            self.endpoints,
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "labels": labels,
                },
                "subsets": subsets,
            },
        )

    @staticmethod
    def _address(endpoint: Obj) -> Obj:
        return {
            "ip": endpoint["addresses"][0],
            "nodeName": endpoint.get("nodeName"),
            "targetRef": endpoint["targetRef"],
        }


# --------------------------------------------------------------------------- all of them


class Controllers:
    """The controllers and the kubelet of the simulated cluster, started together."""

    def __init__(self, store: Store, clock: Clock, *, node_name: str = NODE_NAME) -> None:
        self.store = store
        self.clock = clock
        self.kubelet = Kubelet(store, clock, node_name)
        self.controllers: list[_Controller] = [
            Scheduler(store, clock, node_name),
            DeploymentController(store, clock),
            ReplicaSetController(store, clock),
            JobController(store, clock),
            EndpointSliceController(store, clock),
        ]
        self.running = False

    async def start(self) -> None:
        if self.running:
            return
        await self.kubelet.start()
        for controller in self.controllers:
            controller.start()
        self.running = True

    async def stop(self) -> None:
        if not self.running:
            return
        for controller in self.controllers:
            await controller.stop()
        await self.kubelet.stop()
        self.running = False

    async def __aenter__(self) -> Controllers:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
