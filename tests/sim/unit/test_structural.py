"""The structural-schema checker refuses what the API server refuses, naming the path."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tend.api.crd import build_crd
from tend_sim.structural import check_crd, check_structural, parse_json_path

R = "openAPIV3Schema"


def schema(**spec_properties: Any) -> dict[str, Any]:
    """A small valid root schema with `spec` holding the given properties."""
    return {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {"type": "object", "properties": spec_properties},
        },
    }


SPEC = f"{R}.properties[spec]"


def problems_at(s: dict[str, Any], path: str) -> list[str]:
    return [p for p in check_structural(s) if p.split(": ")[0] == path]


def problems_under(s: dict[str, Any], path: str) -> list[str]:
    return [p for p in check_structural(s) if p.split(": ")[0].startswith(path)]


def test_a_small_valid_schema_has_no_problems() -> None:
    s = schema(
        name={"type": "string", "default": "x", "maxLength": 5},
        port={
            "x-kubernetes-int-or-string": True,
            "anyOf": [{"type": "integer"}, {"type": "string"}],
        },
        labels={"type": "object", "additionalProperties": {"type": "string"}},
        extra={"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    )
    assert check_structural(s) == []


# --- types ------------------------------------------------------------------------------


def test_field_without_type() -> None:
    s = schema(name={"description": "no type"})
    assert problems_at(s, f"{SPEC}.properties[name].type") == [
        f"{SPEC}.properties[name].type: Required value: "
        "must not be empty for specified object fields"
    ]


def test_array_items_without_type() -> None:
    s = schema(tags={"type": "array", "items": {"description": "no type"}})
    assert problems_at(s, f"{SPEC}.properties[tags].items.type")


def test_array_without_items() -> None:
    s = schema(tags={"type": "array"})
    assert problems_at(s, f"{SPEC}.properties[tags].items")


def test_root_without_type_and_root_not_object() -> None:
    assert problems_at({"properties": {}}, f"{R}.type")
    assert problems_at({"type": "string"}, f"{R}.type")


def test_type_null_and_unknown_types() -> None:
    assert problems_at(schema(a={"type": "null"}), f"{SPEC}.properties[a].type")
    assert problems_at(schema(a={"type": "int"}), f"{SPEC}.properties[a].type")


def test_int_or_string_and_preserve_unknown_fields_need_no_type() -> None:
    s = schema(
        a={"x-kubernetes-int-or-string": True},
        b={"x-kubernetes-preserve-unknown-fields": True},
    )
    assert check_structural(s) == []


# --- properties and additionalProperties -------------------------------------------------


def test_additional_properties_beside_properties() -> None:
    s = schema(
        m={
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "additionalProperties": {"type": "string"},
        }
    )
    assert problems_at(s, f"{SPEC}.properties[m].additionalProperties")


def test_additional_properties_false() -> None:
    s = schema(m={"type": "object", "additionalProperties": False})
    assert problems_at(s, f"{SPEC}.properties[m].additionalProperties")


def test_additional_properties_at_the_root() -> None:
    s = schema()
    s["additionalProperties"] = {"type": "string"}
    assert problems_at(s, f"{R}.additionalProperties")


def test_additional_properties_value_schema_is_checked() -> None:
    s = schema(m={"type": "object", "additionalProperties": {"description": "x"}})
    assert problems_at(s, f"{SPEC}.properties[m].additionalProperties.type")


def test_ref_and_definitions_are_not_supported() -> None:
    s = schema(a={"$ref": "#/$defs/A"})
    assert problems_at(s, f"{SPEC}.properties[a].$ref")
    s = schema()
    s["definitions"] = {"A": {"type": "string"}}
    assert problems_at(s, f"{R}.definitions")


def test_unique_items_forbidden() -> None:
    s = schema(a={"type": "array", "items": {"type": "string"}, "uniqueItems": True})
    assert problems_at(s, f"{SPEC}.properties[a].uniqueItems")


def test_preserve_unknown_fields_false() -> None:
    s = schema(a={"type": "object", "x-kubernetes-preserve-unknown-fields": False})
    assert problems_at(s, f"{SPEC}.properties[a].x-kubernetes-preserve-unknown-fields")


def test_pattern_must_be_re2() -> None:
    assert problems_at(
        schema(a={"type": "string", "pattern": "^(?!x)"}), f"{SPEC}.properties[a].pattern"
    )
    assert problems_at(
        schema(a={"type": "string", "pattern": "(["}), f"{SPEC}.properties[a].pattern"
    )


# --- value validation (anyOf/allOf/oneOf/not) ---------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("type", "string"),
        ("description", "d"),
        ("default", "x"),
        ("nullable", True),
        ("title", "t"),
        ("additionalProperties", {"type": "string"}),
        ("x-kubernetes-preserve-unknown-fields", True),
        ("x-kubernetes-validations", [{"rule": "true"}]),
    ],
)
def test_value_validation_must_not_carry_structure(key: str, value: Any) -> None:
    s = schema(a={"type": "string", "anyOf": [{key: value}]})
    assert problems_at(s, f"{SPEC}.properties[a].anyOf[0].{key}")


@pytest.mark.parametrize("junctor", ["allOf", "oneOf"])
def test_all_junctors_are_value_validation_only(junctor: str) -> None:
    s = schema(a={"type": "string", junctor: [{"type": "string"}]})
    assert problems_at(s, f"{SPEC}.properties[a].{junctor}[0].type")


def test_not_is_value_validation_only() -> None:
    s = schema(a={"type": "string", "not": {"type": "string"}})
    assert problems_at(s, f"{SPEC}.properties[a].not.type")


def test_fields_in_value_validation_must_be_specified_structurally() -> None:
    s = schema(
        a={
            "type": "object",
            "properties": {"b": {"type": "string"}},
            "anyOf": [{"required": ["b"]}, {"properties": {"c": {"pattern": "x"}}}],
        }
    )
    assert problems_at(s, f"{SPEC}.properties[a].properties[c]") == [
        f"{SPEC}.properties[a].properties[c]: Required value: because it is defined in "
        f"{SPEC}.properties[a].anyOf[1].properties[c]"
    ]


def test_items_in_value_validation_must_be_specified_structurally() -> None:
    s = schema(a={"type": "object", "anyOf": [{"items": {"pattern": "x"}}]})
    assert problems_at(s, f"{SPEC}.properties[a].items")


def test_metadata_in_a_nested_context() -> None:
    s = schema()
    s["allOf"] = [{"properties": {"metadata": {"required": ["name"]}}}]
    assert problems_at(s, f"{R}.allOf[0].properties[metadata]")


# --- int-or-string -------------------------------------------------------------------------


def test_int_or_string_with_its_anyof_and_allof_shapes() -> None:
    shape = [{"type": "integer"}, {"type": "string"}]
    s = schema(
        a={"x-kubernetes-int-or-string": True, "anyOf": shape},
        b={"x-kubernetes-int-or-string": True, "allOf": [{"anyOf": shape}, {"pattern": "x"}]},
    )
    assert check_structural(s) == []


def test_int_or_string_with_another_anyof_shape() -> None:
    s = schema(
        a={"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "number"}]}
    )
    assert problems_at(s, f"{SPEC}.properties[a].anyOf[1].type")


def test_int_or_string_with_preserve_unknown_fields() -> None:
    s = schema(a={"x-kubernetes-int-or-string": True, "x-kubernetes-preserve-unknown-fields": True})
    assert problems_at(s, f"{SPEC}.properties[a].x-kubernetes-preserve-unknown-fields")


# --- metadata --------------------------------------------------------------------------


def test_root_metadata_may_restrict_only_name_and_generate_name() -> None:
    s = schema()
    s["properties"]["metadata"] = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 20}},
    }
    assert check_structural(s) == []
    s["properties"]["metadata"]["properties"]["labels"] = {"type": "object"}
    assert problems_at(s, f"{R}.properties[metadata]")


def test_root_metadata_must_be_an_object() -> None:
    s = schema()
    s["properties"]["metadata"] = {"type": "string"}
    assert problems_at(s, f"{R}.properties[metadata].type")


def test_root_kind_must_be_a_string() -> None:
    s = schema()
    s["properties"]["kind"] = {"type": "integer"}
    assert problems_at(s, f"{R}.properties[kind].type")


# --- defaults --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "default"),
    [
        ({"type": "integer", "minimum": 0}, -1),
        ({"type": "integer"}, "1"),
        ({"type": "string", "enum": ["A", "B"]}, "C"),
        ({"type": "string", "pattern": "^[a-z]+$"}, "ABC"),
        ({"type": "string", "maxLength": 2}, "abc"),
        ({"type": "array", "items": {"type": "string"}, "maxItems": 1}, ["a", "b"]),
        ({"type": "object", "properties": {"a": {"type": "string"}}}, {"b": "x"}),
        ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, {}),
    ],
)
def test_default_must_be_valid_against_its_schema(node: dict[str, Any], default: Any) -> None:
    s = schema(a={**node, "default": default})
    assert problems_under(s, f"{SPEC}.properties[a].default")


def test_default_under_metadata_is_forbidden() -> None:
    s = schema()
    s["properties"]["metadata"] = {
        "type": "object",
        "properties": {"name": {"type": "string", "default": "x"}},
    }
    assert problems_at(s, f"{R}.properties[metadata].properties[name].default")


# --- list and map markers ----------------------------------------------------------------


def test_list_map_keys_need_list_type_map() -> None:
    s = schema(
        a={
            "type": "array",
            "items": {"type": "object", "properties": {"k": {"type": "string"}}, "required": ["k"]},
            "x-kubernetes-list-map-keys": ["k"],
        }
    )
    assert problems_at(s, f"{SPEC}.properties[a].x-kubernetes-list-type")


def test_list_type_map_keys_must_be_required_scalar_item_properties() -> None:
    s = schema(
        a={
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"k": {"type": "string"}, "o": {"type": "object"}},
            },
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["k", "o", "missing"],
        }
    )
    assert problems_at(s, f"{SPEC}.properties[a].items.properties[k].default")
    assert problems_at(s, f"{SPEC}.properties[a].items.properties[o].type")
    assert problems_at(s, f"{SPEC}.properties[a].x-kubernetes-list-map-keys")


def test_list_type_map_without_keys_and_list_type_on_object() -> None:
    s = schema(a={"type": "array", "items": {"type": "object"}, "x-kubernetes-list-type": "map"})
    assert problems_at(s, f"{SPEC}.properties[a].x-kubernetes-list-map-keys")
    s = schema(a={"type": "object", "x-kubernetes-list-type": "set"})
    assert problems_at(s, f"{SPEC}.properties[a].type")


def test_unknown_list_and_map_types() -> None:
    s = schema(a={"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "bag"})
    assert problems_at(s, f"{SPEC}.properties[a].x-kubernetes-list-type")
    s = schema(a={"type": "object", "x-kubernetes-map-type": "loose"})
    assert problems_at(s, f"{SPEC}.properties[a].x-kubernetes-map-type")


# --- CEL rules -----------------------------------------------------------------------------


def test_cel_rule_must_be_present_and_compile() -> None:
    s = schema(
        a={"type": "string", "x-kubernetes-validations": [{"rule": " "}, {"rule": "self ==="}]}
    )
    assert problems_at(s, f"{SPEC}.properties[a].x-kubernetes-validations[0].rule")
    assert problems_at(s, f"{SPEC}.properties[a].x-kubernetes-validations[1].rule")


def test_cel_message_and_field_path_and_reason() -> None:
    rules = [
        {"rule": "true", "message": "two\nlines"},
        {"rule": "true", "fieldPath": ".nope"},
        {"rule": "true", "reason": "Whatever"},
    ]
    s = schema(
        a={
            "type": "object",
            "properties": {"b": {"type": "string"}},
            "x-kubernetes-validations": rules,
        }
    )
    base = f"{SPEC}.properties[a].x-kubernetes-validations"
    assert problems_at(s, f"{base}[0].message")
    assert problems_at(s, f"{base}[1].fieldPath")
    assert problems_at(s, f"{base}[2].reason")
    rules[1]["fieldPath"] = ".b"
    assert not problems_at(s, f"{base}[1].fieldPath")


# --- the CRD -------------------------------------------------------------------------------


def crd() -> dict[str, Any]:
    return copy.deepcopy(build_crd())


V = "spec.versions[0]"


def test_crd_with_two_storage_versions() -> None:
    c = crd()
    second = copy.deepcopy(c["spec"]["versions"][0])
    second["name"] = "v1beta1"
    c["spec"]["versions"].append(second)
    assert (
        "spec.versions: Invalid value: must have exactly one version marked as storage version"
        in check_crd(c)
    )


def test_crd_name_must_be_plural_dot_group() -> None:
    c = crd()
    c["metadata"]["name"] = "managedservice.tend.dev"
    assert any(p.startswith("metadata.name:") for p in check_crd(c))


def test_crd_names_must_be_dns_labels() -> None:
    c = crd()
    c["spec"]["names"]["shortNames"] = ["Msvc"]
    c["spec"]["names"]["listKind"] = "ManagedService"
    problems = check_crd(c)
    assert any(p.startswith("spec.names.shortNames[0]:") for p in problems)
    assert any(p.startswith("spec.names.listKind:") for p in problems)


def test_crd_printer_column_json_path_must_parse_and_exist() -> None:
    c = crd()
    columns = c["spec"]["versions"][0]["additionalPrinterColumns"]
    columns[0]["jsonPath"] = ".status.conditions[?(@.type==)].status"
    columns[1]["jsonPath"] = ".status.nothing"
    columns[2]["type"] = "int"
    problems = check_crd(c)
    assert any(p.startswith(f"{V}.additionalPrinterColumns[0].jsonPath:") for p in problems)
    assert any(p.startswith(f"{V}.additionalPrinterColumns[1].jsonPath:") for p in problems)
    assert any(p.startswith(f"{V}.additionalPrinterColumns[2].type:") for p in problems)


def test_crd_scale_paths_must_be_under_spec_and_status() -> None:
    c = crd()
    c["spec"]["versions"][0]["subresources"]["scale"]["specReplicasPath"] = ".status.replicas"
    c["spec"]["versions"][0]["subresources"]["scale"]["statusReplicasPath"] = "status.x"
    problems = check_crd(c)
    assert any(p.startswith(f"{V}.subresources.scale.specReplicasPath:") for p in problems)
    assert any(p.startswith(f"{V}.subresources.scale.statusReplicasPath:") for p in problems)


def test_crd_root_schema_is_limited_with_the_status_subresource() -> None:
    c = crd()
    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["anyOf"] = [{"required": ["spec"]}]
    assert any(p.startswith(f"{V}.schema.openAPIV3Schema.anyOf: Forbidden") for p in check_crd(c))


def test_crd_schema_problems_carry_the_version_path() -> None:
    c = crd()
    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["type"] = ""
    assert (
        f"{V}.schema.openAPIV3Schema.properties[spec].type: Required value: "
        "must not be empty for specified object fields" in check_crd(c)
    )


@pytest.mark.parametrize(
    "expr",
    [
        ".status.phase",
        '.status.conditions[?(@.type=="Ready")].status',
        ".status.blockedBy[*].name",
        ".spec.ports[0].name",
        ".metadata.labels['app']",
    ],
)
def test_json_paths_printer_columns_use_parse(expr: str) -> None:
    assert parse_json_path(expr) is None


@pytest.mark.parametrize("expr", ["status.phase", ".status[", ".status.x[?(@.a==)]", ".a b"])
def test_broken_json_paths_do_not_parse(expr: str) -> None:
    assert parse_json_path(expr) is not None
