"""Each scripted image, run by the simulated kubelet against the store at 100x speed,
produces the pod status and the Events a real kubelet would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from waiting import until

from tend_sim.clock import SimClock
from tend_sim.controllers import Controllers
from tend_sim.errors import ApiError
from tend_sim.store import Store

Obj = dict[str, Any]
NS = "default"


@dataclass
class Env:
    store: Store
    clock: SimClock
    controllers: Controllers

    def rt(self, name: str, group: str = "") -> Any:
        return self.store.resource(name, group)

    def pod(self, name: str) -> Obj | None:
        try:
            return self.store.get(self.rt("pods"), NS, name)
        except ApiError:
            return None

    def events(self, name: str) -> list[Obj]:
        items, _ = self.store.list(self.rt("events"), NS)
        return [e for e in items if e["involvedObject"]["name"] == name]

    def create_pod(self, name: str, image: str, restart: str = "Always", **extra: Any) -> Obj:
        container: Obj = {"name": "main", "image": image}
        container.update(
            {k: v for k, v in extra.items() if k.endswith("Probe") or k == "lifecycle"}
        )
        spec: Obj = {"restartPolicy": restart, "containers": [container]}
        spec.update({k: v for k, v in extra.items() if k == "terminationGracePeriodSeconds"})
        pod = {"metadata": {"name": name, "namespace": NS}, "spec": spec}
        return self.store.create(self.rt("pods"), pod)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    clock = SimClock(speed=100)
    store = Store(now=clock.now)
    controllers = Controllers(store, clock)
    await controllers.start()
    try:
        yield Env(store, clock, controllers)
    finally:
        await controllers.stop()


def main_status(pod: Obj | None) -> Obj:
    statuses = ((pod or {}).get("status") or {}).get("containerStatuses") or [{}]
    result: Obj = statuses[0]
    return result


def cond(pod: Obj | None, type_: str) -> str | None:
    for c in ((pod or {}).get("status") or {}).get("conditions") or []:
        if c["type"] == type_:
            return str(c["status"])
    return None


def event(env: Env, pod: str, reason: str) -> Obj | None:
    return next((e for e in env.events(pod) if e["reason"] == reason), None)


async def until_ready(env: Env, name: str, ready: str = "True") -> Obj:
    """The pod, once its Ready condition is `ready`."""
    pod = await until(
        env.store,
        lambda: env.pod(name),
        f"pod {name} with Ready={ready}",
        satisfied=lambda pod: cond(pod, "Ready") == ready,
    )
    assert pod is not None
    return pod


async def test_default_image_is_scheduled_started_and_ready(env: Env) -> None:
    env.create_pod("db", "postgres:16")
    pod = await until_ready(env, "db")
    status = pod["status"]
    assert status["phase"] == "Running"
    assert status["podIP"].startswith("10.244.")
    assert pod["spec"]["nodeName"] == "sim-node-1"
    assert {c["type"] for c in status["conditions"]} >= {
        "PodScheduled",
        "Initialized",
        "ContainersReady",
        "Ready",
    }
    assert main_status(pod)["state"]["running"]["startedAt"]
    reasons = [e["reason"] for e in env.events("db")]
    assert reasons[:1] == ["Scheduled"] or "Scheduled" in reasons
    assert {"Pulling", "Pulled", "Created", "Started"} <= set(reasons)
    started = event(env, "db", "Started")
    assert started is not None
    assert started["source"] == {"component": "kubelet", "host": "sim-node-1"}
    assert started["involvedObject"]["fieldPath"] == "spec.containers{main}"
    assert started["involvedObject"]["uid"] == pod["metadata"]["uid"]
    scheduled = event(env, "db", "Scheduled")
    assert scheduled is not None
    assert scheduled["source"]["component"] == "default-scheduler"
    assert scheduled["message"] == "Successfully assigned default/db to sim-node-1"


async def test_crash_loop_reports_back_off_and_counts_repeated_events(env: Env) -> None:
    env.create_pod("crashy", "sim/crash:1s-2")

    def backing_off() -> bool:
        waiting = main_status(env.pod("crashy")).get("state", {}).get("waiting") or {}
        backoff = event(env, "crashy", "BackOff")
        return waiting.get("reason") == "CrashLoopBackOff" and (backoff or {}).get("count", 0) >= 2

    await until(env.store, backing_off, "pod crashy in CrashLoopBackOff with a repeated BackOff")
    pod = env.pod("crashy")
    status = main_status(pod)
    assert status["restartCount"] >= 2
    assert status["lastState"]["terminated"]["exitCode"] == 2
    assert status["lastState"]["terminated"]["reason"] == "Error"
    uid = pod["metadata"]["uid"] if pod else ""
    assert status["state"]["waiting"]["message"].endswith(
        f"restarting failed container=main pod=crashy_default({uid})"
    )
    assert pod is not None
    assert pod["status"]["phase"] == "Running"
    backoff = event(env, "crashy", "BackOff")
    assert backoff is not None
    assert backoff["type"] == "Warning"
    assert backoff["firstTimestamp"] <= backoff["lastTimestamp"]
    assert len([e for e in env.events("crashy") if e["reason"] == "BackOff"]) == 1


async def test_crash_k_becomes_ready_after_k_restarts(env: Env) -> None:
    env.create_pod("flaky", "sim/crash:500ms-1-2")
    pod = await until_ready(env, "flaky")
    assert main_status(pod)["restartCount"] == 2


async def test_oom_is_reported_as_oomkilled_137(env: Env) -> None:
    env.create_pod("hog", "sim/oom:1s")
    await until(
        env.store,
        lambda: main_status(env.pod("hog")),
        "pod hog's container terminated once",
        satisfied=lambda status: status.get("lastState", {}).get("terminated"),
    )
    terminated = main_status(env.pod("hog"))["lastState"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == ("OOMKilled", 137)


async def test_hang_with_liveness_probe_is_killed_with_137_and_restarted(env: Env) -> None:
    probe = {
        "httpGet": {"path": "/healthz", "port": 8080},
        "periodSeconds": 2,
        "failureThreshold": 2,
    }
    env.create_pod("stuck", "sim/hang:3s", livenessProbe=probe)
    await until(
        env.store,
        lambda: main_status(env.pod("stuck")),
        "pod stuck's container restarted",
        satisfied=lambda status: status.get("restartCount", 0) >= 1,
    )
    terminated = main_status(env.pod("stuck"))["lastState"]["terminated"]
    assert terminated["exitCode"] == 137
    killing = event(env, "stuck", "Killing")
    assert killing is not None
    assert killing["message"] == "Container main failed liveness probe, will be restarted"
    unhealthy = event(env, "stuck", "Unhealthy")
    assert unhealthy is not None
    assert unhealthy["message"].startswith('Liveness probe failed: Get "http://10.244.')


async def test_unready_with_readiness_probe_turns_pod_unready(env: Env) -> None:
    probe = {"tcpSocket": {"port": 8080}, "periodSeconds": 2, "failureThreshold": 1}
    env.create_pod("sick", "sim/unready:5s", readinessProbe=probe)
    await until_ready(env, "sick")
    await until_ready(env, "sick", ready="False")
    pod = env.pod("sick")
    assert pod is not None
    assert pod["status"]["phase"] == "Running"
    assert main_status(pod)["restartCount"] == 0
    assert event(env, "sick", "Unhealthy") is not None


@pytest.mark.parametrize(("code", "phase"), [(0, "Succeeded"), (3, "Failed")])
async def test_complete_under_never_ends_the_pod(env: Env, code: int, phase: str) -> None:
    env.create_pod("task", f"sim/complete:1s-{code}", restart="Never")
    pod = await until(
        env.store,
        lambda: env.pod("task"),
        f"pod task in phase {phase}",
        satisfied=lambda pod: (pod or {}).get("status", {}).get("phase") == phase,
    )
    assert pod is not None
    terminated = main_status(pod)["state"]["terminated"]
    assert terminated["exitCode"] == code
    assert terminated["reason"] == ("Completed" if code == 0 else "Error")
    assert cond(pod, "Ready") == "False"


async def test_nopull_reports_err_image_pull_then_image_pull_back_off(env: Env) -> None:
    env.create_pod("ghost", "sim/nopull:v1")
    seen: set[str] = set()

    def both() -> bool:
        waiting = main_status(env.pod("ghost")).get("state", {}).get("waiting") or {}
        seen.add(waiting.get("reason", ""))
        return {"ErrImagePull", "ImagePullBackOff"} <= seen

    await until(env.store, both, "pod ghost waiting in ErrImagePull, then ImagePullBackOff")
    messages = {(e["reason"], e["message"]) for e in env.events("ghost")}
    assert ("Failed", "Error: ErrImagePull") in messages
    assert ("BackOff", 'Back-off pulling image "sim/nopull:v1"') in messages
    pod = env.pod("ghost")
    assert pod is not None
    assert pod["status"]["phase"] == "Pending"


async def test_deleted_pod_runs_prestop_then_disappears(env: Env) -> None:
    env.create_pod(
        "api",
        "postgres:16",
        lifecycle={"preStop": {"sleep": {"seconds": 20}}},
        terminationGracePeriodSeconds=60,
    )
    await until_ready(env, "api")
    env.store.delete(env.rt("pods"), NS, "api")
    pod = env.pod("api")
    assert pod is not None
    assert pod["metadata"]["deletionTimestamp"]
    deleted_at = env.clock.monotonic()
    await until(
        env.store, lambda: env.pod("api"), "pod api gone", satisfied=lambda pod: pod is None
    )
    assert env.clock.monotonic() - deleted_at >= 20
    stopping = event(env, "api", "Killing")
    assert stopping is not None
    assert stopping["message"] == "Stopping container main"


async def test_a_steady_pod_gets_no_more_status_writes(env: Env) -> None:
    env.create_pod("steady", "postgres:16")
    await until_ready(env, "steady")
    version = (env.pod("steady") or {})["metadata"]["resourceVersion"]
    env.create_pod("slow", "sim/ready:1m")  # a minute of simulated time passes meanwhile
    await until_ready(env, "slow")
    assert (env.pod("steady") or {})["metadata"]["resourceVersion"] == version


async def test_a_missing_secret_holds_the_container_until_it_is_created(env: Env) -> None:
    container = {"name": "main", "image": "registry.example/api:1"}
    container["envFrom"] = [{"secretRef": {"name": "creds"}, "prefix": "API_"}]
    pod = {"metadata": {"name": "api", "namespace": NS}, "spec": {"containers": [container]}}
    env.store.create(env.rt("pods"), pod)

    failed = await until(
        env.store,
        lambda: event(env, "api", "Failed"),
        "a Failed event for pod api, counted twice",  # the kubelet retried on its next sync
        satisfied=lambda failed: (failed or {}).get("count", 0) >= 2,
    )
    assert failed is not None
    assert (failed["type"], failed["message"]) == ("Warning", 'Error: secret "creds" not found')
    assert failed["involvedObject"]["fieldPath"] == "spec.containers{main}"
    assert len([e for e in env.events("api") if e["reason"] == "Failed"]) == 1
    live = env.pod("api")
    assert live is not None
    assert main_status(live)["state"] == {
        "waiting": {"reason": "CreateContainerConfigError", "message": 'secret "creds" not found'}
    }
    assert (main_status(live)["restartCount"], main_status(live)["ready"]) == (0, False)
    assert live["status"]["phase"] == "Pending"
    assert (cond(live, "Ready"), cond(live, "ContainersReady")) == ("False", "False")

    secret = {"metadata": {"name": "creds", "namespace": NS}, "stringData": {"TOKEN": "t"}}
    env.store.create(env.rt("secrets"), secret)
    live = await until_ready(env, "api")
    assert live["status"]["phase"] == "Running"
    assert main_status(live)["restartCount"] == 0
    sim = env.controllers.kubelet.pod_sim(NS, "api")
    assert sim is not None
    run = sim.containers[0].run
    assert run is not None
    assert run.env == {"API_TOKEN": "t"}
