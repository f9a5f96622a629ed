"""`kubectl get msvc` shows the printer columns the CRD declares."""

from __future__ import annotations

import asyncio
from typing import Any

from harness import Operator, managed_service, wait_ready

from tend.runtime.kube import Kube
from tend_sim import SimCluster


async def test_kubectl_get_msvc_shows_the_printer_columns(
    operator: Operator, kube: Kube, cluster: SimCluster, kubeconfig: Any
) -> None:
    import subprocess
    import sys
    from pathlib import Path

    await kube.create(managed_service("api"))
    await wait_ready(cluster, kube, "api")
    kubectl = str(Path(sys.executable).with_name("kubectl"))
    result = await asyncio.to_thread(
        subprocess.run,
        [kubectl, "--kubeconfig", str(kubeconfig), "get", "msvc"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "PHASE", "RESTARTS", "BLOCKED-BY", "AGE"]
    starts = [header.index(name) for name in header.split()]
    cells = [row[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
    # No restart counted; nothing blocks api.
    assert cells[:5] == ["api", "True", "Running", "0", ""]
    assert cells[5], "the Age column is filled in"
