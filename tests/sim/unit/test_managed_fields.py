"""Field sets, the typed walks and the ownership rules of server-side apply (table tests)."""

from __future__ import annotations

from typing import Any

import pytest

from tend_sim import field_managers as fm
from tend_sim import fieldsets as fs
from tend_sim import managed_fields as mf
from tend_sim.errors import ApiError
from tend_sim.field_types import (
    LIST_ATOMIC,
    LIST_MAP,
    LIST_SET,
    MAP,
    STRUCT,
    schema_shape,
    shape_of,
)
from tend_sim.resources import ResourceType, builtin_types
from tend_sim.typed import SchemaError, compare, field_set, merge, remove

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer"},
                "image": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "selector": {
                    "type": "object",
                    "x-kubernetes-map-type": "atomic",
                    "properties": {"app": {"type": "string"}},
                },
                "args": {"type": "array", "items": {"type": "string"}},
                "tags": {
                    "type": "array",
                    "x-kubernetes-list-type": "set",
                    "items": {"type": "string"},
                },
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name", "protocol"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "protocol": {"type": "string", "default": "TCP"},
                            "port": {"type": "integer"},
                        },
                    },
                },
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        }
    },
}
SHAPE = schema_shape(SCHEMA, top=True)
NOW = "2026-01-01T00:00:00Z"
LATER = "2026-01-01T00:01:00Z"


def rt_of(kind: str) -> ResourceType:
    return next(rt for rt in builtin_types() if rt.kind == kind and rt.group != "events.k8s.io")


# -- shapes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "path", "expected", "keys"),
    [
        ("Deployment", ["spec", "template", "spec", "containers"], LIST_MAP, ("name",)),
        (
            "Deployment",
            ["spec", "template", "spec", "containers", "[]", "ports"],
            LIST_MAP,
            ("containerPort", "protocol"),
        ),
        (
            "Deployment",
            ["spec", "template", "spec", "containers", "[]", "env"],
            LIST_MAP,
            ("name",),
        ),
        ("Deployment", ["spec", "template", "spec", "containers", "[]", "args"], LIST_ATOMIC, ()),
        ("Deployment", ["spec", "template", "spec", "tolerations"], LIST_ATOMIC, ()),
        ("Deployment", ["spec", "selector"], "atomic", ()),
        ("Deployment", ["metadata", "finalizers"], LIST_SET, ()),
        ("Deployment", ["metadata", "ownerReferences"], LIST_MAP, ("uid",)),
        ("Deployment", ["metadata", "labels"], MAP, ()),
        ("Deployment", ["status", "conditions"], LIST_MAP, ("type",)),
        ("Service", ["spec", "ports"], LIST_MAP, ("port", "protocol")),
        ("Service", ["spec", "selector"], "atomic", ()),
        ("ConfigMap", ["data"], MAP, ()),
        ("Job", ["status", "conditions"], LIST_ATOMIC, ()),
        # Markers no hand-written table had: +mapType=atomic, +structType=atomic, +listType.
        ("Pod", ["spec", "nodeSelector"], "atomic", ()),
        ("Pod", ["spec", "imagePullSecrets"], LIST_MAP, ("name",)),
        ("Pod", ["spec", "containers", "[]", "resources", "claims"], LIST_MAP, ("name",)),
        ("Node", ["spec", "podCIDRs"], LIST_SET, ()),
        ("Endpoints", ["subsets", "[]", "addresses", "[]"], "atomic", ()),
        ("Event", ["involvedObject"], "atomic", ()),
        ("HorizontalPodAutoscaler", ["spec", "metrics"], LIST_ATOMIC, ()),  # autoscaling/v2
    ],
)
def test_builtin_shapes_follow_the_go_types(
    kind: str, path: list[str], expected: str, keys: tuple[str, ...]
) -> None:
    """Taken from kube-apiserver's OpenAPI definitions, converted as kube-openapi's
    schemaconv does."""
    sh = shape_of(rt_of(kind))
    for step in path:
        sh = sh.item() if step == "[]" else sh.field(step)
    assert sh.kind == expected
    assert sh.keys == keys


def test_crd_shapes_follow_the_schema_markers() -> None:
    spec = SHAPE.field("spec")
    assert spec.kind == STRUCT
    assert spec.field("args").kind == LIST_ATOMIC  # unmarked CRD lists are atomic
    assert spec.field("tags").kind == LIST_SET
    assert spec.field("ports").keys == ("name", "protocol")
    assert spec.field("ports").defaults == {"protocol": "TCP"}
    assert spec.field("selector").kind == "atomic"
    assert SHAPE.field("metadata").field("labels").kind == MAP


# -- field sets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"replicas": 1}, {"f:replicas": {}}),
        ({"labels": {"a": "1"}}, {"f:labels": {"f:a": {}}}),
        ({"labels": {}}, {"f:labels": {}}),
        ({"selector": {"app": "x"}}, {"f:selector": {}}),
        ({"args": ["a", "b"]}, {"f:args": {}}),
        ({"args": []}, {"f:args": {}}),
        ({"tags": ["a", "b"]}, {"f:tags": {'v:"a"': {}, 'v:"b"': {}}}),
        ({"tags": []}, {}),
        (
            {"ports": [{"name": "http", "port": 80}]},
            {
                "f:ports": {
                    'k:{"name":"http","protocol":"TCP"}': {".": {}, "f:name": {}, "f:port": {}}
                }
            },
        ),
        ({"extra": {"a": {"b": 1}}}, {"f:extra": {"f:a": {".": {}, "f:b": {}}}}),
        ({"image": None}, {"f:image": {}}),
    ],
)
def test_field_set(spec: dict[str, Any], expected: dict[str, Any]) -> None:
    assert field_set({"spec": spec}, SHAPE) == ({"f:spec": expected} if expected else {})


def test_a_list_map_item_without_its_key_is_refused() -> None:
    with pytest.raises(SchemaError, match='omits key field "name"'):
        field_set({"spec": {"ports": [{"port": 80}]}}, SHAPE)
    with pytest.raises(SchemaError, match="duplicate entries"):
        field_set({"spec": {"tags": ["a", "a"]}}, SHAPE, strict=True)


@pytest.mark.parametrize(
    ("old", "new", "added", "modified", "removed"),
    [
        ({"replicas": 1}, {"replicas": 2}, {}, {"f:replicas": {}}, {}),
        ({}, {"labels": {"a": "1"}}, {"f:labels": {".": {}, "f:a": {}}}, {}, {}),
        (
            {"labels": {"a": "1", "b": "2"}},
            {"labels": {"a": "1"}},
            {},
            {},
            {"f:labels": {"f:b": {}}},
        ),
        ({"args": ["a"]}, {"args": ["b"]}, {}, {"f:args": {}}, {}),
        ({"tags": ["a"]}, {"tags": ["a", "b"]}, {"f:tags": {'v:"b"': {}}}, {}, {}),
        (
            {"ports": [{"name": "h", "port": 1}]},
            {"ports": [{"name": "h", "port": 2}]},
            {},
            {"f:ports": {'k:{"name":"h","protocol":"TCP"}': {"f:port": {}}}},
            {},
        ),
    ],
)
def test_compare(
    old: dict[str, Any],
    new: dict[str, Any],
    added: dict[str, Any],
    modified: dict[str, Any],
    removed: dict[str, Any],
) -> None:
    def top(t: dict[str, Any]) -> dict[str, Any]:
        return {"f:spec": t} if t else {}

    assert compare({"spec": old}, {"spec": new}, SHAPE) == (top(added), top(modified), top(removed))


@pytest.mark.parametrize(
    ("live", "config", "expected"),
    [
        # structured-merge-diff's own cases (typed/merge_test.go)
        (["a", "b"], ["b", "a"], ["b", "a"]),
        (["a", "b", "c", "g", "f"], ["c", "d", "e", "f"], ["a", "b", "c", "g", "d", "e", "f"]),
        (["c", "d", "e", "f"], ["a", "c", "e"], ["a", "c", "d", "e", "f"]),
        (["c", "a", "g", "f"], ["c", "f", "a", "g"], ["c", "f", "a", "g"]),
        (["a", "b", "c", "d"], ["d", "e", "f", "a"], ["b", "c", "d", "e", "f", "a"]),
        (
            ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"],
            ["1", "b", "2", "h", "3", "e", "4", "k", "l"],
            ["a", "1", "b", "c", "d", "f", "g", "2", "h", "i", "j", "3", "e", "4", "k", "l"],
        ),
        (["a", "b", "b"], ["b"], ["a", "b"]),
    ],
)
def test_set_merge_order(live: list[str], config: list[str], expected: list[str]) -> None:
    assert merge({"spec": {"tags": live}}, {"spec": {"tags": config}}, SHAPE) == {
        "spec": {"tags": expected}
    }


def test_merge_and_remove() -> None:
    live = {"spec": {"replicas": 1, "args": ["a"], "ports": [{"name": "h", "port": 1}]}}
    config = {"spec": {"args": ["b"], "ports": [{"name": "h", "port": 2}, {"name": "g"}]}}
    assert merge(live, config, SHAPE) == {
        "spec": {"replicas": 1, "args": ["b"], "ports": [{"name": "h", "port": 2}, {"name": "g"}]}
    }
    gone = remove(
        live, {"f:spec": {"f:args": {}, "f:ports": {'k:{"name":"h","protocol":"TCP"}': {}}}}, SHAPE
    )
    assert gone == {"spec": {"replicas": 1}}


@pytest.mark.parametrize(
    ("a", "b", "union", "difference", "intersection"),
    [
        ({"f:a": {}}, {"f:b": {}}, {"f:a": {}, "f:b": {}}, {"f:a": {}}, {}),
        (
            {"f:a": {".": {}, "f:x": {}}},
            {"f:a": {"f:y": {}}},
            {"f:a": {".": {}, "f:x": {}, "f:y": {}}},
            {"f:a": {".": {}, "f:x": {}}},
            {},
        ),
        ({"f:a": {}}, {"f:a": {"f:x": {}}}, {"f:a": {".": {}, "f:x": {}}}, {"f:a": {}}, {}),
        (
            {"f:a": {"f:x": {}}},
            {"f:a": {"f:x": {}}},
            {"f:a": {"f:x": {}}},
            {},
            {"f:a": {"f:x": {}}},
        ),
    ],
)
def test_set_algebra(
    a: dict[str, Any],
    b: dict[str, Any],
    union: dict[str, Any],
    difference: dict[str, Any],
    intersection: dict[str, Any],
) -> None:
    assert fs.union(a, b) == union
    assert fs.difference(a, b) == difference
    assert fs.intersection(a, b) == intersection


def test_recursive_difference_and_paths() -> None:
    tree = {"f:spec": {"f:a": {}}, "f:status": {"f:phase": {}}}
    assert fs.recursive_difference(tree, {"f:status": {}}) == {"f:spec": {"f:a": {}}}
    deep = {
        "f:spec": {
            "f:replicas": {},
            "f:containers": {'k:{"name":"web"}': {"f:image": {}}},
            "f:tags": {'v:"a"': {}},
        }
    }
    assert fs.member_paths(deep) == [
        ".spec.replicas",
        '.spec.containers[name="web"].image',
        '.spec.tags[="a"]',
    ]
    assert fs.canonical({"f:b": {}, ".": {}, "f:a": {}}) == {".": {}, "f:a": {}, "f:b": {}}


# -- ownership ----------------------------------------------------------------------------------

A: fm.Key = ("alice", "Apply", "", "")
B: fm.Key = ("bob", "Apply", "", "")
U: fm.Key = ("kopf", "Update", "v1", "")


def obj(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Gadget",
        "metadata": {"name": "g"},
        "spec": spec,
    }


def applied(
    live: Any, config: Any, managers: mf.Managers, key: fm.Key, force: bool = False
) -> tuple[Any, mf.Managers]:
    return mf.apply(SHAPE, live, config, managers, key, "example.com/v1", NOW, None, force)


def test_apply_owns_its_config_minus_the_objects_bookkeeping() -> None:
    out, managers = applied({}, obj(replicas=1), {}, A)
    assert out["spec"] == {"replicas": 1}
    assert managers[A].fields == {"f:spec": {"f:replicas": {}}}
    assert managers[A].time == NOW


def test_update_takes_changed_fields_from_their_owner() -> None:
    live, managers = applied({}, obj(replicas=1, image="x"), {}, A)
    new = obj(replicas=2, image="x")
    after = mf.update(SHAPE, live, new, managers, U, "v1", LATER, None)
    assert after[A].fields == {"f:spec": {"f:image": {}}}
    assert after[U].fields == {"f:spec": {"f:replicas": {}}}
    assert after[U].time == LATER
    assert mf.update(SHAPE, new, new, after, U, "v1", LATER, None) is after  # no change, no write


def test_conflict_share_and_force() -> None:
    live, managers = applied({}, obj(replicas=1), {}, A)
    with pytest.raises(ApiError) as err:
        applied(live, obj(replicas=2), managers, B)
    assert err.value.code == 409
    assert (
        err.value.message == 'Apply failed with 1 conflict: conflict with "alice": .spec.replicas'
    )
    same, shared = applied(live, obj(replicas=1), managers, B)
    assert same is live
    assert shared[A].fields == shared[B].fields == {"f:spec": {"f:replicas": {}}}
    assert shared[B].time is None  # an apply that changed nothing leaves no time
    forced, taken = applied(live, obj(replicas=2), managers, B, force=True)
    assert forced["spec"]["replicas"] == 2
    assert A not in taken


def test_prune_removes_what_the_applier_dropped_unless_another_owns_it() -> None:
    live, managers = applied({}, obj(replicas=1, image="x", tags=["a", "b"]), {}, A)
    live, managers = applied(live, obj(image="x"), managers, B)
    out, after = applied(live, obj(tags=["a"]), managers, A)
    assert out["spec"] == {"image": "x", "tags": ["a"]}
    assert after[A].fields == {"f:spec": {"f:tags": {'v:"a"': {}}}}


def test_encode_sorts_and_decode_round_trips() -> None:
    managers = {
        U: mf.ManagerSet({"f:spec": {"f:a": {}}}, "v1", NOW, None),
        B: mf.ManagerSet({"f:spec": {"f:b": {}}}, "v1", LATER, None),
        A: mf.ManagerSet({"f:spec": {"f:c": {}}}, "v1", LATER, None),
    }
    entries = mf.encode(managers)
    assert [(e["manager"], e["operation"]) for e in entries] == [
        ("alice", "Apply"),
        ("bob", "Apply"),
        ("kopf", "Update"),
    ]
    assert entries[0] == {
        "manager": "alice",
        "operation": "Apply",
        "apiVersion": "v1",
        "time": LATER,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:c": {}}},
    }
    decoded = mf.decode(entries)
    assert decoded is not None and set(decoded) == {A, B, U}
    assert mf.decode([{"manager": "x", "operation": "Bogus", "fieldsType": "FieldsV1"}]) is None
    assert mf.is_reset([]) and mf.is_reset([{}]) and not mf.is_reset(None)


@pytest.mark.parametrize(
    ("agent", "manager"),
    [
        ("kubectl/v1.37.0 (linux/amd64) kubernetes/abc", "kubectl"),
        ("kopf/1.38", "kopf"),
        ("", ""),
        ("a\x00b/1", "ab"),
        ("x" * 200, "x" * 128),
    ],
)
def test_manager_from_user_agent(agent: str, manager: str) -> None:
    assert fm.manager_from_user_agent(agent) == manager


def test_field_manager_validation() -> None:
    fm.validate_field_manager("m" * 128, "CreateOptions", False)
    with pytest.raises(ApiError, match="Too long: may not be more than 128 bytes"):
        fm.validate_field_manager("m" * 129, "CreateOptions", False)
    with pytest.raises(ApiError, match=r"invalid character U\+0007 \(at position 1\)"):
        fm.validate_field_manager("a\x07", "UpdateOptions", False)
    with pytest.raises(ApiError, match="Required value: is required for apply patch"):
        fm.validate_field_manager("", "PatchOptions", True)


def test_an_applied_field_the_schema_does_not_declare_is_refused() -> None:
    with pytest.raises(SchemaError, match=r"^\.spec\.bogus: field not declared in schema$"):
        field_set({"spec": {"bogus": 1}}, SHAPE, strict=True)
    assert field_set({"spec": {"extra": {"any": 1}}}, SHAPE, strict=True)  # preserved: fine
    deploy = shape_of(rt_of("Deployment"))
    with pytest.raises(SchemaError, match="field not declared"):
        field_set({"spec": {"template": {"spec": {"nope": True}}}}, deploy, strict=True)


def test_more_than_ten_updaters_fold_the_oldest_into_ancient_changes() -> None:
    live: dict[str, Any] = obj()
    managers: mf.Managers = {}
    for i in range(12):
        new = obj(**{f"f{i}": i, **live["spec"]})
        key = (f"m{i:02}", "Update", "v1", "")
        managers = mf.update(
            SHAPE, live, new, managers, key, "v1", f"2026-01-01T00:00:{i:02}Z", None
        )
        live = new
    names = sorted(k[0] for k in managers)
    assert len(names) == 10
    assert names[0] == "ancient-changes" and "m00" not in names and "m02" not in names
    ancient = managers[("ancient-changes", "Update", "v1", "")]
    assert ancient.fields == {"f:spec": {"f:f0": {}, "f:f1": {}, "f:f2": {}}}
    assert ancient.time == "2026-01-01T00:00:02Z"


def test_alike_objects_share_their_field_sets() -> None:
    """Alike Pods have one managedFields set (typed.intern): their generated service-account
    volumes differ, but admission adds them after the field manager ran, so nobody owns
    them; and the shared set still reads as before."""
    from tend_sim.store import Store
    from tend_sim.typed import LEAF, intern

    store = Store()
    pods = store.resource("pods")
    for i in range(2):
        store.create(
            pods,
            {
                "metadata": {"name": f"p{i}", "namespace": "default", "labels": {"app": "x"}},
                "spec": {"containers": [{"name": "main", "image": "img:1"}]},
            },
        )
    a, b = (store.get(pods, "default", f"p{i}")["metadata"]["managedFields"] for i in range(2))
    fa, fb = a[0]["fieldsV1"], b[0]["fieldsV1"]
    pa, pb = (store.get(pods, "default", f"p{i}")["spec"]["volumes"] for i in range(2))
    assert pa[0]["name"] != pb[0]["name"]  # kube-api-access-xxxxx
    assert fa is fb
    assert fa["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}
    assert "f:volumes" not in fa["f:spec"]
    assert fa["f:spec"]["f:containers"]['k:{"name":"main"}']["f:image"] == {}
    assert intern({"f:x": LEAF}) is intern({"f:x": LEAF})
    assert intern({"f:x": {"f:y": {}}}) is not intern({"f:x": {"f:y": {}}})  # {} is not LEAF


CRD_RT = ResourceType(
    group="example.com",
    version="v1",
    kind="Widget",
    plural="widgets",
    singular="widget",
    namespaced=True,
    custom=True,
    schema={"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    status_subresource=True,
)
BOOKKEEPING = {"name": "x", "namespace": "d", "uid": "u", "creationTimestamp": NOW}


@pytest.mark.parametrize(
    ("rt", "obj"),
    [
        (
            rt_of("Pod"),
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {**BOOKKEEPING, "labels": {"app": "x"}, "generation": 1},
                "spec": {
                    "containers": [{"name": "m", "image": "i", "ports": [{"containerPort": 1}]}]
                },
                "status": {"phase": "Pending"},
            },
        ),
        (rt_of("Namespace"), {"apiVersion": "v1", "kind": "Namespace", "metadata": BOOKKEEPING}),
        (rt_of("ConfigMap"), {"metadata": {**BOOKKEEPING, "annotations": {}}, "data": {"k": "v"}}),
        (CRD_RT, {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": BOOKKEEPING}),
        (
            CRD_RT,
            {
                "metadata": {**BOOKKEEPING, "finalizers": ["a"]},
                "spec": {"size": 1, "parts": [{"n": 1}], "empty": {}},
                "status": {"ready": True},
            },
        ),
        (rt_of("Pod"), {"metadata": {**BOOKKEEPING}, "spec": {"containers": [{"image": "i"}]}}),
    ],
)
@pytest.mark.parametrize("subresource", ["", "status"])
def test_a_create_records_what_the_general_update_records(
    rt: ResourceType, obj: dict[str, Any], subresource: str
) -> None:
    """record_update's create fast path (bookkeeping and reset fields left out before the
    walk) gives exactly the entries of `update` from the zero value, then `_strip`; a list
    item without its key drops managedFields in both (the last case: UpdateNoErrors). (One
    difference is intended: such an item inside a reset field, which the fast path never
    walks, does not drop them; nor does it on a real server, whose Go types emit the key.)"""
    shape = shape_of(rt)
    try:
        managers = mf.update(
            shape,
            mf.empty_object(rt, shape),
            obj,
            {},
            ("m", "Update", rt.api_version, subresource),
            rt.api_version,
            NOW,
            mf.reset_fields(rt.status_subresource, subresource),
            creating=True,
        )
    except SchemaError:
        managers = {}
    new = {**obj, "metadata": dict(obj["metadata"])}
    mf.record_update(rt, None, new, None, "m", subresource, NOW)
    assert new["metadata"].get("managedFields", []) == mf.encode(managers)
