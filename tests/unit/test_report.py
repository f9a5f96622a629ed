"""The report step: (previous status, what a reconcile saw and did) -> (status patch, Events)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tend.api import BlockedBy, EscalationStep, WorkloadKind
from tend.logic.incidents import Ladder
from tend.logic.observation import Observation
from tend.logic.plan import Action, Verb
from tend.logic.report import Report, report
from tend.logic.workload import WorkloadState

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RUNNING = WorkloadState(
    WorkloadKind.DEPLOYMENT,
    "api",
    replicas=1,
    ready_replicas=1,
    current=True,
    rolled_out=True,
    message="1 of 1 replicas ready",
)
ROLLING = WorkloadState(
    WorkloadKind.DEPLOYMENT, "api", replicas=1, current=True, message="0 of 1 updated"
)
CREATE = Action(Verb.CREATE, "Deployment", "api")
DB_DOWN = BlockedBy(
    kind="ManagedService", namespace="shop", name="db", reason="CrashLoop", message="x"
)

DB_MISSING = BlockedBy(
    kind="ManagedService", namespace="shop", name="db", reason="DependencyNotFound"
)


LADDER = Ladder([EscalationStep(after_failures=3, receivers=["slack"])], resolve_after=300)


def seen(**fields: Any) -> Observation:
    defaults = {"generation": 1, "runs_to_completion": False, "ladder": LADDER, "name": "api"}
    return Observation(**{**defaults, **fields})


def events_of(said: Report) -> list[tuple[str, str]]:
    return [(e.type, e.reason) for e in said.events]


def conditions_of(said: Report) -> dict[str, tuple[str, str]]:
    assert said.status is not None
    return {c["type"]: (c["status"], c["reason"]) for c in said.status["conditions"]}


def settle(observation: Observation, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The status after reporting `observation` on top of `previous`."""
    said = report(previous, observation, now=T0)
    assert said.status is not None
    return {**(previous or {}), **{k: v for k, v in said.status.items() if v is not None}}


@pytest.mark.parametrize(
    ("observation", "phase", "ready", "events"),
    [
        (
            seen(workload=None, actions=[CREATE]),
            "Pending",
            ("False", "RolloutInProgress"),
            [("Normal", "RolloutInProgress")],  # the write says it; Ready adds nothing
        ),
        (
            seen(workload=RUNNING),
            "Running",
            ("True", "Reconciled"),
            [("Normal", "Reconciled")],
        ),
        (
            seen(problems=["spec.env[1].name: duplicate name 'A'"]),
            "Failed",
            ("False", "InvalidSpec"),
            [("Warning", "InvalidSpec")],
        ),
        (
            seen(conflict="Service shop/api exists and is not managed by this ManagedService"),
            "Failed",
            ("False", "OwnershipConflict"),
            [("Warning", "OwnershipConflict")],
        ),
        (
            seen(blocked_by=[DB_DOWN]),
            "Blocked",
            ("False", "DependencyNotReady"),
            [],  # a new service waiting its turn: the start-up order working, no news
        ),
        (
            seen(blocked_by=[DB_MISSING]),
            "Blocked",
            ("False", "DependencyNotFound"),
            [("Warning", "DependencyNotFound")],
        ),
    ],
    ids=["creating", "running", "invalid-spec", "ownership-conflict", "blocked", "missing"],
)
def test_a_first_report_sets_phase_ready_and_one_event_per_reason(
    observation: Observation, phase: str, ready: tuple[str, str], events: list[tuple[str, str]]
) -> None:
    said = report(None, observation, now=T0)
    assert said.status is not None
    assert said.status["phase"] == phase
    assert said.status["observedGeneration"] == 1
    assert conditions_of(said)["Ready"] == ready
    assert events_of(said) == events


def test_the_writes_of_a_reconcile_come_first_as_one_event() -> None:
    actions = [Action(Verb.CREATE, "Service", "api"), CREATE]
    said = report(None, seen(actions=actions), now=T0)
    first = said.events[0]
    assert (first.type, first.reason) == ("Normal", "RolloutInProgress")
    # ...and tells the rollout: Ready's move to RolloutInProgress is no Event of its own.
    assert [e.reason for e in said.events] == ["RolloutInProgress"]
    assert first.message == "create Service api, create Deployment api"
    only_service = report(None, seen(actions=actions[:1]), now=T0)
    assert only_service.events[0].reason == "Reconciled"


def test_a_steady_state_reports_nothing() -> None:
    status = settle(seen(workload=RUNNING))
    assert report(status, seen(workload=RUNNING), now=T0 + timedelta(hours=1)) == Report()


def test_transition_times_move_only_when_a_condition_flips() -> None:
    rolling = settle(seen(workload=ROLLING))
    later = T0 + timedelta(minutes=5)
    said = report(rolling, seen(workload=RUNNING), now=later)
    assert said.status is not None
    times = {c["type"]: c["lastTransitionTime"] for c in said.status["conditions"]}
    assert times["Ready"] == later.isoformat().replace("+00:00", "Z")
    assert times["DependenciesReady"] == T0.isoformat().replace("+00:00", "Z")
    assert [e.reason for e in said.events] == ["Reconciled"]


def test_a_root_cause_suppresses_alerts_once_and_recovery_clears_it() -> None:
    running = settle(seen(workload=RUNNING))
    degraded = seen(workload=RUNNING, blocked_by=[DB_DOWN], root_cause="shop/db")
    said = report(running, degraded, now=T0)
    assert said.status is not None
    assert said.status["alert"] == {"state": "Suppressed", "suppressedBy": "shop/db"}
    assert said.status["phase"] == "Degraded"
    assert ("Warning", "AlertSuppressed") in events_of(said)
    suppressed = settle(degraded, running)
    assert report(suppressed, degraded, now=T0) == Report()  # still suppressed: no news
    recovered = report(suppressed, seen(workload=RUNNING), now=T0)
    assert recovered.status is not None
    assert recovered.status["alert"] is None
    assert recovered.status["phase"] == "Running"
    assert events_of(recovered) == [("Normal", "Reconciled")]  # Ready again, no more suppression


def test_an_unreadable_previous_status_is_replaced() -> None:
    said = report({"conditions": "not a list"}, seen(workload=RUNNING), now=T0)
    assert said.status is not None
    assert said.status["phase"] == "Running"
    assert conditions_of(said)["Ready"] == ("True", "Reconciled")


def test_no_restart_count_is_claimed_when_the_spec_cannot_be_read() -> None:
    said = report({"restarts": {"total": 4}}, seen(workload=RUNNING), now=T0)
    assert said.status is not None
    assert "restarts" not in said.status  # kept as it was: nothing was counted


def test_a_service_that_is_not_running_suppresses_nothing() -> None:
    blocked = seen(workload=None, blocked_by=[DB_DOWN], root_cause="shop/db")
    said = report(None, blocked, now=T0)
    assert said.status is not None
    assert "alert" not in said.status
    assert ("Warning", "AlertSuppressed") not in events_of(said)


def test_writes_are_news_even_when_the_status_stays_the_same() -> None:
    running = settle(seen(workload=RUNNING))
    recreated = Action(Verb.CREATE, "Service", "api")  # someone deleted it; tend put it back
    said = report(running, seen(workload=RUNNING, actions=[recreated]), now=T0)
    assert said.status is None
    assert [(e.type, e.reason, e.message) for e in said.events] == [
        ("Normal", "Reconciled", "create Service api")
    ]


def test_a_restart_opens_the_incident_while_the_container_runs_again() -> None:
    """The kubelet restarts a crashed container at once the first time: Ready then says
    the rollout is in progress, but the service is failing (by the restart's reason)."""
    from tend.logic.pods import ContainerView, PodView, Termination
    from tend.logic.restarts import RestartSettings

    crashed = Termination(3, "Error", "boom", "2026-12-01T11:59:58Z", "2026-12-01T11:59:59Z", "c1")
    running = ContainerView("main", 1, False, running_since="2026-12-01T12:00:00Z", last=crashed)
    pod = PodView("default", "api-1", "u1", ("default", "api"), "1", "Running", False, None,
                  (running,))  # fmt: skip
    first = Ladder([EscalationStep(after_failures=1, receivers=["slack"])], resolve_after=300)
    settings = RestartSettings(5, 600.0, 10.0)
    said = report(
        None, seen(workload=ROLLING, pods=[pod], restart_settings=settings, ladder=first), now=T0
    )
    assert said.status is not None
    alert = said.status["alert"]
    assert alert["state"] == "Firing" and alert["reason"] == "Crashing"
    (page,) = alert["outbox"]
    assert (page["receiver"], page["step"]) == ("slack", 0)
    assert page["summary"].startswith("CrashLoop: "), page["summary"]
    assert ("Warning", "Escalated") in events_of(said)


@pytest.mark.parametrize(
    ("before", "after", "rewording"),
    [
        (
            seen(blocked_by=[DB_DOWN]),
            seen(blocked_by=[DB_DOWN.model_copy(update={"message": "y"})]),
            True,
        ),
        (
            seen(blocked_by=[DB_DOWN]),
            seen(blocked_by=[DB_DOWN.model_copy(update={"reason": "OOMKilled"})]),
            True,
        ),
        (seen(workload=ROLLING), seen(workload=replace(ROLLING, message="1 of 1 updated")), True),
        (seen(blocked_by=[DB_DOWN]), seen(blocked_by=[DB_MISSING]), False),  # a new reason
        (seen(blocked_by=[DB_DOWN]), seen(workload=ROLLING), False),  # a new phase
        (seen(workload=ROLLING), seen(workload=replace(ROLLING, ready_replicas=1)), False),
    ],
    ids=["blocker-message", "blocker-reason", "rollout-message", "reason", "phase", "counts"],
)
def test_a_patch_that_only_rewords_the_status_says_so(
    before: Observation, after: Observation, rewording: bool
) -> None:
    said = report(settle(before), after, now=T0 + timedelta(seconds=5))
    assert said.status is not None
    assert said.rewording is rewording
