"""Walks over objects guided by a Shape (field_types.py), as structured-merge-diff's typed
package does them: the field set of a value, the comparison of two values, the merge of an
applied configuration into a live object, and the removal of a set of fields.

Ported from sigs.k8s.io/structured-merge-diff typed/{tofieldset,compare,merge,remove}.go; the
list merge keeps its ordering rules (the applied order of shared items, live-only items where
they were). Nothing is mutated; results share unchanged sub-values with their inputs.
"""

from __future__ import annotations

import json
from operator import is_
from typing import Any

from tend_sim.field_types import (
    ATOMIC,
    DEDUCED,
    IGNORED,
    LIST_ATOMIC,
    LIST_MAP,
    LIST_SET,
    MAP,
    SCALAR,
    STRUCT,
    Shape,
)
from tend_sim.fieldsets import SELF, Tree, is_member, value_pe
from tend_sim.objects import alike_key

MISSING: Any = object()
_EMPTIED: Any = object()
_LEAF, _MAP, _LIST = 0, 1, 2
_MAPS = (STRUCT, MAP, DEDUCED)
_LISTS = (LIST_SET, LIST_MAP)


class SchemaError(ValueError):
    """The value does not fit its schema (a list item without its key, duplicate keys)."""


def _container(v: Any, sh: Shape) -> int:
    kind = sh.kind
    if kind in (SCALAR, ATOMIC, LIST_ATOMIC):
        return _LEAF
    t = type(v)
    if t is dict:
        return _MAP if kind in _MAPS else _LEAF
    if t is list:
        return _LIST if kind in _LISTS else _LEAF
    return _LEAF


_ITEM_PES: dict[tuple[Any, ...], str] = {}


def item_pe(item: Any, sh: Shape, where: str = "") -> str:
    """The path element of a list item: `v:` for sets, `k:` for maps (a missing key takes the
    schema's default, as SMD does; without one the item is refused)."""
    if sh.kind == LIST_SET:
        return value_pe(item)
    if type(item) is not dict:
        raise SchemaError(f"{where}: expected a map in an associative list, got {item!r}")
    keys = sh.keys
    ck = [keys]  # the usual keys (name, containerPort + protocol): a cached string
    for k in keys:
        value = item.get(k, MISSING)
        t = type(value)
        if t is not str and t is not int:
            break
        ck.append(value)
    else:
        cached = tuple(ck)
        pe = _ITEM_PES.get(cached)
        if pe is None:
            if len(_ITEM_PES) >= 10_000:
                _ITEM_PES.clear()
            fields = {k: item[k] for k in sorted(keys)}
            pe = _ITEM_PES[cached] = "k:" + json.dumps(
                fields, separators=(",", ":"), ensure_ascii=False
            )
        return pe
    fields = {}
    for k in sorted(sh.keys):
        if k in item:
            fields[k] = item[k]
        elif k in sh.defaults:
            fields[k] = sh.defaults[k]
        else:
            raise SchemaError(
                f"{where}: associative list with keys has an element that omits key field "
                f'"{k}" (and doesn\'t have default value)'
            )
    return "k:" + json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def _join(member: bool, kids: Tree) -> Tree | None:
    if not kids:
        return {} if member else None
    return {SELF: {}, **kids} if member else kids


# -- ToFieldSet ---------------------------------------------------------------------------------


def field_set(value: Any, sh: Shape, *, strict: bool = False) -> Tree:
    """Every path the value sets (the top level is not a member). strict: refuse duplicate
    list keys, as an applied configuration must."""
    return _fs_kids(value, sh, _container(value, sh), strict, "")


def _fs_kids(v: Any, sh: Shape, c: int, strict: bool, where: str) -> Tree:
    out: Tree = {}
    if c == _MAP:
        for k, val in v.items():
            csh = sh.field(k)
            if csh.kind == IGNORED:
                continue
            if strict and sh.kind == STRUCT and not sh.open and not sh.declared(k):
                raise SchemaError(f"{where}.{k}: field not declared in schema")
            cc = _container(val, csh)
            if cc == _LEAF:
                out["f:" + k] = {}
                continue
            kids = _fs_kids(val, csh, cc, strict, f"{where}.{k}")
            node = _join((cc == _MAP and not val) or not sh.declared(k), kids)
            if node is not None:
                out["f:" + k] = node
    elif c == _LIST:
        ish = sh.item()
        for i, item in enumerate(v):
            pe = item_pe(item, sh, f"{where}: element {i}")
            if strict and pe in out:
                raise SchemaError(f"{where}: duplicate entries for key {pe}")
            cc = _container(item, ish)
            kids = _fs_kids(item, ish, cc, strict, where) if cc != _LEAF else {}
            out[pe] = {SELF: {}, **kids} if kids else {}
    return out


def created(base: dict[str, Any], value: Any, sh: Shape) -> Tree:
    """compare(base, value)'s added set when `base` is a zero value (top-level fields empty
    or absent): the fast path of every create, one pass with no comparisons. The set is
    interned (see `intern`)."""
    out: Tree = {}
    if type(value) is not dict:
        return out
    for k, val in value.items():
        csh = sh.field(k)
        if csh.kind == IGNORED:
            continue
        cc = _container(val, csh)
        if cc == _LEAF or not val:
            if not (k in base and base[k] == val):
                out["f:" + k] = LEAF
        elif k == "metadata":  # a name, uid and timestamp of its own: never alike
            out["f:" + k] = _added(val, csh, cc, k not in base)
        else:
            out["f:" + k] = _added_alike(val, csh, cc, k not in base)
    return intern(out)


# The sets of the top-level values (a spec, a ConfigMap's data) created last, by their JSON:
# a Deployment's Pods, or objects applied from one template, have equal specs, whose set is
# then found with one encoding instead of a walk (objects.alike_key: equal JSON is an equal
# value, so an equal set). The table is bounded and forgets everything when full.
_ALIKE: dict[tuple[Shape, bool, bytes], Tree] = {}
_MAX_ALIKE = 512


def _added_alike(v: Any, sh: Shape, c: int, member: bool) -> Tree:
    encoded = alike_key(v)
    if encoded is None:
        return _added(v, sh, c, member)
    key = (sh, member, encoded)
    found = _ALIKE.get(key)
    if found is None:
        found = _added(v, sh, c, member)
        if len(_ALIKE) >= _MAX_ALIKE:
            _ALIKE.clear()
        _ALIKE[key] = found
    return found


# Field sets are hash-consed: a node whose children are all interned is looked up by the hash
# of its path elements and its children's identities (a hit is checked, so a collision only
# costs the sharing), so equal sub-sets of different objects (the container of 10,000 alike
# Pods, all of 10,000 alike ManagedServices) are one dict. Sets are never changed in place
# (fieldsets.py), so sharing is safe; it saves most of a stored object's managedFields memory
# and the garbage collector's walks over them. `INTERNED` (by id) keeps every interned node
# alive while its id is a key; both tables are dropped when they grow large (sets interned
# before stay correct, just no longer shared with newer ones).
LEAF: Tree = {}
_NODES: dict[int, Tree] = {}
_LEAF_ID = id(LEAF)
INTERNED: dict[int, Tree] = {_LEAF_ID: LEAF}
_MAX_NODES = 200_000


def intern(node: Tree) -> Tree:
    """The shared dict equal to `node` when all its children are interned, else `node`."""
    if not node:
        return LEAF
    return _intern_ids(node, list(map(id, node.values())))


def _intern_ids(node: Tree, ids: list[int]) -> Tree:
    """intern, given the ids of node's values in order."""
    if not node:
        return LEAF
    interned = INTERNED
    if not all(map(interned.__contains__, ids)):
        return node
    h = hash((tuple(node), tuple(ids)))
    shared = _NODES.get(h)
    if shared is None:
        if len(_NODES) >= _MAX_NODES:
            _NODES.clear()
            interned.clear()
            interned[_LEAF_ID] = LEAF
            for child in node.values():  # the new node's children stay interned
                interned[id(child)] = child
        _NODES[h] = node
        interned[id(node)] = node
        return node
    if list(shared) == list(node) and all(map(is_, shared.values(), node.values())):
        return shared
    return node


_FIELD_PES: dict[str, str] = {}


def _added(v: Any, sh: Shape, c: int, member: bool) -> Tree:
    # The hot path of every create: _container, Shape.field and intern's key inlined.
    out: Tree = {SELF: LEAF} if member else {}
    ids = [_LEAF_ID] if member else []
    if c == _MAP:
        fields = sh._fields
        pes = _FIELD_PES
        for k, val in v.items():
            csh = fields.get(k) or sh.field(k)
            kind = csh.kind
            if kind == IGNORED:
                continue
            pe = pes.get(k)
            if pe is None:
                if len(pes) >= 50_000:  # map keys (labels, data) can be many
                    pes.clear()
                pe = pes[k] = "f:" + k
            t = type(val)
            if val and ((t is dict and kind in _MAPS) or (t is list and kind in _LISTS)):
                child = _added(val, csh, _MAP if t is dict else _LIST, True)
                out[pe] = child
                ids.append(id(child))
            else:
                out[pe] = LEAF
                ids.append(_LEAF_ID)
    else:
        ish = sh.item()
        kind = ish.kind
        for item in v:
            pe = item_pe(item, sh)
            t = type(item)
            if item and ((t is dict and kind in _MAPS) or (t is list and kind in _LISTS)):
                child = _added(item, ish, _MAP if t is dict else _LIST, True)
            else:
                child = LEAF
            out[pe] = child  # a duplicate key keeps the later item's set
        ids = list(map(id, out.values()))
    return _intern_ids(out, ids)


# -- Compare ------------------------------------------------------------------------------------


def compare(old: Any, new: Any, sh: Shape) -> tuple[Tree, Tree, Tree]:
    """(added, modified, removed) between two values of the same shape."""
    out: tuple[Tree, Tree, Tree] = ({}, {}, {})
    if old is not new and old != new:
        _cmp_kids(old, new, sh, _container(new, sh), out)
    return out


def _cmp_kids(lhs: Any, r: Any, sh: Shape, c: int, out: tuple[Tree, Tree, Tree]) -> None:
    if c == _MAP:
        ld = lhs if type(lhs) is dict else {}
        rd = r if type(r) is dict else {}
        for k, lv in ld.items():
            rv = rd.get(k, MISSING)
            if lv is rv or lv == rv:
                continue
            csh = sh.field(k)
            if csh.kind != IGNORED:
                _cmp_node(lv, rv, csh, "f:" + k, out)
        for k, rv in rd.items():
            if k not in ld:
                csh = sh.field(k)
                if csh.kind != IGNORED:
                    _cmp_node(MISSING, rv, csh, "f:" + k, out)
        return
    ish = sh.item()
    lvals: dict[str, Any] = {}
    order: list[str] = []
    for item in lhs if type(lhs) is list else ():
        pe = item_pe(item, sh)
        if pe not in lvals:
            order.append(pe)
            lvals[pe] = item
    rvals: dict[str, Any] = {}
    for item in r if type(r) is list else ():
        pe = item_pe(item, sh)
        if pe not in rvals:
            rvals[pe] = item
            if pe not in lvals:
                order.append(pe)
    for pe in order:
        lv = lvals.get(pe, MISSING)
        rv = rvals.get(pe, MISSING)
        if lv is not rv and lv != rv:
            _cmp_node(lv, rv, ish, pe, out)


def _cmp_node(lhs: Any, r: Any, sh: Shape, pe: str, out: tuple[Tree, Tree, Tree]) -> None:
    lc = _container(lhs, sh) if lhs is not MISSING else -1
    rc = _container(r, sh) if r is not MISSING else -1
    c = rc if rc >= 0 else lc
    if (lc >= 0 and rc >= 0 and lc != rc) or c == _LEAF or (not _full(lhs) and not _full(r)):
        if lhs is MISSING:
            out[0][pe] = {}
        elif r is MISSING:
            out[2][pe] = {}
        else:
            out[1][pe] = {}
        return
    sub: tuple[Tree, Tree, Tree] = ({}, {}, {})
    _cmp_kids(lhs, r, sh, c, sub)
    for i, flag in enumerate((lhs is MISSING, False, r is MISSING)):
        node = _join(flag, sub[i])
        if node is not None:
            out[i][pe] = node


def _full(v: Any) -> bool:
    return v is not MISSING and v is not None and bool(v)


# -- Merge --------------------------------------------------------------------------------------


def merge(live: Any, config: Any, sh: Shape) -> Any:
    """The applied configuration merged into the live value (config wins on every leaf)."""
    if config is MISSING:
        return live
    if live is MISSING:
        return config
    c = _container(config, sh)
    if c == _LEAF or _container(live, sh) != c or (not live and not config):
        return config
    if c == _MAP:
        out = {}
        for k, lv in live.items():
            if k in config:
                csh = sh.field(k)
                out[k] = lv if csh.kind == IGNORED else merge(lv, config[k], csh)
            else:
                out[k] = lv
        for k, rv in config.items():
            if k not in live:
                out[k] = rv
        return out
    return _merge_list(live, config, sh)


def _merge_list(lhs: list[Any], rhs: list[Any], sh: Shape) -> list[Any]:
    ish = sh.item()
    rpes = [item_pe(x, sh) for x in rhs]
    robs = dict(zip(rpes, rhs, strict=True))
    lpes: list[str] = []
    lobs: dict[str, Any] = {}
    for x in lhs:
        pe = item_pe(x, sh)
        lobs[pe] = MISSING if pe in lobs else x  # duplicates are not merged
        lpes.append(pe)
    shared = [pe for pe in rpes if pe in lobs]
    si = 0
    next_shared = shared[si] if shared else None
    merged: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    nl, nr = len(lpes), len(rpes)
    while li < nl or ri < nr:
        if li < nl and ri < nr:
            pe = lpes[li]
            if pe == rpes[ri]:
                merged.add(pe)
                out.append(merge(lobs[pe], robs[pe], ish))
                li += 1
                ri += 1
                si += 1
                next_shared = shared[si] if si < len(shared) else None
                continue
            if pe in robs and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < nl:
            pe = lpes[li]
            if pe not in robs:
                out.append(lhs[li])
                li += 1
                continue
            if pe in merged:
                li += 1
        if ri < nr:
            pe = rpes[ri]
            merged.add(pe)
            out.append(merge(lobs.get(pe, MISSING), robs[pe], ish))
            ri += 1
            if next_shared is not None and next_shared == pe:
                si += 1
                next_shared = shared[si] if si < len(shared) else None
    return out


# -- RemoveItems --------------------------------------------------------------------------------


def remove(value: Any, tree: Tree, sh: Shape) -> Any:
    """The value without the members of `tree` (a container left empty goes too)."""
    out = _remove(value, tree, sh)
    return {} if out is _EMPTIED else out


def _remove(v: Any, kids: Tree, sh: Shape) -> Any:
    c = _container(v, sh)
    if c == _LEAF:
        return v
    if not v:
        return _EMPTIED
    if c == _MAP:
        out = {}
        for k, val in v.items():
            node = kids.get("f:" + k)
            if node is None:
                out[k] = val
            elif not is_member(node):
                sub = _remove(val, node, sh.field(k))
                if sub is not _EMPTIED:
                    out[k] = sub
        return out if out else _EMPTIED
    ish = sh.item()
    items = []
    for item in v:
        node = kids.get(item_pe(item, sh))
        if node is None:
            items.append(item)
        elif not is_member(node):
            sub = _remove(item, node, ish)
            if sub is not _EMPTIED:
                items.append(sub)
    return items if items else _EMPTIED


def named_members(tree: Tree, sh: Shape) -> Tree:
    """The set with every named (struct) field that has children made a member too
    (fieldpath's EnsureNamedFieldsAreMembers), so pruning removes whole structs."""
    out: Tree = {}
    for pe, node in tree.items():
        if pe.startswith("f:"):
            name = pe[2:]
            if node:
                node = named_members(node, sh.field(name))
            if sh.declared(name) and node and SELF not in node:
                node = {SELF: {}, **node}
        elif pe.startswith("k:") and node:
            node = named_members(node, sh.item())
        out[pe] = node
    return out
