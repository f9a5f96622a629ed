"""The one readiness verdict: Ready=True at the current generation (Flux's contract)."""

from __future__ import annotations

from typing import Any

import pytest

from tend.logic.readiness import News, news_for_dependents, readiness


def body(
    *, generation: int = 2, observed: int | None = 2, ready: str | None = "True", **status: Any
) -> dict[str, Any]:
    conditions = [] if ready is None else [{"type": "Ready", "status": ready, "reason": "R"}]
    return {
        "metadata": {"name": "db", "generation": generation},
        "status": {"observedGeneration": observed, "conditions": conditions, **status},
    }


@pytest.mark.parametrize(
    ("obj", "is_ready", "why_not"),
    [
        (body(), True, "DependencyNotReady"),
        (body(observed=1), False, "DependencyNotReady"),  # ready, but at an older generation
        (body(ready="False"), False, "R"),
        (body(ready=None), False, "DependencyNotReady"),
        (None, False, "DependencyNotReady"),
        (
            {**body(), "metadata": {"generation": 2, "deletionTimestamp": "x"}},
            False,
            "DependencyNotReady",  # Ready=True, but going away
        ),
    ],
    ids=["ready", "stale-generation", "not-ready", "no-condition", "missing", "deleting"],
)
def test_ready_means_ready_at_the_current_generation(
    obj: dict[str, Any] | None, is_ready: bool, why_not: str
) -> None:
    seen = readiness(obj)
    assert seen.is_ready is is_ready
    assert seen.why_not == why_not


def test_succeeded_needs_the_phase_at_the_current_generation() -> None:
    assert readiness(body(phase="Succeeded")).succeeded
    assert not readiness(body(phase="Succeeded", observed=1)).succeeded
    assert not readiness(body(phase="Running")).succeeded


def test_equal_readiness_means_dependents_learn_nothing_new() -> None:
    before = body()
    after = {**body(), "status": {**body()["status"], "workload": {"replicas": 3}}}
    assert readiness(before) == readiness(after)
    assert readiness(before) != readiness(body(ready="False"))


def not_ready(reason: str, phase: str = "Blocked", **kw: Any) -> dict[str, Any]:
    found = body(ready="False", phase=phase, **kw)
    found["status"]["conditions"][0]["reason"] = reason
    return found


@pytest.mark.parametrize(
    ("before", "after", "news"),
    [
        (body(), body(), News.NONE),
        (not_ready("DependencyNotReady"), body(), News.NOW),  # became ready
        (body(), not_ready("CrashLoop", "Degraded"), News.NOW),  # stopped being ready
        (None, not_ready("DependencyNotReady"), News.NOW),  # appeared
        (not_ready("DependencyNotReady"), None, News.NOW),  # went away
        (body(generation=2, observed=None, ready=None), not_ready("DependencyNotReady"), News.NOW),
        (body(), body(generation=3), News.NOW),  # a new generation is not ready yet
        (
            not_ready("DependencyNotReady"),
            not_ready("RolloutInProgress", "Progressing"),
            News.LATER,
        ),
        (
            not_ready("RolloutInProgress", "Progressing"),
            not_ready("CrashLoop", "Degraded"),
            News.LATER,
        ),
        (body(phase="Running"), body(phase="Succeeded"), News.NOW),  # succeeded
        (
            not_ready("CrashLoop", "Degraded"),
            not_ready("CrashLoop", "Degraded", alert={"suppressedBy": "shop/db"}),
            News.LATER,  # whose failure it is: the root cause dependents' alerts defer to
        ),
    ],
    ids=[
        "same",
        "ready",
        "unready",
        "created",
        "deleted",
        "first-verdict",
        "new-generation",
        "blocked-to-rolling",
        "rolling-to-crashing",
        "succeeded",
        "root-cause",
    ],
)
def test_dependents_hear_at_once_only_what_can_flip_their_verdict(
    before: dict[str, Any] | None, after: dict[str, Any] | None, news: News
) -> None:
    assert news_for_dependents(readiness(before), readiness(after)) is news
