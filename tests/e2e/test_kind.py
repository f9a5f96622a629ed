"""End to end on a real cluster (only when asked, see conftest.py), with the operator installed
from deploy/default: the samples start in dependency order and become Ready; a crash loop
exhausts its restart budget; deleting a ManagedService deletes what tend built for it; the API
server refuses an invalid ManagedService."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "deploy" / "samples"
Kubectl = Callable[..., subprocess.CompletedProcess[str]]
# The scripted failures' real-cluster equivalents, as each file's comment gives them.
REAL_FAILURES = {
    "crashloop.yaml": ("busybox:1.37.0", ["sh", "-c", "sleep 1; exit 3"]),
    "oom.yaml": ("busybox:1.37.0", ["sh", "-c", "tail /dev/zero"]),
}


@pytest.fixture
def namespace(installed: str, kubectl: Kubectl) -> Iterator[str]:
    name = f"tend-e2e-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def get(kubectl: Kubectl, namespace: str, *what: str) -> Any:
    return json.loads(kubectl("get", "-n", namespace, *what, "-o", "json").stdout)


def ready_since(body: dict[str, Any]) -> str:
    for cond in body["status"]["conditions"]:
        if cond["type"] == "Ready" and cond["status"] == "True":
            return str(cond["lastTransitionTime"])
    raise AssertionError(f"{body['metadata']['name']} is not Ready")


def test_samples_become_ready_in_dependency_order(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-k", str(SAMPLES))
    kubectl("wait", "-n", namespace, "--for=condition=Ready", "msvc", "--all", "--timeout=600s",
            timeout=660)  # fmt: skip
    services = {i["metadata"]["name"]: i for i in get(kubectl, namespace, "msvc")["items"]}
    assert sorted(services) == ["api", "health-monitor", "migrate", "postgres", "redis", "worker"]
    workloads = {
        i["metadata"]["name"]: i for i in get(kubectl, namespace, "deployments,jobs")["items"]
    }
    for name, body in services.items():
        owner = workloads[name]["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("ManagedService", name, True)
        # Each workload was created only once every dependency was Ready (or had Succeeded).
        created = workloads[name]["metadata"]["creationTimestamp"]
        for dep in body["spec"].get("dependsOn") or []:
            assert ready_since(services[dep["name"]]) <= created, f"{name} before {dep['name']}"


def test_a_crash_loop_exhausts_its_restart_budget(kubectl: Kubectl, namespace: str) -> None:
    sample = yaml.safe_load((SAMPLES / "failures" / "crashloop.yaml").read_text())
    image, command = REAL_FAILURES["crashloop.yaml"]
    assert image in (SAMPLES / "failures" / "crashloop.yaml").read_text()
    sample["spec"] |= {"image": image, "command": command}
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(sample))
    kubectl("wait", "-n", namespace, "--for=condition=RestartBudgetExhausted", "msvc/crasher",
            "--timeout=420s", timeout=450)  # fmt: skip
    body = get(kubectl, namespace, "msvc", "crasher")
    assert body["status"]["restarts"]["lastReason"] in ("CrashLoop", "ExitCode")
    assert body["status"]["restarts"]["lastExitCode"] == 3


def test_deleting_a_managed_service_deletes_what_tend_built(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl("apply", "-n", namespace, "-f", str(SAMPLES / "secrets.yaml"),
            "-f", str(SAMPLES / "postgres.yaml"))  # fmt: skip
    kubectl("wait", "-n", namespace, "--for=condition=Ready", "msvc/postgres", "--timeout=300s",
            timeout=330)  # fmt: skip
    kubectl("delete", "-n", namespace, "msvc", "postgres")
    # The garbage collector follows the ownerReferences tend set.
    kubectl("wait", "-n", namespace, "--for=delete", "deployment/postgres", "service/postgres",
            "--timeout=120s", timeout=150)  # fmt: skip


def test_an_invalid_managed_service_is_refused_naming_the_field(
    installed: str, kubectl: Kubectl
) -> None:
    bad = ROOT / "tests" / "data" / "invalid"
    sample = sorted(Path(bad).glob("*.yaml"))[0]
    field = sample.read_text().splitlines()[0].removeprefix("# field: ").strip()
    result = kubectl("apply", "--dry-run=server", "-f", str(sample), check=False)
    assert result.returncode != 0
    assert field.split("[")[0].split(".")[-1] in result.stderr
