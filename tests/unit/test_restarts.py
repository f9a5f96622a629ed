"""Restart accounting: each restart counted once, classified, and weighed against the budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tend.logic.pods import ContainerView, PodView, Termination
from tend.logic.restarts import RestartSettings, account, classify, format_seconds, holding

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BUDGET = RestartSettings(max_restarts=2, window=400.0, min_uptime=10.0)


def ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def run(start: float, end: float, code: int = 3, reason: str = "Error", n: int = 0) -> Termination:
    return Termination(code, reason, "boom", ts(start), ts(end), f"containerd://{n}")


def pod(*containers: ContainerView, uid: str = "u1", deleting: bool = False) -> PodView:
    return PodView("shop", f"api-{uid}", uid, ("shop", "api"), "1", "Running", deleting, None,
                   containers)  # fmt: skip


def crashing(restarts: int, last: Termination | None, **state: Any) -> ContainerView:
    return ContainerView("main", restarts, False, last=last, **state)


@pytest.mark.parametrize(
    ("ended", "settings_", "reason", "message"),
    [
        (run(0, 1), BUDGET, "CrashLoop", "exit 3 after 1s: boom"),
        (run(0, 60), BUDGET, "ExitCode", "exit 3 after 60s: boom"),
        (run(0, 30, 137, "OOMKilled"), BUDGET, "OOMKilled", "OOMKilled: exit 137 after 30s: boom"),
        (
            run(0, 30, 137),
            RestartSettings(2, 400.0, 10.0, probe_kills=True),
            "ProbeFailed",
            "killed by a failing probe: exit 137 after 30s: boom",
        ),
        (run(0, 30, 137), BUDGET, "ExitCode", "exit 137 after 30s: boom"),  # no probe: not ours
    ],
    ids=["short-run", "long-run", "oom", "probe-kill", "sigkill-without-probe"],
)
def test_each_ended_run_is_classified(
    ended: Termination, settings_: RestartSettings, reason: str, message: str
) -> None:
    assert classify(ended, settings_) == (reason, message)


def test_a_restart_seen_twice_is_counted_once() -> None:
    view = [pod(crashing(0, run(0, 1), waiting=("CrashLoopBackOff", "back-off 10s")))]
    first = account(None, None, view, BUDGET, T0 + timedelta(seconds=2))
    assert first.restarts["total"] == 1
    assert [(f.reason, f.exit_code) for f in first.new] == [("CrashLoop", 3)]
    assert first.problem is not None and first.problem.reason == "CrashLoop"
    again = account(first.restarts, first.recent_failures, view, BUDGET, T0 + timedelta(seconds=3))
    assert again.new == []
    assert again.restarts["total"] == 1
    assert again.recent_failures == first.recent_failures


def test_the_restart_after_max_restarts_exhausts_the_budget() -> None:
    status: dict[str, Any] | None = None
    failures: list[dict[str, Any]] | None = None
    exhausted = []
    for n in range(4):
        ended = run(n * 20, n * 20 + 1, n=n)
        view = [pod(crashing(n, ended, waiting=("CrashLoopBackOff", "")))]
        counted = account(status, failures, view, BUDGET, T0 + timedelta(seconds=n * 20 + 2))
        status, failures = counted.restarts, counted.recent_failures
        exhausted.append((counted.restarts["total"], counted.exhausted))
    assert exhausted == [(1, False), (2, False), (3, True), (4, True)]
    assert status is not None
    assert status["budgetRemaining"] == 0 and status["inWindow"] == 3  # capped at max+1


def test_restarts_spaced_beyond_the_window_never_exhaust_it() -> None:
    status: dict[str, Any] | None = None
    for n in range(6):
        ended = run(n * 500, n * 500 + 1, n=n)
        view = [pod(crashing(n, ended, waiting=("CrashLoopBackOff", "")))]
        counted = account(status, None, view, BUDGET, T0 + timedelta(seconds=n * 500 + 2))
        status = counted.restarts
        assert not counted.exhausted
    assert status is not None and status["total"] == 6 and status["inWindow"] == 1


def test_restarts_missed_while_tend_was_away_are_added_from_restart_count() -> None:
    # tend last saw the first crash; the kubelet has restarted the container 4 times since.
    backoff = ("CrashLoopBackOff", "back-off 10s")
    first = account(None, None, [pod(crashing(0, run(0, 1, n=0), waiting=backoff))], BUDGET, T0)
    assert first.restarts["total"] == 1
    up = ContainerView("main", 4, True, running_since=ts(82), last=run(80, 81, n=3))
    later = account(
        first.restarts, first.recent_failures, [pod(up)], BUDGET, T0 + timedelta(seconds=99)
    )
    assert later.restarts["total"] == 4  # four ended runs: the one seen, two missed, the last
    assert later.restarts["byReason"] == {"CrashLoop": 4}  # by reason, counted as often
    assert [f.exit_code for f in later.new] == [None, None, 3]
    assert "2 restart(s) while tend was not watching" in later.new[0].message


def test_a_replacement_pod_starts_from_nothing_and_the_gone_pod_is_forgotten() -> None:
    backoff = ("CrashLoopBackOff", "")
    old_pod = pod(crashing(1, run(0, 1, n=1), waiting=backoff), uid="u1")
    old = account(None, None, [old_pod], BUDGET, T0)
    assert old.restarts["total"] == 2  # restartCount 1, and the newest run has ended too
    new_pod = pod(crashing(0, run(5, 6, n=9), waiting=backoff), uid="u2")
    new = account(old.restarts, old.recent_failures, [new_pod], BUDGET, T0)
    assert new.restarts["total"] == 3  # neither reset nor counted again
    assert [mark["container"] for mark in new.restarts["counted"]] == ["u2/main"]


def test_a_pod_stopped_for_deletion_is_not_a_failure() -> None:
    stopping = ContainerView("main", 0, False, terminated=run(0, 100, 143))
    counted = account(None, None, [pod(stopping, deleting=True)], BUDGET, T0)
    assert counted.restarts["total"] == 0


def test_a_job_that_exits_zero_has_not_failed() -> None:
    job = RestartSettings(2, 400.0, 10.0, restarts_on_success=False)
    oom = ContainerView(
        "main", 1, False, terminated=run(9, 30, 137, "OOMKilled"), last=run(0, 3, 1)
    )
    by_reason = account(None, None, [pod(oom)], job, T0).restarts["byReason"]
    assert by_reason == {"CrashLoop": 1, "OOMKilled": 1}  # 3s < minUptime: CrashLoop
    done = ContainerView("main", 0, False, terminated=run(0, 3, 0, "Completed"))
    failed = ContainerView("main", 0, False, terminated=run(0, 3, 1))
    assert account(None, None, [pod(done)], job, T0).restarts["total"] == 0
    assert account(None, None, [pod(failed)], job, T0).restarts["total"] == 1


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ({"waiting": ("ImagePullBackOff", "Back-off pulling image")}, "ImagePullFailed"),
        ({"waiting": ("ErrImagePull", "not found")}, "ImagePullFailed"),
        ({"waiting": ("CreateContainerConfigError", 'secret "db" not found')}, "ConfigError"),
    ],
)
def test_states_that_are_not_restarts_are_the_current_problem(
    state: dict[str, Any], reason: str
) -> None:
    counted = account(None, None, [pod(ContainerView("main", **state))], BUDGET, T0)
    assert counted.problem is not None and counted.problem.reason == reason
    assert counted.restarts["total"] == 0


def test_an_unschedulable_pod_says_what_the_scheduler_said() -> None:
    stuck = PodView("shop", "api-1", "u1", ("shop", "api"), unschedulable="0/3 nodes available")
    counted = account(None, None, [stuck], BUDGET, T0)
    assert counted.problem is not None
    assert (counted.problem.reason, counted.problem.message) == (
        "Unschedulable",
        "pod api-1: 0/3 nodes available",
    )


def test_a_run_that_lasts_min_uptime_resets_the_consecutive_count_not_the_window() -> None:
    backoff = ("CrashLoopBackOff", "")
    crashes = account(None, None, [pod(crashing(1, run(0, 1, n=1), waiting=backoff))], BUDGET, T0)
    assert crashes.restarts["consecutive"] == 2
    up = ContainerView("main", 2, True, running_since=ts(5), last=run(3, 4, n=2))
    later = account(crashes.restarts, None, [pod(up)], BUDGET, T0 + timedelta(seconds=30))
    assert later.restarts["consecutive"] == 0  # up for 25s >= minUptime 10s (PM2)
    assert later.restarts["inWindow"] == 3  # systemd's window still holds every restart
    soon = account(crashes.restarts, None, [pod(up)], BUDGET, T0 + timedelta(seconds=8))
    assert soon.restarts["consecutive"] == 3
    assert soon.recheck_in == pytest.approx(7.0)  # when it will have lasted minUptime


# --- a property: the accounting agrees with a tiny reference model ---------------------------


@settings(max_examples=150, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=1, max_value=900), min_size=1, max_size=25),
    looks=st.lists(st.booleans(), min_size=25, max_size=25),
    max_restarts=st.integers(min_value=0, max_value=5),
    window=st.integers(min_value=1, max_value=1200),
)
def test_accounting_matches_a_reference_model(
    gaps: list[int], looks: list[bool], max_restarts: int, window: int
) -> None:
    """Crashes at random times; tend looks after some of them (an operator restart between
    looks loses nothing but its memory: only the status carries over). Every look must
    report the true total, and exhaustion exactly when more than maxRestarts crashes fall in
    the window that ends at the look."""
    budget = RestartSettings(max_restarts=max_restarts, window=float(window), min_uptime=10.0)
    known: list[int] = []  # when tend places each crash: when it happened, or when it learnt
    unseen = 0
    clock = 0
    status: dict[str, Any] | None = None
    for index, gap in enumerate(gaps):
        clock += gap
        unseen += 1
        if not looks[index] and index != len(gaps) - 1:
            continue  # tend did not look (down, or busy): the kubelet went on
        ended = run(clock - 1, clock, n=index)
        view = [pod(crashing(index, ended, waiting=("CrashLoopBackOff", "")))]
        counted = account(status, None, view, budget, T0 + timedelta(seconds=clock))
        status = counted.restarts
        known += [clock] * unseen  # the newest at its finishedAt, those missed at "now"
        unseen = 0
        assert status["total"] == index + 1 == len(known)
        in_window = [t for t in known if t > clock - window]
        assert counted.exhausted == (len(in_window) > max_restarts)
        assert status["inWindow"] == min(len(in_window), max_restarts + 1)


# --- odd but valid budgets: accepted deliberately, each does what it says ---------------------


def crash_at(n: int, seconds: float) -> list[PodView]:
    ended = run(seconds - 1, seconds, n=n)
    return [pod(crashing(n, ended, waiting=("CrashLoopBackOff", "")))]


def test_max_restarts_zero_is_exhausted_by_the_first_restart() -> None:
    budget = RestartSettings(max_restarts=0, window=400.0, min_uptime=10.0)
    counted = account(None, None, crash_at(0, 5), budget, T0 + timedelta(seconds=6))
    assert counted.exhausted and counted.restarts["budgetRemaining"] == 0


def test_a_one_second_window_only_counts_restarts_within_a_second() -> None:
    budget = RestartSettings(max_restarts=1, window=1.0, min_uptime=10.0)
    first = account(None, None, crash_at(0, 5), budget, T0 + timedelta(seconds=5))
    second = account(first.restarts, None, crash_at(1, 15), budget, T0 + timedelta(seconds=15))
    assert not second.exhausted and second.restarts["inWindow"] == 1


def test_min_uptime_longer_than_the_window_is_allowed() -> None:
    # Every run shorter than an hour is a CrashLoop; the budget still counts per minute.
    budget = RestartSettings(max_restarts=5, window=60.0, min_uptime=3600.0)
    counted = account(None, None, crash_at(0, 600), budget, T0 + timedelta(seconds=601))
    assert counted.new[0].reason == "CrashLoop" and not counted.exhausted


@pytest.mark.parametrize("token", ["", "yes", "💥 not a number", "2026-12-01T00:00:00Z", "x" * 500])
def test_any_reset_annotation_value_is_a_token_compared_never_parsed(token: str) -> None:
    hold = {"action": "ScaleToZero", "since": ts(0), "generation": 1, "reset": ""}
    assert holding({"hold": hold}, 1, token) == (None if token else "ScaleToZero")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.25, "250ms"), (1, "1s"), (2.5, "2.5s"), (60, "60s"), (400, "400s"), (600, "10m")],
)
def test_durations_in_messages_read_like_the_spec(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


def test_a_termination_message_from_the_log_tail_keeps_its_last_line() -> None:
    from tend.logic.pods import pod_view

    tail = "starting\nready: serving requests\nfatal: sim/crash exits with code 3\n"
    body = {
        "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
        "status": {
            "containerStatuses": [
                {
                    "name": "main",
                    "restartCount": 1,
                    "state": {"running": {}},
                    "lastState": {"terminated": {"exitCode": 3, "message": tail}},
                }
            ]
        },
    }
    container = pod_view(body).containers[0]
    assert container.last is not None
    assert container.last.message == "fatal: sim/crash exits with code 3"
