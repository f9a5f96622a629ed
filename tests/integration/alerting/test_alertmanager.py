"""tend pages a real Alertmanager (Debian's prometheus-alertmanager, on 127.0.0.1), whose own
webhook receiver points back at the test: alerts arrive with tend's labels, stay firing
while tend re-sends them, move to critical when the ladder climbs, and resolve."""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from harness import Operator, managed_service
from prometheus_client.parser import text_string_to_metric_families
from sinks import HttpSink, free_port

from tend.api.config import OperatorConfig
from tend.runtime.kube import Kube
from tend_sim import SimCluster

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = pytest.mark.skipif(
    ALERTMANAGER is None,
    reason="Alertmanager not installed (Debian package prometheus-alertmanager; .ci/run has it)",
)


@pytest.fixture
async def sink() -> AsyncIterator[HttpSink]:
    async with HttpSink() as http:
        yield http


@pytest.fixture
def alertmanager(tmp_path: Path, sink: HttpSink) -> Iterator[str]:
    assert ALERTMANAGER is not None
    config = {
        "route": {
            "receiver": "test",
            "group_by": ["alertname", "namespace", "service", "severity"],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "test",
                "webhook_configs": [{"url": f"{sink.url}/am", "send_resolved": True}],
            }
        ],
    }
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    args = [ALERTMANAGER, f"--config.file={tmp_path / 'alertmanager.yml'}"]
    args += [f"--storage.path={tmp_path / 'am'}", f"--web.listen-address=127.0.0.1:{port}"]
    args += ["--cluster.listen-address=", "--log.level=warn"]
    with (tmp_path / "alertmanager.log").open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def notified(sink: HttpSink, status: str, severity: str) -> list[dict[str, Any]]:
    """Alerts Alertmanager's webhook delivered with `status` and `severity`."""
    return [
        alert
        for request in sink.on("/am")
        for alert in request.json()["alerts"]
        if alert["status"] == status and alert["labels"].get("severity") == severity
    ]


async def received(alertmanager: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as session, session.get(f"{alertmanager}/metrics") as r:
        text = await r.text()
    return {
        sample.labels["status"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "alertmanager_alerts_received"
        for sample in family.samples
    }


async def test_alertmanager_gets_firing_escalated_and_resolved_alerts(
    cluster: SimCluster, kube: Kube, kubeconfig: Path, sink: HttpSink, alertmanager: str
) -> None:
    receiver = {"name": "am", "type": "alertmanager", "url": alertmanager, "resend_interval": "1s"}
    operator = Operator(kubeconfig, cluster, OperatorConfig(receivers=[receiver]))
    await operator.start()
    try:
        ladder = [
            {"afterFailures": 1, "severity": "warning", "receivers": ["am"]},
            {"afterFailures": 4, "severity": "critical", "receivers": ["am"]},
        ]
        alerts = {"escalation": ladder, "resolveAfter": "1s"}
        await kube.create(managed_service("api", image="sim/crash:1s-3-4", alerts=alerts))
        await sink.until(lambda: notified(sink, "firing", "warning"), "warning firing", 60)
        await sink.until(lambda: notified(sink, "firing", "critical"), "critical firing", 60)
        # Climbing the ladder ended the warning alert: its labels are replaced by critical's.
        await sink.until(lambda: notified(sink, "resolved", "warning"), "warning ended", 60)
        await sink.until(lambda: notified(sink, "resolved", "critical"), "resolved", 60)
        counts = await received(alertmanager)
    finally:
        await operator.stop()
    (warning,) = notified(sink, "firing", "warning")
    assert warning["labels"] == {
        "alertname": "TendServiceFailing",
        "namespace": "default",
        "service": "api",
        "reason": "Crashing",
        "severity": "warning",
    }
    assert warning["annotations"]["incident_key"].startswith("tend/default/api/Crashing")
    assert "CrashLoop" in warning["annotations"]["summary"]
    assert "kubectl describe managedservice -n default api" in warning["annotations"]["description"]
    (critical,) = notified(sink, "resolved", "critical")
    key = warning["annotations"]["incident_key"]
    assert critical["annotations"]["incident_key"] == key, "one incident, climbing"
    assert critical["startsAt"] <= critical["endsAt"]
    # Three POSTs decide it (warning, critical with the warning's end, the resolve); every
    # alert beyond those that Alertmanager received is one of tend's re-sends while firing.
    assert counts.get("firing", 0) > 3, counts
    assert counts.get("resolved", 0) >= 2, counts
