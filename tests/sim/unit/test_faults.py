"""Fault injection: error rules, latency, dropped watches, forced 410 (tend_sim.faults)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tend_sim import faults
from tend_sim.faults import FaultPlan, Target, middleware, parse_target


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"kind": "Ok"})


def make_app(plan: FaultPlan) -> web.Application:
    app = web.Application(middlewares=[middleware(plan)])
    app.router.add_route("*", "/{tail:.*}", ok)
    return app


Client = TestClient[web.Request, web.Application]
PlanAndClient = tuple[FaultPlan, Client]


@pytest.fixture
async def plan_and_client() -> AsyncIterator[PlanAndClient]:
    plan = FaultPlan(seed=7)
    client = TestClient(TestServer(make_app(plan), host="127.0.0.1"))
    await client.start_server()
    try:
        yield plan, client
    finally:
        await client.close()


PODS = "/api/v1/namespaces/shop/pods"
MSVC = "/apis/tend.dev/v1alpha1/namespaces/shop/managedservices"


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", PODS, {}, Target("list", "pods")),
        ("GET", PODS, {"watch": "true"}, Target("watch", "pods")),
        ("GET", f"{PODS}/p1", {}, Target("get", "pods")),
        ("PATCH", f"{MSVC}/api/status", {}, Target("patch", "managedservices", "status")),
        ("POST", MSVC, {}, Target("create", "managedservices")),
        ("PUT", "/api/v1/namespaces/shop", {}, Target("update", "namespaces")),
        ("DELETE", PODS, {}, Target("deletecollection", "pods")),
        ("GET", "/apis/tend.dev/v1alpha1/managedservices", {}, Target("list", "managedservices")),
        ("GET", "/apis", {}, None),
        ("GET", "/api/v1", {}, None),
        ("GET", "/version", {}, None),
    ],
)
def test_requests_are_classified_by_verb_and_resource(
    method: str, path: str, query: dict[str, str], expected: Target | None
) -> None:
    assert parse_target(method, path, query) == expected


async def test_matching_rule_answers_with_status_and_retry_after(
    plan_and_client: PlanAndClient,
) -> None:
    plan, client = plan_and_client
    plan.fail(verb="patch", resource="managedservices", code=429, retry_after=3)
    response = await client.patch(f"{MSVC}/api", json={})
    assert response.status == 429
    assert response.headers["Retry-After"] == "3"
    body = await response.json()
    assert body["kind"] == "Status"
    assert body["reason"] == "TooManyRequests"
    assert body["details"]["retryAfterSeconds"] == 3
    assert (await client.get(MSVC)).status == 200  # another verb is untouched
    assert (await client.patch(f"{PODS}/p", json={})).status == 200  # another resource too


async def test_count_limits_how_often_a_rule_fires(plan_and_client: PlanAndClient) -> None:
    plan, client = plan_and_client
    rule = plan.fail(resource="pods", code=503, count=2)
    statuses = [(await client.get(PODS)).status for _ in range(4)]
    assert statuses == [503, 503, 200, 200]
    assert rule.fired == 2
    assert plan.injected[("list", "pods", 503)] == 2


async def test_discovery_is_never_failed(plan_and_client: PlanAndClient) -> None:
    plan, client = plan_and_client
    plan.fail(code=500)
    assert (await client.get("/apis")).status == 200
    assert (await client.get(PODS)).status == 500


def test_probabilistic_rules_are_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[bool]:
        plan = FaultPlan(seed=seed)
        plan.fail(code=500, probability=0.3)
        return [plan.error_for(Target("get", "pods")) is not None for _ in range(50)]

    first = run(1)
    assert first == run(1)
    assert 5 < sum(first) < 25
    assert first != run(2)


def test_unsupported_status_codes_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported fault code"):
        FaultPlan().fail(code=418)


async def test_latency_is_added_per_verb_and_resource(
    plan_and_client: PlanAndClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan, client = plan_and_client
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(faults.asyncio, "sleep", fake_sleep)
    plan.delay(0.25, verb="create")
    plan.delay(0.5, resource="managedservices")
    await client.post(MSVC, json={})
    await client.get(PODS)
    await client.post(PODS, json={})
    assert waited == [0.75, 0.25]


async def test_drop_watches_wakes_every_open_watch_once() -> None:
    plan = FaultPlan()
    generation = plan.watch_generation
    waiters = [asyncio.create_task(plan.wait_dropped(generation)) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    assert not plan.should_drop_watch(generation)
    plan.drop_watches()
    await asyncio.wait_for(asyncio.gather(*waiters), timeout=5)
    assert plan.should_drop_watch(generation)
    assert not plan.should_drop_watch(plan.watch_generation)  # a watch opened later stays


def test_forced_gone_applies_to_the_next_watches_of_that_resource_only() -> None:
    plan = FaultPlan()
    plan.force_gone_next_watch("pods", times=2)
    assert not plan.take_forced_gone("managedservices")
    assert [plan.take_forced_gone("pods") for _ in range(3)] == [True, True, False]


def test_clear_removes_rules_and_latency() -> None:
    plan = FaultPlan()
    plan.fail(code=500)
    plan.delay(1.0)
    plan.clear()
    assert plan.error_for(Target("get", "pods")) is None
    assert plan.latency_for(Target("get", "pods")) == 0
