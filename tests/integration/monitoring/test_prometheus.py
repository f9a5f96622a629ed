"""A real Prometheus (Debian's `prometheus`, on 127.0.0.1) scrapes a real `tend run` (its own
process) that runs a crash-looping ManagedService on the simulated cluster; what Prometheus
stored is read back through its HTTP query API."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
import yaml
from harness import managed_service
from sinks import HttpSink, free_port

from tend.runtime.kube import Kube

T = TypeVar("T")

PROMETHEUS = shutil.which("prometheus")
TEND = Path(sys.executable).parent / "tend"
DEADLINE = 90.0  # real seconds; the crash loop's back-off grows (10 s, 20 s, 40 s... / speed)

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="prometheus not installed (Debian package prometheus; .ci/run installs it)",
)


@contextlib.contextmanager
def process(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Prometheus:
    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session

    async def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's result vector ([] while Prometheus is not up yet)."""
        try:
            async with self.session.get(
                f"{self.url}/api/v1/query", params={"query": promql}
            ) as response:
                body = await response.json()
        except aiohttp.ClientError:
            return []
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def value(self, promql: str) -> float | None:
        result = await self.query(promql)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None


@pytest.fixture
async def heartbeat() -> AsyncIterator[HttpSink]:
    """A scrape target of the test's own. Prometheus requests it every scrape interval, like
    tend's; each request is the event on which the test looks at Prometheus again (no
    polling with sleeps: the re-checks follow Prometheus's own scrape loop)."""
    async with HttpSink() as beat:
        yield beat


async def test_prometheus_sees_restarts_rise_the_budget_fall_and_the_phase_turn_degraded(
    kube: Kube, kubeconfig: Path, tmp_path: Path, heartbeat: HttpSink
) -> None:
    assert PROMETHEUS is not None
    metrics_port, web_port = free_port(), free_port()
    config = {
        "global": {"scrape_interval": "500ms", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "tend",
                "honor_labels": True,  # as deploy/components/monitoring's ServiceMonitor
                "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}],
            },
            {
                "job_name": "heartbeat",
                "static_configs": [{"targets": [f"127.0.0.1:{heartbeat.port}"]}],
            },
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    operator = [str(TEND), "run", "--standalone", "--kubeconfig", str(kubeconfig)]
    operator += ["--metrics-port", str(metrics_port), "--health-port", "0"]
    server = [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}"]
    server += [f"--storage.tsdb.path={tmp_path / 'data'}"]
    server += [f"--web.listen-address=127.0.0.1:{web_port}", "--log.level=warn"]
    with (
        process(operator, tmp_path / "tend.log"),
        process(server, tmp_path / "prometheus.log"),
    ):
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            prometheus = Prometheus(f"http://127.0.0.1:{web_port}", session)
            await heartbeat.until(
                lambda: prometheus.value('up{job="tend"}'),
                "Prometheus scrapes tend run",
                satisfied=lambda up: up == 1,
            )
            # Runs of 20 s, shorter than minUptime: each restart is a CrashLoop. The kubelet's
            # back-off spaces the restarts, so Prometheus (every 1 s) sees each step.
            policy = {"maxRestarts": 3, "window": "1h", "minUptime": "60s"}
            await kube.create(managed_service("api", image="sim/crash:20s-3", restartPolicy=policy))
            api = 'namespace="default",name="api"'
            await heartbeat.until(
                lambda: prometheus.value(f"tend_restart_budget_exhausted{{{api}}}"),
                "Prometheus has scraped the exhausted budget",
                satisfied=lambda value: value == 1,
            )
            degraded = f'tend_managedservice_phase{{{api},phase="Degraded"}}'
            assert await prometheus.value(degraded) == 1
            assert (
                await prometheus.value(f'tend_managedservice_phase{{{api},phase="Running"}}') == 0
            )
            restarts = f'tend_restarts_total{{{api},reason="CrashLoop"}}'
            now = await prometheus.value(restarts)
            assert now is not None and now >= 4, "maxRestarts 3: exhausted by the fourth"
            first = await prometheus.value(f"min_over_time({restarts}[5m])")
            assert first is not None and first < now, "the counter rose while scraped"
            assert await prometheus.value(f"tend_restart_budget_remaining{{{api}}}") == 0
            budget_before = await prometheus.value(
                f"max_over_time(tend_restart_budget_remaining{{{api}}}[5m])"
            )
            assert budget_before is not None and budget_before > 0, "the budget fell"
            info = await prometheus.query(f"tend_managedservice_info{{{api}}}")
            assert [r["metric"]["image"] for r in info] == ["sim/crash:20s-3"]
            assert await prometheus.value('sum(tend_reconcile_total{result="success"})')
