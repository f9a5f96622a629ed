"""LIST, then WATCH from the LIST's resourceVersion: one kind kept current, like client-go's
reflector (tools/cache/reflector.go), without kopf.

tend watches its pods this way rather than through kopf because kopf gives every watched
object a worker that holds its whole body for seconds after each event, and its initial
listing holds every body at once: at 20,000 pods that was +40 % operator memory
(bench/README.md). Here each object is handed to `observe` as it arrives and dropped; a LIST
is read one page at a time.

What it does, as the reflector does:
- `list()` reads a paginated LIST, feeds every item to `observe(None, item)`, then calls
  `relisted(seen)` with the (namespace, name, uid) of every item, so the cache can forget
  what was deleted while nobody watched (client-go's `Replace`). It returns the snapshot's
  resourceVersion.
- `run()` watches from there with bookmarks, resuming from the last resourceVersion seen
  when the server ends a watch or the connection drops; on 410 Expired (the version has
  left the server's history) it lists again. Errors back off as `tend.runtime.backoff`
  says (0.5 s doubling to 30 s, jittered) and never end the loop: a brown-out of any
  length costs a relist, not the process. Only cancellation stops it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from tend.runtime.backoff import Backoff
from tend.runtime.kube import Kube, KubeError

log = logging.getLogger("tend.reflector")

Identity = tuple[str, str, str]  # (namespace, name, uid)
EXPIRED = 410
SHORT_WATCH = 1.0  # seconds


class Reflector:
    """Keeps `observe` fed with one kind's objects (in one namespace, or all)."""

    def __init__(
        self,
        kube: Kube,
        kind: str,
        namespace: str | None,
        *,
        observe: Callable[[str | None, Mapping[str, Any]], None],
        relisted: Callable[[set[Identity]], None],
        label_selector: str | None = None,
        timeout_seconds: int = 300,
        on_error: Callable[[str, int | None], None] | None = None,
    ) -> None:
        self.kube = kube
        self.kind = kind
        self.namespace = namespace
        self.observe = observe
        self.relisted = relisted
        self.label_selector = label_selector
        self.timeout_seconds = timeout_seconds
        self.on_error = on_error  # told (kind, HTTP code or None) of every failed watch/list
        self.resource_version = ""
        self.lists = 0  # LISTs done, the first included (for tests)

    async def list(self) -> str:
        """One paginated LIST into the cache; returns (and resumes from) its resourceVersion."""
        seen: set[Identity] = set()
        version = ""
        async for page in self.kube.list_pages(
            self.kind, self.namespace, label_selector=self.label_selector
        ):
            for item in page.items:
                meta = item.get("metadata") or {}
                namespace = meta.get("namespace") or "default"
                seen.add((namespace, meta.get("name") or "", meta.get("uid") or ""))
                self.observe(None, item)
            version = page.resource_version
        self.relisted(seen)
        self.resource_version = version
        self.lists += 1
        return version

    async def run(self) -> None:
        """Watch forever (until cancelled), listing again whenever the watch cannot resume."""
        delays = iter(Backoff())
        while True:
            try:
                if not self.resource_version:
                    await self.list()
                started = asyncio.get_running_loop().time()
                events = await self._watch()
                if not events and asyncio.get_running_loop().time() - started < SHORT_WATCH:
                    # Ended at once with nothing: back off rather than hammer the server
                    # (client-go's "very short watch").
                    raise KubeError(0, "ShortWatch", "the watch ended at once without events")
                delays = iter(Backoff())
            except KubeError as exc:
                if self.on_error is not None:
                    self.on_error(self.kind, exc.status or None)
                if exc.status == EXPIRED:
                    log.info("%s watch expired at %s; listing again", self.kind, exc.message)
                    self.resource_version = ""
                    continue
                delay = next(delays)
                log.info("%s watch failed (%s); retrying in %.1fs", self.kind, exc, delay)
                await asyncio.sleep(delay)

    async def _watch(self) -> int:
        """One watch until the server ends it; returns how many events it brought."""
        events = 0
        async for type_, obj in self.kube.watch(
            self.kind,
            self.namespace,
            resource_version=self.resource_version,
            label_selector=self.label_selector,
            timeout_seconds=self.timeout_seconds,
        ):
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if type_ != "BOOKMARK":
                self.observe(type_, obj)
            if version:
                self.resource_version = str(version)
            events += 1
        return events
