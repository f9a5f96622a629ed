"""Logs worth reading: at debug, nothing of a Secret; a line per write naming the object;
no kopf line per watch event."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness import Operator, create_secret, managed_service
from sinks import HttpSink

from tend.api.config import OperatorConfig
from tend.runtime.kube import Kube
from tend_sim import SimCluster

TOKEN = "hunter2-very-secret-token"


@pytest.fixture
async def sink() -> AsyncIterator[HttpSink]:
    async with HttpSink() as http:
        yield http


async def test_a_secret_read_for_a_receiver_is_never_logged_and_writes_are(
    cluster: SimCluster,
    kube: Kube,
    kubeconfig: Path,
    sink: HttpSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, every logger: `tend run -v` and more
    await create_secret(kube, "hook", {"secret": TOKEN})
    receivers = [{"name": "hook", "type": "webhook", "url": f"{sink.url}/hook",
                  "secret_from": {"name": "hook", "key": "secret"}}]  # fmt: skip
    operator = Operator(
        kubeconfig, cluster, OperatorConfig(receivers=receivers, namespace="tend-system")
    )
    await operator.start()
    try:
        ladder = [{"afterFailures": 1, "receivers": ["hook"]}]
        await kube.create(
            managed_service("api", image="sim/crash:1s-3", alerts={"escalation": ladder})
        )
        await sink.until(lambda: sink.answered("/hook"), "the signed page (the Secret was read)")
    finally:
        await operator.stop()
    assert "X-Tend-Signature" in sink.answered("/hook")[0].headers
    text = caplog.text
    assert TOKEN not in text
    assert base64.b64encode(TOKEN.encode()).decode() not in text
    writes = [r.getMessage() for r in caplog.records if r.name == "tend.controller"]
    assert "default/api: create Deployment api" in writes
    per_event = [r for r in caplog.records if r.name == "kopf.objects" and "succeeded" in r.msg]
    assert not per_event, "kopf's line per watch event, naming no object"
