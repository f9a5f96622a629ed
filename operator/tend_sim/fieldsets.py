"""Sets of field paths in the FieldsV1 encoding that managedFields carries, and their algebra.

A set is kept in its wire shape, so nothing is converted on the way in or out: a dict whose
keys are path elements (`f:name` a field, `k:{"name":"web"}` a list item by its keys,
`v:"x"` an item of a set-list, `i:0` an item by index) and whose values are the sets below
them. A child with no children is a member; a child with children is a member only if it
holds the key `"."` (sigs.k8s.io/structured-merge-diff fieldpath/serialize.go). The top
level is never a member.

Every function here is pure: inputs are never changed, results may share sub-dicts with them
(stored objects are never mutated in place, so sharing is safe).
"""

from __future__ import annotations

import json
from typing import Any

Tree = dict[str, Any]
SELF = "."


def is_member(node: Tree) -> bool:
    return not node or SELF in node


def _join(member: bool, kids: Tree) -> Tree | None:
    if not kids:
        return {} if member else None
    if member:
        return {SELF: {}, **kids}
    return kids


def _kids(node: Tree) -> Tree:
    if SELF in node:
        return {k: v for k, v in node.items() if k != SELF}
    return node


def union(a: Tree, b: Tree) -> Tree:
    """The union of a and b, for two top-level sets (children maps)."""
    if not a:
        return b
    if not b:
        return a
    out = dict(a)
    for k, bv in b.items():
        av = out.get(k)
        if av is None:
            out[k] = bv
        elif k != SELF and av is not bv:
            out[k] = _union_node(av, bv)
    return out


def _union_node(a: Tree, b: Tree) -> Tree:
    node = _join(is_member(a) or is_member(b), union(_kids(a), _kids(b)))
    assert node is not None
    return node


def difference(a: Tree, b: Tree) -> Tree:
    """a minus b: the members of a that are not members of b."""
    if not a or not b:
        return a
    out: Tree = {}
    for k, av in a.items():
        if k == SELF:
            continue
        bv = b.get(k)
        if bv is None:
            out[k] = av
            continue
        node = _join(is_member(av) and not is_member(bv), difference(_kids(av), _kids(bv)))
        if node is not None:
            out[k] = node
    return out


def intersection(a: Tree, b: Tree) -> Tree:
    """a ∩ b."""
    if not a or not b:
        return {}
    out: Tree = {}
    for k, av in a.items():
        if k == SELF:
            continue
        bv = b.get(k)
        if bv is None:
            continue
        node = _join(is_member(av) and is_member(bv), intersection(_kids(av), _kids(bv)))
        if node is not None:
            out[k] = node
    return out


def recursive_difference(a: Tree, b: Tree) -> Tree:
    """a without every path that is, or lies below, a member of b (fieldpath's
    RecursiveDifference: how reset fields such as `status` are left out of ownership)."""
    if not a or not b:
        return a
    out: Tree = {}
    for k, av in a.items():
        if k == SELF:
            continue
        bv = b.get(k)
        if bv is None:
            out[k] = av
        elif not is_member(bv):
            node = _join(is_member(av), recursive_difference(_kids(av), _kids(bv)))
            if node is not None:
                out[k] = node
    return out


def canonical(tree: Tree) -> Tree:
    """The same set with keys in the wire order ("." first, then path elements sorted)."""
    return {k: canonical(tree[k]) if tree[k] else {} for k in sorted(tree)}


# -- path elements ------------------------------------------------------------------------------


def value_pe(value: Any) -> str:
    return "v:" + json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def pe_string(pe: str) -> str:
    """A path element as fieldpath.PathElement.String() prints it: `.name`, `[name="web"]`,
    `[="x"]`, `[0]`."""
    kind, _, rest = pe.partition(":")
    if kind == "f":
        return "." + rest
    if kind == "k":
        fields = json.loads(rest)
        return "[" + ",".join(f"{k}={_value_string(v)}" for k, v in fields.items()) + "]"
    if kind == "v":
        return "[=" + _value_string(json.loads(rest)) + "]"
    return "[" + rest + "]"


def _value_string(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v, separators=(",", ":"))


def member_paths(tree: Tree, prefix: str = "") -> list[str]:
    """Every member as a path string, in fieldpath's Iterate order: a level's members first,
    then its children, each sorted."""
    out: list[str] = []
    keys = sorted(k for k in tree if k != SELF)
    for k in keys:
        if is_member(tree[k]):
            out.append(prefix + pe_string(k))
    for k in keys:
        node = tree[k]
        if node and (len(node) > 1 or SELF not in node):
            out.extend(member_paths(node, prefix + pe_string(k)))
    return out


def valid(tree: Any) -> bool:
    """Whether a decoded fieldsV1 value is a well-formed set."""
    if not isinstance(tree, dict):
        return False
    for k, v in tree.items():
        if k == SELF:
            if v != {}:
                return False
            continue
        if not isinstance(k, str) or k[:2] not in ("f:", "k:", "v:", "i:") or not valid(v):
            return False
    return True
