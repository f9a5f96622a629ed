"""The simulated kubelet: image-scripted containers, probes, restart back-off, Events.

The image decides what a container does: see images.py (DESIGN.md, "The simulated kubelet's
images").

How the kubelet sees the application (choices where the real kubelet has no equivalent):
- Without a readiness probe a container is Ready once the application is ready (1s after
  start, or `<dur>` for `sim/ready`) and stays Ready: like the real kubelet, nothing
  notices a later `sim/unready`/`sim/hang`. With a readiness probe, Ready follows the
  probe (initialDelaySeconds, periodSeconds, successThreshold, failureThreshold).
- A startup probe succeeds once the application is ready; liveness and readiness probes
  wait until it has. A liveness probe fails only for `sim/hang`.
- Probes run at start + initialDelaySeconds + k * periodSeconds (k = 0, 1, ...). Each
  failed probe emits `Unhealthy`; reaching failureThreshold on a liveness or startup probe
  emits `Killing` ("Container main failed liveness probe, will be restarted") and kills
  the container at once with exit code 137 (reason Error).
- On deletion each running container gets `Killing` ("Stopping container main"), runs its
  preStop sleep (`lifecycle.preStop.sleep.seconds` or an exec `sleep N`), then exits 0 on
  SIGTERM; a hung container, or a preStop longer than the grace period, is killed at the
  end of the grace period with 137. Then the kubelet writes the final status and removes
  the pod. Init containers are not simulated.
- A container's environment is resolved when it is created, after the image pull, as
  makeEnvironmentVariables does (see `make_environment`): a Secret, ConfigMap or key it
  needs and that is missing leaves it waiting in CreateContainerConfigError, retried on
  every pod sync (10s) until the object appears.

Logs (logs.py): each container instance writes its image's lines and one line per probe
request it answers into a ring of 5,000 lines; the kubelet keeps the current and the previous
instance's log, serves them to `pods/log` (`Kubelet` is the store's `pod_logs` source) and,
with terminationMessagePolicy FallbackToLogsOnError, fills a failed run's termination message
from the log's tail.

Restart back-off is client-go's flowcontrol.Backoff as the kubelet uses it (10s initial,
doubling, capped at 5m, forgotten after 10m of no failures): the first restart is
immediate, then 10s, 20s, 40s, ... 300s. Image pull back-off uses the same schedule.

Everything here that is time-dependent takes the simulated time as an argument (`PodSim`
is a discrete-event simulation); `Kubelet` drives it from the store with a `Clock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tend_sim.clock import Clock, format_go_duration, rfc3339
from tend_sim.environment import ContainerConfigError, Lookup, make_environment, nothing_exists
from tend_sim.errors import ApiError
from tend_sim.events import EventRecorder
from tend_sim.images import Behaviour, RunPlan, Script, ScriptError, parse_image
from tend_sim.logs import LOG_RING_LINES, ContainerLog
from tend_sim.store import Store

log = logging.getLogger(__name__)

# The one simulated node stands for a whole cluster: load tests put thousands of pods on it,
# which a real node (kubelet's default maxPods is 110; kind has one) would refuse. The
# scheduler still fits requests against it: ask for more than this to be Unschedulable.
NODE_CAPACITY = {"cpu": "2k", "memory": "8Ti", "pods": "50k", "ephemeral-storage": "100Ti"}
NODE_NAME = "sim-node-1"
HOST_IP = "172.18.0.2"

# An unscripted image in a run-to-completion pod (restartPolicy OnFailure/Never, i.e. a Job)
# does its work and exits 0 after this long, so a real migration image works in the demo.
DEFAULT_COMPLETION_SECONDS = 2.0
FIRST_PULL_SECONDS = 0.5
REPULL_SECONDS = 0.1
PULL_RETRY_SYNC_SECONDS = 1.0  # after ErrImagePull the next pod sync reports ImagePullBackOff
# A failed pod sync (e.g. CreateContainerConfigError) is retried after the kubelet's
# backOffPeriod (pkg/kubelet/kubelet.go; pod_workers.go jitters it up to 15s).
SYNC_ERROR_RETRY_SECONDS = 10.0
INITIAL_BACKOFF = 10.0
MAX_BACKOFF = 300.0
EPSILON = 1e-9


# --------------------------------------------------------------------------- back-off


@dataclass
class _BackoffEntry:
    backoff: float
    last_update: float


class Backoff:
    """client-go's flowcontrol.Backoff (without jitter), on simulated seconds."""

    def __init__(self, initial: float = INITIAL_BACKOFF, maximum: float = MAX_BACKOFF) -> None:
        self.initial = initial
        self.maximum = maximum
        self._entries: dict[str, _BackoffEntry] = {}

    def get(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry.backoff if entry else 0.0

    def next(self, key: str, event_time: float, now: float) -> None:
        """Move to the next step: initial (again, if it expired), else doubled and capped."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            entry = self._entries[key] = _BackoffEntry(self.initial, now)
        else:
            entry.backoff = min(entry.backoff * 2, self.maximum)
        entry.last_update = now

    def in_backoff_since(self, key: str, event_time: float, now: float) -> bool:
        """True while less than the current back-off has passed since `event_time`."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            return False
        return now - event_time < entry.backoff - EPSILON

    def in_backoff_since_update(self, key: str, event_time: float) -> bool:
        """True while less than the current back-off has passed since the last `next()`."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            return False
        return event_time - entry.last_update < entry.backoff - EPSILON

    def retry_at(self, key: str) -> float:
        """When `in_backoff_since_update` turns False."""
        entry = self._entries[key]
        return entry.last_update + entry.backoff

    def forget(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]

    def _expired(self, event_time: float, entry: _BackoffEntry) -> bool:
        # "consider stable if it's ok for twice the maxDuration"
        return event_time - entry.last_update > self.maximum * 2


# --------------------------------------------------------------------------- probes


class ProbeType(StrEnum):
    STARTUP = "Startup"
    LIVENESS = "Liveness"
    READINESS = "Readiness"


@dataclass(frozen=True)
class ProbeSpec:
    """The timing of a core/v1 Probe plus what a failure looks like."""

    initial_delay: float = 0.0
    period: float = 10.0
    success_threshold: int = 1
    failure_threshold: int = 3
    handler: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_k8s(cls, probe: dict[str, Any] | None) -> ProbeSpec | None:
        if not probe:
            return None
        return cls(
            initial_delay=float(probe.get("initialDelaySeconds") or 0),
            period=float(probe.get("periodSeconds") or 10),
            success_threshold=int(probe.get("successThreshold") or 1),
            failure_threshold=int(probe.get("failureThreshold") or 3),
            handler={
                k: v for k, v in probe.items() if k in ("httpGet", "tcpSocket", "exec", "grpc")
            },
        )

    def failure_output(self, pod_ip: str, hung: bool) -> str:
        """What the real prober would print for an application that is unready or hung."""
        if "httpGet" in self.handler:
            http = self.handler["httpGet"] or {}
            scheme = str(http.get("scheme", "HTTP")).lower()
            host = http.get("host") or pod_ip
            url = f"{scheme}://{host}:{http.get('port')}{http.get('path', '/')}"
            if hung:
                return (
                    f'Get "{url}": context deadline exceeded '
                    "(Client.Timeout exceeded while awaiting headers)"
                )
            return "HTTP probe failed with statuscode: 503"
        if "tcpSocket" in self.handler:
            port = (self.handler["tcpSocket"] or {}).get("port")
            if hung:
                return f"dial tcp {pod_ip}:{port}: i/o timeout"
            return f"dial tcp {pod_ip}:{port}: connect: connection refused"
        if "grpc" in self.handler:
            port = (self.handler["grpc"] or {}).get("port")
            if hung:
                return f'timeout: failed to connect service ":{port}" within 1s'
            return 'service unhealthy (responded with "NOT_SERVING")'
        if hung:
            return "command timed out"
        return ""


@dataclass
class ProbeWorker:
    """One prober worker (pkg/kubelet/prober/worker.go) for one container instance."""

    kind: ProbeType
    spec: ProbeSpec
    start: float
    result: bool | None  # None: not known yet (a startup probe before its first verdict)
    next_k: int = 0
    logged_k: int = 0  # the first tick whose request is not in the log yet
    last_raw: bool | None = None
    run: int = 0
    on_hold: bool = False

    def tick_time(self, k: int) -> float:
        return self.start + self.spec.initial_delay + k * self.spec.period

    def first_tick_at_or_after(self, moment: float) -> int:
        offset = (moment - self.start - self.spec.initial_delay) / self.spec.period
        return max(self.next_k, math.ceil(offset - EPSILON))

    def observe(self, raw: bool) -> bool | None:
        """Record one probe result; return the new published result when it changes."""
        if raw == self.last_raw:
            self.run += 1
        else:
            self.last_raw, self.run = raw, 1
        if (not raw and self.run < self.spec.failure_threshold) or (
            raw and self.run < self.spec.success_threshold
        ):
            return None
        if raw == self.result:
            return None
        self.result = raw
        if not raw and self.kind is not ProbeType.READINESS:
            self.on_hold, self.run = True, 0
        return raw


# --------------------------------------------------------------------------- containers


class Phase(StrEnum):
    PULLING = "Pulling"
    PULL_FAILED = "ErrImagePull"
    PULL_BACKOFF = "ImagePullBackOff"
    INVALID = "InvalidImageName"
    CONFIG_ERROR = "CreateContainerConfigError"
    RUNNING = "Running"
    BACKOFF = "CrashLoopBackOff"
    TERMINATED = "Terminated"  # exited and will not be restarted
    STOPPING = "Stopping"  # pod deletion: preStop / SIGTERM in progress
    STOPPED = "Stopped"  # pod deletion finished for this container


@dataclass
class Emitted:
    """An Event the kubelet records about a pod (`field_path` names a container)."""

    type: str
    reason: str
    message: str
    field_path: str | None
    at: float


@dataclass
class Run:
    """One container instance."""

    index: int
    container_id: str
    started_at: float
    plan: RunPlan
    env: dict[str, str] = field(default_factory=dict)
    finished_at: float | None = None
    exit_code: int | None = None
    reason: str | None = None
    log: ContainerLog | None = field(default_factory=ContainerLog)
    plan_logged: int = 0  # how many of plan.lines are in the log
    termination_message: str = ""


@dataclass
class NodeState:
    """What one simulated node shares between pods: image cache, back-offs, pod IPs."""

    name: str = NODE_NAME
    images: set[str] = field(default_factory=set)
    container_backoff: Backoff = field(default_factory=Backoff)
    image_backoff: Backoff = field(default_factory=Backoff)
    next_ip: int = 2

    def allocate_ip(self) -> str:
        n = self.next_ip
        self.next_ip += 1
        return f"10.244.{n // 254}.{n % 254 + 1}"


@dataclass
class PodContext:
    """The pod-level facts a container needs."""

    name: str
    namespace: str
    uid: str
    restart_policy: str
    pod_ip: str
    node: NodeState
    emit: Callable[[Emitted], None]
    lookup: Lookup

    @property
    def formatted(self) -> str:
        """format.Pod(): `name_namespace(uid)`."""
        return f"{self.name}_{self.namespace}({self.uid})"


def default_pull_policy(image: str) -> str:
    """The API server's default: Always for `:latest` or untagged images, else IfNotPresent."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class ContainerSim:
    """The life of one container of a pod; a small discrete-event state machine."""

    def __init__(self, pod: PodContext, spec: dict[str, Any]) -> None:
        self.pod = pod
        self.name: str = spec["name"]
        self.image: str = spec.get("image", "")
        self.pull_policy: str = spec.get("imagePullPolicy") or default_pull_policy(self.image)
        self.env_spec: dict[str, Any] = {k: spec[k] for k in ("env", "envFrom") if k in spec}
        # FallbackToLogsOnError: a failed run's termination message is the tail of its log.
        self.log_on_error = spec.get("terminationMessagePolicy") == "FallbackToLogsOnError"
        self.config_error = ""  # the last CreateContainerConfigError, until a start succeeds
        self.field_path = f"spec.containers{{{self.name}}}"
        self.startup = ProbeSpec.from_k8s(spec.get("startupProbe"))
        self.liveness = ProbeSpec.from_k8s(spec.get("livenessProbe"))
        self.readiness = ProbeSpec.from_k8s(spec.get("readinessProbe"))
        self.prestop = _prestop_seconds(spec.get("lifecycle"))
        self.backoff_key = f"{pod.name}_{pod.namespace}_{pod.uid}_{self.name}"
        self.image_key = f"{pod.uid}_{self.image}"
        self.runs: list[Run] = []
        self.workers: list[ProbeWorker] = []
        self.started = False
        self.waiting_message = ""
        self.due: float | None = None  # time of the next scheduled transition (non-running)
        self.stop_exit: tuple[int, str] = (0, "Completed")
        self.ready_when_stopping = False
        self.pull_seconds = FIRST_PULL_SECONDS
        try:
            self.script: Script | None = parse_image(self.image)
            self.script_error = ""
        except ScriptError as exc:
            self.script, self.script_error = None, str(exc)
        if self.script == Script() and pod.restart_policy != "Always":
            self.script = Script(Behaviour.COMPLETE, after=DEFAULT_COMPLETION_SECONDS)
        self.phase = Phase.PULLING

    # ------------------------------------------------------------------ scheduling

    @property
    def run(self) -> Run | None:
        return self.runs[-1] if self.runs else None

    def begin(self, now: float) -> None:
        """The pod was admitted: try to start for the first time."""
        self._start_attempt(now)

    def next_due(self, now: float) -> float | None:
        """The next time something happens to this container (None: nothing scheduled)."""
        if self.phase is not Phase.RUNNING:
            return self.due
        run = self.run
        assert run is not None
        candidates: list[float] = []
        if run.plan.exit_at is not None:
            candidates.append(run.started_at + run.plan.exit_at)
        if self.readiness is None and self.started and run.plan.ready_at is not None:
            ready_time = run.started_at + run.plan.ready_at
            if ready_time > now + EPSILON:
                candidates.append(ready_time)
        candidates.extend(t for w in self.workers if (t := self._next_tick(w)) is not None)
        return min(candidates) if candidates else None

    def process(self, now: float) -> None:
        """Handle everything due at `now` (an exact due time)."""
        if self.phase is Phase.RUNNING:
            run = self.run
            assert run is not None
            if run.plan.exit_at is not None and run.started_at + run.plan.exit_at <= now + EPSILON:
                self._exit(now, run.plan.exit_code, run.plan.exit_reason)
                return
            for worker in sorted(self.workers, key=lambda w: w.kind != ProbeType.STARTUP):
                tick = self._next_tick(worker)
                if tick is not None and tick <= now + EPSILON and self.phase is Phase.RUNNING:
                    self._probe(worker, now)
            return
        if self.due is None or self.due > now + EPSILON:
            return
        self.due = None
        match self.phase:
            case Phase.PULLING:
                self._pull_done(now)
            case Phase.PULL_FAILED | Phase.PULL_BACKOFF:
                self._start_attempt(now)
            case Phase.CONFIG_ERROR:
                # The next pod sync: the restart back-off first if an instance ran before.
                if self.run is not None:
                    self._restart_or_back_off(now)
                else:
                    self._start_attempt(now)
            case Phase.BACKOFF:
                self._restart_after_backoff(now)
            case Phase.STOPPING:
                self._stopped(now)
            case _:
                pass

    # ------------------------------------------------------------------ start / pull

    def _emit(self, type_: str, reason: str, message: str, now: float) -> None:
        self.pod.emit(Emitted(type_, reason, message, self.field_path, now))

    def _start_attempt(self, now: float) -> None:
        if self.script is None:
            self.phase = Phase.INVALID
            self.waiting_message = self.script_error
            self._emit("Warning", "InspectFailed", self.script_error, now)
            self._emit("Warning", "Failed", "Error: InvalidImageName", now)
            return
        node = self.pod.node
        if self.script.pull_fails:
            if node.image_backoff.in_backoff_since_update(self.image_key, now):
                self.phase = Phase.PULL_BACKOFF
                self.waiting_message = f'Back-off pulling image "{self.image}"'
                self._emit("Normal", "BackOff", self.waiting_message, now)
                self._emit("Warning", "Failed", "Error: ImagePullBackOff", now)
                self.due = node.image_backoff.retry_at(self.image_key)
                return
            self._emit("Normal", "Pulling", f'Pulling image "{self.image}"', now)
            self.phase, self.due = Phase.PULLING, now + FIRST_PULL_SECONDS
            return
        cached = self.image in node.images
        if self.pull_policy == "Always" or (self.pull_policy == "IfNotPresent" and not cached):
            self._emit("Normal", "Pulling", f'Pulling image "{self.image}"', now)
            self.pull_seconds = REPULL_SECONDS if cached else FIRST_PULL_SECONDS
            self.phase, self.due = Phase.PULLING, now + self.pull_seconds
            return
        message = f'Container image "{self.image}" already present on machine'
        self._emit("Normal", "Pulled", message, now)
        self._create_and_start(now)

    def _pull_done(self, now: float) -> None:
        assert self.script is not None
        node = self.pod.node
        if self.script.pull_fails:
            reference = self.image if "/" in self.image.split(":")[0] else f"library/{self.image}"
            self.waiting_message = (
                "rpc error: code = NotFound desc = failed to pull and unpack image "
                f'"docker.io/{reference}": failed to resolve reference "docker.io/{reference}": '
                f"docker.io/{reference}: not found"
            )
            message = f'Failed to pull image "{self.image}": {self.waiting_message}'
            self._emit("Warning", "Failed", message, now)
            self._emit("Warning", "Failed", "Error: ErrImagePull", now)
            node.image_backoff.next(self.image_key, now, now)
            self.phase, self.due = Phase.PULL_FAILED, now + PULL_RETRY_SYNC_SECONDS
            return
        node.images.add(self.image)
        size = int(_sha(self.image)[:6], 16) * 100
        duration = format_go_duration(self.pull_seconds)
        message = (
            f'Successfully pulled image "{self.image}" in {duration} '
            f"({duration} including waiting). Image size: {size} bytes."
        )
        self._emit("Normal", "Pulled", message, now)
        self._create_and_start(now)

    def _create_and_start(self, now: float) -> None:
        assert self.script is not None
        try:
            env = make_environment(self.env_spec, self.pod.namespace, self.pod.lookup)
        except ContainerConfigError as exc:
            # kuberuntime_container.go startContainer: generateContainerConfig failed.
            self.config_error = self.waiting_message = str(exc)
            self._emit("Warning", "Failed", f"Error: {exc}", now)
            self.phase, self.due = Phase.CONFIG_ERROR, now + SYNC_ERROR_RETRY_SECONDS
            return
        self.config_error = ""
        index = len(self.runs)
        container_id = "containerd://" + _sha(f"{self.pod.uid}/{self.name}/{index}")
        self.runs.append(Run(index, container_id, now, self.script.plan(index), env))
        if index >= 2:
            self.runs[index - 2].log = None  # the kubelet keeps one dead instance per container
        self._emit("Normal", "Created", f"Created container: {self.name}", now)
        self._emit("Normal", "Started", f"Started container {self.name}", now)
        self.phase, self.due, self.waiting_message = Phase.RUNNING, None, ""
        self.started = self.startup is None
        self.workers = []
        initial: bool | None
        for kind, spec, initial in (
            (ProbeType.STARTUP, self.startup, None),
            (ProbeType.LIVENESS, self.liveness, True),
            (ProbeType.READINESS, self.readiness, False),
        ):
            if spec is not None:
                self.workers.append(ProbeWorker(kind, spec, now, initial))

    # ------------------------------------------------------------------ probes

    def _answer(self, kind: ProbeType, elapsed: float) -> bool:
        run = self.run
        assert run is not None
        if kind is ProbeType.STARTUP:
            return run.plan.started(elapsed)
        if kind is ProbeType.LIVENESS:
            return run.plan.alive(elapsed)
        return run.plan.ready(elapsed)

    def _active(self, worker: ProbeWorker) -> bool:
        if worker.on_hold:
            return False
        if worker.kind is ProbeType.STARTUP:
            return not self.started
        return self.started

    def _next_tick(self, worker: ProbeWorker) -> float | None:
        """When this worker next does something observable (ticks with no effect skipped)."""
        run = self.run
        if run is None or not self._active(worker):
            return None
        k = worker.next_k
        now_elapsed = worker.tick_time(k) - run.started_at
        quiet = worker.kind is not ProbeType.STARTUP and worker.result is True
        if quiet and self._answer(worker.kind, now_elapsed):
            later = [p for p in run.plan.change_points() if p > now_elapsed + EPSILON]
            if not later:
                return None
            k = worker.first_tick_at_or_after(run.started_at + later[0])
        return worker.tick_time(k)

    def _probe(self, worker: ProbeWorker, now: float) -> None:
        run = self.run
        assert run is not None
        self.flush_logs(now, ticks_at_now=False)
        worker.next_k = worker.logged_k = worker.first_tick_at_or_after(now) + 1
        elapsed = now - run.started_at
        raw = self._answer(worker.kind, elapsed)
        self._log_request(run, worker, now, raw)
        if not raw:
            output = worker.spec.failure_output(self.pod.pod_ip, not run.plan.alive(elapsed))
            self._emit("Warning", "Unhealthy", f"{worker.kind} probe failed: {output}", now)
        changed = worker.observe(raw)
        if changed is None:
            return
        if worker.kind is ProbeType.STARTUP and changed:
            self.started = True
            for other in self.workers:
                if other is not worker:
                    other.next_k = other.logged_k = other.first_tick_at_or_after(now)
            return
        if worker.kind is not ProbeType.READINESS and not changed:
            probe = worker.kind.lower()
            message = f"Container {self.name} failed {probe} probe, will be restarted"
            self._emit("Normal", "Killing", message, now)
            self._exit(now, 137, "Error")

    # ------------------------------------------------------------------ logs

    def flush_logs(self, until: float, ticks_at_now: bool = True) -> None:
        """Write what the application printed up to `until`: its script's lines and the
        probe requests the simulation skipped (a healthy probe tick changes nothing, so it is
        not simulated one by one; each was answered and logged)."""
        run = self.run
        if run is None or run.log is None:
            return
        end = until if run.finished_at is None else min(until, run.finished_at)
        pending: list[tuple[float, str]] = []
        lines = run.plan.lines
        while run.plan_logged < len(lines):
            at = run.started_at + lines[run.plan_logged][0]
            if at > end + EPSILON:
                break
            pending.append((at, lines[run.plan_logged][1]))
            run.plan_logged += 1
        if self.phase is Phase.RUNNING:
            for worker in self.workers:
                if self._active(worker):
                    pending.extend(self._quiet_requests(run, worker, end, ticks_at_now))
        pending.sort(key=lambda entry: entry[0])
        run.log.extend(pending)

    def _quiet_requests(
        self, run: Run, worker: ProbeWorker, end: float, inclusive: bool
    ) -> list[tuple[float, str]]:
        limit = end + EPSILON if inclusive else end - EPSILON
        last = math.floor((limit - worker.tick_time(0)) / worker.spec.period)
        k = max(worker.logged_k, last - LOG_RING_LINES + 1)
        out: list[tuple[float, str]] = []
        while k <= last:
            at = worker.tick_time(k)
            line = self._request_line(worker, run, at, True)
            if line:
                out.append((at, line))
            k += 1
        worker.logged_k = k
        return out

    def _request_line(self, worker: ProbeWorker, run: Run, at: float, ok: bool) -> str:
        """What the application logs for one probe request ("" when it logs nothing)."""
        if not run.plan.alive(at - run.started_at):
            return ""  # a hung application answers nothing and logs nothing
        handler = worker.spec.handler
        if "httpGet" in handler:
            return _request_text("http", str((handler["httpGet"] or {}).get("path", "/")), ok)
        if "tcpSocket" in handler:
            return _request_text("tcp", "", ok)
        if "grpc" in handler:
            return _request_text("grpc", "", ok)
        return ""  # an exec probe runs beside the application, not through it

    def _log_request(self, run: Run, worker: ProbeWorker, now: float, ok: bool) -> None:
        line = self._request_line(worker, run, now, ok)
        if line and run.log is not None:
            run.log.extend([(now, line)])

    def log_of(self, container_id: str, now: float) -> ContainerLog | None:
        """The log of one instance of this container, written up to `now`."""
        for run in reversed(self.runs):
            if run.container_id == container_id:
                if run is self.run:
                    self.flush_logs(now)
                return run.log
        return None

    # ------------------------------------------------------------------ exit / restart

    def _should_restart(self, exit_code: int) -> bool:
        policy = self.pod.restart_policy
        return policy == "Always" or (policy == "OnFailure" and exit_code != 0)

    def _exit(self, now: float, exit_code: int, reason: str) -> None:
        run = self.run
        assert run is not None
        self.flush_logs(now, ticks_at_now=False)
        run.finished_at, run.exit_code, run.reason = now, exit_code, reason
        if run.log is not None:
            run.log.finished = True
            if self.log_on_error and exit_code:
                run.termination_message = run.log.tail_text()
        self.workers, self.started = [], False
        if self.phase is Phase.STOPPING or not self._should_restart(exit_code):
            self.phase = Phase.STOPPED if self.phase is Phase.STOPPING else Phase.TERMINATED
            self.due = None
            return
        self._restart_or_back_off(now)

    def _restart_or_back_off(self, now: float) -> None:
        run = self.run
        assert run is not None
        assert run.finished_at is not None
        backoff = self.pod.node.container_backoff
        if backoff.in_backoff_since(self.backoff_key, run.finished_at, now):
            delay = backoff.get(self.backoff_key)
            self.phase, self.due = Phase.BACKOFF, run.finished_at + delay
            self.waiting_message = (
                f"back-off {format_go_duration(delay)} restarting failed "
                f"container={self.name} pod={self.pod.formatted}"
            )
            message = (
                f"Back-off restarting failed container {self.name} in pod {self.pod.formatted}"
            )
            self._emit("Warning", "BackOff", message, now)
            return
        backoff.next(self.backoff_key, run.finished_at, now)
        self._start_attempt(now)

    def _restart_after_backoff(self, now: float) -> None:
        self._restart_or_back_off(now)

    # ------------------------------------------------------------------ deletion

    def stop(self, now: float, grace: float) -> None:
        """Pod deletion: preStop, SIGTERM, SIGKILL at the end of the grace period."""
        if self.phase in (Phase.STOPPING, Phase.STOPPED):
            return
        if self.phase is not Phase.RUNNING:
            self.phase, self.due = Phase.STOPPED, None
            return
        run = self.run
        assert run is not None
        self._emit("Normal", "Killing", f"Stopping container {self.name}", now)
        self.flush_logs(now, ticks_at_now=False)
        self.ready_when_stopping = self.ready(now)
        self.phase, self.workers = Phase.STOPPING, []
        hung = not run.plan.alive(now - run.started_at)
        if hung or self.prestop >= grace:
            self.due, self.stop_exit = now + grace, (137, "Error")
        else:
            self.due, self.stop_exit = now + self.prestop, (0, "Completed")
        if run.plan.exit_at is not None and run.started_at + run.plan.exit_at < self.due:
            self.due = run.started_at + run.plan.exit_at
            self.stop_exit = (run.plan.exit_code, run.plan.exit_reason)

    def _stopped(self, now: float) -> None:
        run = self.run
        if run is not None and run.log is not None and self.stop_exit[0] == 0:
            self.flush_logs(now, ticks_at_now=False)
            run.log.extend([(now, "received SIGTERM, shutting down")])
        self._exit(now, *self.stop_exit)

    @property
    def stopped(self) -> bool:
        """Not running and, the pod being deleted, never going to run again."""
        return self.phase is Phase.STOPPED

    # ------------------------------------------------------------------ status

    def ready(self, now: float) -> bool:
        run = self.run
        if self.phase is Phase.STOPPING:
            return self.ready_when_stopping
        if self.phase is not Phase.RUNNING or run is None or not self.started:
            return False
        if self.readiness is None:
            return run.plan.ready_at is not None and (
                now - run.started_at >= run.plan.ready_at - EPSILON
            )
        worker = next(w for w in self.workers if w.kind is ProbeType.READINESS)
        return bool(worker.result)

    def status(self, now: float, to_time: Callable[[float], str]) -> dict[str, Any]:
        run = self.run
        previous = self.runs[-2] if len(self.runs) > 1 else None
        status: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "imageID": self._image_id() if run else "",
            "ready": self.ready(now),
            "restartCount": run.index if run else 0,
            "started": self.phase in (Phase.RUNNING, Phase.STOPPING) and self.started,
            "state": {},
            "lastState": {},
        }
        if run is not None:
            status["containerID"] = run.container_id
        if self.phase in (Phase.RUNNING, Phase.STOPPING):
            assert run is not None
            status["state"] = {"running": {"startedAt": to_time(run.started_at)}}
            if previous:
                status["lastState"] = {"terminated": self._terminated(previous, to_time)}
        elif self.phase in WAITING_PHASES or (self.phase is Phase.PULLING and self.config_error):
            # While a retry pulls again, the kubelet's reasonCache still holds the error.
            reason = Phase.CONFIG_ERROR.value if self.phase is Phase.PULLING else self.phase.value
            status["state"] = {"waiting": {"reason": reason, "message": self.waiting_message}}
            if run is not None:
                status["lastState"] = {"terminated": self._terminated(run, to_time)}
        elif run is not None and run.finished_at is not None:
            status["state"] = {"terminated": self._terminated(run, to_time)}
            if previous:
                status["lastState"] = {"terminated": self._terminated(previous, to_time)}
        elif self.phase is Phase.STOPPED:
            status["state"] = {
                "terminated": {
                    "exitCode": 137,
                    "reason": "ContainerStatusUnknown",
                    "message": "The container could not be located when the pod was terminated",
                }
            }
        else:
            status["state"] = {"waiting": {"reason": "ContainerCreating"}}
        return status

    def _terminated(self, run: Run, to_time: Callable[[float], str]) -> dict[str, Any]:
        return _terminated(run, to_time, self.log_on_error)

    def _image_id(self) -> str:
        repo = self.image.split("@")[0].rsplit(":", 1)[0] if ":" in self.image else self.image
        if "/" not in repo:
            repo = f"library/{repo}"
        return f"docker.io/{repo}@sha256:{_sha(self.image)}"


@functools.lru_cache(maxsize=256)
def _request_text(kind: str, path: str, ok: bool) -> str:
    """One probe request's log line (one shared string per kind: the ring holds many)."""
    if kind == "http":
        return f'{HOST_IP} "GET {path} HTTP/1.1" {200 if ok else 503} "kube-probe/1.37"'
    if kind == "tcp":
        return f"accepted connection from {HOST_IP}"
    return f"grpc.health.v1.Health/Check: {'SERVING' if ok else 'NOT_SERVING'}"


WAITING_PHASES = (
    Phase.BACKOFF,
    Phase.PULL_FAILED,
    Phase.PULL_BACKOFF,
    Phase.INVALID,
    Phase.CONFIG_ERROR,
)


def _terminated(
    run: Run, to_time: Callable[[float], str], log_on_error: bool = False
) -> dict[str, Any]:
    """`state.terminated` of a run. With terminationMessagePolicy FallbackToLogsOnError the
    kubelet fills `message` from the end of the log when the run failed (exit code not 0)
    and wrote no termination-log (kuberuntime_container.go, getTerminationMessage): the last
    80 lines, at most 2048 bytes (logs.py)."""
    assert run.finished_at is not None
    terminated: dict[str, Any] = {
        "containerID": run.container_id,
        "exitCode": run.exit_code,
        "reason": run.reason,
        "startedAt": to_time(run.started_at),
        "finishedAt": to_time(run.finished_at),
    }
    if log_on_error and run.exit_code and run.termination_message:
        terminated["message"] = run.termination_message
    return terminated


def _prestop_seconds(lifecycle: dict[str, Any] | None) -> float:
    """The sleep of a preStop hook: `sleep: {seconds: N}` or an exec `sleep N`."""
    prestop = (lifecycle or {}).get("preStop") or {}
    if "sleep" in prestop:
        return float((prestop["sleep"] or {}).get("seconds") or 0)
    command = " ".join(str(part) for part in ((prestop.get("exec") or {}).get("command") or []))
    match = re.search(r"\bsleep\s+([0-9]+(?:\.[0-9]+)?)", command)
    return float(match.group(1)) if match else 0.0


# --------------------------------------------------------------------------- pods

KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")


def qos_class(spec: dict[str, Any]) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' requests and limits."""
    containers = spec.get("containers") or []
    requests = [(c.get("resources") or {}).get("requests") or {} for c in containers]
    limits = [(c.get("resources") or {}).get("limits") or {} for c in containers]
    if not any(requests) and not any(limits):
        return "BestEffort"
    for req, lim in zip(requests, limits, strict=True):
        for resource in ("cpu", "memory"):
            if resource not in lim or str(req.get(resource, lim[resource])) != str(lim[resource]):
                return "Burstable"
    return "Guaranteed"


class PodSim:
    """One pod on the simulated node: its containers, conditions and Events to record."""

    def __init__(
        self, pod: dict[str, Any], node: NodeState, now: float, lookup: Lookup = nothing_exists
    ) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        self.events: list[Emitted] = []
        self.ctx = PodContext(
            name=meta["name"],
            namespace=meta.get("namespace", "default"),
            uid=meta.get("uid", ""),
            restart_policy=spec.get("restartPolicy") or "Always",
            pod_ip=node.allocate_ip(),
            node=node,
            emit=self.events.append,
            lookup=lookup,
        )
        self.grace = float(spec.get("terminationGracePeriodSeconds", 30))
        self.qos = qos_class(spec)
        self.admitted_at = self.now = now
        self.deleting_since: float | None = None
        self.containers = [ContainerSim(self.ctx, c) for c in spec.get("containers") or []]
        self._conditions: dict[str, tuple[str, float]] = {}
        for container in self.containers:
            container.begin(now)
        self._update_conditions(now)

    # -- time ----------------------------------------------------------------------------

    def next_due(self) -> float | None:
        times = [t for c in self.containers if (t := c.next_due(self.now)) is not None]
        return min(times) if times else None

    def advance(self, until: float) -> None:
        """Run the simulation up to `until`, processing each due instant in order."""
        for _ in range(100_000):
            due = self.next_due()
            if due is None or due > until + EPSILON:
                break
            instant = max(due, self.now)
            self.now = instant
            for container in self.containers:
                next_for = container.next_due(instant)
                if next_for is not None and next_for <= instant + EPSILON:
                    container.process(instant)
            self._update_conditions(instant)
        self.now = max(self.now, until)
        self._update_conditions(self.now)

    def delete(self, now: float, grace: float | None = None) -> None:
        """The pod got a deletionTimestamp: stop every container."""
        if self.deleting_since is not None:
            return
        self.advance(now)
        self.deleting_since = now
        for container in self.containers:
            container.stop(now, self.grace if grace is None else grace)
        self._update_conditions(now)

    @property
    def gone(self) -> bool:
        """Deleted and every container stopped: the kubelet may remove the pod."""
        return self.deleting_since is not None and all(c.stopped for c in self.containers)

    def take_events(self) -> list[Emitted]:
        events, self.events[:] = list(self.events), []
        return events

    # -- status ---------------------------------------------------------------------------

    def phase(self) -> str:
        if self.gone:
            codes = [c.run.exit_code if c.run else None for c in self.containers]
            return "Succeeded" if all(code == 0 for code in codes) else "Failed"
        waiting = running = stopped = succeeded = 0
        for container in self.containers:
            state = container.status(self.now, _no_time)
            if "running" in state["state"]:
                running += 1
            elif "terminated" in state["state"]:
                stopped += 1
                succeeded += state["state"]["terminated"]["exitCode"] == 0
            elif state["lastState"].get("terminated"):
                stopped += 1
            else:
                waiting += 1
        if waiting:
            return "Pending"
        if running:
            return "Running"
        if not stopped:
            return "Pending"
        if self.ctx.restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if self.ctx.restart_policy == "Never" else "Running"

    def _condition_values(self) -> dict[str, tuple[str, str, str]]:
        """type -> (status, reason, message) for the conditions the kubelet owns."""
        phase = self.phase()
        unready = [c.name for c in self.containers if not c.ready(self.now)]
        if phase in ("Succeeded", "Failed"):
            ready = ("False", "PodCompleted", "")
        elif unready:
            message = f"containers with unready status: [{' '.join(unready)}]"
            ready = ("False", "ContainersNotReady", message)
        else:
            ready = ("True", "", "")
        sandbox = ("False", "", "") if self.gone else ("True", "", "")
        return {
            "PodReadyToStartContainers": sandbox,
            "Initialized": ("True", "", ""),
            "Ready": ready,
            "ContainersReady": ready,
        }

    def _update_conditions(self, now: float) -> None:
        for type_, (status, _, _) in self._condition_values().items():
            previous = self._conditions.get(type_)
            if previous is None or previous[0] != status:
                self._conditions[type_] = (status, now)

    def status(
        self, existing: dict[str, Any] | None, to_time: Callable[[float], str]
    ) -> dict[str, Any]:
        """The pod status the kubelet reports, keeping conditions it does not own."""
        existing = existing or {}
        conditions = []
        for type_, (value, reason, message) in self._condition_values().items():
            condition: dict[str, Any] = {
                "type": type_,
                "status": value,
                "lastProbeTime": None,
                "lastTransitionTime": to_time(self._conditions[type_][1]),
            }
            if reason:
                condition["reason"] = reason
            if message:
                condition["message"] = message
            conditions.append(condition)
        conditions.extend(
            c for c in existing.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS
        )
        ip = self.ctx.pod_ip
        status: dict[str, Any] = {
            key: value
            for key, value in existing.items()
            if key not in ("phase", "conditions", "containerStatuses")
        }
        status.update(
            {
                "phase": self.phase(),
                "conditions": conditions,
                "hostIP": HOST_IP,
                "hostIPs": [{"ip": HOST_IP}],
                "podIP": ip,
                "podIPs": [{"ip": ip}],
                "startTime": to_time(self.admitted_at),
                "containerStatuses": [c.status(self.now, to_time) for c in self.containers],
            }
        )
        status.setdefault("qosClass", self.qos)
        return status


def _no_time(_: float) -> str:
    return ""


# --------------------------------------------------------------------------- the kubelet


@dataclass
class _PodHandle:
    sim: PodSim
    namespace: str
    name: str
    uid: str
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    last_status: dict[str, Any] | None = None


class Kubelet:
    """Runs the pods bound to one node: watches Pods in the store, simulates their
    containers, writes their status through the status subresource and records Events."""

    def __init__(self, store: Store, clock: Clock, node_name: str = NODE_NAME) -> None:
        self.store = store
        self.clock = clock
        self.node = NodeState(name=node_name)
        self.recorder = EventRecorder(store, clock, "kubelet", node_name)
        self.pods: dict[str, _PodHandle] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        if hasattr(self.store, "graceful_pod_deletion"):
            self.store.graceful_pod_deletion = True
        self.store.pod_logs = self
        self._register_node()
        self._stopping = False
        self._task = asyncio.create_task(self._watch_pods(), name="sim-kubelet")

    async def stop(self) -> None:
        self._stopping = True
        if self.store.pod_logs is self:
            self.store.pod_logs = None
        tasks = [h.task for h in self.pods.values() if h.task is not None]
        if self._task is not None:
            tasks.append(self._task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.pods.clear()
        self._task = None

    # -- logs (logs.LogSource) --------------------------------------------------------------

    def container_log(self, pod_uid: str, container_id: str) -> ContainerLog | None:
        """The log of a container instance of a pod on this node, up to now."""
        handle = self.pods.get(pod_uid)
        if handle is None:
            return None
        now = self.clock.monotonic()
        handle.sim.advance(now)
        handle.wake.set()  # what advancing found is written by the pod's own task
        for container in handle.sim.containers:
            log = container.log_of(container_id, now)
            if log is not None:
                return log
        return None

    def monotonic(self) -> float:
        return self.clock.monotonic()

    def to_datetime(self, moment: float) -> datetime:
        return self.clock.to_datetime(moment)

    async def sleep(self, seconds: float) -> None:
        await self.clock.sleep(seconds)

    def pod_sim(self, namespace: str, name: str) -> PodSim | None:
        """The simulation of a pod, for tests and the demo."""
        for handle in self.pods.values():
            if (handle.namespace, handle.name) == (namespace, name):
                return handle.sim
        return None

    # -- node -----------------------------------------------------------------------------

    def _register_node(self) -> None:
        rt = self.store.resource("nodes")
        name = self.node.name
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "node-role.kubernetes.io/control-plane": "",
        }
        try:
            node = self.store.get(rt, None, name)
        except ApiError:
            node = self.store.create(
                rt,
                {
                    "metadata": {"name": name, "labels": labels},
                    "spec": {"podCIDR": "10.244.0.0/16"},
                },
                field_manager="kubelet",
            )
        now = rfc3339(self.clock.now())
        capacity = dict(NODE_CAPACITY)
        node["status"] = {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
            ],
            "addresses": [
                {"type": "InternalIP", "address": HOST_IP},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.37.0-sim",
                "kubeProxyVersion": "v1.37.0-sim",
                "containerRuntimeVersion": "containerd://sim",
                "osImage": "tend sim (Debian GNU/Linux 13)",
                "kernelVersion": "6.12.0-sim",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }
        try:
            self.store.update(rt, node, subresource="status", field_manager="kubelet")
        except ApiError as exc:
            log.warning("could not write the status of node %s: %s", name, exc)

    # -- pods -----------------------------------------------------------------------------

    async def _watch_pods(self) -> None:
        rt = self.store.resource("pods")
        while not self._stopping:
            watch = self.store.watch(rt)
            async for type_, pod in watch:
                try:
                    self._on_pod(type_, pod)
                except Exception:  # one bad pod must not stop the node
                    log.exception("kubelet failed to handle pod event")
            # The watch closed (store restarted or overflowed): list again and carry on.
            await asyncio.sleep(0)

    def _on_pod(self, type_: str, pod: dict[str, Any]) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        uid = meta.get("uid", "")
        handle = self.pods.get(uid)
        if type_ == "DELETED":
            if handle is not None:
                self._forget(handle)
            return
        if spec.get("nodeName") != self.node.name:
            return
        if handle is None:
            phase = (pod.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed") and not meta.get("deletionTimestamp"):
                return  # finished before this kubelet started: nothing to run
            lookup = self._lookup(meta.get("namespace", ""))
            sim = PodSim(pod, self.node, self.clock.monotonic(), lookup)
            handle = _PodHandle(sim, meta.get("namespace", ""), meta["name"], uid)
            self.pods[uid] = handle
            handle.task = asyncio.create_task(self._run_pod(handle), name=f"pod/{meta['name']}")
        if meta.get("deletionTimestamp") and handle.sim.deleting_since is None:
            grace = meta.get("deletionGracePeriodSeconds")
            handle.sim.delete(self.clock.monotonic(), None if grace is None else float(grace))
            handle.wake.set()

    def _lookup(self, namespace: str) -> Lookup:
        """Secrets and ConfigMaps of `namespace`, read from the store when a container starts."""

        def get(resource: str, name: str) -> dict[str, Any] | None:
            try:
                return self.store.get(self.store.resource(resource), namespace, name)
            except ApiError as exc:
                if exc.code == 404:
                    return None
                raise

        return get

    def _forget(self, handle: _PodHandle) -> None:
        self.pods.pop(handle.uid, None)
        self.node.container_backoff.forget(f"{handle.name}_{handle.namespace}_{handle.uid}_")
        self.node.image_backoff.forget(f"{handle.uid}_")
        if handle.task is not None and handle.task is not asyncio.current_task():
            handle.task.cancel()

    async def _run_pod(self, handle: _PodHandle) -> None:
        try:
            while True:
                now = self.clock.monotonic()
                handle.sim.advance(now)
                if not self._sync(handle):
                    return
                if handle.sim.gone:
                    self._remove(handle)
                    return
                due = handle.sim.next_due()
                await self._sleep_or_wake(handle, None if due is None else due - now)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("kubelet: pod %s/%s failed", handle.namespace, handle.name)

    async def _sleep_or_wake(self, handle: _PodHandle, delay: float | None) -> None:
        if handle.wake.is_set():
            handle.wake.clear()
            return
        waiter = asyncio.ensure_future(handle.wake.wait())
        waits: set[asyncio.Future[Any]] = {waiter}
        if delay is not None:
            waits.add(asyncio.ensure_future(self.clock.sleep(max(0.0, delay))))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in waits:
                future.cancel()
        handle.wake.clear()

    def _sync(self, handle: _PodHandle) -> bool:
        """Record Events and write the status if it changed; False when the pod is gone."""
        rt = self.store.resource("pods")
        try:
            pod = self.store.get(rt, handle.namespace, handle.name)
        except ApiError:
            self._forget(handle)
            return False
        if pod["metadata"].get("uid") != handle.uid:
            self._forget(handle)
            return False
        for event in handle.sim.take_events():
            self.recorder.record(
                pod,
                event.type,
                event.reason,
                event.message,
                field_path=event.field_path,
                at=event.at,
            )
        status = handle.sim.status(pod.get("status"), self._time)
        if status != pod.get("status"):
            pod["status"] = status
            try:
                self.store.update(rt, pod, subresource="status", field_manager="kubelet")
            except ApiError as exc:
                log.warning("kubelet: status of %s/%s: %s", handle.namespace, handle.name, exc)
        handle.last_status = status
        return True

    def _remove(self, handle: _PodHandle) -> None:
        rt = self.store.resource("pods")
        with contextlib.suppress(ApiError):
            self.store.delete(
                rt,
                handle.namespace,
                handle.name,
                grace_period_seconds=0,
                preconditions={"uid": handle.uid},
            )
        self._forget(handle)

    def _time(self, moment: float) -> str:
        return rfc3339(self.clock.to_datetime(moment))
