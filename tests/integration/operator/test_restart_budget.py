"""Restarts watched on the pods, counted once, classified, and weighed against the budget.

The real operator against the simulated cluster (speed x20); the images script the
failures (DESIGN.md, "The simulated kubelet's images"). Every wait is on the cluster's
writes, and the history of statuses comes from a watch on the simulated store, so no
intermediate status is missed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness import Operator, condition, edit, events_for, managed_service
from waiting import until

from tend.runtime.kube import Kube
from tend_sim import SimCluster
from tend_sim.watch import Watch

BUDGET = {"maxRestarts": 2, "window": "10m", "minUptime": "10s"}


def statuses(watch: Watch, name: str) -> list[dict[str, Any]]:
    """Every status `name` has had since the watch opened, oldest first."""
    seen = []
    while watch.pending():
        _, event = watch._pending.popleft()
        if event.obj["metadata"]["name"] == name:
            seen.append(event.obj.get("status") or {})
    return seen


def restarts_of(body: dict[str, Any] | None) -> dict[str, Any]:
    return dict(((body or {}).get("status") or {}).get("restarts") or {})


def counted_at_least(n: int) -> Callable[[dict[str, Any] | None], bool]:
    return lambda body: restarts_of(body).get("total", 0) >= n


async def service_when(
    cluster: SimCluster,
    kube: Kube,
    what: str,
    satisfied: Callable[[dict[str, Any] | None], object],
    *,
    name: str = "api",
    deadline: float = 30,
) -> dict[str, Any]:
    """The ManagedService, once `satisfied` by it (re-read after every write)."""
    body = await until(
        cluster,
        lambda: kube.get("ManagedService", "default", name),
        what,
        satisfied=satisfied,
        deadline=deadline,
    )
    assert body is not None
    return body


def exhausted(body: dict[str, Any] | None) -> bool:
    return condition(body, "RestartBudgetExhausted").get("status") == "True"


def kubelet_ended_runs(cluster: SimCluster, name: str) -> int:
    """Ended runs by the kubelet's own account: restarts, plus a newest run that ended."""
    pods, _ = cluster.store.list(
        cluster.store.resource("pods"), "default", f"app.kubernetes.io/instance={name}"
    )
    total = 0
    for pod in pods:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        for status in pod["status"].get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            total += status["restartCount"] + (waiting.get("reason") == "CrashLoopBackOff")
    return total


async def test_a_crash_loop_exhausts_the_budget_at_restart_max_plus_one(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    watch = cluster.store.watch_from_now(cluster.store.resource("managedservices", "tend.dev"))
    await kube.create(managed_service("api", image="sim/crash:1s-3", restartPolicy=BUDGET))
    live = await service_when(cluster, kube, "RestartBudgetExhausted=True", exhausted, deadline=60)
    history = statuses(watch, "api")
    watch.close()
    counts = [((s.get("restarts") or {}).get("total"), exhausted({"status": s})) for s in history]
    first = next(i for i, (_, done) in enumerate(counts) if done)
    assert counts[first][0] == 3, counts  # the third restart, maxRestarts 2, exhausts it
    assert all(total is None or total <= 2 for total, _ in counts[:first]), counts
    assert live is not None
    restarts = live["status"]["restarts"]
    assert (restarts["lastReason"], restarts["lastExitCode"]) == ("CrashLoop", 3)
    assert restarts["budgetRemaining"] == 0
    assert live["status"]["phase"] == "Degraded"
    ready = condition(live, "Ready")
    assert ready["reason"] == "CrashLoop"
    assert "exit 3 after 1s" in ready["message"]
    failures = live["status"]["recentFailures"]
    assert failures[0]["reason"] == "CrashLoop" and failures[0]["exitCode"] == 3
    # The log's last line, through the termination message (FallbackToLogsOnError):
    assert failures[0]["message"] == "exit 3 after 1s: fatal: sim/crash exits with code 3"
    assert "maxRestarts 2" in condition(live, "RestartBudgetExhausted")["message"]
    reasons = [e["reason"] for e in await events_for(kube, "api")]
    assert reasons.count("RestartBudgetExhausted") == 1
    assert reasons.count("CrashLoop") >= 3


async def test_restarts_spaced_beyond_the_window_never_exhaust_it(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    watch = cluster.store.watch_from_now(cluster.store.resource("managedservices", "tend.dev"))
    policy = {"maxRestarts": 1, "window": "20s", "minUptime": "10s"}
    await kube.create(managed_service("api", image="sim/crash:30s-1", restartPolicy=policy))
    await service_when(
        cluster,
        kube,
        "three restarts counted",
        counted_at_least(3),
        deadline=60,
    )
    history = statuses(watch, "api")
    watch.close()
    assert not any(exhausted({"status": s}) for s in history)
    assert all((s.get("restarts") or {}).get("inWindow", 0) <= 1 for s in history)
    last = history[-1]["restarts"]
    assert last["lastReason"] == "ExitCode"  # 30s runs are longer than minUptime


async def test_oom_is_oomkilled_with_exit_137(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await kube.create(managed_service("api", image="sim/oom:2s", restartPolicy=BUDGET))
    live = await service_when(
        cluster, kube, "an OOMKilled restart", counted_at_least(1), deadline=30
    )
    assert live is not None
    restarts = live["status"]["restarts"]
    assert (restarts["lastReason"], restarts["lastExitCode"]) == ("OOMKilled", 137)


async def test_a_liveness_kill_is_probe_failed(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    probes = {"liveness": {"tcp": {"port": 8080}, "periodSeconds": 1, "failureThreshold": 1}}
    body = managed_service("api", image="sim/hang:20s", restartPolicy=BUDGET, probes=probes)
    await kube.create(body)
    live = await service_when(
        cluster, kube, "a restart after a liveness kill", counted_at_least(1), deadline=30
    )
    assert live is not None
    assert live["status"]["restarts"]["lastReason"] == "ProbeFailed"
    assert live["status"]["recentFailures"][0]["exitCode"] == 137


async def test_an_image_that_cannot_be_pulled_is_image_pull_failed_not_a_restart(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await kube.create(managed_service("api", image="sim/nopull:1", restartPolicy=BUDGET))
    live = await service_when(
        cluster,
        kube,
        "Ready=False, ImagePullFailed",
        lambda b: condition(b, "Ready").get("reason") == "ImagePullFailed",
        deadline=30,
    )
    assert live is not None
    assert live["status"]["restarts"]["total"] == 0
    assert live["status"]["phase"] == "Degraded"


async def test_an_operator_killed_mid_crash_loop_counts_each_restart_once(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    # Four crashes, then the container stays up: a count that ends, to compare exactly.
    image = "sim/crash:1s-3-4"
    policy = {"maxRestarts": 10, "window": "10m", "minUptime": "10s"}
    await kube.create(managed_service("api", image=image, restartPolicy=policy))
    await service_when(cluster, kube, "the first restart counted", counted_at_least(1), deadline=30)
    await operator.kill()  # abruptly, wherever it is
    await until(
        cluster,
        lambda: kubelet_ended_runs(cluster, "api"),
        "more crashes while the operator is down",
        satisfied=lambda n: n >= 3,
        deadline=30,
    )
    await operator.start()
    live = await service_when(
        cluster,
        kube,
        "all four crashes counted and the service Ready",
        lambda b: (
            ((b or {}).get("status") or {}).get("restarts", {}).get("total") == 4
            and condition(b, "Ready").get("status") == "True"
        ),
        deadline=60,
    )
    assert kubelet_ended_runs(cluster, "api") == 4  # the container stays up from here on
    live = await kube.get("ManagedService", "default", "api")
    assert live is not None and live["status"]["restarts"]["total"] == 4


async def test_a_replaced_pod_neither_resets_nor_double_counts(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    policy = {"maxRestarts": 10, "window": "10m", "minUptime": "10s"}
    await kube.create(managed_service("api", image="sim/crash:1s-3-2", restartPolicy=policy))

    async def ready_with(total: int) -> bool:
        body = await kube.get("ManagedService", "default", "api")
        restarts = ((body or {}).get("status") or {}).get("restarts") or {}
        return restarts.get("total") == total and condition(body, "Ready").get("status") == "True"

    await until(cluster, lambda: ready_with(2), "two crashes, then Ready", deadline=60)
    pods = [p for p in await kube.list("Pod", "default") if "api" in p["metadata"]["name"]]
    assert len(pods) == 1
    await kube.delete("Pod", "default", pods[0]["metadata"]["name"])
    # The replacement's container runs the same script: two crashes of its own.
    await until(cluster, lambda: ready_with(4), "two more crashes counted, then Ready", deadline=60)
    assert kubelet_ended_runs(cluster, "api") == 2  # the new pod's own; the old pod is gone


async def test_a_job_that_never_restarts_counts_each_failed_pod(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    policy = {"policy": "Never", "maxRestarts": 2, "window": "10m", "minUptime": "10s"}
    await kube.create(managed_service("migrate", image="sim/complete:1s-1", restartPolicy=policy))
    live = await service_when(
        cluster,
        kube,
        "the Job Failed after its backoffLimit",
        lambda b: ((b or {}).get("status") or {}).get("phase") == "Failed",
        name="migrate",
        deadline=60,
    )
    assert live is not None
    failed_pods = [
        p
        for p in await kube.list("Pod", "default")
        if p["metadata"]["labels"].get("app.kubernetes.io/instance") == "migrate"
        and p["status"].get("phase") == "Failed"
    ]
    assert len(failed_pods) == 3  # backoffLimit 2 follows maxRestarts: three tries
    assert live["status"]["restarts"]["total"] == 3
    assert live["status"]["restarts"]["lastReason"] == "CrashLoop"  # 1s < minUptime


async def test_scale_to_zero_stops_the_service_until_reset_or_a_new_generation(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    store = cluster.store
    deployments = store.watch_from_now(store.resource("deployments", "apps"))
    policy = {**BUDGET, "maxRestarts": 1, "onExhausted": "ScaleToZero"}
    await kube.create(managed_service("api", image="sim/crash:1s-3", restartPolicy=policy))

    def held(reset: str) -> Callable[[dict[str, Any] | None], bool]:
        def check(body: dict[str, Any] | None) -> bool:
            status = (body or {}).get("status") or {}
            hold = (status.get("restarts") or {}).get("hold") or {}
            return (
                status.get("phase") == "Failed"
                and condition(body, "Ready").get("reason") == "ScaledToZero"
                and hold.get("reset") == reset
            )

        return check

    live = await service_when(
        cluster, kube, "phase Failed, Ready=False ScaledToZero", held(""), deadline=60
    )
    assert live is not None and exhausted(live)
    assert "tend.dev/reset-budget" in condition(live, "Ready")["message"]
    await until(
        cluster,
        lambda: kube.get("Deployment", "default", "api"),
        "the Deployment at 0 replicas",
        satisfied=lambda d: d is not None and d["spec"]["replicas"] == 0,
    )
    assert [e["reason"] for e in await events_for(kube, "api")].count("ScaledToZero") == 1

    # A new value of the reset annotation starts it again with a whole budget; it still
    # crashes, so it is stopped again, under the new value.
    def annotate(body: dict[str, Any]) -> None:
        body["metadata"].setdefault("annotations", {})["tend.dev/reset-budget"] = "1"

    await edit(kube, "api", annotate)
    again = await service_when(
        cluster, kube, "started again, then stopped again", held("1"), deadline=60
    )
    await until(
        cluster,
        lambda: kube.get("Deployment", "default", "api"),
        "the Deployment at 0 replicas again",
        satisfied=lambda d: d is not None and d["spec"]["replicas"] == 0,
    )
    replicas = []
    while deployments.pending():
        _, event = deployments._pending.popleft()
        if event.obj["metadata"]["name"] == "api":
            replicas.append(event.obj["spec"]["replicas"])
    deployments.close()
    changes = [n for i, n in enumerate(replicas) if i == 0 or n != replicas[i - 1]]
    assert changes[:4] == [1, 0, 1, 0], replicas
    assert again is not None
    await edit(kube, "api", lambda body: body["spec"].update(image="example/app:2"))
    fixed = await service_when(
        cluster,
        kube,
        "Ready again at the new generation",
        lambda b: (
            condition(b, "Ready").get("status") == "True"
            and (b or {}).get("status", {}).get("observedGeneration") == b["metadata"]["generation"]
        ),
        deadline=60,
    )
    assert fixed is not None and fixed["status"]["phase"] == "Running"
    assert not exhausted(fixed)
    resets = [
        e["message"]
        for e in await events_for(kube, "api")
        if e["reason"] == "RestartBudgetExhausted" and e["type"] == "Normal"
    ]
    assert "restart budget reset: tend.dev/reset-budget was set to '1'" in resets
    assert "restart budget reset: the spec changed (generation 2)" in resets


async def test_rollback_restores_the_last_ready_template_after_a_bad_image(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    policy = {**BUDGET, "maxRestarts": 1, "onExhausted": "Rollback"}
    await kube.create(managed_service("api", image="example/app:1", restartPolicy=policy))

    def recorded(deployment: dict[str, Any] | None) -> bool:
        annotations = (deployment or {}).get("metadata", {}).get("annotations") or {}
        return annotations.get("tend.dev/last-ready-generation") == "1"

    await until(
        cluster,
        lambda: kube.get("Deployment", "default", "api"),
        "generation 1's template recorded as the last Ready one",
        satisfied=recorded,
        deadline=30,
    )
    await edit(kube, "api", lambda body: body["spec"].update(image="sim/crash:1s-3"))

    def image(deployment: dict[str, Any] | None) -> str:
        return str((deployment or {})["spec"]["template"]["spec"]["containers"][0]["image"])

    await until(
        cluster,
        lambda: kube.get("Deployment", "default", "api"),
        "the Deployment rolling out generation 2's image",
        satisfied=lambda d: image(d) == "sim/crash:1s-3",
    )
    await until(
        cluster,
        lambda: kube.get("Deployment", "default", "api"),
        "the Deployment rolled back to generation 1's image",
        satisfied=lambda d: image(d) == "example/app:1",
        deadline=60,
    )
    live = await service_when(
        cluster,
        kube,
        "Ready=False RolledBack, with the old template rolled out",
        lambda b: (
            condition(b, "Ready").get("reason") == "RolledBack"
            and condition(b, "Progressing").get("status") == "False"
        ),
        deadline=60,
    )
    assert live is not None
    assert live["status"]["phase"] == "Degraded"
    assert live["metadata"]["generation"] == 2
    message = condition(live, "Ready")["message"]
    assert "generation 1" in message and "generation 2 does not run" in message
    deployment = await kube.get("Deployment", "default", "api")
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "example/app:1"
    assert [e["reason"] for e in await events_for(kube, "api")].count("RolledBack") == 1


async def test_rollback_without_a_ready_template_falls_back_to_alert(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    policy = {**BUDGET, "maxRestarts": 1, "onExhausted": "Rollback"}
    await kube.create(managed_service("api", image="sim/crash:1s-3", restartPolicy=policy))
    live = await service_when(cluster, kube, "RestartBudgetExhausted=True", exhausted, deadline=60)
    message = condition(live, "RestartBudgetExhausted")["message"]
    assert "onExhausted: Alert (no template of this service was ever Ready" in message
    assert condition(live, "Ready")["reason"] == "CrashLoop"
    assert "hold" not in live["status"]["restarts"]


async def test_odd_budgets_and_a_garbage_reset_value_neither_crash_nor_hot_loop(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    policy = {"maxRestarts": 0, "window": "1s", "minUptime": "1h", "onExhausted": "ScaleToZero"}
    body = managed_service("api", image="sim/crash:1s-3", restartPolicy=policy)
    body["metadata"]["annotations"] = {"tend.dev/reset-budget": "💥 not a number"}
    await kube.create(body)
    live = await service_when(
        cluster,
        kube,
        "stopped by its first restart",
        lambda b: condition(b, "Ready").get("reason") == "ScaledToZero",
        deadline=30,
    )
    assert live is not None and live["status"]["restarts"]["total"] == 1
    assert live["status"]["restarts"]["hold"]["reset"] == "💥 not a number"
    await operator.idle()  # stopped: nothing left to do, no timer pending
    writes = cluster.writes("managedservices/status")
    assert writes <= 10, cluster.requests  # a handful of transitions; a loop makes hundreds
    assert operator.running
