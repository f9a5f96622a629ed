"""Operator benchmarks on the simulated cluster (issues "Operator core" and "Dependency ordering").

    python bench/bench_operator.py apply [--sizes 1,100,1000] [--speed 10]
    python bench/bench_operator.py forest [--width 100] [--depth 100] [--speed 1]

`apply`: for each size N, N independent ManagedServices (2 replicas and a port, so each
owns a Deployment, a Service and a PodDisruptionBudget) are applied at once. Reported:
seconds from the first apply until all are Ready, API writes per ManagedService until Ready
(objects, status patches and Events separately), and writes during 5 s of idling afterwards.
Targets: <= 4 object writes per service until Ready, 0 writes at idle.

`forest`: WIDTH chains of DEPTH ManagedServices, each waiting for the one before it, are
applied; then the operator starts. Reported: time to converge, and the wake-up latency of
every edge, from the moment the API server shows a dependency Ready until it shows its
dependent's Deployment (real seconds, seen through watches). Target: p99 < 100 ms at speed 1.
Three processes, as in production: `tend sim serve`, `tend run`, and this observer.

`apply` runs in this process: the simulated cluster on the main event loop, the real
operator on its own thread, talking over HTTP on 127.0.0.1. Every run ends by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from tend.api.crd import build_crd
from tend.logic.readiness import readiness
from tend.runtime.handlers import RunOptions
from tend.runtime.kube import Kube
from tend_sim import SimCluster
from tend_sim.demo import wait_served
from tend_sim.embedded import EmbeddedOperator

OBJECT_RESOURCES = ("deployments", "services", "poddisruptionbudgets", "jobs")


def managed_service(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "tend.dev/v1alpha1",
        "kind": "ManagedService",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"image": "example/app:1", **spec},
    }


def ready(body: dict[str, Any]) -> bool:
    return readiness(body).is_ready


def writes(requests: Counter[tuple[str, str]], before: Counter[tuple[str, str]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for (verb, resource), n in requests.items():
        if verb in ("create", "update", "patch", "delete"):
            delta = n - before.get((verb, resource), 0)
            if delta:
                out[resource] += delta
    return out


async def wait_all_ready(kube: Kube, count: int, deadline: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        items = await kube.list("ManagedService", "default")
        if len(items) == count and all(ready(i) for i in items):
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise TimeoutError(f"not all {count} ManagedServices Ready within {deadline:.0f}s")


async def run_apply(size: int, speed: float, workers: int) -> dict[str, Any]:
    async with SimCluster(speed=speed) as cluster:
        cluster.register_crd(build_crd())
        kubeconfig = cluster.write_kubeconfig(Path(tempfile.mkdtemp()) / "kubeconfig")
        kube = await Kube.connect(kubeconfig)
        operator = EmbeddedOperator(
            RunOptions(
                kubeconfig=kubeconfig,
                standalone=True,
                liveness_port=None,
                workers=workers,
                clock=cluster.clock.now,
            )
        )
        await operator.start()
        try:
            before = Counter(cluster.requests)
            started = time.monotonic()
            for i in range(size):
                await kube.create(
                    managed_service(
                        f"svc-{i}", replicas=2, ports=[{"name": "http", "containerPort": 8080}]
                    )
                )
            elapsed = await wait_all_ready(kube, size, deadline=120 + size)
            elapsed = time.monotonic() - started
            await operator.idle(timeout=120)
            until_ready = writes(cluster.requests, before)
            until_ready["managedservices"] -= size  # the applies themselves
            idle_before = Counter(cluster.requests)
            await asyncio.sleep(5)  # a benchmark, not a test: measure 5 s of idling
            idle = sum(writes(cluster.requests, idle_before).values())
        finally:
            await operator.stop()
            await kube.close()
    objects = sum(until_ready[r] for r in OBJECT_RESOURCES)
    return {
        "size": size,
        "seconds": elapsed,
        "objects_per_ms": objects / size,
        "status_per_ms": until_ready["managedservices/status"] / size,
        "events_per_ms": until_ready["events"] / size,
        "idle_writes": idle,
    }


async def run_forest(
    width: int,
    depth: int,
    speed: float,
    workers: int,
    dump: Path | None = None,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Three processes, as in production: the simulated cluster (`tend sim serve`), the
    operator (`tend run`), and this one, which applies the forest and watches the API to
    time each edge (dependency Ready -> dependent's Deployment created)."""
    workdir = Path(tempfile.mkdtemp(prefix="tend-forest-"))
    kubeconfig = workdir / "kubeconfig"
    tend = str(Path(sys.executable).with_name("tend"))
    crds = Path(__file__).resolve().parents[1] / "crds"
    sim = subprocess.Popen(
        [
            tend,
            "sim",
            "serve",
            "--port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
            "--speed",
            str(speed),
            "--crds",
            str(crds),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    operator: subprocess.Popen[bytes] | None = None
    ready_at: dict[str, float] = {}
    created_at: dict[str, float] = {}
    try:
        for _ in range(200):
            if kubeconfig.exists():
                break
            await asyncio.sleep(0.05)
        kube = await Kube.connect(kubeconfig)
        await wait_served(kube)
        started = time.monotonic()
        semaphore = asyncio.Semaphore(16)

        async def create(body: dict[str, Any]) -> None:
            async with semaphore:
                await kube.create(body)

        for level in range(depth):
            await asyncio.gather(
                *(
                    create(
                        managed_service(
                            f"c{chain}-l{level}",
                            dependsOn=[{"name": f"c{chain}-l{level - 1}"}] if level else None,
                        )
                    )
                    for chain in range(width)
                )
            )
        applied = time.monotonic() - started
        server = kube.host
        watchers = [
            asyncio.create_task(
                _watch(
                    server,
                    "/apis/tend.dev/v1alpha1/managedservices",
                    lambda t, o: (
                        ready(o) and ready_at.setdefault(o["metadata"]["name"], time.monotonic())
                    ),
                )
            ),
            asyncio.create_task(
                _watch(
                    server,
                    "/apis/apps/v1/deployments",
                    lambda t, o: (
                        t == "ADDED"
                        and created_at.setdefault(o["metadata"]["name"], time.monotonic())
                    ),
                )
            ),
        ]
        # py-spy (of this venv) samples the operator; it writes the profile on SIGINT.
        spy = [str(Path(sys.executable).with_name("py-spy")), "record", "--nonblocking"]
        spy += ["--format", "raw", "-o", str(profile), "--"]
        operator = subprocess.Popen(
            [
                *(spy if profile else []),
                tend,
                "run",
                "--standalone",
                "--kubeconfig",
                str(kubeconfig),
                "--metrics-port",
                "0",
                "--health-port",
                "0",
                "--workers",
                str(workers),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        operator_started = time.monotonic()
        total = width * depth
        deadline = operator_started + 600 + total / 5
        while len(ready_at) < total and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        converged = time.monotonic() - operator_started
        cpu = {"operator_cpu_s": _cpu_seconds(operator), "sim_cpu_s": _cpu_seconds(sim)}
        for task in watchers:
            task.cancel()
        await kube.close()
    finally:
        for proc in (operator, sim):
            if proc is not None:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=60)
    if dump is not None:
        dump.write_text(json.dumps({"ready_at": ready_at, "created_at": created_at}))
    latencies = sorted(
        created_at[f"c{c}-l{lv}"] - ready_at[f"c{c}-l{lv - 1}"]
        for c in range(width)
        for lv in range(1, depth)
        if f"c{c}-l{lv}" in created_at and f"c{c}-l{lv - 1}" in ready_at
    )
    return {
        "services": width * depth,
        "ready": len(ready_at),
        "apply_seconds": applied,
        "converge_seconds": converged,
        **cpu,
        "edges": len(latencies),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "max_ms": 1000 * latencies[-1],
    }


def _cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    """CPU seconds (user + system) a child has used so far, from /proc (Linux only)."""
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _watch(server: str, path: str, record: Any) -> None:
    """Follow a watch and call record(type, object) on each event, resuming on timeouts."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        rv = ""
        while True:
            params = {"watch": "1", "timeoutSeconds": "300", "allowWatchBookmarks": "true"}
            if rv:
                params["resourceVersion"] = rv
            async with session.get(server + path, params=params) as response:
                async for line in response.content:
                    event = json.loads(line)
                    rv = event["object"]["metadata"].get("resourceVersion", rv)
                    if event["type"] in ("ADDED", "MODIFIED"):
                        record(event["type"], event["object"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    apply = sub.add_parser("apply")
    apply.add_argument("--sizes", default="1,100,1000")
    apply.add_argument("--speed", type=float, default=10.0)
    apply.add_argument("--workers", type=int, default=8)
    forest = sub.add_parser("forest")
    forest.add_argument("--width", type=int, default=100)
    forest.add_argument("--depth", type=int, default=100)
    forest.add_argument("--speed", type=float, default=1.0)
    forest.add_argument("--workers", type=int, default=16)
    forest.add_argument("--dump", type=Path, help="write every edge's timestamps here (JSON)")
    forest.add_argument(
        "--profile", type=Path, help="py-spy the operator into this file (CPU is then py-spy's)"
    )
    args = parser.parse_args()
    failed = False
    if args.what == "apply":
        print(
            f"{'size':>6} {'apply->Ready s':>15} {'object writes/ms':>17} "
            f"{'status patches/ms':>18} {'events/ms':>10} {'idle writes':>12}"
        )
        for size in (int(s) for s in args.sizes.split(",")):
            r = asyncio.run(run_apply(size, args.speed, args.workers))
            print(
                f"{r['size']:>6} {r['seconds']:>15.2f} {r['objects_per_ms']:>17.2f} "
                f"{r['status_per_ms']:>18.2f} {r['events_per_ms']:>10.2f} {r['idle_writes']:>12}"
            )
            failed |= r["objects_per_ms"] > 4 or r["idle_writes"] != 0
    else:
        r = asyncio.run(
            run_forest(args.width, args.depth, args.speed, args.workers, args.dump, args.profile)
        )
        for key, value in r.items():
            print(f"{key:>18}: {value:.1f}" if isinstance(value, float) else f"{key:>18}: {value}")
        failed = r["p99_ms"] >= 100
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
