"""When a verdict awaits another controller's first word (and so is held back a moment)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tend.api import BlockedBy, WorkloadKind
from tend.logic.observation import Observation, awaiting_first_word
from tend.logic.workload import WorkloadState

ROLLING = WorkloadState(WorkloadKind.DEPLOYMENT, "api", replicas=1, current=True)
DB = BlockedBy(kind="ManagedService", namespace="shop", name="db", reason="DependencyNotReady")
LDAP = BlockedBy(kind="Service", namespace="infra", name="ldap", reason="DependencyNotReady")


def dependency(observed: int | None) -> dict[str, Any]:
    return {"metadata": {"generation": 2}, "status": {"observedGeneration": observed}}


@pytest.mark.parametrize(
    ("seen", "db", "awaiting"),
    [
        (Observation(1, False, blocked_by=[DB]), dependency(None), True),  # never reconciled
        (Observation(1, False, blocked_by=[DB]), dependency(1), True),  # an edit not yet seen
        (Observation(1, False, blocked_by=[DB]), dependency(2), False),  # its verdict is out
        (Observation(1, False, blocked_by=[DB]), None, False),  # missing: news at once
        (Observation(1, False, blocked_by=[LDAP]), None, False),  # a plain Service
        (Observation(1, False, workload=replace(ROLLING, observed=False)), None, True),
        (Observation(1, False, workload=ROLLING), None, False),
        (Observation(1, False, problems=["spec.x: bad"], blocked_by=[DB]), dependency(None), False),
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
    ],
)
def test_a_verdict_awaits_a_first_word_only_from_what_will_give_it(
    seen: Observation, db: dict[str, Any] | None, awaiting: bool
) -> None:
    lookup = {("shop", "db"): db}
    assert awaiting_first_word(seen, lambda ns, name: lookup.get((ns, name))) is awaiting
