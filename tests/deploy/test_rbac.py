"""deploy/rbac grants exactly what the operator uses, in cluster-wide and namespaced mode.

`operator_uses()` declares what the operator does against the API, from the code each rule's
comment in deploy/rbac/role.yaml names (tend.runtime.kube, reflector, peering, controller) and
from kopf's needs (kopf/_core/reactor/observation.py, kopf/_core/engines/peering.py). The
cluster-wide ClusterRole is also proved against a recorded run: test_least_privilege.py runs
the operator under it, RBAC enforced by the simulated API server, and compares the access log
with the grants.
"""

from __future__ import annotations

import yaml
from kustomized import ROOT, Grant, build, granted, one

OWNED = [("apps", "deployments"), ("batch", "jobs"), ("", "services"),
         ("policy", "poddisruptionbudgets")]  # fmt: skip
OWNED_VERBS = ["get", "list", "watch", "create", "update", "delete"]


def operator_uses(*, cluster_wide: bool = True) -> set[Grant]:
    """Every (group, resource, verb) `tend run` sends: -A when `cluster_wide`, else -n NS."""
    uses: set[Grant] = {
        ("tend.dev", "managedservices", "list"),  # Controller._prime
        ("tend.dev", "managedservices", "watch"),  # kopf's event handler
        ("tend.dev", "managedservices/status", "patch"),  # Kube.patch_status
        ("", "pods", "list"),  # Reflector.list
        ("", "pods", "watch"),  # Reflector.run
        ("discovery.k8s.io", "endpointslices", "list"),  # Controller._prime
        ("discovery.k8s.io", "endpointslices", "watch"),  # kopf
        ("", "events", "create"),  # Kube.post_event
        ("", "events", "patch"),  # Kube.post_event: a repeat's count
    }
    uses |= {(group, resource, verb) for group, resource in OWNED for verb in OWNED_VERBS}
    if cluster_wide:
        uses |= {
            # kopf's resource_observer; off when serving named namespaces (scanning disabled)
            ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
            ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
            ("kopf.dev", "clusterkopfpeerings", "list"),  # PeeringGate, kopf's watcher
            ("kopf.dev", "clusterkopfpeerings", "watch"),
            ("kopf.dev", "clusterkopfpeerings", "patch"),  # kopf's keepalive
        }
    else:
        uses |= {
            ("kopf.dev", "kopfpeerings", "list"),
            ("kopf.dev", "kopfpeerings", "watch"),
            ("kopf.dev", "kopfpeerings", "patch"),
        }
    return uses


def test_the_cluster_role_grants_exactly_what_the_operator_uses() -> None:
    role = one(build(ROOT / "deploy" / "rbac"), "ClusterRole", "tend")
    grants, uses = granted(role), operator_uses()
    assert grants - uses == set(), "granted but never used: remove it, or declare its use"
    assert uses - grants == set(), "used but not granted: the operator would get 403"


def test_the_cluster_role_is_bound_to_the_operators_service_account_only() -> None:
    docs = build(ROOT / "deploy" / "default")
    binding = one(docs, "ClusterRoleBinding", "tend")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "tend"}  # fmt: skip
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "tend", "namespace": "tend-system"}]  # fmt: skip
    deployment = one(docs, "Deployment", "tend")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "tend"
    # Nothing else grants the account anything: no Role reads Secrets unless asked for.
    assert [d["kind"] for d in docs if d["kind"] in ("Role", "RoleBinding")] == []


def test_the_namespaced_role_grants_exactly_what_a_namespaced_operator_uses() -> None:
    role = one(build(ROOT / "deploy" / "overlays" / "namespaced"), "Role", "tend")
    grants, uses = granted(role), operator_uses(cluster_wide=False)
    assert grants - uses == set(), "granted but never used"
    assert uses - grants == set(), "used but not granted"


def test_secret_references_get_the_operators_namespaces_secrets_and_nothing_more() -> None:
    text = (ROOT / "deploy" / "components" / "secret-refs" / "role.yaml").read_text()
    role = one(tuple(yaml.safe_load_all(text)), "Role", "tend-receivers")
    assert granted(role) == {("", "secrets", "get")}  # Credentials._secret: one GET by name
    assert role["metadata"]["namespace"] == "tend-system"
