"""The Job controller: parallelism, completions, backoffLimit (failed pods for restartPolicy
Never, container restarts for OnFailure), the pod-recreation back-off (10s doubling to 6m),
activeDeadlineSeconds, and the Kubernetes >= 1.31 terminal conditions: SuccessCriteriaMet then
Complete (reason CompletionsReached), FailureTarget then Failed (BackoffLimitExceeded /
DeadlineExceeded) once no pod is left running."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tend_sim.clock import Clock
from tend_sim.controllers.base import (
    Controller,
    condition,
    parse_time,
    pod_active,
    pod_rank,
    pod_ready,
    set_condition,
)
from tend_sim.objects import Key, Obj, deep_copy
from tend_sim.resources import ResourceType
from tend_sim.store import Store

JOB_BACKOFF_INITIAL = 10.0
JOB_BACKOFF_MAX = 360.0


class JobController(Controller):
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
                self.delete_pod(job, pod)
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
            doomed = sorted(active, key=pod_rank)[: len(active) - want]
            for pod in doomed:
                self.delete_pod(job, pod)
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
                active.append(self.create_pod(job))
        return active
