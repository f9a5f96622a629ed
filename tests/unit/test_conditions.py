"""Status: readiness read like `kubectl rollout status`, phases, conditions and their Events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tend.api import BlockedBy, ManagedServiceStatus, Phase, WorkloadKind
from tend.logic.conditions import compute_status, merge_conditions
from tend.logic.events import transitions
from tend.logic.observation import Observation
from tend.logic.workload import WorkloadState, observe_workload

HASH = "abc"
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def deployment(**status: Any) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {
            "name": "api",
            "generation": 2,
            "annotations": {"tend.dev/desired-hash": HASH},
        },
        "spec": {"replicas": 2},
        "status": {"observedGeneration": 2, **status},
    }


def job(*conditions: dict[str, str], succeeded: int = 0) -> dict[str, Any]:
    return {
        "kind": "Job",
        "metadata": {
            "name": "migrate",
            "generation": 1,
            "annotations": {"tend.dev/desired-hash": HASH},
        },
        "spec": {"completions": 1},
        "status": {"conditions": list(conditions), "succeeded": succeeded},
    }


def conditions_of(obs: Observation) -> dict[str, tuple[str, str]]:
    _, conds = compute_status(obs)
    return {c.type: (c.status, c.reason) for c in conds}


def test_a_fully_rolled_out_deployment_is_ready() -> None:
    state = observe_workload(
        deployment(replicas=2, updatedReplicas=2, readyReplicas=2, availableReplicas=2), HASH
    )
    assert state.ready
    assert state.message == "2 of 2 replicas ready"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (
            {"observedGeneration": 1},
            "waiting for the Deployment controller to observe the new spec",
        ),
        ({"replicas": 2, "updatedReplicas": 1, "availableReplicas": 2}, "1 of 2 replicas updated"),
        (
            {"replicas": 3, "updatedReplicas": 2, "availableReplicas": 2},
            "1 old replicas pending termination",
        ),
        (
            {"replicas": 2, "updatedReplicas": 2, "availableReplicas": 1},
            "1 of 2 updated replicas available",
        ),
    ],
)
def test_a_rollout_in_progress_is_not_ready(status: dict[str, Any], message: str) -> None:
    state = observe_workload(deployment(**status), HASH)
    assert not state.ready
    assert state.message == message


def test_a_deployment_with_another_template_is_not_current() -> None:
    state = observe_workload(
        deployment(replicas=2, updatedReplicas=2, readyReplicas=2, availableReplicas=2), "other"
    )
    assert state.rolled_out and not state.current and not state.ready


def test_a_progress_deadline_is_a_failed_rollout() -> None:
    progressing = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": "ReplicaSet api-1 has timed out progressing.",
    }
    state = observe_workload(deployment(conditions=[progressing]), HASH)
    assert state.failed
    assert "timed out" in state.message


def test_job_states() -> None:
    complete = observe_workload(job({"type": "Complete", "status": "True"}, succeeded=1), HASH)
    assert complete.succeeded and complete.ready
    failed = observe_workload(
        job(
            {
                "type": "Failed",
                "status": "True",
                "message": "Job has reached the specified backoff limit",
            }
        ),
        HASH,
    )
    assert failed.failed and failed.message.startswith("Job has reached")


def test_phases() -> None:
    running = WorkloadState(WorkloadKind.DEPLOYMENT, "api", 2, 2, current=True, rolled_out=True)
    rolling = WorkloadState(WorkloadKind.DEPLOYMENT, "api", 2, 1, current=True)
    blocker = BlockedBy(kind="ManagedService", namespace="shop", name="db", reason="CrashLoop")
    cases = [
        (Observation(1, False), Phase.PENDING),
        (Observation(1, False, blocked_by=[blocker]), Phase.BLOCKED),
        (Observation(1, False, problems=["spec.x: bad"]), Phase.FAILED),
        (Observation(1, False, problems=["spec.x: bad"], workload=running), Phase.DEGRADED),
        (Observation(1, False, workload=rolling), Phase.PROGRESSING),
        (Observation(1, False, workload=running), Phase.RUNNING),
        (Observation(1, False, workload=running, blocked_by=[blocker]), Phase.DEGRADED),
    ]
    for obs, phase in cases:
        assert compute_status(obs)[0] == phase, obs


def test_ready_carries_the_blocking_reason_and_names_the_blocker() -> None:
    missing = BlockedBy(
        kind="ManagedService", namespace="shop", name="db", reason="DependencyNotFound"
    )
    obs = Observation(1, False, blocked_by=[missing])
    _, conds = compute_status(obs)
    ready = next(c for c in conds if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", "DependencyNotFound")
    assert ready.message == "shop/db not found"


def test_a_cycle_outranks_other_blockers() -> None:
    blockers = [
        BlockedBy(kind="ManagedService", namespace="s", name="a", reason="DependencyNotReady"),
        BlockedBy(
            kind="ManagedService",
            namespace="s",
            name="b",
            reason="DependencyCycle",
            message="a → b → a",
        ),
    ]
    assert conditions_of(Observation(1, False, blocked_by=blockers))["Ready"] == (
        "False",
        "DependencyCycle",
    )


def test_a_dependency_failing_after_start_degrades_without_stopping() -> None:
    running = WorkloadState(WorkloadKind.DEPLOYMENT, "api", 2, 2, current=True, rolled_out=True)
    blocker = BlockedBy(
        kind="ManagedService",
        namespace="shop",
        name="db",
        reason="CrashLoop",
        message="Ready=False: CrashLoop",
    )
    conds = conditions_of(Observation(1, False, workload=running, blocked_by=[blocker]))
    assert conds["Degraded"] == ("True", "DependencyNotReady")
    assert conds["Ready"] == ("False", "DependencyNotReady")


def test_a_succeeded_job_is_ready_and_succeeded() -> None:
    done = WorkloadState(WorkloadKind.JOB, "m", 1, 1, current=True, rolled_out=True, succeeded=True)
    phase, conds = compute_status(Observation(1, True, workload=done))
    assert phase == Phase.SUCCEEDED
    assert {c.type: c.status for c in conds}["Ready"] == "True"


def test_transition_time_moves_only_when_the_status_flips() -> None:
    first = merge_conditions(None, compute_status(Observation(3, False))[1], generation=3, now=T0)
    later = T0 + timedelta(minutes=5)
    again = merge_conditions(
        first, compute_status(Observation(3, False))[1], generation=3, now=later
    )
    assert all(c.last_transition_time == T0 for c in again)
    running = WorkloadState(WorkloadKind.DEPLOYMENT, "api", 1, 1, current=True, rolled_out=True)
    flipped = merge_conditions(
        again, compute_status(Observation(3, False, workload=running))[1], generation=3, now=later
    )
    ready = next(c for c in flipped if c.type == "Ready")
    assert ready.last_transition_time == later
    assert ready.observed_generation == 3


def test_events_only_on_transitions_one_per_reason() -> None:
    _, pending = compute_status(Observation(1, False))
    assert transitions(None, pending) == []  # rolling out: the writes' Event tells it
    old = ManagedServiceStatus(conditions=merge_conditions(None, pending, generation=1, now=T0))
    assert transitions(old, pending) == []
    running = WorkloadState(WorkloadKind.DEPLOYMENT, "api", 1, 1, current=True, rolled_out=True)
    _, ready = compute_status(Observation(1, False, workload=running))
    events = transitions(old, ready)
    assert [(e.type, e.reason) for e in events] == [("Normal", "Reconciled")]
    assert events[0].message.startswith("Ready")


def test_reasons_already_posted_are_not_repeated() -> None:
    _, refused = compute_status(Observation(1, False, problems=["spec.x: bad"]))
    assert [e.reason for e in transitions(None, refused)] == ["InvalidSpec"]
    assert transitions(None, refused, already={"InvalidSpec"}) == []


RUNNING = WorkloadState(WorkloadKind.DEPLOYMENT, "api", 2, 2, current=True, rolled_out=True)
ROLLING = WorkloadState(WorkloadKind.DEPLOYMENT, "api", 2, 1, current=True)
DEADLINE = WorkloadState(WorkloadKind.DEPLOYMENT, "api", 2, 1, current=True, failed=True)
FAILED_JOB = WorkloadState(WorkloadKind.JOB, "migrate", 1, 0, current=True, failed=True)
DB = BlockedBy(kind="ManagedService", namespace="shop", name="db", reason="CrashLoop")
GONE = BlockedBy(kind="ManagedService", namespace="shop", name="db", reason="DependencyNotFound")
LOOP = BlockedBy(kind="ManagedService", namespace="shop", name="db", reason="DependencyCycle")


@pytest.mark.parametrize(
    ("obs", "extra", "reconciling", "stalled"),
    [
        (Observation(1, False), {}, ("True", "RolloutInProgress"), ("False", "Reconciled")),
        (
            Observation(1, False, workload=ROLLING),
            {},
            ("True", "RolloutInProgress"),
            ("False", "Reconciled"),
        ),
        (
            Observation(1, False, workload=RUNNING),
            {},
            ("False", "Reconciled"),
            ("False", "Reconciled"),
        ),
        (
            Observation(1, False, blocked_by=[DB]),
            {},
            ("True", "DependencyNotReady"),
            ("False", "Reconciled"),
        ),
        (
            Observation(1, False, blocked_by=[GONE]),
            {},
            ("True", "DependencyNotFound"),
            ("False", "Reconciled"),
        ),
        (
            Observation(1, False, blocked_by=[LOOP]),
            {},
            ("False", "Reconciled"),
            ("True", "DependencyCycle"),
        ),
        (
            Observation(1, False, problems=["spec.x: bad"]),
            {},
            ("False", "Reconciled"),
            ("True", "InvalidSpec"),
        ),
        (
            Observation(1, False, problems=["spec.x: bad"], workload=RUNNING),
            {},
            ("False", "Reconciled"),
            ("True", "InvalidSpec"),
        ),
        (
            Observation(1, False, conflict="Service shop/api is not ours"),
            {},
            ("False", "Reconciled"),
            ("True", "OwnershipConflict"),
        ),
        (
            Observation(1, False, workload=ROLLING),
            {"exhausted": "6 restarts within 5m"},
            ("False", "Reconciled"),
            ("True", "RestartBudgetExhausted"),
        ),
        (
            Observation(1, False, workload=RUNNING),
            {"exhausted": "6 restarts", "held": "ScaleToZero", "held_message": "stopped"},
            ("False", "Reconciled"),
            ("True", "ScaledToZero"),
        ),
        (
            Observation(1, False, workload=DEADLINE),
            {},
            ("False", "Reconciled"),
            ("True", "ProgressDeadlineExceeded"),
        ),
        (
            Observation(1, True, workload=FAILED_JOB),
            {},
            ("False", "Reconciled"),
            ("True", "ExitCode"),
        ),
        (
            Observation(1, False, workload=RUNNING, blocked_by=[DB]),
            {},
            ("True", "DependencyNotReady"),
            ("False", "Reconciled"),
        ),
    ],
    ids=[
        "pending",
        "progressing",
        "running",
        "blocked",
        "dependency-missing",
        "cycle",
        "invalid-spec",
        "invalid-edit-of-a-running-service",
        "ownership-conflict",
        "budget-exhausted",
        "scaled-to-zero",
        "progress-deadline",
        "failed-job",
        "dependency-failed-later",
    ],
)
def test_reconciling_while_converging_stalled_when_only_a_change_can_help(
    obs: Observation,
    extra: dict[str, Any],
    reconciling: tuple[str, str],
    stalled: tuple[str, str],
) -> None:
    _, conds = compute_status(obs, **extra)
    got = {c.type: (c.status, c.reason) for c in conds}
    assert (got["Reconciling"], got["Stalled"]) == (reconciling, stalled)
