"""What a fresh cluster holds and the kinds beside the workloads: the kubernetes Service,
kube-root-ca.crt, ServiceAccount token volumes, PriorityClasses, HPAs, quotas, limit ranges,
and `kubectl debug` (pods/ephemeralcontainers)."""

from __future__ import annotations

import yaml

from tend_sim.cluster import SimCluster

from .conftest import Api, Kubectl

MERGE = "application/merge-patch+json"
PODS = "/api/v1/namespaces/default/pods"
MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def pod(name: str, **spec: object) -> dict[str, object]:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "busybox"}], **spec},
    }


async def test_default_kubernetes_service_and_its_endpoint_slice(api: Api, sim: SimCluster) -> None:
    svc = (await api.get("/api/v1/namespaces/default/services/kubernetes")).body
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["ports"][0]["name"] == "https"
    assert svc["spec"]["ports"][0]["port"] == 443
    eps = await api.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes")
    assert eps.body["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"
    assert eps.body["endpoints"][0]["addresses"] == ["127.0.0.1"]
    assert eps.body["ports"][0]["port"] == sim.port
    legacy = (await api.get("/api/v1/namespaces/default/endpoints/kubernetes")).body
    assert legacy["subsets"][0]["ports"][0]["port"] == sim.port


async def test_every_namespace_gets_a_root_ca_config_map_and_default_account(api: Api) -> None:
    await api.post("/api/v1/namespaces", {"metadata": {"name": "shop"}})
    cm = await api.get("/api/v1/namespaces/shop/configmaps/kube-root-ca.crt")
    assert cm.status == 200
    assert "BEGIN CERTIFICATE" in cm.body["data"]["ca.crt"]
    assert "kubernetes.io/description" in cm.body["metadata"]["annotations"]
    assert (await api.get("/api/v1/namespaces/shop/serviceaccounts/default")).status == 200


async def test_service_account_admission_mounts_the_token_volume(api: Api) -> None:
    created = (await api.post(PODS, pod("p", initContainers=[{"name": "i", "image": "x"}]))).body
    spec = created["spec"]
    assert spec["serviceAccountName"] == "default"
    (volume,) = spec["volumes"]
    assert volume["name"].startswith("kube-api-access-") and len(volume["name"]) == 21
    sources = volume["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
    assert sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == "metadata.namespace"
    mount = {"name": volume["name"], "readOnly": True, "mountPath": MOUNT}
    assert spec["containers"][0]["volumeMounts"] == [mount]
    assert spec["initContainers"][0]["volumeMounts"] == [mount]


async def test_no_token_volume_when_automount_is_off_on_the_pod_or_the_account(api: Api) -> None:
    # tend's pods set automountServiceAccountToken: false; they must stay as written
    off = (await api.post(PODS, pod("off", automountServiceAccountToken=False))).body
    assert "volumes" not in off["spec"]
    assert "volumeMounts" not in off["spec"]["containers"][0]
    await api.post(
        "/api/v1/namespaces/default/serviceaccounts",
        {"metadata": {"name": "quiet"}, "automountServiceAccountToken": False},
    )
    quiet = (await api.post(PODS, pod("quiet", serviceAccountName="quiet"))).body
    assert "volumes" not in quiet["spec"]
    # the pod's own setting wins over the account's
    loud = pod("loud", serviceAccountName="quiet", automountServiceAccountToken=True)
    assert (await api.post(PODS, loud)).body["spec"]["volumes"][0]["name"].startswith("kube-api")
    missing = await api.post(PODS, pod("m", serviceAccountName="nobody"))
    assert missing.status == 403
    assert missing.body["message"] == (
        'pods "m" is forbidden: error looking up service account default/nobody: '
        'serviceaccount "nobody" not found'
    )


async def test_priority_classes_and_priority_admission(api: Api) -> None:
    pcs = await api.get("/apis/scheduling.k8s.io/v1/priorityclasses")
    values = {p["metadata"]["name"]: p["value"] for p in pcs.body["items"]}
    assert values == {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}
    critical = (await api.post(PODS, pod("c", priorityClassName="system-node-critical"))).body
    assert critical["spec"]["priority"] == 2000001000
    assert critical["spec"]["preemptionPolicy"] == "PreemptLowerPriority"
    plain = (await api.post(PODS, pod("plain"))).body
    assert plain["spec"]["priority"] == 0
    unknown = await api.post(PODS, pod("u", priorityClassName="urgent"))
    assert unknown.status == 403
    assert unknown.body["message"] == (
        'pods "u" is forbidden: no PriorityClass with name urgent was found'
    )
    await api.post(
        "/apis/scheduling.k8s.io/v1/priorityclasses",
        {"metadata": {"name": "batch"}, "value": 10, "globalDefault": True},
    )
    defaulted = (await api.post(PODS, pod("d"))).body
    assert (defaulted["spec"]["priorityClassName"], defaulted["spec"]["priority"]) == ("batch", 10)


async def test_horizontal_pod_autoscaler_v1_and_v2_are_one_object(api: Api) -> None:
    v1 = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"
    v2 = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"
    hpa = {
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 5,
            "targetCPUUtilizationPercentage": 60,
        },
    }
    created = await api.post(v1, hpa)
    assert created.status == 201, created.body
    assert created.body["apiVersion"] == "autoscaling/v1"
    assert created.body["spec"]["targetCPUUtilizationPercentage"] == 60
    as_v2 = (await api.get(f"{v2}/web")).body
    assert as_v2["apiVersion"] == "autoscaling/v2"
    assert as_v2["spec"]["minReplicas"] == 1
    assert as_v2["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 60},
            },
        }
    ]
    group = (await api.get("/apis/autoscaling")).body
    assert group["preferredVersion"]["version"] == "v2"


async def test_resource_quota_mirrors_hard_and_limit_ranges_are_stored(
    api: Api, kubectl: Kubectl
) -> None:
    quota = {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "10", "requests.cpu": "4"}}}
    created = await api.post("/api/v1/namespaces/default/resourcequotas", quota)
    assert created.status == 201, created.body
    assert created.body["status"]["hard"] == {"pods": "10", "requests.cpu": "4"}
    limits = {
        "metadata": {"name": "l"},
        "spec": {"limits": [{"type": "Container", "default": {"memory": "256Mi"}}]},
    }
    assert (await api.post("/api/v1/namespaces/default/limitranges", limits)).status == 201
    out = await kubectl("get", "quota,limits,pc", "-o", "name")
    assert set(out.split()) >= {
        "resourcequota/q",
        "limitrange/l",
        "priorityclass.scheduling.k8s.io/system-node-critical",
    }


async def test_kubectl_debug_adds_an_ephemeral_container(api: Api, kubectl: Kubectl) -> None:
    await api.post(PODS, pod("web"))
    out = await kubectl("debug", "pod/web", "--image=busybox", check=False)
    assert "error" not in out.lower(), out
    live = yaml.safe_load(await kubectl("get", "pod", "web", "-o", "yaml"))
    (debugger,) = live["spec"]["ephemeralContainers"]
    assert debugger["image"] == "busybox"
    assert debugger["name"].startswith("debugger-")
    assert live["metadata"]["generation"] == 2
    # existing ephemeral containers may not be changed or removed
    sub = f"{PODS}/web/ephemeralcontainers"
    removed = await api.patch(sub, {"spec": {"ephemeralContainers": []}}, MERGE)
    assert removed.status == 422
    assert "may not be removed" in removed.body["message"]
    got = await api.get(sub)
    assert got.body["kind"] == "Pod"


async def test_pods_share_defaulted_values_but_a_patch_of_one_leaves_the_others(
    api: Api, sim: SimCluster
) -> None:
    """The default tolerations and the token volume's sources are one list for every stored
    pod; a JSON patch that changes them in one pod does not reach another."""
    for name in ("share-a", "share-b", "share-c"):
        assert (await api.post(PODS, pod(name))).status == 201
    pods = sim.store.resource("pods")
    b, c = (sim.store.get_entry(pods, "default", n).obj["spec"] for n in ("share-b", "share-c"))
    assert b["tolerations"] is c["tolerations"]
    assert b["volumes"][0]["projected"]["sources"] is c["volumes"][0]["projected"]["sources"]
    patch = [
        {"op": "add", "path": "/spec/tolerations/-", "value": {"key": "x", "operator": "Exists"}},
        {
            "op": "replace",
            "path": "/spec/volumes/0/projected/sources/0/serviceAccountToken/path",
            "value": "t2",
        },
    ]
    reply = await api.patch(f"{PODS}/share-a", patch, "application/json-patch+json")
    assert reply.status == 200, reply.body
    assert len(reply.body["spec"]["tolerations"]) == 3
    other = (await api.get(f"{PODS}/share-b")).body["spec"]
    assert len(other["tolerations"]) == 2
    assert other["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]["path"] == "token"
