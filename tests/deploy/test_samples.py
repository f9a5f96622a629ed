"""deploy/samples run anywhere: real public images at pinned tags (scripted `sim/` images only
among the failures, each naming the real image that fails the same way), and they pass
`tend check` under every operator configuration the install ships."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kustomized import ROOT, build

TEND = Path(sys.executable).with_name("tend")
SAMPLES = ROOT / "deploy" / "samples"
FAILURES = SAMPLES / "failures"
CONFIGS = [ROOT / "deploy" / "manager" / "config.yaml",
           ROOT / "deploy" / "overlays" / "production" / "config.yaml"]  # fmt: skip
PINNED = re.compile(r"^[a-z0-9.-]+(/[a-z0-9._-]+)*:(?!latest$)[0-9][A-Za-z0-9._-]*$")


def images(directory: Path) -> dict[str, str]:
    return {
        d["metadata"]["name"]: d["spec"]["image"]
        for d in build(directory)
        if d["kind"] == "ManagedService"
    }


def test_the_samples_use_real_images_at_pinned_versions() -> None:
    found = images(SAMPLES)
    assert len(found) == 6
    for name, image in found.items():
        assert not image.startswith("sim/"), f"{name}: a scripted image only the simulator runs"
        assert PINNED.match(image), f"{name}: {image} is not pinned to a version"


def test_every_scripted_failure_names_the_real_image_that_fails_the_same_way() -> None:
    found = images(FAILURES)
    assert set(found) == {"crasher", "memory-hog"}
    for path in sorted(FAILURES.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        text = path.read_text()
        image = yaml.safe_load(text)["spec"]["image"]
        assert image.startswith("sim/"), path.name
        assert re.search(r"`busybox:1\.\d+\.\d+` with `command: \[", text), path.name


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_samples_pass_tend_check_under_each_shipped_configuration(config: Path) -> None:
    result = subprocess.run(
        [str(TEND), "check", "--config", str(config), "-f", str(SAMPLES)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "ok: 8 ManagedService(s), no problems" in result.stdout
