"""The operator's metrics: per-service series from the cache at scrape time, the work queue's,
and the exposition a Prometheus server reads (parsed back, not grepped)."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tend.logic.service_metrics import ServiceSamples, service_samples
from tend.runtime.metrics import QUEUE, Metrics
from tend.runtime.workqueue import WorkQueue

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def managed_service(name: str, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "shop", "name": name},
        "spec": {"image": "ghcr.io/shop/api:1.4", "restartPolicy": {"policy": "Always"}},
        "status": status,
    }


def scrape(metrics: Metrics) -> Series:
    text = metrics.render().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def of(series: Series, metric: str, /, **labels: str) -> float | None:
    return series.get((metric, tuple(sorted(labels.items()))))


READY = {"type": "Ready", "status": "True", "reason": "Reconciled"}
NOT_READY = {"type": "Ready", "status": "False", "reason": "CrashLoop"}
EXHAUSTED = {"type": "RestartBudgetExhausted", "status": "True", "reason": "RestartBudgetExhausted"}


def samples(**values: Any) -> ServiceSamples:
    defaults: dict[str, Any] = {
        "namespace": "shop",
        "name": "api",
        "ready": False,
        "phase": None,
        "image": "ghcr.io/shop/api:1.4",
        "policy": "Always",
        "restarts": (),
        "budget_remaining": None,
        "budget_exhausted": False,
        "blocked_by": 0,
    }
    return ServiceSamples(**(defaults | values))


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({}, samples()),
        ({"phase": "Running", "conditions": [READY]}, samples(ready=True, phase="Running")),
        (
            {
                "phase": "Degraded",
                "conditions": [NOT_READY, EXHAUSTED],
                "restarts": {"byReason": {"OOMKilled": 2, "CrashLoop": 5}, "budgetRemaining": 0},
                "blockedBy": [{"name": "db"}, {"name": "cache"}],
            },
            samples(
                phase="Degraded",
                restarts=(("CrashLoop", 5), ("OOMKilled", 2)),
                budget_remaining=0,
                budget_exhausted=True,
                blocked_by=2,
            ),
        ),
        (
            {"restarts": {"byReason": {"CrashLoop": 0}}, "conditions": [{"type": "Ready"}]},
            samples(),  # a zero count and a condition without a status say nothing
        ),
    ],
    ids=["never-reported", "running", "degraded-blocked-exhausted", "empty-values"],
)
def test_service_samples_read_the_status(status: dict[str, Any], expected: ServiceSamples) -> None:
    assert service_samples(managed_service("api", **status)) == expected


def test_a_spec_without_a_restart_policy_reports_the_default_policy() -> None:
    body = managed_service("api")
    del body["spec"]["restartPolicy"]
    assert service_samples(body).policy == "Always"


def test_per_service_series_follow_the_cache_and_vanish_with_the_object() -> None:
    cache: dict[str, dict[str, Any]] = {
        "api": managed_service(
            "api",
            phase="Degraded",
            conditions=[NOT_READY],
            restarts={"byReason": {"CrashLoop": 3}, "budgetRemaining": 1},
            blockedBy=[{"name": "db"}],
        ),
        "db": managed_service("db", phase="Running", conditions=[READY]),
    }
    metrics = Metrics()
    metrics.collect_from(services=lambda: list(cache.values()), queue=lambda: (0, []))
    series = scrape(metrics)
    api = {"namespace": "shop", "name": "api"}
    assert of(series, "tend_managedservice_ready", **api) == 0
    assert of(series, "tend_managedservice_ready", namespace="shop", name="db") == 1
    assert of(series, "tend_managedservice_phase", **api, phase="Degraded") == 1
    assert of(series, "tend_managedservice_phase", **api, phase="Running") == 0
    phases = [k for k in series if k[0] == "tend_managedservice_phase" and ("name", "api") in k[1]]
    assert len(phases) == 7, "one series per phase, like kube_pod_status_phase"
    assert of(series, "tend_restarts_total", **api, reason="CrashLoop") == 3
    assert of(series, "tend_restart_budget_remaining", **api) == 1
    assert of(series, "tend_restart_budget_remaining", namespace="shop", name="db") is None
    assert of(series, "tend_dependency_blocked", **api) == 1
    assert of(series, "tend_restart_budget_exhausted", **api) == 0
    info = {**api, "image": "ghcr.io/shop/api:1.4", "policy": "Always"}
    assert of(series, "tend_managedservice_info", **info) == 1

    # The next status: recovered, one more restart. Then the object is deleted.
    cache["api"] = managed_service(
        "api",
        phase="Running",
        conditions=[READY],
        restarts={"byReason": {"CrashLoop": 4}, "budgetRemaining": 0},
    )
    cache["api"]["status"]["conditions"].append(EXHAUSTED)
    series = scrape(metrics)
    assert of(series, "tend_managedservice_phase", **api, phase="Degraded") == 0
    assert of(series, "tend_managedservice_phase", **api, phase="Running") == 1
    assert of(series, "tend_restarts_total", **api, reason="CrashLoop") == 4
    assert of(series, "tend_dependency_blocked", **api) == 0
    assert of(series, "tend_restart_budget_exhausted", **api) == 1
    del cache["api"]
    series = scrape(metrics)
    assert not [key for key in series if ("name", "api") in key[1]], "a deleted service's series"


def test_every_metric_has_help_text() -> None:
    metrics = Metrics()
    metrics.collect_from(services=lambda: [managed_service("api")], queue=lambda: (0, []))
    metrics.requested("get", 200)
    metrics.watch_failed("Pod", 410)
    metrics.alerts.labels("oncall", "critical", "sent").inc()
    text = metrics.render().decode()
    families = list(text_string_to_metric_families(text))
    assert {family.name for family in families} == {
        "tend_managedservice_ready",
        "tend_managedservice_phase",
        "tend_managedservice_info",
        "tend_restarts",
        "tend_restart_budget_remaining",
        "tend_restart_budget_exhausted",
        "tend_dependency_blocked",
        "tend_alerts",
        "tend_reconcile",
        "tend_reconcile_duration_seconds",
        "tend_api_requests",
        "tend_watch_errors",
        "workqueue_depth",
        "workqueue_adds",
        "workqueue_retries",
        "workqueue_queue_duration_seconds",
        "workqueue_work_duration_seconds",
        "workqueue_unfinished_work_seconds",
        "workqueue_longest_running_processor_seconds",
        "tend_operator_active",
        "tend_write_budget_exceeded",
    }  # counters are named without _total by the parser, as OpenMetrics does
    assert all(family.documentation.strip() for family in families), [
        family.name for family in families if not family.documentation.strip()
    ]
    assert "_created" not in text


async def test_the_work_queue_reports_like_client_go() -> None:
    metrics = Metrics()
    queue: WorkQueue[str] = WorkQueue(observer=metrics)
    metrics.collect_from(services=list, queue=lambda: (len(queue), queue.running_since()))
    queue.add("a")
    queue.add("a")  # already queued: not another add
    queue.add("b")
    series = scrape(metrics)
    assert of(series, "workqueue_adds_total", name=QUEUE) == 2
    assert of(series, "workqueue_depth", name=QUEUE) == 2
    key = await queue.get()
    queue.add(key)  # added while processing: counted once, processed again afterwards
    queue.add(key)
    series = scrape(metrics)
    assert of(series, "workqueue_adds_total", name=QUEUE) == 3
    assert of(series, "workqueue_depth", name=QUEUE) == 1
    assert of(series, "workqueue_queue_duration_seconds_count", name=QUEUE) == 1
    assert (of(series, "workqueue_longest_running_processor_seconds", name=QUEUE) or 0) >= 0
    queue.retry(key)
    queue.done(key)
    series = scrape(metrics)
    assert of(series, "workqueue_retries_total", name=QUEUE) == 1
    assert of(series, "workqueue_work_duration_seconds_count", name=QUEUE) == 1
    assert of(series, "workqueue_depth", name=QUEUE) == 2, "the dirty key is queued again"
    assert of(series, "workqueue_unfinished_work_seconds", name=QUEUE) == 0
    queue.close()


def test_api_requests_without_an_answer_count_as_error() -> None:
    metrics = Metrics()
    metrics.requested("create", 201)
    metrics.requested("create", None)
    metrics.watch_failed("Pod", None)
    series = scrape(metrics)
    assert of(series, "tend_api_requests_total", verb="create", code="201") == 1
    assert of(series, "tend_api_requests_total", verb="create", code="<error>") == 1
    assert of(series, "tend_watch_errors_total", kind="Pod", code="<error>") == 1
