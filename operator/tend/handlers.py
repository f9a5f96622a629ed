"""kopf wiring: watch events go to the controller; nothing else happens here.

`run` starts one operator: it connects, builds a fresh kopf registry whose handlers
feed `Controller.observe_*`, configures kopf (no log-to-Event posting, server-side
label selectors for the kinds tend owns, peering) and runs until stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kopf

from tend.builders import MANAGED_BY
from tend.config import OperatorConfig
from tend.controller import Controller
from tend.kube import Kube
from tend.models import GROUP, PLURAL, VERSION

log = logging.getLogger("tend")

MANAGED_BY_SELECTOR = f"app.kubernetes.io/managed-by={MANAGED_BY}"
# kopf's resource specs: (group, version, plural), or (version, plural) for the core group.
OWNED_RESOURCES: tuple[tuple[str, str] | tuple[str, str, str], ...] = (
    ("apps", "v1", "deployments"),
    ("batch", "v1", "jobs"),
    ("v1", "services"),
    ("policy", "v1", "poddisruptionbudgets"),
)


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
    priority: int = 0
    workers: int = 8
    config: OperatorConfig = field(default_factory=OperatorConfig)


def build_registry(controller: Controller, kube: Kube) -> kopf.OperatorRegistry:
    """A fresh registry: several operators (tests, HA pairs) can live in one process."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_info(kube)

    @kopf.on.startup(registry=registry)
    async def startup(**_: Any) -> None:
        controller.start()

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        await controller.stop()

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
    def managed_service(event: kopf.RawEvent, **_: Any) -> None:
        controller.observe_managed_service(event.get("type"), event["object"])

    for resource in OWNED_RESOURCES:

        @kopf.on.event(*resource, registry=registry)
        def owned(event: kopf.RawEvent, **_: Any) -> None:
            controller.observe_owned(event.get("type"), event["object"])

    @kopf.on.event("discovery.k8s.io", "v1", "endpointslices", registry=registry)
    def endpoint_slice(event: kopf.RawEvent, **_: Any) -> None:
        controller.observe_endpoint_slice(event.get("type"), event["object"])

    return registry


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
    )


def configure(settings: kopf.OperatorSettings, options: RunOptions) -> None:
    settings.posting.enabled = False  # tend posts its own Events, on transitions only
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.peering.name = options.peering
    settings.peering.standalone = options.standalone
    settings.peering.priority = options.priority
    # Auto-detect: peer through the ClusterKopfPeering when its CRD exists (deploy/base installs
    # it), run alone otherwise. Passing a peering name to kopf.operator would make it mandatory.
    settings.peering.mandatory = False
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.error_backoffs = [0.5, 1, 2, 5, 10]
    for resource in OWNED_RESOURCES:
        settings.watching.label_selectors[resource] = MANAGED_BY_SELECTOR
    if options.selector:
        settings.watching.label_selectors[GROUP, VERSION, PLURAL] = options.selector


async def run(
    options: RunOptions,
    *,
    stop_flag: asyncio.Event | None = None,
    ready_flag: asyncio.Event | None = None,
    controller_ready: asyncio.Future[Controller] | None = None,
) -> None:
    """Run one operator until `stop_flag` is set (or a signal arrives)."""
    kube = await Kube.connect(options.kubeconfig, options.context)
    controller = Controller(kube, options.config, workers=options.workers)
    if controller_ready is not None:
        controller_ready.set_result(controller)
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
        )
    finally:
        await controller.stop()
        await kube.close()
