"""Prometheus metrics of the operator (names are part of the contract in DESIGN.md)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

RECONCILE_TOTAL = Counter(
    "tend_reconcile_total", "Reconciles of ManagedServices, by result.", ["result"]
)
RECONCILE_DURATION = Histogram(
    "tend_reconcile_duration_seconds",
    "Time one reconcile of a ManagedService took.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def serve_metrics(port: int, addr: str = "0.0.0.0") -> None:
    """Expose /metrics on `port` (prometheus-client's own HTTP server thread)."""
    start_http_server(port, addr=addr)
