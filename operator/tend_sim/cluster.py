"""SimCluster: the simulated cluster in one object — store, HTTP API server, controllers.

async with SimCluster(speed=20) as cluster:
    cluster.register_crd_file(Path("crds/managedservices.yaml"))
    kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig")
    ...  # run kopf / kubectl / kubernetes_asyncio against cluster.url
    assert cluster.writes() == 0

With `SimCluster(auth=True)` requests are authenticated and authorized by RBAC (authn.py,
authz.py): `cluster.token_for("tend-system", "tend")` mints a ServiceAccount token,
`write_kubeconfig(path, token=...)` writes a kubeconfig that uses it, and
`cluster.access_log(user)` says what that user asked for and whether RBAC allowed it.
kubectl (client-go) sends bearer tokens only over TLS: `SimCluster(auth=True, tls=True)` serves
https with a throw-away CA (trustme), which the kubeconfig carries and `client_ssl_context()`
trusts.
"""

from __future__ import annotations

import base64
import collections
import importlib
import ssl
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from tend_sim.authn import ADMIN_TOKEN, Access, Auth
from tend_sim.errors import ApiError
from tend_sim.server import ApiServer
from tend_sim.store import Store


def _load(module: str, attr: str) -> Any:
    try:
        return getattr(importlib.import_module(module), attr, None)
    except ImportError:
        return None


WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")


class SimCluster:
    """A strict fake Kubernetes cluster served on 127.0.0.1 over plain HTTP."""

    def __init__(
        self,
        *,
        speed: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Any = None,
        controllers: bool = True,
        bookmark_interval: float = 60.0,
        history_size: int = 5000,
        auth: bool = False,
        tls: bool = False,
        history_window: float = 75.0,
        compaction_interval: float = 300.0,
        fresh_timeout: float = 3.0,
    ) -> None:
        """`history_size` bounds each resource's watch-cache history, `history_window` (simulated
        seconds) is how long it keeps events at least, `compaction_interval` (simulated seconds)
        how long continue tokens and exact resourceVersions stay valid; `fresh_timeout` (real
        seconds) how long a request for a future resourceVersion waits before its 504."""
        clock_cls = _load("tend_sim.clock", "SimClock")
        self.clock: Any = clock_cls(speed) if clock_cls is not None else None
        self.store = Store(
            now=self.clock.now if self.clock is not None else None,
            seconds=self.clock.monotonic if self.clock is not None else None,
            history_size=history_size,
            history_window=history_window,
            compaction_interval=compaction_interval,
        )
        self._fresh_timeout = fresh_timeout
        if faults is None:
            plan_cls = _load("tend_sim.faults", "FaultPlan")
            faults = plan_cls() if plan_cls is not None else None
        self.faults: Any = faults
        self.host = host
        self._bookmark_interval = bookmark_interval
        self.auth = Auth(self.store, enabled=auth)
        self.ca: Any = None
        self._ssl: ssl.SSLContext | None = None
        if tls:
            import trustme  # the `sim` extra; only needed for https

            self.ca = trustme.CA()
            self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.ca.issue_cert(host, "localhost", "kubernetes.default.svc").configure_cert(
                self._ssl
            )
        self.server = ApiServer(
            self.store,
            host=host,
            port=port,
            faults=faults,
            bookmark_interval=bookmark_interval,
            auth=self.auth,
            ssl_context=self._ssl,
            fresh_timeout=fresh_timeout,
        )
        self.controllers: Any = None
        if controllers:
            ctl_cls = _load("tend_sim.controllers", "Controllers")
            if ctl_cls is not None and self.clock is not None:
                self.controllers = ctl_cls(self.store, self.clock)
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self.server.start()
        self._publish_endpoint()
        if self.controllers is not None:
            await self.controllers.start()
        self._started = True

    async def stop(self) -> None:
        if self.controllers is not None:
            await self.controllers.stop()
        await self.server.stop()
        self.store.close_watches()
        self._started = False

    async def __aenter__(self) -> SimCluster:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def restart_server(self) -> None:
        """Stop HTTP (open watches end), keep every object, serve again on the same port."""
        port = self.server.port
        requests = self.server.requests
        await self.server.stop()
        self.server = ApiServer(
            self.store,
            host=self.host,
            port=port,
            faults=self.faults,
            bookmark_interval=self._bookmark_interval,
            auth=self.auth,
            ssl_context=self._ssl,
            fresh_timeout=self._fresh_timeout,
        )
        self.server.requests = requests
        await self.server.start()

    # -- facts -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def requests(self) -> collections.Counter[tuple[str, str]]:
        """(verb, resource) -> count of HTTP requests, e.g. ("patch", "managedservices/status")."""
        return self.server.requests

    def writes(self, resource: str | None = None) -> int:
        """HTTP write requests so far (create/update/patch/delete), optionally of one resource
        (subresources count under their own name, e.g. "managedservices/status")."""
        return sum(
            n
            for (verb, res), n in self.requests.items()
            if verb in WRITE_VERBS and (resource is None or res == resource)
        )

    def access_log(self, user: str | None = None, *, allowed: bool | None = None) -> set[Access]:
        """What authenticated requests asked RBAC (with auth=True): one Access(user, verb,
        api_group, resource["/subresource"], namespace, allowed) per distinct kind of request."""
        return self.auth.used(user, allowed=allowed)

    def token_for(self, namespace: str, name: str, *, expiration_seconds: int = 3600) -> str:
        """A bearer token of the ServiceAccount namespace/name (which must exist), as
        `kubectl create token` mints it."""
        return self.auth.token_for(namespace, name, expiration_seconds=expiration_seconds)[0]

    # -- setup helpers ---------------------------------------------------------------------

    def _publish_endpoint(self) -> None:
        """Point the `kubernetes` Service's EndpointSlice and Endpoints at our port."""
        slices = self.store.resource("endpointslices", "discovery.k8s.io")
        endpoints = self.store.resource("endpoints")
        for rt in (slices, endpoints):
            try:
                obj = self.store.get(rt, "default", "kubernetes")
                port = (obj["ports"] if rt is slices else obj["subsets"][0]["ports"])[0]
            except (ApiError, KeyError, IndexError):  # changed or deleted by a test
                continue
            if port.get("port") != self.port:
                port["port"] = self.port
                self.store.update(rt, obj)

    def client_ssl_context(self) -> ssl.SSLContext | None:
        """For Python clients of a tls=True cluster: trusts its CA (None over plain http)."""
        if self.ca is None:
            return None
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx

    def write_kubeconfig(self, path: Path, *, token: str = ADMIN_TOKEN) -> Path:
        """A kubeconfig for this cluster (http, or https trusting its CA, on loopback);
        `token` is the admin's unless given (e.g. `token_for(namespace, name)`)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        cluster: dict[str, Any] = {"server": self.url}
        if self.ca is not None:
            pem = self.ca.cert_pem.bytes()
            cluster["certificate-authority-data"] = base64.b64encode(pem).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "tend-sim", "cluster": cluster}],
            "users": [{"name": "tend-sim", "user": {"token": token}}],
            "contexts": [
                {
                    "name": "tend-sim",
                    "context": {"cluster": "tend-sim", "user": "tend-sim", "namespace": "default"},
                }
            ],
            "current-context": "tend-sim",
            "preferences": {},
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def register_crd(self, crd: dict[str, Any]) -> dict[str, Any]:
        """Create or replace a CustomResourceDefinition, as if POSTed/PUT."""
        return self.store.register_crd(crd)

    def register_crd_file(self, path: Path) -> None:
        """Register every CRD in a YAML file (or in every *.yaml file of a directory)."""
        path = Path(path)
        files = (
            sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]
        )
        for f in files:
            for doc in yaml.safe_load_all(f.read_text()):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    self.register_crd(doc)
