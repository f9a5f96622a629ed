"""CEL for `x-kubernetes-validations`, with the semantics the Kubernetes API server gives it.

Expressions are parsed with cel-python's grammar (`celpy.celparser`) and compiled once into
Python closures that work directly on JSON values (dict, list, str, int, float, bool, None):
no conversion of the object per rule, so thousands of objects validate quickly.

What is covered: literals, `self`/`oldSelf`, field selection and `has()` (absent field = error /
false), indexing, `in`, arithmetic with int64 overflow checks, comparisons, `&&`/`||` that absorb
errors like CEL's commutative logic, `?:`, the macros `all`, `exists`, `exists_one`, `map`,
`filter`, `size()`, the string functions (`contains`, `startsWith`, `endsWith`, `matches`) and the
Kubernetes string/list libraries (`lowerAscii`, `upperAscii`, `trim`, `split`, `join`, `replace`,
`indexOf`, `lastIndexOf`, `substring`, `charAt`, `isSorted`, `sum`, `min`, `max`), `duration()`,
`timestamp()`, conversions (`int`, `uint`, `double`, `string`, `bool`, `dyn`).
Not covered: static type checking, cost budgets, optionals, `quantity()`/`url()`.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from celpy.celparser import CELParseError, CELParser
from lark import Token, Tree

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

Env = dict[str, Any]
Expr = Callable[[Env], Any]


class CelError(Exception):
    """A runtime error of a CEL expression (`no such key: x`, `division by zero`, ...)."""


class CelCompileError(Exception):
    """A rule that does not compile: in a real cluster the CRD itself is refused."""


class _Absent:
    """Marker for `oldSelf` when there is no old value."""


ABSENT = _Absent()


@dataclass(frozen=True, order=True)
class Duration:
    """A CEL `google.protobuf.Duration`, in nanoseconds."""

    nanos: int

    def __str__(self) -> str:
        seconds = self.nanos / 1e9
        return f"{seconds:g}s"


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_NANOS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_go_duration(text: str) -> Duration:
    """Go `time.ParseDuration` syntax, as CEL's `duration()` accepts it."""
    s = text
    sign = 1
    if s[:1] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return Duration(0)
    if not s:
        raise CelError(f'invalid duration "{text}"')
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m:
            raise CelError(f'invalid duration "{text}"')
        total += float(m.group(1)) * _UNIT_NANOS[m.group(2)]
        pos = m.end()
    return Duration(sign * round(total))


def parse_timestamp(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise CelError(f'invalid timestamp "{text}"') from exc
    if value.tzinfo is None:
        raise CelError(f'invalid timestamp "{text}"')
    return value


# --- values -------------------------------------------------------------------------------------


def _type_name(v: Any) -> str:
    if v is None:
        return "null_type"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "double"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bytes):
        return "bytes"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "map"
    if isinstance(v, Duration):
        return "google.protobuf.Duration"
    if isinstance(v, datetime):
        return "google.protobuf.Timestamp"
    return type(v).__name__


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def cel_equal(a: Any, b: Any) -> bool:
    """Heterogeneous equality: numbers compare by value, bools never equal numbers."""
    if _is_num(a) and _is_num(b):
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(cel_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(cel_equal(a[k], b[k]) for k in a)
    if type(a) is not type(b):
        return False
    return bool(a == b)


def _compare(a: Any, b: Any) -> int:
    if (_is_num(a) and _is_num(b)) or (
        type(a) is type(b) and isinstance(a, str | bytes | bool | Duration | datetime)
    ):
        return int(a > b) - int(a < b)
    raise CelError(f"no such overload: {_type_name(a)} < {_type_name(b)}")


def _check_int(v: int) -> int:
    if v < INT64_MIN or v > INT64_MAX:
        raise CelError("integer overflow")
    return v


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, bool) or isinstance(b, bool):
        raise CelError("no such overload: bool + bool")
    if isinstance(a, int) and isinstance(b, int):
        return _check_int(a + b)
    if isinstance(a, float) and isinstance(b, float):
        return a + b
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, list) and isinstance(b, list):
        return a + b
    if isinstance(a, Duration) and isinstance(b, Duration):
        return Duration(a.nanos + b.nanos)
    if isinstance(a, datetime) and isinstance(b, Duration):
        return a + timedelta(microseconds=b.nanos / 1000)
    if isinstance(a, Duration) and isinstance(b, datetime):
        return b + timedelta(microseconds=a.nanos / 1000)
    raise CelError(f"no such overload: {_type_name(a)} + {_type_name(b)}")


def _sub(a: Any, b: Any) -> Any:
    if isinstance(a, bool) or isinstance(b, bool):
        raise CelError("no such overload: bool - bool")
    if isinstance(a, int) and isinstance(b, int):
        return _check_int(a - b)
    if isinstance(a, float) and isinstance(b, float):
        return a - b
    if isinstance(a, Duration) and isinstance(b, Duration):
        return Duration(a.nanos - b.nanos)
    if isinstance(a, datetime) and isinstance(b, datetime):
        delta = a - b
        return Duration(
            (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
        )
    if isinstance(a, datetime) and isinstance(b, Duration):
        return a - timedelta(microseconds=b.nanos / 1000)
    raise CelError(f"no such overload: {_type_name(a)} - {_type_name(b)}")


def _mul(a: Any, b: Any) -> Any:
    if isinstance(a, bool) or isinstance(b, bool):
        raise CelError("no such overload: bool * bool")
    if isinstance(a, int) and isinstance(b, int):
        return _check_int(a * b)
    if isinstance(a, float) and isinstance(b, float):
        return a * b
    raise CelError(f"no such overload: {_type_name(a)} * {_type_name(b)}")


def _div(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool):
        if b == 0:
            raise CelError("division by zero")
        q = abs(a) // abs(b)
        return _check_int(q if (a >= 0) == (b >= 0) else -q)
    if isinstance(a, float) and isinstance(b, float):
        if b == 0:
            return math.copysign(math.inf, a) if a else math.nan
        return a / b
    raise CelError(f"no such overload: {_type_name(a)} / {_type_name(b)}")


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool):
        if b == 0:
            raise CelError("modulus by zero")
        r = abs(a) % abs(b)
        return r if a >= 0 else -r
    raise CelError(f"no such overload: {_type_name(a)} % {_type_name(b)}")


def _size(v: Any) -> int:
    if isinstance(v, str | list | dict | bytes):
        return len(v)
    raise CelError(f"no such overload: size({_type_name(v)})")


def _select(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        if name in obj:
            return obj[name]
        raise CelError(f"no such key: {name}")
    if isinstance(obj, Duration | datetime):
        raise CelError(f"no such overload: {_type_name(obj)}.{name}")
    raise CelError(f"no such key: {name}")


def _index(obj: Any, key: Any) -> Any:
    if isinstance(obj, list):
        if _is_num(key) and key == int(key):
            i = int(key)
            if 0 <= i < len(obj):
                return obj[i]
            raise CelError(f"index out of bounds: {i}")
        raise CelError(f"no such overload: list[{_type_name(key)}]")
    if isinstance(obj, dict):
        if key in obj and not isinstance(key, bool):
            return obj[key]
        raise CelError(f"no such key: {key}")
    raise CelError(f"no such overload: {_type_name(obj)}[{_type_name(key)}]")


def _in(item: Any, container: Any) -> bool:
    if isinstance(container, list):
        return any(cel_equal(item, x) for x in container)
    if isinstance(container, dict):
        return any(cel_equal(item, k) for k in container)
    raise CelError(f"no such overload: {_type_name(item)} in {_type_name(container)}")


def _truth(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    raise CelError(f"no such overload: expected bool, got {_type_name(v)}")


def _to_string(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, Duration):
        return str(v)
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, bytes):
        return v.decode()
    raise CelError(f"no such overload: string({_type_name(v)})")


def _to_int(v: Any) -> int:
    if isinstance(v, bool):
        raise CelError("no such overload: int(bool)")
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            raise CelError("integer overflow")
        return _check_int(int(v))
    if isinstance(v, str):
        try:
            return _check_int(int(v))
        except ValueError as exc:
            raise CelError(f"cannot convert {v!r} to int") from exc
    if isinstance(v, datetime):
        return int(v.timestamp())
    if isinstance(v, Duration):
        return v.nanos // 1_000_000_000
    raise CelError(f"no such overload: int({_type_name(v)})")


def _to_double(v: Any) -> float:
    if _is_num(v):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError as exc:
            raise CelError(f"cannot convert {v!r} to double") from exc
    raise CelError(f"no such overload: double({_type_name(v)})")


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        if v in ("true", "True", "TRUE", "t", "1"):
            return True
        if v in ("false", "False", "FALSE", "f", "0"):
            return False
    raise CelError(f"no such overload: bool({_type_name(v)})")


def _need(v: Any, kind: type | tuple[type, ...], fn: str) -> Any:
    if not isinstance(v, kind) or (isinstance(v, bool) and kind is int):
        raise CelError(f"no such overload: {fn}({_type_name(v)})")
    return v


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise CelError(f"invalid regex {pattern!r}: {exc}") from exc


def _is_sorted(v: list[Any]) -> bool:
    return all(_compare(a, b) <= 0 for a, b in itertools.pairwise(v))


def _list_sum(v: list[Any]) -> Any:
    if not v:
        return 0
    total = v[0]
    for x in v[1:]:
        total = _add(total, x)
    return total


def _list_extreme(v: list[Any], sign: int, fn: str) -> Any:
    if not v:
        raise CelError(f"{fn}(list) called on an empty list")
    best = v[0]
    for x in v[1:]:
        if _compare(x, best) * sign > 0:
            best = x
    return best


def _index_of(target: Any, item: Any, last: bool) -> int:
    if isinstance(target, str):
        _need(item, str, "indexOf")
        return target.rfind(item) if last else target.find(item)
    if isinstance(target, list):
        idx = range(len(target) - 1, -1, -1) if last else range(len(target))
        for i in idx:
            if cel_equal(target[i], item):
                return i
        return -1
    raise CelError(f"no such overload: {_type_name(target)}.indexOf")


def _substring(s: str, start: int, end: int | None = None) -> str:
    end = len(s) if end is None else end
    if start < 0 or end > len(s) or start > end:
        raise CelError(f"index out of range: {start}, {end}")
    return s[start:end]


def _duration_part(v: Any, unit: int) -> int:
    d = _need(v, Duration, "duration accessor")
    return int(d.nanos / unit)


# Methods: receiver first.
_METHODS: dict[str, Callable[..., Any]] = {
    "contains": lambda s, x: _need(s, str, "contains").find(_need(x, str, "contains")) >= 0,
    "startsWith": lambda s, x: _need(s, str, "startsWith").startswith(_need(x, str, "startsWith")),
    "endsWith": lambda s, x: _need(s, str, "endsWith").endswith(_need(x, str, "endsWith")),
    "matches": lambda s, p: (
        _regex(_need(p, str, "matches")).search(_need(s, str, "matches")) is not None
    ),
    "size": lambda s: _size(s),
    "lowerAscii": lambda s: "".join(
        c.lower() if c.isascii() else c for c in _need(s, str, "lowerAscii")
    ),
    "upperAscii": lambda s: "".join(
        c.upper() if c.isascii() else c for c in _need(s, str, "upperAscii")
    ),
    "trim": lambda s: _need(s, str, "trim").strip(),
    "split": lambda s, sep, n=None: (
        (_need(s, str, "split").split(sep) if n is None or n < 0 else s.split(sep, n - 1))
        if n != 0
        else []
    ),
    "join": lambda v, sep="": _need(sep, str, "join").join(
        _need(x, str, "join") for x in _need(v, list, "join")
    ),
    "replace": lambda s, a, b, n=-1: _need(s, str, "replace").replace(a, b, n),
    "indexOf": lambda t, x: _index_of(t, x, last=False),
    "lastIndexOf": lambda t, x: _index_of(t, x, last=True),
    "substring": _substring,
    "charAt": lambda s, i: _need(s, str, "charAt")[i] if 0 <= i < len(s) else "",
    "isSorted": lambda v: _is_sorted(_need(v, list, "isSorted")),
    "sum": lambda v: _list_sum(_need(v, list, "sum")),
    "min": lambda v: _list_extreme(_need(v, list, "min"), -1, "min"),
    "max": lambda v: _list_extreme(_need(v, list, "max"), 1, "max"),
    "getHours": lambda d: _duration_part(d, 3_600_000_000_000),
    "getMinutes": lambda d: _duration_part(d, 60_000_000_000),
    "getSeconds": lambda d: _duration_part(d, 1_000_000_000),
    "getMilliseconds": lambda d: _duration_part(d, 1_000_000),
}

# Global functions.
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "size": _size,
    "int": _to_int,
    "uint": _to_int,
    "double": _to_double,
    "string": _to_string,
    "bool": _to_bool,
    "dyn": lambda v: v,
    "type": _type_name,
    "duration": lambda s: parse_go_duration(_need(s, str, "duration")),
    "timestamp": lambda s: parse_timestamp(_need(s, str, "timestamp")),
    "matches": lambda s, p: _METHODS["matches"](s, p),
}

_MACROS = {"all", "exists", "exists_one", "map", "filter"}


# --- compiler -----------------------------------------------------------------------------------


def _unquote(text: str) -> str | bytes:
    raw = False
    is_bytes = False
    while text[0] in "rRbB":
        if text[0] in "rR":
            raw = True
        else:
            is_bytes = True
        text = text[1:]
    quote = text[:3] if text[:3] in ('"""', "'''") else text[0]
    body = text[len(quote) : -len(quote)]
    if not raw:
        body = body.encode("latin-1", "backslashreplace").decode("unicode_escape")
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            body = body.encode("latin-1").decode("utf-8")
    return body.encode() if is_bytes else body


def _literal(tok: Token) -> Any:
    kind, text = tok.type, str(tok)
    if kind == "INT_LIT":
        return _check_int(int(text, 16) if "0x" in text.lower() else int(text))
    if kind == "UINT_LIT":
        return int(text[:-1], 16) if "0x" in text.lower() else int(text[:-1])
    if kind == "FLOAT_LIT":
        return float(text)
    if kind in ("STRING_LIT", "MLSTRING_LIT", "BYTES_LIT"):
        return _unquote(text)
    if kind == "BOOL_LIT":
        return text == "true"
    if kind == "NULL_LIT":
        return None
    raise CelCompileError(f"unsupported literal {text}")


class _Compiler:
    def compile(self, node: Tree[Token] | Token) -> Expr:
        if isinstance(node, Token):
            raise CelCompileError(f"unexpected token {node}")
        handler = getattr(self, "_" + str(node.data), None)
        if handler is None:
            raise CelCompileError(f"unsupported syntax: {node.data}")
        result: Expr = handler(node)
        return result

    def _single(self, node: Tree[Token]) -> Expr:
        return self.compile(node.children[0])

    def _expr(self, node: Tree[Token]) -> Expr:
        if len(node.children) == 1 or node.children[1] is None:
            return self.compile(node.children[0])
        cond, yes, no = (self.compile(c) for c in node.children)

        def ternary(env: Env) -> Any:
            return yes(env) if _truth(cond(env)) else no(env)

        return ternary

    def _logic(self, node: Tree[Token], is_or: bool) -> Expr:
        if len(node.children) == 1 or node.children[0] is None:
            return self.compile(node.children[-1])
        left_node, right_node = node.children
        left, right = self.compile(left_node), self.compile(right_node)

        def logic(env: Env) -> Any:
            try:
                lv = _truth(left(env))
            except CelError as exc:
                rv = _truth(right(env))
                if rv is is_or:
                    return rv
                raise exc from None
            if lv is is_or:
                return lv
            return _truth(right(env))

        return logic

    def _conditionalor(self, node: Tree[Token]) -> Expr:
        return self._logic(node, is_or=True)

    def _conditionaland(self, node: Tree[Token]) -> Expr:
        return self._logic(node, is_or=False)

    def _binary(self, node: Tree[Token], ops: dict[str, Callable[[Any, Any], Any]]) -> Expr:
        if len(node.children) == 1 or node.children[0] is None:
            return self.compile(node.children[-1])
        op_node, right_node = node.children
        assert isinstance(op_node, Tree)
        fn = ops[str(op_node.data)]
        left = self.compile(op_node.children[0])
        right = self.compile(right_node)
        return lambda env: fn(left(env), right(env))

    def _relation(self, node: Tree[Token]) -> Expr:
        return self._binary(
            node,
            {
                "relation_lt": lambda a, b: _compare(a, b) < 0,
                "relation_le": lambda a, b: _compare(a, b) <= 0,
                "relation_gt": lambda a, b: _compare(a, b) > 0,
                "relation_ge": lambda a, b: _compare(a, b) >= 0,
                "relation_eq": cel_equal,
                "relation_ne": lambda a, b: not cel_equal(a, b),
                "relation_in": _in,
            },
        )

    def _addition(self, node: Tree[Token]) -> Expr:
        return self._binary(node, {"addition_add": _add, "addition_sub": _sub})

    def _multiplication(self, node: Tree[Token]) -> Expr:
        return self._binary(
            node,
            {"multiplication_mul": _mul, "multiplication_div": _div, "multiplication_mod": _mod},
        )

    def _unary(self, node: Tree[Token]) -> Expr:
        if len(node.children) == 1:
            return self.compile(node.children[0])
        op, operand_node = node.children
        operand = self.compile(operand_node)
        assert isinstance(op, Tree)
        if op.data == "unary_not":
            return lambda env: not _truth(operand(env))

        def negate(env: Env) -> Any:
            v = operand(env)
            if isinstance(v, int) and not isinstance(v, bool):
                return _check_int(-v)
            if isinstance(v, float):
                return -v
            if isinstance(v, Duration):
                return Duration(-v.nanos)
            raise CelError(f"no such overload: -{_type_name(v)}")

        return negate

    _member = _single
    _primary = _single
    _paren_expr = _single

    def _literal(self, node: Tree[Token]) -> Expr:
        token = node.children[0]
        assert isinstance(token, Token)
        value = _literal(token)
        return lambda env: value

    def _ident(self, node: Tree[Token]) -> Expr:
        name = str(node.children[0])

        def lookup(env: Env) -> Any:
            try:
                value = env[name]
            except KeyError:
                raise CelError(f"undeclared reference to '{name}'") from None
            if value is ABSENT:
                raise CelError(f"no such attribute: {name}")
            return value

        return lookup

    def _member_dot(self, node: Tree[Token]) -> Expr:
        target = self.compile(node.children[0])
        name = str(node.children[1])
        return lambda env: _select(target(env), name)

    def _member_index(self, node: Tree[Token]) -> Expr:
        target = self.compile(node.children[0])
        key = self.compile(node.children[1])
        return lambda env: _index(target(env), key(env))

    def _args(self, node: Tree[Token] | Token | None) -> list[Tree[Token]]:
        if not isinstance(node, Tree):
            return []
        return [c for c in node.children if isinstance(c, Tree)]

    def _list_lit(self, node: Tree[Token]) -> Expr:
        items = [self.compile(c) for c in self._args(node.children[0] if node.children else None)]
        return lambda env: [item(env) for item in items]

    def _map_lit(self, node: Tree[Token]) -> Expr:
        inits = self._args(node.children[0] if node.children else None)
        pairs = [
            (self.compile(k), self.compile(v)) for k, v in zip(inits[::2], inits[1::2], strict=True)
        ]
        return lambda env: {k(env): v(env) for k, v in pairs}

    def _ident_arg(self, node: Tree[Token]) -> Expr:
        name = str(node.children[0])
        args = self._args(node.children[1] if len(node.children) > 1 else None)
        if name == "has":
            return self._has(args)
        fn = _FUNCTIONS.get(name)
        if fn is None:
            raise CelCompileError(f"undeclared reference to '{name}'")
        compiled = [self.compile(a) for a in args]
        return lambda env: fn(*(a(env) for a in compiled))

    def _has(self, args: list[Tree[Token]]) -> Expr:
        if len(args) != 1:
            raise CelCompileError("has() takes exactly one argument")
        select = _unwrap(args[0])
        if not (isinstance(select, Tree) and select.data == "member_dot"):
            raise CelCompileError("invalid argument to has() macro")
        target = self.compile(select.children[0])
        name = str(select.children[1])

        def has(env: Env) -> bool:
            obj = target(env)
            if isinstance(obj, dict):
                return name in obj
            raise CelError(f"no such overload: has() on {_type_name(obj)}")

        return has

    def _member_dot_arg(self, node: Tree[Token]) -> Expr:
        target_node, name_tok = node.children[0], node.children[1]
        name = str(name_tok)
        args = self._args(node.children[2] if len(node.children) > 2 else None)
        target = self.compile(target_node)
        if name in _MACROS:
            return self._macro(name, target, args)
        method = _METHODS.get(name)
        if method is None:
            raise CelCompileError(f"undeclared reference to '{name}'")
        compiled = [self.compile(a) for a in args]

        def call(env: Env) -> Any:
            receiver = target(env)
            try:
                return method(receiver, *(a(env) for a in compiled))
            except (TypeError, AttributeError) as exc:
                raise CelError(f"no such overload: {_type_name(receiver)}.{name}") from exc

        return call

    def _macro(self, name: str, target: Expr, args: list[Tree[Token]]) -> Expr:
        if len(args) not in (2, 3) or (len(args) == 3 and name != "map"):
            raise CelCompileError(f"wrong number of arguments to {name}()")
        var_node = _unwrap(args[0])
        if not (isinstance(var_node, Tree) and var_node.data == "ident"):
            raise CelCompileError(f"argument is not an identifier in {name}()")
        var = str(var_node.children[0])
        body = [self.compile(a) for a in args[1:]]

        def items(env: Env) -> list[Any]:
            coll = target(env)
            if isinstance(coll, list):
                return coll
            if isinstance(coll, dict):
                return list(coll)
            raise CelError(f"no such overload: {_type_name(coll)}.{name}()")

        if name in ("all", "exists"):
            want = name == "exists"
            pred = body[0]

            def quantifier(env: Env) -> bool:
                error: CelError | None = None
                scope = dict(env)
                for item in items(env):
                    scope[var] = item
                    try:
                        if _truth(pred(scope)) is want:
                            return want
                    except CelError as exc:
                        error = error or exc
                if error is not None:
                    raise error
                return not want

            return quantifier
        if name == "exists_one":
            pred = body[0]

            def exists_one(env: Env) -> bool:
                scope = dict(env)
                count = 0
                for item in items(env):
                    scope[var] = item
                    count += _truth(pred(scope))
                return count == 1

            return exists_one
        if name == "filter":
            pred = body[0]

            def filter_(env: Env) -> list[Any]:
                scope = dict(env)
                out = []
                for item in items(env):
                    scope[var] = item
                    if _truth(pred(scope)):
                        out.append(item)
                return out

            return filter_
        transform = body[-1]
        guard = body[0] if len(body) == 2 else None

        def map_(env: Env) -> list[Any]:
            scope = dict(env)
            out = []
            for item in items(env):
                scope[var] = item
                if guard is None or _truth(guard(scope)):
                    out.append(transform(scope))
            return out

        return map_


def _unwrap(node: Tree[Token] | Token) -> Tree[Token] | Token:
    """Descend through the single-child precedence levels to the interesting node."""
    while isinstance(node, Tree):
        kids = [c for c in node.children if c is not None]
        if node.data in ("member_dot", "ident", "member_dot_arg", "ident_arg") or len(kids) != 1:
            return node
        if node.data == "unary" and len(node.children) != 1:
            return node
        node = kids[0]
    return node


_PARSER: CELParser | None = None


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> Expr:
    """Compile a CEL expression once; the result is a function of the variables."""
    global _PARSER
    if _PARSER is None:
        _PARSER = CELParser()
    try:
        tree = _PARSER.parse(text)
    except CELParseError as exc:
        raise CelCompileError(f"syntax error: {exc}") from exc
    except Exception as exc:  # lark raises a family of its own errors
        raise CelCompileError(f"syntax error: {exc}") from exc
    return _Compiler().compile(tree)


def evaluate(text: str, **variables: Any) -> Any:
    """Compile (cached) and evaluate; for tests and one-off use."""
    return compile_expression(text)(variables)


def uses_old_self(text: str) -> bool:
    return re.search(r"\boldSelf\b", text) is not None
