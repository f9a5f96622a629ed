"""Container logs: the kubelet's side (a bounded ring of lines per container instance, the
termination-message fallback) and the API server's `pods/log` subresource.

The request goes the way it goes in Kubernetes:
- kube-apiserver (pkg/registry/core/pod/rest/log.go) validates the PodLogOptions
  (ValidatePodLogOptions: 422 for a negative tailLines, limitBytes or sinceSeconds < 1, both
  since options), picks the container (pod/strategy.go LogLocation/validateContainer: 400 "a
  container name must be specified for pod p, choose one of: [a b]", "container c is not valid
  for pod p", "pod p does not have a host assigned");
- the kubelet (kubelet_pods.go validateContainerLogStatus) picks the instance from the pod
  status: the running or last terminated one, `previous` the one before (400 "previous
  terminated container "c" in pod "p" not found"), or refuses a waiting container (400
  "container "c" in pod "p" is waiting to start: ContainerCreating");
- the CRI log reader (kuberuntime/logs/logs.go) applies tailLines, then sinceSeconds/sinceTime,
  prefixes `timestamps` (RFC 3339 with 9 fixed decimals), stops after limitBytes, and with
  `follow` streams new lines until the container exits.

The ring (LOG_RING_LINES, 5,000 lines per instance; the current and the previous instance per
container) stands in for the kubelet's rotation (containerLogMaxSize 10Mi, only the live file
is read).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aiohttp import web

from tend_sim import errors
from tend_sim.errors import Cause

LOG_RING_LINES = 5_000
# kubecontainer.MaxContainerTerminationMessageLogLines / ...LogLength
TERMINATION_LOG_LINES = 80
TERMINATION_LOG_BYTES = 2048
FOLLOW_POLL_SECONDS = 0.5  # simulated seconds between looks at a followed log


@dataclass
class ContainerLog:
    """What one container instance wrote: (simulated monotonic time, line) pairs."""

    lines: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=LOG_RING_LINES))
    finished: bool = False
    written: int = 0  # lines ever written (the ring keeps the last LOG_RING_LINES)

    def extend(self, entries: list[tuple[float, str]]) -> None:
        self.lines.extend(entries)
        self.written += len(entries)

    def since(self, written: int) -> list[tuple[float, str]]:
        """The lines written after the first `written` (those still in the ring)."""
        fresh = min(self.written - written, len(self.lines))
        return list(self.lines)[len(self.lines) - fresh :] if fresh > 0 else []

    def tail_text(self) -> str:
        """The termination message FallbackToLogsOnError takes: the last 80 lines, at most
        the last 2048 bytes of them (readLastStringFromContainerLogs)."""
        count = min(TERMINATION_LOG_LINES, len(self.lines))
        text = "".join(line + "\n" for _, line in list(self.lines)[len(self.lines) - count :])
        raw = text.encode()[-TERMINATION_LOG_BYTES:]
        return raw.decode(errors="ignore")


class LogSource(Protocol):
    """The node side: what the kubelet serves for a container instance."""

    def container_log(self, pod_uid: str, container_id: str) -> ContainerLog | None: ...

    def monotonic(self) -> float: ...

    def to_datetime(self, moment: float) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class LogOptions:
    container: str = ""
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    limit_bytes: int | None = None
    since_seconds: int | None = None
    since_time: datetime | None = None


def _bool(value: str) -> bool:
    return value.lower() in ("true", "1", "t")


def _int(query: Any, name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(
            f'invalid value "{raw}" for {name}: strconv.ParseInt: parsing "{raw}": invalid syntax'
        ) from None


def parse_options(query: Any, pod_name: str) -> LogOptions:
    """The query parameters as PodLogOptions, validated like ValidatePodLogOptions."""
    since_time = None
    if query.get("sinceTime"):
        raw = query["sinceTime"]
        try:
            since_time = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise errors.bad_request(
                f'parsing time "{raw}" as "2006-01-02T15:04:05Z07:00": cannot parse'
            ) from None
    opts = LogOptions(
        container=query.get("container", ""),
        follow=_bool(query.get("follow", "")),
        previous=_bool(query.get("previous", "")),
        timestamps=_bool(query.get("timestamps", "")),
        tail_lines=_int(query, "tailLines"),
        limit_bytes=_int(query, "limitBytes"),
        since_seconds=_int(query, "sinceSeconds"),
        since_time=since_time,
    )
    causes: list[Cause] = []
    if opts.tail_lines is not None and opts.tail_lines < 0:
        causes.append(
            Cause(
                errors.FIELD_VALUE_INVALID,
                f"Invalid value: {opts.tail_lines}: must be greater than or equal to 0",
                "tailLines",
            )
        )
    if opts.limit_bytes is not None and opts.limit_bytes < 1:
        causes.append(
            Cause(
                errors.FIELD_VALUE_INVALID,
                f"Invalid value: {opts.limit_bytes}: must be greater than 0",
                "limitBytes",
            )
        )
    if opts.since_seconds is not None and opts.since_time is not None:
        causes.append(
            Cause(
                errors.FIELD_VALUE_FORBIDDEN,
                "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
                "",
            )
        )
    elif opts.since_seconds is not None and opts.since_seconds < 1:
        causes.append(
            Cause(
                errors.FIELD_VALUE_INVALID,
                f"Invalid value: {opts.since_seconds}: must be greater than 0",
                "sinceSeconds",
            )
        )
    if causes:
        raise errors.invalid("PodLogOptions", "", pod_name, causes)
    return opts


def select_container(pod: dict[str, Any], wanted: str) -> str:
    """validateContainer and the host check of LogLocation."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    containers = [c.get("name", "") for c in spec.get("containers") or []]
    every = [c.get("name", "") for c in spec.get("initContainers") or []] + containers
    if not wanted:
        if len(containers) == 1:
            wanted = containers[0]
        elif not containers:
            raise errors.bad_request(f"a container name must be specified for pod {name}")
        else:
            raise errors.bad_request(
                f"a container name must be specified for pod {name}, "
                f"choose one of: [{' '.join(every)}]"
            )
    elif wanted not in every:
        raise errors.bad_request(f"container {wanted} is not valid for pod {name}")
    if not spec.get("nodeName"):
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    return wanted


def container_instance(pod: dict[str, Any], container: str, previous: bool) -> str:
    """validateContainerLogStatus: the container ID whose log is read."""
    pod_name = pod["metadata"]["name"]
    status = pod.get("status") or {}
    statuses = [
        *(status.get("containerStatuses") or []),
        *(status.get("initContainerStatuses") or []),
    ]
    found = next((s for s in statuses if s.get("name") == container), None)
    where = f'container "{container}" in pod "{pod_name}"'
    if found is None:
        raise errors.bad_request(f"{where} is not available")
    last = (found.get("lastState") or {}).get("terminated")
    state = found.get("state") or {}
    if previous:
        if not last or not last.get("containerID"):
            raise errors.bad_request(
                f'previous terminated container "{container}" in pod "{pod_name}" not found'
            )
        return str(last["containerID"])
    if "running" in state:
        return str(found.get("containerID", ""))
    if "terminated" in state:
        cid = state["terminated"].get("containerID") or (last or {}).get("containerID")
        if not cid:
            raise errors.bad_request(f"{where} is terminated")
        return str(cid)
    if last:
        if not last.get("containerID"):
            raise errors.bad_request(f"{where} is terminated")
        return str(last["containerID"])
    if "waiting" in state:
        reason = (state["waiting"] or {}).get("reason", "")
        detail = {
            "ErrImagePull": "image can't be pulled",
            "ImagePullBackOff": "trying and failing to pull image",
        }.get(reason, reason)
        raise errors.bad_request(f"{where} is waiting to start: {detail}")
    raise errors.bad_request(f"{where} is waiting to start - no logs yet")


def _stamp(moment: datetime) -> str:
    """kuberuntime logs' timeFormatOut: RFC 3339 with nine fixed fractional digits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


class _Writer:
    """Formats lines for one response and counts limitBytes."""

    def __init__(self, opts: LogOptions, to_datetime: Callable[[float], datetime]) -> None:
        self.opts = opts
        self.to_datetime = to_datetime
        self.left = opts.limit_bytes

    def render(self, lines: list[tuple[float, str]], not_before: datetime | None) -> bytes:
        out = bytearray()
        for at, text in lines:
            moment = self.to_datetime(at)
            if not_before is not None and moment < not_before:
                continue
            line = (f"{_stamp(moment)} {text}\n" if self.opts.timestamps else text + "\n").encode()
            if self.left is not None:
                line = line[: self.left]
                self.left -= len(line)
            out += line
            if self.left is not None and self.left <= 0:
                break
        return bytes(out)

    @property
    def exhausted(self) -> bool:
        return self.left is not None and self.left <= 0


async def serve_logs(
    request: web.Request, pod: dict[str, Any], source: LogSource | None
) -> web.StreamResponse:
    """GET .../pods/{name}/log."""
    opts = parse_options(request.query, pod["metadata"]["name"])
    container = select_container(pod, opts.container)
    container_id = container_instance(pod, container, opts.previous)
    uid = pod["metadata"].get("uid", "")
    log = source.container_log(uid, container_id) if source is not None else None
    headers = {"Content-Type": "text/plain"}
    if log is None or source is None:
        return web.Response(body=b"", headers=headers)
    not_before = opts.since_time
    if opts.since_seconds is not None:
        not_before = source.to_datetime(source.monotonic()) - timedelta(seconds=opts.since_seconds)
    lines = list(log.lines)
    if opts.tail_lines is not None:
        lines = lines[len(lines) - opts.tail_lines :] if opts.tail_lines else []
    writer = _Writer(opts, source.to_datetime)
    body = writer.render(lines, not_before)
    if not opts.follow or log.finished or writer.exhausted:
        return web.Response(body=body, headers=headers)
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    seen = log.written
    try:
        await response.write(body)
        while True:
            await source.sleep(FOLLOW_POLL_SECONDS)
            current = source.container_log(uid, container_id)
            if current is None:
                break
            fresh, seen = current.since(seen), current.written
            if fresh:
                await response.write(writer.render(fresh, not_before))
            if current.finished or writer.exhausted:
                break
        await response.write_eof()
    except ConnectionResetError:
        pass  # the follower went away (kubectl logs -f interrupted)
    return response
