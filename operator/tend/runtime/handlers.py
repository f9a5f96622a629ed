"""kopf wiring: watch events go to the controller; nothing else happens here.

Every handler is `async`: kopf runs plain functions in a thread pool, and the controller's
caches must only ever be touched from the event loop.

`run` starts one operator: it connects, builds a fresh kopf registry whose handlers
feed `Controller.observe_*`, configures kopf (no log-to-Event posting, server-side
label selectors for the kinds tend owns, peering) and runs until stopped.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import kopf

from tend.api import GROUP, PLURAL, VERSION
from tend.api.config import OperatorConfig
from tend.runtime.backoff import Backoff
from tend.runtime.controller import MANAGED_BY_SELECTOR, Controller
from tend.runtime.kube import Kube
from tend.runtime.metrics import Metrics
from tend.runtime.peering import PeeringGate

log = logging.getLogger("tend")

# kopf's resource specs: (group, version, plural), or (version, plural) for the core group.
Resource = tuple[str, str] | tuple[str, str, str]
OWNED_RESOURCES: tuple[Resource, ...] = (
    ("apps", "v1", "deployments"),
    ("batch", "v1", "jobs"),
    ("v1", "services"),
    ("policy", "v1", "poddisruptionbudgets"),
)
ENDPOINT_SLICES = ("discovery.k8s.io", "v1", "endpointslices")
# Pods are not among them: the controller watches those itself (tend.runtime.reflector).


@dataclass
class RunOptions:
    """What `tend run` was asked for on its command line."""

    namespaces: Collection[str] = ()  # empty: all namespaces
    selector: str | None = None  # label selector on ManagedServices (sharding)
    kubeconfig: Path | None = None
    context: str | None = None
    liveness_port: int | None = 8080
    standalone: bool = False
    peering: str = "tend"
    peering_mandatory: bool = False  # a missing peering object is an error, not "run alone"
    priority: int = 0
    workers: int = 8
    config: OperatorConfig = field(default_factory=OperatorConfig)
    # The operator's wall clock. Only the simulated cluster, whose kubelet stamps times at a
    # speed-up, needs another one (its own), so restart windows are measured in its time.
    clock: Callable[[], datetime] | None = None
    clock_speed: float = 1.0  # the clock's seconds per real second (timers are real)
    # Where the operator's metrics go (`tend run` serves this registry on --metrics-port).
    metrics: Metrics | None = None


def build_registry(controller: Controller, kube: Kube) -> kopf.OperatorRegistry:
    """A fresh registry: several operators (tests, HA pairs) can live in one process."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    async def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_info(kube)

    @kopf.on.startup(registry=registry)
    async def startup(**_: Any) -> None:
        await controller.prime()
        controller.start()

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        await controller.stop()

    # The controller primes its caches with one LIST per kind at startup (before kopf's
    # watches begin) and starts reconciling only then; these handlers keep them current.
    # (kopf's own index gate would do the same, but costs O(n^2) in the number of objects.)
    feeds: list[tuple[Resource, Callable[[str | None, Mapping[str, Any]], None]]] = [
        ((GROUP, VERSION, PLURAL), controller.observe_managed_service)
    ]
    feeds += [(resource, controller.observe_owned) for resource in OWNED_RESOURCES]
    feeds += [(ENDPOINT_SLICES, controller.observe_endpoint_slice)]
    for resource, observe in feeds:
        _feed(registry, resource, observe)
    return registry


def _feed(
    registry: kopf.OperatorRegistry,
    resource: Resource,
    observe: Callable[[str | None, Mapping[str, Any]], None],
) -> None:
    @kopf.on.event(*resource, registry=registry)
    async def changed(event: kopf.RawEvent, **_: Any) -> None:
        observe(event.get("type"), event["object"])


def connection_info(kube: Kube) -> kopf.ConnectionInfo:
    """kopf's credentials, taken from the same client configuration tend uses."""
    cfg = kube.api.configuration
    token = (cfg.api_key or {}).get("authorization") or (cfg.api_key or {}).get("BearerToken")
    scheme, _, value = (token or "").partition(" ")
    return kopf.ConnectionInfo(
        server=str(cfg.host),
        ca_path=cfg.ssl_ca_cert or None,
        insecure=not cfg.verify_ssl,
        scheme=scheme or None if value else None,
        token=value or None,
        certificate_path=cfg.cert_file or None,
        private_key_path=cfg.key_file or None,
        proxy_url=cfg.proxy or None,  # from the kubeconfig or the environment, read once
    )


class NoDiffBase(kopf.DiffBaseStorage):
    """tend registers only event handlers, which never read kopf's diff-base; kopf would
    still deep-copy every object on every watch event to build one."""

    def build(
        self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None
    ) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def configure(settings: kopf.OperatorSettings, options: RunOptions) -> None:
    settings.posting.enabled = False  # tend posts its own Events, on transitions only
    settings.persistence.diffbase_storage = NoDiffBase()
    settings.peering.name = options.peering
    settings.peering.standalone = options.standalone
    settings.peering.priority = options.priority
    # By default auto-detect: peer through the ClusterKopfPeering when its CRD exists
    # (deploy/peering installs it), run alone otherwise. HA (deploy/components/ha) makes it
    # mandatory: kopf then pauses while the peering CRD is missing, and tend refuses to start
    # without the peering object (PeeringGate.require).
    settings.peering.mandatory = options.peering_mandatory
    # Serving named namespaces, kopf would LIST and WATCH every namespace (to match patterns)
    # and watch CRDs (kopf/_core/reactor/observation.py), which a namespaced install's Role
    # cannot grant. tend passes names, never patterns, and needs its CRD at start anyway:
    # kopf's non-dynamic mode serves exactly those namespaces and the resources found at start.
    settings.scanning.disabled = bool(options.namespaces)
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.error_backoffs = Backoff()  # never runs out: see tend.runtime.backoff
    # kopf logs every handler's success at info: one line per watch event, naming no object.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    for resource in OWNED_RESOURCES:
        settings.watching.label_selectors[resource] = MANAGED_BY_SELECTOR
    if options.selector:
        settings.watching.label_selectors[GROUP, VERSION, PLURAL] = options.selector


Flag = asyncio.Event | threading.Event


def peer_identity() -> str:
    """This operator's id among its peers, as kopf's `detect_own_id` forms it: the pod's
    name when the Deployment passes it (POD_ID, or POD_NAME from the downward API), else
    user@host/start time/random, so two processes on one machine never share one."""
    pod = os.environ.get("POD_ID") or os.environ.get("POD_NAME")
    if pod:
        return pod
    started = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return f"{getpass.getuser()}@{socket.gethostname()}/{started}/{secrets.token_hex(2)}"


async def run(
    options: RunOptions,
    *,
    stop_flag: Flag | None = None,
    ready_flag: Flag | None = None,
    on_controller: Callable[[Controller], None] | None = None,
) -> None:
    """Run one operator until `stop_flag` is set (or a signal arrives).

    kopf treats every task created after it starts as its own and cancels what is left
    when it stops; to share a process with other asyncio code (the simulated cluster in
    the demo and the tests) run this on a thread of its own (see `tend_sim.embedded`).
    """
    metrics = options.metrics or Metrics()
    identity = peer_identity()
    # The pod's name (POD_NAME) is also its Events' reportingInstance, as kube's controllers
    # report theirs, so `kubectl get events -o wide` tells the replicas apart (the API refuses
    # one longer than 128 characters).
    kube = await Kube.connect(
        options.kubeconfig, options.context, on_request=metrics.requested, instance=identity[:128]
    )
    namespaces: list[str | None] = list(options.namespaces) or [None]
    gate = PeeringGate(
        kube,
        name=options.peering,
        identity=identity,
        priority=options.priority,
        namespaces=namespaces,
        standalone=options.standalone,
        mandatory=options.peering_mandatory,
    )
    try:
        await gate.require()  # PeeringMissing: before kopf starts, so the process exits
    except BaseException:
        await kube.close()
        raise
    controller = Controller(
        kube,
        options.config,
        workers=options.workers,
        namespaces=list(options.namespaces),
        selector=options.selector,
        clock=options.clock,
        clock_speed=options.clock_speed,
        gate=gate,
        metrics=metrics,
    )
    if on_controller is not None:
        on_controller(controller)
    settings = kopf.OperatorSettings()
    configure(settings, options)
    liveness = f"http://0.0.0.0:{options.liveness_port}/healthz" if options.liveness_port else None
    try:
        await kopf.operator(
            registry=build_registry(controller, kube),
            settings=settings,
            clusterwide=not options.namespaces,
            namespaces=list(options.namespaces),
            standalone=options.standalone,
            priority=options.priority,
            liveness_endpoint=liveness,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
            identity=cast(Any, identity),  # kopf's Identity: a NewType of str
        )
    finally:
        await controller.stop()
        await kube.close()
