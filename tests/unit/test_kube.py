"""The API client: configuration read once, not per request."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tend.runtime.handlers import connection_info
from tend.runtime.kube import Kube, _proxy_from_env, load_client


def kubeconfig(tmp_path: Path, server: str = "https://10.0.0.1:6443") -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)


async def test_requests_do_not_consult_the_environment_each_time(tmp_path: Path) -> None:
    api = await load_client(kubeconfig(tmp_path))
    try:
        assert api.rest_client.pool_manager.trust_env is False
        assert api.configuration.proxy is None
    finally:
        await api.close()


async def test_a_proxy_from_the_environment_is_still_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    api = await load_client(kubeconfig(tmp_path))
    try:
        assert api.configuration.proxy == "http://proxy.example:3128"
    finally:
        await api.close()


def test_no_proxy_exempts_the_api_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert _proxy_from_env("https://10.0.0.1:6443") == "http://proxy.example:3128"
    monkeypatch.setenv("NO_PROXY", "10.0.0.1")
    assert _proxy_from_env("https://10.0.0.1:6443") is None
    assert _proxy_from_env("http://127.0.0.1:8001") is None  # no HTTP_PROXY set


async def test_kopf_connects_like_tend_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    api = await load_client(kubeconfig(tmp_path))
    try:
        info = connection_info(Kube(api))
    finally:
        await api.close()
    assert info.server == "https://10.0.0.1:6443"
    assert (info.scheme, info.token) == ("Bearer", "t")
    assert info.proxy_url == "http://proxy.example:3128"
    assert info.trust_env is False
