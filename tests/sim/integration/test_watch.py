"""Watches behave like the real watch cache: resume from a resourceVersion, bookmarks, 410."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from waiting import until

from tend_sim.cluster import SimCluster

from .conftest import Api

CM = "/api/v1/namespaces/default/configmaps"
MERGE = "application/merge-patch+json"


async def _cm(api: Api, name: str, **labels: str) -> str:
    reply = await api.post(CM, {"metadata": {"name": name, "labels": labels}, "data": {}})
    assert reply.status == 201
    return str(reply.body["metadata"]["resourceVersion"])


async def test_watch_resumes_after_a_resource_version_without_replaying(api: Api) -> None:
    await _cm(api, "old")
    rv = await _cm(api, "a")
    await api.patch(f"{CM}/a", {"data": {"x": "1"}}, MERGE)
    await _cm(api, "b")
    events = await api.watch(CM, {"resourceVersion": rv, "timeoutSeconds": "1"}, stop_after=2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("MODIFIED", "a"),
        ("ADDED", "b"),
    ]


async def test_watch_without_resource_version_starts_with_the_current_state(api: Api) -> None:
    await _cm(api, "a")
    await _cm(api, "b")
    events = await api.watch(CM, {"timeoutSeconds": "1"}, stop_after=2)
    assert {(e["type"], e["object"]["metadata"]["name"]) for e in events} == {
        ("ADDED", "a"),
        ("ADDED", "b"),
    }


async def test_watch_sends_bookmarks_when_allowed(api: Api, sim: SimCluster) -> None:
    rv = await _cm(api, "a")
    events = await api.watch(
        CM,
        {"resourceVersion": rv, "allowWatchBookmarks": "true", "timeoutSeconds": "5"},
        stop_after=1,
    )
    assert events[0]["type"] == "BOOKMARK"
    assert events[0]["object"]["kind"] == "ConfigMap"
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) >= int(rv)


async def test_watch_ends_after_timeout_seconds(api: Api) -> None:
    rv = await _cm(api, "a")
    events = await api.watch(CM, {"resourceVersion": rv, "timeoutSeconds": "1"})
    assert events == []


async def test_too_old_resource_version_is_gone_and_a_relist_recovers() -> None:
    cluster = SimCluster(controllers=False, history_size=3)
    await cluster.start()
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cluster.url)
            first = await _cm(api, "a")
            for i in range(5):
                await api.patch(f"{CM}/a", {"data": {"n": str(i)}}, MERGE)
            events = await api.watch(CM, {"resourceVersion": first}, stop_after=1)
            assert events[0]["type"] == "ERROR"
            assert events[0]["object"]["code"] == 410
            assert events[0]["object"]["reason"] == "Expired"
            assert "too old resource version" in events[0]["object"]["message"]
            listed = await api.get(CM)
            rv = listed.body["metadata"]["resourceVersion"]
            task = asyncio.create_task(
                api.watch(CM, {"resourceVersion": rv, "timeoutSeconds": "5"}, stop_after=1)
            )
            await until(cluster, cluster.store.watch_count, "a watch open on the store")
            await api.patch(f"{CM}/a", {"data": {"n": "last"}}, MERGE)
            resumed = await task
            assert resumed[0]["type"] == "MODIFIED"
            assert resumed[0]["object"]["data"] == {"n": "last"}
    finally:
        await cluster.stop()


async def test_label_selector_watch_sees_objects_leave_and_enter(api: Api, sim: SimCluster) -> None:
    rv = await _cm(api, "a", tier="web")
    task = asyncio.create_task(
        api.watch(
            CM,
            {"resourceVersion": rv, "labelSelector": "tier=web", "timeoutSeconds": "5"},
            stop_after=2,
        )
    )
    await until(sim, sim.store.watch_count, "a watch open on the store")
    await api.patch(f"{CM}/a", {"metadata": {"labels": {"tier": "db"}}}, MERGE)
    await api.patch(f"{CM}/a", {"metadata": {"labels": {"tier": "web"}}}, MERGE)
    events = await task
    assert [e["type"] for e in events] == ["DELETED", "ADDED"]


async def test_send_initial_events_ends_with_an_annotated_bookmark(api: Api) -> None:
    await _cm(api, "a")
    events = await api.watch(
        CM,
        {
            "sendInitialEvents": "true",
            "resourceVersionMatch": "NotOlderThan",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "2",
        },
        stop_after=3,
    )
    # default's own kube-root-ca.crt comes after "a".
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "BOOKMARK"]
    assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_restarting_the_server_drops_watches_and_keeps_state(sim: SimCluster) -> None:
    async with aiohttp.ClientSession() as session:
        api = Api(session, sim.url)
        rv = await _cm(api, "a")
        port = sim.port
        async with session.get(sim.url + CM, params={"watch": "1", "resourceVersion": rv}) as resp:
            await until(sim, sim.store.watch_count, "a watch open on the store")
            await sim.restart_server()
            rest = await resp.content.read()
            assert rest == b""
        assert sim.port == port
        assert (await api.get(f"{CM}/a")).status == 200


async def test_table_watch_events_carry_rows(api: Api, sim: SimCluster) -> None:
    rv = await _cm(api, "a")
    headers = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    async with api.session.get(
        api.base + CM,
        headers=headers,
        params={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "5"},
    ) as resp:
        await until(sim, sim.store.watch_count, "a watch open on the store")
        await _cm(api, "b")
        line = await resp.content.readline()
    event = json.loads(line)
    assert event["object"]["kind"] == "Table"
    assert event["object"]["rows"][0]["cells"][0] == "b"


async def test_watching_one_object_by_its_path(api: Api, sim: SimCluster) -> None:
    rv = await _cm(api, "a")
    await _cm(api, "b")
    task = asyncio.create_task(
        api.watch(f"{CM}/a", {"resourceVersion": rv, "timeoutSeconds": "5"}, stop_after=1)
    )
    await until(sim, sim.store.watch_count, "a watch open on the store")
    await api.patch(f"{CM}/b", {"data": {"x": "1"}}, MERGE)
    await api.patch(f"{CM}/a", {"data": {"x": "2"}}, MERGE)
    events = await task
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("MODIFIED", "a")]
    assert sim.requests[("watch", "configmaps")] == 1
