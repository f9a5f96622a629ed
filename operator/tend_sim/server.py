"""The simulated API server over HTTP (aiohttp): discovery, OpenAPI, CRUD, watch, Tables.

Routing is done by hand from the URL path (`/api/v1/namespaces/{ns}/{resource}/{name}/{sub}`,
`/apis/{group}/{version}/...`) so every request takes the same short path to the store. Responses
reuse each stored object's cached JSON encoding; watch events are encoded once and shared by all
watchers.

Content negotiation (negotiation.py) follows kube-apiserver: a body without Content-Type is JSON,
Accept picks JSON, YAML, a Table or PartialObjectMetadata or answers 406, `?pretty` and human
User-Agents get indented JSON. Bodies over 3 MiB are 413, objects over etcd's 1.5 MiB are 500 with
etcd's message; Warning headers are quoted like apimachinery's. Health endpoints: health.py.

Protobuf request bodies are decoded for every built-in kind served (protobuf.py). Server-side
apply (PATCH application/apply-patch+yaml) and managedFields are store.py's and
managed_fields.py's; apply through /scale and application/apply-patch+cbor answer 415.

Not simulated: protobuf responses (always JSON), aggregated discovery (clients fall back to the
legacy documents), the upgraded connections of pods/exec, attach and portforward (404: no process
runs in a simulated container), metrics.k8s.io, client certificates, OIDC and webhook
authentication, the Node and webhook authorizers. OpenAPI documents carry the built-in kinds'
schemas (kube-apiserver's, shipped by kubernetes-validate) and the CRDs'.
operator/tend_sim/README.md lists where the HTTP surface still differs.

With auth on (authn.py, authz.py), one step before routing authenticates the request, applies
impersonation headers and asks RBAC, as kube-apiserver's filter chain does; with auth off (the
default) that step is one attribute test. The review kinds (reviews.py) are answered, not stored.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import json
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import yaml
from aiohttp import web

from tend_sim import errors, list_options, reviews
from tend_sim.authn import ADMIN, Auth
from tend_sim.authz import UserInfo, forbidden, request_attributes
from tend_sim.bodies import (
    content_type,
    decode_json,
    finite_float,
    read_body,
    refuse_constant,
    too_deep,
    without_lone_surrogates,
)
from tend_sim.errors import ApiError
from tend_sim.field_managers import manager_from_user_agent, validate_field_manager
from tend_sim.health import health_response
from tend_sim.logs import serve_logs
from tend_sim.negotiation import (
    PLAIN,
    Negotiated,
    negotiate,
    not_acceptable,
    reencode,
    wants_pretty,
)
from tend_sim.objects import deep_copy, get_path, set_path
from tend_sim.openapi import openapi_v2, openapi_v3
from tend_sim.patch import APPLY, JSON_PATCH, MERGE, STRATEGIC
from tend_sim.protobuf import decode_protobuf
from tend_sim.resources import ResourceType, from_storage, table_columns, table_row
from tend_sim.selectors import label_selector_from_dict
from tend_sim.store import Entry, Store, WriteOptions
from tend_sim.warning_headers import warning_headers
from tend_sim.watch import Watch, WatchEvent

log = logging.getLogger(__name__)

KUBE_VERSION = {"major": "1", "minor": "37"}
JSON = "application/json"
USER: web.RequestKey[UserInfo] = web.RequestKey("tend_sim.user", UserInfo)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Headers = Mapping[str, str] | list[tuple[str, str]] | None
NEGO = web.RequestKey("nego", Negotiated)
LEGACY_WATCH = web.RequestKey("legacy_watch", bool)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _json_response(value: Any, status: int = 200, headers: Headers = None) -> web.Response:
    return web.Response(body=_dumps(value), status=status, content_type=JSON, headers=headers)


_STREAM_ITEMS = 500  # lists longer than this are streamed, in chunks of about _STREAM_CHUNK bytes
_STREAM_CHUNK = 256 * 1024


def _decoded_json(request: web.Request, opts: WriteOptions) -> bool:
    """Whether the body came from decode_json: fresh, unaliased, keys shared (the store keeps
    it as it is; YAML may alias nodes, and Strict's duplicate check goes through json.loads)."""
    return content_type(request) == JSON and opts.field_validation != "Strict"


def _raw_response(body: bytes, status: int = 200, headers: Headers = None) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON, headers=headers)


def error_response(exc: ApiError) -> web.Response:
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return _json_response(exc.to_status(), exc.code, headers)


def _nego(request: web.Request) -> Negotiated:
    nego: Negotiated | None = request.get(NEGO)
    return nego if nego is not None else PLAIN


class Request:
    """A parsed resource request."""

    __slots__ = ("name", "namespace", "rt", "sub")

    def __init__(
        self, rt: ResourceType, namespace: str | None, name: str | None, sub: str | None
    ) -> None:
        self.rt = rt
        self.namespace = namespace
        self.name = name
        self.sub = sub


class ApiServer:
    """The HTTP face of a Store. Start with `await start()`; `url` is then set."""

    def __init__(
        self,
        store: Store,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Any = None,
        bookmark_interval: float = 60.0,
        watch_timeout: float = 1800.0,
        auth: Auth | None = None,
        ssl_context: ssl.SSLContext | None = None,
        fresh_timeout: float = 3.0,
    ) -> None:
        self.store = store
        self.ssl_context = ssl_context
        self.auth = auth if auth is not None else Auth(store)
        self.host = host
        self.port = port
        self.faults = faults
        self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        # How long a request for a future resourceVersion waits (the watch cache's blockTimeout).
        self.fresh_timeout = fresh_timeout
        self.requests: collections.Counter[tuple[str, str]] = collections.Counter()
        self._runner: web.AppRunner | None = None
        self._watches: set[Watch] = set()
        self._streams: set[asyncio.Task[Any]] = set()
        self._openapi_cache: dict[tuple[str, str], tuple[str, bytes]] = {}

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def make_app(self) -> web.Application:
        middlewares: list[Any] = []
        if self.faults is not None:
            make = _optional_attr("tend_sim.faults", "middleware")
            if make is not None:
                middlewares.append(make(self.faults))
        app = web.Application(middlewares=middlewares, client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def start(self) -> None:
        app = self.make_app()
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.host, self.port, reuse_address=True, ssl_context=self.ssl_context
        )
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop serving: open watches end (clients see the stream close), state is kept."""
        for w in list(self._watches):
            w.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- dispatch --------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        resp: web.StreamResponse
        try:
            path = request.path
            if self.auth.enabled:
                self._authorize(request, path)
            if path.startswith(("/apis", "/api/")) or path == "/api":
                resp = await self._handle_api(request, path)
            elif path in ("/version", "/version/"):  # go-restful's GET("/") under /version
                resp = self._render_value(request, self._version())
            elif path.startswith("/openapi/"):
                resp = self._openapi(request, path)
            elif path == "/debug/tend-sim/access":
                resp = _json_response([a._asdict() for a in sorted(self.auth.access)])
            else:
                health = health_response(request)
                # Paths outside the API fall through the non-API mux to Go's http.NotFound
                # (util/notfoundhandler), a plain-text 404, not a Status.
                resp = (
                    health
                    if health is not None
                    else web.Response(
                        status=404,
                        text="404 page not found\n",
                        charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"},
                    )
                )
        except ApiError as exc:
            resp = error_response(exc)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug in the simulator: say so like the API server would
            log.exception("sim API server failed on %s %s", request.method, request.path)
            resp = error_response(errors.internal(f"simulator error: {exc!r}"))
        nego: Negotiated | None = request.get(NEGO)
        if nego is not None and not nego.plain and isinstance(resp, web.Response):
            reencode(resp, nego)
        return resp

    def _render_value(self, request: web.Request, value: Any) -> web.Response:
        """A JSON document in the negotiated media type (the discovery and version docs)."""
        self._negotiate(request, stream=False)
        return _json_response(value)

    def _negotiate(self, request: web.Request, *, stream: bool, custom: bool = False) -> Negotiated:
        nego = negotiate(request.headers.get("Accept", ""), stream, custom)
        if nego is None:
            raise not_acceptable(stream)
        if not nego.pretty and wants_pretty(
            request.query_string, request.query, request.headers.get("User-Agent", "")
        ):
            nego = Negotiated(nego.media, nego.as_, True, nego.protobuf)
        request[NEGO] = nego
        return nego

    def _authorize(self, request: web.Request, path: str) -> None:
        """Authentication, impersonation and authorization, before routing (as the real
        server's filter chain: a forbidden request never learns whether its target exists)."""
        user = self.auth.authenticate(request.headers)
        request[USER] = user
        attrs = request_attributes(user, request.method, path, request.query)
        allowed, reason = self.auth.authorize(attrs)
        if not allowed:
            raise forbidden(attrs, reason)

    def _version(self) -> dict[str, str]:
        return {
            **KUBE_VERSION,
            "gitVersion": f"v{KUBE_VERSION['major']}.{KUBE_VERSION['minor']}.0-tend-sim",
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.25",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    async def _handle_api(self, request: web.Request, path: str) -> web.StreamResponse:
        parts = [p for p in path.split("/") if p]
        # The legacy watch prefix: /api/v1/watch/..., /apis/G/V/watch/... (deprecated, served).
        at = 2 if parts[0] == "api" else 3
        legacy_watch = len(parts) > at + 1 and parts[at] == "watch"
        if legacy_watch:
            del parts[at]
            request[LEGACY_WATCH] = True
        stream = legacy_watch or request.query.get("watch", "") in ("1", "true", "True")
        self._negotiate(request, stream=stream)
        if parts[0] == "api":
            if len(parts) == 1:
                return _json_response(
                    {
                        "kind": "APIVersions",
                        "versions": ["v1"],
                        "serverAddressByClientCIDRs": [
                            {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.host}:{self.port}"}
                        ],
                    }
                )
            group, version, rest = "", parts[1], parts[2:]
        else:
            if len(parts) == 1:
                return _json_response(self._group_list())
            if len(parts) == 2:
                return _json_response(self._group(parts[1]))
            group, version, rest = parts[1], parts[2], parts[3:]
        if request.method == "GET" and not rest:
            return _json_response(self._resource_list(group, version))
        if not rest:
            raise self._not_found()
        req = self._route(group, version, rest)
        return await self._dispatch(request, req)

    def _not_found(self) -> ApiError:
        return errors.ApiError(404, "NotFound", "the server could not find the requested resource")

    def _route(self, group: str, version: str, rest: list[str]) -> Request:
        reg = self.store.registry
        if len(rest) >= 3 and rest[0] == "namespaces":
            rt = reg.get(group, version, rest[2])
            if rt is not None and rt.namespaced and len(rest) <= 5:
                return Request(
                    rt,
                    rest[1],
                    rest[3] if len(rest) > 3 else None,
                    rest[4] if len(rest) > 4 else None,
                )
        rt = reg.get(group, version, rest[0])
        if rt is None or len(rest) > 3:
            raise self._not_found()
        if len(rest) == 1:
            return Request(rt, None, None, None)
        if rt.namespaced:
            raise self._not_found()
        return Request(rt, None, rest[1], rest[2] if len(rest) > 2 else None)

    async def _dispatch(self, request: web.Request, req: Request) -> web.StreamResponse:
        method = request.method
        rt = req.rt
        q = request.query
        if req.sub is not None and req.sub not in rt.subresources:
            raise self._not_found()
        resource = rt.plural if req.sub is None else f"{rt.plural}/{req.sub}"
        if rt.custom and _nego(request).protobuf:
            stream = LEGACY_WATCH in request or q.get("watch", "") in ("1", "true", "True")
            self._negotiate(request, stream=stream, custom=True)
        if LEGACY_WATCH in request and (method != "GET" or req.sub is not None):
            raise errors.method_not_allowed(
                "the server does not allow this method on the requested resource"
            )
        if req.name is None:
            if method == "GET":
                watch = LEGACY_WATCH in request or q.get("watch", "") in ("1", "true", "True")
                self.requests[("watch" if watch else "list", resource)] += 1
                self._check_verb(rt, "watch" if watch else "list", None)
                if watch:
                    return await self._watch(request, req)
                return await self._list(request, req)
            if method == "POST":
                self.requests[("create", resource)] += 1
                self._check_verb(rt, "create", None)
                if rt.virtual:
                    return await self._review(request, req)
                return await self._create(request, req)
            if method == "DELETE":
                self.requests[("deletecollection", resource)] += 1
                self._check_verb(rt, "deletecollection", None)
                return await self._delete_collection(request, req)
            raise errors.method_not_allowed(
                "the server does not allow this method on the requested resource"
            )
        verb = {
            "GET": "get",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete",
            "POST": "create",
        }.get(method)
        if verb is None:
            raise errors.method_not_allowed(
                "the server does not allow this method on the requested resource"
            )
        if (
            verb == "get"
            and req.sub is None
            and (LEGACY_WATCH in request or q.get("watch", "") in ("1", "true", "True"))
        ):
            self.requests[("watch", resource)] += 1
            return await self._watch(request, req)
        self.requests[(verb, resource)] += 1
        if req.sub in ("status", "scale", "ephemeralcontainers"):
            if verb not in ("get", "update", "patch"):
                raise errors.method_not_allowed(
                    "the server does not allow this method on the requested resource"
                )
        else:
            self._check_verb(rt, verb, req.sub)
        if req.sub == "scale":
            return await self._scale(request, req, verb)
        if req.sub == "log":
            return await self._log(request, req)
        if req.sub == "token":
            if verb != "create":
                raise errors.method_not_allowed(
                    "the server does not allow this method on the requested resource"
                )
            return await self._token_request(request, req)
        if req.sub == "eviction":
            return await self._evict(request, req)
        if req.sub == "finalize":
            if verb != "update":
                raise errors.method_not_allowed("finalize accepts PUT only")
            return await self._finalize(request, req)
        if verb == "get":
            return self._get(request, req)
        if verb == "update":
            return await self._update(request, req)
        if verb == "patch":
            return await self._patch(request, req)
        if verb == "delete":
            return await self._delete(request, req)
        raise errors.method_not_allowed(
            "the server does not allow this method on the requested resource"
        )

    def _check_verb(self, rt: ResourceType, verb: str, sub: str | None) -> None:
        if sub is None and verb not in rt.verbs:
            raise errors.method_not_allowed(
                "the server does not allow this method on the requested resource"
            )

    # -- options ---------------------------------------------------------------------------

    def _write_options(
        self, request: web.Request, warnings: list[str], options: str, *, apply: bool = False
    ) -> WriteOptions:
        q = request.query
        manager = q.get("fieldManager", "")
        validate_field_manager(manager, options, apply)
        dry = q.getall("dryRun", [])
        for d in dry:
            if d != "All":
                raise errors.bad_request(f"Invalid dry run value: {d!r}; only All is supported")
        fv = q.get("fieldValidation", "Warn") or "Warn"
        if fv not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(
                f'invalid fieldValidation directive: "{fv}"; must be Ignore, Warn or Strict'
            )
        if not manager:
            manager = manager_from_user_agent(request.headers.get("User-Agent", ""))
        return WriteOptions(
            dry_run=bool(dry), field_validation=fv, warnings=warnings, manager=manager
        )

    async def _body(self, request: web.Request, strict: bool = False, kind: str = "") -> Any:
        raw = await read_body(request)
        ctype = content_type(request)
        if ctype in ("application/yaml", APPLY):
            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                raise errors.bad_request(f"error decoding YAML: {exc}") from None
        if ctype == "application/vnd.kubernetes.protobuf":
            return decode_protobuf(raw)
        if ctype not in (JSON, MERGE, JSON_PATCH, STRATEGIC):
            raise errors.unsupported_media_type(ctype, [JSON, "application/yaml"])
        if not raw:
            raise errors.bad_request("request body is empty")
        try:
            if strict:
                return without_lone_surrogates(
                    json.loads(
                        raw,
                        object_pairs_hook=_no_duplicates,
                        parse_constant=refuse_constant,
                        parse_float=finite_float,
                    )
                )
            return decode_json(raw)
        except RecursionError:
            raise too_deep(raw, kind) from None
        except ValueError as exc:
            if isinstance(exc, _DuplicateField):
                raise errors.bad_request(f"strict decoding error: {exc}") from None
            raise errors.bad_request(f"couldn't decode the request body as JSON: {exc}") from None

    def _prepare_body(self, req: Request, body: Any, *, name_required: bool) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        meta = body.get("metadata")
        if meta is None:
            meta = body["metadata"] = {}
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be a JSON object")
        rt = req.rt
        if rt.namespaced and req.namespace is not None:
            ns = meta.get("namespace")
            if ns and ns != req.namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            meta["namespace"] = req.namespace
        if name_required and req.name is not None and meta.get("name") != req.name:
            if not meta.get("name"):
                meta["name"] = req.name
            else:
                raise errors.bad_request(
                    f"the name of the object ({meta.get('name')}) does not match the name on "
                    f"the URL ({req.name})"
                )
        return body

    # -- reads -----------------------------------------------------------------------------

    def _render_one(
        self,
        request: web.Request,
        req: Request,
        entry: Entry,
        status: int = 200,
        warnings: list[str] | None = None,
    ) -> web.Response:
        accept = _nego(request)
        headers = warning_headers(warnings or [])
        if accept.as_ == "Table":
            return _json_response(self._table(request, req.rt, [entry], None), status, headers)
        if accept.as_ == "PartialObjectMetadata":
            return _json_response(_partial(entry.obj), status, headers)
        return _raw_response(self._encode(req.rt, entry), status, headers)

    def _encode(self, rt: ResourceType, entry: Entry) -> bytes:
        if rt.converts:
            return _dumps(from_storage(rt, entry.obj))
        return entry.raw()

    def _get(self, request: web.Request, req: Request) -> web.Response:
        assert req.name is not None
        entry = self.store.get_entry(req.rt, req.namespace, req.name)
        return self._render_one(request, req, entry)

    async def _fresh(self, rv: int | None) -> None:
        """A resourceVersion the store has not reached yet: wait for it, briefly, then 504."""
        current = int(self.store.resource_version)
        if (
            rv is not None
            and rv > current
            and not await self.store.wait_for_resource_version(rv, self.fresh_timeout)
        ):
            raise list_options.too_large(rv, int(self.store.resource_version))

    async def _list(self, request: web.Request, req: Request) -> web.StreamResponse:
        q = request.query
        token = q.get("continue") or None
        opts = list_options.parse(q, watch=False, continue_=token is not None)
        if token and opts.resource_version not in ("", "0"):  # storage.ValidateListOptions
            raise errors.bad_request(
                "specifying resource version is not allowed when using continue"
            )
        rv = opts.rv
        exact: int | None = None
        if opts.match == list_options.EXACT:
            await self._fresh(rv)
            exact = rv
        elif rv:  # NotOlderThan, stated or implied: at least as fresh as rv
            await self._fresh(rv)
        limit_raw = q.get("limit")
        try:
            limit = int(limit_raw) if limit_raw else None
        except ValueError:
            raise errors.bad_request(f"invalid limit: {limit_raw}") from None
        if limit is not None and limit < 0:
            limit = None
        entries, list_rv, next_token, remaining = self.store.list_entries(
            req.rt,
            req.namespace,
            q.get("labelSelector") or None,
            q.get("fieldSelector") or None,
            limit=limit,
            continue_token=token,
            exact_rv=exact,
        )
        accept = _nego(request)
        meta: dict[str, Any] = {"resourceVersion": list_rv}
        if next_token:
            meta["continue"] = next_token
        if remaining is not None:
            meta["remainingItemCount"] = remaining
        if accept.as_ == "Table":
            return _json_response(self._table(request, req.rt, entries, meta))
        if accept.as_ == "PartialObjectMetadata":
            return _json_response(
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                    "items": [_partial(e.obj) for e in entries],
                }
            )
        rt = req.rt
        head = _dumps({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta})
        prefix = head[:-1] + b',"items":['
        if not accept.plain or len(entries) < _STREAM_ITEMS:
            body = b",".join([self._encode(rt, e) for e in entries])
            return _raw_response(b"".join((prefix, body, b"]}")))
        # A long list goes out in chunks as it is encoded (the API server streams its encoder's
        # output too), so no copy of the whole list is ever made.
        resp = web.StreamResponse(headers={"Content-Type": JSON})
        await resp.prepare(request)
        parts = [prefix]
        size = 0
        for i, e in enumerate(entries):
            raw = self._encode(rt, e)
            if i:
                parts.append(b",")
            parts.append(raw)
            size += len(raw)
            if size >= _STREAM_CHUNK:
                await resp.write(b"".join(parts))
                parts = []
                size = 0
        parts.append(b"]}")
        await resp.write(b"".join(parts))
        await resp.write_eof()
        return resp

    def _table(
        self,
        request: web.Request,
        rt: ResourceType,
        entries: list[Entry],
        meta: dict[str, Any] | None,
    ) -> dict[str, Any]:
        include = request.query.get("includeObject", "Metadata")
        now = self.store.now()
        rows = []
        for e in entries:
            row: dict[str, Any] = {"cells": table_row(rt, e.obj, now)}
            if include == "Object":
                row["object"] = e.obj
            elif include != "None":
                row["object"] = _partial(e.obj)
            rows.append(row)
        return {
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": meta or {"resourceVersion": self.store.resource_version},
            "columnDefinitions": table_columns(rt),
            "rows": rows,
        }

    # -- writes ----------------------------------------------------------------------------

    async def _create(self, request: web.Request, req: Request) -> web.Response:
        warnings: list[str] = []
        opts = self._write_options(request, warnings, "CreateOptions")
        body = self._prepare_body(
            req,
            await self._body(request, opts.field_validation == "Strict", req.rt.kind),
            name_required=False,
        )
        if req.rt.namespaced and req.namespace is None:
            raise self._not_found()
        opts.owned = _decoded_json(request, opts)
        entry = self.store.create_entry(req.rt, body, opts)
        return self._render_one(request, req, entry, 201, warnings)

    async def _update(self, request: web.Request, req: Request) -> web.Response:
        warnings: list[str] = []
        opts = self._write_options(request, warnings, "UpdateOptions")
        body = self._prepare_body(
            req,
            await self._body(request, opts.field_validation == "Strict", req.rt.kind),
            name_required=True,
        )
        existed = True
        try:
            self.store.get_entry(req.rt, req.namespace, req.name or "")
        except ApiError:
            existed = False
        opts.owned = _decoded_json(request, opts)
        entry = self.store.update_entry(req.rt, body, req.sub, opts)
        return self._render_one(request, req, entry, 200 if existed else 201, warnings)

    async def _patch(self, request: web.Request, req: Request) -> web.Response:
        warnings: list[str] = []
        ctype = content_type(request, "")
        if ctype not in (MERGE, JSON_PATCH, STRATEGIC, APPLY):
            accepted = (
                [JSON_PATCH, MERGE, APPLY]
                if req.rt.custom
                else [JSON_PATCH, MERGE, STRATEGIC, APPLY]
            )
            raise errors.unsupported_media_type(ctype, accepted)
        force = request.query.get("force")
        if force is not None and ctype != APPLY:
            raise errors.invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                [
                    errors.Cause(
                        errors.FIELD_VALUE_FORBIDDEN,
                        "Forbidden: may not be specified for non-apply patch",
                        "force",
                    )
                ],
            )
        opts = self._write_options(request, warnings, "PatchOptions", apply=ctype == APPLY)
        body = await self._body(request, opts.field_validation == "Strict", req.rt.kind)
        assert req.name is not None
        if ctype == APPLY:
            if req.rt.namespaced and req.namespace is None:
                raise self._not_found()
            entry, created = self.store.apply_entry(
                req.rt, req.namespace, req.name, body, req.sub, opts, force=_truthy(force)
            )
            return self._render_one(request, req, entry, 201 if created else 200, warnings)
        entry = self.store.patch_entry(req.rt, req.namespace, req.name, body, ctype, req.sub, opts)
        return self._render_one(request, req, entry, 200, warnings)

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        q = request.query
        opts: dict[str, Any] = {}
        raw = await read_body(request)
        if raw:
            try:
                if content_type(request) == "application/vnd.kubernetes.protobuf":
                    body = decode_protobuf(raw)  # what client-go's typed clients send
                else:
                    body = json.loads(raw)
            except ValueError as exc:
                raise errors.bad_request(f"couldn't decode DeleteOptions: {exc}") from None
            if isinstance(body, dict):
                opts.update(body)
        if "propagationPolicy" in q:
            opts["propagationPolicy"] = q["propagationPolicy"]
        if "gracePeriodSeconds" in q:
            opts["gracePeriodSeconds"] = q["gracePeriodSeconds"]
        if "orphanDependents" in q:
            opts["orphanDependents"] = q["orphanDependents"] in ("true", "1")
        if "dryRun" in q:
            opts["dryRun"] = q.getall("dryRun")
        for d in opts.get("dryRun") or []:
            if d != "All":
                raise errors.bad_request(f"Invalid dry run value: {d!r}; only All is supported")
        policy = opts.get("propagationPolicy")
        if opts.get("orphanDependents") is not None:
            if policy:
                raise errors.invalid(
                    "DeleteOptions",
                    "",
                    "",
                    [
                        errors.Cause(
                            errors.FIELD_VALUE_INVALID,
                            "Invalid value: orphanDependents and propagationPolicy cannot be "
                            "both set",
                            "propagationPolicy",
                        )
                    ],
                )
            opts["propagationPolicy"] = "Orphan" if opts["orphanDependents"] else "Background"
        grace = opts.get("gracePeriodSeconds")
        if grace is not None:
            try:
                opts["gracePeriodSeconds"] = int(grace)
            except (TypeError, ValueError):
                raise errors.bad_request(f"invalid gracePeriodSeconds: {grace}") from None
        return opts

    async def _delete(self, request: web.Request, req: Request) -> web.Response:
        opts = await self._delete_options(request)
        assert req.name is not None
        entry, deleted = self.store.delete_entry(
            req.rt,
            req.namespace,
            req.name,
            opts.get("propagationPolicy"),
            opts.get("gracePeriodSeconds"),
            opts.get("preconditions"),
            bool(opts.get("dryRun")),
        )
        rt = req.rt
        if deleted and not (rt.custom or rt.kind in ("Pod", "Namespace")):
            meta = entry.obj["metadata"]
            details: dict[str, Any] = {"name": meta["name"], "kind": rt.plural, "uid": meta["uid"]}
            if rt.group:
                details["group"] = rt.group
            return _json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": details,
                }
            )
        status = 202 if (not deleted and opts.get("orphanDependents") is False) else 200
        return self._render_one(request, req, entry, status)

    async def _delete_collection(self, request: web.Request, req: Request) -> web.Response:
        opts = await self._delete_options(request)
        q = request.query
        items = self.store.delete_collection(
            req.rt,
            req.namespace,
            q.get("labelSelector") or None,
            q.get("fieldSelector") or None,
            opts.get("propagationPolicy"),
            dry_run=bool(opts.get("dryRun")),
        )
        rt = req.rt
        return _json_response(
            {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": self.store.resource_version},
                "items": items,
            }
        )

    # -- subresources ----------------------------------------------------------------------

    def _scale_of(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        assert rt.scale is not None
        meta = obj["metadata"]
        selector: Any = None
        if rt.scale.label_selector_path:
            selector = get_path(obj, rt.scale.label_selector_path)
        if not rt.custom:
            selector = label_selector_from_dict((obj.get("spec") or {}).get("selector"))
        status: dict[str, Any] = {
            "replicas": int(get_path(obj, rt.scale.status_replicas_path) or 0)
        }
        if selector:
            status["selector"] = selector
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": int(get_path(obj, rt.scale.spec_replicas_path) or 0)},
            "status": status,
        }

    async def _scale(self, request: web.Request, req: Request, verb: str) -> web.Response:
        rt = req.rt
        assert rt.scale is not None and req.name is not None
        entry = self.store.get_entry(rt, req.namespace, req.name)
        current = self._scale_of(rt, entry.obj)
        if verb == "get":
            return _json_response(current)
        warnings: list[str] = []
        opts = self._write_options(request, warnings, "UpdateOptions")
        opts.via = "scale"
        body = await self._body(request)
        if verb == "patch":
            from tend_sim import patch as patching

            scale_rt = ResourceType("autoscaling", "v1", "Scale", "scale", "scale", True)
            body = patching.apply_patch(scale_rt, deep_copy(current), body, request.content_type)
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a Scale object")
        replicas = (body.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid(
                "Scale",
                "autoscaling",
                req.name,
                [
                    errors.Cause(
                        errors.FIELD_VALUE_INVALID,
                        f"Invalid value: {replicas}: must be greater than or equal to 0",
                        "spec.replicas",
                    )
                ],
            )
        new = deep_copy(entry.obj)
        want_rv = (body.get("metadata") or {}).get("resourceVersion")
        if want_rv:
            new["metadata"]["resourceVersion"] = want_rv
        set_path(new, rt.scale.spec_replicas_path, replicas)
        updated = self.store.update_entry(rt, new, None, opts)
        return _json_response(self._scale_of(rt, updated.obj), headers=warning_headers(warnings))

    async def _review(self, request: web.Request, req: Request) -> web.Response:
        if req.rt.namespaced and req.namespace is None:
            raise self._not_found()
        body = await self._body(request)
        user = request.get(USER, ADMIN)
        out = reviews.review(self.auth, user, req.rt.plural, req.namespace, body)
        return _json_response(out, 201)

    async def _token_request(self, request: web.Request, req: Request) -> web.Response:
        assert req.name is not None and req.namespace is not None
        body = await self._body(request)
        out = reviews.token_request(self.auth, req.namespace, req.name, body)
        return _json_response(out, 201)

    async def _log(self, request: web.Request, req: Request) -> web.StreamResponse:
        assert req.name is not None
        entry = self.store.get_entry(req.rt, req.namespace, req.name)
        return await serve_logs(request, entry.obj, self.store.pod_logs)

    async def _evict(self, request: web.Request, req: Request) -> web.Response:
        assert req.name is not None
        if request.method != "POST":
            raise errors.method_not_allowed("eviction accepts POST only")
        self.store.delete_entry(req.rt, req.namespace, req.name)
        return _json_response(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "code": 201,
            },
            201,
        )

    async def _finalize(self, request: web.Request, req: Request) -> web.Response:
        assert req.name is not None
        body = await self._body(request)
        entry = self.store.get_entry(req.rt, None, req.name)
        new = deep_copy(entry.obj)
        spec = (body.get("spec") or {}) if isinstance(body, dict) else {}
        new.setdefault("spec", {})["finalizers"] = spec.get("finalizers") or []
        updated = self.store.update_entry(req.rt, new, None, WriteOptions())
        return self._render_one(request, req, updated)

    # -- watch -----------------------------------------------------------------------------

    async def _watch(self, request: web.Request, req: Request) -> web.StreamResponse:
        q = request.query
        rt = req.rt
        opts = list_options.parse(q, watch=True, continue_="continue" in q)
        rv = opts.resource_version or None
        bookmarks = opts.allow_bookmarks
        # A watch-list (sendInitialEvents=true) starts from the current state, at least as fresh
        # as rv; sendInitialEvents=false without rv starts now (getWatchCacheResourceVersion).
        initial = bool(opts.send_initial_events)
        too_large: ApiError | None = None
        if opts.send_initial_events is not None:
            if initial:  # waitUntilWatchCacheFreshAndForceAllEvents: only for the state
                try:
                    await self._fresh(opts.rv)
                except ApiError as exc:
                    too_large = exc
                rv = None
            elif rv in (None, "0"):  # no initial state: from now (getAllEventsSinceLocked)
                rv = self.store.resource_version
        try:
            timeout = float(q.get("timeoutSeconds") or self.watch_timeout)
        except ValueError:
            raise errors.bad_request("invalid timeoutSeconds") from None
        accept = _nego(request)
        forced_gone = False
        take = getattr(self.faults, "take_forced_gone", None) if self.faults else None
        if callable(take):
            forced_gone = bool(take(rt.plural))
        name_selector = None
        if req.name is not None:
            name_selector = f"metadata.name={req.name}"
        fs = q.get("fieldSelector") or None
        if name_selector:
            fs = f"{fs},{name_selector}" if fs else name_selector
        gone: ApiError | None = None
        watch: Watch | None = None
        if too_large is not None:
            gone = too_large
        elif forced_gone:
            gone = errors.expired(f"too old resource version: {rv} ({self.store.resource_version})")
        else:
            try:
                watch = self.store.watch(rt, req.namespace, rv, q.get("labelSelector") or None, fs)
            except ApiError as exc:
                if exc.code != 410:
                    raise
                gone = exc  # the cacher's newErrWatcher: 200, then one ERROR event
        resp = web.StreamResponse(status=200, headers={"Content-Type": JSON})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        if gone is not None:
            await resp.write(_dumps({"type": "ERROR", "object": gone.to_status()}) + b"\n")
            await resp.write_eof()
            return resp
        assert watch is not None
        self._watches.add(watch)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        interval = max(self.bookmark_interval, 0.01)
        next_bookmark = loop.time() + interval
        dropper: asyncio.Task[None] | None = None
        if self.faults is not None and hasattr(self.faults, "wait_dropped"):
            dropper = asyncio.create_task(
                self._close_when_dropped(watch, self.faults.watch_generation)
            )
        table = accept.as_ == "Table"
        try:
            if initial:
                chunks = []
                while watch.pending():
                    item = await watch.next_event(0)
                    if item is None:
                        break
                    chunks.append(self._event_line(request, rt, item[0], item[1], table))
                if bookmarks:
                    chunks.append(self._bookmark(rt, self.store.resource_version, initial_end=True))
                if chunks:
                    await resp.write(b"".join(chunks))
            while True:
                now = loop.time()
                if now >= deadline:
                    break
                wait = min(deadline, next_bookmark) - now if bookmarks else deadline - now
                item = await watch.next_event(max(wait, 0.0))
                if item is None:
                    if watch.closed:
                        break
                    if bookmarks and loop.time() >= next_bookmark:
                        await resp.write(self._bookmark(rt, self.store.resource_version))
                        next_bookmark = loop.time() + interval
                    continue
                chunks = [self._event_line(request, rt, item[0], item[1], table)]
                while watch.pending() and len(chunks) < 500:
                    more = await watch.next_event(0)
                    if more is None:
                        break
                    chunks.append(self._event_line(request, rt, more[0], more[1], table))
                await resp.write(b"".join(chunks))
            if bookmarks and not watch.closed and loop.time() >= deadline:
                await resp.write(self._bookmark(rt, self.store.resource_version))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            watch.close()
            self._watches.discard(watch)
            if dropper is not None:
                dropper.cancel()
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await resp.write_eof()
        return resp

    async def _close_when_dropped(self, watch: Watch, generation: int) -> None:
        assert self.faults is not None
        await self.faults.wait_dropped(generation)
        watch.close()

    def _event_line(
        self, request: web.Request, rt: ResourceType, kind: str, ev: WatchEvent, table: bool
    ) -> bytes:
        if table:
            obj = self._table(request, rt, [ev.entry], None)
            return _dumps({"type": kind, "object": obj}) + b"\n"
        if rt.converts:
            return _dumps({"type": kind, "object": from_storage(rt, ev.obj)}) + b"\n"
        return ev.line(kind)

    def _bookmark(self, rt: ResourceType, rv: str, initial_end: bool = False) -> bytes:
        meta: dict[str, Any] = {"resourceVersion": rv}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return (
            _dumps(
                {
                    "type": "BOOKMARK",
                    "object": {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta},
                }
            )
            + b"\n"
        )

    # -- discovery -------------------------------------------------------------------------

    def _group_list(self) -> dict[str, Any]:
        groups = []
        for group in sorted(self.store.registry.groups()):
            if not group:
                continue
            groups.append(self._group(group))
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _group(self, group: str) -> dict[str, Any]:
        versions = self.store.registry.groups().get(group)
        if not versions or not group:
            raise self._not_found()
        ordered = _sort_versions(versions)
        preferred = ordered[0]
        for rt in self.store.registry:
            if rt.group == group and rt.custom and rt.storage_version in versions:
                preferred = rt.storage_version
        gv = [{"groupVersion": f"{group}/{v}", "version": v} for v in ordered]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": gv,
            "preferredVersion": {"groupVersion": f"{group}/{preferred}", "version": preferred},
        }

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        rts = sorted(self.store.registry.in_group_version(group, version), key=lambda r: r.plural)
        if not rts:
            raise self._not_found()
        resources: list[dict[str, Any]] = []
        for rt in rts:
            entry: dict[str, Any] = {
                "name": rt.plural,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(rt.verbs),
                "storageVersionHash": hashlib.sha256(
                    f"{rt.group}/{rt.plural}".encode()
                ).hexdigest()[:12],
            }
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            if rt.categories:
                entry["categories"] = list(rt.categories)
            resources.append(entry)
            for sub in rt.subresources:
                sub_entry: dict[str, Any] = {
                    "name": f"{rt.plural}/{sub}",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": ["get", "patch", "update"],
                }
                if sub == "scale":
                    sub_entry.update(group="autoscaling", version="v1", kind="Scale")
                elif sub == "log":
                    sub_entry["verbs"] = ["get"]
                elif sub == "eviction":
                    sub_entry.update(
                        group="policy", version="v1", kind="Eviction", verbs=["create"]
                    )
                elif sub == "finalize":
                    sub_entry["verbs"] = ["update"]
                elif sub == "token":
                    sub_entry.update(
                        group="authentication.k8s.io",
                        version="v1",
                        kind="TokenRequest",
                        verbs=["create"],
                    )
                resources.append(sub_entry)
        gv = f"{group}/{version}" if group else version
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv,
            "resources": resources,
        }

    # -- OpenAPI ---------------------------------------------------------------------------

    def _openapi(self, request: web.Request, path: str) -> web.Response:
        if path == "/openapi/v2":
            accept = request.headers.get("Accept", "")
            if "protobuf" in accept and "json" not in accept:
                raise errors.ApiError(
                    406, "NotAcceptable", "only application/json is served for /openapi/v2"
                )
            return _raw_response(self._openapi_v2_doc())
        if path == "/openapi/v3":
            paths = {}
            for group, versions in sorted(self.store.registry.groups().items()):
                for v in versions:
                    key = f"api/{v}" if not group else f"apis/{group}/{v}"
                    digest, _ = self._openapi_v3_doc(group, v)
                    paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
            return _json_response({"paths": paths})
        rest = path[len("/openapi/v3/") :].strip("/").split("/")
        if rest[0] == "api" and len(rest) == 2:
            group, version = "", rest[1]
        elif rest[0] == "apis" and len(rest) == 3:
            group, version = rest[1], rest[2]
        else:
            raise self._not_found()
        if not self.store.registry.in_group_version(group, version):
            raise self._not_found()
        _, body = self._openapi_v3_doc(group, version)
        return _raw_response(body, headers={"Cache-Control": "no-cache, private"})

    def _openapi_v3_doc(self, group: str, version: str) -> tuple[str, bytes]:
        rts = self.store.registry.in_group_version(group, version)
        sig = _dumps(
            [[rt.plural, rt.kind, rt.schema] for rt in sorted(rts, key=lambda r: r.plural)]
        )
        digest = hashlib.sha512(sig).hexdigest()[:32].upper()
        cached = self._openapi_cache.get((group, version))
        if cached is not None and cached[0] == digest:
            return cached
        doc = openapi_v3(rts, group, version)
        out = (digest, _dumps(doc))
        self._openapi_cache[(group, version)] = out
        return out

    def _openapi_v2_doc(self) -> bytes:
        """The encoded Swagger document, re-built only when the set of kinds changes."""
        rts = list(self.store.registry)
        sig = _dumps(sorted([rt.group, rt.version, rt.plural, rt.schema or {}] for rt in rts))
        digest = hashlib.sha512(sig).hexdigest()[:32]
        cached = self._openapi_cache.get(("", "v2"))
        if cached is not None and cached[0] == digest:
            return cached[1]
        body = _dumps(openapi_v2(rts))
        self._openapi_cache[("", "v2")] = (digest, body)
        return body


def _truthy(value: str | None) -> bool:
    """A boolean query parameter as the parameter codec reads it."""
    return value in ("true", "True", "1")


class _DuplicateField(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateField(f'duplicate field "{k}"')
        out[k] = v
    return out


def _partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def _optional_attr(module: str, attr: str) -> Any:
    import importlib

    try:
        return getattr(importlib.import_module(module), attr, None)
    except ImportError:
        return None


def _sort_versions(versions: list[str]) -> list[str]:
    """Kubernetes version priority: GA > beta > alpha, higher numbers first."""
    import re

    def key(v: str) -> tuple[int, int, int, str]:
        m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
        if not m:
            return (3, 0, 0, v)
        stage = {"": 0, "beta": 1, "alpha": 2}[m.group(2) or ""]
        return (stage, -int(m.group(1)), -int(m.group(3) or 0), v)

    return sorted(versions, key=key)
