"""Watches: the events a write produces and the per-client queues that deliver them."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from tend_sim.objects import Obj
from tend_sim.resources import ResourceType
from tend_sim.selectors import FieldRequirement, Requirement, fields_match, labels_match

if TYPE_CHECKING:
    from tend_sim.store import Entry, Store


class WatchEvent:
    """One change: type ADDED/MODIFIED/DELETED, the new object (the last state for DELETED)."""

    __slots__ = ("entry", "old", "rv", "type")

    def __init__(self, type_: str, entry: Entry, old: Obj | None, rv: int) -> None:
        self.type = type_
        self.entry = entry
        self.old = old
        self.rv = rv

    @property
    def obj(self) -> Obj:
        return self.entry.obj

    def line(self, type_: str | None = None) -> bytes:
        """`{"type":..,"object":..}\\n` around the entry's cached encoding. Not kept: the events
        the watch cache holds would each keep a second copy of their object's JSON."""
        t = type_ or self.type
        return b'{"type":"' + t.encode() + b'","object":' + self.entry.raw() + b"}\n"


class Watch:
    """A watch on one resource: an async iterator of (type, object copy).

    The HTTP layer uses `next_event()` to get shared WatchEvents without copying.
    """

    MAX_PENDING = 100_000

    def __init__(
        self,
        store: Store,
        rt: ResourceType,
        namespace: str | None,
        labels: tuple[Requirement, ...],
        fields: tuple[FieldRequirement, ...],
    ) -> None:
        self.store = store
        self.rt = rt
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.closed = False
        self.overflowed = False
        self.last_rv = 0
        # Events at or below this resourceVersion are not sent: a watch from a future version
        # starts after it, like the cacheWatcher's filter.
        self.since = 0
        self._pending: deque[tuple[str, WatchEvent]] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def _match(self, obj: Obj | None) -> bool:
        if obj is None:
            return False
        meta = obj["metadata"]
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if self.labels and not labels_match(self.labels, obj):
            return False
        return not (self.fields and not fields_match(self.fields, obj))

    def offer(self, ev: WatchEvent) -> None:
        """Called synchronously by the store for every change of this resource."""
        if self.closed or ev.rv <= self.since:
            return
        if ev.type == "MODIFIED" and (self.labels or self.fields or self.namespace is not None):
            now, before = self._match(ev.obj), self._match(ev.old)
            if now and before:
                kind = "MODIFIED"
            elif now:
                kind = "ADDED"
            elif before:
                kind = "DELETED"
            else:
                return
        else:
            if not self._match(ev.obj):
                return
            kind = ev.type
        self._push(kind, ev)

    def _push(self, kind: str, ev: WatchEvent) -> None:
        if len(self._pending) >= self.MAX_PENDING:
            self.overflowed = True
            self.close()
            return
        self._pending.append((kind, ev))
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.store._unregister(self)
            self._wake()

    def pending(self) -> int:
        return len(self._pending)

    async def next_event(self, max_wait: float | None = None) -> tuple[str, WatchEvent] | None:
        """The next (type, event); None when closed or after `max_wait` seconds without one."""
        while not self._pending:
            if self.closed:
                return None
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            try:
                if max_wait is None:
                    await self._waiter
                else:
                    try:
                        await asyncio.wait_for(self._waiter, max_wait)
                    except TimeoutError:
                        return None
            finally:
                self._waiter = None
        kind, ev = self._pending.popleft()
        if ev.rv > self.last_rv:
            self.last_rv = ev.rv
        return kind, ev

    def __aiter__(self) -> AsyncIterator[tuple[str, Obj]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[tuple[str, Obj]]:
        try:
            while True:
                item = await self.next_event()
                if item is None:
                    return
                kind, ev = item
                yield kind, self.store._out(self.rt, ev.obj)
        finally:
            self.close()

    async def __aenter__(self) -> Watch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
