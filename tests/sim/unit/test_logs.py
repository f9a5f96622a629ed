"""What simulated containers write to their logs, and how the kubelet keeps them bounded."""

from __future__ import annotations

from typing import Any

from tend_sim.kubelet import NodeState, PodSim
from tend_sim.logs import LOG_RING_LINES, TERMINATION_LOG_BYTES, ContainerLog

HTTP = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10}


def start(image: str, **container: Any) -> PodSim:
    pod = {
        "metadata": {"name": "web", "namespace": "default", "uid": "uid-1"},
        "spec": {
            "nodeName": "sim-node-1",
            "containers": [{"name": "main", "image": image, **container}],
        },
    }
    return PodSim(pod, NodeState(), now=0.0)


def log_lines(sim: PodSim, now: float, run: int = -1) -> list[tuple[float, str]]:
    sim.advance(now)
    container = sim.containers[0]
    log = container.log_of(container.runs[run].container_id, now)
    assert log is not None
    return list(log.lines)


def test_default_image_logs_a_start_line_a_ready_line_and_each_probe_request() -> None:
    sim = start("postgres:16", readinessProbe=HTTP)
    # pulled in 0.5s, started at 0.5; probes at 0.5, 10.5, 20.5, 30.5
    assert log_lines(sim, 35) == [
        (0.5, "starting"),
        (0.5, '172.18.0.2 "GET /healthz HTTP/1.1" 503 "kube-probe/1.37"'),
        (1.5, "ready: serving requests"),
        (10.5, '172.18.0.2 "GET /healthz HTTP/1.1" 200 "kube-probe/1.37"'),
        (20.5, '172.18.0.2 "GET /healthz HTTP/1.1" 200 "kube-probe/1.37"'),
        (30.5, '172.18.0.2 "GET /healthz HTTP/1.1" 200 "kube-probe/1.37"'),
    ]
    # Reading again later adds only what happened since.
    assert len(log_lines(sim, 50.5)) == 8


def test_a_hung_application_logs_nothing_more_and_exec_probes_are_not_in_the_log() -> None:
    tcp = {"tcpSocket": {"port": 8080}, "periodSeconds": 5, "failureThreshold": 3}
    sim = start("sim/hang:10s", livenessProbe=tcp)
    lines = log_lines(sim, 20, run=0)
    assert [t for t, _ in lines] == [0.5, 0.5, 1.5, 5.5, 10.5]
    assert lines[-1] == (10.5, "warning: worker pool exhausted, requests are queueing")
    exec_probe = {"exec": {"command": ["true"]}, "periodSeconds": 1}
    quiet = start("postgres:16", livenessProbe=exec_probe)
    assert [line for _, line in log_lines(quiet, 100)] == ["starting", "ready: serving requests"]


def test_each_script_ends_its_log_with_its_last_words() -> None:
    assert log_lines(start("sim/crash:2s-3"), 2.6, run=0)[-1][1] == (
        "fatal: sim/crash exits with code 3"
    )
    assert log_lines(start("sim/oom:1s"), 1.6, run=0)[-1][1] == "allocating memory without bound"
    done = start("sim/complete:3s-0", restartPolicy="Never")
    assert [line for _, line in log_lines(done, 10)] == [
        "starting",
        "ready: serving requests",
        "done",
    ]


def test_termination_message_is_the_log_tail_80_lines_2048_bytes() -> None:
    probe = {**HTTP, "periodSeconds": 1}
    sim = start(
        "sim/crash:200s-1", readinessProbe=probe, terminationMessagePolicy="FallbackToLogsOnError"
    )
    sim.advance(201)
    first = sim.containers[0].runs[0]
    message = first.termination_message
    assert message.endswith("fatal: sim/crash exits with code 1\n")
    assert len(message.encode()) == TERMINATION_LOG_BYTES  # 80 lines are more than 2048 bytes
    assert message.count("\n") < 80
    status = sim.status(None, str)["containerStatuses"][0]["lastState"]["terminated"]
    assert status["message"] == message
    plain = start("sim/crash:1s-1")
    plain.advance(2)
    assert "message" not in plain.status(None, str)["containerStatuses"][0]["lastState"].get(
        "terminated", {}
    )


def test_logs_are_bounded_per_instance_and_only_the_previous_instance_is_kept() -> None:
    probe = {**HTTP, "periodSeconds": 1}
    sim = start("postgres:16", readinessProbe=probe)
    lines = log_lines(sim, 3 * LOG_RING_LINES)
    assert len(lines) == LOG_RING_LINES
    assert lines[-1][0] == 3 * LOG_RING_LINES - 0.5
    crash = start("sim/crash:1s-1")
    crash.advance(200)
    runs = crash.containers[0].runs
    assert len(runs) >= 4
    assert all(run.log is None for run in runs[:-2])
    assert all(run.log is not None for run in runs[-2:])


def test_tail_text_keeps_the_last_80_lines() -> None:
    log = ContainerLog()
    log.extend([(float(i), f"line {i}") for i in range(100)])
    text = log.tail_text()
    assert text.splitlines()[0] == "line 20"
    assert text.splitlines()[-1] == "line 99"
