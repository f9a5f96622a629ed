"""`kubectl apply --dry-run=server -k` of the install and the samples, against the simulated
cluster (`tend sim serve`, out of process, as a user would start it): every object is admitted
by an API server's validation (built-in field sets, the CRDs' schemas and CEL rules), and
nothing is created.

The CRDs and the namespace are applied first, for real, as `kubectl apply -k deploy/default`
on a fresh cluster creates them before the objects that need them (and as Flux and Argo CD
order them): a server-side dry run neither serves a CRD nor creates a namespace, so a dry run of
a custom resource or of an object in a new namespace is refused, by kube-apiserver as by the
simulator.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kustomized import KUBECTL, ROOT, build

TEND = Path(sys.executable).with_name("tend")


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`tend sim serve` on a free port, until the module's tests are done."""
    path = tmp_path_factory.mktemp("sim") / "kubeconfig"
    proc = subprocess.Popen(
        [str(TEND), "sim", "serve", "--port", "0", "--kubeconfig", str(path), "--no-controllers"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    # It prints the URL once the kubeconfig is written; a timer ends a server that never does,
    # which ends the readline loop too.
    deadline = threading.Timer(30, proc.kill)
    deadline.start()
    seen: list[str] = []
    try:
        while not any(line.startswith("tend sim: API server on") for line in seen):
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"tend sim serve did not start: {''.join(seen)}")
            seen.append(line)
    finally:
        deadline.cancel()
    # Keep reading what it logs, so a full pipe never blocks the server.
    drain = threading.Thread(target=lambda: seen.extend(proc.stdout or ()), daemon=True)
    drain.start()
    try:
        kubectl(path, "apply", "-f", "-", stdin=prerequisites())
        yield path
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def prerequisites() -> str:
    """The CRDs (tend's, and kopf's two peering kinds) and the namespace tend-system."""
    kinds = ("CustomResourceDefinition", "Namespace")
    docs = [d for d in build(ROOT / "deploy" / "default") if d["kind"] in kinds]
    assert len(docs) == 4
    return yaml.safe_dump_all(docs)


def kubectl(
    kubeconfig: Path, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result


def dry_run(kubeconfig: Path, directory: Path, *extra: str) -> list[str]:
    result = kubectl(kubeconfig, "apply", "--dry-run=server", "-k", str(directory), *extra)
    lines = result.stdout.splitlines()
    assert lines and all(line.endswith("(server dry run)") for line in lines), result.stdout
    return lines


@pytest.mark.parametrize("overlay", ["default", "overlays/ha"])
def test_the_install_is_admitted_by_a_server_side_dry_run(kubeconfig: Path, overlay: str) -> None:
    directory = ROOT / "deploy" / overlay
    lines = dry_run(kubeconfig, directory)
    assert len(lines) == len(build(directory))
    # A dry run creates nothing.
    missing = kubectl(kubeconfig, "get", "deployment", "tend", "-n", "tend-system", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr


def test_the_namespaced_install_is_admitted_into_an_existing_namespace(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "create", "namespace", "shop")
    directory = ROOT / "deploy" / "overlays" / "namespaced"
    assert len(dry_run(kubeconfig, directory)) == len(build(directory))


@pytest.mark.parametrize("samples", ["samples", "samples/failures"])
def test_the_samples_are_admitted_by_the_crds_schema_and_cel_rules(
    kubeconfig: Path, samples: str
) -> None:
    directory = ROOT / "deploy" / samples
    lines = dry_run(kubeconfig, directory, "-n", "default")
    assert any(line.startswith("managedservice.tend.dev/") for line in lines), lines


def test_a_dry_run_refuses_what_the_server_would_refuse(kubeconfig: Path, tmp_path: Path) -> None:
    # The check above can fail: a sample out of the schema's bounds is refused, naming the field.
    bad = yaml.safe_load((ROOT / "deploy" / "samples" / "redis.yaml").read_text())
    bad["spec"]["replicas"] = -1
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    result = kubectl(
        kubeconfig, "apply", "--dry-run=server", "-n", "default", "-f", str(tmp_path / "bad.yaml"),
        check=False,
    )  # fmt: skip
    assert result.returncode != 0 and "replicas" in result.stderr, result.stderr
