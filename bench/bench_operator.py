"""Operator benchmarks on the simulated cluster (issues "Operator core" and "Dependency ordering").

    python bench/bench_operator.py apply [--sizes 1,100,1000] [--speed 10]
    python bench/bench_operator.py forest [--width 100] [--depth 100] [--speed 1]

`apply`: for each size N, N independent ManagedServices (2 replicas and a port, so each
owns a Deployment, a Service and a PodDisruptionBudget) are applied at once. Reported:
seconds from the first apply until all are Ready, API writes per ManagedService until Ready
(objects, status patches and Events separately), and writes during 5 s of idling afterwards.
Targets: <= 4 object writes per service until Ready, 0 writes at idle.

`forest`: WIDTH chains of DEPTH ManagedServices, each waiting for the one before it.
Reported: time to converge, and the wake-up latency of every edge, i.e. from the moment a
dependency's status says Ready until its dependent's Deployment is created (real seconds).
Target: p99 wake-up latency < 100 ms at speed 1.

Everything runs in this process: the simulated cluster on the main event loop, the real
operator on its own thread, talking over HTTP on 127.0.0.1. The run ends by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tend.crd import build_crd
from tend.embedded import EmbeddedOperator
from tend.handlers import RunOptions
from tend.kube import Kube
from tend.sim import SimCluster

OBJECT_RESOURCES = ("deployments", "services", "poddisruptionbudgets", "jobs")


def managed_service(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "tend.dev/v1alpha1",
        "kind": "ManagedService",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"image": "example/app:1", **spec},
    }


def ready(body: dict[str, Any]) -> bool:
    status = body.get("status") or {}
    return status.get("observedGeneration") == body["metadata"].get("generation") and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


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
            RunOptions(kubeconfig=kubeconfig, standalone=True, liveness_port=None, workers=workers)
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


async def run_forest(width: int, depth: int, speed: float, workers: int) -> dict[str, Any]:
    ready_at: dict[str, float] = {}
    created_at: dict[str, float] = {}
    async with SimCluster(speed=speed) as cluster:
        cluster.register_crd(build_crd())

        def listen(type_: str, rt: Any, obj: dict[str, Any]) -> None:
            name = obj["metadata"]["name"]
            if obj.get("kind") == "Deployment" and type_ == "ADDED":
                created_at.setdefault(name, time.monotonic())
            elif obj.get("kind") == "ManagedService" and ready(obj):
                ready_at.setdefault(name, time.monotonic())

        cluster.store.write_listeners.append(listen)
        kubeconfig = cluster.write_kubeconfig(Path(tempfile.mkdtemp()) / "kubeconfig")
        kube = await Kube.connect(kubeconfig)
        operator = EmbeddedOperator(
            RunOptions(kubeconfig=kubeconfig, standalone=True, liveness_port=None, workers=workers)
        )
        await operator.start()
        try:
            started = time.monotonic()
            for level in range(depth):
                for chain in range(width):
                    deps = [{"name": f"c{chain}-l{level - 1}"}] if level else None
                    await kube.create(managed_service(f"c{chain}-l{level}", dependsOn=deps))
            applied = time.monotonic() - started
            total = width * depth
            await wait_all_ready(kube, total, deadline=600 + total / 5)
            elapsed = time.monotonic() - started
        finally:
            await operator.stop()
            await kube.close()
    latencies = sorted(
        created_at[f"c{c}-l{lv}"] - ready_at[f"c{c}-l{lv - 1}"]
        for c in range(width)
        for lv in range(1, depth)
    )
    return {
        "services": width * depth,
        "apply_seconds": applied,
        "converge_seconds": elapsed,
        "edges": len(latencies),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "max_ms": 1000 * latencies[-1],
    }


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
        r = asyncio.run(run_forest(args.width, args.depth, args.speed, args.workers))
        for key, value in r.items():
            print(f"{key:>18}: {value:.1f}" if isinstance(value, float) else f"{key:>18}: {value}")
        failed = r["p99_ms"] >= 100
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
