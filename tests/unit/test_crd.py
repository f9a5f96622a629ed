"""The generated ManagedService CRD: shape, schema, CEL rules, and the invalid examples."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml
from pydantic import BaseModel, ValidationError

from tend import api
from tend.api import units, validation
from tend.api.crd import CRD_FILE, build_crd, openapi_schema, render_crd_yaml
from tend_sim.structural import check_crd, check_structural, validate_value

ROOT = Path(__file__).resolve().parents[2]
INVALID = sorted((ROOT / "tests/data/invalid").glob("*.yaml"))


def _schema() -> dict[str, Any]:
    return build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def _nodes(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, sub in (node.get("properties") or {}).items():
        yield from _nodes(sub, f"{path}.{name}" if path else name)
    if isinstance(node.get("items"), dict):
        yield from _nodes(node["items"], f"{path}[*]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _nodes(node["additionalProperties"], f"{path}.*")


def _at(path: str) -> dict[str, Any]:
    node = _schema()
    for part in path.split("."):
        node = node["properties"][part]
    return node


# --- the checked-in file --------------------------------------------------------------------


def test_checked_in_crd_matches_the_models() -> None:
    checked_in = (ROOT / CRD_FILE).read_text()
    assert checked_in == render_crd_yaml(), f"run `tend crd > {CRD_FILE}` and commit the result"


def test_kustomization_lists_the_crd() -> None:
    kustomization = yaml.safe_load((ROOT / "crds/kustomization.yaml").read_text())
    assert kustomization["resources"] == [Path(CRD_FILE).name]


def test_rendering_is_deterministic_yaml_of_build_crd() -> None:
    assert render_crd_yaml() == render_crd_yaml()
    assert yaml.safe_load(render_crd_yaml()) == build_crd()


# --- CRD shape ------------------------------------------------------------------------------


def test_generated_crd_passes_the_structural_checks() -> None:
    assert check_crd(build_crd()) == []
    assert check_structural(openapi_schema()) == []


def test_crd_names_scope_and_version() -> None:
    crd = build_crd()
    spec = crd["spec"]
    assert crd["metadata"]["name"] == "managedservices.tend.dev"
    assert spec["group"] == "tend.dev"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "ManagedService",
        "listKind": "ManagedServiceList",
        "plural": "managedservices",
        "singular": "managedservice",
        "shortNames": ["msvc"],
        "categories": ["all"],
    }
    [version] = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.workload.replicas",
        },
    }


def test_printer_columns() -> None:
    columns = build_crd()["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [(c["name"], c["type"], c["jsonPath"], c.get("priority", 0)) for c in columns] == [
        ("Ready", "string", '.status.conditions[?(@.type=="Ready")].status', 0),
        ("Phase", "string", ".status.phase", 0),
        ("Restarts", "integer", ".status.restarts.total", 0),
        ("Blocked-By", "string", ".status.blockedBy[*].name", 0),
        ("Age", "date", ".metadata.creationTimestamp", 0),
        ("Message", "string", '.status.conditions[?(@.type=="Ready")].message', 1),  # -o wide
    ]


# --- schema rendering -----------------------------------------------------------------------


def test_every_field_has_a_description() -> None:
    missing = [
        path
        for path, node in _nodes(_schema())
        if path not in ("", "metadata")
        and not path.endswith(("[*]", ".*"))  # list items and map values are not fields
        and not node.get("description")
    ]
    assert missing == []


def test_metadata_is_just_an_object() -> None:
    assert _schema()["properties"]["metadata"] == {"type": "object"}


def test_no_refs_titles_nulls_or_closed_objects() -> None:
    text = render_crd_yaml()
    for noise in ("$ref", "title:", "type: 'null'", "type: null", "additionalProperties: false"):
        assert noise not in text
    for path, node in _nodes(_schema()):
        assert "anyOf" not in node or node.get("x-kubernetes-int-or-string"), path
        assert "type" in node or node.get("x-kubernetes-int-or-string"), path


def test_optional_fields_render_as_their_type() -> None:
    probes = _at("spec.probes")
    assert probes["type"] == "object"
    assert _at("spec.restartPolicy.maxRestarts") == {
        "type": "integer",
        "minimum": 0,
        "maximum": 10000,
        "description": "Restarts allowed within `window` before the budget is exhausted.",
    }


def test_quantities_and_port_refs_are_int_or_string() -> None:
    limit = _at("spec.resources.limits")["additionalProperties"]
    assert limit["x-kubernetes-int-or-string"] is True
    assert limit["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert "pattern" in limit
    port = _at("spec.probes.readiness.http.port")
    assert port["x-kubernetes-int-or-string"] is True


def test_maps_are_additional_properties_without_properties() -> None:
    requests = _at("spec.resources.requests")
    assert requests["type"] == "object"
    assert "properties" not in requests
    assert "additionalProperties" in requests


def test_defaults_come_from_the_models() -> None:
    assert _at("spec.replicas")["default"] == 1
    assert _at("spec.restartPolicy")["default"] == {"policy": "Always", "onExhausted": "Alert"}
    assert _at("spec.shutdown")["default"] == {"gracePeriod": "30s", "preStopDelay": "0s"}
    assert _at("spec.alerts.resolveAfter")["default"] == "5m"
    assert _at("spec.ports")["items"]["properties"]["protocol"]["default"] == "TCP"
    assert "default" not in _at("spec.restartPolicy.maxRestarts")


def test_enums_patterns_and_bounds_are_carried() -> None:
    assert _at("spec.restartPolicy.onExhausted")["enum"] == ["Alert", "ScaleToZero", "Rollback"]
    assert _at("spec.restartPolicy.window")["pattern"] == units.DURATION_PATTERN
    assert _at("spec.ports")["maxItems"] == 64
    assert _at("spec.ports")["items"]["properties"]["name"]["maxLength"] == 15
    assert _at("status.phase")["enum"][0] == "Pending"


def test_full_status_fits_the_schema_without_pruning() -> None:
    status = api.ManagedServiceStatus.model_validate(
        {
            "observedGeneration": 7,
            "phase": "Running",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "DependencyNotReady",
                    "message": "waiting",
                    "lastTransitionTime": "2024-01-01T00:00:00Z",
                    "observedGeneration": 7,
                }
            ],
            "blockedBy": [
                {
                    "kind": "ManagedService",
                    "namespace": "shop",
                    "name": "pg",
                    "reason": "CrashLoop",
                    "message": "m",
                }
            ],
            "workload": {"kind": "Deployment", "name": "api", "replicas": 2, "readyReplicas": 2},
            "restarts": {
                "total": 14,
                "inWindow": 2,
                "budgetRemaining": 3,
                "lastReason": "OOMKilled",
                "lastExitCode": 137,
                "lastTime": "2024-01-01T00:00:00Z",
            },
            "recentFailures": [
                {
                    "time": "2024-01-01T00:00:00Z",
                    "pod": "p",
                    "container": "c",
                    "reason": "ExitCode",
                    "exitCode": 1,
                    "message": "m",
                }
            ],
            "alert": {
                "state": "Firing",
                "severity": "warning",
                "step": 0,
                "since": "2024-01-01T00:00:00Z",
                "key": "k",
                "suppressedBy": "shop/pg",
            },
        }
    )
    body = status.to_api()
    body["kopf"] = {"progress": {"handler": {"retries": 1}}}
    assert validate_value(body, _schema()["properties"]["status"], "status") == []
    assert len(body) == len(api.ManagedServiceStatus.model_fields) + 1  # all set, plus kopf


def test_design_example_spec_fits_the_schema() -> None:
    spec = {
        "image": "registry.example/shop/api:1.4.2",
        "replicas": 2,
        "ports": [{"name": "http", "containerPort": 8080}],
        "restartPolicy": {
            "policy": "Always",
            "maxRestarts": 5,
            "window": "400s",
            "minUptime": "10s",
            "onExhausted": "Alert",
        },
        "probes": {
            "readiness": {"http": {"path": "/api/health", "port": "http"}, "periodSeconds": 10},
            "liveness": {"tcp": {"port": "http"}},
            "startup": {"exec": {"command": ["true"]}, "failureThreshold": 30},
        },
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "2Gi"}},
        "shutdown": {"gracePeriod": "30s", "preStopDelay": "5s"},
        "dependsOn": [
            {"name": "postgres"},
            {"name": "migrate", "condition": "Succeeded"},
            {"service": {"name": "legacy-ldap", "namespace": "infra"}},
        ],
        "alerts": {
            "escalation": [
                {"afterFailures": 3, "severity": "warning", "receivers": ["team-slack"]}
            ],
            "resolveAfter": "5m",
        },
    }
    api.ManagedServiceSpec.model_validate(spec)
    assert validate_value(spec, _schema()["properties"]["spec"], "spec") == []


# --- CEL rules ------------------------------------------------------------------------------


def _model_rules() -> set[str]:
    rules: set[str] = set()
    for value in vars(api).values():
        if isinstance(value, type) and issubclass(value, BaseModel):
            extra = value.model_config.get("json_schema_extra")
            if isinstance(extra, dict):
                rules.update(r["rule"] for r in extra.get("x-kubernetes-validations", []))  # type: ignore[index,union-attr]
    return rules


def _crd_rules() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path, node in _nodes(_schema()):
        for rule in node.get("x-kubernetes-validations", []):
            found.setdefault(rule["rule"], []).append(path)
    return found


def test_every_model_cel_rule_is_in_the_crd() -> None:
    assert set(_crd_rules()) == _model_rules()


_ENV = celpy.Environment()


def _evaluate(rule: str, self_value: Any) -> bool:
    program = _ENV.program(_ENV.compile(rule))
    result = program.evaluate({"self": celpy.json_to_cel(self_value)})
    assert isinstance(result, celpy.celtypes.BoolType), f"{rule!r} gave {result!r}"
    return bool(result)


# rule -> (an accepted `self`, a refused `self`), as the API server sees them (defaulted).
_PORT = {"name": "http", "containerPort": 80, "protocol": "TCP"}
_RESTART = {"policy": "Always", "onExhausted": "Alert"}
CEL_EXAMPLES: dict[str, tuple[Any, Any]] = {
    "[has(self.secretKeyRef), has(self.configMapKeyRef), has(self.fieldRef),"
    " has(self.resourceFieldRef)].filter(x, x).size() == 1": (
        {"fieldRef": {"fieldPath": "metadata.name"}},
        {"fieldRef": {"fieldPath": "a"}, "secretKeyRef": {"name": "s", "key": "k"}},
    ),
    "!(has(self.value) && has(self.valueFrom))": (
        {"name": "A", "value": "1"},
        {"name": "A", "value": "1", "valueFrom": {"fieldRef": {"fieldPath": "a"}}},
    ),
    "has(self.configMapRef) != has(self.secretRef)": (
        {"configMapRef": {"name": "c"}},
        {"configMapRef": {"name": "c"}, "secretRef": {"name": "s"}},
    ),
    "self.policy == 'Always' || !has(self.onExhausted) || self.onExhausted != 'Rollback'": (
        {"policy": "Always", "onExhausted": "Rollback"},
        {"policy": "Never", "onExhausted": "Rollback"},
    ),
    "!has(self.window) || duration(self.window) > duration('0s')": (
        {**_RESTART, "window": "1h30m"},
        {**_RESTART, "window": "0m0s"},
    ),
    "[has(self.http), has(self.tcp), has(self.grpc), has(self.exec)].filter(x, x).size() == 1": (
        {"tcp": {"port": 80}, "periodSeconds": 10},
        {"tcp": {"port": 80}, "exec": {"command": ["true"]}},
    ),
    "!has(self.liveness) || self.liveness.successThreshold == 1": (
        {"liveness": {"tcp": {"port": 80}, "successThreshold": 1}},
        {"liveness": {"tcp": {"port": 80}, "successThreshold": 2}},
    ),
    "!has(self.startup) || self.startup.successThreshold == 1": (
        {"readiness": {"tcp": {"port": 80}, "successThreshold": 3}},
        {"startup": {"tcp": {"port": 80}, "successThreshold": 2}},
    ),
    "duration(self.preStopDelay) < duration(self.gracePeriod)"
    " || duration(self.preStopDelay) == duration('0s')": (
        {"gracePeriod": "0s", "preStopDelay": "0s"},
        {"gracePeriod": "10s", "preStopDelay": "10s"},
    ),
    "has(self.name) != has(self.service)": (
        {"name": "postgres"},
        {"name": "postgres", "service": {"name": "pg"}},
    ),
    "!has(self.service) || (!has(self.namespace) && !has(self.condition))": (
        {"service": {"name": "pg", "namespace": "db"}},
        {"service": {"name": "pg"}, "condition": "Succeeded"},
    ),
    "has(self.after) != has(self.afterFailures)": (
        {"afterFailures": 3, "severity": "warning"},
        {"after": "15m", "afterFailures": 3, "severity": "warning"},
    ),
    "!has(self.restartPolicy) || self.restartPolicy.policy == 'Always'"
    " || !has(self.ports) || size(self.ports) == 0": (
        {"image": "x", "restartPolicy": {**_RESTART, "policy": "OnFailure"}, "ports": []},
        {"image": "x", "restartPolicy": {**_RESTART, "policy": "OnFailure"}, "ports": [_PORT]},
    ),
    "!has(self.ports) || self.ports.all(p, self.ports.exists_one(q, q.name == p.name))": (
        {"ports": [_PORT, {**_PORT, "name": "metrics"}]},
        {"ports": [_PORT, {**_PORT, "containerPort": 81}]},
    ),
    "!has(self.spec.dependsOn) || self.spec.dependsOn.all(d,"
    " !has(d.name) || has(d.namespace) || d.name != self.metadata.name)": (
        {"metadata": {"name": "api"}, "spec": {"dependsOn": [{"name": "api", "namespace": "x"}]}},
        {"metadata": {"name": "api"}, "spec": {"dependsOn": [{"name": "pg"}, {"name": "api"}]}},
    ),
}


def test_every_cel_rule_has_examples() -> None:
    assert set(CEL_EXAMPLES) == set(_crd_rules())


@pytest.mark.parametrize("rule", sorted(CEL_EXAMPLES))
def test_cel_rule_accepts_the_valid_and_refuses_the_invalid_example(rule: str) -> None:
    valid, invalid = CEL_EXAMPLES[rule]
    assert _evaluate(rule, valid) is True
    assert _evaluate(rule, invalid) is False


def test_cel_rules_sit_under_bounded_lists_only() -> None:
    """The API server multiplies a rule's cost by how often its node can occur: every list
    or map above a rule needs maxItems/maxProperties, or the CRD is refused."""
    unbounded: list[str] = []

    def walk(node: dict[str, Any], path: str, bounded: bool) -> None:
        if node.get("x-kubernetes-validations") and not bounded:
            unbounded.append(path)
        for name, sub in (node.get("properties") or {}).items():
            walk(sub, f"{path}.{name}", bounded)
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[*]", bounded and "maxItems" in node)
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}.*", bounded and "maxProperties" in node)

    walk(_schema(), "", True)
    assert unbounded == []


def test_strings_compared_in_list_rules_are_bounded() -> None:
    assert _at("spec.ports")["items"]["properties"]["name"]["maxLength"] <= 63
    assert _at("spec.dependsOn")["items"]["properties"]["name"]["maxLength"] <= 253


# --- the invalid examples (shared test data) ---------------------------------------------


def _header_field(path: Path) -> str:
    match = re.match(r"^# field: (\S+)$", path.read_text().splitlines()[0])
    assert match, f"{path.name}: first line must be `# field: <path>`"
    return match.group(1)


def names_field(lines: list[str], field: str) -> bool:
    """An error line names `field` as its path (or a path below/above it inside the
    field), or as `parent: child ...` when a cross-field check reports on the parent."""
    for line in lines:
        where, _, message = line.partition(": ")
        if field in line.split(" ")[0] or where.startswith(field) or field.startswith(where + "["):
            return True
        leading = re.match(r"[A-Za-z][A-Za-z0-9.\[\]]*", message)
        if leading and f"{where}.{leading.group(0)}".startswith(field) and where:
            return True
    return False


def test_there_are_invalid_examples() -> None:
    assert len(INVALID) >= 8


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_models_reject_the_invalid_example_naming_its_field(path: Path) -> None:
    field = _header_field(path)
    with pytest.raises(ValidationError) as caught:
        api.ManagedService.model_validate(yaml.safe_load(path.read_text()))
    lines = validation.format_errors(caught.value)
    assert names_field(lines, field), lines


def _apply_defaults(value: Any, schema: dict[str, Any]) -> Any:
    if isinstance(value, dict) and "properties" in schema:
        for name, sub in schema["properties"].items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                _apply_defaults(value[name], sub)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _apply_defaults(item, schema["items"])
    return value


def _cel_failures(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    failures = []
    for rule in schema.get("x-kubernetes-validations", []):
        if not _evaluate(rule["rule"], value):
            failures.append(path + rule.get("fieldPath", ""))
    if isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name in value:
                failures += _cel_failures(value[name], sub, f"{path}.{name}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            failures += _cel_failures(item, schema["items"], f"{path}[{i}]")
    return failures


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_crd_schema_rejects_the_invalid_example_at_its_field(path: Path) -> None:
    field = _header_field(path)
    schema = _schema()
    body = _apply_defaults(yaml.safe_load(path.read_text()), schema)
    body["metadata"] = {"name": body["metadata"]["name"]}  # CEL sees name/generateName only
    spec_schema = schema["properties"]["spec"]
    problems = [p.split(": ")[0] for p in validate_value(body["spec"], spec_schema, "spec")]
    if not problems:
        problems = [p.lstrip(".") for p in _cel_failures(body, schema, "")]
    assert any(p.startswith(field) or field.startswith(p + "[") for p in problems), problems


def test_defaults_satisfy_the_cel_rules_of_their_node() -> None:
    """The API server runs a node's CEL rules on its default, as written in the CRD."""
    checked = 0
    for path, node in _nodes(_schema()):
        if "default" in node:
            for rule in node.get("x-kubernetes-validations", []):
                assert _evaluate(rule["rule"], node["default"]), (path, rule["rule"])
                checked += 1
    assert checked >= 3  # restartPolicy (2 rules) and shutdown carry rules and defaults
