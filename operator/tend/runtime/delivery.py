"""Delivering the outbox: one lane per receiver, retries, and the report back.

The controller submits every outbox entry that status has recorded (`submit`; the same id
twice is one delivery) and learns of each delivery through `on_delivered`, after which the
next status patch drops the entry. So:
- **nothing is lost**: a receiver that is down keeps its entries in status, retried with
  exponential back-off (1 s doubling to 60 s, +-20 % jitter; a 429's or 503's Retry-After
  is honoured) for as long as it takes, and after an operator restart status still has them;
- **nothing is doubled** but across kill -9 between a delivery and its record, where the
  receivers' dedup keys take over (see `tend.runtime.receivers`);
- **nobody waits**: each receiver has its own lane (a queue and up to `IN_FLIGHT`
  deliveries at once, of different incidents; one at a time for Slack, which takes one
  message a second), one incident's notifications in decision order (a trigger before its
  resolve); a slow or dead receiver holds up only its own lane, never another receiver or a
  reconcile, and a slow one holds up eight incidents at a time, not all.

A receiver that refuses for good (4xx other than 408/429, an unknown receiver name) gets
the entry dropped with a Warning Event; one that keeps failing gets a Warning Event after
`WARN_AFTER` attempts and is retried on.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from tend.api.config import Receiver, ReceiverType
from tend.logic.notifications import Message
from tend.logic.ownership import Key
from tend.runtime.metrics import Metrics
from tend.runtime.receivers import (
    AlertmanagerSender,
    Credentials,
    DeliveryError,
    Sender,
    sender_for,
)

log = logging.getLogger("tend.delivery")

BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
RETRY_AFTER_CAP = 300.0
WARN_AFTER = 3  # failed attempts of one notification before a Warning Event
IN_FLIGHT = 8  # deliveries at once per receiver (of different incidents; Slack: 1)


@dataclass
class Outcome:
    """What became of one notification, for the controller."""

    owner: Key
    message: Message
    delivered: bool  # False: given up on (refused for good)
    error: str = ""


@dataclass
class _Lane:
    sender: Sender
    queue: deque[tuple[Key, Message]] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    busy: set[str] = field(default_factory=set)  # incident keys being delivered now
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    resender: asyncio.Task[None] | None = None

    def take(self) -> tuple[Key, Message] | None:
        """The oldest notification whose incident has none in flight (so one incident's
        trigger always goes before its resolve), or None."""
        for index, (owner, message) in enumerate(self.queue):
            if message.key not in self.busy:
                del self.queue[index]
                self.busy.add(message.key)
                return owner, message
        return None


class Dispatcher:
    """Delivers submitted notifications through the configured receivers."""

    def __init__(
        self,
        receivers: Iterable[Receiver],
        credentials: Credentials,
        *,
        on_outcome: Callable[[Outcome], None],
        on_failing: Callable[[Key, Message, str], None],
        metrics: Metrics | None = None,
        now: Callable[[], datetime] | None = None,
        senders: dict[str, Sender] | None = None,
    ) -> None:
        self.on_outcome = on_outcome
        self.on_failing = on_failing
        self.metrics = metrics
        self._lanes = {
            r.name: _Lane((senders or {}).get(r.name) or sender_for(r, credentials, now))
            for r in receivers
        }
        self._pending: set[tuple[str, str]] = set()  # (receiver, id) queued or in flight

    @property
    def receivers(self) -> list[str]:
        return list(self._lanes)

    def start(self) -> None:
        for name, lane in self._lanes.items():
            # Slack takes one message a second per webhook: one at a time there.
            width = 1 if lane.sender.receiver.type == ReceiverType.SLACK else IN_FLIGHT
            while len(lane.tasks) < width:
                index = len(lane.tasks)
                lane.tasks.append(
                    asyncio.create_task(self._deliver(lane), name=f"tend-deliver-{name}-{index}")
                )
            if isinstance(lane.sender, AlertmanagerSender) and lane.resender is None:
                lane.resender = asyncio.create_task(
                    self._resend(lane.sender), name=f"tend-resend-{name}"
                )

    async def stop(self) -> None:
        tasks = [t for lane in self._lanes.values() for t in (*lane.tasks, lane.resender) if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for lane in self._lanes.values():
            lane.tasks.clear()
            lane.resender = None
            await lane.sender.close()

    def submit(self, owner: Key, receiver: str, message: Message) -> None:
        """Deliver `message` to `receiver` (once, however often it is submitted)."""
        if (receiver, message.id) in self._pending:
            return
        lane = self._lanes.get(receiver)
        if lane is None:
            known = ", ".join(self._lanes) or "none"
            error = f"receiver {receiver!r} is not configured (configured: {known})"
            self._count(receiver, message, "failed")
            self.on_outcome(Outcome(owner, message, delivered=False, error=error))
            return
        self._pending.add((receiver, message.id))
        lane.queue.append((owner, message))
        lane.ready.set()

    def track(self, key: str, receivers: Iterable[str], message: Message | None) -> None:
        """Alertmanager receivers re-send what is firing: `message` while the incident with
        `key` fires (to those of `receivers` that are Alertmanagers), None once it is not."""
        wanted = set(receivers) if message is not None else set()
        for name, lane in self._lanes.items():
            if isinstance(lane.sender, AlertmanagerSender):
                lane.sender.track(key, message if name in wanted else None)

    async def _deliver(self, lane: _Lane) -> None:
        while True:
            taken = lane.take()
            while taken is None:
                lane.ready.clear()
                await lane.ready.wait()
                taken = lane.take()
            owner, message = taken
            try:
                await self._until_done(lane, owner, message)
            finally:
                lane.busy.discard(message.key)
                self._pending.discard((lane.sender.receiver.name, message.id))
                lane.ready.set()  # the incident's next notification may go now

    async def _until_done(self, lane: _Lane, owner: Key, message: Message) -> None:
        name = lane.sender.receiver.name
        failures = 0
        while True:
            try:
                await lane.sender.send(message)
            except DeliveryError as exc:
                failures += 1
                if not exc.retryable:
                    log.warning("%s refused notification %s for %s/%s: %s", name, message.id,
                                *owner, exc)  # fmt: skip
                    self._count(name, message, "failed")
                    self.on_outcome(Outcome(owner, message, delivered=False, error=str(exc)))
                    return
                self._count(name, message, "retried")
                if failures == WARN_AFTER:
                    self.on_failing(owner, message, f"{name}: {exc}")
                delay = _backoff(failures, exc.retry_after)
                log.info("delivery to %s failed (%s); retrying in %.1fs", name, exc, delay)
                await asyncio.sleep(delay)
                continue
            self._count(name, message, "sent")
            self.on_outcome(Outcome(owner, message, delivered=True))
            return

    async def _resend(self, sender: AlertmanagerSender) -> None:
        while True:
            await asyncio.sleep(sender.interval)
            try:
                await sender.resend()
            except DeliveryError as exc:
                log.info("re-sending firing alerts to %s failed: %s", sender.receiver.name, exc)

    def _count(self, receiver: str, message: Message, result: str) -> None:
        if self.metrics is not None:
            self.metrics.alerts.labels(receiver, message.severity or "none", result).inc()


def _backoff(failures: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(retry_after, RETRY_AFTER_CAP)
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (failures - 1))
    return float(delay * random.uniform(0.8, 1.2))  # jitter, not cryptography
