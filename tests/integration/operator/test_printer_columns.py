"""`kubectl get msvc` shows the printer columns the CRD declares; `-o wide` adds Message."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from harness import Operator, managed_service, wait_ready

from tend.runtime.kube import Kube
from tend_sim import SimCluster

KUBECTL = str(Path(sys.executable).with_name("kubectl"))


async def get_msvc(kubeconfig: Path, *flags: str) -> tuple[str, str]:
    """The header and first row of `kubectl get msvc FLAGS`."""
    result = await asyncio.to_thread(
        subprocess.run,
        [KUBECTL, "--kubeconfig", str(kubeconfig), "get", "msvc", *flags],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()[:2]
    return header, row


async def test_kubectl_get_msvc_shows_the_printer_columns(
    operator: Operator, kube: Kube, cluster: SimCluster, kubeconfig: Path
) -> None:
    await kube.create(managed_service("api"))
    await wait_ready(cluster, kube, "api")
    header, row = await get_msvc(kubeconfig)
    assert header.split() == ["NAME", "READY", "PHASE", "RESTARTS", "BLOCKED-BY", "AGE"]
    starts = [header.index(name) for name in header.split()]
    cells = [row[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
    # No restart counted; nothing blocks api.
    assert cells[:5] == ["api", "True", "Running", "0", ""]
    assert cells[5], "the Age column is filled in"


async def test_kubectl_get_msvc_wide_adds_readys_message(
    operator: Operator, kube: Kube, cluster: SimCluster, kubeconfig: Path
) -> None:
    await kube.create(managed_service("api"))
    await wait_ready(cluster, kube, "api")
    header, row = await get_msvc(kubeconfig, "-o", "wide")
    assert header.split()[-1] == "MESSAGE"
    assert row[header.index("MESSAGE") :].strip() == "1 of 1 replicas ready"
