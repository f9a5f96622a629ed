"""The dependency graph between ManagedServices: start order, cycles, missing dependencies.

One `Graph` serves the offline CLI (`tend graph`, `tend check` over a set of files) and the
running operator, which keeps one graph for every ManagedService it watches and updates it on
each watch event. Updates are incremental: `upsert` and `remove` cost O(degree) and keep a
reverse index (`dependents`) so a dependency that becomes ready wakes its dependents at once.
Whole-graph questions (`waves`, `cycles`, `problems`) are computed lazily in O(V + E) and cached
until the next update; `cycle_through` only walks what one service can reach.

Edges point from a service to what it depends on. Only edges to ManagedServices order the start;
edges to plain Services are external (drawn, never blocking offline).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence, Set
from typing import NamedTuple

from tend.api import KIND, Dependency, ManagedService, Reason

MANAGED_SERVICE = KIND
SERVICE = "Service"
ARROW = " → "


class Ref(NamedTuple):
    """What a dependency points at: a ManagedService or a plain Service."""

    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, service: ManagedService) -> Ref:
        return cls(MANAGED_SERVICE, service.namespace, service.name)

    def label(self, namespace: str | None = None) -> str:
        """`name` when in `namespace`, else `namespace/name`."""
        return self.name if self.namespace == namespace else f"{self.namespace}/{self.name}"


class Edge(NamedTuple):
    """`source` waits for `target` to reach `condition` ("Ready" or "Succeeded")."""

    source: Ref
    target: Ref
    condition: str


class Problem(NamedTuple):
    """Why a ManagedService cannot start.

    `reason` is DependencyCycle (message: the path from `ref` back to it, names bare when all
    are in `ref`'s namespace) or DependencyNotFound; `field` is the `spec.dependsOn[i]` at fault.
    """

    ref: Ref
    reason: str
    message: str
    field: str


CYCLE_SHOWN = 8  # members of a long cycle named in a message; the rest are counted


def format_cycle(cycle: Sequence[Ref], namespace: str | None = None) -> str:
    """`a → b → c → a`; names are bare only when every ref is in `namespace`. A long cycle
    is named by its first members and its length (`a → b → … (1000 services) → a`), so a
    status that quotes it stays small whatever the cycle's size."""
    bare = namespace is not None and all(ref.namespace == namespace for ref in cycle)
    names = [ref.name if bare else f"{ref.namespace}/{ref.name}" for ref in cycle]
    if len(names) <= CYCLE_SHOWN + 1:  # the path repeats its start at the end
        return ARROW.join(names)
    members = len(names) - 1
    return ARROW.join([*names[:CYCLE_SHOWN], f"… ({members} services)", names[-1]])


def _field(index: int) -> str:
    return f"spec.dependsOn[{index}]"


Successors = Callable[[Ref], Sequence[Ref]]


def _shortest_cycle(start: Ref, successors: Successors) -> list[Ref] | None:
    """Breadth-first from `start` back to itself: the shortest cycle, as `start, ..., start`."""
    parent: dict[Ref, Ref] = {}
    queue: deque[Ref] = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in successors(node):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                path.reverse()
                path.append(start)
                return path
            if nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    return None


def _within(adjacency: dict[Ref, list[Ref]], members: Set[Ref]) -> Successors:
    """Successors restricted to `members` (one strongly connected component)."""
    return lambda node: [n for n in adjacency[node] if n in members]


def _bfs_tree(root: Ref, successors: Successors) -> dict[Ref, Ref]:
    """Breadth-first tree from root: each reached node -> the node it was reached from."""
    reached_from: dict[Ref, Ref] = {root: root}
    queue: deque[Ref] = deque([root])
    while queue:
        node = queue.popleft()
        for nxt in successors(node):
            if nxt not in reached_from:
                reached_from[nxt] = node
                queue.append(nxt)
    return reached_from


def _erase_loops(walk: Sequence[Ref]) -> list[Ref]:
    """A closed walk `v, ..., v` with every inner loop cut out: an elementary cycle through v."""
    path: list[Ref] = []
    position: dict[Ref, int] = {}
    for node in walk[:-1]:
        if node in position:
            for dropped in path[position[node] + 1 :]:
                del position[dropped]
            del path[position[node] + 1 :]
        else:
            position[node] = len(path)
            path.append(node)
    return [*path, walk[-1]]


def _cover(component: list[Ref], adjacency: dict[Ref, list[Ref]]) -> list[list[Ref]]:
    """Elementary cycles of one component (sorted) such that every member is on one.

    Two breadth-first trees around the smallest member `root` (paths from it, paths to it)
    give each member v a closed walk v -> root -> v; cutting its loops leaves a cycle through v.
    A member with a self-loop gets that loop.
    """
    members = set(component)
    forward = _within(adjacency, members)
    reverse: dict[Ref, list[Ref]] = {member: [] for member in component}
    for member in component:
        for target in forward(member):
            reverse[target].append(member)
    root = component[0]
    from_root = _bfs_tree(root, forward)
    to_root = _bfs_tree(root, reverse.__getitem__)  # node -> next hop towards root

    def towards_root(node: Ref) -> list[Ref]:
        path = [node]
        while path[-1] != root:
            path.append(to_root[path[-1]])
        return path

    cycles: list[list[Ref]] = []
    covered: set[Ref] = set()
    for node in component:
        if node in covered:
            continue
        if node in adjacency[node]:
            cycle = [node, node]
        elif node == root:
            cycle = [root, *towards_root(forward(root)[0])]
        else:
            down = [node]
            while down[-1] != root:
                down.append(from_root[down[-1]])
            down.reverse()  # root ... node
            cycle = _erase_loops(towards_root(node) + down[1:])
        covered.update(cycle)
        body = cycle[:-1]
        start = body.index(min(body))
        body = body[start:] + body[:start]
        cycles.append([*body, body[0]])
    return cycles


def _tarjan(nodes: Iterable[Ref], adjacency: dict[Ref, list[Ref]]) -> list[list[Ref]]:
    """Strongly connected components, iteratively (no recursion limit at any depth)."""
    index: dict[Ref, int] = {}
    low: dict[Ref, int] = {}
    on_stack: set[Ref] = set()
    stack: list[Ref] = []
    components: list[list[Ref]] = []
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(adjacency[root]))]
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(adjacency[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component: list[Ref] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(component)
    return components


class Graph:
    """Dependency edges of ManagedServices, with a reverse index.

    A node is a ManagedService that was `upsert`ed. `exists=False` records its edges (so the
    reverse index stays right) without making it a target anyone can wait for: edges to it count
    as missing, and it takes no part in waves or cycles (e.g. an object being deleted).
    """

    def __init__(self) -> None:
        self._edges: dict[Ref, list[Edge]] = {}
        self._exists: set[Ref] = set()
        self._dependents: dict[Ref, set[Ref]] = {}
        self._adjacency_cache: dict[Ref, list[Ref]] | None = None
        self._components_cache: list[list[Ref]] | None = None
        self._component_of_cache: dict[Ref, frozenset[Ref]] | None = None
        self._waves_cache: list[list[Ref]] | None = None
        self._cycles_cache: list[list[Ref]] | None = None

    # --- updates: O(degree) -------------------------------------------------------------

    @classmethod
    def from_services(cls, services: Iterable[ManagedService]) -> Graph:
        graph = cls()
        for service in services:
            graph.upsert(Ref.of(service), service.spec.depends_on or [])
        return graph

    def upsert(self, ref: Ref, deps: Sequence[Dependency], *, exists: bool = True) -> None:
        """Set the out-edges of a ManagedService, replacing the old ones."""
        edges = [Edge(ref, Ref(*dep.target(ref.namespace)), dep.wanted.value) for dep in deps]
        old_targets = {edge.target for edge in self._edges.get(ref, ())}
        new_targets = {edge.target for edge in edges}
        for target in old_targets - new_targets:
            self._unlink(ref, target)
        for target in new_targets - old_targets:
            self._dependents.setdefault(target, set()).add(ref)
        self._edges[ref] = edges
        if exists:
            self._exists.add(ref)
        else:
            self._exists.discard(ref)
        self._invalidate()

    def remove(self, ref: Ref) -> None:
        """The service is gone; its dependents now have a missing dependency."""
        for target in {edge.target for edge in self._edges.pop(ref, ())}:
            self._unlink(ref, target)
        self._exists.discard(ref)
        self._invalidate()

    def _unlink(self, source: Ref, target: Ref) -> None:
        sources = self._dependents.get(target)
        if sources is not None:
            sources.discard(source)
            if not sources:
                del self._dependents[target]

    def _invalidate(self) -> None:
        self._adjacency_cache = None
        self._components_cache = None
        self._component_of_cache = None
        self._waves_cache = None
        self._cycles_cache = None

    # --- local questions ----------------------------------------------------------------

    def __contains__(self, ref: object) -> bool:
        return ref in self._exists

    def __len__(self) -> int:
        return len(self._exists)

    def nodes(self) -> list[Ref]:
        """Every existing ManagedService, sorted."""
        return sorted(self._exists)

    def dependencies(self, ref: Ref) -> list[Edge]:
        """Out-edges of `ref` in spec order: element i is `spec.dependsOn[i]`."""
        return list(self._edges.get(ref, ()))

    def dependents(self, ref: Ref) -> set[Ref]:
        """Who waits on `ref` (whether or not `ref` exists): the services to wake."""
        return set(self._dependents.get(ref, ()))

    def downstream(self, ref: Ref, limit: int = 10_000) -> list[Ref]:
        """Everyone who waits on `ref`, directly or through others (breadth first, nearest
        first, at most `limit`): the blast radius of its failure."""
        seen: set[Ref] = {ref}
        order: list[Ref] = []
        frontier = [ref]
        while frontier and len(order) < limit:
            following: list[Ref] = []
            for node in frontier:
                for dependent in sorted(self._dependents.get(node, ())):
                    if dependent not in seen and dependent in self._exists:
                        seen.add(dependent)
                        order.append(dependent)
                        following.append(dependent)
            frontier = following
        return order[:limit]

    def _successors(self, ref: Ref) -> list[Ref]:
        """Existing ManagedServices `ref` depends on, sorted and distinct."""
        return sorted(
            {
                edge.target
                for edge in self._edges.get(ref, ())
                if edge.target.kind == MANAGED_SERVICE and edge.target in self._exists
            }
        )

    def cycle_through(self, ref: Ref) -> list[Ref] | None:
        """The shortest cycle through `ref`, as `ref, b, ..., ref`; None when there is none.

        Walks only what `ref` can reach (within its component when that is known).
        """
        if ref not in self._exists:
            return None
        component_of = self._component_of_cache
        if component_of is not None:
            component = component_of.get(ref)
            if component is None:
                return None
            adjacency = self._adjacency()
            return _shortest_cycle(ref, _within(adjacency, component))
        return _shortest_cycle(ref, self._successors)

    def problems_for(self, ref: Ref) -> list[Problem]:
        """Missing dependencies and the cycle `ref` is on, in spec order."""
        if ref not in self._exists:
            return []
        found: list[tuple[int, Problem]] = [
            (
                index,
                Problem(
                    ref,
                    Reason.DEPENDENCY_NOT_FOUND.value,
                    f"ManagedService {edge.target.namespace}/{edge.target.name} not found",
                    _field(index),
                ),
            )
            for index, edge in self._missing_of(ref)
        ]
        cycle = self.cycle_through(ref)
        if cycle is not None:
            index = next(i for i, e in enumerate(self._edges[ref]) if e.target == cycle[1])
            message = format_cycle(cycle, ref.namespace)
            found.append(
                (index, Problem(ref, Reason.DEPENDENCY_CYCLE.value, message, _field(index)))
            )
        found.sort(key=lambda item: item[0])
        return [problem for _, problem in found]

    def _missing_of(self, ref: Ref) -> list[tuple[int, Edge]]:
        """(index in spec.dependsOn, edge) of each ManagedService target that is not known."""
        return [
            (index, edge)
            for index, edge in enumerate(self._edges.get(ref, ()))
            if edge.target.kind == MANAGED_SERVICE and edge.target not in self._exists
        ]

    # --- whole-graph questions: O(V + E), cached until the next update -------------------

    def _adjacency(self) -> dict[Ref, list[Ref]]:
        if self._adjacency_cache is None:
            self._adjacency_cache = {ref: self._successors(ref) for ref in self._exists}
        return self._adjacency_cache

    def _components(self) -> list[list[Ref]]:
        """Non-trivial strongly connected components (size > 1, or a self-loop), sorted."""
        if self._components_cache is None:
            adjacency = self._adjacency()
            components = [
                sorted(component)
                for component in _tarjan(sorted(self._exists), adjacency)
                if len(component) > 1 or component[0] in adjacency[component[0]]
            ]
            components.sort()
            self._components_cache = components
            self._component_of_cache = {
                member: frozen for frozen in map(frozenset, components) for member in frozen
            }
        return self._components_cache

    def cycles(self) -> list[list[Ref]]:
        """Cycles found by SCC (Tarjan), each reported once, as paths `a, b, ..., a`.

        Every node on a cycle lies on at least one reported cycle (all elementary cycles are
        not enumerated: there can be exponentially many). Each starts at its smallest node.
        Linear in the size of each component plus the length of the cycles reported.
        """
        if self._cycles_cache is None:
            adjacency = self._adjacency()
            found = [
                cycle for component in self._components() for cycle in _cover(component, adjacency)
            ]
            found.sort()
            self._cycles_cache = found
        return [list(cycle) for cycle in self._cycles_cache]

    def waves(self) -> list[list[Ref]]:
        """Start order: wave 0 has no ManagedService dependencies, wave k depends only on
        waves before k. Services in or behind a cycle, or behind a missing dependency, are
        left out (see `cycles`, `missing`, `blocked`). Each wave is sorted."""
        if self._waves_cache is None:
            adjacency = self._adjacency()
            waiting = {ref: len(targets) for ref, targets in adjacency.items()}
            needed_by: dict[Ref, list[Ref]] = {}
            for ref, targets in adjacency.items():
                for target in targets:
                    needed_by.setdefault(target, []).append(ref)
            stuck = {edge.source for edge in self.missing()}
            waves: list[list[Ref]] = []
            current = sorted(ref for ref, n in waiting.items() if n == 0 and ref not in stuck)
            while current:
                waves.append(current)
                following: list[Ref] = []
                for ref in current:
                    for dependent in needed_by.get(ref, ()):
                        waiting[dependent] -= 1
                        if waiting[dependent] == 0 and dependent not in stuck:
                            following.append(dependent)
                following.sort()
                current = following
            self._waves_cache = waves
        return [list(wave) for wave in self._waves_cache]

    def blocked(self) -> list[Ref]:
        """Existing services in no wave: in or behind a cycle, or behind a missing dependency."""
        placed = {ref for wave in self.waves() for ref in wave}
        return sorted(self._exists - placed)

    def missing(self) -> list[Edge]:
        """Edges of existing services whose ManagedService target is not known, sorted."""
        return sorted(
            edge
            for ref in self._exists
            for edge in self._edges[ref]
            if edge.target.kind == MANAGED_SERVICE and edge.target not in self._exists
        )

    def services(self) -> list[Ref]:
        """Plain Services that existing ManagedServices depend on (external), sorted."""
        return sorted(
            {
                edge.target
                for ref in self._exists
                for edge in self._edges[ref]
                if edge.target.kind == SERVICE
            }
        )

    def problems(self) -> list[Problem]:
        """Every DependencyNotFound and DependencyCycle, by service then spec order.

        Names the shortest cycle through each service on one (a breadth-first search each):
        cheap for real graphs, quadratic for one giant strongly connected component.
        """
        self._components()  # so cycle_through skips the services on no cycle
        return [problem for ref in sorted(self._exists) for problem in self.problems_for(ref)]

    def cycle_edges(self) -> set[tuple[Ref, Ref]]:
        """(source, target) of every edge that lies on a cycle (inside one component)."""
        self._components()
        component_of = self._component_of_cache or {}
        adjacency = self._adjacency()
        return {
            (ref, target)
            for ref, component in component_of.items()
            for target in adjacency[ref]
            if target in component
        }

    def common_namespace(self) -> str | None:
        """The one namespace every node and target is in, if there is one."""
        namespaces = {ref.namespace for ref in self._edges} | {
            ref.namespace for ref in self._dependents
        }
        return namespaces.pop() if len(namespaces) == 1 else None


# --- rendering ------------------------------------------------------------------------------


def render_text(graph: Graph) -> str:
    """Waves, then cycles, missing dependencies, blocked services and external Services."""
    namespace = graph.common_namespace()
    lines: list[str] = []
    waves = graph.waves()
    if not waves and not len(graph):
        lines.append("no ManagedServices")
    for number, wave in enumerate(waves):
        lines.append(f"wave {number}: " + ", ".join(ref.label(namespace) for ref in wave))
    cycles = graph.cycles()
    if cycles:
        lines.append("cycles:")
        lines.extend(f"  {format_cycle(cycle, namespace)}" for cycle in cycles)
    missing = [
        (ref, index, edge) for ref in graph.nodes() for index, edge in graph._missing_of(ref)
    ]
    if missing:
        lines.append("missing dependencies:")
        lines.extend(
            f"  {ref.label(namespace)} → {edge.target.label(namespace)}"
            f" ({_field(index)}: not found)"
            for ref, index, edge in missing
        )
    in_cycle = {ref for cycle in cycles for ref in cycle}
    behind = [ref for ref in graph.blocked() if ref not in in_cycle]
    if behind:
        lines.append("blocked (behind a cycle or a missing dependency):")
        lines.extend(f"  {ref.label(namespace)}" for ref in behind)
    services = graph.services()
    if services:
        lines.append("external services (not ordered):")
        lines.extend(f"  {ref.label(namespace)}" for ref in services)
    return "\n".join(lines) + "\n"


def _drawn(graph: Graph) -> tuple[list[Ref], list[Edge], set[tuple[Ref, Ref]]]:
    """Nodes (services, their targets), distinct edges and cycle edges, in a stable order."""
    nodes = set(graph.nodes())
    edges: dict[tuple[Ref, Ref], Edge] = {}
    for ref in graph.nodes():
        for edge in graph.dependencies(ref):
            nodes.add(edge.target)
            edges.setdefault((edge.source, edge.target), edge)
    return sorted(nodes), [edges[key] for key in sorted(edges)], graph.cycle_edges()


def _node_id(ref: Ref) -> str:
    prefix = "svc" if ref.kind == SERVICE else "msvc"
    return f"{prefix}:{ref.namespace}/{ref.name}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(graph: Graph) -> str:
    """Graphviz: boxes for ManagedServices, ellipses for Services, dashed when missing,
    edges from dependent to dependency, red where on a cycle."""
    namespace = graph.common_namespace()
    nodes, edges, on_cycle = _drawn(graph)
    lines = ["digraph tend {", "  rankdir=BT;", "  node [shape=box];"]
    for ref in nodes:
        attrs = [f"label={_quote(ref.label(namespace))}"]
        if ref.kind == SERVICE:
            attrs.append("shape=ellipse")
        elif ref not in graph:
            attrs.append('style=dashed, xlabel="not found"')
        lines.append(f"  {_quote(_node_id(ref))} [{', '.join(attrs)}];")
    for edge in edges:
        attrs = []
        if edge.condition == "Succeeded":
            attrs.append('label="Succeeded"')
        if edge.target.kind == SERVICE:
            attrs.append("style=dashed")
        if (edge.source, edge.target) in on_cycle:
            attrs.append("color=red, penwidth=2")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(
            f"  {_quote(_node_id(edge.source))} -> {_quote(_node_id(edge.target))}{suffix};"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_mermaid(graph: Graph) -> str:
    """Mermaid flowchart: rectangles for ManagedServices, stadiums for Services, missing
    ones dashed, cycle edges red."""
    namespace = graph.common_namespace()
    nodes, edges, on_cycle = _drawn(graph)
    ids = {ref: f"n{number}" for number, ref in enumerate(nodes)}
    lines = ["flowchart BT"]
    missing: list[str] = []
    for ref in nodes:
        label = ref.label(namespace).replace('"', "#quot;")
        if ref.kind == SERVICE:
            lines.append(f'  {ids[ref]}(["{label}"])')
        else:
            lines.append(f'  {ids[ref]}["{label}"]')
            if ref not in graph:
                missing.append(ids[ref])
    red: list[str] = []
    for number, edge in enumerate(edges):
        arrow = "-.->" if edge.target.kind == SERVICE else "-->"
        label = "|Succeeded|" if edge.condition == "Succeeded" else ""
        lines.append(f"  {ids[edge.source]} {arrow}{label} {ids[edge.target]}")
        if (edge.source, edge.target) in on_cycle:
            red.append(str(number))
    if missing:
        lines.append("  classDef missing stroke-dasharray: 5 5")
        lines.append(f"  class {','.join(missing)} missing")
    if red:
        lines.append(f"  linkStyle {','.join(red)} stroke:red,stroke-width:2px")
    return "\n".join(lines) + "\n"
