"""The API server answers 503 to everything for a minute: `tend run` (its own process) stays
up, says it is not ready on /readyz, and converges afterwards with nothing duplicated.

Before: kopf gave up its watches after 6 attempts (about 20 s of 503s) and the operator
exited with rc 1."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from harness import is_ready, managed_service, wait_ready
from sinks import free_port
from waiting import until

from tend.runtime.kube import Kube
from tend_sim import SimCluster

TEND = Path(sys.executable).parent / "tend"
OUTAGE = 600.0 if os.environ.get("TEND_SOAK") else 60.0  # real seconds
SERVICES = 10


async def readyz(port: int) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/readyz") as response,
    ):
        return response.status


async def test_a_minute_of_503s_costs_retries_not_the_operator(
    cluster: SimCluster, kube: Kube, kubeconfig: Path, tmp_path: Path
) -> None:
    port = free_port()
    args = [str(TEND), "run", "--standalone", "--kubeconfig", str(kubeconfig)]
    args += ["--metrics-port", str(port), "--health-port", "0"]
    with (tmp_path / "tend.log").open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        ports = [{"name": "http", "containerPort": 8080}]
        for i in range(SERVICES):
            await kube.create(managed_service(f"svc-{i}", replicas=2, ports=ports))
        for i in range(SERVICES):
            await wait_ready(cluster, kube, f"svc-{i}", deadline=60)
        assert await readyz(port) == 200

        rule = cluster.faults.fail(code=503)  # every request, watches included
        cluster.faults.drop_watches()  # the open ones end: they must come back through it
        with pytest.raises(subprocess.TimeoutExpired):
            await asyncio.to_thread(proc.wait, OUTAGE)  # it must not exit
        assert rule.fired > 0
        assert await readyz(port) == 503, "not ready while the API server does not answer"
        cluster.faults.clear()

        await kube.create(managed_service("after", replicas=2, ports=ports))
        await wait_ready(cluster, kube, "after", deadline=60)
        await until(
            cluster,
            lambda: readyz(port),
            "ready again",
            satisfied=lambda code: code == 200,
            deadline=30,
        )
        names = sorted([f"svc-{i}" for i in range(SERVICES)] + ["after"])
        for kind in ("Deployment", "Service", "PodDisruptionBudget"):
            live = [o["metadata"]["name"] for o in await kube.list(kind, "default")]
            assert sorted(n for n in live if n != "kubernetes") == names, kind
        for name in names:
            assert is_ready(await kube.get("ManagedService", "default", name)), name
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    log_text = (tmp_path / "tend.log").read_text()
    assert "Traceback" not in log_text, log_text[-3000:]
    assert log_text.count("does not answer") <= 3, "logged once per state change"
