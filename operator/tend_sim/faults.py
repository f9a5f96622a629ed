"""Fault injection for the simulated API server: errors, latency, dropped and expired watches.

A FaultPlan is deterministic for a given seed. The aiohttp `middleware(plan)` applies error rules
and latency to resource requests (discovery and /version are never touched, so clients can start);
the server's watch loop asks `should_drop_watch()` / `wait_dropped()` and `take_forced_gone()`.

    plan = FaultPlan(seed=1)
    plan.fail(verb="patch", resource="managedservices", code=503, retry_after=1, count=2)
    plan.fail(verb="list", code=429, retry_after=2, probability=0.1)
    plan.delay(0.05, verb="create")
    plan.force_gone_next_watch("pods")
    plan.drop_watches()
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from aiohttp import web

from tend_sim.errors import ApiError

REASONS = {
    # 422: the server refuses the object itself (a field it will not take), as it does for
    # a built object whose value overflows what the field admits.
    422: ("Invalid", "injected: the object is invalid"),
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected fault"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted"),
}


class Target(NamedTuple):
    """What a request does: verb (get, list, watch, create, update, patch, delete,
    deletecollection) on a resource (plural), with an optional subresource."""

    verb: str
    resource: str
    subresource: str | None = None


@dataclass
class FaultRule:
    """Answer matching requests with `code` (and Retry-After), `count` times at most."""

    verb: str | None = None
    resource: str | None = None
    code: int = 500
    retry_after: int | None = None
    probability: float = 1.0
    count: int | None = None
    fired: int = 0

    def matches(self, target: Target) -> bool:
        return (self.verb is None or self.verb == target.verb) and (
            self.resource is None or self.resource == target.resource
        )

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count


@dataclass
class Latency:
    seconds: float
    verb: str | None = None
    resource: str | None = None

    def matches(self, target: Target) -> bool:
        return (self.verb is None or self.verb == target.verb) and (
            self.resource is None or self.resource == target.resource
        )


@dataclass
class FaultPlan:
    seed: int = 0
    rules: list[FaultRule] = field(default_factory=list)
    latencies: list[Latency] = field(default_factory=list)
    injected: Counter[tuple[str, str, int]] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._drop_generation = 0
        self._dropped: asyncio.Event | None = None
        self._gone: Counter[str] = Counter()

    # --- configuration ---------------------------------------------------------------------------

    def fail(
        self,
        *,
        verb: str | None = None,
        resource: str | None = None,
        code: int = 500,
        retry_after: int | None = None,
        probability: float = 1.0,
        count: int | None = None,
    ) -> FaultRule:
        if code not in REASONS:
            raise ValueError(f"unsupported fault code {code}; use one of {sorted(REASONS)}")
        rule = FaultRule(verb, resource, code, retry_after, probability, count)
        self.rules.append(rule)
        return rule

    def delay(
        self, seconds: float, *, verb: str | None = None, resource: str | None = None
    ) -> None:
        self.latencies.append(Latency(seconds, verb, resource))

    def clear(self) -> None:
        """Remove every error rule and latency (forced 410s and drops already asked stay)."""
        self.rules.clear()
        self.latencies.clear()

    # --- decisions -------------------------------------------------------------------------------

    def error_for(self, target: Target) -> ApiError | None:
        """The injected error for this request, if a rule fires (counts it)."""
        for rule in self.rules:
            if rule.exhausted or not rule.matches(target):
                continue
            if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                continue
            rule.fired += 1
            self.injected[(target.verb, target.resource, rule.code)] += 1
            reason, message = REASONS[rule.code]
            return ApiError(rule.code, reason, message, retry_after=rule.retry_after)
        return None

    def latency_for(self, target: Target) -> float:
        return sum(lat.seconds for lat in self.latencies if lat.matches(target))

    # --- watches ---------------------------------------------------------------------------------

    @property
    def watch_generation(self) -> int:
        """Remember this when a watch starts; pass it to should_drop_watch / wait_dropped."""
        return self._drop_generation

    def drop_watches(self) -> None:
        """The server closes every watch stream open now (clients see a clean end of stream)."""
        self._drop_generation += 1
        if self._dropped is not None:
            self._dropped.set()
            self._dropped = None

    def should_drop_watch(self, generation: int) -> bool:
        return generation < self._drop_generation

    async def wait_dropped(self, generation: int) -> None:
        """Return once drop_watches() has been called after `generation` was taken."""
        while not self.should_drop_watch(generation):
            if self._dropped is None:
                self._dropped = asyncio.Event()
            await self._dropped.wait()

    def force_gone_next_watch(self, resource: str, times: int = 1) -> None:
        """The next `times` watch requests on `resource` get 410 Gone (resourceVersion too old)."""
        self._gone[resource] += times

    def take_forced_gone(self, resource: str) -> bool:
        if self._gone[resource] > 0:
            self._gone[resource] -= 1
            return True
        return False


# --- request parsing and middleware --------------------------------------------------------------


def parse_target(method: str, path: str, query: dict[str, str]) -> Target | None:
    """Verb and resource of a Kubernetes API request; None for discovery and non-API paths."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        rest = parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        rest = parts[3:]
    else:
        return None
    namespace_itself = len(rest) == 2 or (len(rest) == 3 and rest[2] in ("status", "finalize"))
    if len(rest) >= 2 and rest[0] == "namespaces" and not namespace_itself:
        rest = rest[2:]
    if not rest:
        return None
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    method = method.upper()
    if method == "GET":
        watching = query.get("watch") in ("true", "1")
        verb = "watch" if watching else ("get" if name else "list")
    elif method == "POST":
        verb = "create"
    elif method == "PUT":
        verb = "update"
    elif method == "PATCH":
        verb = "patch"
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        return None
    return Target(verb, resource, subresource)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def middleware(plan: FaultPlan) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """aiohttp middleware applying the plan's latency and error rules."""

    @web.middleware
    async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not plan.rules and not plan.latencies:  # nothing to inject: no parsing either
            return await handler(request)
        target = parse_target(request.method, request.path, dict(request.query))
        if target is None:
            return await handler(request)
        delay = plan.latency_for(target)
        if delay > 0:
            await asyncio.sleep(delay)
        error = plan.error_for(target)
        if error is None:
            return await handler(request)
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
        return web.json_response(error.to_status(), status=error.code, headers=headers)

    return faults
