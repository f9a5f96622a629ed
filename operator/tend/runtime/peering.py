"""Whether this operator is the active peer: tend's own watches obey kopf's peering too.

kopf pauses its watch-streams while a peer with a higher (or the same) priority is alive in
the KopfPeering/ClusterKopfPeering object, but it exposes that pause to nobody. tend watches
pods itself (`tend.runtime.reflector`), so a standby's controller would hear pod changes and
reconcile next to the active peer. This module reaches the same verdict from the same object,
by the rule of kopf's `process_peering_event` (kopf/_core/engines/peering.py): paused while
any other live peer (lastseen + lifetime in the future) has a priority >= ours. kopf re-touches
its own entry when a blocking peer is due to expire, so every change of the verdict comes with
a watch event.

As in kopf without `peering.mandatory`: standalone, or no peering CRD, means active.
With `mandatory` (`tend run --peering-mandatory`, what deploy/components/ha runs), as in kopf
with `settings.peering.mandatory` (kopf/_core/reactor/orchestration.py pauses every stream
while the peering CRD is missing, and starts each peering paused until it has heard from it):
a missing peering object pauses the operator, since two replicas could not tell which one is
active. kopf only waits, silently; `require()` makes it a start-up error that names the fix.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from tend.runtime.kube import Kube, KubeError
from tend.runtime.reflector import Identity, Reflector

log = logging.getLogger("tend.peering")

DEFAULT_LIFETIME = 60  # seconds, kopf's settings.peering.lifetime
CRD_RECHECK = 30.0  # seconds between looks for a peering CRD that is not installed


def paused(status: Mapping[str, Any], identity: str, priority: int, now: datetime) -> bool:
    """Whether a peering object's `status` (identity -> {priority, lifetime, lastseen})
    pauses the operator `identity` of `priority`, as kopf decides it."""
    for peer, info in status.items():
        if peer == identity or not isinstance(info, Mapping):
            continue
        try:
            lastseen = datetime.fromisoformat(str(info.get("lastseen")).replace("Z", "+00:00"))
            lifetime = int(info.get("lifetime", DEFAULT_LIFETIME))
            their_priority = int(info.get("priority", 0))
        except (TypeError, ValueError):
            continue  # kopf would not parse it either; such a peer blocks nobody
        if lastseen.tzinfo is None:
            lastseen = lastseen.replace(tzinfo=UTC)
        if lastseen + timedelta(seconds=lifetime) > now and their_priority >= priority:
            return True
    return False


class PeeringMissing(Exception):
    """Peering is mandatory, but its CRD or object is not there: nobody can tell who is active."""


class PeeringGate:
    """`active` is set while this operator may act; the controller's workers wait on it."""

    def __init__(
        self,
        kube: Kube,
        *,
        name: str,
        identity: str,
        priority: int,
        namespaces: list[str | None],
        standalone: bool,
        mandatory: bool = False,
    ) -> None:
        self.name = name
        self.mandatory = mandatory and not standalone
        self.namespaces = namespaces
        self.identity = identity
        self.priority = priority
        self.active = asyncio.Event()
        self._paused: dict[str | None, bool] = {}  # per peering object (namespace)
        self._present: set[str | None] = set()  # the namespaces whose peering object exists
        self._reported_missing = False
        self.reflectors: list[Reflector] = []
        if standalone:
            self.active.set()
            return
        for namespace in namespaces:
            kind = "ClusterKopfPeering" if namespace is None else "KopfPeering"
            self.reflectors.append(
                Reflector(
                    kube,
                    kind,
                    namespace,
                    observe=self._observe,
                    relisted=self._relisted(namespace),
                )
            )

    def _observe(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        if meta.get("name") != self.name:
            return
        namespace = meta.get("namespace")
        if event_type == "DELETED":
            self._paused.pop(namespace, None)
            self._present.discard(namespace)
        else:
            self._present.add(namespace)
            now = datetime.now(UTC)
            self._paused[namespace] = paused(
                body.get("status") or {}, self.identity, self.priority, now
            )
        self._decide()

    def _relisted(self, namespace: str | None) -> Any:
        def relisted(listed: set[Identity]) -> None:
            if not any(name == self.name for _, name, _ in listed):
                self._paused.pop(namespace, None)
                self._present.discard(namespace)
                self._decide()

        return relisted

    def _missing(self) -> list[str | None]:
        """The namespaces (None: cluster-wide) whose mandatory peering object is missing."""
        if not self.mandatory:
            return []
        return [namespace for namespace in self.namespaces if namespace not in self._present]

    def _decide(self) -> None:
        missing = bool(self._missing())
        if missing:
            self.active.clear()
            if not self._reported_missing:
                log.error("%s: pausing until it exists", self._describe_missing())
        elif any(self._paused.values()):
            if self.active.is_set():
                log.info("another tend with priority >= %d is active: pausing", self.priority)
            self.active.clear()
        else:
            if not self.active.is_set() and (self._paused or self._reported_missing):
                log.info("no other active tend: resuming")
            self.active.set()
        self._reported_missing = missing

    def _describe_missing(self) -> str:
        where = [
            f"ClusterKopfPeering {self.name!r}"
            if namespace is None
            else f"KopfPeering {self.name!r} in namespace {namespace!r}"
            for namespace in self._missing()
        ]
        return f"peering is mandatory but {', '.join(where)} does not exist"

    async def require(self) -> None:
        """With mandatory peering: raise `PeeringMissing`, naming what to create, unless the
        peering CRD and every peering object exist. Without it: nothing."""
        if not self.mandatory:
            return
        for reflector in self.reflectors:
            try:
                await reflector.list()
            except KubeError as exc:
                if exc.status != 404:
                    raise
                raise PeeringMissing(
                    f"peering is mandatory (--peering-mandatory) but the {reflector.kind} CRD "
                    "(kopf.dev) is not installed: kubectl apply -k deploy/peering"
                ) from None
        if self._missing():
            raise PeeringMissing(
                f"{self._describe_missing()} (--peering-mandatory): "
                "kubectl apply -k deploy/peering, or see deploy/components/namespaced"
            )

    async def prime(self) -> None:
        """The verdict before the first reconcile (a standby must not act even once)."""
        if not self.reflectors:
            return
        for reflector in self.reflectors:
            await self._list(reflector)
        self._decide()

    async def run(self, reflector: Reflector) -> None:
        while not reflector.resource_version:
            await asyncio.sleep(CRD_RECHECK)
            await self._list(reflector)
        await reflector.run()

    async def _list(self, reflector: Reflector) -> None:
        try:
            await reflector.list()
        except KubeError as exc:
            if exc.status != 404:
                raise
            # No peering CRD: kopf runs unpeered, and so do we (look again later).
            self._decide()
