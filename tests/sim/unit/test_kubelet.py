"""The simulated kubelet's pure parts: image scripts, back-off, probes, the container state
machine and pod status, driven on simulated time without any waiting."""

from __future__ import annotations

import asyncio
import base64
import itertools
from typing import Any

import pytest

from tend_sim.clock import ManualClock
from tend_sim.images import Behaviour, Script, ScriptError, parse_image
from tend_sim.kubelet import (
    Backoff,
    Emitted,
    Kubelet,
    NodeState,
    PodSim,
    default_pull_policy,
    qos_class,
)
from tend_sim.store import Store

UID = "uid-1"


def make_pod(
    image: str,
    *,
    restart: str = "Always",
    grace: int | None = None,
    **container: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "restartPolicy": restart,
        "nodeName": "sim-node-1",
        "containers": [{"name": "main", "image": image, **container}],
    }
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"metadata": {"name": "web", "namespace": "default", "uid": UID}, "spec": spec}


def start(image: str, node: NodeState | None = None, **kwargs: Any) -> PodSim:
    return PodSim(make_pod(image, **kwargs), node or NodeState(), now=0.0)


def at(t: float) -> str:
    return f"{t:g}"


def status(sim: PodSim) -> dict[str, Any]:
    return sim.status(None, at)


def container(sim: PodSim) -> dict[str, Any]:
    result: dict[str, Any] = status(sim)["containerStatuses"][0]
    return result


def condition(sim: PodSim, type_: str) -> dict[str, Any]:
    return next(c for c in status(sim)["conditions"] if c["type"] == type_)


def reasons(events: list[Emitted]) -> list[str]:
    return [e.reason for e in events]


def restart_gaps(sim: PodSim) -> list[float]:
    """Seconds between each run's exit and the next run's start."""
    runs = sim.containers[0].runs
    return [
        round(after.started_at - (before.finished_at or 0.0), 6)
        for before, after in itertools.pairwise(runs)
    ]


# --------------------------------------------------------------------------- scripts


@pytest.mark.parametrize(
    ("image", "script"),
    [
        ("postgres:16", Script()),
        ("registry.example/sim/crash:1s-1", Script()),
        ("sim/ready:2s", Script(Behaviour.READY, after=2.0)),
        ("sim/crash:500ms-3", Script(Behaviour.CRASH, after=0.5, exit_code=3)),
        ("sim/crash:1m-1-2", Script(Behaviour.CRASH, after=60.0, exit_code=1, crash_runs=2)),
        ("sim/oom:1s", Script(Behaviour.OOM, after=1.0)),
        ("sim/unready:5s", Script(Behaviour.UNREADY, after=5.0)),
        ("sim/hang:1h30m", Script(Behaviour.HANG, after=5400.0)),
        ("sim/complete:2s-0", Script(Behaviour.COMPLETE, after=2.0, exit_code=0)),
        ("sim/complete:2s-255", Script(Behaviour.COMPLETE, after=2.0, exit_code=255)),
        ("sim/nopull:whatever-tag", Script(Behaviour.NOPULL)),
        ("sim/nopull", Script(Behaviour.NOPULL)),
    ],
)
def test_image_scripts_parse_to_their_behaviour(image: str, script: Script) -> None:
    assert parse_image(image) == script


@pytest.mark.parametrize(
    "image",
    [
        "sim/crash:2s",
        "sim/crash:2s-256",
        "sim/crash:abc-1",
        "sim/crash:2s-1-x",
        "sim/ready",
        "sim/ready:",
        "sim/ready:10",
        "sim/foo:1s",
        "sim/complete:2s",
        "sim/oom:1s-1",
        "sim/hang:-1s",
    ],
)
def test_malformed_sim_images_are_rejected_naming_the_grammar(image: str) -> None:
    with pytest.raises(ScriptError, match=r"sim/crash:<dur>-<code>\[-<k>\]"):
        parse_image(image)


def test_crash_k_plans_crash_only_the_first_k_runs() -> None:
    script = parse_image("sim/crash:1s-4-2")
    assert [script.plan(i).exit_at for i in range(4)] == [1.0, 1.0, None, None]
    assert script.plan(0).exit_code == 4
    assert script.plan(0).exit_reason == "Error"


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("postgres", "Always"),
        ("postgres:latest", "Always"),
        ("postgres:16", "IfNotPresent"),
        ("localhost:5000/app", "Always"),
        ("app@sha256:abc", "IfNotPresent"),
    ],
)
def test_default_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    assert default_pull_policy(image) == policy


# --------------------------------------------------------------------------- back-off


def test_backoff_doubles_from_10s_and_caps_at_5m() -> None:
    backoff = Backoff()
    steps = []
    for i in range(9):
        backoff.next("k", event_time=i * 1000.0 / 9, now=i * 1000.0 / 9)
        steps.append(backoff.get("k"))
    assert steps == [10, 20, 40, 80, 160, 300, 300, 300, 300]


def test_backoff_is_forgotten_after_ten_minutes_without_failure() -> None:
    backoff = Backoff()
    for t in (0.0, 1.0, 2.0):
        backoff.next("k", t, t)
    assert backoff.get("k") == 40
    assert backoff.in_backoff_since("k", event_time=600.0, now=601.0)
    assert not backoff.in_backoff_since("k", event_time=603.0, now=604.0)
    backoff.next("k", 603.0, 604.0)
    assert backoff.get("k") == 10


def test_crash_loop_restarts_at_once_then_after_10_20_40_to_300s() -> None:
    sim = start("sim/crash:1s-1")
    sim.advance(2000)
    assert restart_gaps(sim)[:8] == [0, 10, 20, 40, 80, 160, 300, 300]


def test_crash_loop_status_shows_back_off_waiting_and_last_termination() -> None:
    sim = start("sim/crash:2s-3")
    sim.advance(0.5 + 2 + 2 + 1)  # pull, run 0 crashes at 2.5, run 1 at 4.5; in back-off
    status_ = container(sim)
    assert status_["restartCount"] == 1
    assert status_["state"] == {
        "waiting": {
            "reason": "CrashLoopBackOff",
            "message": "back-off 10s restarting failed container=main pod=web_default(uid-1)",
        }
    }
    last = status_["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (3, "Error")
    assert (last["startedAt"], last["finishedAt"]) == ("2.5", "4.5")
    assert status(sim)["phase"] == "Running"
    events = sim.take_events()
    backoff = [e for e in events if e.reason == "BackOff"]
    assert backoff[0].type == "Warning"
    assert (
        backoff[0].message == "Back-off restarting failed container main in pod web_default(uid-1)"
    )


def test_back_off_message_uses_go_duration_format() -> None:
    sim = start("sim/crash:1s-1")
    messages = set()
    for t in range(0, 1200, 5):
        sim.advance(t)
        waiting = container(sim)["state"].get("waiting")
        if waiting and waiting["reason"] == "CrashLoopBackOff":
            messages.add(waiting["message"].split(" restarting")[0])
    assert {"back-off 1m20s", "back-off 2m40s", "back-off 5m0s"} <= messages


def test_back_off_resets_after_running_fine_for_ten_minutes() -> None:
    node = NodeState()
    sim = start("sim/crash:11m-1", node)
    sim.advance(3000)
    assert restart_gaps(sim)[:3] == [0, 0, 0]


# --------------------------------------------------------------------------- lifecycle


def test_default_image_is_pulled_started_and_ready_one_second_later() -> None:
    sim = start("postgres:16")
    assert container(sim)["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert status(sim)["phase"] == "Pending"
    sim.advance(1.0)
    assert container(sim)["state"] == {"running": {"startedAt": "0.5"}}
    assert container(sim)["ready"] is False
    assert status(sim)["phase"] == "Running"
    sim.advance(1.5)
    assert container(sim)["ready"] is True
    assert condition(sim, "Ready")["status"] == "True"
    assert condition(sim, "Ready")["lastTransitionTime"] == "1.5"
    events = sim.take_events()
    assert reasons(events) == ["Pulling", "Pulled", "Created", "Started"]
    assert events[0].message == 'Pulling image "postgres:16"'
    assert events[1].message.startswith('Successfully pulled image "postgres:16" in 500ms')
    assert events[2].message == "Created container: main"
    assert events[3].message == "Started container main"
    assert all(e.field_path == "spec.containers{main}" for e in events)
    sim.advance(10_000)
    assert container(sim)["restartCount"] == 0
    assert container(sim)["ready"] is True


def test_cached_image_is_reported_already_present_on_restart() -> None:
    sim = start("sim/crash:1s-1")
    sim.advance(1.6)
    messages = [e.message for e in sim.take_events() if e.reason == "Pulled"]
    assert messages[-1] == 'Container image "sim/crash:1s-1" already present on machine'


def test_sim_ready_becomes_ready_after_its_duration() -> None:
    sim = start("sim/ready:30s")
    sim.advance(30.4)
    assert container(sim)["ready"] is False
    assert condition(sim, "ContainersReady") == {
        "type": "ContainersReady",
        "status": "False",
        "reason": "ContainersNotReady",
        "message": "containers with unready status: [main]",
        "lastProbeTime": None,
        "lastTransitionTime": "0",
    }
    sim.advance(30.5)
    assert container(sim)["ready"] is True


def test_crash_k_recovers_after_k_crashes_and_stays_ready() -> None:
    sim = start("sim/crash:1s-1-2")
    sim.advance(100)
    status_ = container(sim)
    assert status_["restartCount"] == 2
    assert "running" in status_["state"]
    assert status_["ready"] is True
    assert status_["lastState"]["terminated"]["exitCode"] == 1


def test_oom_is_terminated_oomkilled_with_exit_137() -> None:
    sim = start("sim/oom:3s")
    sim.advance(4)
    last = container(sim)["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"]) == ("OOMKilled", 137)
    assert container(sim)["restartCount"] == 1


@pytest.mark.parametrize(
    ("image", "restart", "phase", "reason", "code"),
    [
        ("sim/complete:2s-0", "Never", "Succeeded", "Completed", 0),
        ("sim/complete:2s-4", "Never", "Failed", "Error", 4),
        ("sim/complete:2s-0", "OnFailure", "Succeeded", "Completed", 0),
    ],
)
def test_run_to_completion_ends_the_pod_by_restart_policy(
    image: str, restart: str, phase: str, reason: str, code: int
) -> None:
    sim = start(image, restart=restart)
    sim.advance(100)
    terminated = container(sim)["state"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == (reason, code)
    assert container(sim)["restartCount"] == 0
    assert status(sim)["phase"] == phase
    assert condition(sim, "Ready")["reason"] == "PodCompleted"
    assert sim.next_due() is None


def test_on_failure_restarts_a_failed_run_and_stays_running() -> None:
    sim = start("sim/crash:2s-1-1", restart="OnFailure")
    sim.advance(100)
    assert container(sim)["restartCount"] == 1
    assert status(sim)["phase"] == "Running"


def test_always_restarts_even_a_successful_exit() -> None:
    sim = start("sim/complete:1s-0")
    sim.advance(2)
    assert container(sim)["restartCount"] == 1
    assert container(sim)["lastState"]["terminated"]["reason"] == "Completed"


def test_nopull_reports_err_image_pull_then_image_pull_back_off() -> None:
    sim = start("sim/nopull:x")
    sim.advance(0.6)
    waiting = container(sim)["state"]["waiting"]
    assert waiting["reason"] == "ErrImagePull"
    assert "not found" in waiting["message"]
    assert status(sim)["phase"] == "Pending"
    sim.advance(2)
    assert container(sim)["state"]["waiting"] == {
        "reason": "ImagePullBackOff",
        "message": 'Back-off pulling image "sim/nopull:x"',
    }
    events = sim.take_events()
    assert [(e.type, e.reason, e.message) for e in events[1:]] == [
        ("Warning", "Failed", events[1].message),
        ("Warning", "Failed", "Error: ErrImagePull"),
        ("Normal", "BackOff", 'Back-off pulling image "sim/nopull:x"'),
        ("Warning", "Failed", "Error: ImagePullBackOff"),
    ]
    assert events[1].message.startswith('Failed to pull image "sim/nopull:x": rpc error')
    sim.advance(11)  # back-off of 10s after the failed pull at 0.5 ends: pulled again
    assert reasons(sim.take_events()) == ["Pulling", "Failed", "Failed"]


def test_invalid_sim_image_is_reported_as_invalid_image_name() -> None:
    sim = start("sim/crash:soon")
    waiting = container(sim)["state"]["waiting"]
    assert waiting["reason"] == "InvalidImageName"
    assert "expected sim/ready:<dur>" in waiting["message"]
    assert reasons(sim.take_events()) == ["InspectFailed", "Failed"]
    assert sim.next_due() is None


# --------------------------------------------------------------------------- env sources

Objects = dict[tuple[str, str], dict[str, Any]]


def secret(**data: str) -> dict[str, Any]:
    return {"data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def start_with(objects: Objects, image: str = "postgres:16", **container: Any) -> PodSim:
    """A pod in a namespace holding `objects` ((resource, name) -> object), read when used."""
    pod = make_pod(image, **container)
    return PodSim(pod, NodeState(), now=0.0, lookup=lambda r, n: objects.get((r, n)))


def waiting(sim: PodSim) -> dict[str, Any]:
    result: dict[str, Any] = container(sim)["state"].get("waiting") or {}
    return result


def key_ref(kind: str, name: str, key: str, **ref: Any) -> dict[str, Any]:
    return {"valueFrom": {kind: {"name": name, "key": key, **ref}}}


def test_missing_secret_in_env_from_is_a_config_error_retried_on_each_sync() -> None:
    sim = start_with({}, envFrom=[{"secretRef": {"name": "creds"}}])
    sim.advance(0.5)  # pulled; creating the container's config fails
    assert container(sim)["state"] == {
        "waiting": {"reason": "CreateContainerConfigError", "message": 'secret "creds" not found'}
    }
    assert status(sim)["phase"] == "Pending"
    for type_ in ("Ready", "ContainersReady"):
        assert condition(sim, type_) | {"lastTransitionTime": None} == {
            "type": type_,
            "status": "False",
            "reason": "ContainersNotReady",
            "message": "containers with unready status: [main]",
            "lastProbeTime": None,
            "lastTransitionTime": None,
        }
    events = sim.take_events()
    assert [(e.type, e.reason) for e in events] == [
        ("Normal", "Pulling"),
        ("Normal", "Pulled"),
        ("Warning", "Failed"),
    ]
    assert events[2].message == 'Error: secret "creds" not found'
    assert events[2].field_path == "spec.containers{main}"
    sim.advance(30.5)  # the pod syncs again at 10.5, 20.5 and 30.5
    events = sim.take_events()
    assert [(e.reason, e.at) for e in events] == [
        (reason, t) for t in (10.5, 20.5, 30.5) for reason in ("Pulled", "Failed")
    ]
    assert events[0].message == 'Container image "postgres:16" already present on machine'
    assert {e.message for e in events if e.reason == "Failed"} == {
        'Error: secret "creds" not found'
    }
    status_ = container(sim)
    assert (status_["restartCount"], status_["ready"], status_["started"]) == (0, False, False)
    assert "containerID" not in status_
    assert waiting(sim)["reason"] == "CreateContainerConfigError"


@pytest.mark.parametrize(
    ("objects", "spec", "message"),
    [
        (
            {("secrets", "db"): secret(user="app")},
            {"env": [{"name": "PASSWORD", **key_ref("secretKeyRef", "db", "password")}]},
            "couldn't find key password in Secret default/db",
        ),
        (
            {},
            {"env": [{"name": "PASSWORD", **key_ref("secretKeyRef", "db", "password")}]},
            'secret "db" not found',
        ),
        (
            {},
            {"envFrom": [{"configMapRef": {"name": "settings"}}]},
            'configmap "settings" not found',
        ),
        (
            {},
            {"env": [{"name": "LEVEL", **key_ref("configMapKeyRef", "settings", "level")}]},
            'configmap "settings" not found',
        ),
        (
            {("configmaps", "settings"): {"data": {"other": "x"}}},
            {"env": [{"name": "LEVEL", **key_ref("configMapKeyRef", "settings", "level")}]},
            "couldn't find key level in ConfigMap default/settings",
        ),
        (  # envFrom is resolved before env: its error is the one reported
            {},
            {
                "envFrom": [{"secretRef": {"name": "creds"}}],
                "env": [{"name": "LEVEL", **key_ref("configMapKeyRef", "settings", "level")}],
            },
            'secret "creds" not found',
        ),
    ],
)
def test_missing_objects_and_keys_give_the_kubelet_messages(
    objects: Objects, spec: dict[str, Any], message: str
) -> None:
    sim = start_with(objects, **spec)
    sim.advance(1)
    assert waiting(sim) == {"reason": "CreateContainerConfigError", "message": message}
    assert status(sim)["phase"] == "Pending"
    assert [e.message for e in sim.take_events() if e.type == "Warning"] == [f"Error: {message}"]


def test_missing_optional_refs_are_skipped_and_the_container_starts() -> None:
    sim = start_with(
        {("secrets", "db"): secret(user="app")},
        envFrom=[
            {"secretRef": {"name": "creds", "optional": True}},
            {"configMapRef": {"name": "settings", "optional": True}},
        ],
        env=[
            {"name": "USER", **key_ref("secretKeyRef", "db", "user")},
            {"name": "PASSWORD", **key_ref("secretKeyRef", "db", "password", optional=True)},
            {"name": "LEVEL", **key_ref("configMapKeyRef", "settings", "level", optional=True)},
        ],
    )
    sim.advance(2)
    assert container(sim)["ready"] is True
    assert status(sim)["phase"] == "Running"
    run = sim.containers[0].run
    assert run is not None
    assert run.env == {"USER": "app"}
    assert "Failed" not in reasons(sim.take_events())


def test_env_from_prefixes_keys_decodes_secrets_and_env_overrides_it() -> None:
    sim = start_with(
        {
            ("secrets", "creds"): secret(USER="app", PASSWORD="s3cret"),
            ("configmaps", "settings"): {"data": {"LEVEL": "debug"}},
        },
        envFrom=[
            {"secretRef": {"name": "creds"}, "prefix": "DB_"},
            {"configMapRef": {"name": "settings"}},
        ],
        env=[{"name": "DB_USER", "value": "root"}, {"name": "EMPTY"}],
    )
    sim.advance(1)
    run = sim.containers[0].run
    assert run is not None
    assert run.env == {"DB_USER": "root", "DB_PASSWORD": "s3cret", "LEVEL": "debug", "EMPTY": ""}


def test_the_container_starts_at_the_next_sync_after_the_secret_appears() -> None:
    objects: Objects = {}
    sim = start_with(objects, envFrom=[{"secretRef": {"name": "creds"}}])
    sim.advance(5)
    assert waiting(sim)["reason"] == "CreateContainerConfigError"
    objects["secrets", "creds"] = secret(TOKEN="t")
    sim.advance(10.4)
    assert waiting(sim)["reason"] == "CreateContainerConfigError"
    sim.advance(10.5)  # the next sync after the failure at 0.5
    assert container(sim)["state"] == {"running": {"startedAt": "10.5"}}
    sim.advance(11.5)
    assert container(sim)["ready"] is True
    assert condition(sim, "Ready")["status"] == "True"
    assert condition(sim, "ContainersReady")["status"] == "True"
    assert status(sim)["phase"] == "Running"
    assert container(sim)["restartCount"] == 0
    run = sim.containers[0].run
    assert run is not None
    assert run.env == {"TOKEN": "t"}
    assert reasons(sim.take_events())[-3:] == ["Pulled", "Created", "Started"]


def test_a_config_error_on_restart_keeps_the_restart_count_and_the_back_off() -> None:
    objects: Objects = {("secrets", "creds"): secret(TOKEN="t")}
    sim = start_with(objects, "sim/crash:1s-1", envFrom=[{"secretRef": {"name": "creds"}}])
    sim.advance(1)
    del objects["secrets", "creds"]
    sim.advance(2)  # run 0 crashed at 1.5; the immediate restart cannot be created
    status_ = container(sim)
    assert status_["restartCount"] == 0
    assert status_["state"]["waiting"]["reason"] == "CreateContainerConfigError"
    assert status_["lastState"]["terminated"]["exitCode"] == 1
    sim.advance(32)  # syncs at 11.5 and 21.5 fail again; at 31.5 the 40s back-off holds
    assert waiting(sim)["reason"] == "CrashLoopBackOff"
    assert container(sim)["restartCount"] == 0
    objects["secrets", "creds"] = secret(TOKEN="t")
    sim.advance(41.5)
    assert container(sim)["state"] == {"running": {"startedAt": "41.5"}}
    assert container(sim)["restartCount"] == 1


# --------------------------------------------------------------------------- probes

READINESS = {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 10}


def test_unready_without_a_readiness_probe_stays_ready() -> None:
    sim = start("sim/unready:5s")
    sim.advance(100)
    assert container(sim)["ready"] is True
    assert not [e for e in sim.take_events() if e.reason == "Unhealthy"]


def test_unready_with_a_readiness_probe_goes_unready_after_failure_threshold() -> None:
    probe = {**READINESS, "failureThreshold": 2}
    sim = start("sim/unready:25s", readinessProbe=probe)
    # probes at 0.5, 10.5, 20.5, 30.5, 40.5 ... (container started at 0.5)
    sim.advance(10.5)
    assert container(sim)["ready"] is True
    sim.advance(30.5)  # first failure at 30.5 (elapsed 30 >= 25)
    assert container(sim)["ready"] is True
    sim.advance(40.5)
    assert container(sim)["ready"] is False
    assert condition(sim, "Ready")["lastTransitionTime"] == "40.5"
    unhealthy = [e for e in sim.take_events() if e.reason == "Unhealthy"]
    assert unhealthy[-1].message == "Readiness probe failed: HTTP probe failed with statuscode: 503"
    assert unhealthy[-1].type == "Warning"


def test_readiness_success_threshold_and_initial_delay_are_honoured() -> None:
    probe = {**READINESS, "initialDelaySeconds": 5, "successThreshold": 2}
    sim = start("postgres:16", readinessProbe=probe)
    sim.advance(15.4)  # probe at 5.5 succeeds once
    assert container(sim)["ready"] is False
    sim.advance(15.5)  # second success at 15.5
    assert container(sim)["ready"] is True


def test_hang_with_liveness_probe_is_killed_and_restarted() -> None:
    probe = {"tcpSocket": {"port": 8080}, "periodSeconds": 5, "failureThreshold": 3}
    sim = start("sim/hang:10s", livenessProbe=probe)
    sim.advance(100)
    status_ = container(sim)
    assert status_["restartCount"] >= 1
    last = status_["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (137, "Error")
    # probes at 0.5+5k; fails at 10.5, 15.5, 20.5 -> killed at 20.5
    assert sim.containers[0].runs[0].finished_at == 20.5
    events = sim.take_events()
    killing = [e for e in events if e.reason == "Killing"]
    assert killing[0].message == "Container main failed liveness probe, will be restarted"
    unhealthy = [e.message for e in events if e.reason == "Unhealthy"]
    assert unhealthy[0] == "Liveness probe failed: dial tcp 10.244.0.3:8080: i/o timeout"


def test_hang_without_liveness_probe_keeps_running() -> None:
    sim = start("sim/hang:1s")
    sim.advance(1000)
    assert container(sim)["restartCount"] == 0
    assert "running" in container(sim)["state"]


def test_startup_probe_holds_back_liveness_and_readiness() -> None:
    sim = start(
        "sim/ready:20s",
        startupProbe={"exec": {"command": ["true"]}, "periodSeconds": 10, "failureThreshold": 5},
        livenessProbe={"tcpSocket": {"port": 1}, "periodSeconds": 10},
        readinessProbe=READINESS,
    )
    sim.advance(15)
    assert container(sim)["started"] is False
    sim.advance(20.5)  # startup succeeds at 20.5; readiness probes right away
    assert container(sim)["started"] is True
    assert container(sim)["ready"] is True
    events = sim.take_events()
    assert [e.message for e in events if e.reason == "Unhealthy"] == [
        "Startup probe failed: ",
        "Startup probe failed: ",
    ]


def test_startup_probe_failure_kills_the_container() -> None:
    sim = start(
        "sim/ready:1m",
        startupProbe={
            "httpGet": {"path": "/", "port": 80},
            "periodSeconds": 10,
            "failureThreshold": 2,
        },
    )
    sim.advance(11)
    last = container(sim)["lastState"]["terminated"]
    assert last["exitCode"] == 137
    assert "Container main failed startup probe, will be restarted" in [
        e.message for e in sim.take_events()
    ]


# --------------------------------------------------------------------------- deletion


def test_deletion_runs_prestop_then_stops_and_the_pod_is_gone() -> None:
    sim = start(
        "postgres:16",
        grace=30,
        lifecycle={"preStop": {"sleep": {"seconds": 5}}},
    )
    sim.advance(10)
    sim.take_events()
    sim.delete(10)
    assert not sim.gone
    assert reasons(sim.take_events()) == ["Killing"]
    sim.advance(14.9)
    assert not sim.gone
    sim.advance(15)
    assert sim.gone
    terminated = container(sim)["state"]["terminated"]
    assert (terminated["exitCode"], terminated["finishedAt"]) == (0, "15")
    assert status(sim)["phase"] == "Succeeded"


def test_deletion_of_a_hung_container_kills_it_at_the_end_of_the_grace_period() -> None:
    sim = start(
        "sim/hang:1s", grace=20, lifecycle={"preStop": {"exec": {"command": ["sleep", "3"]}}}
    )
    sim.advance(5)
    sim.delete(5)
    sim.advance(24.9)
    assert not sim.gone
    sim.advance(25)
    assert sim.gone
    assert container(sim)["state"]["terminated"]["exitCode"] == 137
    assert status(sim)["phase"] == "Failed"


def test_deletion_of_a_waiting_container_reports_status_unknown() -> None:
    sim = start("sim/nopull:x")
    sim.advance(3)
    sim.delete(3)
    assert sim.gone
    assert container(sim)["state"]["terminated"]["reason"] == "ContainerStatusUnknown"


# --------------------------------------------------------------------------- pod status


def test_pod_status_keeps_conditions_the_kubelet_does_not_own() -> None:
    sim = start("postgres:16")
    scheduled = {"type": "PodScheduled", "status": "True", "lastTransitionTime": "x"}
    result = sim.status({"conditions": [scheduled], "phase": "Pending"}, at)
    types = [c["type"] for c in result["conditions"]]
    assert types == [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ]
    assert result["podIP"].startswith("10.244.")
    assert result["hostIP"] == "172.18.0.2"
    assert result["qosClass"] == "BestEffort"


def test_pods_get_distinct_ips() -> None:
    node = NodeState()
    assert start("a:1", node).ctx.pod_ip != start("b:1", node).ctx.pod_ip


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        ({}, "BestEffort"),
        ({"requests": {"cpu": "100m"}}, "Burstable"),
        ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
        (
            {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
            "Guaranteed",
        ),
        ({"requests": {"cpu": "1"}, "limits": {"cpu": "2", "memory": "1Gi"}}, "Burstable"),
    ],
)
def test_qos_class_follows_requests_and_limits(resources: dict[str, Any], qos: str) -> None:
    assert qos_class({"containers": [{"name": "a", "resources": resources}]}) == qos


# --------------------------------------------------------------------------- the driver


async def test_kubelet_driver_moves_only_with_the_clock() -> None:
    clock = ManualClock()
    store = Store(now=clock.now)
    kubelet = Kubelet(store, clock)
    await kubelet.start()
    pods = store.resource("pods")
    try:
        store.create(
            pods,
            {
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {
                    "nodeName": "sim-node-1",
                    "containers": [{"name": "main", "image": "a:1"}],
                },
            },
        )
        for _ in range(5):
            await asyncio.sleep(0)
        first = store.get(pods, "default", "web")["status"]["containerStatuses"][0]
        assert first["state"] == {"waiting": {"reason": "ContainerCreating"}}
        await clock.advance(2)
        ready = store.get(pods, "default", "web")["status"]["containerStatuses"][0]
        assert ready["ready"] is True
        assert ready["state"]["running"]["startedAt"] == "2025-01-01T00:00:00Z"
        node = store.get(store.resource("nodes"), None, "sim-node-1")
        assert node["status"]["conditions"][0]["reason"] == "KubeletReady"
    finally:
        await kubelet.stop()


def test_fallback_to_logs_on_error_puts_the_log_tail_in_the_termination_message() -> None:
    from tend_sim.images import parse_image
    from tend_sim.kubelet import Run, _terminated

    plan = parse_image("sim/crash:1s-3").plan(0)
    run = Run(0, "containerd://1", 0.0, plan, finished_at=1.0, exit_code=3, reason="Error")
    run.termination_message = "starting\nfatal: sim/crash exits with code 3\n"
    stamp = str
    assert _terminated(run, stamp, log_on_error=True)["message"] == run.termination_message
    assert "message" not in _terminated(run, stamp)  # policy File: no fallback to the log
    ok = Run(0, "c", 0.0, parse_image("sim/complete:1s-0").plan(0), finished_at=1.0, exit_code=0)
    assert "message" not in _terminated(ok, stamp, log_on_error=True)  # only on error
