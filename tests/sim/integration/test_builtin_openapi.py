"""The OpenAPI documents carry the built-in kinds' schemas: `kubectl explain` works for them."""

from __future__ import annotations

from .conftest import Api, Kubectl


async def test_kubectl_explain_builtin_fields(kubectl: Kubectl) -> None:
    replicas = await kubectl("explain", "deployment.spec.replicas")
    assert "GROUP:      apps" in replicas and "KIND:       Deployment" in replicas
    assert "FIELD: replicas <integer>" in replicas
    assert "Number of desired pods" in replicas
    resources = await kubectl("explain", "pod.spec.containers.resources")
    assert "limits\t<map[string]Quantity>" in resources
    probe = await kubectl("explain", "pods.spec.containers.livenessProbe.periodSeconds")
    assert "How often (in seconds) to perform the probe." in probe
    recursive = await kubectl("explain", "service.spec.ports", "--recursive")
    assert "nodePort\t<integer>" in recursive
    assert "targetPort\t<IntOrString>" in recursive
    crd = await kubectl("explain", "managedservice.spec.restartPolicy")
    assert "maxRestarts" in crd


async def test_openapi_documents_define_builtin_kinds(api: Api) -> None:
    v3 = await api.get("/openapi/v3/apis/apps/v1")
    schemas = v3.body["components"]["schemas"]
    deployment = schemas["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    spec_ref = deployment["properties"]["spec"]
    assert spec_ref["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}]
    assert schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["replicas"]["type"] == (
        "integer"
    )
    assert "io.k8s.api.core.v1.PodSpec" in schemas  # what the template refers to
    path = v3.body["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    body = path["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/io.k8s.api.apps.v1.Deployment"}
    v2 = await api.get("/openapi/v2")
    definitions = v2.body["definitions"]
    assert definitions["io.k8s.api.core.v1.Pod"]["properties"]["spec"]["allOf"] == [
        {"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec"}
    ]
    assert definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"] == {"type": "string"}
    assert "dev.tend.v1alpha1.ManagedService" in definitions
