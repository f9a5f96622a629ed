"""What each kind of receiver is sent: pure payloads from one `Message` (no I/O).

A `Message` is one outbox entry (`tend.logic.incidents.notification`) with what the service's
status says around it. The payloads follow each receiver's documented API:

- Alertmanager v2 `POST /api/v2/alerts` (a list of postableAlert): `labels` identify the
  alert (alertname, namespace, service, reason, severity), `annotations` describe it,
  `startsAt`, and `endsAt`: in the future while firing (like Prometheus, which sends
  `endsAt` = now + 4 x its resend interval, so an alert nobody re-sends resolves itself) and
  the resolve time on resolve.
- PagerDuty Events API v2 `POST /v2/enqueue`: `routing_key`, `event_action` trigger or
  resolve, `dedup_key` (<= 255 characters: the incident key), `payload` {summary <= 1024,
  source, severity critical|error|warning|info, component, group, class, custom_details}.
- Slack incoming webhook: `text` (the notification fallback) and Block Kit `blocks`.
- The generic webhook: `WEBHOOK_VERSION` below, documented in docs/alerting.md; signed with
  HMAC-SHA256 over the body when a secret is configured (`signature`).
- Email: a multipart/alternative message, plain text and HTML.
"""

from __future__ import annotations

import hashlib
import hmac
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from tend.logic.pods import format_time

TRIGGER = "trigger"
RESOLVE = "resolve"
ALERTNAME = "TendServiceFailing"
WEBHOOK_VERSION = "tend.dev/alert/v1"
PAGERDUTY_SEVERITY = {"critical": "critical", "warning": "warning", "info": "info"}
SUMMARY_LIMIT = 1024  # PagerDuty's payload.summary
FAILURES_SHOWN = 3


@dataclass(frozen=True)
class Message:
    """One notification with its context, as every receiver's payload is built from it."""

    id: str
    action: str  # trigger | resolve
    namespace: str
    name: str
    key: str  # the incident key (dedup key)
    since: str  # when the incident opened (RFC 3339)
    severity: str = "warning"
    step: int | None = None
    steps: int = 1  # how many steps the ladder has
    reason: str = ""  # the reason family
    summary: str = ""
    exit_code: int | None = None
    dependents: Sequence[str] = ()
    dependent_count: int = 0
    recent_failures: Sequence[Mapping[str, Any]] = ()
    decided_at: str = ""
    test: bool = False  # `tend receivers test`

    @property
    def service(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def headline(self) -> str:
        if self.test:
            return f"tend test notification for {self.service}: receivers are wired"
        if self.action == RESOLVE:
            return f"{self.service} recovered"
        return f"{self.service} is failing: {self.summary}" if self.summary else self.service

    @property
    def how_to_look(self) -> str:
        return f"kubectl describe managedservice -n {self.namespace} {self.name}"

    def failures(self) -> list[str]:
        lines = []
        for f in list(self.recent_failures)[:FAILURES_SHOWN]:
            code = f" exit {f['exitCode']}" if f.get("exitCode") is not None else ""
            lines.append(
                f"{f.get('time', '')} {f.get('pod', '')}/{f.get('container', '')}: "
                f"{f.get('reason', '')}{code} {f.get('message') or ''}".strip()
            )
        return lines

    def blast_radius(self) -> str:
        if not self.dependent_count:
            return ""
        shown = ", ".join(self.dependents)
        more = self.dependent_count - len(self.dependents)
        return f"{self.dependent_count} dependent(s) waiting: {shown}" + (
            f" and {more} more" if more > 0 else ""
        )


def message_from(entry: Mapping[str, Any], body: Mapping[str, Any], steps: int) -> Message:
    """The Message of one outbox entry of a ManagedService body (as status recorded it)."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    alert = status.get("alert") or {}
    return Message(
        id=str(entry["id"]),
        action=str(entry.get("action") or TRIGGER),
        namespace=str(meta.get("namespace") or "default"),
        name=str(meta.get("name") or ""),
        key=str(alert.get("key") or ""),
        since=str(alert.get("since") or entry.get("decidedAt") or ""),
        severity=str(entry.get("severity") or "warning"),
        step=entry.get("step"),
        steps=steps,
        reason=str(entry.get("reason") or alert.get("reason") or ""),
        summary=str(entry.get("summary") or ""),
        exit_code=entry.get("exitCode"),
        dependents=tuple(entry.get("dependents") or ()),
        dependent_count=int(entry.get("dependentCount") or 0),
        recent_failures=tuple(status.get("recentFailures") or ()),
        decided_at=str(entry.get("decidedAt") or ""),
    )


# --- Alertmanager --------------------------------------------------------------------------


def alertmanager_labels(m: Message) -> dict[str, str]:
    labels = {
        "alertname": ALERTNAME,
        "namespace": m.namespace,
        "service": m.name,
        "reason": m.reason or "Unknown",
        "severity": m.severity or "warning",
    }
    if m.test:
        labels["test"] = "true"
    return labels


def alertmanager_alert(
    m: Message, *, now: datetime, resend_interval: float, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """One postableAlert. While firing, `endsAt` is 4 resend intervals ahead; on resolve
    (or for `labels` that a higher step replaced) it is now."""
    ending = m.action == RESOLVE or labels is not None
    description = [m.summary] if m.summary else []
    description += m.failures()
    if m.blast_radius():
        description.append(m.blast_radius())
    description.append(f"Look: {m.how_to_look}")
    return {
        "labels": dict(labels or alertmanager_labels(m)),
        "annotations": {
            "summary": m.headline,
            "description": "\n".join(description),
            "incident_key": m.key,
            "dependents": str(m.dependent_count),
        },
        # Never a start after now (a clock ahead of the receiver's, e.g. the kubelet's):
        # Alertmanager refuses an alert whose start is after its end.
        "startsAt": min(m.since, format_time(now)) if m.since else format_time(now),
        "endsAt": format_time(now if ending else now + timedelta(seconds=4 * resend_interval)),
        "generatorURL": "",
    }


# --- PagerDuty ------------------------------------------------------------------------------


def pagerduty_event(m: Message, routing_key: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": m.action,
        "dedup_key": m.key[:255],
        "client": "tend",
    }
    if m.action == TRIGGER:
        event["payload"] = {
            "summary": m.headline[:SUMMARY_LIMIT],
            "source": m.service,
            "severity": PAGERDUTY_SEVERITY.get(m.severity, "error"),
            "component": m.name,
            "group": m.namespace,
            "class": m.reason or "Unknown",
            "custom_details": {
                "step": None if m.step is None else f"{m.step + 1} of {m.steps}",
                "exit_code": m.exit_code,
                "last_failures": m.failures(),
                "dependents_affected": m.dependent_count,
                "dependents": list(m.dependents),
                "how_to_look": m.how_to_look,
                "test": m.test,
            },
        }
    return event


# --- Slack ----------------------------------------------------------------------------------


def slack_message(m: Message) -> dict[str, Any]:
    if m.action == RESOLVE:
        text = f":large_green_circle: *{m.service}* recovered (incident `{m.key}`)"
        return {"text": text, "blocks": [_section(text)]}
    icon = ":red_circle:" if m.severity == "critical" else ":large_orange_circle:"
    step = f", step {m.step + 1} of {m.steps}" if m.step is not None else ""
    title = "tend test notification" if m.test else f"*{m.service}* is failing"
    lines = [f"{icon} {title} ({m.severity}{step})"]
    if m.summary:
        lines.append(m.summary)
    if m.exit_code is not None:
        lines.append(f"Exit code: {m.exit_code}")
    failures = m.failures()
    if failures:
        lines.append("Last failures:\n" + "\n".join(f"• {f}" for f in failures))
    if m.blast_radius():
        lines.append(m.blast_radius())
    lines.append(f"Look: `{m.how_to_look}`")
    text = "\n".join(lines)
    return {"text": m.headline, "blocks": [_section(text)]}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


# --- the generic webhook --------------------------------------------------------------------


def webhook_payload(m: Message) -> dict[str, Any]:
    """The documented, versioned webhook body (docs/alerting.md)."""
    return {
        "version": WEBHOOK_VERSION,
        "id": m.id,
        "action": m.action,
        "test": m.test,
        "service": {"namespace": m.namespace, "name": m.name},
        "incident": {
            "key": m.key,
            "since": m.since,
            "reason": m.reason,
            "severity": m.severity,
            "step": m.step,
            "steps": m.steps,
        },
        "summary": m.headline,
        "message": m.summary,
        "exitCode": m.exit_code,
        "recentFailures": [dict(f) for f in list(m.recent_failures)[:FAILURES_SHOWN]],
        "dependents": list(m.dependents),
        "dependentCount": m.dependent_count,
        "decidedAt": m.decided_at,
        "howToLook": m.how_to_look,
    }


def signature(secret: bytes, body: bytes) -> str:
    """`X-Tend-Signature`: sha256=<hex HMAC-SHA256 of the body>, as GitHub signs webhooks."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


# --- email ----------------------------------------------------------------------------------


def email_message(m: Message, sender: str, recipients: Sequence[str]) -> EmailMessage:
    state = "RESOLVED" if m.action == RESOLVE else f"FIRING {m.severity}"
    if m.test:
        state = "TEST"
    message = EmailMessage()
    message["Subject"] = f"[tend] {state}: {m.service} {m.reason}".strip()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["X-Tend-Incident"] = m.key
    lines = [m.headline, ""]
    if m.action == TRIGGER:
        if m.exit_code is not None:
            lines.append(f"Exit code: {m.exit_code}")
        failures = m.failures()
        if failures:
            lines += ["Last failures:", *(f"  {f}" for f in failures)]
        if m.blast_radius():
            lines.append(m.blast_radius())
    lines += ["", f"Look: {m.how_to_look}", f"Incident: {m.key} (since {m.since})"]
    plain = "\n".join(lines) + "\n"
    message.set_content(plain)
    body = "".join(f"<p>{html.escape(line)}</p>" if line else "" for line in lines)
    message.add_alternative(f"<html><body>{body}</body></html>", subtype="html")
    return message
