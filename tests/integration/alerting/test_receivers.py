"""Alert delivery end to end: the real operator (on the simulated cluster) pages local
PagerDuty, Slack, webhook and SMTP receivers, once per step, and resolves; credentials come
from Secrets in the operator's namespace; a receiver that is down or rate-limits gets
everything exactly once when it recovers."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from harness import Operator, create_secret, events_for, managed_service, wait_ready
from prometheus_client.parser import text_string_to_metric_families
from sinks import Answer, HttpSink, SmtpSink
from waiting import until

from tend.api.config import OperatorConfig
from tend.runtime.kube import Kube
from tend_sim import SimCluster

HMAC_KEY = "s3cret-hmac"
ROUTING_KEY = "R0UTINGKEY0000000000000000000000"
DEADLINE = 40.0


@pytest.fixture
async def sink() -> AsyncIterator[HttpSink]:
    async with HttpSink() as http:
        yield http


async def secrets(kube: Kube, sink: HttpSink) -> None:
    data = {"slack": f"{sink.url}/slack", "pd": ROUTING_KEY, "hmac": HMAC_KEY}
    await create_secret(kube, "receivers", data)


def config(sink: HttpSink, smtp_port: int = 0, **extra: Any) -> OperatorConfig:
    ref = {"name": "receivers"}
    receivers: list[dict[str, Any]] = [
        {"name": "pd", "type": "pagerduty", "url": f"{sink.url}/pd",
         "routing_key_from": {**ref, "key": "pd"}},
        {"name": "slack", "type": "slack", "url_from": {**ref, "key": "slack"}},
        {"name": "hook", "type": "webhook", "url": f"{sink.url}/hook",
         "secret_from": {**ref, "key": "hmac"}},
    ]  # fmt: skip
    if smtp_port:
        receivers.append(
            {"name": "mail", "type": "email", "smtp_host": "127.0.0.1", "smtp_port": smtp_port,
             "email_from": "tend@example.org", "email_to": ["oncall@example.org"]}
        )  # fmt: skip
    return OperatorConfig(receivers=receivers, namespace="tend-system", **extra)


def _recorded(body: dict[str, Any] | None, state: str) -> bool:
    alert = ((body or {}).get("status") or {}).get("alert") or {}
    return alert.get("state") == state and not alert.get("outbox")


def kinds(requests: list[Any]) -> list[tuple[str, str | None]]:
    return [(r.json()["action"], r.json()["incident"]["severity"]) for r in requests]


async def test_a_crash_loop_pages_once_per_step_and_every_receiver_gets_the_resolve(
    cluster: SimCluster, kube: Kube, kubeconfig: Path, sink: HttpSink
) -> None:
    await secrets(kube, sink)
    with SmtpSink() as smtp:
        operator = Operator(kubeconfig, cluster, config(sink, smtp.port))
        await operator.start()
        try:
            ladder = [
                {"afterFailures": 2, "severity": "warning", "receivers": ["slack", "hook", "mail"]},
                {"afterFailures": 3, "severity": "critical", "receivers": ["pd", "hook"]},
            ]
            # Three runs of 1s crash (CrashLoop: shorter than minUptime), then it stays up.
            await kube.create(
                managed_service(
                    "api",
                    image="sim/crash:1s-3-3",
                    restartPolicy={"maxRestarts": 10, "window": "1h"},
                    alerts={"escalation": ladder, "resolveAfter": "1s"},
                )
            )
            await sink.until(
                lambda: len(sink.answered("/hook")) == 3 and len(sink.answered("/pd")) == 2,
                "both triggers and the resolve at the webhook, trigger and resolve at PagerDuty",
                deadline=DEADLINE,
            )
            await smtp.until(lambda: len(smtp.messages) == 2, "trigger and resolve by mail")
            await sink.until(lambda: len(sink.answered("/slack")) == 2, "trigger and resolve")
            live = await until(
                cluster,
                lambda: kube.get("ManagedService", "default", "api"),
                "the delivered resolve recorded, the outbox empty",
                satisfied=lambda b: _recorded(b, "Resolved"),
            )
            assert live is not None
            controller = operator.controller
            assert controller is not None
            metrics = controller.metrics.render().decode()
        finally:
            await operator.stop()

    alert = live["status"]["alert"]
    assert alert["state"] == "Resolved" and alert["key"].startswith("tend/default/api/Crashing")
    assert alert["lastNotified"] and alert["resolvedAt"]

    # The webhook: versioned body, one per step and the resolve, signed, idempotency keys.
    hooks = sink.on("/hook")
    assert kinds(hooks) == [
        ("trigger", "warning"),
        ("trigger", "critical"),
        ("resolve", "critical"),
    ]
    assert len({r.json()["id"] for r in hooks}) == 3
    for request in hooks:
        body = request.json()
        assert body["version"] == "tend.dev/alert/v1"
        assert body["service"] == {"namespace": "default", "name": "api"}
        assert body["incident"]["key"] == alert["key"]
        assert request.headers["Idempotency-Key"] == body["id"]
        assert request.headers["X-Tend-Event"] == body["action"]
        expected = hmac.new(HMAC_KEY.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Tend-Signature"] == f"sha256={expected}"
    first = hooks[0].json()
    assert first["exitCode"] == 3 and "CrashLoop" in first["summary"]
    assert first["incident"]["step"] == 0 and first["incident"]["steps"] == 2
    assert first["howToLook"] == "kubectl describe managedservice -n default api"

    # PagerDuty: the routing key from the Secret, the incident key as dedup key.
    trigger, resolve = (r.json() for r in sink.on("/pd"))
    assert trigger["routing_key"] == ROUTING_KEY and trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == alert["key"] and len(trigger["dedup_key"]) <= 255
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "default/api"
    assert trigger["payload"]["custom_details"]["step"] == "2 of 2"
    assert resolve == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": alert["key"],
        "client": "tend",
    }

    # Slack: readable, with how to look; and the resolve.
    fired, recovered = (r.json() for r in sink.on("/slack"))
    text = fired["blocks"][0]["text"]["text"]
    assert "*default/api* is failing (warning, step 1 of 2)" in text
    assert "Exit code: 3" in text and "`kubectl describe managedservice -n default api`" in text
    assert "recovered" in recovered["text"]

    # Email: plain text and HTML, to the configured address.
    mail, resolved = smtp.messages
    assert mail["Subject"] == "[tend] FIRING warning: default/api Crashing"
    assert resolved["Subject"] == "[tend] RESOLVED: default/api Crashing"
    assert smtp.envelopes[0] == ("tend@example.org", ["oncall@example.org"])
    assert (
        "kubectl describe managedservice -n default api" in mail.get_body(("plain",)).get_content()
    )
    assert "<p>" in mail.get_body(("html",)).get_content()

    reasons = [e["reason"] for e in await events_for(kube, "api")]
    assert reasons.count("Escalated") == 2 and reasons.count("AlertResolved") == 1
    sent = {
        (s.labels["receiver"], s.labels["severity"]): s.value
        for family in text_string_to_metric_families(metrics)
        if family.name == "tend_alerts"
        for s in family.samples
        if s.labels["result"] == "sent"
    }
    # A resolve carries the incident's last severity (critical, from the second step).
    assert sent == {
        ("slack", "warning"): 1,
        ("slack", "critical"): 1,
        ("mail", "warning"): 1,
        ("mail", "critical"): 1,
        ("hook", "warning"): 1,
        ("hook", "critical"): 2,
        ("pd", "critical"): 2,
    }


async def test_a_receiver_that_is_down_then_rate_limits_gets_everything_once(
    cluster: SimCluster, kube: Kube, kubeconfig: Path, sink: HttpSink
) -> None:
    await secrets(kube, sink)
    # Down twice (503), then "slow down" (429, Retry-After: 1), then fine.
    sink.script = [Answer(503), Answer(503), Answer(429, {"Retry-After": "1"})]
    operator = Operator(kubeconfig, cluster, config(sink))
    await operator.start()
    try:
        ladder = [{"afterFailures": 1, "receivers": ["hook"]}]
        await kube.create(
            managed_service("api", image="sim/crash:1s-3", alerts={"escalation": ladder})
        )
        await sink.until(lambda: sink.answered("/hook"), "the trigger, once the hook is back")
        await until(
            cluster,
            lambda: kube.get("ManagedService", "default", "api"),
            "the delivery recorded",
            satisfied=lambda b: _recorded(b, "Firing"),
        )
    finally:
        await operator.stop()
    hooks = sink.on("/hook")
    assert [r.answered for r in hooks] == [503, 503, 429, 200]
    assert len({r.json()["id"] for r in hooks}) == 1, "one notification, retried"
    assert hooks[3].at - hooks[2].at >= 0.9, "Retry-After: 1 was honoured"
    reasons = [e["reason"] for e in await events_for(kube, "api")]
    assert reasons.count("Escalated") == 1
    assert reasons.count("AlertDeliveryFailed") == 1, "a Warning once it kept failing (3 tries)"


async def test_a_receiver_that_never_answers_holds_up_nothing_else(
    cluster: SimCluster, kube: Kube, kubeconfig: Path, sink: HttpSink
) -> None:
    sink.script = [Answer(hold=True)]  # the first request to anyone: the hook's trigger
    receivers = [
        {"name": "hook", "type": "webhook", "url": f"{sink.url}/hook", "timeout": 300},
        {"name": "other", "type": "webhook", "url": f"{sink.url}/other"},
    ]
    operator = Operator(kubeconfig, cluster, OperatorConfig(receivers=receivers))
    await operator.start()
    try:
        ladder = [{"afterFailures": 1, "receivers": ["hook"]}]
        await kube.create(
            managed_service("api", image="sim/crash:1s-3", alerts={"escalation": ladder})
        )
        await sink.until(lambda: sink.on("/hook"), "the hook's delivery, held")
        other = [{"afterFailures": 1, "receivers": ["other"]}]
        await kube.create(
            managed_service("db", image="sim/crash:1s-3", alerts={"escalation": other})
        )
        await sink.until(lambda: sink.answered("/other"), "another receiver's page, meanwhile")
        for i in range(5):
            await kube.create(managed_service(f"web-{i}"))
        for i in range(5):
            await wait_ready(cluster, kube, f"web-{i}")
        assert not sink.answered("/hook"), "still held: it held up nobody"
    finally:
        await operator.stop()
