"""The five receivers behind one interface: `Sender.send(message)` delivers or raises
`DeliveryError`, which says whether trying again can help and when (Retry-After).

HTTP goes through aiohttp, SMTP through aiosmtplib. Credentials (`Credentials`) come from
Secrets in the operator's namespace or from files, are cached for a minute (a rotated Secret
is picked up), and appear in no log line and no error message.

Which receivers deduplicate a notification sent twice (after kill -9 between delivering and
recording the delivery), and what tend does for the others:
- Alertmanager: yes, by labels (the same alert re-sent updates it; tend re-sends while
  firing anyway).
- PagerDuty: yes, by `dedup_key` (the incident key): a second trigger for an open incident
  is merged into it, a second resolve is a no-op.
- Webhook: the receiver can, by the body's `id` and the `Idempotency-Key` header (stable per
  notification).
- Slack and email: no. tend records a delivery in status right after it happens, so a
  duplicate needs a crash inside that window; the message names the incident key so a
  person can tell it is the same incident.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import aiohttp
import aiosmtplib

from tend.api.config import OperatorConfig, Receiver, ReceiverType, SecretKeyRef
from tend.api.units import parse_duration
from tend.logic.notifications import (
    RESOLVE,
    TRIGGER,
    Message,
    alertmanager_alert,
    alertmanager_labels,
    email_message,
    pagerduty_event,
    signature,
    slack_message,
    webhook_payload,
)
from tend.logic.pods import format_time
from tend.runtime.kube import Kube

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
SECRET_TTL = 60.0  # seconds a credential is cached
SLACK_INTERVAL = 1.0  # Slack: at most one message per second per webhook
USER_AGENT = "tend"


class DeliveryError(Exception):
    """A delivery that did not happen. `retryable`: trying again can succeed (5xx, 408, 429,
    no answer); `retry_after`: what the receiver asked for (seconds)."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class Credentials:
    """Secret values by reference: a key of a Secret in `namespace`, or a file."""

    def __init__(self, kube: Kube | None, namespace: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}

    async def value(
        self,
        ref: SecretKeyRef | None,
        path: Path | None,
        literal: str | None = None,
        env: str | None = None,
    ) -> str | None:
        if ref is not None:
            return await self._secret(ref)
        if env is not None:
            value = os.environ.get(env)
            if value is None:
                raise DeliveryError(f"${env} is not set", retryable=False)
            return value.strip()
        if path is not None:
            try:
                return (await asyncio.to_thread(path.read_text)).strip()
            except OSError as exc:
                raise DeliveryError(f"cannot read {path}: {exc.strerror}", retryable=True) from None
        return literal

    async def _secret(self, ref: SecretKeyRef) -> str:
        cached = self._cache.get((ref.name, ref.key))
        if cached is not None and time.monotonic() - cached[0] < SECRET_TTL:
            return cached[1]
        where = f"Secret {self.namespace}/{ref.name}"
        if self.kube is None:
            raise DeliveryError(f"{where}: no cluster to read it from", retryable=False)
        try:
            secret = await self.kube.get("Secret", self.namespace, ref.name)
        except Exception as exc:  # the value must not leak into the message
            raise DeliveryError(f"{where}: {type(exc).__name__}", retryable=True) from None
        data = (secret or {}).get("data") or {}
        if secret is None or ref.key not in data:
            raise DeliveryError(f"{where} has no key {ref.key!r}", retryable=True)
        value = base64.b64decode(data[ref.key]).decode().strip()
        self._cache[(ref.name, ref.key)] = (time.monotonic(), value)
        return value


class Sender(Protocol):
    receiver: Receiver

    async def send(self, message: Message) -> None: ...

    async def close(self) -> None: ...


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class HttpSender:
    """The HTTP receivers' common part: one session, POST with a deadline, errors sorted."""

    def __init__(self, receiver: Receiver, credentials: Credentials) -> None:
        self.receiver = receiver
        self.credentials = credentials
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def url(self) -> str:
        r = self.receiver
        url = await self.credentials.value(r.url_from, r.url_file, r.url, r.url_env)
        if not url:
            raise DeliveryError(f"receiver {r.name!r} has no url", retryable=False)
        return url

    async def post(self, url: str, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        try:
            async with self.session.post(
                url,
                data=body,
                headers={"Content-Type": "application/json", **(headers or {})},
                timeout=aiohttp.ClientTimeout(total=self.receiver.timeout),
            ) as response:
                if 200 <= response.status < 300:
                    return
                text = (await response.text())[:200].strip()
                status = response.status
                raise DeliveryError(
                    f"{status} {response.reason}: {text}"
                    if text
                    else f"{status} {response.reason}",
                    status=status,
                    retryable=status in (408, 429) or status >= 500,
                    retry_after=retry_after(response.headers.get("Retry-After")),
                )
        except aiohttp.ClientError as exc:
            # A URL can be the credential itself (Slack's webhooks): never in a message.
            said = f"{type(exc).__name__}: {exc}".replace(url, "<url>")
            raise DeliveryError(said, retryable=True) from None
        except TimeoutError:
            raise DeliveryError(
                f"no answer within {self.receiver.timeout:g}s", retryable=True
            ) from None


class AlertmanagerSender(HttpSender):
    """`POST /api/v2/alerts`, and every `resend_interval` all alerts still firing, so that
    Alertmanager (which resolves an alert whose endsAt passed) keeps them open."""

    def __init__(
        self, receiver: Receiver, credentials: Credentials, now: Callable[[], datetime]
    ) -> None:
        super().__init__(receiver, credentials)
        self.now = now
        self.interval = parse_duration(receiver.resend_interval)
        self.firing: dict[str, Message] = {}  # incident key -> its last trigger

    def track(self, key: str, message: Message | None) -> None:
        """What the operator knows from status: this incident fires (message) or not."""
        if message is None:
            self.firing.pop(key, None)
        else:
            self.firing.setdefault(key, message)

    async def send(self, message: Message) -> None:
        now = self.now()
        alerts = [alertmanager_alert(message, now=now, resend_interval=self.interval)]
        before = self.firing.get(message.key)
        if before is not None and alertmanager_labels(before) != alertmanager_labels(message):
            # A higher step changed the severity label: end the alert it replaces.
            old = alertmanager_labels(before)
            alerts.append(
                alertmanager_alert(before, now=now, resend_interval=self.interval, labels=old)
            )
        await self.post(await self._endpoint(), json.dumps(alerts).encode())
        if message.action == RESOLVE:
            self.firing.pop(message.key, None)
        elif not message.test:
            self.firing[message.key] = message

    async def resend(self) -> None:
        if not self.firing:
            return
        now = self.now()
        alerts = [
            alertmanager_alert(m, now=now, resend_interval=self.interval)
            for m in self.firing.values()
        ]
        await self.post(await self._endpoint(), json.dumps(alerts).encode())

    async def _endpoint(self) -> str:
        return (await self.url()).rstrip("/") + "/api/v2/alerts"


class PagerDutySender(HttpSender):
    async def send(self, message: Message) -> None:
        r = self.receiver
        key = await self.credentials.value(
            r.routing_key_from, r.routing_key_file, env=r.routing_key_env
        )
        if not key:
            raise DeliveryError(f"receiver {r.name!r} has no routing key", retryable=False)
        body = json.dumps(pagerduty_event(message, key)).encode()
        await self.post(r.url or PAGERDUTY_URL, body)


class SlackSender(HttpSender):
    """At most one message a second per webhook (Slack's documented limit)."""

    def __init__(self, receiver: Receiver, credentials: Credentials) -> None:
        super().__init__(receiver, credentials)
        self._last = 0.0

    async def send(self, message: Message) -> None:
        wait = self._last + SLACK_INTERVAL - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last = time.monotonic()
        await self.post(await self.url(), json.dumps(slack_message(message)).encode())


class WebhookSender(HttpSender):
    async def send(self, message: Message) -> None:
        r = self.receiver
        body = json.dumps(webhook_payload(message)).encode()
        headers = {"X-Tend-Event": message.action, "Idempotency-Key": message.id}
        secret = await self.credentials.value(r.secret_from, r.secret_file, env=r.secret_env)
        if secret:
            headers["X-Tend-Signature"] = signature(secret.encode(), body)
        await self.post(await self.url(), body, headers)


class EmailSender:
    def __init__(self, receiver: Receiver, credentials: Credentials) -> None:
        self.receiver = receiver
        self.credentials = credentials

    async def send(self, message: Message) -> None:
        r = self.receiver
        assert r.smtp_host and r.email_from and r.email_to  # the config's validator made sure
        password = await self.credentials.value(
            r.smtp_password_from, r.smtp_password_file, env=r.smtp_password_env
        )
        try:
            await aiosmtplib.send(
                email_message(message, r.email_from, r.email_to),
                hostname=r.smtp_host,
                port=r.smtp_port,
                start_tls=r.smtp_starttls,
                username=r.smtp_username,
                password=password,
                timeout=r.timeout,
            )
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"SMTP {exc.code}: {exc.message}", status=exc.code, retryable=exc.code < 500
            ) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(f"SMTP: {type(exc).__name__}: {exc}", retryable=True) from None

    async def close(self) -> None:
        return None


def sender_for(
    receiver: Receiver, credentials: Credentials, now: Callable[[], datetime] | None = None
) -> Sender:
    clock = now or (lambda: datetime.now(UTC))
    kind = ReceiverType(receiver.type)
    if kind == ReceiverType.ALERTMANAGER:
        return AlertmanagerSender(receiver, credentials, clock)
    if kind == ReceiverType.PAGERDUTY:
        return PagerDutySender(receiver, credentials)
    if kind == ReceiverType.SLACK:
        return SlackSender(receiver, credentials)
    if kind == ReceiverType.WEBHOOK:
        return WebhookSender(receiver, credentials)
    return EmailSender(receiver, credentials)


@dataclass
class TestReport:
    lines: list[str] = field(default_factory=list)
    failed: int = 0


async def send_tests(
    config: OperatorConfig,
    names: Sequence[str] = (),
    kubeconfig: Path | None = None,
    context: str | None = None,
) -> TestReport:
    """`tend receivers test`: one marked test notification per receiver (all, or `names`),
    resolved at once where the receiver keeps state (Alertmanager, PagerDuty), so the test
    leaves nothing open. Reports per receiver what came back."""
    chosen = [r for r in config.receivers if not names or r.name in names]
    needs_cluster = any(r.url_from or r.routing_key_from or r.secret_from
                        or r.smtp_password_from for r in chosen)  # fmt: skip
    kube = await Kube.connect(kubeconfig, context) if needs_cluster else None
    credentials = Credentials(kube, receivers_namespace(config))
    now = datetime.now(UTC)
    report = TestReport()
    try:
        for receiver in chosen:
            sender = sender_for(receiver, credentials)
            test = Message(
                id=f"test-{secrets.token_hex(6)}",
                action=TRIGGER,
                namespace=credentials.namespace,
                name="tend-receivers-test",
                key=f"tend/test/{receiver.name}",
                since=format_time(now),
                severity="info",
                reason="Test",
                summary="a test notification from `tend receivers test`; nothing is failing",
                decided_at=format_time(now),
                test=True,
            )
            what = f"{receiver.name} ({receiver.type})"
            try:
                await sender.send(test)
                if receiver.type in (ReceiverType.ALERTMANAGER, ReceiverType.PAGERDUTY):
                    await sender.send(replace(test, action=RESOLVE, id=test.id + "-resolve"))
                    report.lines.append(f"{what}: ok (sent, then resolved)")
                else:
                    report.lines.append(f"{what}: ok")
            except DeliveryError as exc:
                report.failed += 1
                hint = "" if exc.retryable else " (refused: check the configuration)"
                report.lines.append(f"{what}: failed: {exc}{hint}")
            finally:
                await sender.close()
    finally:
        if kube is not None:
            await kube.close()
    return report


def receivers_namespace(config: OperatorConfig) -> str:
    """Where receivers' Secrets are: the config's namespace, else the operator's own."""
    return config.namespace or os.environ.get("POD_NAMESPACE") or "tend-system"
