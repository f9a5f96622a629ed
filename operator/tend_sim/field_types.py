"""How each field of an object merges and is owned under server-side apply: the simulator's
stand-in for the structured-merge-diff schema that kube-apiserver builds from OpenAPI.

A Shape says what a node is: a scalar, a struct (named fields), a granular map (free keys,
each owned on its own), something atomic (owned and replaced whole), or a list that is atomic,
a set, or a map keyed by some fields of its items. Custom resources take it from the CRD's
structural schema (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`,
`x-kubernetes-map-type`; lists are atomic unless marked, as in apiextensions). Built-in kinds
take it from kube-apiserver's OpenAPI definitions (builtin_schemas.py), which carry the Go
types' `+listType`/`+listMapKey`/`+mapType` markers, converted as kube-openapi's schemaconv
does (a list without a listType is keyed by its strategic merge key, if any). Unknown nodes
are "deduced" as SMD does for untyped values: maps granular, lists atomic.
"""

from __future__ import annotations

import weakref
from functools import cache
from typing import Any

from tend_sim.builtin_schemas import applied_definition, definitions, ref_name, schema_type
from tend_sim.objects import OBJECT_META_SCALARS
from tend_sim.resources import ResourceType

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


# -- built-in kinds: kube-apiserver's OpenAPI definitions -------------------------------------

# Key fields the Go types default (a missing key takes its default, as SMD does); the
# definitions the simulator carries leave defaults out. Any `protocol` key is TCP; a
# LocalObjectReference's name (imagePullSecrets) is a plain string, so "".
_KEY_DEFAULTS = {"protocol": "TCP"}
_ITEM_KEY_DEFAULTS = {"io.k8s.api.core.v1.LocalObjectReference": {"name": ""}}
_OBJECT_META_DEFINITION = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class _FromDefinition:
    """A built-in struct's fields, from its OpenAPI definition (builtin_schemas.py)."""

    def __init__(self, properties: dict[str, Any]) -> None:
        self.properties = properties

    def field(self, shape: Shape, name: str) -> Shape | None:
        sub = self.properties.get(name)
        return _builtin_shape(sub) if isinstance(sub, dict) else None

    def item(self, shape: Shape) -> Shape:
        return _DEDUCED


def _list_relationship(s: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """kube-openapi schemaconv's getListElementRelationship: `x-kubernetes-list-type` when
    set, else a `merge` patch strategy makes the list associative on its merge key (a set
    without one); every other list is atomic."""
    list_type = s.get("x-kubernetes-list-type")
    if list_type == "map":
        return LIST_MAP, tuple(s.get("x-kubernetes-list-map-keys") or ())
    if list_type == "set":
        return LIST_SET, ()
    if list_type is not None:
        return LIST_ATOMIC, ()
    strategy = s.get("x-kubernetes-patch-strategy")
    if isinstance(strategy, str) and "merge" in strategy.split(","):
        key = s.get("x-kubernetes-patch-merge-key")
        return (LIST_MAP, (key,)) if isinstance(key, str) else (LIST_SET, ())
    return LIST_ATOMIC, ()


_BUILTIN_SHAPES: dict[int, Shape] = {}  # by schema node: definitions() lives for the process


def _builtin_shape(s: dict[str, Any]) -> Shape:
    shape = _BUILTIN_SHAPES.get(id(s))
    if shape is None:
        shape = _BUILTIN_SHAPES[id(s)] = _convert(s)
    return shape


def _convert(s: dict[str, Any]) -> Shape:
    """One schema node as schemaconv converts it: a reference is its definition's shape;
    `x-kubernetes-map-type: atomic` makes a struct or map atomic; an untyped node (the
    `oneOf` of IntOrString, Quantity) is deduced."""
    name = ref_name(s)
    if name is not None:
        return _definition_shape(name)
    t = schema_type(s)
    if t == "array":
        items = s.get("items")
        elem = _builtin_shape(items) if isinstance(items, dict) else _DEDUCED
        kind, keys = _list_relationship(s)
        shape = _list_of(kind, elem, keys)
        known = {**_KEY_DEFAULTS, **_ITEM_KEY_DEFAULTS.get(ref_name(items or {}) or "", {})}
        shape.defaults = {k: known[k] for k in keys if k in known}
        return shape
    if t == "object" or "properties" in s or "additionalProperties" in s:
        if s.get("x-kubernetes-map-type") == "atomic":
            return _ATOMIC
        if isinstance(s.get("properties"), dict):
            return Shape(STRUCT, _FromDefinition(s["properties"]))
        extra = s.get("additionalProperties")
        return _map_of(_builtin_shape(extra)) if isinstance(extra, dict) else _DEDUCED
    return _DEDUCED if t is None else _SCALAR


@cache
def _definition_shape(name: str) -> Shape:
    if name == _OBJECT_META_DEFINITION:
        return OBJECT_META
    return _builtin_shape(definitions().get(name) or {})


_RT_SHAPES: weakref.WeakKeyDictionary[ResourceType, Shape] = weakref.WeakKeyDictionary()
_NO_DEFINITION = Shape(STRUCT, _Fixed({"metadata": OBJECT_META}))


def shape_of(rt: ResourceType) -> Shape:
    """The root Shape of the objects of `rt`: a custom resource's from its CRD's schema, a
    built-in's from its version's definition (an apply merges in the request's version);
    events.k8s.io Events in the core shape they are stored and served in here."""
    shape = _RT_SHAPES.get(rt)
    if shape is None:
        if rt.custom:
            shape = schema_shape(rt.schema or {"type": "object"}, top=True)
        else:
            name = applied_definition(rt)
            shape = _definition_shape(name) if name is not None else _NO_DEFINITION
        _RT_SHAPES[rt] = shape
    return shape
