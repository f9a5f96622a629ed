"""The simulated scheduler against the API: unschedulable pods stay Pending with the real
condition, message and Event, and are scheduled once the node changes to fit them."""

from __future__ import annotations

from typing import Any

from waiting import until

from tend_sim.cluster import SimCluster

NODE = "sim-node-1"


def pod(name: str, **spec: Any) -> dict[str, Any]:
    containers = spec.pop("containers", [{"name": "main", "image": "postgres:16"}])
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": containers, **spec},
    }


def scheduled(cluster: SimCluster, name: str) -> dict[str, Any]:
    current = cluster.store.get(cluster.store.resource("pods"), "default", name)
    for cond in (current.get("status") or {}).get("conditions") or []:
        if cond["type"] == "PodScheduled":
            return dict(cond)
    return {}


def events(cluster: SimCluster, name: str, reason: str) -> list[dict[str, Any]]:
    items, _ = cluster.store.list(cluster.store.resource("events"), "default")
    return [e for e in items if e["involvedObject"]["name"] == name and e["reason"] == reason]


async def test_a_pod_whose_selector_no_node_matches_waits_until_a_node_is_labelled(
    sim_full: SimCluster,
) -> None:
    store = sim_full.store
    store.create(store.resource("pods"), pod("picky", nodeSelector={"disk": "ssd"}))
    cond = await until(
        sim_full, lambda: scheduled(sim_full, "picky"), "PodScheduled=False", satisfied=bool
    )
    message = (
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    )
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", message)
    live = store.get(store.resource("pods"), "default", "picky")
    assert live["status"]["phase"] == "Pending" and not live["spec"].get("nodeName")
    failed = await until(sim_full, lambda: events(sim_full, "picky", "FailedScheduling"), "Event")
    assert (failed[0]["type"], failed[0]["message"]) == ("Warning", message)
    nodes = store.resource("nodes")
    node = store.get(nodes, None, NODE)
    node["metadata"]["labels"]["disk"] = "ssd"
    store.update(nodes, node)
    done = await until(
        sim_full,
        lambda: scheduled(sim_full, "picky"),
        "PodScheduled=True",
        satisfied=lambda c: c.get("status") == "True",
    )
    assert done["status"] == "True"
    assert store.get(store.resource("pods"), "default", "picky")["spec"]["nodeName"] == NODE


async def test_requests_beyond_allocatable_and_untolerated_taints(sim_full: SimCluster) -> None:
    store = sim_full.store
    hungry = [{"name": "main", "image": "postgres:16", "resources": {"requests": {"cpu": "5000"}}}]
    store.create(store.resource("pods"), pod("hungry", containers=hungry))
    cond = await until(sim_full, lambda: scheduled(sim_full, "hungry"), "PodScheduled=False")
    assert cond["message"] == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
        "1 No preemption victims found for incoming pod."
    )
    nodes = store.resource("nodes")
    node = store.get(nodes, None, NODE)
    node["spec"]["taints"] = [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]
    store.update(nodes, node)
    store.create(store.resource("pods"), pod("plain"))
    tolerant = pod("tolerant", tolerations=[{"key": "dedicated", "operator": "Exists"}])
    store.create(store.resource("pods"), tolerant)
    cond = await until(sim_full, lambda: scheduled(sim_full, "plain"), "PodScheduled=False")
    assert cond["message"].startswith(
        "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: db}."
    )
    ok = await until(
        sim_full,
        lambda: scheduled(sim_full, "tolerant"),
        "the tolerant pod is scheduled",
        satisfied=lambda c: c.get("status") == "True",
    )
    assert ok["status"] == "True"


async def test_matching_node_affinity_schedules(sim_full: SimCluster) -> None:
    store = sim_full.store
    term = {
        "matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]
    }
    required = {"nodeSelectorTerms": [term]}
    spec = {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}
    }
    store.create(store.resource("pods"), pod("linux", **spec))
    cond = await until(
        sim_full,
        lambda: scheduled(sim_full, "linux"),
        "scheduled",
        satisfied=lambda c: c.get("status") == "True",
    )
    assert cond["status"] == "True"


async def test_pods_created_together_do_not_overcommit_the_node(sim_full: SimCluster) -> None:
    store = sim_full.store
    heavy = [{"name": "main", "image": "postgres:16", "resources": {"requests": {"cpu": "700"}}}]
    for i in range(4):  # 2,000 cpus: two fit beside each other, the third and fourth do not
        store.create(store.resource("pods"), pod(f"heavy-{i}", containers=heavy))

    def verdicts() -> list[str]:
        return [scheduled(sim_full, f"heavy-{i}").get("status", "") for i in range(4)]

    final = await until(sim_full, verdicts, "all four decided", satisfied=lambda v: all(v))
    assert sorted(final) == ["False", "False", "True", "True"]
