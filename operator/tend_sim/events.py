"""Events as the kubelet and the controllers record them: client-go's recorder, with its
aggregation of repeats into one Event's count."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from tend_sim.clock import Clock, rfc3339
from tend_sim.errors import ApiError
from tend_sim.store import Store

log = logging.getLogger(__name__)


@dataclass
class _Bucket:
    tokens: float
    at: float


class EventRecorder:
    """core/v1 Events the way client-go's recorder writes them.

    Identical events (same source, object, type, reason and message) bump `count` and
    `lastTimestamp` of the existing Event instead of creating another; a token bucket per
    (source, object, type, reason) of 25 events refilled at one per 5 minutes drops spam,
    like the EventSourceObjectSpamFilter.
    """

    BURST = 25
    REFILL_SECONDS = 300.0

    def __init__(self, store: Store, clock: Clock, component: str, host: str | None = None) -> None:
        self.store = store
        self.clock = clock
        self.component = component
        self.host = host
        self._seen: dict[tuple[str, ...], tuple[str, str, int]] = {}
        self._buckets: dict[tuple[str, ...], _Bucket] = {}
        self._last_ns = 0

    def record(
        self,
        obj: dict[str, Any],
        type_: str,
        reason: str,
        message: str,
        *,
        field_path: str | None = None,
        at: float | None = None,
    ) -> None:
        """Record an Event about `obj` (a stored object); never raises for API errors."""
        meta = obj.get("metadata") or {}
        involved: dict[str, Any] = {
            "apiVersion": obj.get("apiVersion", "v1"),
            "kind": obj.get("kind", "Pod"),
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "uid": meta.get("uid", ""),
        }
        if meta.get("resourceVersion"):
            involved["resourceVersion"] = meta["resourceVersion"]
        if field_path:
            involved["fieldPath"] = field_path
        identity = (
            involved["apiVersion"],
            involved["kind"],
            involved["namespace"],
            involved["name"],
            involved["uid"],
        )
        moment = self.clock.monotonic() if at is None else at
        if not self._allow((*identity, type_, reason), moment):
            return
        timestamp = rfc3339(self.clock.to_datetime(moment))
        key = (*identity, field_path or "", type_, reason, message)
        namespace = involved["namespace"] or "default"
        rt = self.store.resource("events")
        try:
            seen = self._seen.get(key)
            if seen is not None:
                try:
                    event = self.store.get(rt, seen[0], seen[1])
                except ApiError as exc:
                    if exc.code != 404:
                        raise
                else:
                    event["count"] = int(event.get("count") or 1) + 1
                    event["lastTimestamp"] = timestamp
                    self.store.update(rt, event)
                    return
            name = f"{involved['name'] or 'event'}.{self._unique_ns(moment):x}"
            event = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "type": type_,
                "source": {
                    "component": self.component,
                    **({"host": self.host} if self.host else {}),
                },
                "firstTimestamp": timestamp,
                "lastTimestamp": timestamp,
                "count": 1,
                "eventTime": None,
                "reportingComponent": self.component,
                "reportingInstance": self.host or "",
            }
            self.store.create(rt, event)
            self._seen[key] = (namespace, name, 1)
        except ApiError as exc:  # e.g. the namespace is being deleted: events are best effort
            log.debug("event %s/%s dropped: %s", reason, message, exc)

    def _allow(self, key: tuple[str, ...], moment: float) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.BURST), moment)
        bucket.tokens = min(
            float(self.BURST), bucket.tokens + (moment - bucket.at) / self.REFILL_SECONDS
        )
        bucket.at = moment
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _unique_ns(self, moment: float) -> int:
        nanos = int(self.clock.to_datetime(moment).timestamp() * 1e9)
        self._last_ns = max(nanos, self._last_ns + 1)
        return self._last_ns
