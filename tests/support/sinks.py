"""Local receivers for alerting tests, on 127.0.0.1: an HTTP sink (PagerDuty's Events API,
Slack's incoming webhooks, a generic webhook, Alertmanager's own webhook) and an SMTP sink
(aiosmtpd). Each records what it got and wakes waiters on every arrival, so tests wait on
deliveries, never on time."""

from __future__ import annotations

import asyncio
import inspect
import json
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, TypeVar, cast

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

T = TypeVar("T")
DEADLINE = 30.0


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival
    answered: int = 0  # the status code sent back (0: none, the request was held)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hold: bool = False  # never answer (until the sink closes)


class Arrivals:
    """Wakes waiters whenever something arrives."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def arrived(self) -> None:
        self._changed.set()

    async def until(
        self,
        check: Callable[[], T | Awaitable[T]],
        what: str,
        deadline: float = DEADLINE,
        satisfied: Callable[[T], object] = bool,
    ) -> T:
        """`check()`'s value once `satisfied` by it, re-checked at every arrival (`check`
        may be async)."""
        value: object = None
        try:
            async with asyncio.timeout(deadline):
                while True:
                    self._changed.clear()
                    result = check()
                    value = await result if inspect.isawaitable(result) else result
                    if satisfied(cast(T, value)):
                        return cast(T, value)
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"not within {deadline}s: {what} (last: {value!r})") from None


def free_port() -> int:
    """A port nothing listens on now, for a server that wants to be told one."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class HttpSink(Arrivals):
    """Records every request (POST or GET); answers from `script` (one Answer per request,
    in order) and 200 once it is used up. A GET is answered with an empty metrics page, so
    Prometheus can scrape a sink and every scrape is an arrival."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Request] = []
        self.script: list[Answer] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._release = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def on(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def answered(self, path: str | None = None) -> list[Request]:
        return [r for r in self.requests if 200 <= r.answered < 300 and path in (None, r.path)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        got = Request(request.path, dict(request.headers), await request.read(), time.monotonic())
        self.requests.append(got)
        answer = self.script.pop(0) if self.script else Answer()
        self.arrived()
        if answer.hold:
            await self._release.wait()
            raise web.HTTPServiceUnavailable()
        got.answered = answer.status
        text = "# no series\n" if request.method == "GET" else "ok"
        return web.Response(status=answer.status, headers=answer.headers, text=text)

    async def __aenter__(self) -> HttpSink:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *_: object) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()


class SmtpSink(Arrivals):
    """aiosmtpd on a thread of its own; messages arrive here on the test's loop."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._loop = asyncio.get_running_loop()
        self._controller: Controller | None = None
        self.port = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        sender, recipients = str(envelope.mail_from), list(envelope.rcpt_tos)

        def record() -> None:
            self.messages.append(message)
            self.envelopes.append((sender, recipients))
            self.arrived()

        self._loop.call_soon_threadsafe(record)
        return "250 Message accepted for delivery"

    def __enter__(self) -> SmtpSink:
        self.port = free_port()  # aiosmtpd checks its port by connecting: no port 0
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._controller is not None:
            self._controller.stop()
