"""The report step: from (previous status, what one reconcile saw and did) to what to say.

Flux's reconcilers end every reconcile, whatever path it took, in one deferred step that
patches status and emits Events (kustomize-controller's `Reconcile` defers `patch` and
`event`). tend's `report` is that step as a pure function: the controller gathers an
`Observation` (the spec's problems, the dependency verdicts, the live workload, the
writes it made), calls `report`, and carries out the `Report` — post its Events, then
merge-patch `status` — without deciding anything itself. A steady state reports nothing:
`Report.status` is None when the patch would change nothing, and the only Events then are
those of writes the reconcile made (a deleted Service recreated, a hand-scaled Deployment
put back), which are news even when the status stays the same.

The incident (`tend.logic.incidents`) is decided here too: its state and the notifications
it owes go into `status.alert` in the same patch, so the operator delivers only what status
has recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from tend.api import (
    Condition,
    ConditionStatus,
    ConditionType,
    ManagedServiceStatus,
    OnExhausted,
    Reason,
)
from tend.logic.conditions import compute_status, merge_conditions
from tend.logic.events import NORMAL, WARNING, Event, transitions
from tend.logic.incidents import Health, family, incident
from tend.logic.observation import Observation
from tend.logic.plan import WORKLOAD_KINDS, Action
from tend.logic.restarts import STOPPED, Accounting, RestartSettings, account, format_seconds

# The status fields tend writes; anything else in status (none today) is left alone.
Patch = dict[str, Any]


@dataclass(frozen=True)
class Report:
    """What one reconcile has to say: a merge patch of `status` (None: nothing changed)
    and the Events, in the order they are to be posted (before the patch)."""

    status: Patch | None = None
    events: list[Event] = field(default_factory=list)
    recheck_in: float | None = None  # reconcile again after this many seconds: time matters
    # The patch only rewords what status says (a condition's or a blocker's message, a
    # dependency's reason): the same phase, verdicts and counts. Such a patch can wait.
    rewording: bool = False


def parse_status(raw: Mapping[str, Any] | None) -> ManagedServiceStatus | None:
    """The previous status as the models read it; None when absent or unreadable (a status
    someone else wrote by hand is replaced, not trusted)."""
    if not raw:
        return None
    try:
        return ManagedServiceStatus.model_validate(raw)
    except ValidationError:
        return None


def report(previous: Mapping[str, Any] | None, seen: Observation, *, now: datetime) -> Report:
    """The status patch and Events for one reconcile that saw `seen`, given the status the
    ManagedService carried before (`previous`, the raw `status` mapping or None)."""
    previous = previous or {}
    old = parse_status(previous)
    counted = (
        account(
            previous.get("restarts"),
            previous.get("recentFailures"),
            seen.pods,
            seen.restart_settings,
            now,
            generation=seen.generation,
            reset=seen.reset,
        )
        if seen.restart_settings is not None
        else None
    )
    exhausted = _exhausted_message(counted, seen.restart_settings)
    phase, conditions = compute_status(
        seen,
        counted.problem if counted else None,
        exhausted,
        held=counted.held if counted else None,
        held_message=_held_message(seen, counted),
        reset=counted.reset if counted else None,
    )
    merged = merge_conditions(
        old.conditions if old else None, conditions, generation=seen.generation, now=now
    )
    patch: Patch = {
        "observedGeneration": seen.generation,
        "phase": phase.value,
        "conditions": [c.to_api() for c in merged],
        "blockedBy": [b.to_api() for b in seen.blocked_by] or None,
        "workload": seen.workload.summary().to_api() if seen.workload else None,
    }
    events = action_events(seen.actions)
    if counted is not None:
        patch["restarts"] = counted.restarts
        patch["recentFailures"] = counted.recent_failures or None
        events += [
            Event(WARNING, f.reason, f"container {f.container} of pod {f.pod}: {f.message}")
            for f in counted.new
        ]
        if counted.newly_held and counted.held == OnExhausted.SCALE_TO_ZERO:
            events.append(Event(WARNING, Reason.SCALED_TO_ZERO.value, STOPPED, once=""))
        if counted.newly_held and counted.held == OnExhausted.ROLLBACK:
            message = _held_message(seen, counted) or ""
            events.append(Event(WARNING, Reason.ROLLED_BACK.value, message, once=""))
        if counted.reset:
            reset = f"restart budget reset: {counted.reset}"
            events.append(Event(NORMAL, Reason.RESTART_BUDGET_EXHAUSTED.value, reset, once="reset"))
    recheck = counted.recheck_in if counted else None
    if seen.ladder is not None:
        decided = incident(
            previous.get("alert"),
            _health(seen, merged, counted),
            seen.ladder,
            namespace=seen.namespace,
            name=seen.name,
            uid=seen.uid,
            now=now,
            delivered=seen.delivered,
        )
        if decided.alert is not None or previous.get("alert") is not None:
            patch["alert"] = _replacing(previous.get("alert"), decided.alert)
        events += decided.events
        recheck = _sooner(recheck, decided.recheck_in)
    if _pruned(patch) == _pruned({key: previous.get(key) for key in patch}):
        return Report(events=action_events(seen.actions), recheck_in=recheck)
    # One Event per reason: a transition with the reason of this reconcile's writes joins
    # their Event rather than being dropped (a reconcile that creates a PDB and finds the
    # service Ready says both, in one Event).
    writes = action_events(seen.actions)
    changed = transitions(old, merged, already={e.reason for e in events if e not in writes})
    events = _joined(events, changed)
    rewording = _gist(patch) == _gist({key: previous.get(key) for key in patch})
    return Report(status=patch, events=events, recheck_in=recheck, rewording=rewording)


def _joined(events: list[Event], changed: list[Event]) -> list[Event]:
    """`events` and the transitions `changed`, a transition merged into the Event of the
    same reason (after the writes' message)."""
    result = list(events)
    for transition in changed:
        same = next((i for i, e in enumerate(result) if e.reason == transition.reason), None)
        if same is None:
            result.append(transition)
            continue
        other = result[same]
        kind = WARNING if WARNING in (other.type, transition.type) else NORMAL
        once = transition.once if transition.once is not None else other.once
        result[same] = Event(kind, other.reason, f"{other.message}; {transition.message}", once)
    return result


def _health(seen: Observation, merged: Sequence[Condition], counted: Accounting | None) -> Health:
    """The service's own health, for the incident: Ready's verdict, failures in a row, and
    whose failure it suffers from when a dependency's."""
    ready = next((c for c in merged if c.type == ConditionType.READY), None)
    is_ready = ready is not None and ready.status == ConditionStatus.TRUE
    restarts = counted.restarts if counted else {}
    failures = int(restarts.get("consecutive") or 0)
    reason, message = (ready.reason, ready.message) if ready else (None, "")
    if not is_ready and family(reason) is None and failures and counted is not None:
        # Restarted and running again, not Ready yet: still failing (until a run lasts
        # minUptime), by the reason of the last failure, not "RolloutInProgress".
        reason = str(restarts.get("lastReason") or reason)
        newest = (counted.recent_failures or [{}])[0]
        message = str(newest.get("message") or message)
    # Alerts are suppressed in favour of the root cause only while our own workload runs:
    # a service that never started is blocked, not failing, and has nothing to page about.
    running = seen.workload is not None and seen.workload.ready
    return Health(
        ready=is_ready,
        reason=reason,
        message=message,
        failures=failures,
        exhausted=bool(counted and counted.exhausted),
        exit_code=restarts.get("lastExitCode"),
        suppressed_by=seen.root_cause if running else None,
        dependents=seen.dependents,
    )


def _replacing(previous: Any, new: dict[str, Any] | None) -> dict[str, Any] | None:
    """A merge patch that makes `previous` into `new`: keys `new` lacks are set to None."""
    if new is None or not isinstance(previous, Mapping):
        return new
    return {**dict.fromkeys(previous), **new}


def _sooner(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _exhausted_message(counted: Accounting | None, settings: RestartSettings | None) -> str | None:
    if counted is None or settings is None or not counted.exhausted:
        return None
    window = counted.restarts.get("inWindow", 0)
    fallback = f" ({settings.fallback})" if settings.fallback else ""
    return (
        f"{window} restarts within {format_seconds(settings.window)} (maxRestarts "
        f"{settings.max_restarts}); onExhausted: {counted.held or 'Alert'}{fallback}"
    )


def _held_message(seen: Observation, counted: Accounting | None) -> str | None:
    if counted is None or counted.held is None:
        return None
    if counted.held == OnExhausted.SCALE_TO_ZERO:
        return STOPPED
    return (
        f"rolled back to the template of generation {seen.last_ready_generation}, the last "
        f"that was Ready, because the restart budget is exhausted; generation {seen.generation} "
        "does not run (change the spec or set a new value of tend.dev/reset-budget to try it again)"
    )


def _pruned(value: Any) -> Any:
    """`value` without the None entries of its mappings: how the API server stores a merge
    patch (a null removes the key), so a patch and the status it wrote compare equal."""
    if isinstance(value, Mapping):
        return {k: _pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _gist(status: Mapping[str, Any]) -> Any:
    """`status` without its wording: conditions' messages and times, blockers' details."""
    gist = _pruned(status)

    def only(entries: Any, drop: Callable[[str], bool]) -> Any:
        if not isinstance(entries, list):
            return entries  # written by hand: compared as it is
        return [
            {k: v for k, v in e.items() if not drop(k)} if isinstance(e, Mapping) else e
            for e in entries
        ]

    gist["conditions"] = only(
        gist.get("conditions"), lambda k: k in ("message", "lastTransitionTime")
    )
    gist["blockedBy"] = only(
        gist.get("blockedBy"), lambda k: k not in ("kind", "namespace", "name")
    )
    return gist


def action_events(actions: Sequence[Action]) -> list[Event]:
    """One Event for the writes of a reconcile: RolloutInProgress when the workload was
    written, Reconciled for the other objects."""
    if not actions:
        return []
    touches_workload = any(a.kind in WORKLOAD_KINDS for a in actions)
    reason = Reason.ROLLOUT_IN_PROGRESS if touches_workload else Reason.RECONCILED
    return [Event(NORMAL, reason.value, ", ".join(a.describe() for a in actions))]
