"""Incidents: failures become one incident per (namespace, name, reason family), which climbs
the escalation ladder and resolves after a stretch of health. Pure: no I/O, no clock of its
own (`now` comes in), all state in `status.alert` so it survives operator restarts.

Why tend does this and not Alertmanager: Alertmanager routes and deduplicates but does not
escalate ("not intended", prometheus/alertmanager#686) and cannot see the dependency graph.
The shape follows PagerDuty's: an incident is opened by a trigger with a stable dedup key,
escalation steps fire once each, one resolve closes it.

The rules, as DESIGN.md states them:
- An incident opens on the first failure of a service's own (its Ready condition False for
  one of `FAMILIES`' reasons). Its key is derived from identity only, so a restarted
  operator continues it and a receiver's dedup makes a resend harmless.
- Each step of `spec.alerts.escalation` (else the operator's `escalation`) fires once, when
  `afterFailures` failures in a row (`status.restarts.consecutive`, at least 1 while failing)
  or `after` time since the incident opened is reached, unless a higher step has fired
  already. Budget exhaustion escalates to the top step at once (so the lower ones are
  skipped, not sent late).
- It resolves after `resolveAfter` of Ready; failing again before that continues the same
  incident (flapping is one incident). A failure of another family resolves the incident
  and opens another.
- A service whose own workload runs but which is Degraded by a failing dependency pages
  nothing: `state: Suppressed`, `suppressedBy: <root>` (see `tend.logic.dependencies`).

Notifications decided here go into `alert.outbox` in the same status patch that records the
decision; the operator delivers them and reports back which were delivered
(`Incident.delivered`), and the next patch drops those. So a decision is never lost, even to
kill -9 between deciding and delivering; a resend after delivering is what the receivers'
dedup keys are for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tend.api import AlertState, EscalationStep, ManagedService, Reason
from tend.api.config import OperatorConfig
from tend.api.units import parse_duration
from tend.logic.events import NORMAL, WARNING, Event
from tend.logic.notifications import RESOLVE, TRIGGER
from tend.logic.pods import format_time, parse_time

CRASHING = "Crashing"
NOT_STARTING = "NotStarting"
# Reason family of each reason a service fails with.
FAMILIES: Mapping[str, str] = {
    Reason.CRASH_LOOP.value: CRASHING,
    Reason.OOM_KILLED.value: CRASHING,
    Reason.PROBE_FAILED.value: CRASHING,
    Reason.EXIT_CODE.value: CRASHING,
    Reason.RESTART_BUDGET_EXHAUSTED.value: CRASHING,
    Reason.IMAGE_PULL_FAILED.value: NOT_STARTING,
    Reason.CONFIG_ERROR.value: NOT_STARTING,
    Reason.UNSCHEDULABLE.value: NOT_STARTING,
}
KEY_LIMIT = 255  # PagerDuty's dedup_key limit
OUTBOX_LIMIT = 50  # undelivered notifications kept per service (the CRD admits 100)
BLAST_RADIUS_SHOWN = 10  # dependents named in a notification; the rest are counted
DEFAULT_RESOLVE_AFTER = 300.0  # seconds: spec.alerts.resolveAfter's default, 5m


def family(reason: str | None) -> str | None:
    """The reason family a failure reason belongs to (None: not a failure of its own)."""
    return FAMILIES.get(reason or "")


def incident_key(namespace: str, name: str, reason_family: str, uid: str = "") -> str:
    """The stable key of an incident: identity only (no time, no process). Past PagerDuty's
    255 characters it keeps a readable head and a hash of the whole."""
    key = f"tend/{namespace}/{name}/{reason_family}"
    if uid:
        key += f"/{uid[:8]}"  # a re-created ManagedService is another service
    if len(key) <= KEY_LIMIT:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[: KEY_LIMIT - 17]}~{digest}"


@dataclass(frozen=True)
class Health:
    """What the report step knows of the service's own health at this reconcile."""

    ready: bool
    reason: str | None = None  # the Ready condition's reason
    message: str = ""
    failures: int = 0  # failures in a row (status.restarts.consecutive)
    exhausted: bool = False  # the restart budget is exhausted
    exit_code: int | None = None
    suppressed_by: str | None = None  # the failing dependency that owns the alert
    dependents: Sequence[str] = ()  # namespace/name of those waiting on this service


@dataclass(frozen=True)
class Ladder:
    steps: Sequence[EscalationStep]
    resolve_after: float  # seconds
    default_receivers: Sequence[str] = ()

    def receivers(self, index: int) -> list[str]:
        return list(self.steps[index].receivers or self.default_receivers)


@dataclass(frozen=True)
class Incident:
    """The outcome for one reconcile: the new `status.alert` (None: none), the Events, and
    when to look again because a step or the resolve is due by time alone."""

    alert: dict[str, Any] | None
    events: list[Event] = field(default_factory=list)
    recheck_in: float | None = None


def ladder_for(service: ManagedService, config: OperatorConfig) -> Ladder:
    """The ladder a service climbs: its own `spec.alerts`, else the operator's defaults."""
    alerts = service.spec.alerts
    steps = (alerts.escalation if alerts else None) or config.escalation
    resolve_after = parse_duration(alerts.resolve_after) if alerts else DEFAULT_RESOLVE_AFTER
    return Ladder(steps, resolve_after, tuple(config.default_receivers))


def notification(
    alert: Mapping[str, Any],
    action: str,
    receiver: str,
    *,
    step: int | None,
    severity: str | None,
    health: Health,
    now: datetime,
) -> dict[str, Any]:
    """One outbox entry: what to tell one receiver. Its id is stable (the incident, since,
    action, step, receiver) so the same decision seen twice is one entry."""
    ident = f"{alert['key']}|{alert['since']}|{action}|{step}|{receiver}"
    shown = list(health.dependents[:BLAST_RADIUS_SHOWN])
    entry: dict[str, Any] = {
        "id": hashlib.sha256(ident.encode()).hexdigest()[:20],
        "receiver": receiver,
        "action": action,
        "step": step,
        "severity": severity,
        "reason": alert.get("reason"),
        "summary": f"{health.reason}: {health.message}"[:512] if action == TRIGGER else "recovered",
        "exitCode": health.exit_code if action == TRIGGER else None,
        "dependents": shown or None,
        "dependentCount": len(health.dependents) or None,
        "decidedAt": format_time(now),
    }
    return entry


def incident(
    previous: Mapping[str, Any] | None,
    health: Health,
    ladder: Ladder,
    *,
    namespace: str,
    name: str,
    uid: str = "",
    now: datetime,
    delivered: Collection[str] = (),
) -> Incident:
    """The incident after one reconcile that saw `health`."""
    previous = dict(previous or {})
    owed = previous.get("outbox") or []
    outbox: list[dict[str, Any]] = [e for e in owed if e.get("id") not in delivered]
    last_notified = previous.get("lastNotified")
    if len(outbox) < len(owed):
        last_notified = format_time(now)
    state = previous.get("state")
    open_ = state == AlertState.FIRING.value
    failing = family(health.reason) if not health.ready else None

    if health.suppressed_by and not failing:
        if open_:
            # A firing incident is not silenced by its dependents' troubles: keep it.
            return _carry(previous, outbox, last_notified)
        alert: dict[str, Any] = {
            "state": AlertState.SUPPRESSED.value,
            "suppressedBy": health.suppressed_by,
        }
        alert = _clean(alert | {"outbox": outbox, "lastNotified": last_notified})
        if state == AlertState.SUPPRESSED.value:
            return Incident(alert)
        message = f"alerts suppressed in favour of the root cause, {health.suppressed_by}"
        return Incident(alert, [Event(WARNING, Reason.ALERT_SUPPRESSED.value, message, once="")])

    events: list[Event] = []
    if open_ and failing and failing != previous.get("reason"):
        # Another kind of failure: this incident ends here, a new one opens below.
        resolved = _resolve(previous, outbox, ladder, health, now, "another failure began")
        outbox, events = resolved.alert["outbox"] or [], resolved.events  # type: ignore[index]
        open_ = False
    if failing and not open_:
        previous = {
            "outbox": outbox,
            "state": AlertState.FIRING.value,
            "key": incident_key(namespace, name, failing, uid),
            "reason": failing,
            "since": format_time(now),
            "fired": [],
        }
        open_ = True
    if not open_:
        if state == AlertState.SUPPRESSED.value:
            # The dependency recovered: nothing left to suppress (deliveries still owed stay).
            rest = {"outbox": outbox, "lastNotified": last_notified}
            return Incident(_clean(rest) if outbox else None)
        return _carry(previous, outbox, last_notified) if previous else Incident(None)

    # An open incident.
    alert = {**previous, "outbox": outbox, "lastNotified": last_notified, "suppressedBy": None}
    if not failing:
        if not health.ready:
            alert["healthySince"] = None  # neither failing nor Ready (rolling out): wait
            return Incident(_clean(alert), events)
        healthy_since = parse_time(alert.get("healthySince")) or now
        alert["healthySince"] = format_time(healthy_since)
        healthy_for = (now - healthy_since).total_seconds()
        if healthy_for >= ladder.resolve_after:
            resolved = _resolve(alert, outbox, ladder, health, now, "healthy")
            return Incident(resolved.alert, events + resolved.events)
        return Incident(_clean(alert), events, recheck_in=ladder.resolve_after - healthy_for)

    alert["healthySince"] = None  # flapping: the same incident goes on
    since = parse_time(alert.get("since")) or now
    fired: set[int] = {int(i) for i in alert.get("fired") or []}
    due = _due_steps(ladder, fired, health, (now - since).total_seconds())
    for index in due:
        step = ladder.steps[index]
        severity = str(step.severity)
        for receiver in ladder.receivers(index):
            alert["outbox"].append(
                notification(
                    alert, TRIGGER, receiver, step=index, severity=severity, health=health, now=now
                )
            )
        alert["step"], alert["severity"] = index, severity
        receivers = ", ".join(ladder.receivers(index)) or "no receivers configured"
        events.append(
            Event(
                WARNING,
                Reason.ESCALATED.value,
                f"step {index + 1} of {len(ladder.steps)} ({severity}) to {receivers}: "
                f"{health.reason}: {health.message}"[:1024],
                once=f"step-{index}",
            )
        )
    fired |= set(due)
    alert["fired"] = sorted(fired)
    return Incident(_clean(alert), events, recheck_in=_next_due(ladder, fired, since, now))


def _due_steps(ladder: Ladder, fired: set[int], health: Health, open_for: float) -> list[int]:
    if not ladder.steps:
        return []
    top = len(ladder.steps) - 1
    if health.exhausted and top not in fired:
        return [top]  # budget exhaustion escalates to the top step at once
    failures = max(health.failures, 1)
    highest = max(fired, default=-1)
    due = []
    for index, step in enumerate(ladder.steps):
        if index in fired or index < highest:
            continue  # fired, or below a step that fired: a ladder is not climbed down
        by_count = step.after_failures is not None and failures >= step.after_failures
        by_time = step.after is not None and open_for >= parse_duration(step.after)
        if by_count or by_time:
            due.append(index)
    return due


def _next_due(ladder: Ladder, fired: set[int], since: datetime, now: datetime) -> float | None:
    """Seconds until the next `after` step is due: the operator's one incident timer."""
    waits = [
        (since + timedelta(seconds=parse_duration(step.after)) - now).total_seconds()
        for index, step in enumerate(ladder.steps)
        if index not in fired and index > max(fired, default=-1) and step.after is not None
    ]
    return max(0.0, min(waits)) if waits else None


def _resolve(
    alert: Mapping[str, Any],
    outbox: list[dict[str, Any]],
    ladder: Ladder,
    health: Health,
    now: datetime,
    why: str,
) -> Incident:
    """Close the incident: a resolve to every receiver a step of it was sent to."""
    receivers = sorted({r for index in alert.get("fired") or [] for r in ladder.receivers(index)})
    severity = alert.get("severity")
    outbox = outbox + [
        notification(alert, RESOLVE, r, step=None, severity=severity, health=health, now=now)
        for r in receivers
    ]
    resolved: dict[str, Any] = {
        "state": AlertState.RESOLVED.value,
        "key": alert.get("key"),
        "reason": alert.get("reason"),
        "since": alert.get("since"),
        "severity": alert.get("severity"),
        "step": alert.get("step"),
        "fired": None,
        "healthySince": None,
        "resolvedAt": format_time(now),
        "suppressedBy": None,
        "outbox": outbox,
        "lastNotified": alert.get("lastNotified"),
    }
    resolved = _clean(resolved)
    message = f"incident {alert.get('key')} resolved ({why})"
    if receivers:
        message += f"; resolve sent to {', '.join(receivers)}"
    return Incident(resolved, [Event(NORMAL, Reason.ALERT_RESOLVED.value, message, once="")])


def _carry(
    previous: Mapping[str, Any], outbox: list[dict[str, Any]], last_notified: str | None
) -> Incident:
    return Incident(_clean({**previous, "outbox": outbox, "lastNotified": last_notified}))


def _clean(alert: dict[str, Any]) -> dict[str, Any]:
    """The outbox as status keeps it: None when empty, the newest OUTBOX_LIMIT entries (a
    receiver down for days must not grow status past what the CRD admits)."""
    alert["outbox"] = (alert.get("outbox") or [])[-OUTBOX_LIMIT:] or None
    return {key: value for key, value in alert.items() if value is not None}
