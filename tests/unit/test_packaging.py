"""What the operator ships with: run-time dependencies are exactly what `tend` imports, the
simulator's extra covers what `tend_sim` adds, and the operator image carries neither."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# pydantic's compiled core, released in lockstep with pydantic and installed by it.
PART_OF = {"pydantic-core": "pydantic"}


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return match.group(0).lower().replace("_", "-")


def imported_distributions(package: str) -> set[str]:
    """The distributions whose modules `package` imports (anywhere, lazily too)."""
    modules: set[str] = set()
    for path in (ROOT / "operator" / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
            elif (  # importlib.import_module("kubernetes.client.models")
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "import_module"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                modules.add(node.args[0].value.split(".")[0])
    third_party = modules - set(sys.stdlib_module_names) - {"tend", "tend_sim", "__future__"}
    owners = packages_distributions()
    found = set()
    for module in third_party:
        assert module in owners, f"{package} imports {module}, which no installed package provides"
        for dist in owners[module]:
            name = _name(dist)
            found.add(PART_OF.get(name, name))
    return found


def declared(extra: str | None = None) -> set[str]:
    project = PYPROJECT["project"]
    requirements = (
        project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    )
    return {_name(r) for r in requirements}


def test_run_time_dependencies_are_exactly_what_the_operator_imports() -> None:
    assert imported_distributions("tend") == declared()


def test_the_sim_extra_holds_what_only_the_simulator_imports() -> None:
    assert imported_distributions("tend_sim") - declared() == declared("sim")


def test_the_operator_image_installs_the_operator_package_alone() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    dockerfile = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    copied = [line.split()[1:-1] for line in lines if line.startswith("COPY")]
    sources = {source.removeprefix("./").rstrip("/") or "." for group in copied for source in group}
    assert "operator/tend" in sources
    assert not sources & {"operator", "."}, sources
    assert "tend_sim" not in dockerfile
    assert "[sim]" not in dockerfile and "[dev]" not in dockerfile
