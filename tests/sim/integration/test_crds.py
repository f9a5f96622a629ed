"""CustomResourceDefinitions make kinds appear; their schema (and CEL rules) guard every write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from waiting import until

from tend_sim.cluster import SimCluster

from .conftest import MSVC, REPO, Api

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
INVALID = sorted((REPO / "tests" / "data" / "invalid").glob("*.yaml"))


def widget_crd(**overrides: Any) -> dict[str, Any]:
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.dev"},
        "spec": {
            "group": "example.dev",
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wd"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer", "minimum": 1}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    crd["spec"].update(overrides)
    return crd


async def test_a_created_crd_is_established_and_served(api: Api) -> None:
    reply = await api.post(CRDS, widget_crd())
    assert reply.status == 201, reply.body
    conditions = {c["type"]: c["status"] for c in reply.body["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    resources = (await api.get("/apis/example.dev/v1")).body["resources"]
    widget = next(r for r in resources if r["name"] == "widgets")
    assert (widget["kind"], widget["namespaced"], widget["shortNames"]) == ("Widget", True, ["wd"])
    assert "widgets/status" in [r["name"] for r in resources]
    groups = [g["name"] for g in (await api.get("/apis")).body["groups"]]
    assert "example.dev" in groups
    path = "/apis/example.dev/v1/namespaces/default/widgets"
    good = await api.post(path, {"metadata": {"name": "w"}, "spec": {"size": 2}})
    assert good.status == 201
    bad = await api.post(path, {"metadata": {"name": "v"}, "spec": {"size": 0}})
    assert bad.status == 422
    assert bad.body["details"]["causes"][0]["field"] == "spec.size"


async def test_an_invalid_crd_is_refused(api: Api) -> None:
    crd = widget_crd()
    crd["spec"]["versions"][0]["storage"] = False
    reply = await api.post(CRDS, crd)
    assert (reply.status, reply.reason) == (422, "Invalid")
    assert "spec.versions" in [c["field"] for c in reply.body["details"]["causes"]]
    misnamed = widget_crd()
    misnamed["metadata"]["name"] = "gadgets.example.dev"
    assert (await api.post(CRDS, misnamed)).status == 422


async def test_deleting_a_crd_deletes_its_objects_and_stops_serving(
    api: Api, sim: SimCluster
) -> None:
    await api.post(CRDS, widget_crd())
    path = "/apis/example.dev/v1/namespaces/default/widgets"
    await api.post(path, {"metadata": {"name": "w"}, "spec": {"size": 2}})
    await api.delete(f"{CRDS}/widgets.example.dev")

    await until(
        sim,
        lambda: sim.store.registry.get("example.dev", "v1", "widgets"),
        "widgets.example.dev no longer served",
        satisfied=lambda served: served is None,
    )
    assert (await api.get(path)).status == 404


async def test_the_managedservice_crd_is_served(api: Api) -> None:
    resources = (await api.get("/apis/tend.dev/v1alpha1")).body["resources"]
    msvc = next(r for r in resources if r["name"] == "managedservices")
    assert msvc["shortNames"] == ["msvc"]
    assert msvc["categories"] == ["all"]
    assert {"managedservices/status", "managedservices/scale"} <= {r["name"] for r in resources}


def test_there_are_invalid_samples() -> None:
    # An empty parameter list would quietly skip the test below.
    assert INVALID, "tests/data/invalid/ holds no sample"


def _expected_field(text: str) -> str:
    first = text.splitlines()[0]
    assert first.startswith("# field:"), "an invalid sample lacks its '# field:' header"
    return first.split(":", 1)[1].strip()


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
async def test_invalid_managedservices_are_refused_naming_the_field(api: Api, path: Path) -> None:
    text = path.read_text()  # noqa: ASYNC240 (a small test fixture)
    body = yaml.safe_load(text)
    body["metadata"]["namespace"] = "default"
    field = _expected_field(text)
    reply = await api.post(MSVC, body, params={"fieldValidation": "Strict"})
    causes = [c["field"] for c in (reply.body.get("details") or {}).get("causes", [])]
    if reply.status == 400:  # unknown fields fail decoding under Strict, like the real server
        assert f'unknown field "{field}"' in reply.body["message"]
    else:
        assert (reply.status, reply.reason) == (422, "Invalid"), reply.body
        assert field in causes, reply.body["message"]
