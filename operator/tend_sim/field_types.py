"""How each field of an object merges and is owned under server-side apply: the simulator's
stand-in for the structured-merge-diff schema that kube-apiserver builds from OpenAPI.

A Shape says what a node is: a scalar, a struct (named fields), a granular map (free keys,
each owned on its own), something atomic (owned and replaced whole), or a list that is atomic,
a set, or a map keyed by some fields of its items. Custom resources take it from the CRD's
structural schema (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`,
`x-kubernetes-map-type`; lists are atomic unless marked, as in apiextensions). Built-in kinds
take the struct/map split from the official client's generated models and the list types from
a table of the Go types' `+listType`/`+listMapKey` markers (falling back to the strategic
merge keys of patch.py, which is what kube-openapi's schemaconv does for lists without a
listType). Unknown nodes are "deduced" as SMD does for untyped values: maps granular, lists
atomic.
"""

from __future__ import annotations

import re
import weakref
from functools import lru_cache
from typing import Any

from tend_sim.objects import OBJECT_META_SCALARS
from tend_sim.patch import _BY_NAME
from tend_sim.resources import ResourceType, _model_fields

SCALAR = "scalar"
STRUCT = "struct"
MAP = "map"
ATOMIC = "atomic"
DEDUCED = "deduced"
LIST_ATOMIC = "list-atomic"
LIST_SET = "list-set"
LIST_MAP = "list-map"
IGNORED = "ignored"  # metadata.managedFields: never compared, merged or owned


class Shape:
    """One node of the merge schema; children resolve lazily and are cached."""

    __slots__ = ("_fields", "_item", "_source", "defaults", "keys", "kind", "open")

    def __init__(
        self,
        kind: str,
        source: Any = None,
        keys: tuple[str, ...] = (),
        defaults: dict[str, Any] | None = None,
    ) -> None:
        self.kind = kind
        # A struct that keeps fields its schema does not declare (preserve-unknown-fields).
        self.open = False
        self.keys = keys
        self.defaults = defaults or {}
        self._source = source
        self._fields: dict[str, Shape] = {}
        self._item: Shape | None = None

    def declared(self, name: str) -> bool:
        return self.kind == STRUCT and self._resolve_field(name) is not None

    def field(self, name: str) -> Shape:
        """The shape of a map's or struct's child (deduced when the schema does not say)."""
        shape = self._fields.get(name)
        if shape is not None:
            return shape
        if self.kind == MAP:
            return self.item()
        if self.kind != STRUCT:
            return _DEDUCED
        return self._resolve_field(name) or _DEDUCED

    def _resolve_field(self, name: str) -> Shape | None:
        shape = self._fields.get(name)
        if shape is None and name not in self._fields:
            shape = self._source.field(self, name) if self._source is not None else None
            self._fields[name] = shape  # type: ignore[assignment]
        return shape

    def item(self) -> Shape:
        """The shape of a list's items or a map's values."""
        if self._item is None:
            self._item = self._source.item(self) if self._source is not None else _DEDUCED
        return self._item

    def __repr__(self) -> str:
        return f"Shape({self.kind}{', ' + str(self.keys) if self.keys else ''})"


_DEDUCED = Shape(DEDUCED)
_SCALAR = Shape(SCALAR)
_ATOMIC = Shape(ATOMIC)


# -- ObjectMeta (the same for every kind, custom or not) ----------------------------------------


class _Fixed:
    """A struct whose fields are listed up front."""

    def __init__(self, fields: dict[str, Shape]) -> None:
        self.fields = fields

    def field(self, shape: Shape, name: str) -> Shape | None:
        return self.fields.get(name)

    def item(self, shape: Shape) -> Shape:
        return _DEDUCED


def _map_of(elem: Shape) -> Shape:
    class _Elem:
        def field(self, shape: Shape, name: str) -> Shape | None:
            return elem

        def item(self, shape: Shape) -> Shape:
            return elem

    return Shape(MAP, _Elem())


def _list_of(kind: str, elem: Shape, keys: tuple[str, ...] = ()) -> Shape:
    class _Items:
        def field(self, shape: Shape, name: str) -> Shape | None:
            return None

        def item(self, shape: Shape) -> Shape:
            return elem

    return Shape(kind, _Items(), keys)


_OWNER_REF = Shape(
    STRUCT,
    _Fixed(
        dict.fromkeys(
            ("apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"), _SCALAR
        )
    ),
)
OBJECT_META = Shape(
    STRUCT,
    _Fixed(
        {
            **dict.fromkeys(OBJECT_META_SCALARS, _SCALAR),
            "labels": _map_of(_SCALAR),
            "annotations": _map_of(_SCALAR),
            "finalizers": _list_of(LIST_SET, _SCALAR),
            "ownerReferences": _list_of(LIST_MAP, _OWNER_REF, ("uid",)),
            "managedFields": Shape(IGNORED),
        }
    ),
)


# -- custom resources: the CRD's structural schema ----------------------------------------------


class _FromSchema:
    """Shapes read from an OpenAPI v3 (structural) schema node."""

    def __init__(self, schema: dict[str, Any], top: bool = False) -> None:
        self.schema = schema
        self.top = top

    def field(self, shape: Shape, name: str) -> Shape | None:
        if self.top and name == "metadata":
            return OBJECT_META
        if (self.top or self.schema.get("x-kubernetes-embedded-resource")) and name in (
            "apiVersion",
            "kind",
        ):
            return _SCALAR
        props = self.schema.get("properties") or {}
        sub = props.get(name)
        if sub is None:
            if self.schema.get("x-kubernetes-embedded-resource") and name == "metadata":
                return OBJECT_META
            return None
        return schema_shape(sub)

    def item(self, shape: Shape) -> Shape:
        if shape.kind == MAP:
            ap = self.schema.get("additionalProperties")
            return schema_shape(ap) if isinstance(ap, dict) else _DEDUCED
        items = self.schema.get("items")
        return schema_shape(items) if isinstance(items, dict) else _DEDUCED


_SCHEMA_SHAPES: dict[int, tuple[dict[str, Any], Shape]] = {}


def schema_shape(schema: dict[str, Any], top: bool = False) -> Shape:
    """The Shape of a schema node (cached by node identity; the node is kept alive with it)."""
    cached = _SCHEMA_SHAPES.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    shape = _schema_shape(schema, top)
    if len(_SCHEMA_SHAPES) > 50_000:
        _SCHEMA_SHAPES.clear()
    _SCHEMA_SHAPES[id(schema)] = (schema, shape)
    return shape


def _schema_shape(s: dict[str, Any], top: bool) -> Shape:
    t = s.get("type")
    if top or t == "object" or "properties" in s or "additionalProperties" in s:
        if s.get("x-kubernetes-map-type") == "atomic":
            return _ATOMIC
        src = _FromSchema(s, top)
        if "properties" in s or top or s.get("x-kubernetes-embedded-resource"):
            shape = Shape(STRUCT, src)
            shape.open = bool(s.get("x-kubernetes-preserve-unknown-fields"))
            return shape
        if isinstance(s.get("additionalProperties"), dict):
            return Shape(MAP, src)
        return _DEDUCED
    if t == "array":
        items = s.get("items")
        if not isinstance(items, dict):
            items = {}
        list_type = s.get("x-kubernetes-list-type", "atomic")
        if list_type == "map":
            keys = tuple(s.get("x-kubernetes-list-map-keys") or ())
            props = items.get("properties") or {}
            defaults = {k: props[k]["default"] for k in keys if "default" in (props.get(k) or {})}
            return Shape(LIST_MAP, _FromSchema(s), keys, defaults)
        if list_type == "set":
            return Shape(LIST_SET, _FromSchema(s))
        return Shape(LIST_ATOMIC, _FromSchema(s))
    if t is None and s.get("x-kubernetes-preserve-unknown-fields"):
        return _DEDUCED
    return _SCALAR


# -- built-in kinds: the client's generated models plus the Go types' list markers --------------

# (model, JSON field) -> list-map keys, where they differ from patch.py's merge keys.
_LIST_KEYS: dict[tuple[str, str], tuple[str, ...]] = {
    ("V1Container", "ports"): ("containerPort", "protocol"),
    ("V1EphemeralContainer", "ports"): ("containerPort", "protocol"),
    ("V1ServiceSpec", "ports"): ("port", "protocol"),
    ("V1PodSpec", "topologySpreadConstraints"): ("topologyKey", "whenUnsatisfiable"),
    ("V1PodSpec", "schedulingGates"): ("name",),
    ("V1PodStatus", "podIPs"): ("ip",),
    ("V1PodStatus", "hostIPs"): ("ip",),
    ("V1NodeStatus", "addresses"): ("type",),
}
# Key fields the Go types default (a missing key takes its default, as SMD does).
_KEY_DEFAULTS = {"protocol": "TCP"}
# (model, JSON field) of lists that are sets, or atomic though a merge key exists for the name.
_LIST_SETS = {("V1ObjectMeta", "finalizers")}
_LIST_ATOMIC = {("V1JobStatus", "conditions"), ("V1NamespaceSpec", "finalizers")}
# Structs and maps marked +structType=atomic / +mapType=atomic.
_ATOMIC_MODELS = {
    "V1LabelSelector",
    "V1NodeSelector",
    "V1LocalObjectReference",
    "V1ObjectFieldSelector",
    "V1ResourceFieldSelector",
    "V1ConfigMapKeySelector",
    "V1SecretKeySelector",
    "V1TopologySelectorTerm",
}
_ATOMIC_MAPS = {("V1ServiceSpec", "selector"), ("V1ReplicationControllerSpec", "selector")}

_GENERIC = re.compile(r"^(List|Dict)\[(?:str, )?(.*)\]$")


class _FromModel:
    def __init__(self, model: str) -> None:
        self.model = model

    def field(self, shape: Shape, name: str) -> Shape | None:
        if self.model == "V1ObjectMeta":
            return OBJECT_META.field(name)
        fields = _model_fields(self.model)
        t = fields.get(name) if fields else None
        if t is None:
            return None
        return _type_shape(self.model, name, t)

    def item(self, shape: Shape) -> Shape:
        return _DEDUCED


@lru_cache(maxsize=4096)
def _type_shape(model: str, name: str, t: str) -> Shape:
    m = _GENERIC.match(t)
    if m is None:
        if t == "V1ObjectMeta":
            return OBJECT_META
        if _model_fields(t) is None:
            return _SCALAR
        if t in _ATOMIC_MODELS:
            return _ATOMIC
        return Shape(STRUCT, _FromModel(t))
    elem = _type_shape(model, name + "[]", m.group(2))
    if m.group(1) == "Dict":
        return _ATOMIC if (model, name) in _ATOMIC_MAPS else _map_of(elem)
    if (model, name) in _LIST_ATOMIC:
        return _list_of(LIST_ATOMIC, elem)
    if (model, name) in _LIST_SETS:
        return _list_of(LIST_SET, elem)
    keys = _LIST_KEYS.get((model, name))
    if keys is None and elem.kind == STRUCT and name in _BY_NAME:
        keys = (_BY_NAME[name],)
    if keys is None:
        return _list_of(LIST_ATOMIC, elem)
    shape = _list_of(LIST_MAP, elem, keys)
    shape.defaults = {k: _KEY_DEFAULTS[k] for k in keys if k in _KEY_DEFAULTS}
    return shape


_RT_SHAPES: weakref.WeakKeyDictionary[ResourceType, Shape] = weakref.WeakKeyDictionary()


def shape_of(rt: ResourceType) -> Shape:
    """The root Shape of the objects of `rt`."""
    shape = _RT_SHAPES.get(rt)
    if shape is None:
        if rt.custom:
            shape = schema_shape(rt.schema or {"type": "object"}, top=True)
        else:
            shape = _model_root("CoreV1Event" if rt.kind == "Event" else _model_name(rt))
        _RT_SHAPES[rt] = shape
    return shape


@lru_cache(maxsize=256)
def _model_root(model: str) -> Shape:
    """A built-in kind's root Shape, one for every store."""
    if _model_fields(model) is None:
        return Shape(STRUCT, _Fixed({"metadata": OBJECT_META}))
    return Shape(STRUCT, _FromModel(model))


def _model_name(rt: ResourceType) -> str:
    return rt.version[:1].upper() + rt.version[1:] + rt.kind
