"""ObjectMeta's omitempty fields: an empty labels, annotations, finalizers or ownerReferences is
not stored (Go's encoding/json; apiextensions' objectmeta.Coerce for custom resources)."""

from __future__ import annotations

import pytest

from .conftest import MSVC, Api, msvc

CM = "/api/v1/namespaces/default/configmaps"
EMPTY = {"labels": {}, "annotations": {}, "finalizers": [], "ownerReferences": []}


@pytest.mark.parametrize("path", [CM, MSVC], ids=["configmap", "custom-resource"])
async def test_empty_metadata_maps_and_lists_are_not_stored(api: Api, path: str) -> None:
    body = msvc("m") if path == MSVC else {"metadata": {"name": "m"}, "data": {"a": "1"}}
    body["metadata"].update(EMPTY)
    created = await api.post(path, body)
    assert created.status == 201, created.body
    assert not set(EMPTY) & set(created.body["metadata"])
    rv = created.body["metadata"]["resourceVersion"]
    # What kubectl's client-side apply and diff send for an object without annotations:
    patched = await api.patch(
        f"{path}/m", {"metadata": {"annotations": {}}}, "application/merge-patch+json"
    )
    assert patched.status == 200, patched.body
    assert "annotations" not in patched.body["metadata"]
    assert patched.body["metadata"]["resourceVersion"] == rv  # nothing changed: no write
