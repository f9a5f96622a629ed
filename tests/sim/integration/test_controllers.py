"""Deployment, ReplicaSet, Job and EndpointSlice controllers on the store, with the simulated
kubelet, at 100x speed: rollouts, scaling, Job outcomes and endpoints that follow readiness."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from waiting import until

from tend_sim.clock import SimClock
from tend_sim.controllers import Controllers
from tend_sim.controllers.base import HASH_LABEL, template_hash
from tend_sim.controllers.deployment import REVISION
from tend_sim.errors import ApiError
from tend_sim.store import Store

Obj = dict[str, Any]
NS = "default"


@dataclass
class Env:
    store: Store
    clock: SimClock

    def rt(self, name: str, group: str = "") -> Any:
        return self.store.resource(name, group)

    def get(self, resource: str, name: str, group: str = "") -> Obj | None:
        try:
            return self.store.get(self.rt(resource, group), NS, name)
        except ApiError:
            return None

    def list(self, resource: str, group: str = "", selector: str | None = None) -> list[Obj]:
        items, _ = self.store.list(self.rt(resource, group), NS, label_selector=selector)
        return items

    def events(self, name: str) -> list[Obj]:
        return [e for e in self.list("events") if e["involvedObject"]["name"] == name]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    clock = SimClock(speed=100)
    store = Store(now=clock.now)
    controllers = Controllers(store, clock)
    await controllers.start()
    try:
        yield Env(store, clock)
    finally:
        await controllers.stop()


def container(image: str, **extra: Any) -> Obj:
    return {
        "name": "main",
        "image": image,
        "ports": [{"name": "http", "containerPort": 8080}],
        **extra,
    }


def deployment(name: str, image: str, replicas: int = 2, **spec: Any) -> Obj:
    return {
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container(image)]},
            },
            **spec,
        },
    }


def job(name: str, image: str, restart: str = "Never", **spec: Any) -> Obj:
    return {
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "template": {
                "spec": {"restartPolicy": restart, "containers": [container(image)]},
            },
            **spec,
        },
    }


def conditions(obj: Obj | None) -> dict[str, Obj]:
    return {c["type"]: c for c in ((obj or {}).get("status") or {}).get("conditions") or []}


def ready(pod: Obj) -> bool:
    return conditions(pod).get("Ready", {}).get("status") == "True"


def rolled_out(d: Obj | None, generation: int = 1) -> bool:
    d = d or {}
    status = d.get("status") or {}
    progressing = conditions(d).get("Progressing", {})
    return bool(
        status.get("observedGeneration") == generation
        and status.get("availableReplicas") == d["spec"]["replicas"]
        and status.get("updatedReplicas") == d["spec"]["replicas"]
        and status.get("replicas") == d["spec"]["replicas"]
        and progressing.get("reason") == "NewReplicaSetAvailable"
    )


async def until_rolled_out(env: Env, name: str, generation: int = 1) -> Obj:
    return await until(
        env.store,
        lambda: env.get("deployments", name, "apps"),
        f"Deployment {name} rolled out at generation {generation}",
        satisfied=lambda d: rolled_out(d, generation),
    )


# --------------------------------------------------------------------------- Deployments


async def test_deployment_creates_a_hashed_replica_set_and_becomes_available(env: Env) -> None:
    env.store.create(env.rt("deployments", "apps"), deployment("web", "nginx:1.27", replicas=3))
    await until_rolled_out(env, "web")
    d = env.get("deployments", "web", "apps")
    assert d is not None
    (rs,) = env.list("replicasets", "apps")
    pod_hash = rs["metadata"]["labels"][HASH_LABEL]
    assert pod_hash == template_hash(d["spec"]["template"])
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["metadata"]["annotations"][REVISION] == "1"
    assert d["metadata"]["annotations"][REVISION] == "1"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", HASH_LABEL: pod_hash}
    assert rs["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
    pods = env.list("pods")
    assert len(pods) == 3
    for pod in pods:
        assert pod["metadata"]["name"].startswith(f"web-{pod_hash}-")
        owner = pod["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == (
            "ReplicaSet",
            rs["metadata"]["name"],
            True,
        )
    cond = conditions(d)
    assert cond["Available"]["status"] == "True"
    assert cond["Available"]["reason"] == "MinimumReplicasAvailable"
    assert (
        cond["Progressing"]["message"]
        == f'ReplicaSet "web-{pod_hash}" has successfully progressed.'
    )
    assert d["status"]["readyReplicas"] == 3
    scaled = [e["message"] for e in env.events("web") if e["reason"] == "ScalingReplicaSet"]
    assert scaled == [f"Scaled up replica set web-{pod_hash} from 0 to 3"]


async def test_image_change_rolls_out_without_losing_availability(env: Env) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    env.store.create(
        env.rt("deployments", "apps"), deployment("api", "app:1", replicas=3, strategy=strategy)
    )
    await until_rolled_out(env, "api")
    lowest = [3]
    watch = env.store.watch_from_now(env.rt("pods"))

    async def observe() -> None:
        async for _ in watch:
            available = [
                p
                for p in env.list("pods")
                if ready(p) and not p["metadata"].get("deletionTimestamp")
            ]
            lowest[0] = min(lowest[0], len(available))

    observer = asyncio.create_task(observe())
    d = env.get("deployments", "api", "apps")
    assert d is not None
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "app:2"
    env.store.update(env.rt("deployments", "apps"), d)
    try:
        await until(
            env.store,
            lambda: (rolled_out(env.get("deployments", "api", "apps"), 2), len(env.list("pods"))),
            "(rolled out, pods) == (True, 3): Deployment api at generation 2, old pods gone",
            satisfied=lambda seen: seen == (True, 3),
        )
    finally:
        watch.close()
        observer.cancel()
    assert lowest[0] >= 3
    pods = env.list("pods")
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"app:2"}
    replica_sets = {
        rs["metadata"]["annotations"][REVISION]: rs for rs in env.list("replicasets", "apps")
    }
    assert replica_sets["1"]["spec"]["replicas"] == 0
    assert replica_sets["2"]["spec"]["replicas"] == 3
    assert (env.get("deployments", "api", "apps") or {})["metadata"]["annotations"][REVISION] == "2"


async def test_scaling_down_removes_pods(env: Env) -> None:
    env.store.create(env.rt("deployments", "apps"), deployment("web", "nginx:1", replicas=3))
    await until_rolled_out(env, "web")
    d = env.get("deployments", "web", "apps")
    assert d is not None
    d["spec"]["replicas"] = 1
    env.store.update(env.rt("deployments", "apps"), d)
    await until(
        env.store,
        lambda: (rolled_out(env.get("deployments", "web", "apps"), 2), len(env.list("pods"))),
        "(rolled out, pods) == (True, 1): Deployment web at generation 2",
        satisfied=lambda seen: seen == (True, 1),
    )
    (rs,) = env.list("replicasets", "apps")
    assert rs["status"]["replicas"] == 1


async def test_crashing_rollout_keeps_old_pods_and_exceeds_its_progress_deadline(env: Env) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    body = deployment("api", "app:1", replicas=2, strategy=strategy, progressDeadlineSeconds=30)
    env.store.create(env.rt("deployments", "apps"), body)
    await until_rolled_out(env, "api")
    d = env.get("deployments", "api", "apps")
    assert d is not None
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "sim/crash:1s-1"
    env.store.update(env.rt("deployments", "apps"), d)

    await until(
        env.store,
        lambda: conditions(env.get("deployments", "api", "apps")).get("Progressing", {}),
        "Deployment api Progressing with reason ProgressDeadlineExceeded",
        satisfied=lambda progressing: progressing.get("reason") == "ProgressDeadlineExceeded",
    )
    d = env.get("deployments", "api", "apps")
    assert d is not None
    assert conditions(d)["Progressing"]["status"] == "False"
    assert conditions(d)["Available"]["status"] == "True"
    old_pods = [p for p in env.list("pods") if p["spec"]["containers"][0]["image"] == "app:1"]
    assert len(old_pods) == 2
    assert all(ready(p) for p in old_pods)


async def test_deleting_a_deployment_removes_its_replica_sets_and_pods(env: Env) -> None:
    env.store.create(env.rt("deployments", "apps"), deployment("web", "nginx:1", replicas=2))
    await until_rolled_out(env, "web")
    env.store.delete(env.rt("deployments", "apps"), NS, "web")
    await until(
        env.store,
        lambda: env.list("pods") + env.list("replicasets", "apps"),
        "no pods and no ReplicaSets left",
        satisfied=lambda left: not left,
    )


# --------------------------------------------------------------------------- Jobs


def finished(env: Env, name: str) -> Obj | None:
    j = env.get("jobs", name, "batch")
    cond = conditions(j)
    if (
        cond.get("Complete", {}).get("status") == "True"
        or cond.get("Failed", {}).get("status") == "True"
    ):
        return j
    return None


async def test_job_runs_its_completions_and_completes(env: Env) -> None:
    body = job("migrate", "sim/complete:1s-0", completions=2, parallelism=1)
    env.store.create(env.rt("jobs", "batch"), body)
    j = await until(env.store, lambda: finished(env, "migrate"), "Job migrate finished")
    status = j["status"]
    assert status["succeeded"] == 2
    assert "failed" not in status
    assert "active" not in status
    assert status["startTime"] <= status["completionTime"]
    cond = conditions(j)
    assert cond["SuccessCriteriaMet"]["reason"] == "CompletionsReached"
    assert cond["Complete"]["status"] == "True"
    assert cond["Complete"]["reason"] == "CompletionsReached"
    pods = env.list("pods")
    assert len(pods) == 2
    assert {p["status"]["phase"] for p in pods} == {"Succeeded"}
    assert [e["message"] for e in env.events("migrate") if e["reason"] == "Completed"] == [
        "Job completed"
    ]


async def test_job_with_never_fails_after_backoff_limit_failed_pods(env: Env) -> None:
    env.store.create(env.rt("jobs", "batch"), job("broken", "sim/complete:1s-1", backoffLimit=1))
    j = await until(env.store, lambda: finished(env, "broken"), "Job broken finished")
    assert j["status"]["failed"] == 2
    assert "completionTime" not in j["status"]
    cond = conditions(j)
    assert cond["FailureTarget"]["reason"] == "BackoffLimitExceeded"
    assert cond["Failed"]["reason"] == "BackoffLimitExceeded"
    assert cond["Failed"]["message"] == "Job has reached the specified backoff limit"
    warnings = [e for e in env.events("broken") if e["reason"] == "BackoffLimitExceeded"]
    assert warnings[0]["type"] == "Warning"
    assert len(env.list("pods")) == 2


async def test_job_with_on_failure_counts_container_restarts(env: Env) -> None:
    body = job("retry", "sim/crash:1s-1", restart="OnFailure", backoffLimit=2)
    env.store.create(env.rt("jobs", "batch"), body)
    j = await until(env.store, lambda: finished(env, "retry"), "Job retry finished")
    assert conditions(j)["Failed"]["reason"] == "BackoffLimitExceeded"
    await until(
        env.store,
        lambda: [p for p in env.list("pods") if p["metadata"].get("deletionTimestamp")],
        "no terminating pods left",
        satisfied=lambda terminating: not terminating,
    )
    assert not env.list("pods")  # the running pod was stopped and removed


# --------------------------------------------------------------------------- EndpointSlices


def endpoint_conditions(env: Env, service: str) -> list[Obj]:
    slices = env.list("endpointslices", "discovery.k8s.io", f"kubernetes.io/service-name={service}")
    return [e["conditions"] for s in slices for e in s.get("endpoints") or []]


async def test_endpoint_slice_follows_pod_readiness(env: Env) -> None:
    env.store.create(
        env.rt("services"),
        {
            "metadata": {"name": "api", "namespace": NS},
            "spec": {
                "selector": {"app": "api"},
                "ports": [{"name": "web", "port": 80, "targetPort": "http"}],
            },
        },
    )
    body = deployment("api", "sim/unready:20s", replicas=1)
    probe = {"tcpSocket": {"port": 8080}, "periodSeconds": 2, "failureThreshold": 1}
    body["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = probe
    env.store.create(env.rt("deployments", "apps"), body)
    await until(
        env.store,
        lambda: endpoint_conditions(env, "api"),
        "one ready endpoint for Service api",
        satisfied=lambda endpoints: (
            endpoints == [{"ready": True, "serving": True, "terminating": False}]
        ),
    )
    (slice_,) = env.list("endpointslices", "discovery.k8s.io", "kubernetes.io/service-name=api")
    assert slice_["addressType"] == "IPv4"
    assert slice_["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    assert (
        slice_["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"]
        == "endpointslice-controller.k8s.io"
    )
    (pod,) = env.list("pods")
    assert slice_["endpoints"][0]["addresses"] == [pod["status"]["podIP"]]
    assert slice_["endpoints"][0]["targetRef"]["name"] == pod["metadata"]["name"]
    await until(
        env.store,
        lambda: endpoint_conditions(env, "api"),
        "the endpoint of Service api not ready",
        satisfied=lambda endpoints: (
            endpoints == [{"ready": False, "serving": False, "terminating": False}]
        ),
    )
    endpoints = env.get("endpoints", "api")
    assert endpoints is not None
    assert "addresses" not in endpoints["subsets"][0]
    assert endpoints["subsets"][0]["notReadyAddresses"][0]["ip"] == pod["status"]["podIP"]


async def test_terminating_pod_is_marked_terminating_in_its_slice(env: Env) -> None:
    env.store.create(
        env.rt("services"),
        {
            "metadata": {"name": "db", "namespace": NS},
            "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432}]},
        },
    )
    body = deployment("db", "postgres:16", replicas=1)
    body["spec"]["template"]["spec"]["containers"][0]["lifecycle"] = {
        "preStop": {"sleep": {"seconds": 10}}
    }
    env.store.create(env.rt("deployments", "apps"), body)
    await until(
        env.store,
        lambda: endpoint_conditions(env, "db"),
        "one ready endpoint for Service db",
        satisfied=lambda endpoints: (
            endpoints == [{"ready": True, "serving": True, "terminating": False}]
        ),
    )
    (pod,) = env.list("pods")
    env.store.delete(env.rt("pods"), NS, pod["metadata"]["name"])
    await until(
        env.store,
        lambda: endpoint_conditions(env, "db"),
        "a terminating, still serving endpoint for Service db",
        satisfied=lambda endpoints: (
            {"ready": False, "serving": True, "terminating": True} in endpoints
        ),
    )


# --------------------------------------------------------------------------- through HTTP


async def test_sim_cluster_runs_a_deployment_posted_over_http(sim_full: Any) -> None:
    env = Env(sim_full.store, sim_full.clock)
    async with aiohttp.ClientSession() as session:
        url = f"{sim_full.url}/apis/apps/v1/namespaces/{NS}/deployments"
        async with session.post(url, json=deployment("shop", "postgres:16", replicas=2)) as resp:
            assert resp.status == 201, await resp.text()
        await until_rolled_out(env, "shop")
        async with session.get(f"{sim_full.url}/api/v1/namespaces/{NS}/pods") as resp:
            pods = (await resp.json())["items"]
        async with session.get(f"{sim_full.url}/api/v1/namespaces/{NS}/events") as resp:
            events = (await resp.json())["items"]
    assert len(pods) == 2
    assert all(p["status"]["containerStatuses"][0]["ready"] for p in pods)
    assert {e["reason"] for e in events} >= {"ScalingReplicaSet", "SuccessfulCreate", "Started"}


async def test_relabelled_pod_leaves_the_slice(env: Env) -> None:
    service = {"selector": {"app": "cache"}, "ports": [{"port": 6379}]}
    env.store.create(
        env.rt("services"), {"metadata": {"name": "cache", "namespace": NS}, "spec": service}
    )
    pod = {
        "metadata": {"name": "cache-0", "namespace": NS, "labels": {"app": "cache"}},
        "spec": {"containers": [container("redis:7")]},
    }
    env.store.create(env.rt("pods"), pod)
    await until(
        env.store,
        lambda: endpoint_conditions(env, "cache"),
        "one ready endpoint for Service cache",
        satisfied=lambda endpoints: (
            endpoints == [{"ready": True, "serving": True, "terminating": False}]
        ),
    )
    current = env.get("pods", "cache-0")
    assert current is not None
    current["metadata"]["labels"] = {"app": "other"}
    env.store.update(env.rt("pods"), current)
    await until(
        env.store,
        lambda: endpoint_conditions(env, "cache"),
        "no endpoints left for Service cache",
        satisfied=lambda endpoints: endpoints == [],
    )


async def test_a_pod_refused_by_admission_is_a_failed_create_event(env: Env) -> None:
    d = deployment("web", "sim/ready:0s", replicas=1)
    d["spec"]["template"]["spec"]["serviceAccountName"] = "missing"
    env.store.create(env.rt("deployments", "apps"), d)
    (rs,) = await until(env.store, lambda: env.list("replicasets", "apps"), "a ReplicaSet")
    name = rs["metadata"]["name"]
    failed = await until(
        env.store,
        lambda: [e for e in env.events(name) if e["reason"] == "FailedCreate"],
        f"a FailedCreate Event on ReplicaSet {name}",
    )
    assert failed[0]["type"] == "Warning"
    assert failed[0]["message"] == (
        f'Error creating: pods "{name}-" is forbidden: error looking up service account '
        'default/missing: serviceaccount "missing" not found'
    )
    assert env.list("pods") == []
