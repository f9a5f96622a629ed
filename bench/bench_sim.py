"""Benchmark of the simulated API server: GET/s, creates/s and memory at 20,000 objects.

The server runs in its own process (`bench_sim.py serve`); this process drives it over loopback
with an aiohttp client (keep-alive, bounded concurrency), while 3 watchers stay open and read
every event. It stores 10,000 ManagedServices and 10,000 Pods, then measures GETs, and reads the
server's resident memory from /proc. Every phase is bounded in count and time.

    .venv/bin/python bench/bench_sim.py            # prints a table; exit 1 if a target is missed
    .venv/bin/python bench/bench_sim.py --objects 2000 --gets 5000   # a quicker run
    .venv/bin/python bench/bench_sim.py --profile /tmp/sim.prof      # cProfile the server
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
CRD_FILE = REPO / "crds" / "managedservices.tend.dev.yaml"
MSVC = "/apis/tend.dev/v1alpha1/namespaces/default/managedservices"
PODS = "/api/v1/namespaces/default/pods"

TARGETS = {"GET/s": 3000.0, "creates/s (ManagedService)": 1000.0, "creates/s (Pod)": 1000.0}
RSS_LIMIT_MB = 500.0


# -- server process ------------------------------------------------------------------------------


async def serve(port: int, profile: str | None = None) -> None:
    from tend_sim.cluster import SimCluster

    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()

    cluster = SimCluster(controllers=False, port=port)
    await cluster.start()
    if CRD_FILE.exists():
        cluster.register_crd_file(CRD_FILE)
    print(f"READY {cluster.url}", flush=True)
    if profiler is not None:
        profiler.enable()
    try:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until EOF
    finally:
        if profiler is not None and profile:
            profiler.disable()
            profiler.dump_stats(profile)
        await cluster.stop()


# -- load client ---------------------------------------------------------------------------------


def msvc_body(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "tend.dev/v1alpha1",
        "kind": "ManagedService",
        "metadata": {"name": f"svc-{i}", "labels": {"app": f"svc-{i}", "bench": "yes"}},
        "spec": {
            "image": "registry.example/shop/api:1.4.2",
            "replicas": 2,
            "ports": [{"name": "http", "containerPort": 8080}],
            "restartPolicy": {"maxRestarts": 5, "window": "400s"},
            "dependsOn": [{"name": "postgres"}],
        },
    }


def pod_body(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pod-{i}", "labels": {"app": f"svc-{i % 100}"}},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "registry.example/shop/api:1.4.2",
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                }
            ]
        },
    }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run_bounded(
    count: int, concurrency: int, deadline: float, work: Callable[[int], Awaitable[None]]
) -> tuple[int, float]:
    """Run work(0..count-1) with `concurrency` workers until done or `deadline` seconds."""
    next_i = 0
    done = 0
    start = time.perf_counter()
    stop_at = start + deadline

    async def worker() -> None:
        nonlocal next_i, done
        while next_i < count and time.perf_counter() < stop_at:
            i = next_i
            next_i += 1
            await work(i)
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, time.perf_counter() - start


async def watcher(session: aiohttp.ClientSession, url: str, counts: list[int], slot: int) -> None:
    params = {"watch": "1", "allowWatchBookmarks": "true", "timeoutSeconds": "600"}
    async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=None)) as r:
        async for line in r.content:
            if line.strip():
                counts[slot] += 1


async def drive(
    url: str, pid: int, objects: int, gets: int, concurrency: int, deadline: float
) -> dict[str, float]:
    results: dict[str, float] = {}
    connector = aiohttp.TCPConnector(limit=concurrency + 4, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        counts = [0, 0, 0]
        watches = [
            asyncio.create_task(
                watcher(session, url + "/apis/tend.dev/v1alpha1/managedservices", counts, 0)
            ),
            asyncio.create_task(watcher(session, url + "/api/v1/pods", counts, 1)),
            asyncio.create_task(
                watcher(session, url + MSVC + "?labelSelector=bench%3Dyes", counts, 2)
            ),
        ]

        async def post(path: str, body: dict[str, Any]) -> None:
            async with session.post(
                url + path, data=json.dumps(body), headers={"Content-Type": "application/json"}
            ) as r:
                await r.read()
                if r.status != 201:
                    raise RuntimeError(f"create failed: {r.status} {await r.text()}")

        n, secs = await run_bounded(
            objects, concurrency, deadline, lambda i: post(MSVC, msvc_body(i))
        )
        results["ManagedServices stored"] = n
        results["creates/s (ManagedService)"] = n / secs
        n, secs = await run_bounded(
            objects, concurrency, deadline, lambda i: post(PODS, pod_body(i))
        )
        results["Pods stored"] = n
        results["creates/s (Pod)"] = n / secs
        stored = int(min(results["ManagedServices stored"], results["Pods stored"]))
        rng = random.Random(1)

        async def get(_: int) -> None:
            i = rng.randrange(max(stored, 1))
            path = f"{MSVC}/svc-{i}" if rng.random() < 0.5 else f"{PODS}/pod-{i}"
            async with session.get(url + path) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"get failed: {r.status}")

        n, secs = await run_bounded(gets, concurrency, deadline, get)
        results["GET/s"] = n / secs
        t0 = time.perf_counter()
        async with session.get(url + MSVC) as r:
            await r.read()
        results["full LIST of ManagedServices (ms)"] = (time.perf_counter() - t0) * 1000
        results["watch events received"] = sum(counts)
        results["server RSS (MB)"] = rss_mb(pid)
        for w in watches:
            w.cancel()
        await asyncio.gather(*watches, return_exceptions=True)
    return results


async def main(args: argparse.Namespace) -> int:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "serve",
        "--port",
        "0",
        *(["--profile", args.profile] if args.profile else []),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line.startswith(b"READY "):
            print("server did not start", file=sys.stderr)
            return 2
        url = line.split()[1].decode()
        results = await asyncio.wait_for(
            drive(url, proc.pid, args.objects, args.gets, args.concurrency, args.phase_deadline),
            args.phase_deadline * 4 + 60,
        )
    finally:
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    failed = []
    print(f"{'measure':<36}{'value':>12}  target")
    for key, value in results.items():
        target = TARGETS.get(key)
        note = ""
        if target is not None:
            ok = value >= target
            note = f">= {target:,.0f} {'ok' if ok else 'MISSED'}"
            if not ok:
                failed.append(key)
        if key == "server RSS (MB)":
            ok = value < RSS_LIMIT_MB
            note = f"< {RSS_LIMIT_MB:,.0f} {'ok' if ok else 'MISSED'}"
            if not ok:
                failed.append(key)
        print(f"{key:<36}{value:>12,.1f}  {note}")
    full = args.objects >= 10_000
    if not full:
        print("(fewer than 10,000 objects: the memory target is not meaningful)")
    if (
        results.get("ManagedServices stored", 0) < args.objects
        or results.get("Pods stored", 0) < args.objects
    ):
        failed.append("objects stored within the deadline")
    if failed:
        print("MISSED: " + ", ".join(failed))
        return 1
    return 0


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    serve_p = sub.add_parser("serve")
    serve_p.add_argument("--port", type=int, default=0)
    serve_p.add_argument("--profile", help="write the server's cProfile stats to this file")
    parser.add_argument("--objects", type=int, default=10_000, help="ManagedServices and Pods")
    parser.add_argument("--gets", type=int, default=30_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--phase-deadline", type=float, default=60.0)
    parser.add_argument("--profile", help="cProfile the server process into this file")
    args = parser.parse_args()
    if args.command == "serve":
        asyncio.run(serve(args.port, args.profile))
        return 0
    return asyncio.run(main(args))


if __name__ == "__main__":
    sys.exit(cli())
