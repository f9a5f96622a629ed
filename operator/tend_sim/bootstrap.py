"""What a fresh cluster holds before anyone writes: bootstrap RBAC policy, the `kubernetes`
Service, the built-in PriorityClasses, and per namespace `kube-root-ca.crt`.

The RBAC objects follow plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go for the roles
every authenticated user is bound to (system:basic-user, system:discovery,
system:public-info-viewer) and cluster-admin for system:masters. admin/edit/view are
aggregated ClusterRoles whose `system:aggregate-to-*` parts here are shorter than the real ones
(the common workload, config and RBAC kinds; see README's table).
"""

from __future__ import annotations

from typing import Any

from tend_sim.objects import Obj

RBAC = "rbac.authorization.k8s.io"
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
KUBERNETES_IP = "10.96.0.1"
ROOT_CA = "kube-root-ca.crt"
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters."
)
# Not a real certificate: nothing in the simulator speaks TLS.
FAKE_CA = (
    "-----BEGIN CERTIFICATE-----\n"
    "dGVuZC1zaW0gc2ltdWxhdGVkIGNsdXN0ZXIgcm9vdCBDQSAobm90IGEgcmVhbCBjZXJ0aWZpY2F0ZSk=\n"
    "-----END CERTIFICATE-----\n"
)

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
_WORKLOADS: list[tuple[str, list[str]]] = [
    (
        "",
        [
            "pods",
            "pods/log",
            "pods/status",
            "services",
            "endpoints",
            "configmaps",
            "persistentvolumeclaims",
            "serviceaccounts",
            "events",
            "limitranges",
            "resourcequotas",
            "resourcequotas/status",
        ],
    ),
    (
        "apps",
        ["deployments", "deployments/scale", "deployments/status", "replicasets", "statefulsets"],
    ),
    ("apps", ["daemonsets", "replicasets/scale", "statefulsets/scale"]),
    ("batch", ["jobs", "cronjobs"]),
    ("autoscaling", ["horizontalpodautoscalers"]),
    ("policy", ["poddisruptionbudgets"]),
    ("networking.k8s.io", ["ingresses", "networkpolicies"]),
    ("discovery.k8s.io", ["endpointslices"]),
]


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> Obj:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _view_rules() -> list[Obj]:
    return [_rule([g], r, READ) for g, r in _WORKLOADS]


def _edit_rules() -> list[Obj]:
    rules = [_rule([g], [x for x in r if not x.endswith("/status")], WRITE) for g, r in _WORKLOADS]
    rules.append(_rule([""], ["secrets"], READ + WRITE))
    rules.append(_rule([""], ["pods/eviction", "serviceaccounts/token"], ["create"]))
    rules.append(_rule([""], ["pods/ephemeralcontainers"], ["patch", "update"]))
    return rules


def _admin_rules() -> list[Obj]:
    return [
        _rule([RBAC], ["roles", "rolebindings"], READ + WRITE),
        _rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
    ]


def _cluster_role(name: str, rules: list[Obj], labels: dict[str, str] | None = None) -> Obj:
    meta: dict[str, Any] = {"name": name, "labels": {**BOOTSTRAP_LABELS, **(labels or {})}}
    meta["annotations"] = dict(AUTOUPDATE)
    return {"metadata": meta, "rules": rules}


def _aggregated(name: str, to: list[str]) -> Obj:
    role = _cluster_role(name, [])
    role["aggregationRule"] = {
        "clusterRoleSelectors": [
            {"matchLabels": {f"rbac.authorization.k8s.io/aggregate-to-{t}": "true"}} for t in to
        ]
    }
    return role


def _binding(name: str, role: str, groups: list[str]) -> Obj:
    return {
        "metadata": {"name": name, "labels": dict(BOOTSTRAP_LABELS), "annotations": AUTOUPDATE},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": RBAC, "kind": "Group", "name": g} for g in groups],
    }


def cluster_roles() -> list[Obj]:
    public = ["/healthz", "/livez", "/readyz", "/version", "/version/"]
    discovery = ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", *public]
    return [
        _cluster_role(
            "cluster-admin",
            [_rule(["*"], ["*"], ["*"]), {"nonResourceURLs": ["*"], "verbs": ["*"]}],
        ),
        _aggregated("admin", ["admin"]),
        _aggregated("edit", ["edit"]),
        _aggregated("view", ["view"]),
        _cluster_role(
            "system:aggregate-to-admin",
            _admin_rules(),
            {"rbac.authorization.k8s.io/aggregate-to-admin": "true"},
        ),
        _cluster_role(
            "system:aggregate-to-edit",
            _edit_rules(),
            {
                "rbac.authorization.k8s.io/aggregate-to-admin": "true",
                "rbac.authorization.k8s.io/aggregate-to-edit": "true",
            },
        ),
        _cluster_role(
            "system:aggregate-to-view",
            _view_rules(),
            {
                "rbac.authorization.k8s.io/aggregate-to-admin": "true",
                "rbac.authorization.k8s.io/aggregate-to-edit": "true",
                "rbac.authorization.k8s.io/aggregate-to-view": "true",
            },
        ),
        _cluster_role(
            "system:basic-user",
            [
                _rule(
                    ["authorization.k8s.io"],
                    ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                    ["create"],
                ),
                _rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"]),
            ],
        ),
        _cluster_role("system:discovery", [{"nonResourceURLs": discovery, "verbs": ["get"]}]),
        _cluster_role("system:public-info-viewer", [{"nonResourceURLs": public, "verbs": ["get"]}]),
    ]


def cluster_role_bindings() -> list[Obj]:
    return [
        _binding("cluster-admin", "cluster-admin", ["system:masters"]),
        _binding("system:basic-user", "system:basic-user", ["system:authenticated"]),
        _binding("system:discovery", "system:discovery", ["system:authenticated"]),
        _binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            ["system:authenticated", "system:unauthenticated"],
        ),
    ]


def priority_classes() -> list[Obj]:
    return [
        {
            "metadata": {"name": "system-cluster-critical"},
            "value": 2000000000,
            "description": "Used for system critical pods that must run in the cluster, but "
            "can be moved to another node if necessary.",
            "preemptionPolicy": "PreemptLowerPriority",
        },
        {
            "metadata": {"name": "system-node-critical"},
            "value": 2000001000,
            "description": "Used for system critical pods that must not be moved from their "
            "current node.",
            "preemptionPolicy": "PreemptLowerPriority",
        },
    ]


def kubernetes_service(port: int) -> tuple[Obj, Obj, Obj]:
    """The `default/kubernetes` Service, its EndpointSlice and Endpoints (kube-apiserver's own
    endpoint reconciler keeps them; here the simulated server's loopback address)."""
    service = {
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "clusterIP": KUBERNETES_IP,
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
            "sessionAffinity": "None",
            "type": "ClusterIP",
        },
    }
    endpoint_slice = {
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "kubernetes"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    }
    endpoints = {
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [
            {
                "addresses": [{"ip": "127.0.0.1"}],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            }
        ],
    }
    return service, endpoint_slice, endpoints


def install(store: Any) -> None:
    """Create the bootstrap objects in a new store."""
    reg = store.registry
    for plural, objs in (
        ("clusterroles", cluster_roles()),
        ("clusterrolebindings", cluster_role_bindings()),
    ):
        rt = reg.get(RBAC, "v1", plural)
        for obj in objs:
            store.create(rt, obj)
    pc = reg.get("scheduling.k8s.io", "v1", "priorityclasses")
    for obj in priority_classes():
        store.create(pc, obj)
    service, endpoint_slice, endpoints = kubernetes_service(6443)
    store.create(reg.get("", "v1", "services"), service)
    store.create(reg.get("discovery.k8s.io", "v1", "endpointslices"), endpoint_slice)
    store.create(reg.get("", "v1", "endpoints"), endpoints)


def root_ca_config_map(namespace: str) -> Obj:
    """What the root-ca-cert-publisher controller creates in each namespace."""
    return {
        "metadata": {
            "name": ROOT_CA,
            "namespace": namespace,
            "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION},
        },
        "data": {"ca.crt": FAKE_CA},
    }
