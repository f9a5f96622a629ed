"""Incidents: the ladder by count and by time, budget exhaustion to the top, resolve after a
stretch of health, flapping as one incident, suppression, and the outbox. Time is an
argument: each test drives its own clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tend.api import EscalationStep
from tend.logic.incidents import (
    CRASHING,
    NOT_STARTING,
    OUTBOX_LIMIT,
    Health,
    Ladder,
    family,
    incident,
    incident_key,
)

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
LADDER = Ladder(
    steps=[
        EscalationStep(after_failures=3, severity="warning", receivers=["slack"]),
        EscalationStep(after="15m", severity="critical", receivers=["pagerduty"]),
    ],
    resolve_after=300.0,
)
CRASH = Health(ready=False, reason="CrashLoop", message="exit 3 after 1s: boom", exit_code=3)
READY = Health(ready=True, reason="Reconciled")


class Clock:
    """Feeds incident() its own previous output, as status does between reconciles."""

    def __init__(self, ladder: Ladder = LADDER) -> None:
        self.alert: dict[str, Any] | None = None
        self.ladder = ladder
        self.sent: list[tuple[str, str, int | None]] = []  # (action, receiver, step)
        self.events: list[str] = []
        self.recheck: float | None = None

    def at(self, seconds: float, health: Health, **fields: Any) -> dict[str, Any] | None:
        decided = incident(
            self.alert,
            Health(**{**health.__dict__, **fields}),
            self.ladder,
            namespace="shop",
            name="api",
            now=T0 + timedelta(seconds=seconds),
            # Everything owed so far is delivered at once (the operator's part).
            delivered={e["id"] for e in (self.alert or {}).get("outbox") or []},
        )
        new = list((decided.alert or {}).get("outbox") or [])
        self.sent += [(e["action"], e["receiver"], e["step"]) for e in new]
        self.events += [e.reason for e in decided.events]
        self.recheck = decided.recheck_in
        self.alert = decided.alert
        return decided.alert


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("CrashLoop", CRASHING),
        ("OOMKilled", CRASHING),
        ("ProbeFailed", CRASHING),
        ("ExitCode", CRASHING),
        ("RestartBudgetExhausted", CRASHING),
        ("ImagePullFailed", NOT_STARTING),
        ("ConfigError", NOT_STARTING),
        ("Unschedulable", NOT_STARTING),
        ("DependencyNotReady", None),  # someone else's failure
        ("RolloutInProgress", None),
        ("InvalidSpec", None),  # the user's mistake: an Event, not a page
        (None, None),
    ],
)
def test_reason_families(reason: str | None, expected: str | None) -> None:
    assert family(reason) == expected


def test_the_key_is_identity_only_and_fits_pagerduty() -> None:
    assert incident_key("shop", "api", CRASHING) == "tend/shop/api/Crashing"
    assert incident_key("shop", "api", CRASHING) == incident_key("shop", "api", CRASHING)
    long = incident_key("n" * 63, "x" * 253, CRASHING)
    assert len(long) <= 255 and long != incident_key("n" * 63, "y" * 253, CRASHING)


def test_steps_fire_once_each_by_count_then_by_time() -> None:
    clock = Clock()
    alert = clock.at(0, CRASH, failures=1)
    assert alert is not None and alert["state"] == "Firing"
    assert alert["key"] == "tend/shop/api/Crashing" and alert["since"] == "2026-12-02T12:00:00Z"
    assert clock.sent == [] and clock.recheck == 900.0  # the 15m step is due by time
    clock.at(10, CRASH, failures=2)
    assert clock.sent == []
    clock.at(20, CRASH, failures=3)
    assert clock.sent == [("trigger", "slack", 0)]
    assert clock.events == ["Escalated"]
    clock.at(30, CRASH, failures=4)
    clock.at(60, CRASH, failures=9)
    assert clock.sent == [("trigger", "slack", 0)], "a step fires once"
    clock.at(900, CRASH, failures=9)
    assert clock.sent[-1] == ("trigger", "pagerduty", 1)
    assert clock.alert is not None and clock.alert["severity"] == "critical"
    assert clock.alert["fired"] == [0, 1] and clock.recheck is None
    assert clock.events == ["Escalated", "Escalated"]


def test_budget_exhaustion_goes_to_the_top_step_at_once_and_skips_the_rest() -> None:
    clock = Clock()
    clock.at(0, CRASH, failures=1, exhausted=True)
    assert clock.sent == [("trigger", "pagerduty", 1)]
    clock.at(10, CRASH, failures=5, exhausted=True)
    assert clock.sent == [("trigger", "pagerduty", 1)], "the warning is not sent afterwards"


def test_resolves_after_resolve_after_of_health_and_tells_every_receiver_paged() -> None:
    clock = Clock()
    clock.at(0, CRASH, failures=3, exhausted=True)  # the top step only: pagerduty
    clock.at(5, CRASH, failures=3)
    clock.at(100, READY)
    assert clock.alert is not None and clock.alert["state"] == "Firing"
    assert clock.alert["healthySince"] == "2026-12-02T12:01:40Z" and clock.recheck == 300.0
    clock.at(399, READY)
    assert clock.alert["state"] == "Firing" and clock.recheck == pytest.approx(1.0)
    clock.at(400, READY)
    assert clock.alert["state"] == "Resolved" and clock.alert["resolvedAt"]
    assert clock.sent[-1] == ("resolve", "pagerduty", None)
    assert ("resolve", "slack", None) not in clock.sent, "slack was never paged"
    assert clock.events[-1] == "AlertResolved"
    clock.at(500, READY)
    assert clock.alert["state"] == "Resolved" and len(clock.sent) == 2


def test_flapping_within_resolve_after_is_one_incident() -> None:
    clock = Clock()
    clock.at(0, CRASH, failures=3)
    assert clock.alert is not None
    key, since = clock.alert["key"], clock.alert["since"]
    for t in (60, 120, 180):
        clock.at(t, READY)
        clock.at(t + 30, CRASH, failures=3)
    assert clock.alert["state"] == "Firing" and clock.alert["since"] == since
    assert clock.alert["key"] == key and "healthySince" not in clock.alert
    assert clock.sent == [("trigger", "slack", 0)], "one incident, one page"


def test_a_new_incident_after_a_resolve_sends_again_with_new_ids() -> None:
    clock = Clock()
    clock.at(0, CRASH, failures=3)
    first = [e["id"] for e in clock.alert["outbox"]]  # type: ignore[index]
    clock.at(10, READY)
    clock.at(400, READY)
    clock.at(1000, CRASH, failures=3)
    assert clock.sent == [
        ("trigger", "slack", 0),
        ("resolve", "slack", None),
        ("trigger", "slack", 0),
    ]
    assert clock.alert is not None and clock.alert["since"] == "2026-12-02T12:16:40Z"
    assert [e["id"] for e in clock.alert["outbox"]] != first


def test_another_family_resolves_the_incident_and_opens_a_new_one() -> None:
    clock = Clock()
    clock.at(0, CRASH, failures=3)
    clock.at(10, Health(ready=False, reason="ImagePullFailed", message="no such image"))
    assert clock.alert is not None and clock.alert["key"] == "tend/shop/api/NotStarting"
    assert clock.sent == [("trigger", "slack", 0), ("resolve", "slack", None)]
    assert clock.events == ["Escalated", "AlertResolved"]
    clock.at(910, Health(ready=False, reason="ImagePullFailed", message="no such image"))
    assert clock.sent[-1] == ("trigger", "pagerduty", 1), "by time: it never restarts"


def test_a_rollout_neither_resolves_nor_escalates() -> None:
    clock = Clock()
    clock.at(0, CRASH, failures=3)
    clock.at(100, READY)
    clock.at(200, Health(ready=False, reason="RolloutInProgress"))
    assert clock.alert is not None and "healthySince" not in clock.alert
    clock.at(1000, Health(ready=False, reason="RolloutInProgress"))
    assert clock.alert["state"] == "Firing" and clock.sent == [("trigger", "slack", 0)]


def test_a_dependency_failure_suppresses_and_sends_nothing() -> None:
    clock = Clock()
    blocked = Health(ready=False, reason="DependencyNotReady", suppressed_by="shop/db")
    alert = clock.at(0, blocked)
    assert alert == {"state": "Suppressed", "suppressedBy": "shop/db"}
    assert clock.events == ["AlertSuppressed"]
    clock.at(1000, blocked)
    assert clock.events == ["AlertSuppressed"] and clock.sent == []
    assert clock.at(1100, READY) is None, "the dependency recovered: nothing to suppress"


def test_a_service_failing_itself_is_not_suppressed_by_a_failing_dependency() -> None:
    clock = Clock()
    clock.at(0, CRASH, failures=3, suppressed_by="shop/db")
    assert clock.alert is not None and clock.alert["state"] == "Firing"
    assert clock.sent == [("trigger", "slack", 0)]


def test_the_root_names_its_blast_radius() -> None:
    dependents = [f"shop/svc-{i}" for i in range(25)]
    decided = incident(
        None,
        Health(**{**CRASH.__dict__, "failures": 3, "dependents": dependents}),
        LADDER,
        namespace="shop",
        name="db",
        now=T0,
    )
    (entry,) = decided.alert["outbox"]  # type: ignore[index]
    assert entry["dependents"] == dependents[:10] and entry["dependentCount"] == 25
    assert entry["summary"] == "CrashLoop: exit 3 after 1s: boom" and entry["exitCode"] == 3


def test_undelivered_notifications_stay_until_delivered_then_last_notified_is_set() -> None:
    args: dict[str, Any] = {"namespace": "shop", "name": "api"}
    first = incident(None, Health(**{**CRASH.__dict__, "failures": 3}), LADDER, now=T0, **args)
    assert first.alert is not None
    (entry,) = first.alert["outbox"]
    later = T0 + timedelta(seconds=5)
    kept = incident(first.alert, Health(**{**CRASH.__dict__, "failures": 4}), LADDER, now=later,
                    **args)  # fmt: skip
    assert kept.alert is not None and kept.alert["outbox"] == [entry], "not delivered yet"
    assert kept.events == [], "the same decision is not made twice"
    done = incident(kept.alert, Health(**{**CRASH.__dict__, "failures": 4}), LADDER, now=later,
                    delivered={entry["id"]}, **args)  # fmt: skip
    assert done.alert is not None and "outbox" not in done.alert
    assert done.alert["lastNotified"] == "2026-12-02T12:00:05Z"


def test_the_outbox_is_bounded() -> None:
    many = [{"id": str(i), "receiver": "x", "action": "trigger"} for i in range(OUTBOX_LIMIT + 20)]
    previous = {"state": "Firing", "key": "k", "reason": CRASHING, "since": "2026-12-02T12:00:00Z",
                "fired": [0, 1], "outbox": many}  # fmt: skip
    decided = incident(previous, CRASH, LADDER, namespace="shop", name="api", now=T0)
    assert decided.alert is not None and len(decided.alert["outbox"]) == OUTBOX_LIMIT
    assert decided.alert["outbox"][-1]["id"] == str(OUTBOX_LIMIT + 19), "the newest are kept"


def test_no_ladder_steps_opens_an_incident_that_pages_nobody() -> None:
    clock = Clock(Ladder(steps=[], resolve_after=60))
    clock.at(0, CRASH, failures=50, exhausted=True)
    assert clock.alert is not None and clock.alert["state"] == "Firing" and clock.sent == []


def test_a_step_without_receivers_uses_the_operator_defaults() -> None:
    ladder = Ladder([EscalationStep(after_failures=1)], 60, default_receivers=["oncall", "mail"])
    clock = Clock(ladder)
    clock.at(0, CRASH, failures=1)
    assert clock.sent == [("trigger", "oncall", 0), ("trigger", "mail", 0)]
