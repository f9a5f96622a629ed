"""NodePort and LoadBalancer Services get nodePorts allocated like kube-apiserver does."""

from __future__ import annotations

from typing import Any

from .conftest import Api

SERVICES = "/api/v1/namespaces/default/services"


def service(name: str, type_: str, *ports: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"type": type_, "selector": {"app": name}, "ports": list(ports)},
    }


async def test_node_ports_are_allocated_in_range_and_kept_on_update(api: Api) -> None:
    reply = await api.post(
        SERVICES,
        service("web", "NodePort", {"name": "http", "port": 80}, {"name": "https", "port": 443}),
    )
    assert reply.status == 201, reply.body
    spec = reply.body["spec"]
    ports = [p["nodePort"] for p in spec["ports"]]
    assert all(30000 <= p <= 32767 for p in ports) and len(set(ports)) == 2
    assert spec["clusterIP"] and spec["externalTrafficPolicy"] == "Cluster"
    body = reply.body
    for port in body["spec"]["ports"]:
        del port["nodePort"]  # a PUT that leaves them out keeps them
    reply = await api.put(f"{SERVICES}/web", body)
    assert reply.status == 200, reply.body
    assert [p["nodePort"] for p in reply.body["spec"]["ports"]] == ports
    lb = await api.post(SERVICES, service("lb", "LoadBalancer", {"port": 80}))
    assert lb.status == 201, lb.body
    assert lb.body["spec"]["allocateLoadBalancerNodePorts"] is True
    assert 30000 <= lb.body["spec"]["ports"][0]["nodePort"] <= 32767
    plain = await api.post(SERVICES, service("plain", "ClusterIP", {"port": 80}))
    assert "nodePort" not in plain.body["spec"]["ports"][0]


async def test_a_requested_node_port_must_be_free_and_in_range(api: Api) -> None:
    reply = await api.post(SERVICES, service("a", "NodePort", {"port": 80, "nodePort": 30080}))
    assert reply.status == 201 and reply.body["spec"]["ports"][0]["nodePort"] == 30080
    reply = await api.post(SERVICES, service("b", "NodePort", {"port": 80, "nodePort": 30080}))
    assert reply.status == 422, reply.body
    assert reply.body["message"] == (
        'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: '
        "provided port is already allocated"
    )
    reply = await api.post(SERVICES, service("c", "NodePort", {"port": 80, "nodePort": 40000}))
    assert reply.status == 422
    assert reply.body["message"] == (
        'Service "c" is invalid: spec.ports[0].nodePort: Invalid value: 40000: provided port '
        "is not in the valid range. The range of valid ports is 30000-32767"
    )
    reply = await api.post(SERVICES, service("d", "ClusterIP", {"port": 80, "nodePort": 30081}))
    assert reply.status == 422
    assert (
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"
        in (reply.body["message"])
    )
    assert (await api.delete(f"{SERVICES}/a")).status == 200
    reply = await api.post(SERVICES, service("e", "NodePort", {"port": 80, "nodePort": 30080}))
    assert reply.status == 201, reply.body  # released when its Service went away
