"""`tend sim serve`: run the simulated cluster in the foreground for kubectl and the operator."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer

from tend.runtime import heap

app = typer.Typer(help="The simulated Kubernetes cluster used by the tests and the demo.")


@app.callback()
def sim() -> None:
    """The simulated Kubernetes cluster used by the tests and the demo."""


async def _serve(
    port: int,
    kubeconfig: Path,
    speed: float,
    crds: Path | None,
    controllers: bool,
    auth: bool = False,
    tls: bool = False,
) -> None:
    from tend_sim.cluster import SimCluster  # here, so `tend --help` does not load the server

    cluster = SimCluster(speed=speed, port=port, controllers=controllers, auth=auth, tls=tls)
    await cluster.start()
    try:
        if crds is not None:
            cluster.register_crd_file(crds)
        cluster.write_kubeconfig(kubeconfig)
        typer.echo(f"tend sim: API server on {cluster.url}")
        typer.echo(f"tend sim: kubeconfig written to {kubeconfig}")
        typer.echo(f"  export KUBECONFIG={kubeconfig}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await cluster.stop()
    typer.echo("tend sim: stopped")


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = any free port).")] = 0,
    kubeconfig: Annotated[
        Path, typer.Option(help="Where to write the kubeconfig for this cluster.")
    ] = Path("tend-sim.kubeconfig"),
    speed: Annotated[
        float, typer.Option(help="Simulated seconds per real second (kubelet, controllers).")
    ] = 1.0,
    crds: Annotated[
        Path | None, typer.Option(help="A CRD YAML file or a directory of them to register.")
    ] = None,
    controllers: Annotated[
        bool, typer.Option(help="Run the Deployment/ReplicaSet/Job controllers and kubelet.")
    ] = True,
    auth: Annotated[
        bool, typer.Option(help="Authenticate bearer tokens and enforce RBAC (no token: admin).")
    ] = False,
    tls: Annotated[
        bool, typer.Option(help="Serve https with a throw-away CA (in the kubeconfig).")
    ] = False,
) -> None:
    """Serve the simulated cluster (http, or https with --tls) on 127.0.0.1 until SIGINT/SIGTERM."""
    heap.freeze_survivors()  # a stored cluster is a large heap: keep full collections short
    asyncio.run(_serve(port, kubeconfig, speed, crds, controllers, auth, tls))
