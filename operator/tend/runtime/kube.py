"""The one module that talks to the Kubernetes API (reads, writes, status, Events).

Objects go in and out as plain dicts; the kubernetes_asyncio client supplies the
configuration (kubeconfig, in-cluster service account) and the transport. Errors
become `KubeError` with the API's status code and reason, so callers can tell
AlreadyExists from Conflict from NotFound without parsing text.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import os
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.client.exceptions import ApiException

from tend.api import GROUP, PLURAL, VERSION

Object = dict[str, Any]
log = logging.getLogger("tend.kube")
# kubernetes_asyncio logs every response body at debug: Secrets (receivers' credentials)
# included. Nothing read from the API is logged, at any level.
logging.getLogger("kubernetes_asyncio.client.rest").setLevel(logging.INFO)

COMPONENT = "tend"
# The Kubernetes verb of a request by its method (GETs say which: get or list).
VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
EVENT_CACHE_SIZE = 4096  # client-go's maxLruCacheEntries
SIMILAR_LIMIT = 10  # client-go's defaultAggregateMaxEvents ...
SIMILAR_WINDOW = timedelta(minutes=10)  # ... within defaultAggregateIntervalInSeconds


@dataclass(frozen=True)
class Kind:
    api_version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None, name: str | None = None, sub: str | None = None) -> str:
        group_path = "/api/v1" if "/" not in self.api_version else f"/apis/{self.api_version}"
        parts = [group_path]
        if self.namespaced and namespace is not None:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name is not None:
            parts.append(name)
        if sub is not None:
            parts.append(sub)
        return "/".join(parts)


KINDS: dict[str, Kind] = {
    "ManagedService": Kind(f"{GROUP}/{VERSION}", PLURAL),
    "Deployment": Kind("apps/v1", "deployments"),
    "Job": Kind("batch/v1", "jobs"),
    "Service": Kind("v1", "services"),
    "PodDisruptionBudget": Kind("policy/v1", "poddisruptionbudgets"),
    "Secret": Kind("v1", "secrets"),
    "ConfigMap": Kind("v1", "configmaps"),
    "Event": Kind("v1", "events"),
    "Pod": Kind("v1", "pods"),
    "EndpointSlice": Kind("discovery.k8s.io/v1", "endpointslices"),
    "Namespace": Kind("v1", "namespaces", namespaced=False),
    "KopfPeering": Kind("kopf.dev/v1", "kopfpeerings"),
    "ClusterKopfPeering": Kind("kopf.dev/v1", "clusterkopfpeerings", namespaced=False),
    "CustomResourceDefinition": Kind(
        "apiextensions.k8s.io/v1", "customresourcedefinitions", namespaced=False
    ),
}


@dataclass(frozen=True)
class Page:
    """One page of a LIST: its items, and the resourceVersion of the LIST's snapshot."""

    items: list[Object]
    resource_version: str


class KubeError(Exception):
    """An API error: `status` is the HTTP code, `reason` the Status reason."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @classmethod
    def from_exception(cls, exc: ApiException) -> KubeError:
        reason, message = str(exc.reason or ""), str(exc.body or "")
        try:
            body = json.loads(exc.body) if exc.body else {}
            reason = body.get("reason") or reason
            message = body.get("message") or message
        except (TypeError, ValueError):
            pass
        return cls(int(exc.status or 0), reason, message)


def _status_error(status: int, text: str) -> KubeError:
    """A refused request's error from its body (a Status, when the server sent one)."""
    try:
        body = json.loads(text)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return KubeError(status, str(body.get("reason") or ""), str(body.get("message") or text))


async def load_client(kubeconfig: Path | None = None, context: str | None = None) -> k8s.ApiClient:
    """An API client from a kubeconfig, $KUBECONFIG, or the in-cluster service account."""
    configuration = k8s.Configuration()
    if (
        kubeconfig is None
        and "KUBECONFIG" not in os.environ
        and os.environ.get("KUBERNETES_SERVICE_HOST")
    ):
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        await k8s_config.load_kube_config(
            config_file=str(kubeconfig) if kubeconfig else None,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    if not configuration.proxy:
        configuration.proxy = _proxy_from_env(str(configuration.host))
    api = k8s.ApiClient(configuration=configuration)
    # kubernetes_asyncio builds its aiohttp session with trust_env=True, which makes aiohttp
    # read the proxy variables and parse ~/.netrc in a thread pool on every request (a fifth
    # of the operator's CPU under load). The environment was read once above; keep the pool.
    session = api.rest_client.pool_manager
    connector = session.connector
    session.detach()
    api.rest_client.pool_manager = aiohttp.ClientSession(
        connector=connector,
        trust_env=False,
        read_bufsize=2**21,  # as kubernetes_asyncio's: watch lines can carry large objects
    )
    return api


def _proxy_from_env(host: str) -> str | None:
    """The proxy that HTTPS_PROXY/HTTP_PROXY/NO_PROXY name for the API server, as kubectl
    would use it, or None."""
    url = urllib.parse.urlsplit(host)
    proxy = urllib.request.getproxies().get(url.scheme)
    if not proxy or urllib.request.proxy_bypass(url.hostname or ""):
        return None
    return proxy


class Kube:
    """Reads and writes of the kinds tend owns, Events, and ManagedService status."""

    def __init__(
        self,
        api: k8s.ApiClient,
        *,
        instance: str = "tend",
        on_request: Callable[[str, int | None], None] | None = None,
    ) -> None:
        self.api = api
        self.instance = instance
        # Told (verb, HTTP code or None for no answer) after every request: the metrics.
        self.on_request = on_request
        # Whether the API server answers: the last request had an answer that was not an
        # overload or server error. `/readyz` reports it; a change is logged once.
        self.reachable = True
        # client-go's EventCorrelator (an LRU of 4096 each, as there): the Event posted per
        # (object, type, reason, message), so an exact repeat bumps its count; and when each
        # (object, type, reason) was seen, to combine similar ones past 10 in 10 minutes.
        self._posted: collections.OrderedDict[tuple[str, ...], tuple[str, int]] = (
            collections.OrderedDict()
        )
        self._similar: collections.OrderedDict[tuple[str, ...], list[datetime]] = (
            collections.OrderedDict()
        )

    @classmethod
    async def connect(
        cls,
        kubeconfig: Path | None = None,
        context: str | None = None,
        *,
        on_request: Callable[[str, int | None], None] | None = None,
        instance: str = "tend",
    ) -> Kube:
        return cls(await load_client(kubeconfig, context), instance=instance, on_request=on_request)

    async def close(self) -> None:
        await self.api.close()

    @property
    def host(self) -> str:
        return str(self.api.configuration.host)

    async def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        verb: str | None = None,
    ) -> Object:
        code: int | None = None
        try:
            result, code, _ = await self.api.call_api(
                path,
                method,
                query_params=list((query or {}).items()),
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                auth_settings=["BearerToken"],
                response_types_map={200: "object", 201: "object", 202: "object"},
                _return_http_data_only=False,
            )
        except ApiException as exc:
            code = int(exc.status or 0) or None
            raise KubeError.from_exception(exc) from exc
        except aiohttp.ClientError as exc:
            raise KubeError(0, "ConnectionError", f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._answered(verb or VERBS.get(method, "get"), code)
        return dict(result or {})

    def _answered(self, verb: str, code: int | None) -> None:
        if self.on_request is not None:
            self.on_request(verb, code)
        reachable = code is not None and code != 429 and code < 500
        if reachable != self.reachable:
            self.reachable = reachable
            if reachable:
                log.warning("the API server at %s answers again", self.host)
            else:
                log.warning("the API server at %s does not answer (%s); retrying", self.host,
                            code or "no connection")  # fmt: skip

    async def get(self, kind: str, namespace: str | None, name: str) -> Object | None:
        """The object, or None when it does not exist."""
        try:
            return await self._call("GET", KINDS[kind].path(namespace, name))
        except KubeError as exc:
            if exc.not_found:
                return None
            raise

    async def list(
        self, kind: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[Object]:
        """Every object of `kind` (in `namespace`, or everywhere), following `continue`."""
        items: list[Object] = []
        async for page in self.list_pages(kind, namespace, label_selector=label_selector):
            items += page.items
        return items

    async def list_pages(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        limit: int = 500,
    ) -> AsyncIterator[Page]:
        """The LIST of `kind` one page (`limit` items) at a time, so a caller that keeps
        only some fields of each object never holds every whole body at once. Every page
        of one LIST is the same snapshot; its resourceVersion is where a watch resumes."""
        query: dict[str, str] = {"limit": str(limit)}
        if label_selector:
            query["labelSelector"] = label_selector
        while True:
            page = await self._call("GET", KINDS[kind].path(namespace), query=query, verb="list")
            items = page.get("items") or []
            for item in items:
                item.setdefault("kind", kind)
                item.setdefault("apiVersion", KINDS[kind].api_version)
            meta = page.get("metadata") or {}
            yield Page(items, str(meta.get("resourceVersion") or ""))
            token = meta.get("continue")
            if not token:
                return
            query["continue"] = token

    async def watch(
        self,
        kind: str,
        namespace: str | None,
        *,
        resource_version: str,
        label_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncIterator[tuple[str, Object]]:
        """The changes to `kind` after `resource_version`, as (type, object), until the
        server ends the watch (after `timeout_seconds`). BOOKMARK events carry only a newer
        resourceVersion. An ERROR event (410 Expired: the version is older than the
        server's history) is raised as `KubeError`, as is a refused request."""
        query = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if label_selector:
            query["labelSelector"] = label_selector
        code: int | None = None
        try:
            response = await self.api.call_api(
                KINDS[kind].path(namespace),
                "GET",
                query_params=list(query.items()),
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                # A silent connection is noticed: the server ends every watch by the deadline.
                _request_timeout=aiohttp.ClientTimeout(sock_read=timeout_seconds + 30),
            )
            code = response.status
        except ApiException as exc:
            code = int(exc.status or 0) or None
            raise KubeError.from_exception(exc) from exc
        except aiohttp.ClientError as exc:
            raise KubeError(0, "ConnectionError", str(exc)) from exc
        finally:
            self._answered("watch", code)
        async with response:
            if response.status != 200:
                text = (await response.read()).decode(errors="replace")
                raise _status_error(response.status, text or str(response.reason or ""))
            try:
                async for line in response.content:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    type_, obj = str(event.get("type") or ""), event.get("object") or {}
                    if type_ == "ERROR":
                        raise KubeError(
                            int(obj.get("code") or 500),
                            str(obj.get("reason") or ""),
                            str(obj.get("message") or ""),
                        )
                    obj.setdefault("kind", kind)
                    obj.setdefault("apiVersion", KINDS[kind].api_version)
                    yield type_, obj
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise KubeError(0, "ConnectionError", str(exc) or type(exc).__name__) from exc

    async def create_or_replace(self, obj: Mapping[str, Any]) -> Object:
        """Create, or replace what exists: for installing manifests (the demo, tests). Not
        `kubectl apply`: no three-way merge; what the live object has beyond `obj` is lost."""
        try:
            return await self.create(obj)
        except KubeError as exc:
            if exc.status != 409:
                raise
        meta = obj["metadata"]
        live = await self.get(obj["kind"], meta.get("namespace"), meta["name"])
        body = {
            **obj,
            "metadata": {
                **meta,
                "resourceVersion": (live or {}).get("metadata", {}).get("resourceVersion"),
            },
        }
        return await self.replace(body)

    async def create(self, obj: Mapping[str, Any]) -> Object:
        meta = obj["metadata"]
        return await self._call("POST", KINDS[obj["kind"]].path(meta.get("namespace")), dict(obj))

    async def replace(self, obj: Mapping[str, Any]) -> Object:
        """PUT; the body's resourceVersion makes a stale write fail with 409 Conflict."""
        meta = obj["metadata"]
        path = KINDS[obj["kind"]].path(meta.get("namespace"), meta["name"])
        return await self._call("PUT", path, dict(obj))

    async def delete(
        self,
        kind: str,
        namespace: str | None,
        name: str,
        *,
        resource_version: str | None = None,
        propagation: str = "Background",
    ) -> None:
        body: Object = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": propagation,
        }
        if resource_version:
            body["preconditions"] = {"resourceVersion": resource_version}
        try:
            await self._call("DELETE", KINDS[kind].path(namespace, name), body)
        except KubeError as exc:
            if not exc.not_found:
                raise

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> Object:
        """Merge-patch the ManagedService's /status subresource."""
        path = KINDS["ManagedService"].path(namespace, name, "status")
        return await self._call(
            "PATCH", path, {"status": dict(status)}, content_type="application/merge-patch+json"
        )

    async def post_event(
        self,
        involved: Mapping[str, Any],
        *,
        type_: str,
        reason: str,
        message: str,
        now: datetime | None = None,
        once: str | None = None,
    ) -> Object:
        """Record a core/v1 Event on `involved` (shown by `kubectl describe` and `get events`).

        With `once` (an identity of the occurrence), the Event is named after it and created
        at most once: a second post of it is answered 409 AlreadyExists and is a no-op.

        Like client-go's recorder (tools/record/events_cache.go): an exact repeat bumps the
        existing Event's `count` and `lastTimestamp`, so `kubectl get events` reads
        "CrashLoop (x5 over 2m)"; past 10 similar Events (same object, type and reason,
        other messages) within 10 minutes, they are combined into one whose message starts
        "(combined from similar events): ". What this process has not posted itself (after
        a restart, or an Event that expired) starts a new one.
        """
        meta = involved.get("metadata") or {}
        when = now or datetime.now(UTC)
        stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        namespace = meta.get("namespace") or "default"
        # Event names are object names (<= 253): a 253-character ManagedService's is cut.
        prefix = str(meta.get("name") or "tend")[:200]
        if once is not None:
            digest = hashlib.sha256(once.encode()).hexdigest()[:16]
            event = self._event(involved, f"{prefix}.{digest}", type_, reason, message, stamp)
            try:
                return await self._call("POST", KINDS["Event"].path(namespace), event)
            except KubeError as exc:
                if exc.status != 409:
                    raise
                return event  # posted before: by us, before a failed status write or a kill
        similar = (str(meta.get("uid") or f"{namespace}/{meta.get('name')}"), type_, reason)
        seen = [t for t in self._similar.get(similar, []) if when - t < SIMILAR_WINDOW] + [when]
        self._similar[similar] = seen[-SIMILAR_LIMIT - 1 :]
        self._similar.move_to_end(similar)
        if len(self._similar) > EVENT_CACHE_SIZE:
            self._similar.popitem(last=False)
        if len(seen) > SIMILAR_LIMIT:
            message = f"(combined from similar events): {message}"
            key: tuple[str, ...] = (*similar, "combined")
        else:
            key = (*similar, message)
        posted = self._posted.get(key)
        if posted is not None:
            name, count = posted
            patch = {"count": count + 1, "lastTimestamp": stamp, "message": message[:1024]}
            try:
                event = await self._call(
                    "PATCH",
                    KINDS["Event"].path(namespace, name),
                    patch,
                    content_type="application/merge-patch+json",
                )
            except KubeError as exc:
                if not exc.not_found:
                    raise
            else:
                self._remember(key, name, count + 1)
                return event
        # Named like client-go's event recorder does: <object>.<hex unix nanoseconds>.
        event_name = f"{prefix}.{time.time_ns():x}"
        event = self._event(involved, event_name, type_, reason, message, stamp)
        created = await self._call("POST", KINDS["Event"].path(namespace), event)
        self._remember(key, event_name, 1)
        return created

    def _event(
        self,
        involved: Mapping[str, Any],
        name: str,
        type_: str,
        reason: str,
        message: str,
        stamp: str,
    ) -> Object:
        meta = involved.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": meta.get("name"),
                "namespace": namespace,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": type_,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self.instance,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }

    def _remember(self, key: tuple[str, ...], name: str, count: int) -> None:
        self._posted[key] = (name, count)
        self._posted.move_to_end(key)
        while len(self._posted) > EVENT_CACHE_SIZE:
            self._posted.popitem(last=False)
