"""kube-scheduler's filters, as pure functions over a pod and the nodes.

The default profile's Filter plugins in their order (the first that refuses a node gives that
node's reason): NodeUnschedulable, NodeName, TaintToleration, NodeAffinity (nodeSelector and
required node affinity: matchExpressions In/NotIn/Exists/DoesNotExist/Gt/Lt, matchFields
metadata.name), NodeResourcesFit (requests against allocatable less what the node's other
pods request; "Too many pods"). A pod no node fits gets FitError's message with the default
preemption plugin's PostFilter verdict:

    0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.
    preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.

(pkg/scheduler/framework/types.go FitError.Error, plugins/defaultpreemption). Scores: the
feasible node with the most room left (LeastAllocated, cpu and memory), ties by name.
Preferred affinity, pod (anti-)affinity, topology spread, volumes and ports are not
considered.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tend_sim.quantity import QuantityError, parse_quantity, quantity_text

Obj = dict[str, Any]

MISMATCH = "node(s) didn't match Pod's node affinity/selector"
NODE_NAME = "node(s) didn't match the requested node name"
UNSCHEDULABLE = "node(s) were unschedulable"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
# Reasons preemption cannot help with (UnschedulableAndUnresolvable).
_UNRESOLVABLE_PREFIXES = (MISMATCH, NODE_NAME, UNSCHEDULABLE, "node(s) had untolerated taint")


@dataclass
class Usage:
    """What the pods bound to one node request (the scheduler cache's NodeInfo)."""

    pods: int = 0
    requested: defaultdict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def add(self, requests: dict[str, Decimal], sign: int = 1) -> None:
        self.pods += sign
        for name, value in requests.items():
            self.requested[name] += sign * value


def _amount(value: Any) -> Decimal:
    try:
        return parse_quantity(quantity_text(value)).value
    except QuantityError:
        return Decimal(0)


def pod_requests(spec: Obj) -> dict[str, Decimal]:
    """computePodResourceRequest: the containers' sum, at least each init container's, plus
    overhead; a container's limit stands in for a missing request (as Pod defaulting does)."""
    total: defaultdict[str, Decimal] = defaultdict(Decimal)
    for container in spec.get("containers") or []:
        for name, value in _requests(container).items():
            total[name] += value
    for container in spec.get("initContainers") or []:
        for name, value in _requests(container).items():
            total[name] = max(total[name], value)
    for name, value in (spec.get("overhead") or {}).items():
        total[name] += _amount(value)
    return dict(total)


def _requests(container: Obj) -> dict[str, Decimal]:
    resources = container.get("resources") or {}
    merged = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    return {name: _amount(value) for name, value in merged.items()}


def _label_requirement(labels: dict[str, str], req: Obj) -> bool:
    key, op = req.get("key", ""), req.get("operator", "")
    values = [str(v) for v in req.get("values") or []]
    present = key in labels
    if op == "In":
        return present and labels[key] in values
    if op == "NotIn":
        return not present or labels[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and len(values) == 1:
        try:
            have, want = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def _field_requirement(node: Obj, req: Obj) -> bool:
    if req.get("key") != "metadata.name":
        return False
    name, values = node["metadata"]["name"], req.get("values") or []
    if req.get("operator") == "In":
        return name in values
    if req.get("operator") == "NotIn":
        return name not in values
    return False


def _term_matches(node: Obj, labels: dict[str, str], term: Obj) -> bool:
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not expressions and not fields:
        return False  # an empty term matches no node
    return all(_label_requirement(labels, r) for r in expressions) and all(
        _field_requirement(node, r) for r in fields
    )


def matches_affinity(pod_spec: Obj, node: Obj) -> bool:
    """nodeSelector and requiredDuringSchedulingIgnoredDuringExecution."""
    labels = node["metadata"].get("labels") or {}
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if required is None:
        return True
    return any(_term_matches(node, labels, t) for t in required.get("nodeSelectorTerms") or [])


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """v1.Toleration.ToleratesTaint."""
    effect, key = toleration.get("effect") or "", toleration.get("key") or ""
    if effect and effect != taint.get("effect"):
        return False
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated_taint(pod_spec: Obj, node: Obj) -> Obj | None:
    """The first NoSchedule/NoExecute taint no toleration of the pod tolerates."""
    tolerations = pod_spec.get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return dict(taint)
    return None


def _insufficient(requests: dict[str, Decimal], node: Obj, usage: Usage) -> list[str]:
    allocatable = {
        k: _amount(v) for k, v in ((node.get("status") or {}).get("allocatable") or {}).items()
    }
    used, count = usage.requested, usage.pods
    reasons = []
    if count + 1 > allocatable.get("pods", Decimal(0)):
        reasons.append("Too many pods")
    for name in ("cpu", "memory", "ephemeral-storage"):
        want = requests.get(name, Decimal(0))
        if want > 0 and want > allocatable.get(name, Decimal(0)) - used[name]:
            reasons.append(f"Insufficient {name}")
    for name, want in sorted(requests.items()):
        if name in ("cpu", "memory", "ephemeral-storage", "pods") or want <= 0:
            continue
        if want > allocatable.get(name, Decimal(0)) - used[name]:
            reasons.append(f"Insufficient {name}")
    return reasons


def filter_node(pod: Obj, node: Obj, usage: Usage) -> list[str]:
    """The reasons `node` cannot take `pod` (empty: it fits)."""
    spec = pod.get("spec") or {}
    node_spec = node.get("spec") or {}
    if node_spec.get("unschedulable") and not any(
        tolerates(t, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"})
        for t in spec.get("tolerations") or []
    ):
        return [UNSCHEDULABLE]
    wanted = spec.get("nodeName")
    if wanted and wanted != node["metadata"]["name"]:
        return [NODE_NAME]
    taint = untolerated_taint(spec, node)
    if taint is not None:
        return [f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"]
    if not matches_affinity(spec, node):
        return [MISMATCH]
    return _insufficient(pod_requests(spec), node, usage)


def fit_error(total_nodes: int, reasons_by_node: dict[str, list[str]]) -> str:
    """FitError.Error() followed by the default preemption plugin's message."""
    counts: Counter[str] = Counter(r for reasons in reasons_by_node.values() for r in reasons)
    histogram = sorted(f"{n} {reason}" for reason, n in counts.items())
    message = f"0/{total_nodes} nodes are available:"
    if histogram:
        message += f" {', '.join(histogram)}."
    verdicts: Counter[str] = Counter()
    for reasons in reasons_by_node.values():
        unresolvable = any(r.startswith(_UNRESOLVABLE_PREFIXES) for r in reasons)
        verdicts[NOT_HELPFUL if unresolvable else NO_VICTIMS] += 1
    preemption = ", ".join(sorted(f"{n} {v}" for v, n in verdicts.items()))
    return f"{message} preemption: 0/{total_nodes} nodes are available: {preemption}."


def score(pod: Obj, node: Obj, usage: Usage) -> Decimal:
    """LeastAllocated over cpu and memory: the share left free after placing the pod."""
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    used = defaultdict(Decimal, pod_requests(pod.get("spec") or {}))
    for name, value in usage.requested.items():
        used[name] += value
    total = Decimal(0)
    for name in ("cpu", "memory"):
        capacity = _amount(allocatable.get(name, 0))
        if capacity > 0:
            total += (capacity - used[name]) / capacity
    return total
