"""The offline CLI: `tend check`, `tend render`, `tend graph`, `tend crd`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from tend.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "deploy" / "samples"
INVALID = ROOT / "tests" / "data" / "invalid"

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def service(name: str, *deps: str, extra: str = "") -> str:
    depends = "".join(f"\n    - {{name: {d}}}" for d in deps)
    return (
        textwrap.dedent(
            f"""\
        apiVersion: tend.dev/v1alpha1
        kind: ManagedService
        metadata: {{name: {name}}}
        spec:
          image: example/{name}:1
        """
        )
        + (f"  dependsOn:{depends}\n" if deps else "")
        + extra
    )


def test_check_accepts_the_samples() -> None:
    code, out, err = run("check", "-f", str(SAMPLES))
    assert code == 0, err
    assert "ok: 8 ManagedService(s)" in out  # the six samples and the two failures


def invalid_cases() -> list[Path]:
    return sorted(INVALID.glob("*.yaml"))


@pytest.mark.parametrize("path", invalid_cases(), ids=lambda p: p.stem)
def test_check_names_the_field_of_each_bad_input(path: Path) -> None:
    header = path.read_text().splitlines()[0]
    assert header.startswith("# field: "), f"{path} needs a '# field:' header"
    field = header.removeprefix("# field: ").strip()
    code, _, err = run("check", "-f", str(path))
    assert code == 1
    assert field in err, f"expected {field!r} in:\n{err}"
    assert str(path) in err


def test_check_reports_a_cycle_across_files_with_its_path(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", service("a", "b"))
    write(tmp_path, "b.yaml", service("b", "c"))
    write(tmp_path, "c.yaml", service("c", "a"))
    code, _, err = run("check", "-f", str(tmp_path))
    assert code == 1
    assert "DependencyCycle" in err
    assert "a → b → c → a" in err


def test_check_reports_a_missing_dependency(tmp_path: Path) -> None:
    write(tmp_path, "app.yaml", service("app", "postgres"))
    code, _, err = run("check", "-f", str(tmp_path))
    assert code == 1
    assert "DependencyNotFound" in err
    assert "spec.dependsOn[0]" in err
    assert "postgres" in err


def test_check_reports_a_probe_port_no_port_defines(tmp_path: Path) -> None:
    extra = "  probes:\n    readiness: {http: {path: /, port: web}}\n"
    path = write(tmp_path, "app.yaml", service("app", extra=extra))
    code, _, err = run("check", "-f", str(path))
    assert code == 1
    assert "spec.probes.readiness.http.port" in err


def test_check_reports_invalid_yaml_and_duplicates(tmp_path: Path) -> None:
    write(tmp_path, "broken.yaml", "apiVersion: [unclosed\n")
    write(tmp_path, "one.yaml", service("app"))
    write(tmp_path, "two.yaml", service("app"))
    code, _, err = run("check", "-f", str(tmp_path))
    assert code == 1
    assert "not valid YAML" in err
    assert "defined twice" in err


def test_check_rejects_a_missing_path() -> None:
    code, _, err = run("check", "-f", "/nonexistent/manifests")
    assert code == 2
    assert "no such file or directory" in err


def test_check_names_unknown_receivers_from_the_operator_config(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "config.yaml",
        "receivers: [{name: team-slack, type: slack, url_file: /run/slack}]\n",
    )
    extra = "  alerts:\n    escalation:\n      - {afterFailures: 1, receivers: [pager]}\n"
    path = write(tmp_path, "app.yaml", service("app", extra=extra))
    code, _, err = run("check", "-f", str(path), "--config", str(config))
    assert code == 1
    assert "spec.alerts.escalation[0].receivers: unknown receiver 'pager'" in err


def test_render_prints_every_owned_object_of_the_samples() -> None:
    code, out, err = run("render", "-f", str(SAMPLES))
    assert code == 0, err
    docs = list(yaml.safe_load_all(out))
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Deployment", "api") in kinds
    assert ("Service", "api") in kinds
    assert ("PodDisruptionBudget", "api") in kinds
    assert ("Job", "migrate") in kinds
    assert ("Service", "migrate") not in kinds
    assert all(d["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "tend" for d in docs)


def test_render_json_is_a_list() -> None:
    code, out, _ = run("render", "-f", str(SAMPLES / "api.yaml"), "-o", "json")
    assert code == 0
    body = json.loads(out)
    assert body["kind"] == "List"
    assert {i["kind"] for i in body["items"]} == {"Deployment", "Service", "PodDisruptionBudget"}


def test_render_refuses_what_cannot_be_built(tmp_path: Path) -> None:
    extra = "  probes:\n    liveness: {tcp: {port: nope}}\n"
    path = write(tmp_path, "app.yaml", service("app", extra=extra))
    code, out, err = run("render", "-f", str(path))
    assert code == 1
    assert out == ""
    assert "spec.probes.liveness.tcp.port" in err


def test_graph_prints_the_samples_in_waves() -> None:
    code, out, _ = run("graph", "-f", str(SAMPLES))
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith("wave")]
    order = {name: i for i, line in enumerate(lines) for name in line.split(":", 1)[1].split()}
    names = {n.strip(",").split("/")[-1]: w for n, w in order.items()}
    assert names["postgres"] < names["redis"] < names["api"] < names["health-monitor"]
    assert names["migrate"] < names["api"]


@pytest.mark.parametrize(("fmt", "marker"), [("dot", "digraph"), ("mermaid", "flowchart")])
def test_graph_formats(fmt: str, marker: str) -> None:
    code, out, _ = run("graph", "-f", str(SAMPLES), "--format", fmt)
    assert code == 0
    assert marker in out
    assert "health-monitor" in out


def test_graph_exits_nonzero_on_a_cycle(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", service("a", "b"))
    write(tmp_path, "b.yaml", service("b", "a"))
    code, out, _ = run("graph", "-f", str(tmp_path))
    assert code == 1
    assert "a → b → a" in out


def test_crd_matches_the_checked_in_file() -> None:
    code, out, _ = run("crd")
    assert code == 0
    checked_in = (ROOT / "crds" / "managedservices.tend.dev.yaml").read_text()
    assert out == checked_in, "run `tend crd > crds/managedservices.tend.dev.yaml`"


def test_a_missing_simulator_is_explained_with_how_to_install_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tend.cli import main

    with pytest.raises(typer.Exit) as exited:
        main._simulator("tend_sim.not_installed")
    assert exited.value.exit_code == 2
    err = capsys.readouterr().err
    assert "the simulated cluster (package tend_sim) is not installed" in err
    assert "pip install -e '.[sim]'" in err


def test_the_simulator_is_loaded_only_by_the_commands_that_need_it() -> None:
    # `tend sim`'s command table (tend_sim.cli: typer only) is read at start-up; the cluster
    # itself and the simulator's dependencies are not.
    code = (
        "import sys; import tend.cli.main; "
        "heavy = {'celpy', 'lark', 'kubernetes'}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy"
        " or (m.startswith('tend_sim.') and m != 'tend_sim.cli')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", "tend's CLI loaded the simulated cluster at start-up"
