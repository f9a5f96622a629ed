"""Prometheus metrics of one operator (names are part of the contract in DESIGN.md).

Three kinds of series:
- **Per ManagedService** (`tend_managedservice_*`, `tend_restarts_total`,
  `tend_restart_budget_remaining`, `tend_restart_budget_exhausted`,
  `tend_dependency_blocked`), computed at scrape time from
  the operator's cache by `ServiceCollector` (values: `tend.logic.service_metrics`): nothing
  drifts from the status they report, and a deleted ManagedService's series are gone at the
  next scrape, as with kube-state-metrics.
- **The work queue**, named and labelled like client-go's (k8s.io/client-go/util/workqueue
  metrics.go, `name` = the queue): `workqueue_depth`, `workqueue_adds_total`,
  `workqueue_retries_total`, `workqueue_queue_duration_seconds`,
  `workqueue_work_duration_seconds`, `workqueue_unfinished_work_seconds`,
  `workqueue_longest_running_processor_seconds`.
- **The operator's own work**: reconciles, API requests tend makes (`tend_api_requests_total`
  by verb and code, like client-go's `rest_client_requests_total`; kopf's own watch requests
  are not among them), errors of the watches tend runs itself (pods, peering), and alert
  deliveries (`tend_alerts_total`, by receiver, severity and result).

Each operator has a registry of its own, so tests and HA pairs in one process never share
series. The HTTP server (prometheus-client's) runs on a thread: the collectors read the caches
through snapshots (`list(...)` of a dict is one step under the GIL) and never block the loop.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tend.logic.service_metrics import PHASES, ServiceSamples, service_samples

disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` twin for every counter series

QUEUE = "managedservices"  # the work queue's `name` label
# client-go's workqueue buckets: prometheus.ExponentialBuckets(10e-9, 10, 10).
QUEUE_BUCKETS = tuple(10.0**exponent for exponent in range(-8, 2))
SERVICE = ["namespace", "name"]


class Metrics:
    """The metrics of one operator, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.services: ServiceSeries | None = None
        # `/readyz`: whether this operator can work (caches synced, the API server answers).
        self.ready: Callable[[], bool] = lambda: True
        r = self.registry
        self.reconciles = Counter(
            "tend_reconcile_total",
            "Reconciles of ManagedServices, by result.",
            ["result"],
            registry=r,
        )
        self.reconcile_duration = Histogram(
            "tend_reconcile_duration_seconds",
            "Time one reconcile of a ManagedService took.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.api_requests = Counter(
            "tend_api_requests_total",
            "Requests tend made to the Kubernetes API, by verb and HTTP code (<error>: none).",
            ["verb", "code"],
            registry=r,
        )
        self.watch_errors = Counter(
            "tend_watch_errors_total",
            "Watches tend runs itself (pods, peering) that failed, by kind and HTTP code.",
            ["kind", "code"],
            registry=r,
        )
        self.write_budget = Counter(
            "tend_write_budget_exceeded_total",
            "Times a ManagedService's objects were written more than the write budget allows "
            "in a minute (a loop somewhere: see its Events).",
            ["namespace", "name"],
            registry=r,
        )
        self.alerts = Counter(
            "tend_alerts_total",
            "Alert notifications tend tried to deliver, by receiver, severity and result.",
            ["receiver", "severity", "result"],
            registry=r,
        )
        self.queue_adds = Counter(
            "workqueue_adds_total", "Adds handled by the work queue.", ["name"], registry=r
        )
        self.queue_retries = Counter(
            "workqueue_retries_total", "Retries handled by the work queue.", ["name"], registry=r
        )
        self.queue_wait = Histogram(
            "workqueue_queue_duration_seconds",
            "How long an item stays in the work queue before being processed.",
            ["name"],
            buckets=QUEUE_BUCKETS,
            registry=r,
        )
        self.queue_work = Histogram(
            "workqueue_work_duration_seconds",
            "How long processing an item from the work queue takes.",
            ["name"],
            buckets=QUEUE_BUCKETS,
            registry=r,
        )

    # --- the work queue's observer (tend.runtime.workqueue.QueueObserver) -------------------

    def added(self) -> None:
        self.queue_adds.labels(QUEUE).inc()

    def retried(self) -> None:
        self.queue_retries.labels(QUEUE).inc()

    def waited(self, seconds: float) -> None:
        self.queue_wait.labels(QUEUE).observe(seconds)

    def worked(self, seconds: float) -> None:
        self.queue_work.labels(QUEUE).observe(seconds)

    # --- the API client's observer ----------------------------------------------------------

    def requested(self, verb: str, code: int | None) -> None:
        self.api_requests.labels(verb, "<error>" if not code else str(code)).inc()

    def watch_failed(self, kind: str, code: int | None) -> None:
        self.watch_errors.labels(kind, "<error>" if not code else str(code)).inc()

    # --- what is read at scrape time --------------------------------------------------------

    def collect_from(
        self,
        services: Callable[[], Iterable[Mapping[str, Any]]],
        queue: Callable[[], tuple[int, list[float]]],
        active: Callable[[], bool] = lambda: True,
    ) -> None:
        """Export, at each scrape, the per-service series of `services()` (the cached
        ManagedServices), the queue's depth and running items (`queue()`: depth, start
        times), and whether this replica is the active peer (`active()`)."""
        self.services = ServiceSeries(services)
        self.registry.register(QueueCollector(queue))
        Gauge(
            "tend_operator_active",
            "1 when this replica is the active one (kopf peering), 0 while it stands by.",
            registry=self.registry,
        ).set_function(lambda: 1.0 if active() else 0.0)

    def render(self) -> bytes:
        """The whole /metrics page (text format 0.0.4)."""
        page = generate_latest(self.registry)
        if self.services is not None:
            page += self.services.render().encode()
        return page


# The per-service families: (name, type, help). Rendered by `ServiceSeries`, in this order.
FAMILIES = (
    ("tend_managedservice_ready", "gauge", "1 when the ManagedService is Ready, else 0."),
    (
        "tend_managedservice_phase",
        "gauge",
        "1 for the ManagedService's current phase, 0 for the others.",
    ),
    ("tend_managedservice_info", "gauge", "Always 1: what the ManagedService runs, as labels."),
    (
        "tend_restarts_total",
        "counter",
        "Container restarts tend counted for the ManagedService, by reason.",
    ),
    (
        "tend_restart_budget_remaining",
        "gauge",
        "Restarts left in the window before the budget is exhausted (maxRestarts set).",
    ),
    (
        "tend_restart_budget_exhausted",
        "gauge",
        "1 while the ManagedService's restart budget is exhausted (RestartBudgetExhausted).",
    ),
    (
        "tend_dependency_blocked",
        "gauge",
        "Dependencies of the ManagedService that are not satisfied (0: not blocked).",
    ),
)
HEADERS = tuple(
    f"# HELP {name} {documentation}\n# TYPE {name} {kind}\n"
    for name, kind, documentation in FAMILIES
)


class ServiceSeries:
    """The per-ManagedService series, rendered from the cache at each scrape.

    At 10,000 services these are some 130,000 samples; prometheus-client builds and formats
    an object per sample and took about a second for them. Here each ManagedService's lines
    are formatted once per version of it (its resourceVersion) and kept until it changes or
    is gone; a scrape joins them, family by family, as the text format wants.
    """

    def __init__(self, services: Callable[[], Iterable[Mapping[str, Any]]]) -> None:
        self.services = services
        self._lines: dict[tuple[str, str], tuple[tuple[int, str], tuple[str, ...]]] = {}
        self._lock = threading.Lock()  # scrapes may overlap; each has the cache to itself

    def render(self) -> str:
        with self._lock:
            kept: dict[tuple[str, str], tuple[tuple[int, str], tuple[str, ...]]] = {}
            for body in self.services():
                meta = body.get("metadata") or {}
                key = (str(meta.get("namespace") or "default"), str(meta.get("name") or ""))
                version = (id(body), str(meta.get("resourceVersion") or ""))
                cached = self._lines.get(key)
                if cached is None or cached[0] != version:
                    cached = (version, _lines(service_samples(body)))
                kept[key] = cached
            self._lines = kept  # what was deleted is gone with it
            parts: list[str] = []
            for index, header in enumerate(HEADERS):
                parts.append(header)
                parts.extend(lines[index] for _, lines in kept.values())
            return "".join(parts)


def _lines(s: ServiceSamples) -> tuple[str, ...]:
    """One service's lines of each family in FAMILIES, in the text exposition format."""
    who = f'namespace="{_escape(s.namespace)}",name="{_escape(s.name)}"'
    phases = _PHASE_LINES[s.phase].replace(_WHO, who) if s.phase in _PHASE_LINES else ""
    restarts = "".join(
        f'tend_restarts_total{{{who},reason="{_escape(reason)}"}} {float(count)}\n'
        for reason, count in s.restarts
    )
    budget = (
        f"tend_restart_budget_remaining{{{who}}} {float(s.budget_remaining)}\n"
        if s.budget_remaining is not None
        else ""
    )
    return (
        f"tend_managedservice_ready{{{who}}} {1.0 if s.ready else 0.0}\n",
        phases,
        f'tend_managedservice_info{{{who},image="{_escape(s.image)}",'
        f'policy="{_escape(s.policy)}"}} 1.0\n',
        restarts,
        budget,
        f"tend_restart_budget_exhausted{{{who}}} {1.0 if s.budget_exhausted else 0.0}\n",
        f"tend_dependency_blocked{{{who}}} {float(s.blocked_by)}\n",
    )


_WHO = "\0"  # stands for the labels of one service in the templates below
# The seven phase lines of a service in each phase, formatted once (the cold render's
# largest part: 7 of its 13 lines per service).
_PHASE_LINES = {
    current: "".join(
        f'tend_managedservice_phase{{{_WHO},phase="{phase}"}} {1.0 if phase == current else 0.0}\n'
        for phase in PHASES
    )
    for current in PHASES
}


def _escape(value: str) -> str:
    """A label value in the text format: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class QueueCollector(Collector):
    """client-go's gauges of the work queue, read at scrape time."""

    def __init__(self, queue: Callable[[], tuple[int, list[float]]]) -> None:
        self.queue = queue

    def collect(self) -> Iterator[Metric]:
        depth, started = self.queue()
        now = time.monotonic()
        running = [max(0.0, now - t) for t in started]
        yield _queue_gauge("workqueue_depth", "Current depth of the work queue.", depth)
        yield _queue_gauge(
            "workqueue_unfinished_work_seconds",
            "Seconds of work in progress that has not been observed by work_duration.",
            sum(running),
        )
        yield _queue_gauge(
            "workqueue_longest_running_processor_seconds",
            "Seconds the longest running processor of the work queue has been running.",
            max(running, default=0.0),
        )


def _queue_gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation, labels=["name"])
    gauge.add_metric([QUEUE], value)
    return gauge


def serve_metrics(metrics: Metrics, port: int, addr: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Serve `metrics.render()` at /metrics and readiness at /readyz on `port`, from a
    thread of its own (like prometheus-client's `start_http_server`, which cannot add the
    per-service page)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/readyz":
                ok = metrics.ready()
                body = b"ok\n" if ok else b"not ready: the API server does not answer\n"
                self.send_response(200 if ok else 503)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if path not in ("/metrics", "/"):
                self.send_error(404)
                return
            body = metrics.render()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_PLAIN_0_0_4)
            if "gzip" in (self.headers.get("Accept-Encoding") or ""):
                body = gzip.compress(body, compresslevel=1)
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # a scrape every few seconds is not worth a log line

    server = ThreadingHTTPServer((addr, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="tend-metrics", daemon=True).start()
    return server
