"""/metrics over HTTP as Prometheus reads it: plain and gzipped, and clean by `promtool check
metrics` (the Prometheus project's linter of metric names, types and help)."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tend.runtime.metrics import Metrics, serve_metrics

PROMTOOL = shutil.which("promtool")


@pytest.fixture
def served() -> Iterator[str]:
    metrics = Metrics()
    status = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}],
        "restarts": {"byReason": {"OOMKilled": 2}, "budgetRemaining": 1},
    }
    body = {
        "metadata": {"namespace": "shop", "name": "api", "resourceVersion": "7"},
        "spec": {"image": 'odd"image\\name', "restartPolicy": {"policy": "Always"}},
        "status": status,
    }
    metrics.collect_from(services=lambda: [body], queue=lambda: (0, []))
    metrics.reconciles.labels("success").inc()
    server = serve_metrics(metrics, 0, addr="127.0.0.1")
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def get(url: str, **headers: str) -> tuple[dict[str, str], bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as response:
        return dict(response.headers), response.read()


def test_metrics_are_served_plain_and_gzipped(served: str) -> None:
    headers, plain = get(served)
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    zipped_headers, zipped = get(served, **{"Accept-Encoding": "gzip"})
    assert zipped_headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped) == plain
    families = {f.name: f for f in text_string_to_metric_families(plain.decode())}
    info = families["tend_managedservice_info"].samples[0]
    assert info.labels["image"] == 'odd"image\\name', "label values are escaped and read back"
    with pytest.raises(urllib.error.HTTPError) as missing:
        get(served.replace("/metrics", "/nope"))
    assert missing.value.code == 404


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus)")
def test_promtool_finds_nothing_to_lint(served: str) -> None:
    assert PROMTOOL is not None
    _, page = get(served)
    lint = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=page, capture_output=True, check=False
    )
    assert lint.returncode == 0 and not lint.stdout and not lint.stderr, (
        lint.stdout.decode() + lint.stderr.decode()
    )
