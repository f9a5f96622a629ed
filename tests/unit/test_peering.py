"""Whether a peering object pauses this operator: kopf's rule, as a table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tend.runtime.peering import paused

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def peer(priority: int, seen_ago: float = 5, lifetime: int = 60) -> dict[str, Any]:
    lastseen = (NOW - timedelta(seconds=seen_ago)).isoformat()
    return {"priority": priority, "lifetime": lifetime, "lastseen": lastseen}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({}, False),
        ({"me": peer(10)}, False),  # only ourselves
        ({"me": peer(10), "other": peer(5)}, False),  # a lower priority waits for us
        ({"me": peer(10), "other": peer(100)}, True),  # a higher priority is active
        ({"me": peer(10), "other": peer(10)}, True),  # same priority: kopf pauses both
        ({"me": peer(10), "other": peer(100, seen_ago=61)}, False),  # dead: lifetime passed
        ({"me": peer(10), "other": peer(100, seen_ago=59)}, True),
        ({"other": peer(100, seen_ago=100, lifetime=120)}, True),  # its own lifetime counts
        ({"other": {"priority": 100, "lastseen": "yesterday"}}, False),  # unparseable
        ({"other": "garbage"}, False),
        ({"other": {**peer(100), "lastseen": "2026-12-02T11:59:55"}}, True),  # naive: UTC
    ],
)
def test_paused_while_a_live_peer_has_a_priority_at_least_ours(
    status: dict[str, Any], expected: bool
) -> None:
    assert paused(status, "me", 10, NOW) is expected
