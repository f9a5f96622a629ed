"""`pods/log` (and `kubectl logs`) on the simulated cluster: what the kube-apiserver and the
kubelet check, and what the scripted containers print."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from waiting import until

from tend_sim.cluster import SimCluster

from .conftest import KUBECTL, Api, Kubectl

PODS = "/api/v1/namespaces/default/pods"


def pod(name: str, *containers: dict[str, Any], node: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": list(containers)}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name}, "spec": spec}


def main(image: str = "postgres:16", name: str = "main", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **extra}


async def set_status(api: Api, name: str, *statuses: dict[str, Any]) -> None:
    reply = await api.patch(
        f"{PODS}/{name}/status",
        {"status": {"containerStatuses": list(statuses)}},
        "application/merge-patch+json",
    )
    assert reply.status == 200, reply.body


def cstatus(name: str, state: dict[str, Any], last: dict[str, Any] | None = None) -> Any:
    return {
        "name": name,
        "image": "postgres:16",
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "state": state,
        "lastState": last or {},
    }


async def test_the_api_server_picks_the_container(api: Api) -> None:
    await api.post(PODS, pod("two", main(name="a"), main(name="b"), node="sim-node-1"))
    reply = await api.get(f"{PODS}/two/log")
    assert (reply.status, reply.body["message"]) == (
        400,
        "a container name must be specified for pod two, choose one of: [a b]",
    )
    reply = await api.get(f"{PODS}/two/log", params={"container": "c"})
    assert (reply.status, reply.body["message"]) == (400, "container c is not valid for pod two")
    await api.post(PODS, pod("unbound", main()))
    reply = await api.get(f"{PODS}/unbound/log")
    assert (reply.status, reply.body["message"]) == (
        400,
        "pod unbound does not have a host assigned",
    )


async def test_log_options_are_validated(api: Api) -> None:
    await api.post(PODS, pod("p", main(), node="sim-node-1"))
    reply = await api.get(f"{PODS}/p/log", params={"tailLines": "-1", "limitBytes": "0"})
    assert reply.status == 422, reply.body
    assert reply.body["message"] == (
        'PodLogOptions "p" is invalid: [tailLines: Invalid value: -1: must be greater than or '
        "equal to 0, limitBytes: Invalid value: 0: must be greater than 0]"
    )
    params = {"sinceSeconds": "5", "sinceTime": "2026-01-01T00:00:00Z"}
    reply = await api.get(f"{PODS}/p/log", params=params)
    assert reply.status == 422
    assert "at most one of `sinceTime` or `sinceSeconds` may be specified" in reply.body["message"]


async def test_the_kubelet_refuses_containers_without_a_log(api: Api) -> None:
    await api.post(PODS, pod("p", main(), node="sim-node-1"))
    await set_status(api, "p", cstatus("main", {"waiting": {"reason": "ContainerCreating"}}))
    reply = await api.get(f"{PODS}/p/log")
    assert (reply.status, reply.body["message"]) == (
        400,
        'container "main" in pod "p" is waiting to start: ContainerCreating',
    )
    await set_status(api, "p", cstatus("main", {"waiting": {"reason": "ImagePullBackOff"}}))
    reply = await api.get(f"{PODS}/p/log")
    assert reply.body["message"] == (
        'container "main" in pod "p" is waiting to start: trying and failing to pull image'
    )
    running = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
    await set_status(api, "p", {**cstatus("main", running), "containerID": "containerd://1"})
    reply = await api.get(f"{PODS}/p/log", params={"previous": "true"})
    assert (reply.status, reply.body["message"]) == (
        400,
        'previous terminated container "main" in pod "p" not found',
    )


async def logs(session: aiohttp.ClientSession, url: str, **params: str) -> str:
    async with session.get(url, params=params) as resp:
        text = await resp.text()
        assert resp.status == 200, text
        return text


async def test_logs_of_a_crashing_container_current_and_previous(sim_full: SimCluster) -> None:
    async with aiohttp.ClientSession() as session:
        body = pod("crash", main("sim/crash:2s-3"))
        async with session.post(sim_full.url + PODS, json=body) as resp:
            assert resp.status == 201
        pods = sim_full.store.resource("pods")

        def restarted() -> bool:
            statuses = (sim_full.store.get(pods, "default", "crash").get("status") or {}).get(
                "containerStatuses"
            ) or [{}]
            return bool(statuses[0].get("restartCount"))

        await until(sim_full, restarted, "the container restarted")
        url = f"{sim_full.url}{PODS}/crash/log"
        previous = await logs(session, url, previous="true")
        assert previous.splitlines() == [
            "starting",
            "ready: serving requests",
            "fatal: sim/crash exits with code 3",
        ]
        assert (await logs(session, url, previous="true", tailLines="1")) == (
            "fatal: sim/crash exits with code 3\n"
        )
        assert (await logs(session, url, previous="true", limitBytes="5")) == "start"
        stamped = (await logs(session, url, previous="true", timestamps="true")).splitlines()
        stamp, _, text = stamped[0].partition(" ")
        assert text == "starting"
        assert len(stamp) == len("2026-01-01T00:00:00.000000000Z") and stamp.endswith("000Z")
        assert (await logs(session, url, previous="true", sinceTime="2999-01-01T00:00:00Z")) == ""


async def test_follow_streams_until_the_container_exits(sim_full: SimCluster) -> None:
    async with aiohttp.ClientSession() as session:
        body = pod("job", main("sim/complete:4s-0"))
        body["spec"]["restartPolicy"] = "Never"
        async with session.post(sim_full.url + PODS, json=body) as resp:
            assert resp.status == 201
        pods = sim_full.store.resource("pods")

        def running() -> bool:
            statuses = (sim_full.store.get(pods, "default", "job").get("status") or {}).get(
                "containerStatuses"
            ) or [{}]
            return "running" in (statuses[0].get("state") or {})

        await until(sim_full, running, "the container runs")
        url = f"{sim_full.url}{PODS}/job/log"
        async with session.get(url, params={"follow": "true"}) as resp:
            assert resp.status == 200
            first = await asyncio.wait_for(resp.content.readline(), 10)
            assert first == b"starting\n"
            rest = await asyncio.wait_for(resp.content.read(), 10)  # ends when the run ends
        assert rest.decode().splitlines() == ["ready: serving requests", "done"]


@pytest.mark.usefixtures("sim_full")
async def test_kubectl_logs_follows_and_previous(sim_full: SimCluster, tmp_path: Path) -> None:
    kubectl = Kubectl(sim_full.write_kubeconfig(tmp_path / "kubeconfig"))
    assert KUBECTL.exists()
    await kubectl("run", "once", "--image=sim/complete:3s-1", "--restart=Never")
    out = await kubectl("logs", "-f", "once", "--pod-running-timeout=20s")
    assert out.splitlines()[-1] == "error: sim/complete exits with code 1"
    failed = await kubectl("logs", "once", "--previous", check=False)
    assert 'previous terminated container "once" in pod "once" not found' in failed


async def test_a_follower_that_goes_away_leaves_the_server_serving(sim_full: SimCluster) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(sim_full.url + PODS, json=pod("svc", main())) as resp:
            assert resp.status == 201
        pods = sim_full.store.resource("pods")

        def running() -> bool:
            statuses = (sim_full.store.get(pods, "default", "svc").get("status") or {}).get(
                "containerStatuses"
            ) or [{}]
            return "running" in (statuses[0].get("state") or {})

        await until(sim_full, running, "the container runs")
        url = f"{sim_full.url}{PODS}/svc/log"
        async with session.get(url, params={"follow": "true"}) as resp:
            assert await asyncio.wait_for(resp.content.readline(), 10) == b"starting\n"
        # The stream was dropped mid-follow; the server still answers.
        assert (await logs(session, url, tailLines="1")).endswith("\n")
