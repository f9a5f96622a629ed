"""The Deployment controller: ReplicaSets per pod-template-hash, revision annotations,
RollingUpdate with maxSurge/maxUnavailable, Recreate, scaling, revisionHistoryLimit, status and
the Available/Progressing conditions (NewReplicaSetCreated, ReplicaSetUpdated,
NewReplicaSetAvailable, ProgressDeadlineExceeded), `ScalingReplicaSet` Events."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable

from tend_sim.clock import Clock
from tend_sim.controllers.base import (
    FIELD_MANAGER,
    HASH_LABEL,
    Controller,
    condition,
    owner_reference,
    parse_time,
    resolve_int_or_percent,
    set_condition,
    template_hash,
    without_hash,
)
from tend_sim.errors import ApiError
from tend_sim.objects import Key, Obj, deep_copy
from tend_sim.resources import ResourceType
from tend_sim.store import Store

REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"


class DeploymentController(Controller):
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
        created = self.store.create(self.rs, rs, field_manager=FIELD_MANAGER)
        self._annotate_revision(deployment, revision)
        if initial:
            self._event_scaled(deployment, created, 0, initial)
        return created

    def _ensure_revision(self, deployment: Obj, new_rs: Obj, old_rs: list[Obj]) -> Obj:
        """A rollback to an older template makes its ReplicaSet the newest revision."""
        newest = max((self._revision(rs) for rs in old_rs), default=0)
        if self._revision(new_rs) <= newest:
            new_rs["metadata"].setdefault("annotations", {})[REVISION] = str(newest + 1)
            new_rs = self.store.update(self.rs, new_rs, field_manager=FIELD_MANAGER)
        self._annotate_revision(deployment, self._revision(new_rs))
        return new_rs

    def _annotate_revision(self, deployment: Obj, revision: int) -> None:
        annotations = deployment["metadata"].setdefault("annotations", {})
        if annotations.get(REVISION) != str(revision):
            annotations[REVISION] = str(revision)
            updated = self.store.update(self.deployments, deployment, field_manager=FIELD_MANAGER)
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
        updated = self.store.update(self.rs, rs, field_manager=FIELD_MANAGER)
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
