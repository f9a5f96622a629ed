"""When a verdict awaits another controller's first word (and so is held back a moment)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tend.api import BlockedBy, WorkloadKind
from tend.logic.observation import Awaiting, Observation, awaiting_first_word
from tend.logic.workload import WorkloadState

ROLLING = WorkloadState(WorkloadKind.DEPLOYMENT, "api", replicas=1, current=True)
DB = BlockedBy(kind="ManagedService", namespace="shop", name="db", reason="DependencyNotReady")
LOOP = BlockedBy(kind="ManagedService", namespace="shop", name="db", reason="DependencyCycle")
LDAP = BlockedBy(kind="Service", namespace="infra", name="ldap", reason="DependencyNotReady")


def dependency(observed: int | None) -> dict[str, Any]:
    return {"metadata": {"generation": 2}, "status": {"observedGeneration": observed}}


def test_a_new_services_missing_dependency_may_be_applied_with_it() -> None:
    seen = Observation(
        1, False, blocked_by=[DB.model_copy(update={"reason": "DependencyNotFound"})]
    )
    assert awaiting_first_word(seen, lambda ns, n: None, first_verdict=True) is (
        Awaiting.APPLIED_TOGETHER
    )
    assert awaiting_first_word(seen, lambda ns, n: None) is None  # after its first: news


@pytest.mark.parametrize(
    ("seen", "db", "awaiting"),
    [
        (Observation(1, False, blocked_by=[DB]), dependency(None), Awaiting.DEPENDENCY),  # new
        (Observation(1, False, blocked_by=[DB]), dependency(1), Awaiting.DEPENDENCY),  # an edit
        (Observation(1, False, blocked_by=[DB]), dependency(2), None),  # its verdict is out
        (Observation(1, False, blocked_by=[DB]), None, None),  # missing: news at once
        (Observation(1, False, blocked_by=[LDAP]), None, None),  # a plain Service
        (Observation(1, False, workload=replace(ROLLING, observed=False)), None, Awaiting.WORKLOAD),
        (Observation(1, False, workload=ROLLING), None, None),
        (Observation(1, False, problems=["spec.x: bad"], blocked_by=[DB]), dependency(None), None),
        (Observation(1, False, blocked_by=[LOOP]), dependency(None), None),  # never a wait
    ],
    ids=[
        "dependency-new",
        "dependency-edited",
        "dependency-reconciled",
        "dependency-missing",
        "service",
        "workload-unobserved",
        "workload-observed",
        "problems",
        "cycle",
    ],
)
def test_a_verdict_awaits_a_first_word_only_from_what_will_give_it(
    seen: Observation, db: dict[str, Any] | None, awaiting: Awaiting | None
) -> None:
    lookup = {("shop", "db"): db}
    assert awaiting_first_word(seen, lambda ns, name: lookup.get((ns, name))) is awaiting
