"""Receivers' payloads (pure), Retry-After, credentials, and the dispatcher's lanes with
fake senders: order, de-duplication, retries, giving up."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from tend.api.config import Receiver, SecretKeyRef
from tend.logic.notifications import (
    Message,
    alertmanager_alert,
    email_message,
    message_from,
    pagerduty_event,
    signature,
    slack_message,
    webhook_payload,
)
from tend.runtime import delivery
from tend.runtime.delivery import Dispatcher, Outcome
from tend.runtime.receivers import Credentials, DeliveryError, retry_after

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
FAILURES = [
    {"time": "2026-12-02T11:59:00Z", "pod": "api-1", "container": "main", "reason": "CrashLoop",
     "exitCode": 3, "message": "exit 3 after 1s: boom"},
]  # fmt: skip
TRIGGER = Message(
    id="n1",
    action="trigger",
    namespace="shop",
    name="api",
    key="tend/shop/api/Crashing",
    since="2026-12-02T11:58:00Z",
    severity="critical",
    step=1,
    steps=2,
    reason="Crashing",
    summary="CrashLoop: exit 3 after 1s: boom",
    exit_code=3,
    dependents=("shop/web",),
    dependent_count=4,
    recent_failures=FAILURES,
    decided_at="2026-12-02T11:59:01Z",
)
RESOLVE = Message(**{**TRIGGER.__dict__, "id": "n2", "action": "resolve", "summary": "recovered"})


def test_alertmanager_alert_carries_identity_labels_and_ends_ahead_while_firing() -> None:
    alert = alertmanager_alert(TRIGGER, now=NOW, resend_interval=60)
    assert alert["labels"] == {
        "alertname": "TendServiceFailing",
        "namespace": "shop",
        "service": "api",
        "reason": "Crashing",
        "severity": "critical",
    }
    assert alert["startsAt"] == "2026-12-02T11:58:00Z"
    assert alert["endsAt"] == "2026-12-02T12:04:00Z", "4 resend intervals ahead"
    assert "4 dependent(s) waiting: shop/web and 3 more" in alert["annotations"]["description"]
    assert (
        alertmanager_alert(RESOLVE, now=NOW, resend_interval=60)["endsAt"] == "2026-12-02T12:00:00Z"
    )
    later = Message(**{**TRIGGER.__dict__, "since": "2026-12-02T13:00:00Z"})
    assert (
        alertmanager_alert(later, now=NOW, resend_interval=60)["startsAt"] == "2026-12-02T12:00:00Z"
    )


def test_pagerduty_event_v2() -> None:
    event = pagerduty_event(TRIGGER, "KEY")
    assert event["routing_key"] == "KEY" and event["event_action"] == "trigger"
    assert event["dedup_key"] == "tend/shop/api/Crashing"
    payload = event["payload"]
    assert payload["severity"] == "critical" and payload["source"] == "shop/api"
    assert payload["summary"].startswith("shop/api is failing: CrashLoop")
    assert len(payload["summary"]) <= 1024
    assert payload["custom_details"]["step"] == "2 of 2"
    assert payload["custom_details"]["dependents_affected"] == 4
    assert pagerduty_event(RESOLVE, "KEY") == {
        "routing_key": "KEY", "event_action": "resolve", "dedup_key": "tend/shop/api/Crashing",
        "client": "tend",
    }  # fmt: skip
    info = Message(**{**TRIGGER.__dict__, "severity": "info"})
    assert pagerduty_event(info, "K")["payload"]["severity"] == "info"


def test_slack_message_is_readable() -> None:
    text = slack_message(TRIGGER)["blocks"][0]["text"]["text"]
    assert text.splitlines()[0] == ":red_circle: *shop/api* is failing (critical, step 2 of 2)"
    assert "Exit code: 3" in text and "• 2026-12-02T11:59:00Z api-1/main: CrashLoop exit 3" in text
    assert "Look: `kubectl describe managedservice -n shop api`" in text
    assert "recovered" in slack_message(RESOLVE)["text"]


def test_webhook_payload_and_signature() -> None:
    body = webhook_payload(TRIGGER)
    assert body["version"] == "tend.dev/alert/v1" and body["id"] == "n1"
    assert body["incident"] == {
        "key": "tend/shop/api/Crashing",
        "since": "2026-12-02T11:58:00Z",
        "reason": "Crashing",
        "severity": "critical",
        "step": 1,
        "steps": 2,
    }
    assert body["recentFailures"] == FAILURES and body["dependentCount"] == 4
    # RFC 4231 test case 2: HMAC-SHA256 of "what do ya want for nothing?" keyed "Jefe".
    assert signature(b"Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_email_has_plain_and_html_parts_and_escapes_html() -> None:
    hostile = Message(**{**TRIGGER.__dict__, "summary": "<script>x</script>"})
    mail = email_message(hostile, "tend@example.org", ["a@example.org", "b@example.org"])
    assert mail["Subject"] == "[tend] FIRING critical: shop/api Crashing"
    assert mail["To"] == "a@example.org, b@example.org"
    assert "<script>" in mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "&lt;script&gt;" in html and "<script>" not in html


def test_message_from_an_outbox_entry_and_the_status_around_it() -> None:
    body = {
        "metadata": {"namespace": "shop", "name": "api"},
        "status": {"alert": {"key": "k", "since": "2026-12-02T11:58:00Z"},
                   "recentFailures": FAILURES},
    }  # fmt: skip
    entry = {"id": "n1", "action": "trigger", "step": 0, "severity": "warning",
             "reason": "Crashing", "summary": "s", "exitCode": 3, "dependentCount": 2,
             "dependents": ["shop/web", "shop/worker"]}  # fmt: skip
    m = message_from(entry, body, steps=3)
    assert (m.key, m.since, m.steps, m.step, m.exit_code) == ("k", "2026-12-02T11:58:00Z", 3, 0, 3)
    assert m.dependents == ("shop/web", "shop/worker") and m.recent_failures == tuple(FAILURES)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        ("-4", 0.0),
        ("soon", None),
        (format_datetime(datetime(2026, 12, 2, 12, 0, 30, tzinfo=UTC), usegmt=True), 30.0),
    ],
)
def test_retry_after_seconds_or_http_date(header: str | None, seconds: float | None) -> None:
    value = retry_after(header, now=NOW.timestamp())
    assert value == (pytest.approx(seconds) if seconds is not None else None)


class FakeKube:
    def __init__(self, secret: dict[str, Any] | None) -> None:
        self.secret = secret
        self.reads = 0

    async def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        self.reads += 1
        assert (kind, namespace) == ("Secret", "tend-system")
        return self.secret


async def test_credentials_from_a_secret_a_file_and_clear_errors(tmp_path: Path) -> None:
    kube = FakeKube({"data": {"key": base64.b64encode(b"t0ken\n").decode()}})
    credentials = Credentials(kube, "tend-system")  # type: ignore[arg-type]
    ref = SecretKeyRef(name="pd", key="key")
    assert await credentials.value(ref, None) == "t0ken"
    assert await credentials.value(ref, None) == "t0ken" and kube.reads == 1, "cached"
    path = tmp_path / "url"
    path.write_text("https://hooks.example/x\n")
    assert await credentials.value(None, path) == "https://hooks.example/x"
    with pytest.raises(DeliveryError, match="Secret tend-system/pd has no key 'other'"):
        await credentials.value(SecretKeyRef(name="pd", key="other"), None)
    with pytest.raises(DeliveryError, match="cannot read"):
        await credentials.value(None, tmp_path / "missing")


class FakeSender:
    """Answers from a script of exceptions (None: delivered)."""

    def __init__(self, name: str, script: list[DeliveryError | None] | None = None) -> None:
        self.receiver = Receiver(name=name, type="webhook", url="http://127.0.0.1:1")
        self.script = list(script or [])
        self.sent: list[str] = []

    async def send(self, message: Message) -> None:
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome
        self.sent.append(message.id)

    async def close(self) -> None:
        return None


class Outcomes(list[Outcome]):
    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    def record(self, outcome: Outcome) -> None:
        self.append(outcome)
        self.changed.set()

    async def until(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(self) < count:
                self.changed.clear()
                await self.changed.wait()


async def test_lanes_deliver_in_order_once_each_and_retry_then_give_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delivery, "_backoff", lambda failures, after: 0.0)
    flaky = FakeSender("flaky", [DeliveryError("503", retryable=True)] * 3)
    refusing = FakeSender("refusing", [DeliveryError("400 bad", retryable=False)])
    outcomes = Outcomes()
    warnings: list[str] = []
    dispatcher = Dispatcher(
        [flaky.receiver, refusing.receiver],
        Credentials(None, "x"),
        on_outcome=outcomes.record,
        on_failing=lambda owner, message, error: warnings.append(error),
        senders={"flaky": flaky, "refusing": refusing},  # type: ignore[dict-item]
    )
    dispatcher.start()
    try:
        owner = ("shop", "api")
        dispatcher.submit(owner, "flaky", TRIGGER)
        dispatcher.submit(owner, "flaky", TRIGGER)  # the same id again: one delivery
        dispatcher.submit(owner, "flaky", RESOLVE)
        dispatcher.submit(owner, "refusing", TRIGGER)
        dispatcher.submit(owner, "nobody", TRIGGER)
        await outcomes.until(4)
    finally:
        await dispatcher.stop()
    assert flaky.sent == ["n1", "n2"], "in decision order, each once, after 3 failed tries"
    assert warnings == ["flaky: 503"], "one Warning once it kept failing"
    by_receiver = sorted((o.message.id, o.delivered, o.error) for o in outcomes)
    assert by_receiver == [
        ("n1", False, "400 bad"),
        ("n1", False, "receiver 'nobody' is not configured (configured: flaky, refusing)"),
        ("n1", True, ""),
        ("n2", True, ""),
    ]
    assert refusing.sent == []


@pytest.mark.parametrize(
    ("failures", "after", "low", "high"),
    [(1, None, 0.8, 1.2), (2, None, 1.6, 2.4), (4, None, 6.4, 9.6), (20, None, 48, 72),
     (1, 7.0, 7.0, 7.0), (1, 10_000.0, 300.0, 300.0)],
)  # fmt: skip
def test_backoff_doubles_with_jitter_to_a_cap_and_honours_retry_after(
    failures: int, after: float | None, low: float, high: float
) -> None:
    for _ in range(50):
        assert low <= delivery._backoff(failures, after) <= high


async def test_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PD_KEY", "from-env\n")
    credentials = Credentials(None, "tend-system")
    assert await credentials.value(None, None, env="PD_KEY") == "from-env"
    with pytest.raises(DeliveryError, match=r"\$NOPE is not set"):
        await credentials.value(None, None, env="NOPE")


class HeldSender(FakeSender):
    """Holds every delivery until released; records what is in flight."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.release = asyncio.Event()
        self.in_flight: list[str] = []
        self.arrived = asyncio.Event()

    async def send(self, message: Message) -> None:
        self.in_flight.append(message.id)
        self.arrived.set()
        await self.release.wait()
        self.sent.append(message.id)


async def test_a_slow_receiver_delivers_several_incidents_at_once_and_one_in_order() -> None:
    held = HeldSender("slow")
    outcomes = Outcomes()
    dispatcher = Dispatcher(
        [held.receiver],
        Credentials(None, "x"),
        on_outcome=outcomes.record,
        on_failing=lambda *_: None,
        senders={"slow": held},  # type: ignore[dict-item]
    )
    dispatcher.start()
    try:
        for i in range(3):
            other = Message(**{**TRIGGER.__dict__, "id": f"t{i}", "key": f"incident-{i}"})
            dispatcher.submit(("shop", f"svc-{i}"), "slow", other)
        dispatcher.submit(("shop", "svc-0"), "slow", Message(**{**RESOLVE.__dict__, "id": "r0",
                                                                "key": "incident-0"}))  # fmt: skip
        async with asyncio.timeout(10):
            while len(held.in_flight) < 3:
                held.arrived.clear()
                await held.arrived.wait()
        assert sorted(held.in_flight) == ["t0", "t1", "t2"], "three incidents at once"
        held.release.set()
        await outcomes.until(4)
    finally:
        await dispatcher.stop()
    assert held.sent.index("t0") < held.sent.index("r0"), "an incident's resolve after its trigger"
