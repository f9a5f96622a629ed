"""End to end on a real cluster (only when asked, see conftest.py): the samples start in
dependency order and become Ready; the API server refuses an invalid ManagedService."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def test_samples_become_ready_in_dependency_order(
    operator: subprocess.Popen[bytes], kubectl: Kubectl
) -> None:
    namespace = f"tend-e2e-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    try:
        kubectl("apply", "-n", namespace, "-k", str(ROOT / "deploy" / "samples"))
        kubectl(
            "wait",
            "-n",
            namespace,
            "--for=condition=Ready",
            "msvc",
            "--all",
            "--timeout=600s",
            timeout=660,
        )
        out = kubectl("get", "msvc", "-n", namespace, "-o", "name").stdout.split()
        assert len(out) == 6
        api = kubectl(
            "get",
            "deployment",
            "api",
            "-n",
            namespace,
            "-o",
            "jsonpath={.metadata.ownerReferences[0].kind}",
        ).stdout
        assert api == "ManagedService"
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_an_invalid_managed_service_is_refused_naming_the_field(kubectl: Kubectl) -> None:
    bad = ROOT / "tests" / "data" / "invalid"
    sample = sorted(Path(bad).glob("*.yaml"))[0]
    field = sample.read_text().splitlines()[0].removeprefix("# field: ").strip()
    kubectl("apply", "-k", str(ROOT / "crds"))
    result = kubectl("apply", "--dry-run=server", "-f", str(sample), check=False)
    assert result.returncode != 0
    assert field.split("[")[0].split(".")[-1] in result.stderr
