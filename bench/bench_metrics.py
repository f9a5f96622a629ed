"""Rendering /metrics: the per-service series of N ManagedServices, computed at scrape time.

    .venv/bin/python bench/bench_metrics.py --services 10000

Builds N ManagedService bodies as the operator caches them (status with phase, conditions,
restarts by reason, a budget, some blocked), registers them with one operator's `Metrics`
and times `Metrics.render()`, what `tend run` serves per scrape: once with every service
changed since the last scrape (nothing formatted can be reused: the worst case), and once
with none changed. The target (issue: Metrics and monitoring) is under 200 ms at 10,000
services; the script exits 1 if the worst case misses it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from tend.runtime.metrics import Metrics

TARGET_MS = 200.0
PHASES = ("Running", "Running", "Running", "Degraded", "Progressing", "Blocked")


def body(i: int) -> dict[str, Any]:
    phase = PHASES[i % len(PHASES)]
    ready = phase == "Running"
    return {
        "apiVersion": "tend.dev/v1alpha1",
        "kind": "ManagedService",
        "metadata": {"namespace": f"team-{i % 50}", "name": f"svc-{i}", "generation": 3},
        "spec": {
            "image": f"ghcr.io/example/svc-{i % 200}:1.{i % 7}",
            "restartPolicy": {"policy": "Always", "maxRestarts": 5, "window": "10m"},
        },
        "status": {
            "phase": phase,
            "observedGeneration": 3,
            "conditions": [
                {"type": "Ready", "status": "True" if ready else "False", "reason": "Reconciled"}
            ],
            "restarts": {
                "total": i % 9,
                "byReason": {"CrashLoop": i % 5, "OOMKilled": i % 3} if i % 4 else {},
                "budgetRemaining": 5 - (i % 6),
            },
            "blockedBy": [{"name": "db"}] if phase == "Blocked" else [],
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    services = [body(i) for i in range(args.services)]
    metrics = Metrics()
    metrics.collect_from(services=lambda: list(services), queue=lambda: (0, []))
    cold, size = [], 0
    for _ in range(args.runs):
        # Every service changed since the last scrape: nothing formatted can be reused.
        for item in services:
            item["metadata"]["resourceVersion"] = str(time.perf_counter_ns())
        started = time.perf_counter()
        metrics.render()
        cold.append((time.perf_counter() - started) * 1000)
    warm = []
    for _ in range(args.runs):
        started = time.perf_counter()
        size = len(metrics.render())
        warm.append((time.perf_counter() - started) * 1000)
    print(f"{args.services} services: {size / 1e6:.1f} MB per scrape (target < {TARGET_MS:.0f} ms)")
    for name, times in (("every service changed", cold), ("none changed", warm)):
        times.sort()
        p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
        print(
            f"  {name:>22}: p50 {statistics.median(times):.0f} ms, p99 {p99:.0f} ms, "
            f"max {times[-1]:.0f} ms over {len(times)} renders"
        )
    return 0 if max(cold) < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
