"""The parts of a Pod that tend reads, and nothing else.

At 10,000 ManagedServices with two pods each the operator caches 20,000 pods; a whole pod
body is several kilobytes, the `PodView` a few hundred bytes. `pod_view` keeps what restart
accounting and failure classification need: identity, phase, whether the scheduler could
place it, and per container the restart count, the current state and the last termination
(the fields the kubelet reports in `status.containerStatuses`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tend.logic.builders import MANAGED_BY
from tend.logic.ownership import INSTANCE_LABEL, MANAGED_BY_LABEL, Key

# The kubelet's termination message is the container's termination-log, or with
# FallbackToLogsOnError the tail of its log (at most 80 lines / 2,048 bytes); status keeps
# its last line (the one that says why it ended), at most this long.
MESSAGE_LIMIT = 512


def format_time(when: datetime) -> str:
    """A time as the API server writes them, to the second (`2026-12-01T10:00:00Z`)."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 timestamp as the API server writes them (`2026-12-01T10:00:00Z`)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Termination:
    """One ended run of a container (`state.terminated` or `lastState.terminated`)."""

    exit_code: int
    reason: str = ""
    message: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    container_id: str = ""

    @property
    def order(self) -> tuple[str, str]:
        """Sorts runs of one container oldest first; equal for the same run seen twice."""
        return (self.finished_at or "", self.container_id)

    @property
    def ran_for(self) -> float | None:
        """Seconds the run lasted, when the kubelet reported both ends."""
        started, finished = parse_time(self.started_at), parse_time(self.finished_at)
        if started is None or finished is None:
            return None
        return max(0.0, (finished - started).total_seconds())


@dataclass(frozen=True, slots=True)
class ContainerView:
    name: str
    restart_count: int = 0
    ready: bool = False
    waiting: tuple[str, str] | None = None  # (reason, message) of state.waiting
    running_since: str | None = None  # state.running.startedAt
    terminated: Termination | None = None  # state.terminated
    last: Termination | None = None  # lastState.terminated


@dataclass(frozen=True, slots=True)
class PodView:
    namespace: str
    name: str
    uid: str
    owner: Key | None  # the ManagedService, from tend's instance label
    resource_version: str = ""
    phase: str = ""
    deleting: bool = False
    unschedulable: str | None = None  # the scheduler's message while it cannot place the pod
    containers: tuple[ContainerView, ...] = ()

    def same_state(self, other: PodView | None) -> bool:
        """Whether nothing tend reads differs (resourceVersion aside)."""
        return other is not None and (
            self.uid,
            self.phase,
            self.deleting,
            self.unschedulable,
            self.containers,
        ) == (other.uid, other.phase, other.deleting, other.unschedulable, other.containers)


def _termination(raw: Mapping[str, Any] | None) -> Termination | None:
    if not raw:
        return None
    lines = str(raw.get("message") or "").strip().splitlines()
    message = lines[-1].strip() if lines else ""
    return Termination(
        exit_code=int(raw.get("exitCode") or 0),
        reason=str(raw.get("reason") or ""),
        message=message[-MESSAGE_LIMIT:],
        started_at=raw.get("startedAt"),
        finished_at=raw.get("finishedAt"),
        container_id=str(raw.get("containerID") or ""),
    )


def _container(raw: Mapping[str, Any]) -> ContainerView:
    state = raw.get("state") or {}
    waiting = state.get("waiting")
    return ContainerView(
        name=str(raw.get("name") or ""),
        restart_count=int(raw.get("restartCount") or 0),
        ready=bool(raw.get("ready")),
        waiting=(str(waiting.get("reason") or ""), str(waiting.get("message") or ""))
        if waiting
        else None,
        running_since=(state.get("running") or {}).get("startedAt"),
        terminated=_termination(state.get("terminated")),
        last=_termination((raw.get("lastState") or {}).get("terminated")),
    )


def pod_view(body: Mapping[str, Any]) -> PodView:
    """The `PodView` of a pod body."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    namespace = meta.get("namespace") or "default"
    labels = meta.get("labels") or {}
    owner = (
        (namespace, labels[INSTANCE_LABEL])
        if labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(INSTANCE_LABEL)
        else None
    )
    scheduled: Mapping[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), {}
    )
    unschedulable = (
        str(scheduled.get("message") or "the scheduler cannot place the pod")
        if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable"
        else None
    )
    return PodView(
        namespace=namespace,
        name=str(meta.get("name") or ""),
        uid=str(meta.get("uid") or ""),
        owner=owner,
        resource_version=str(meta.get("resourceVersion") or ""),
        phase=str(status.get("phase") or ""),
        deleting=bool(meta.get("deletionTimestamp")),
        unschedulable=unschedulable,
        containers=tuple(_container(c) for c in status.get("containerStatuses") or []),
    )
