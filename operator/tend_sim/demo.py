"""`tend demo`: the real operator on the in-process simulated cluster, with the samples.

Starts `tend_sim` at a speed-up, registers the CRD, applies the sample manifests and the
scripted failures (`deploy/samples/failures/`), runs the operator exactly as `tend run` does
with the samples' receivers pointed at a local webhook sink, and prints a live table (like
`kubectl get msvc -w`) and every notification the sink receives. It exits 0 once every
sample is Ready and every failure has exhausted its budget and paged its way up the ladder.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from tend.api import Phase
from tend.api.config import OperatorConfig
from tend.api.crd import build_crd
from tend.logic.readiness import readiness
from tend.runtime.handlers import RunOptions
from tend.runtime.kube import KINDS, Kube
from tend_sim import SimCluster
from tend_sim.embedded import EmbeddedOperator

COLUMNS = ("NAMESPACE", "NAME", "READY", "PHASE", "RESTARTS", "BLOCKED-BY")
# The receivers the samples name; in the demo they are webhooks to the local sink.
DEMO_RECEIVERS = ("team-slack", "oncall-pagerduty")


class Sink:
    """The demo's receiver: a webhook endpoint on 127.0.0.1 that prints what it gets."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _receive(self, request: web.Request) -> web.Response:
        receiver = request.match_info["receiver"]
        body = await request.json()
        self.received.append((receiver, body))
        incident = body.get("incident") or {}
        step = incident.get("step")
        where = f" (step {step + 1} of {incident.get('steps')})" if step is not None else ""
        self.echo(
            f"  >> {receiver}: {body.get('action', '').upper()} {incident.get('severity')}"
            f"{where}: {body.get('summary')}"
        )
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{receiver}", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def config(self) -> OperatorConfig:
        return OperatorConfig(
            receivers=[
                {"name": name, "type": "webhook", "url": f"{self.url}/{name}"}
                for name in DEMO_RECEIVERS
            ]
        )


def row(body: Mapping[str, Any]) -> tuple[str, ...]:
    """One line of `kubectl get msvc` (a column whose field is unset shows `-`)."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    blocked = ",".join(b.get("name", "") for b in status.get("blockedBy") or [])
    restarts = (status.get("restarts") or {}).get("total")
    return (
        meta.get("namespace", ""),
        meta.get("name", ""),
        readiness(body).ready or "-",
        status.get("phase") or "-",
        "-" if restarts is None else str(restarts),
        blocked or "-",
    )


def format_row(cells: tuple[str, ...], widths: list[int]) -> str:
    return "   ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()


def column_widths(rows: list[tuple[str, ...]]) -> list[int]:
    """Widths that fit the header, `rows` and every phase, so later lines never shift."""
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    widths[COLUMNS.index("PHASE")] = max(widths[COLUMNS.index("PHASE")], *map(len, Phase))
    return widths


def load_documents(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    docs: list[dict[str, Any]] = []
    for file in files:
        if file.name == "kustomization.yaml":
            continue
        docs.extend(d for d in yaml.safe_load_all(file.read_text()) if isinstance(d, dict))
    # Secrets and ConfigMaps first, as kubectl apply -f of a directory would have them in place.
    return sorted(docs, key=lambda d: d.get("kind") == "ManagedService")


async def demo(
    samples: Path,
    *,
    failures: Path | None = None,
    speed: float = 10.0,
    deadline: float = 120.0,
    keep: bool = False,
    namespace: str = "default",
    echo: Callable[[str], None] = print,
) -> int:
    """Run the demo; returns the exit code (0 when every sample became Ready and every
    failure paged)."""
    docs = load_documents(samples)
    failing = load_documents(failures) if failures is not None else []
    names = {d["metadata"]["name"] for d in failing if d.get("kind") == "ManagedService"}
    docs += failing
    sink = Sink(echo)
    await sink.start()
    async with SimCluster(speed=speed) as cluster:
        workdir = Path(tempfile.mkdtemp(prefix="tend-demo-"))
        kubeconfig = cluster.write_kubeconfig(workdir / "kubeconfig")
        kube = await Kube.connect(kubeconfig)
        options = RunOptions(
            kubeconfig=kubeconfig,
            standalone=True,
            liveness_port=None,
            clock=cluster.clock.now,
            clock_speed=cluster.clock.speed,
            config=sink.config(),
        )
        operator = EmbeddedOperator(options)
        try:
            await kube.create_or_replace(build_crd())
            await wait_served(kube)
            for doc in docs:
                doc.setdefault("metadata", {}).setdefault("namespace", namespace)
                if doc.get("kind") in KINDS:
                    await kube.create_or_replace(doc)
            echo(f"simulated cluster at {cluster.url} (speed x{speed:g}); kubeconfig: {kubeconfig}")
            echo(f"applied {len(docs)} objects from {samples}; starting the operator")
            echo(f"receivers {', '.join(DEMO_RECEIVERS)}: webhooks to a local sink at {sink.url}")
            await operator.start()
            code = await _watch(kube, operator, deadline, echo, names)
            if keep and code == 0:
                echo(f"\nkeeping it running: export KUBECONFIG={kubeconfig}; kubectl get msvc")
                echo("press Ctrl-C to stop")
                await operator.wait_stopped()
            return code
        finally:
            await operator.stop()
            await kube.close()
            await sink.stop()


async def wait_served(kube: Kube, attempts: int = 100) -> None:
    """Until the API server serves ManagedServices (a new CRD takes a moment)."""
    for _ in range(attempts):
        try:
            await kube.list("ManagedService")
            return
        except Exception:  # not served yet
            await asyncio.sleep(0.05)
    raise RuntimeError("the ManagedService CRD was not served in time")


def paged(body: Mapping[str, Any]) -> bool:
    """A failure sample is done: budget exhausted, its incident firing and delivered."""
    status = body.get("status") or {}
    alert = status.get("alert") or {}
    exhausted = any(
        c.get("type") == "RestartBudgetExhausted" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    return (
        exhausted
        and alert.get("state") == "Firing"
        and bool(alert.get("fired"))
        and (not alert.get("outbox") and bool(alert.get("lastNotified")))
    )


async def _watch(
    kube: Kube,
    operator: EmbeddedOperator,
    deadline: float,
    echo: Callable[[str], None],
    failures: Collection[str] = (),
) -> int:
    started = time.monotonic()
    shown: dict[tuple[str, str], tuple[str, ...]] = {}
    widths: list[int] = []
    while time.monotonic() - started < deadline:
        if not operator.running:
            echo(f"the operator stopped unexpectedly: {operator.error!r}")
            return 1
        items = await kube.list("ManagedService")
        rows = {(i["metadata"]["namespace"], i["metadata"]["name"]): row(i) for i in items}
        changed = [r for key, r in sorted(rows.items()) if shown.get(key) != r]
        if changed and not widths:
            widths = column_widths(list(rows.values()))  # everything was applied before
            echo(format_row(COLUMNS, widths))
        for r in changed:
            widths = [max(w, len(cell)) for w, cell in zip(widths, r, strict=True)]
            echo(format_row(r, widths))
        shown.update(rows)
        samples = [i for i in items if i["metadata"]["name"] not in failures]
        failed = [i for i in items if i["metadata"]["name"] in failures]
        if (
            samples
            and all(readiness(i).is_ready for i in samples)
            and len(failed) == len(failures)
            and all(paged(i) for i in failed)
        ):
            took = time.monotonic() - started
            echo(f"\nall {len(samples)} ManagedServices Ready in {took:.1f}s")
            for body in failed:
                restarts = (body["status"].get("restarts") or {}).get("total")
                alert = body["status"]["alert"]
                echo(
                    f"{body['metadata']['name']}: restart budget exhausted ({restarts} restarts "
                    f"so far); incident {alert['key']} paged up to {alert['severity']} "
                    "(onExhausted: Alert keeps it running)"
                )
            return 0
        await asyncio.sleep(0.2)
    echo(f"\nnot everything became Ready within {deadline:.0f}s")
    return 1
