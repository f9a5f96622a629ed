"""kube-scheduler's filters and FitError messages (scheduling.py), as tables."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tend_sim.scheduling import Usage, filter_node, fit_error, pod_requests, tolerates


def node(name: str = "n1", labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": spec,
        "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "3"}},
    }


def pod(**spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "main", "image": "x"}])
    return {"metadata": {"name": "p"}, "spec": spec}


def expr(key: str, op: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": op, **({"values": list(values)} if values else {})}


def affinity(*terms: dict[str, Any]) -> dict[str, Any]:
    required = {"nodeSelectorTerms": list(terms)}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}


LABELS = {"zone": "a", "gen": "5"}


@pytest.mark.parametrize(
    ("term", "fits"),
    [
        ({"matchExpressions": [expr("zone", "In", "a", "b")]}, True),
        ({"matchExpressions": [expr("zone", "In", "b")]}, False),
        ({"matchExpressions": [expr("zone", "NotIn", "b")]}, True),
        ({"matchExpressions": [expr("disk", "NotIn", "ssd")]}, True),
        ({"matchExpressions": [expr("zone", "Exists")]}, True),
        ({"matchExpressions": [expr("zone", "DoesNotExist")]}, False),
        ({"matchExpressions": [expr("gen", "Gt", "4")]}, True),
        ({"matchExpressions": [expr("gen", "Gt", "5")]}, False),
        ({"matchExpressions": [expr("gen", "Lt", "6")]}, True),
        ({"matchExpressions": [expr("zone", "Gt", "1")]}, False),  # not an integer
        ({"matchFields": [expr("metadata.name", "In", "n1")]}, True),
        ({"matchFields": [expr("metadata.name", "NotIn", "n1")]}, False),
        ({}, False),  # an empty term matches nothing
    ],
)
def test_required_node_affinity(term: dict[str, Any], fits: bool) -> None:
    reasons = filter_node(pod(affinity=affinity(term)), node(labels=LABELS), Usage())
    assert reasons == ([] if fits else ["node(s) didn't match Pod's node affinity/selector"])


def test_terms_are_ored_and_node_selector_anded() -> None:
    terms = affinity(
        {"matchExpressions": [expr("zone", "In", "b")]},
        {"matchExpressions": [expr("zone", "In", "a")]},
    )
    assert filter_node(pod(affinity=terms), node(labels=LABELS), Usage()) == []
    both = pod(affinity=terms, nodeSelector={"disk": "ssd"})
    assert filter_node(both, node(labels=LABELS), Usage()) != []


@pytest.mark.parametrize(
    ("toleration", "ok"),
    [
        ({"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}, True),
        ({"key": "dedicated", "value": "db"}, True),  # empty operator is Equal, any effect
        ({"key": "dedicated", "value": "web"}, False),
        ({"key": "dedicated", "operator": "Exists"}, True),
        ({"operator": "Exists"}, True),  # tolerates everything
        ({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}, False),
    ],
)
def test_tolerations(toleration: dict[str, Any], ok: bool) -> None:
    taint = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}
    assert tolerates(toleration, taint) is ok


def test_taints_refuse_unless_tolerated_and_prefer_no_schedule_is_ignored() -> None:
    tainted = node(taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    assert filter_node(pod(), tainted, Usage()) == ["node(s) had untolerated taint {dedicated: db}"]
    tolerant = pod(tolerations=[{"key": "dedicated", "operator": "Exists"}])
    assert filter_node(tolerant, tainted, Usage()) == []
    soft = node(taints=[{"key": "k", "value": "v", "effect": "PreferNoSchedule"}])
    assert filter_node(pod(), soft, Usage()) == []


def test_resources_against_allocatable_less_what_is_bound() -> None:
    big = pod(containers=[{"name": "a", "resources": {"requests": {"cpu": "1500m"}}}])
    used = Usage()
    assert filter_node(big, node(), used) == []
    used.add(pod_requests(big["spec"]))
    assert filter_node(big, node(), used) == ["Insufficient cpu"]
    huge = pod(containers=[{"name": "a", "resources": {"limits": {"memory": "5Gi"}}}])
    assert filter_node(huge, node(), Usage()) == ["Insufficient memory"]
    gpu = pod(containers=[{"name": "a", "resources": {"requests": {"nvidia.com/gpu": "1"}}}])
    assert filter_node(gpu, node(), Usage()) == ["Insufficient nvidia.com/gpu"]
    full = Usage(pods=3)
    assert filter_node(pod(), node(), full) == ["Too many pods"]


def test_pod_requests_sum_containers_and_take_the_largest_init_container() -> None:
    spec = {
        "containers": [
            {"name": "a", "resources": {"requests": {"cpu": "100m"}}},
            {"name": "b", "resources": {"requests": {"cpu": "200m"}}},
        ],
        "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1"}}}],
        "overhead": {"cpu": "10m"},
    }
    assert pod_requests(spec) == {"cpu": Decimal("1.01")}


def test_fit_error_messages() -> None:
    assert fit_error(1, {"n1": ["node(s) didn't match Pod's node affinity/selector"]}) == (
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    )
    reasons = {
        "n1": ["Insufficient cpu", "Insufficient memory"],
        "n2": ["Insufficient cpu"],
        "n3": ["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"],
    }
    assert fit_error(3, reasons) == (
        "0/3 nodes are available: 1 Insufficient memory, "
        "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 Insufficient cpu. preemption: 0/3 nodes are available: "
        "1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod."
    )
