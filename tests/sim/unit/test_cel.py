"""CEL as the API server evaluates x-kubernetes-validations (tend_sim.cel)."""

from __future__ import annotations

from typing import Any

import pytest

from tend_sim.cel import (
    ABSENT,
    CelCompileError,
    CelError,
    Duration,
    compile_expression,
    evaluate,
    parse_go_duration,
)

SELF = {
    "name": "api",
    "replicas": 2,
    "ports": [{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}],
    "labels": {"app": "api", "tier": "web"},
    "probe": {"http": {"path": "/"}},
    "grace": "1m30s",
    "delay": "5s",
}


def ev(rule: str, **env: Any) -> Any:
    env.setdefault("self", SELF)
    return evaluate(rule, **env)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("has(self.probe.http)", True),
        ("has(self.probe.tcp)", False),
        ("[has(self.probe.http), has(self.probe.exec)].filter(x, x).size() == 1", True),
        ("self.ports.all(p, self.ports.exists_one(q, q.name == p.name))", True),
        ("self.ports.exists(p, p.port == 9090)", True),
        ("self.ports.map(p, p.name).join(',') == 'http,metrics'", True),
        ("self.labels.all(k, k.lowerAscii() == k)", True),
        ("'tier' in self.labels && self.labels['tier'] == 'web'", True),
        ("size(self.ports) == 2 && self.ports.size() == 2", True),
        ("duration(self.delay) < duration(self.grace)", True),
        ("self.name.startsWith('a') && self.name.endsWith('i') && self.name.contains('p')", True),
        ("self.name.matches('^[a-z]+$')", True),
        ("self.name.upperAscii() == 'API' && ' x '.trim() == 'x'", True),
        ("'a,b'.split(',') == ['a', 'b'] && 'abc'.indexOf('c') == 2", True),
        ("[1, 2, 3].isSorted() && [3, 1].sum() == 4 && [4, 2].min() == 2", True),
        ("self.replicas > 1 ? 'many' : 'one'", "many"),
        ("-7 / 2 == -3 && -7 % 2 == -1", True),
        ("1 == 1.0 && 2 > 1.5", True),
        (
            "timestamp('2024-01-01T00:00:00Z') + duration('1h')"
            " > timestamp('2024-01-01T00:30:00Z')",
            True,
        ),
        ("string(self.replicas) + 'x' == '2x' && int('7') == 7", True),
    ],
)
def test_expressions_evaluate_like_kubernetes_cel(rule: str, expected: Any) -> None:
    assert ev(rule) == expected


def test_selecting_an_absent_field_is_an_error_not_false() -> None:
    with pytest.raises(CelError, match="no such key: missing"):
        ev("self.missing == 1")


def test_or_and_absorb_errors_when_the_other_side_decides() -> None:
    assert ev("self.missing == 1 || true") is True
    assert ev("true || self.missing == 1") is True
    assert ev("self.missing == 1 && false") is False
    with pytest.raises(CelError):
        ev("self.missing == 1 || false")


def test_negated_has_short_circuits_a_guarded_access() -> None:
    assert ev("!has(self.restartPolicy) || self.restartPolicy.policy == 'Always'") is True


def test_int64_overflow_and_division_by_zero_are_errors() -> None:
    with pytest.raises(CelError, match="overflow"):
        ev("9223372036854775807 + 1 > 0")
    with pytest.raises(CelError, match="division by zero"):
        ev("1 / 0 == 0")


def test_bools_never_equal_numbers() -> None:
    assert ev("true == 1") is False


def test_old_self_is_bound_for_transition_rules() -> None:
    assert evaluate("self.replicas >= oldSelf.replicas", self=SELF, oldSelf={"replicas": 1})
    with pytest.raises(CelError):
        evaluate("self == oldSelf", self=1, oldSelf=ABSENT)


def test_unknown_function_or_bad_syntax_does_not_compile() -> None:
    with pytest.raises(CelCompileError):
        compile_expression("self.name.frobnicate()")
    with pytest.raises(CelCompileError):
        compile_expression("self.name ==")
    with pytest.raises(CelCompileError):
        compile_expression("has(self)")


def test_compiled_expressions_are_cached() -> None:
    assert compile_expression("self.x == 1") is compile_expression("self.x == 1")


def test_go_durations_parse_with_mixed_units() -> None:
    assert parse_go_duration("1h30m") == Duration(5400 * 10**9)
    assert parse_go_duration("500ms") == Duration(5 * 10**8)
    assert parse_go_duration("-1.5s") == Duration(-15 * 10**8)
    with pytest.raises(CelError):
        parse_go_duration("ten seconds")
