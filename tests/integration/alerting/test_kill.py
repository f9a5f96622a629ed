"""kill -9 between deciding a page and delivering it: the decision is in status (the outbox),
so the next operator delivers it — once, with the same id — and does not decide it again.

`tend run` runs in a process of its own here, so it can be killed for real."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import events_for, managed_service
from sinks import Answer, HttpSink
from waiting import until

from tend.runtime.kube import Kube
from tend_sim import SimCluster

TEND = Path(sys.executable).parent / "tend"


@pytest.fixture
async def sink() -> AsyncIterator[HttpSink]:
    async with HttpSink() as http:
        yield http


@pytest.fixture
def run(kubeconfig: Path, tmp_path: Path, sink: HttpSink) -> Iterator[Any]:
    config = tmp_path / "tend.yaml"
    receivers = [{"name": "hook", "type": "webhook", "url": f"{sink.url}/hook"}]
    config.write_text(yaml.safe_dump({"receivers": receivers}))
    started: list[subprocess.Popen[bytes]] = []

    def start(log: str) -> subprocess.Popen[bytes]:
        args = [str(TEND), "run", "--standalone", "--kubeconfig", str(kubeconfig)]
        args += ["--config", str(config), "--metrics-port", "0", "--health-port", "0"]
        with (tmp_path / log).open("wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)


def outbox(body: dict[str, Any] | None) -> list[dict[str, Any]]:
    return list((((body or {}).get("status") or {}).get("alert") or {}).get("outbox") or [])


async def test_a_page_decided_before_a_kill_is_delivered_once_after_it(
    cluster: SimCluster, kube: Kube, sink: HttpSink, run: Any
) -> None:
    sink.script = [Answer(hold=True)]  # the first delivery reaches the receiver, unanswered
    first = run("first.log")
    ladder = [{"afterFailures": 1, "receivers": ["hook"]}]
    await kube.create(managed_service("api", image="sim/crash:1s-3", alerts={"escalation": ladder}))
    await sink.until(lambda: sink.on("/hook"), "the delivery in flight", deadline=60)
    live = await kube.get("ManagedService", "default", "api")
    (owed,) = outbox(live)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)

    run("second.log")
    await sink.until(lambda: sink.answered("/hook"), "the delivery, by the next operator", 60)
    await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "api"),
        "the delivery recorded: outbox empty",
        satisfied=lambda b: b is not None and not outbox(b),
        deadline=30,
    )
    hooks = sink.on("/hook")
    assert [r.json()["id"] for r in hooks] == [owed["id"], owed["id"]]
    assert {r.headers["Idempotency-Key"] for r in hooks} == {owed["id"]}
    assert [r.answered for r in hooks] == [0, 200], "held, then delivered once"
    reasons = [e["reason"] for e in await events_for(kube, "api")]
    assert reasons.count("Escalated") == 1, "decided once, not again after the restart"
