"""Which status changes are Events: Ready's transitions and reasons, and the troubles."""

from __future__ import annotations

import pytest

from tend.api import Condition, ManagedServiceStatus
from tend.logic.events import transitions

Spec = tuple[str, str, str]  # (type, status, reason)


def status(*conditions: Spec) -> ManagedServiceStatus:
    return ManagedServiceStatus(conditions=[cond(*c) for c in conditions])


def cond(type_: str, status_: str, reason: str) -> Condition:
    return Condition(type=type_, status=status_, reason=reason, message="m")


@pytest.mark.parametrize(
    ("before", "after", "events"),
    [
        (None, [("Ready", "False", "DependencyNotReady")], []),
        (None, [("Ready", "False", "DependencyNotFound")], [("Warning", "DependencyNotFound")]),
        (None, [("Ready", "False", "RolloutInProgress")], []),  # the writes' Event says it
        (
            [("Ready", "False", "DependencyNotReady")],
            [("Ready", "False", "RolloutInProgress")],
            [],  # on its way to Ready: told when Ready comes
        ),
        (
            [("Ready", "False", "RolloutInProgress")],
            [("Ready", "True", "Reconciled")],
            [("Normal", "Reconciled")],
        ),
        (
            [("Ready", "True", "Reconciled")],
            [("Ready", "False", "RolloutInProgress")],
            [],  # so does the edit's (`replace Deployment api`)
        ),
        (
            [("Ready", "False", "RolloutInProgress")],
            [("Ready", "False", "CrashLoop")],
            [("Warning", "CrashLoop")],
        ),
        (
            [("Ready", "True", "Reconciled")],
            [("Ready", "False", "DependencyNotReady")],
            [("Warning", "DependencyNotReady")],
        ),
        (
            [("Ready", "False", "DependencyNotFound")],
            [("Ready", "False", "DependencyNotReady")],
            [("Warning", "DependencyNotReady")],
        ),
        (
            [("Degraded", "False", "Reconciled")],
            [("Degraded", "True", "OOMKilled")],
            [("Warning", "OOMKilled")],
        ),
        (
            [("Degraded", "True", "OOMKilled")],
            [("Degraded", "False", "Reconciled")],
            [("Normal", "Reconciled")],
        ),
        (None, [("Degraded", "False", "Reconciled")], []),  # starts out fine: no news
        (
            [("DependenciesReady", "False", "DependencyNotReady")],
            [("DependenciesReady", "True", "Reconciled")],
            [],
        ),
        (
            [("Progressing", "True", "RolloutInProgress")],
            [("Progressing", "False", "Reconciled")],
            [],
        ),
        (
            [("Ready", "False", "RolloutInProgress"), ("Degraded", "False", "Reconciled")],
            [("Ready", "False", "CrashLoop"), ("Degraded", "True", "CrashLoop")],
            [("Warning", "CrashLoop")],  # one Event per reason
        ),
    ],
    ids=[
        "new-and-waiting",
        "new-and-missing",
        "new-and-rolling",
        "waited-now-rolling",
        "became-ready",
        "edited",
        "crashing",
        "dependency-failed",
        "dependency-appeared",
        "degraded",
        "recovered",
        "fine-from-the-start",
        "dependencies-ready-alone",
        "progressing-alone",
        "one-per-reason",
    ],
)
def test_an_event_tells_ready_s_transitions_and_the_troubles(
    before: list[Spec] | None, after: list[Spec], events: list[tuple[str, str]]
) -> None:
    old = status(*before) if before is not None else None
    said = transitions(old, [cond(*c) for c in after])
    assert [(e.type, e.reason) for e in said] == events
