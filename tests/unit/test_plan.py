"""The reconcile plan: create what is missing, replace what drifted, never touch others' objects."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tend.api import ManagedService
from tend.api.config import OperatorConfig
from tend.logic.builders import DESIRED_HASH_ANNOTATION, build_all
from tend.logic.ownership import Ownership, ownership
from tend.logic.plan import (
    Action,
    Refusal,
    Verb,
    drifted,
    plan,
    refusal,
    refused_message,
    replacement,
)

CONFIG = OperatorConfig()


def service(**spec: Any) -> ManagedService:
    return ManagedService.model_validate(
        {
            "apiVersion": "tend.dev/v1alpha1",
            "kind": "ManagedService",
            "metadata": {"name": "api", "namespace": "shop", "uid": "uid-1", "generation": 1},
            "spec": {"image": "example/api:1", **spec},
        }
    )


def as_live(obj: dict[str, Any], rv: str = "10") -> dict[str, Any]:
    """What the API server returns for an object we created (plus defaulted fields)."""
    live = copy.deepcopy(obj)
    live["metadata"]["resourceVersion"] = rv
    live["metadata"]["uid"] = f"uid-{obj['kind']}"
    live.setdefault("status", {})
    if obj["kind"] == "Service":
        live["spec"]["clusterIP"] = "10.0.0.7"
    return live


def live_of(ms: ManagedService) -> dict[str, dict[str, Any] | None]:
    return {o["kind"]: as_live(o) for o in build_all(ms, CONFIG)}


def test_a_new_service_creates_pdb_service_and_deployment_in_order() -> None:
    ms = service(replicas=2, ports=[{"name": "http", "containerPort": 80}])
    result = plan(ms, build_all(ms, CONFIG), {}, dependencies_ready=True)
    assert [(a.verb, a.kind) for a in result.actions] == [
        (Verb.CREATE, "Deployment"),  # the workload first: if refused, nothing to undo
        (Verb.CREATE, "Service"),
        (Verb.CREATE, "PodDisruptionBudget"),
    ]


def test_steady_state_plans_no_write() -> None:
    ms = service(replicas=2, ports=[{"name": "http", "containerPort": 80}])
    result = plan(ms, build_all(ms, CONFIG), live_of(ms), dependencies_ready=True)
    assert result.actions == []
    assert result.conflict is None


def test_a_changed_image_replaces_the_deployment_with_its_resource_version() -> None:
    old = service()
    new = service(image="example/api:2")
    result = plan(new, build_all(new, CONFIG), live_of(old), dependencies_ready=True)
    assert [(a.verb, a.kind) for a in result.actions] == [(Verb.REPLACE, "Deployment")]
    action = result.actions[0]
    assert action.body is not None
    assert action.body["metadata"]["resourceVersion"] == "10"
    containers = action.body["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == "example/api:2"


def test_removing_ports_deletes_the_service_we_own() -> None:
    old = service(ports=[{"name": "http", "containerPort": 80}])
    new = service()
    result = plan(new, build_all(new, CONFIG), live_of(old), dependencies_ready=True)
    assert [(a.verb, a.kind) for a in result.actions] == [
        (Verb.REPLACE, "Deployment"),  # the container no longer declares the port
        (Verb.DELETE, "Service"),
    ]


def test_a_foreign_object_is_never_touched_and_nothing_partial_is_written() -> None:
    ms = service(ports=[{"name": "http", "containerPort": 80}])
    foreign = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "api", "namespace": "shop", "resourceVersion": "3"},
        "spec": {"ports": [{"port": 80}]},
    }
    result = plan(ms, build_all(ms, CONFIG), {"Service": foreign}, dependencies_ready=True)
    assert result.actions == []
    assert result.conflict is not None
    assert "Service shop/api exists and is not managed by this ManagedService" in result.conflict


def test_a_foreign_object_we_do_not_need_is_left_alone() -> None:
    ms = service()
    foreign = {"kind": "Service", "metadata": {"name": "api", "ownerReferences": []}}
    result = plan(ms, build_all(ms, CONFIG), {"Service": foreign}, dependencies_ready=True)
    assert result.actions != [] and all(a.kind != "Service" for a in result.actions)
    assert result.conflict is None


def test_an_orphan_with_our_labels_is_adopted() -> None:
    ms = service()
    live = live_of(ms)
    deployment = live["Deployment"]
    assert deployment is not None
    del deployment["metadata"]["ownerReferences"]
    assert ownership(deployment, ms) == Ownership.ORPHAN
    result = plan(ms, build_all(ms, CONFIG), live, dependencies_ready=True)
    assert [(a.verb, a.kind) for a in result.actions] == [(Verb.REPLACE, "Deployment")]
    body = result.actions[0].body
    assert body is not None
    assert body["metadata"]["ownerReferences"][0]["uid"] == "uid-1"


def test_an_orphaned_job_is_adopted_by_owner_alone_and_a_changed_one_recreated() -> None:
    """A Job's selector and template are immutable (and defaulted by the server): adopting
    one rewrites its metadata only; an orphan of another template is deleted, then made."""
    ms = service(restartPolicy={"policy": "OnFailure"})
    job = as_live(next(o for o in build_all(ms, CONFIG) if o["kind"] == "Job"))
    del job["metadata"]["ownerReferences"]
    job["spec"]["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}}
    live: dict[str, Any] = {"Job": job}
    result = plan(ms, build_all(ms, CONFIG), live, dependencies_ready=True)
    assert [(a.verb, a.kind) for a in result.actions] == [(Verb.REPLACE, "Job")]
    body = result.actions[0].body
    assert body is not None
    assert body["spec"] == job["spec"]  # as the server has it, selector included
    assert body["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    job["metadata"]["annotations"][DESIRED_HASH_ANNOTATION] = "another-template"
    result = plan(ms, build_all(ms, CONFIG), live, dependencies_ready=True)
    assert [(a.verb, a.kind) for a in result.actions] == [(Verb.DELETE, "Job")]


def test_an_object_owned_by_an_older_managed_service_of_the_same_name_is_foreign() -> None:
    ms = service()
    live = live_of(ms)
    deployment = live["Deployment"]
    assert deployment is not None
    deployment["metadata"]["ownerReferences"][0]["uid"] = "uid-of-a-deleted-one"
    assert ownership(deployment, ms) == Ownership.FOREIGN


def test_hand_edits_are_drift_and_get_reverted() -> None:
    ms = service(replicas=3)
    live = live_of(ms)
    deployment = live["Deployment"]
    assert deployment is not None
    deployment["spec"]["replicas"] = 1  # kubectl scale
    result = plan(ms, build_all(ms, CONFIG), live, dependencies_ready=True)
    assert [(a.verb, a.kind) for a in result.actions] == [(Verb.REPLACE, "Deployment")]


def test_server_defaults_are_not_drift() -> None:
    ms = service()
    desired = build_all(ms, CONFIG)[-1]
    live = as_live(desired)
    live["spec"]["template"]["spec"]["dnsPolicy"] = "ClusterFirst"
    live["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = 1
    assert not drifted(desired, live)


def test_blocked_dependencies_hold_back_the_workload_but_not_the_service() -> None:
    ms = service(ports=[{"name": "http", "containerPort": 80}])
    result = plan(ms, build_all(ms, CONFIG), {}, dependencies_ready=False)
    assert [(a.verb, a.kind) for a in result.actions] == [(Verb.CREATE, "Service")]
    ready = plan(ms, build_all(ms, CONFIG), {}, dependencies_ready=True)
    assert next((a.verb, a.kind) for a in ready.actions) == (Verb.CREATE, "Deployment")


def test_a_new_generation_waits_for_dependencies_and_the_old_keeps_running() -> None:
    old = service()
    new = service(image="example/api:2")
    result = plan(new, build_all(new, CONFIG), live_of(old), dependencies_ready=False)
    assert result.actions == []
    ready = plan(new, build_all(new, CONFIG), live_of(old), dependencies_ready=True)
    assert [(a.verb, a.kind) for a in ready.actions] == [(Verb.REPLACE, "Deployment")]


def test_a_changed_job_is_deleted_then_created_again() -> None:
    old = service(restartPolicy={"policy": "OnFailure"}, command=["migrate", "v1"])
    new = service(restartPolicy={"policy": "OnFailure"}, command=["migrate", "v2"])
    result = plan(new, build_all(new, CONFIG), live_of(old), dependencies_ready=True)
    assert [(a.verb, a.kind) for a in result.actions] == [(Verb.DELETE, "Job")]
    result = plan(new, build_all(new, CONFIG), {}, dependencies_ready=True)
    assert [(a.verb, a.kind) for a in result.actions] == [(Verb.CREATE, "Job")]


def test_switching_to_run_to_completion_replaces_the_deployment_with_a_job() -> None:
    old = service()
    new = service(restartPolicy={"policy": "Never"})
    result = plan(new, build_all(new, CONFIG), live_of(old), dependencies_ready=True)
    assert [(a.verb, a.kind) for a in result.actions] == [
        (Verb.DELETE, "Deployment"),
        (Verb.CREATE, "Job"),
    ]


def test_a_replace_keeps_allocated_service_fields_and_foreign_labels() -> None:
    ms = service(ports=[{"name": "http", "containerPort": 80}])
    desired = next(o for o in build_all(ms, CONFIG) if o["kind"] == "Service")
    live = as_live(desired)
    live["metadata"]["labels"]["team"] = "shop"
    live["metadata"]["annotations"][DESIRED_HASH_ANNOTATION] = "stale"
    body = replacement(desired, live)
    assert body["spec"]["clusterIP"] == "10.0.0.7"
    assert body["metadata"]["labels"]["team"] == "shop"
    assert body["metadata"]["annotations"][DESIRED_HASH_ANNOTATION] != "stale"


@pytest.mark.parametrize(
    ("status", "meaning"),
    [
        (400, Refusal.INVALID),
        (422, Refusal.INVALID),
        (404, Refusal.STALE),
        (409, Refusal.STALE),
        (403, None),
        (429, None),
        (500, None),
        (503, None),
    ],
)
def test_api_errors_on_writes_are_the_spec_a_stale_cache_or_not_ours(
    status: int, meaning: Refusal | None
) -> None:
    assert refusal(status) == meaning


def test_a_refused_object_is_named_with_the_servers_message() -> None:
    action = Action(Verb.CREATE, "Deployment", "api")
    message = refused_message(action, "shop", 'spec.template: Invalid value: "x"')
    assert message == (
        'Deployment shop/api refused by the API server: spec.template: Invalid value: "x"'
    )
