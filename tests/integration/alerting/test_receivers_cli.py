"""`tend receivers test`: one marked test notification per receiver, and what came back."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from sinks import Answer, HttpSink, SmtpSink

TEND = Path(sys.executable).parent / "tend"


@pytest.fixture
async def sink() -> AsyncIterator[HttpSink]:
    async with HttpSink() as http:
        yield http


async def tend(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        str(TEND), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_each_receiver_gets_a_marked_test_and_the_report_says_what_came_back(
    sink: HttpSink, tmp_path: Path
) -> None:
    key = tmp_path / "pd-key"
    key.write_text("R0UTING\n")
    with SmtpSink() as smtp:
        receivers = [
            {"name": "hook", "type": "webhook", "url": f"{sink.url}/hook"},
            {"name": "pd", "type": "pagerduty", "url": f"{sink.url}/pd",
             "routing_key_file": str(key)},
            {"name": "chat", "type": "slack", "url": f"{sink.url}/slack"},
            {"name": "mail", "type": "email", "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
             "email_from": "tend@example.org", "email_to": ["ops@example.org"]},
        ]  # fmt: skip
        config = tmp_path / "tend.yaml"
        config.write_text(yaml.safe_dump({"receivers": receivers}))
        sink.script = [Answer(), Answer(), Answer(), Answer(404)]  # Slack: no such webhook
        code, out, err = await tend("receivers", "test", "--config", str(config))
    assert code == 1, err
    assert out.splitlines() == [
        "hook (webhook): ok",
        "pd (pagerduty): ok (sent, then resolved)",
        "chat (slack): failed: 404 Not Found: ok (refused: check the configuration)",
        "mail (email): ok",
    ]
    (hook,) = sink.on("/hook")
    assert hook.json()["test"] is True and hook.json()["incident"]["severity"] == "info"
    trigger, resolve = (r.json() for r in sink.on("/pd"))
    assert trigger["routing_key"] == "R0UTING" and trigger["payload"]["custom_details"]["test"]
    assert resolve["event_action"] == "resolve" and resolve["dedup_key"] == trigger["dedup_key"]
    assert "tend test notification" in sink.on("/slack")[0].json()["blocks"][0]["text"]["text"]
    assert smtp.messages[0]["Subject"].startswith("[tend] TEST: ")


async def test_one_receiver_by_name_and_unknown_names_and_bad_config_are_refused(
    sink: HttpSink, tmp_path: Path
) -> None:
    config = tmp_path / "tend.yaml"
    receivers = [{"name": "hook", "type": "webhook", "url": f"{sink.url}/hook"},
                 {"name": "other", "type": "webhook", "url": f"{sink.url}/other"}]  # fmt: skip
    config.write_text(yaml.safe_dump({"receivers": receivers}))
    code, out, _ = await tend("receivers", "test", "--config", str(config), "--receiver", "hook")
    assert (code, out) == (0, "hook (webhook): ok\n") and not sink.on("/other")
    code, _, err = await tend("receivers", "test", "--config", str(config), "--receiver", "nope")
    assert code == 2 and "unknown receiver 'nope' (configured: hook, other)" in err
    config.write_text(yaml.safe_dump({"receivers": [{"name": "chat", "type": "slack"}]}))
    code, _, err = await tend("receivers", "test", "--config", str(config))
    assert code == 2
    assert (
        "receivers[0]: receiver 'chat' (slack) needs url_from, url_file or url_env (or url)" in err
    )
