"""Fixtures of the integration suites: the simulated cluster over HTTP, a client, the operator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness import SPEED, Operator

from tend.api.crd import build_crd
from tend.runtime.kube import Kube
from tend_sim import SimCluster


@pytest.fixture
async def cluster() -> AsyncIterator[SimCluster]:
    async with SimCluster(speed=SPEED) as sim:
        sim.register_crd(build_crd())
        yield sim


@pytest.fixture
def kubeconfig(cluster: SimCluster, tmp_path: Path) -> Path:
    return cluster.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
async def kube(kubeconfig: Path) -> AsyncIterator[Kube]:
    client = await Kube.connect(kubeconfig)
    yield client
    await client.close()


@pytest.fixture
async def operator(kubeconfig: Path, cluster: SimCluster) -> AsyncIterator[Operator]:
    op = Operator(kubeconfig, cluster)
    await op.start()
    yield op
    await op.stop()
