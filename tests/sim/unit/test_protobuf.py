"""Protobuf bodies decode into the JSON the API server would store: wrapper types, inlined
embedded structs, and zero values dropped only where encoding/json would omit them."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import message_factory

from tend_sim.errors import ApiError
from tend_sim.protobuf import _pool, decode_protobuf


def _message(name: str) -> Any:
    return message_factory.GetMessageClass(_pool().FindMessageTypeByName(name))()


def _envelope(api_version: str, kind: str, msg: Any) -> bytes:
    unknown = _message("k8s.io.apimachinery.pkg.runtime.Unknown")
    unknown.typeMeta.apiVersion = api_version
    unknown.typeMeta.kind = kind
    unknown.raw = msg.SerializeToString()
    return b"k8s\x00" + bytes(unknown.SerializeToString())


def test_a_pod_with_wrapper_types_inline_structs_and_zero_values() -> None:
    pod = _message("k8s.io.api.core.v1.Pod")
    pod.metadata.name = "p"
    pod.metadata.namespace = ""  # written by gogo, omitempty: dropped
    pod.metadata.creationTimestamp.SetInParent()  # the zero Time: null, so absent
    container = pod.spec.containers.add()
    container.name = "c"
    container.image = "nginx"
    container.stdin = False  # non-pointer omitempty bool: dropped
    container.resources.limits["memory"].string = "1Gi"
    port = container.ports.add()
    port.containerPort = 80
    port.hostPort = 0  # omitempty int: dropped
    volume = pod.spec.volumes.add()
    volume.name = "tmp"
    volume.volumeSource.emptyDir.medium = "Memory"  # VolumeSource is inlined in JSON
    pod.spec.automountServiceAccountToken = False  # a pointer: false is kept
    pod.spec.terminationGracePeriodSeconds = 0  # a pointer: 0 is kept
    probe = container.livenessProbe
    probe.handler.httpGet.port.type = 1  # ProbeHandler is inlined too
    probe.handler.httpGet.port.strVal = "http"  # IntOrString
    decoded = decode_protobuf(_envelope("v1", "Pod", pod))
    assert decoded == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory"}}],
            "containers": [
                {
                    "name": "c",
                    "image": "nginx",
                    "ports": [{"containerPort": 80}],
                    "resources": {"limits": {"memory": "1Gi"}},
                    "livenessProbe": {"httpGet": {"port": "http"}},
                }
            ],
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,
        },
    }


def test_delete_options_and_scale() -> None:
    options = _message("k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions")
    options.propagationPolicy = "Foreground"
    options.gracePeriodSeconds = 0
    assert decode_protobuf(_envelope("v1", "DeleteOptions", options)) == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "gracePeriodSeconds": 0,
        "propagationPolicy": "Foreground",
    }
    scale = _message("k8s.io.api.autoscaling.v1.Scale")
    scale.metadata.name = "web"
    scale.spec.replicas = 3
    decoded = decode_protobuf(_envelope("autoscaling/v1", "Scale", scale))
    assert decoded["spec"] == {"replicas": 3}


def test_a_kind_without_a_schema_is_415_and_garbage_is_400() -> None:
    with pytest.raises(ApiError) as unknown:
        decode_protobuf(
            _envelope("example.com/v1", "Widget", _message("k8s.io.api.core.v1.ConfigMap"))
        )
    assert unknown.value.code == 415
    with pytest.raises(ApiError) as garbage:
        decode_protobuf(b"k8s\x00\xff\xff\xff")
    assert garbage.value.code == 400
    with pytest.raises(ApiError) as no_magic:
        decode_protobuf(b"{}")
    assert no_magic.value.code == 400
