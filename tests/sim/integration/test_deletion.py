"""Deletion: finalizers hold objects, ownerReferences cascade (Background/Foreground/Orphan),
namespaces and CRDs take their content with them."""

from __future__ import annotations

from typing import Any

from waiting import until

from tend_sim.cluster import SimCluster

from .conftest import MSVC, Api, msvc

CM = "/api/v1/namespaces/default/configmaps"
MERGE = "application/merge-patch+json"


def owned(name: str, owner: dict[str, Any], block: bool = False) -> dict[str, Any]:
    ref = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    if block:
        ref["blockOwnerDeletion"] = True
    return {"metadata": {"name": name, "ownerReferences": [ref]}, "data": {}}


def exists(sim: SimCluster, plural: str, name: str, ns: str | None = "default") -> bool:
    rt = sim.store.resource(plural)
    try:
        sim.store.get(rt, ns, name)
    except Exception:
        return False
    return True


async def test_finalizers_block_deletion_until_removed(api: Api, sim: SimCluster) -> None:
    body = msvc("api")
    body["metadata"]["finalizers"] = ["tend.dev/cleanup"]
    await api.post(MSVC, body)
    deleted = await api.delete(f"{MSVC}/api")
    assert deleted.status == 200
    assert deleted.body["metadata"]["deletionTimestamp"]
    live = (await api.get(f"{MSVC}/api")).body
    assert live["metadata"]["deletionTimestamp"]
    # No new finalizers on an object being deleted.
    more = await api.patch(
        f"{MSVC}/api", {"metadata": {"finalizers": ["tend.dev/cleanup", "x.dev/y"]}}, MERGE
    )
    assert more.status == 422
    done = await api.patch(f"{MSVC}/api", {"metadata": {"finalizers": None}}, MERGE)
    assert done.status == 200
    assert (await api.get(f"{MSVC}/api")).status == 404


async def test_background_deletion_collects_dependents(api: Api, sim: SimCluster) -> None:
    owner = (await api.post(MSVC, msvc("api"))).body
    await api.post(CM, owned("child", owner))
    grandchild_owner = (await api.get(f"{CM}/child")).body
    await api.post(CM, owned("grandchild", grandchild_owner))
    assert (await api.delete(f"{MSVC}/api")).status == 200
    await until(
        sim,
        lambda: not exists(sim, "configmaps", "grandchild"),
        "ConfigMap default/grandchild deleted",
    )
    assert not exists(sim, "configmaps", "child")


async def test_foreground_deletion_waits_for_blocking_dependents(api: Api, sim: SimCluster) -> None:
    owner = (await api.post(MSVC, msvc("api"))).body
    child = owned("child", owner, block=True)
    child["metadata"]["finalizers"] = ["test/hold"]
    await api.post(CM, child)
    reply = await api.delete(f"{MSVC}/api", {"propagationPolicy": "Foreground"})
    assert "foregroundDeletion" in reply.body["metadata"]["finalizers"]
    await until(
        sim,
        lambda: sim.store.get(sim.store.resource("configmaps"), "default", "child")["metadata"],
        "ConfigMap default/child marked for deletion",
        satisfied=lambda meta: meta.get("deletionTimestamp"),
    )
    assert exists(sim, "managedservices", "api")  # held by its blocking dependent
    await api.patch(f"{CM}/child", {"metadata": {"finalizers": None}}, MERGE)
    await until(
        sim, lambda: not exists(sim, "managedservices", "api"), "ManagedService default/api deleted"
    )


async def test_orphan_deletion_keeps_dependents_without_the_reference(
    api: Api, sim: SimCluster
) -> None:
    owner = (await api.post(MSVC, msvc("api"))).body
    await api.post(CM, owned("child", owner))
    await api.delete(f"{MSVC}/api", params={"propagationPolicy": "Orphan"})
    await until(
        sim, lambda: not exists(sim, "managedservices", "api"), "ManagedService default/api deleted"
    )
    child = (await api.get(f"{CM}/child")).body
    assert "ownerReferences" not in child["metadata"]


async def test_jobs_orphan_their_pods_by_default_like_batch_v1(api: Api, sim: SimCluster) -> None:
    job = {
        "metadata": {"name": "once"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox:1"}],
                }
            }
        },
    }
    created = (await api.post("/apis/batch/v1/namespaces/default/jobs", job)).body
    await api.post(CM, owned("pod-ish", created))
    await api.delete("/apis/batch/v1/namespaces/default/jobs/once")
    await until(sim, lambda: not exists(sim, "jobs", "once"), "Job default/once deleted")
    assert exists(sim, "configmaps", "pod-ish")


async def test_dependents_of_an_owner_that_never_existed_are_collected(
    api: Api, sim: SimCluster
) -> None:
    ghost = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "ghost", "uid": "no-such-uid"},
    }
    await api.post(CM, owned("orphaned", ghost))
    await until(
        sim, lambda: not exists(sim, "configmaps", "orphaned"), "ConfigMap default/orphaned deleted"
    )


async def test_deleting_a_namespace_deletes_its_content(api: Api, sim: SimCluster) -> None:
    await api.post("/api/v1/namespaces", {"metadata": {"name": "shop"}})
    held = {"metadata": {"name": "held", "finalizers": ["test/hold"]}}
    await api.post("/api/v1/namespaces/shop/configmaps", held)
    await api.post("/api/v1/namespaces/shop/configmaps", {"metadata": {"name": "a"}})
    reply = await api.delete("/api/v1/namespaces/shop")
    assert reply.body["status"]["phase"] == "Terminating"
    await until(sim, lambda: not exists(sim, "configmaps", "a", "shop"), "ConfigMap shop/a deleted")
    # Held open by the finalizer of its content, the namespace refuses new content.
    assert exists(sim, "namespaces", "shop", None)
    refused = await api.post("/api/v1/namespaces/shop/configmaps", {"metadata": {"name": "b"}})
    assert (refused.status, refused.reason) == (403, "Forbidden")
    await api.patch(
        "/api/v1/namespaces/shop/configmaps/held", {"metadata": {"finalizers": None}}, MERGE
    )
    await until(sim, lambda: not exists(sim, "namespaces", "shop", None), "Namespace shop deleted")


async def test_delete_preconditions_are_checked(api: Api) -> None:
    created = (await api.post(CM, {"metadata": {"name": "a"}})).body
    wrong = await api.delete(f"{CM}/a", {"preconditions": {"uid": "other"}})
    assert (wrong.status, wrong.reason) == (409, "Conflict")
    right = await api.delete(f"{CM}/a", {"preconditions": {"uid": created["metadata"]["uid"]}})
    assert right.status == 200
    assert right.body["status"] == "Success"


async def test_delete_collection_honours_selectors(api: Api, sim: SimCluster) -> None:
    await api.post(CM, {"metadata": {"name": "a", "labels": {"x": "1"}}})
    await api.post(CM, {"metadata": {"name": "b", "labels": {"x": "2"}}})
    reply = await api.delete(CM, params={"labelSelector": "x=1"})
    assert [i["metadata"]["name"] for i in reply.body["items"]] == ["a"]
    assert exists(sim, "configmaps", "b")
    assert not exists(sim, "configmaps", "a")


async def test_dry_run_delete_keeps_the_object(api: Api, sim: SimCluster) -> None:
    await api.post(CM, {"metadata": {"name": "a"}})
    assert (await api.delete(f"{CM}/a", params={"dryRun": "All"})).status == 200
    assert exists(sim, "configmaps", "a")


async def test_an_owner_in_another_namespace_counts_as_absent(api: Api, sim: SimCluster) -> None:
    await api.post("/api/v1/namespaces", {"metadata": {"name": "other"}})
    owner = (
        await api.post("/api/v1/namespaces/other/configmaps", {"metadata": {"name": "o"}})
    ).body
    await api.post(CM, owned("cross", owner))
    await until(
        sim, lambda: not exists(sim, "configmaps", "cross"), "ConfigMap default/cross deleted"
    )
    assert exists(sim, "configmaps", "o", "other")


async def test_system_namespaces_may_not_be_deleted(api: Api) -> None:
    reply = await api.delete("/api/v1/namespaces/default")
    assert (reply.status, reply.reason) == (403, "Forbidden")
    assert (
        reply.body["message"]
        == 'namespaces "default" is forbidden: this namespace may not be deleted'
    )
