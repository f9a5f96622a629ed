"""Benchmark tend.logic.graph at the operator's scale: 10,000 ManagedServices in one graph.

Run: python bench/bench_graph.py [--seed N]

Graphs:
  forest    100 chains side by side, each 100 deep (100 waves of 100)
  dag       10,000 nodes, each depending on up to 3 random earlier nodes
  chain     one chain 10,000 deep (no recursion limit anywhere)
  dag+cycle the dag with one back edge closing a long cycle
  random    10,000 nodes, 3 random dependencies each: one giant strongly connected component

Times (best of a few runs; "cold" means the caches were invalidated by an upsert first):
  from_services   build the graph from parsed ManagedService objects
  waves, cycles   each cold
  waves+cycles    both, cold: the figure the operator pays after each watch event when it asks
  upsert          one upsert of an existing node with new edges (mean over many)
  cycle_through   for the deepest node, cold (walks what the node can reach)

Exits 1 when waves+cycles for any 10,000-node graph takes 1 s or more.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable

from tend.api import Dependency, ManagedService
from tend.logic.graph import Graph, Ref

NAMESPACE = "bench"
LIMIT_SECONDS = 1.0
REPEATS = 5


def manifest(name: str, deps: list[str]) -> ManagedService:
    return ManagedService.model_validate(
        {
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"image": "sim/ready:1s", "dependsOn": [{"name": d} for d in deps]},
        }
    )


def forest(width: int = 100, depth: int = 100) -> dict[str, list[str]]:
    return {
        f"t{tree:03}-{level:03}": [f"t{tree:03}-{level - 1:03}"] if level else []
        for tree in range(width)
        for level in range(depth)
    }


def random_dag(rng: random.Random, size: int = 10_000, fan_out: int = 3) -> dict[str, list[str]]:
    return {
        f"d{i:05}": [f"d{j:05}" for j in sorted(set(rng.sample(range(i), min(i, fan_out))))]
        for i in range(size)
    }


def random_graph(rng: random.Random, size: int = 10_000, fan_out: int = 3) -> dict[str, list[str]]:
    return {
        f"r{i:05}": [
            f"r{j:05}" for j in sorted(set(rng.sample(range(size), fan_out)) - {i})
        ]  # the API refuses self-dependencies
        for i in range(size)
    }


def chain(size: int = 10_000) -> dict[str, list[str]]:
    return {f"c{i:05}": [f"c{i - 1:05}"] if i else [] for i in range(size)}


def with_back_edge(edges: dict[str, list[str]]) -> dict[str, list[str]]:
    names = sorted(edges)
    first, last = names[0], names[-1]
    return {**edges, first: [*edges[first], last]}


def best(run: Callable[[], object], prepare: Callable[[], object] = lambda: None) -> float:
    """Best of REPEATS runs, garbage collection off while timing (as timeit does)."""
    times = []
    for _ in range(REPEATS):
        prepare()
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return min(times)


def measure(label: str, edges: dict[str, list[str]], rng: random.Random) -> dict[str, object]:
    services = [manifest(name, deps) for name, deps in edges.items()]
    graph = Graph.from_services(services)
    names = sorted(edges)
    deepest = Ref("ManagedService", NAMESPACE, names[-1])
    touch_ref = Ref("ManagedService", NAMESPACE, names[0])
    touch_deps = services[0].spec.depends_on or []

    def invalidate() -> None:
        graph.upsert(touch_ref, touch_deps)  # same edges: only the caches are dropped

    def both() -> None:
        graph.waves()
        graph.cycles()

    updates = [
        (
            Ref("ManagedService", NAMESPACE, name),
            [Dependency(name=d) for d in rng.sample(names, 3)],
        )
        for name in rng.sample(names, 1000)
    ]
    fresh = [graph]

    def rebuild() -> None:
        fresh[0] = Graph.from_services(services)

    def upsert_all() -> None:
        for ref, deps in updates:
            fresh[0].upsert(ref, deps)

    upsert_batch = best(upsert_all, rebuild)

    return {
        "graph": label,
        "nodes": len(graph),
        "edges": sum(len(deps) for deps in edges.values()),
        "waves": len(graph.waves()),
        "cycles": len(graph.cycles()),
        "from_services ms": best(lambda: Graph.from_services(services)) * 1e3,
        "waves ms": best(graph.waves, invalidate) * 1e3,
        "cycles ms": best(graph.cycles, invalidate) * 1e3,
        "waves+cycles ms": best(both, invalidate) * 1e3,
        "upsert µs": upsert_batch / len(updates) * 1e6,
        "cycle_through ms": best(lambda: graph.cycle_through(deepest), invalidate) * 1e3,
    }


def table(rows: list[dict[str, object]]) -> str:
    columns = list(rows[0])
    cells = [
        [f"{row[c]:.2f}" if isinstance(row[c], float) else str(row[c]) for c in columns]
        for row in rows
    ]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(v.rjust(w) for v, w in zip(line, widths, strict=True)) for line in cells)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    dag = random_dag(rng)
    rows = [
        measure("forest 100x100", forest(), rng),
        measure("random dag", dag, rng),
        measure("chain 10000", chain(), rng),
        measure("dag+cycle", with_back_edge(dag), rng),
        measure("random", random_graph(rng), rng),
    ]
    print(table(rows))
    slow = [row for row in rows if float(str(row["waves+cycles ms"])) >= LIMIT_SECONDS * 1e3]
    if slow:
        names = ", ".join(str(row["graph"]) for row in slow)
        print(f"FAIL: waves+cycles took >= {LIMIT_SECONDS:.0f} s for: {names}", file=sys.stderr)
        return 1
    print(f"ok: waves+cycles under {LIMIT_SECONDS:.0f} s for every graph")
    return 0


if __name__ == "__main__":
    sys.exit(main())
