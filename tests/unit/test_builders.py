"""The builders: what tend creates for a ManagedService, pinned by golden files and unit tests.

Golden cases live in tests/data/golden/<case>/: `input.yaml` holds one or more
ManagedServices (with fixed uids), an optional `config.yaml` the operator configuration
(snake_case keys), and `expected.yaml` the multi-document YAML of `build_all` for each
input document, in order. After an intended change to the builders, regenerate with

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_builders.py

and read the diff of expected.yaml before committing it.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tend.api import ManagedService
from tend.api.config import OperatorConfig
from tend.api.validation import InvalidSpecError, spec_problems
from tend.logic import builders
from tend.logic.builders import DESIRED_HASH_ANNOTATION, build_all, desired_hash

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
CASES = sorted(path for path in GOLDEN.iterdir() if path.is_dir())
# One case per seed-document scenario; deleting one must fail a test, not pass silently.
REQUIRED_CASES = {
    "pm2-ecosystem",
    "systemd-unit",
    "docker-unless-stopped",
    "docker-on-failure",
    "docker-no",
    "paintbox-stack",
    "migrations-job",
    "security-context-overrides",
    "probes-all-kinds",
    "prestop-delay",
    "defaults-only",
}


@pytest.fixture(autouse=True)
def _no_operator_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator configuration comes from the test, never from TEND_* variables."""
    for name in list(os.environ):
        if name.startswith("TEND_"):
            monkeypatch.delenv(name)


def dump(objects: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False, width=1000)


def render_case(case: Path) -> str:
    config_file = case / "config.yaml"
    settings = yaml.safe_load(config_file.read_text()) if config_file.exists() else None
    config = OperatorConfig(**(settings or {}))
    objects: list[dict[str, Any]] = []
    for document in yaml.safe_load_all((case / "input.yaml").read_text()):
        objects.extend(build_all(ManagedService.model_validate(document), config))
    return dump(objects)


def service(spec: dict[str, Any] | None = None, **metadata: Any) -> ManagedService:
    meta = {"name": "api", "namespace": "shop", "uid": "uid-1", **metadata}
    return ManagedService.model_validate(
        {"metadata": meta, "spec": {"image": "api:1", **(spec or {})}}
    )


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {obj["kind"]: obj for obj in objects}


def built(ms: ManagedService, kind: str, config: OperatorConfig | None = None) -> Any:
    """The object of `kind` that build_all makes for `ms`, or None."""
    return by_kind(build_all(ms, config or OperatorConfig())).get(kind)


def build_workload(ms: ManagedService, config: OperatorConfig | None = None) -> Any:
    return built(ms, "Job" if ms.spec.runs_to_completion else "Deployment", config)


def container(ms: ManagedService, config: OperatorConfig | None = None) -> dict[str, Any]:
    workload = build_workload(ms, config or OperatorConfig())
    main: dict[str, Any] = workload["spec"]["template"]["spec"]["containers"][0]
    return main


# --- golden files -------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_golden_case_renders_the_expected_objects(case: Path) -> None:
    rendered = render_case(case)
    expected_file = case / "expected.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_file.write_text(rendered)
    assert expected_file.exists(), f"run UPDATE_GOLDEN=1 to create {expected_file}"
    assert rendered == expected_file.read_text()


def test_golden_cases_cover_every_seed_scenario() -> None:
    assert {case.name for case in CASES} >= REQUIRED_CASES


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_golden_input_says_which_seed_knob_it_models(case: Path) -> None:
    first_line = (case / "input.yaml").read_text().splitlines()[0]
    assert first_line.startswith("# Seed: ")


# --- the seed knobs, spelled out ----------------------------------------------------------


def test_pm2_instances_and_memory_limit_become_replicas_and_limit() -> None:
    rendered = list(yaml.safe_load_all(render_case(GOLDEN / "pm2-ecosystem")))
    objects = by_kind(rendered)
    assert objects["Deployment"]["spec"]["replicas"] == 4
    main = objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert main["resources"]["limits"]["memory"] == "2Gi"
    assert objects["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1


def test_docker_restart_policies_choose_the_workload_kind() -> None:
    kinds = {}
    for case in ("docker-unless-stopped", "docker-on-failure", "docker-no"):
        workload = list(yaml.safe_load_all(render_case(GOLDEN / case)))[-1]
        kinds[case] = (workload["kind"], workload["spec"]["template"]["spec"]["restartPolicy"])
    assert kinds == {
        "docker-unless-stopped": ("Deployment", "Always"),
        "docker-on-failure": ("Job", "OnFailure"),
        "docker-no": ("Job", "Never"),
    }


def test_systemd_timeout_stop_sec_becomes_the_grace_period() -> None:
    workload = list(yaml.safe_load_all(render_case(GOLDEN / "systemd-unit")))[-1]
    assert workload["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 30


# --- the objects --------------------------------------------------------------------------


def test_build_all_returns_pdb_service_then_workload() -> None:
    ms = service({"replicas": 3, "ports": [{"name": "http", "containerPort": 8080}]})
    kinds = [obj["kind"] for obj in build_all(ms, OperatorConfig())]
    assert kinds == ["PodDisruptionBudget", "Service", "Deployment"]


def test_every_object_and_the_pod_template_carry_the_tend_labels() -> None:
    ms = service({"replicas": 2, "ports": [{"name": "http", "containerPort": 8080}]})
    expected = {
        "app.kubernetes.io/name": "api",
        "app.kubernetes.io/instance": "api",
        "app.kubernetes.io/managed-by": "tend",
    }
    objects = build_all(ms, OperatorConfig())
    assert [obj["metadata"]["labels"] for obj in objects] == [expected] * 3
    assert objects[-1]["spec"]["template"]["metadata"]["labels"] == expected
    assert objects[-1]["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "api",
        "app.kubernetes.io/instance": "api",
    }


def test_every_object_is_owned_by_the_managed_service() -> None:
    ms = service({"replicas": 2, "ports": [{"name": "http", "containerPort": 8080}]})
    for obj in build_all(ms, OperatorConfig()):
        assert obj["metadata"]["namespace"] == "shop"
        assert obj["metadata"]["name"] == "api"
        assert obj["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "tend.dev/v1alpha1",
                "kind": "ManagedService",
                "name": "api",
                "uid": "uid-1",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]


def test_offline_render_without_uid_has_no_owner_reference() -> None:
    ms = service(uid=None)
    assert builders.owner_reference(ms) is None
    assert "ownerReferences" not in build_workload(ms, OperatorConfig())["metadata"]


def test_objects_start_with_api_version_kind_metadata_spec() -> None:
    ms = service({"replicas": 2, "ports": [{"name": "http", "containerPort": 8080}]})
    for obj in build_all(ms, OperatorConfig()):
        assert list(obj) == ["apiVersion", "kind", "metadata", "spec"]


def test_no_service_without_ports_and_no_pdb_for_one_replica_or_a_job() -> None:
    config = OperatorConfig()
    assert built(service(), "Service", config) is None
    assert built(service({"replicas": 1}), "PodDisruptionBudget", config) is None
    job = service({"replicas": 3, "restartPolicy": {"policy": "OnFailure"}})
    assert built(job, "PodDisruptionBudget", config) is None
    assert [obj["kind"] for obj in build_all(job, config)] == ["Job"]


def test_service_targets_the_port_name_on_the_service_port() -> None:
    ports = [
        {"name": "http", "containerPort": 8080, "servicePort": 80},
        {"name": "dns", "containerPort": 5353, "protocol": "UDP"},
    ]
    svc = built(service({"ports": ports}), "Service")
    assert svc is not None
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
        {"name": "dns", "port": 5353, "targetPort": "dns", "protocol": "UDP"},
    ]


def test_deployment_rolls_out_without_downtime() -> None:
    deployment = build_workload(service(), OperatorConfig())
    assert deployment["kind"] == "Deployment"
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }


def test_slow_startup_probe_extends_the_progress_deadline() -> None:
    fast = build_workload(service(), OperatorConfig())
    slow_probe = {"exec": {"command": ["true"]}, "periodSeconds": 10, "failureThreshold": 90}
    slow = build_workload(service({"probes": {"startup": slow_probe}}), OperatorConfig())
    assert fast["spec"]["progressDeadlineSeconds"] == 600
    assert slow["spec"]["progressDeadlineSeconds"] == 900 + 60


def test_job_runs_replicas_in_parallel_with_the_restart_budget_as_backoff_limit() -> None:
    own = build_workload(
        service({"replicas": 3, "restartPolicy": {"policy": "Never", "maxRestarts": 2}}),
        OperatorConfig(),
    )
    assert own["spec"]["completions"] == own["spec"]["parallelism"] == 3
    assert own["spec"]["backoffLimit"] == 2
    default = build_workload(
        service({"restartPolicy": {"policy": "OnFailure"}}),
        OperatorConfig(budget={"max_restarts": 7}),
    )
    assert default["spec"]["backoffLimit"] == 7
    assert "selector" not in default["spec"]  # the Job controller generates its own


def test_pod_is_hardened_by_default() -> None:
    pod = build_workload(service(), OperatorConfig())["spec"]["template"]["spec"]
    main = pod["containers"][0]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert main["name"] == builders.CONTAINER_NAME == "main"
    assert main["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
    }
    assert main["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {}}]


def test_security_context_overrides_each_default_on_its_own() -> None:
    ms = service(
        {"securityContext": {"runAsUser": 1000, "capabilities": {"add": ["NET_BIND_SERVICE"]}}}
    )
    pod = build_workload(ms, OperatorConfig())["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["containers"][0]["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
    }


def test_explicit_false_overrides_a_true_default() -> None:
    main = container(service({"securityContext": {"readOnlyRootFilesystem": False}}))
    assert main["securityContext"]["readOnlyRootFilesystem"] is False


def test_resources_merge_per_key_with_the_operator_defaults() -> None:
    config = OperatorConfig(
        resources={"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}
    )
    main = container(service({"resources": {"requests": {"cpu": "1"}}}), config)
    assert main["resources"] == {
        "requests": {"cpu": "1", "memory": "64Mi"},
        "limits": {"memory": "256Mi"},
    }


def test_spec_request_above_the_default_limit_lifts_the_limit() -> None:
    main = container(service({"resources": {"requests": {"memory": "1Gi"}}}))
    assert main["resources"]["requests"]["memory"] == "1Gi"
    assert main["resources"]["limits"]["memory"] == "1Gi"


def test_spec_limit_below_the_default_request_lowers_the_request() -> None:
    main = container(service({"resources": {"limits": {"memory": "32Mi"}}}))
    assert main["resources"]["requests"]["memory"] == "32Mi"
    assert main["resources"]["limits"]["memory"] == "32Mi"


@pytest.mark.parametrize(
    ("handler", "core"),
    [
        (
            {"http": {"path": "/h", "port": "http", "httpHeaders": [{"name": "A", "value": "b"}]}},
            {
                "httpGet": {
                    "path": "/h",
                    "port": "http",
                    "scheme": "HTTP",
                    "httpHeaders": [{"name": "A", "value": "b"}],
                }
            },
        ),
        ({"tcp": {"port": 8080}}, {"tcpSocket": {"port": 8080}}),
        ({"grpc": {"port": 9090, "service": "s"}}, {"grpc": {"port": 9090, "service": "s"}}),
        ({"exec": {"command": ["true"]}}, {"exec": {"command": ["true"]}}),
    ],
    ids=["http", "tcp", "grpc", "exec"],
)
def test_probe_handlers_translate_to_core_v1(handler: dict[str, Any], core: dict[str, Any]) -> None:
    probe = {**handler, "initialDelaySeconds": 3, "timeoutSeconds": 2, "failureThreshold": 5}
    ms = service(
        {"ports": [{"name": "http", "containerPort": 8080}], "probes": {"liveness": probe}}
    )
    assert container(ms)["livenessProbe"] == {
        **core,
        "initialDelaySeconds": 3,
        "periodSeconds": 10,
        "timeoutSeconds": 2,
        "successThreshold": 1,
        "failureThreshold": 5,
    }


def test_grace_period_rounds_up_and_pre_stop_delay_is_a_sleep_action() -> None:
    ms = service({"shutdown": {"gracePeriod": "2500ms", "preStopDelay": "500ms"}})
    workload = build_workload(ms, OperatorConfig())
    assert workload["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 3
    main = workload["spec"]["template"]["spec"]["containers"][0]
    assert main["lifecycle"] == {"preStop": {"sleep": {"seconds": 1}}}


def test_no_pre_stop_hook_without_a_delay() -> None:
    assert "lifecycle" not in container(service())


# --- the desired hash ---------------------------------------------------------------------


def test_desired_hash_is_of_the_object_without_the_annotation() -> None:
    obj = build_workload(service(), OperatorConfig())
    stamped = obj["metadata"]["annotations"][DESIRED_HASH_ANNOTATION]
    assert len(stamped) == 16
    assert desired_hash(obj) == stamped
    bare = copy.deepcopy(obj)
    del bare["metadata"]["annotations"]
    assert desired_hash(bare) == stamped


def test_desired_hash_is_stable_and_changes_with_the_spec() -> None:
    config = OperatorConfig()

    def stamp(ms: ManagedService) -> str:
        hashed: str = build_workload(ms, config)["metadata"]["annotations"][DESIRED_HASH_ANNOTATION]
        return hashed

    assert stamp(service()) == stamp(service())
    assert stamp(service()) != stamp(service({"image": "api:2"}))
    assert stamp(service()) != stamp(service({"replicas": 2}))


# --- spec problems ------------------------------------------------------------------------


def test_probe_port_name_not_in_ports_is_a_problem_until_fixed() -> None:
    spec: dict[str, Any] = {
        "ports": [{"name": "http", "containerPort": 8080}],
        "probes": {"readiness": {"http": {"path": "/", "port": "htpp"}}},
    }
    problems = spec_problems(service(spec))
    assert [p.field for p in problems] == ["spec.probes.readiness.http.port"]
    assert "'htpp'" in problems[0].message
    assert "http" in problems[0].message

    spec["probes"]["readiness"]["http"]["port"] = "http"
    assert spec_problems(service(spec)) == []


def test_probe_port_number_need_not_be_in_ports() -> None:
    spec = {"probes": {"liveness": {"tcp": {"port": 9000}}}}
    assert spec_problems(service(spec)) == []


def test_probe_port_number_out_of_range_is_a_problem() -> None:
    spec = {"probes": {"liveness": {"tcp": {"port": 70000}}}}
    assert [p.field for p in spec_problems(service(spec))] == ["spec.probes.liveness.tcp.port"]


def test_quoted_port_number_is_a_name_and_says_so() -> None:
    spec = {
        "ports": [{"name": "http", "containerPort": 8080}],
        "probes": {"startup": {"tcp": {"port": "8080"}}},
    }
    (problem,) = spec_problems(service(spec))
    assert problem.field == "spec.probes.startup.tcp.port"
    assert "without quotes" in problem.message


def test_duplicate_env_names_are_a_problem_at_the_second() -> None:
    env = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "A", "value": "3"}]
    (problem,) = spec_problems(service({"env": env}))
    assert problem.field == "spec.env[2].name"
    assert "spec.env[0]" in problem.message


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"ports": [{"name": "8080", "containerPort": 8080}]}, "spec.ports[0].name"),
        ({"ports": [{"name": "a--b", "containerPort": 8080}]}, "spec.ports[0].name"),
        (
            {
                "ports": [
                    {"name": "http", "containerPort": 8080, "servicePort": 80},
                    {"name": "alt", "containerPort": 8081, "servicePort": 80},
                ]
            },
            "spec.ports[1].servicePort",
        ),
        ({"image": " api:1"}, "spec.image"),
        (
            {
                "env": [
                    {
                        "name": "MEM",
                        "valueFrom": {
                            "resourceFieldRef": {"resource": "limits.memory", "containerName": "x"}
                        },
                    }
                ]
            },
            "spec.env[0].valueFrom.resourceFieldRef.containerName",
        ),
        (
            {"securityContext": {"seccompProfile": {"type": "Localhost"}}},
            "spec.securityContext.seccompProfile.localhostProfile",
        ),
        (
            {
                "securityContext": {
                    "seccompProfile": {"type": "RuntimeDefault", "localhostProfile": "p.json"}
                }
            },
            "spec.securityContext.seccompProfile.localhostProfile",
        ),
        ({"securityContext": {"runAsUser": 0}}, "spec.securityContext.runAsUser"),
        (
            {"securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}},
            "spec.securityContext.capabilities.add",
        ),
        (
            {
                "probes": {
                    "readiness": {
                        "http": {"port": 80, "httpHeaders": [{"name": "Bad Header", "value": ""}]}
                    }
                }
            },
            "spec.probes.readiness.http.httpHeaders[0].name",
        ),
    ],
    ids=[
        "port-name-without-letter",
        "port-name-double-hyphen",
        "service-port-twice",
        "image-whitespace",
        "resource-field-ref-other-container",
        "seccomp-localhost-without-profile",
        "seccomp-profile-without-localhost",
        "root-with-run-as-non-root",
        "sys-admin-without-escalation",
        "bad-header-name",
    ],
)
def test_spec_the_schema_accepts_but_kubernetes_refuses_is_a_problem(
    spec: dict[str, Any], field: str
) -> None:
    assert [p.field for p in spec_problems(service(spec))] == [field]


def test_root_is_fine_when_run_as_non_root_is_turned_off() -> None:
    spec = {"securityContext": {"runAsUser": 0, "runAsNonRoot": False}}
    assert spec_problems(service(spec)) == []


def test_long_name_is_a_problem_because_it_is_a_label_value() -> None:
    (problem,) = spec_problems(service(name="a" * 64))
    assert problem.field == "metadata.name"


def test_service_name_must_be_a_dns_1035_label() -> None:
    ports = [{"name": "http", "containerPort": 80}]
    assert spec_problems(service({"ports": ports}, name="1api")) != []
    assert spec_problems(service({"ports": ports}, name="api.v2")) != []
    assert spec_problems(service(name="api.v2")) == []  # no Service, no constraint


def test_builders_raise_invalid_spec_and_build_nothing() -> None:
    ms = service(
        {
            "replicas": 2,
            "ports": [{"name": "http", "containerPort": 8080}],
            "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}],
            "probes": {"readiness": {"http": {"port": "nope"}}},
        }
    )
    with pytest.raises(InvalidSpecError) as raised:
        build_all(ms, OperatorConfig())
    assert [p.field for p in raised.value.problems] == [
        "spec.env[1].name",
        "spec.probes.readiness.http.port",
    ]
    assert "spec.probes.readiness.http.port: no port named 'nope'" in str(raised.value)
