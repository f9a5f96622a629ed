"""Custom resources against openAPIV3Schema: pruning, defaulting, validation, CEL."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tend_sim.schema import (
    RULES_NOT_CHECKED,
    go_float,
    rule_errors,
    strict_decoding_message,
    validate_custom,
)

ROOT = Path(__file__).resolve().parents[3]
CRD_FILE = ROOT / "crds" / "managedservices.tend.dev.yaml"
INVALID = sorted((ROOT / "tests" / "data" / "invalid").glob("*.yaml"))
GOLDEN_INPUTS = sorted((ROOT / "tests" / "data" / "golden").glob("*/input.yaml"))

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 8}}},
        "spec": {
            "type": "object",
            "required": ["image"],
            "x-kubernetes-validations": [
                {"rule": "self.replicas <= 10", "message": "too many", "fieldPath": ".replicas"},
                {"rule": "self.image == oldSelf.image", "message": "image is immutable"},
            ],
            "properties": {
                "image": {"type": "string", "minLength": 1},
                "replicas": {"type": "integer", "minimum": 0, "default": 1},
                "ratio": {"type": "number", "exclusiveMaximum": True, "maximum": 1},
                "policy": {"type": "string", "enum": ["Always", "Never"], "default": "Always"},
                "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
                "flag": {"type": "boolean"},
                "quantity": {"x-kubernetes-int-or-string": True},
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "maxItems": 2,
                    "x-kubernetes-list-type": "set",
                },
                "ports": {
                    "type": "array",
                    "minItems": 1,
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "port": {"type": "integer", "default": 80},
                        },
                    },
                },
                "budget": {
                    "type": "object",
                    "properties": {"max": {"type": "integer", "default": 5}},
                },
                "note": {"type": "string", "nullable": True},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {
                        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                },
            },
        },
    },
}


def cr(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "x.dev/v1",
        "kind": "Thing",
        "metadata": {"name": "a", "namespace": "ns", "labels": {"k": "v"}},
        "spec": {"image": "img", **spec},
    }


def lines(result: Any) -> list[str]:
    return [c.describe() for c in result.causes]


def test_unknown_fields_are_pruned_silently_when_validation_is_ignore() -> None:
    result = validate_custom(
        SCHEMA, cr(foo=1, budget={"max": 2, "min": 1}), field_validation="Ignore"
    )
    assert result.causes == []
    assert "foo" not in result.obj["spec"]
    assert result.obj["spec"]["budget"] == {"max": 2}
    assert result.obj["metadata"]["labels"] == {"k": "v"}


def test_strict_reports_every_unknown_field_sorted_and_nothing_else() -> None:
    obj = cr(foo=1, replicas=-5, ports=[{"name": "a", "bogus": True}])
    obj["metadata"]["bogus"] = 1
    result = validate_custom(SCHEMA, obj, field_validation="Strict")
    assert [(c.reason, c.field) for c in result.causes] == [
        ("FieldValueUnknown", "metadata.bogus"),
        ("FieldValueUnknown", "spec.foo"),
        ("FieldValueUnknown", "spec.ports[0].bogus"),
    ]
    assert result.causes[1].message == 'unknown field "spec.foo"'


def test_warn_turns_unknown_fields_into_warnings_and_still_validates() -> None:
    result = validate_custom(SCHEMA, cr(foo=1, replicas=-1), field_validation="Warn")
    assert result.warnings == ['unknown field "spec.foo"']
    assert [c.field for c in result.causes] == ["spec.replicas"]


def test_strict_decoding_message_matches_the_api_server() -> None:
    assert strict_decoding_message("ManagedService", "v1alpha1", ["spec.a", "spec.b"]) == (
        'ManagedService in version "v1alpha1" cannot be handled as a ManagedService: '
        'strict decoding error: unknown field "spec.a", unknown field "spec.b"'
    )


def test_preserve_unknown_fields_and_embedded_resource_metadata_survive_pruning() -> None:
    template = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": 1}}
    result = validate_custom(SCHEMA, cr(extra={"any": {"thing": 1}}, template=template))
    assert result.causes == []
    assert result.obj["spec"]["extra"] == {"any": {"thing": 1}}
    assert result.obj["spec"]["template"]["metadata"] == {"name": "p"}


def test_embedded_resource_requires_api_version_and_kind() -> None:
    result = validate_custom(SCHEMA, cr(template={"spec": {}}))
    assert lines(result)[:2] == [
        "spec.template.apiVersion: Required value: must not be empty",
        "spec.template.kind: Required value: must not be empty",
    ]


def test_defaults_fill_missing_fields_and_objects_only_when_present() -> None:
    result = validate_custom(SCHEMA, cr(ports=[{"name": "a"}]))
    spec = result.obj["spec"]
    assert spec["replicas"] == 1
    assert spec["policy"] == "Always"
    assert spec["ports"] == [{"name": "a", "port": 80}]
    assert "budget" not in spec
    assert validate_custom(SCHEMA, cr(budget={})).obj["spec"]["budget"] == {"max": 5}


def test_null_is_defaulted_or_dropped_unless_nullable() -> None:
    result = validate_custom(SCHEMA, cr(replicas=None, flag=None, note=None))
    assert result.causes == []
    assert result.obj["spec"]["replicas"] == 1
    assert "flag" not in result.obj["spec"]
    assert result.obj["spec"]["note"] is None


def test_input_object_is_not_modified() -> None:
    obj = cr(foo=1)
    before = copy.deepcopy(obj)
    validate_custom(SCHEMA, obj, field_validation="Ignore")
    assert obj == before


def test_minimum_violation_has_the_api_server_message_and_path() -> None:
    (cause,) = validate_custom(SCHEMA, cr(replicas=-1)).causes
    assert cause.reason == "FieldValueInvalid"
    assert cause.field == "spec.replicas"
    assert cause.describe() == (
        "spec.replicas: Invalid value: -1: "
        "spec.replicas in body should be greater than or equal to 0"
    )


def test_integral_float_passes_as_integer_and_is_stored_as_int_like_upstream() -> None:
    result = validate_custom(SCHEMA, cr(replicas=3.0))
    assert result.causes == []
    assert result.obj["spec"]["replicas"] == 3
    assert type(result.obj["spec"]["replicas"]) is int


def test_fractional_number_is_not_an_integer() -> None:
    result = validate_custom(SCHEMA, cr(replicas=1.5))
    assert lines(result)[0] == (
        'spec.replicas: Invalid value: "number": '
        'spec.replicas in body must be of type integer: "number"'
    )
    assert result.causes[0].reason == "FieldValueTypeInvalid"


def test_json_true_is_not_a_string_and_a_string_is_not_a_boolean() -> None:
    result = validate_custom(SCHEMA, cr(image=True, flag="yes"))
    assert [(c.field, c.reason) for c in result.causes[:2]] == [
        ("spec.image", "FieldValueTypeInvalid"),
        ("spec.flag", "FieldValueTypeInvalid"),
    ]


def test_int_or_string_takes_either_but_not_a_bool() -> None:
    assert validate_custom(SCHEMA, cr(quantity=5)).causes == []
    assert validate_custom(SCHEMA, cr(quantity="5Gi")).causes == []
    assert validate_custom(SCHEMA, cr(quantity=True)).causes[0].field == "spec.quantity"


def test_enum_pattern_length_and_item_limits_use_api_server_messages() -> None:
    result = validate_custom(SCHEMA, cr(policy="Sometimes", name="Bad-Name", tags=["a", "b", "c"]))
    assert lines(result)[:4] == [
        'spec.policy: Unsupported value: "Sometimes": supported values: "Always", "Never"',
        "spec.name: Too long: may not be more than 5 bytes",
        "spec.name: Invalid value: \"Bad-Name\": spec.name in body should match '^[a-z]+$'",
        "spec.tags: Too many: 3: must have at most 2 items",
    ]


def test_min_items_min_length_and_exclusive_maximum() -> None:
    result = validate_custom(SCHEMA, cr(image="", ports=[], ratio=1))
    assert lines(result) == [
        'spec.image: Invalid value: "": spec.image in body should be at least 1 chars long',
        "spec.ports: Invalid value: 0: spec.ports in body should have at least 1 items",
        "spec.ratio: Invalid value: 1: spec.ratio in body should be less than 1",
    ]


def test_required_field_is_reported_and_blocks_cel_rules() -> None:
    obj = cr(replicas=50)
    del obj["spec"]["image"]
    result = validate_custom(SCHEMA, obj)
    assert [(c.reason, c.field) for c in result.causes] == [
        ("FieldValueRequired", "spec.image"),
        ("FieldValueInvalid", "<nil>"),
    ]
    assert RULES_NOT_CHECKED in result.causes[1].message


def test_list_type_set_and_map_reject_duplicates() -> None:
    result = validate_custom(SCHEMA, cr(tags=["a", "a"], ports=[{"name": "x"}, {"name": "x"}]))
    assert lines(result) == [
        'spec.tags[1]: Duplicate value: "a"',
        'spec.ports[1]: Duplicate value: map[string]interface {}{"name":"x"}',
    ]


def test_additional_properties_values_are_validated_with_their_key_in_the_path() -> None:
    result = validate_custom(SCHEMA, cr(labels={"a": 1}))
    assert result.causes[0].field == "spec.labels.a"


def test_metadata_name_is_checked_against_the_schema_and_nothing_else_in_metadata() -> None:
    obj = cr()
    obj["metadata"]["name"] = "much-too-long"
    obj["metadata"]["labels"] = {"not valid": 1}
    causes = validate_custom(SCHEMA, obj).causes
    assert causes[0].describe() == "metadata.name: Too long: may not be more than 8 bytes"
    assert [c.field for c in causes] == ["metadata.name", "<nil>"]  # TooLong blocks CEL


def test_cel_rule_failure_reports_message_at_field_path() -> None:
    (cause,) = validate_custom(SCHEMA, cr(replicas=11)).causes
    assert cause.describe() == 'spec.replicas: Invalid value: "object": too many'


def test_transition_rule_runs_only_on_update() -> None:
    assert validate_custom(SCHEMA, cr(image="new")).causes == []
    result = validate_custom(SCHEMA, cr(image="new"), old=cr(image="old"))
    assert lines(result) == ['spec: Invalid value: "object": image is immutable']


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"rule": "self.a == 1"}, 'spec: Invalid value: "object": failed rule: self.a == 1'),
        (
            {"rule": "self.a == 1", "messageExpression": "'a is ' + string(self.a)"},
            'spec: Invalid value: "object": a is 2',
        ),
        (
            {"rule": "self.a == 1", "message": "no", "reason": "FieldValueForbidden"},
            "spec: Forbidden: no",
        ),
        (
            {"rule": "self.b == 1", "message": "no"},
            'spec: Invalid value: "object": no such key: b evaluating rule: no',
        ),
    ],
)
def test_cel_rule_messages_reasons_and_runtime_errors(entry: dict[str, Any], expected: str) -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [entry],
                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            }
        },
    }
    assert lines(validate_custom(schema, {"spec": {"a": 2}})) == [expected]


def test_root_rules_see_only_name_and_generate_name_of_metadata() -> None:
    schema = {
        "type": "object",
        "x-kubernetes-validations": [
            {"rule": "self.metadata.name == 'a' && !has(self.metadata.namespace)"}
        ],
    }
    assert validate_custom(schema, cr(), field_validation="Ignore").causes == []


def test_rule_that_does_not_compile_is_a_crd_error() -> None:
    schema = {"type": "object", "x-kubernetes-validations": [{"rule": "self.x.nope()"}]}
    assert len(rule_errors(schema)) == 1
    (cause,) = validate_custom(schema, {"x": 1}, field_validation="Ignore").causes
    assert "rule compile error" in cause.message


def test_go_float_formatting_matches_fmt_v() -> None:
    assert [go_float(f) for f in (0.0, 1.0, 1.5, 1e6, 123456.0, 1e-5)] == [
        "0",
        "1",
        "1.5",
        "1e+06",
        "123456",
        "1e-05",
    ]


# --- against the real ManagedService CRD ---------------------------------------------------------


@pytest.fixture(scope="module")
def crd_schema() -> dict[str, Any]:
    assert CRD_FILE.exists(), f"{CRD_FILE} is missing: run `make crd`"
    crd = yaml.safe_load(CRD_FILE.read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_every_rule_of_the_real_crd_compiles(crd_schema: dict[str, Any]) -> None:
    assert rule_errors(crd_schema) == []


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_each_invalid_example_is_refused_at_its_field(
    crd_schema: dict[str, Any], path: Path
) -> None:
    text = path.read_text()
    header = text.splitlines()[0]
    assert header.startswith("# field: ")
    want = header.removeprefix("# field: ").strip()
    result = validate_custom(crd_schema, yaml.safe_load(text))
    assert want in [c.field for c in result.causes], lines(result)


def _golden_managed_services() -> list[dict[str, Any]]:
    return [
        doc
        for path in GOLDEN_INPUTS
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "ManagedService"
    ]


def test_valid_examples_pass_the_real_crd(crd_schema: dict[str, Any]) -> None:
    docs = _golden_managed_services()
    assert docs
    for doc in docs:
        assert lines(validate_custom(crd_schema, doc)) == [], doc["metadata"]["name"]


def test_validating_a_managed_service_is_cheap(crd_schema: dict[str, Any]) -> None:
    docs = _golden_managed_services()
    for doc in docs:  # warm the compiled schema and CEL caches
        validate_custom(crd_schema, doc)
    rounds = 20
    start = time.perf_counter()
    for _ in range(rounds):
        for doc in docs:
            validate_custom(crd_schema, doc)
    per_object = (time.perf_counter() - start) / (rounds * len(docs))
    # ~0.15-0.25 ms measured on 2 cores; the bound only catches an order-of-magnitude regression.
    assert per_object < 0.003
