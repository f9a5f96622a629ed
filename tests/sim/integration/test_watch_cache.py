"""The watch cache's windows and resourceVersion semantics over HTTP, as kube-apiserver: history
that expires by time (410), continue tokens that expire with compaction, future versions that
wait then 504, resourceVersionMatch and sendInitialEvents (watch-list). Time is a fake: the
store's `seconds` clock is set by the test, so nothing sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from waiting import until

from tend_sim.bootstrap import ROOT_CA
from tend_sim.cluster import SimCluster

from .conftest import Api

CM = "/api/v1/namespaces/default/configmaps"


class FakeSeconds:
    """Seconds that move only when the test says so, from where the store's clock was."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[SimCluster, Api, FakeSeconds]]:
    sim = SimCluster(controllers=False, bookmark_interval=60, fresh_timeout=0.2)
    clock = FakeSeconds(sim.store.seconds())
    sim.store.seconds = clock
    await sim.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield sim, Api(session, sim.url), clock
    finally:
        await sim.stop()


def _names(items: list[dict[str, Any]]) -> list[str]:
    """The names of the test's own ConfigMaps (not the namespace's kube-root-ca.crt)."""
    return [i["metadata"]["name"] for i in items if i["metadata"]["name"] != ROOT_CA]


async def _cm(api: Api, name: str) -> int:
    reply = await api.post(CM, {"metadata": {"name": name}, "data": {"v": name}})
    assert reply.status == 201, reply.body
    return int(reply.body["metadata"]["resourceVersion"])


async def test_history_older_than_the_window_is_410_on_watch(
    cluster: tuple[SimCluster, Api, FakeSeconds],
) -> None:
    sim, api, clock = cluster
    # Each namespace's kube-root-ca.crt (bootstrap.py) is already in the history.
    bootstrapped = len(sim.store.list(sim.store.resource("configmaps"))[0])
    first = await _cm(api, "first")
    for i in range(99 - bootstrapped):  # the floor of 100 events, all at t=0
        await _cm(api, f"n{i}")
    fresh = await api.watch(CM, {"resourceVersion": str(first - 1)}, stop_after=1)
    assert fresh[0]["type"] == "ADDED"  # still within the history
    clock.now += 80.0  # past the 75 s window: each next event pushes the oldest out
    for i in range(bootstrapped + 1):  # the kube-root-ca.crt events, then first
        last = await _cm(api, f"late{i}")
    events = await api.watch(CM, {"resourceVersion": str(first - 1)}, stop_after=1)
    assert events == [
        {
            "type": "ERROR",
            "object": {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f"too old resource version: {first - 1} ({first})",
                "reason": "Expired",
                "code": 410,
            },
        }
    ]
    resumed = await api.watch(CM, {"resourceVersion": str(last - 1)}, stop_after=1)
    assert resumed[0]["object"]["metadata"]["name"] == f"late{bootstrapped}"


async def test_fresh_events_are_kept_beyond_the_floor(
    cluster: tuple[SimCluster, Api, FakeSeconds],
) -> None:
    _, api, clock = cluster
    first = await _cm(api, "first")
    for i in range(150):  # more than 100 events, all within 75 s: the buffer grows
        clock.now += 0.1
        await _cm(api, f"n{i}")
    events = await api.watch(CM, {"resourceVersion": str(first - 1)}, stop_after=1)
    assert events[0]["type"] == "ADDED"
    assert events[0]["object"]["metadata"]["name"] == "first"


async def test_a_continue_token_from_before_compaction_is_410_with_an_inconsistent_token(
    cluster: tuple[SimCluster, Api, FakeSeconds],
) -> None:
    _, api, clock = cluster
    for name in ("a", "b", "c"):
        await _cm(api, name)
    page = await api.get(CM, params={"limit": "1"})
    token = page.body["metadata"]["continue"]
    assert [i["metadata"]["name"] for i in page.body["items"]] == ["a"]
    second = await api.get(CM, params={"limit": "1", "continue": token})
    assert second.status == 200  # fresh: fine
    clock.now += 301.0
    await _cm(api, "d")  # a write after the interval: the compactor has passed the token's rv
    clock.now += 301.0
    expired = await api.get(CM, params={"limit": "1", "continue": token})
    assert expired.status == 410
    assert expired.body["reason"] == "Expired"
    assert expired.body["message"].startswith(
        "The provided continue parameter is too old to display a consistent list result. You "
        "can start a new list without the continue parameter, or use the continue token in this "
        "response to retrieve the remainder of the results."
    )
    with_rv = await api.get(CM, params={"continue": token, "resourceVersion": "5"})
    assert (with_rv.status, with_rv.body["message"]) == (
        400,
        "specifying resource version is not allowed when using continue",
    )
    garbled = await api.get(CM, params={"continue": "not-a-token"})
    assert garbled.status == 400
    assert garbled.body["message"].startswith("invalid continue token: continue key is not valid")
    inconsistent = expired.body["metadata"]["continue"]
    rest = await api.get(CM, params={"continue": inconsistent})
    assert rest.status == 200
    assert _names(rest.body["items"]) == ["b", "c", "d"]


async def test_a_future_resource_version_waits_then_504(
    cluster: tuple[SimCluster, Api, FakeSeconds],
) -> None:
    sim, api, _ = cluster
    rv = await _cm(api, "a")
    future = rv + 100
    listed = await api.get(CM, params={"resourceVersion": str(future)})
    assert listed.status == 504
    assert listed.headers["Retry-After"] == "1"
    assert listed.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"Timeout: Too large resource version: {future}, current: {rv}",
        "reason": "Timeout",
        "details": {
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ],
            "retryAfterSeconds": 1,
        },
        "code": 504,
    }
    exact = await api.get(
        CM, params={"resourceVersion": str(future), "resourceVersionMatch": "Exact"}
    )
    assert exact.status == 504
    watch = await api.watch(
        CM,
        {
            "resourceVersion": str(future),
            "resourceVersionMatch": "NotOlderThan",
            "sendInitialEvents": "true",
            "allowWatchBookmarks": "true",
        },
    )
    assert watch[0]["type"] == "ERROR"
    assert watch[0]["object"]["code"] == 504
    # one version ahead, written while a request waits: answered once the store gets there
    waiting = asyncio.ensure_future(sim.store.wait_for_resource_version(rv + 1, 10))
    await asyncio.sleep(0)  # let it start waiting
    assert sim.store._rv_waiters
    await _cm(api, "b")
    assert await waiting
    assert (await api.get(CM, params={"resourceVersion": str(rv + 1)})).status == 200


@pytest.mark.parametrize(
    "extra",
    [{}, {"sendInitialEvents": "false", "resourceVersionMatch": "NotOlderThan"}],
    ids=["legacy", "without-initial-events"],
)
async def test_a_watch_from_a_future_version_skips_what_comes_before_it(
    cluster: tuple[SimCluster, Api, FakeSeconds], extra: dict[str, str]
) -> None:
    """No waiting (that is for the watch-list's state): the events up to it are skipped."""
    sim, api, _ = cluster
    rv = await _cm(api, "a")
    params = {"resourceVersion": str(rv + 1), "timeoutSeconds": "5", **extra}
    task = asyncio.create_task(api.watch(CM, params, stop_after=1))
    await until(sim, sim.store.watch_count, "the watch open")
    await _cm(api, "skipped")  # rv + 1: not after the requested version
    await _cm(api, "seen")
    events = await task
    assert [e["object"]["metadata"]["name"] for e in events] == ["seen"]


async def test_exact_lists_show_the_past(cluster: tuple[SimCluster, Api, FakeSeconds]) -> None:
    _, api, clock = cluster
    rv = await _cm(api, "a")
    await api.patch(f"{CM}/a", {"data": {"v": "changed"}}, "application/merge-patch+json")
    await _cm(api, "b")
    await api.delete(f"{CM}/a")
    then = await api.get(CM, params={"resourceVersion": str(rv), "resourceVersionMatch": "Exact"})
    assert then.status == 200
    assert then.body["metadata"]["resourceVersion"] == str(rv)
    ours = [i for i in then.body["items"] if i["metadata"]["name"] != ROOT_CA]
    assert [(i["metadata"]["name"], i["data"]) for i in ours] == [("a", {"v": "a"})]
    now = await api.get(
        CM, params={"resourceVersion": str(rv), "resourceVersionMatch": "NotOlderThan"}
    )
    assert _names(now.body["items"]) == ["b"]
    clock.now += 301.0
    await _cm(api, "c")
    clock.now += 301.0
    await _cm(api, "d")
    gone = await api.get(CM, params={"resourceVersion": str(rv), "resourceVersionMatch": "Exact"})
    assert gone.status == 410
    assert gone.body["message"] == "The resourceVersion for the provided list is too old."


@pytest.mark.parametrize(
    ("watch", "params", "message"),
    [
        (
            False,
            {"resourceVersionMatch": "Exact"},
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless "
            "resourceVersion is provided",
        ),
        (
            False,
            {"resourceVersion": "5", "resourceVersionMatch": "Sometime"},
            'resourceVersionMatch: Unsupported value: "Sometime": supported values: "Exact", '
            '"NotOlderThan", ""',
        ),
        (
            False,
            {"resourceVersion": "0", "resourceVersionMatch": "Exact"},
            'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for '
            'resourceVersion "0"',
        ),
        (
            False,
            {"sendInitialEvents": "true"},
            "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list",
        ),
        (
            True,
            {"resourceVersionMatch": "NotOlderThan"},
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless "
            "sendInitialEvents is provided",
        ),
        (
            True,
            {"sendInitialEvents": "true"},
            "resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
            "resourceVersionMatch to NotOlderThan",
        ),
    ],
)
async def test_invalid_combinations_are_422_on_list_options(
    cluster: tuple[SimCluster, Api, FakeSeconds],
    watch: bool,
    params: dict[str, str],
    message: str,
) -> None:
    _, api, _ = cluster
    reply = await api.get(CM, params={**params, **({"watch": "1"} if watch else {})})
    assert reply.status == 422
    assert reply.body["message"] == f'ListOptions.meta.k8s.io "" is invalid: {message}'


async def test_watch_list_sends_the_state_then_the_initial_events_end_bookmark(
    cluster: tuple[SimCluster, Api, FakeSeconds],
) -> None:
    _, api, _ = cluster
    await _cm(api, "a")
    rv = await _cm(api, "b")
    events = await api.watch(
        CM,
        {
            "sendInitialEvents": "true",
            "resourceVersionMatch": "NotOlderThan",
            "resourceVersion": str(rv),
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "1",
        },
        stop_after=4,
    )
    # kube-root-ca.crt (bootstrap.py) is part of the state too.
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "ADDED", "BOOKMARK"]
    assert _names([e["object"] for e in events[:3]]) == ["a", "b"]
    bookmark = events[3]["object"]["metadata"]
    assert bookmark["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert bookmark["resourceVersion"] == str(rv)


@pytest.mark.parametrize("rv", ["", "0"])
async def test_watch_without_initial_events_starts_now(
    cluster: tuple[SimCluster, Api, FakeSeconds], rv: str
) -> None:
    sim, api, _ = cluster
    await _cm(api, "a")
    task = asyncio.create_task(
        api.watch(
            CM,
            {
                "sendInitialEvents": "false",
                "resourceVersionMatch": "NotOlderThan",
                "resourceVersion": rv,
                "timeoutSeconds": "5",
            },
            stop_after=1,
        )
    )
    await until(sim, sim.store.watch_count, "the watch open")
    await _cm(api, "c")
    later = await task
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in later] == [("ADDED", "c")]
