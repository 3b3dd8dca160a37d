"""The ops files: Prometheus rules, their promtool unit tests, the example scrape config and
the Grafana dashboard.

promtool (Debian/Ubuntu package `prometheus`; `.ci/run` installs it) does the checking.
Without it these tests skip locally and fail in CI (HARNESS_TEST_REQUIRE_SERVICES=1). The
metric-name and dashboard tests need no promtool.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.services import unavailable

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "ops" / "prometheus" / "rules.yml"
CONFIG = ROOT / "ops" / "prometheus" / "prometheus.yml"
RULE_TESTS = ROOT / "ops" / "prometheus" / "tests"
DASHBOARD = ROOT / "ops" / "grafana" / "arb-portal-dashboard.json"
MONITORING_DOC = ROOT / "docs" / "monitoring.md"

# What the app exports (app/metrics.py), histogram series included.
EXPORTED_METRICS = frozenset({
    "portal_ingest_requests_total",
    "portal_ingest_duration_seconds_bucket",
    "portal_ingest_duration_seconds_sum",
    "portal_ingest_duration_seconds_count",
    "portal_route_decisions_total",
    "portal_flag_rollout_percent",
    "portal_flag_enabled",
    "portal_flag_fallbacks_total",
    "portal_shadow_runs_total",
    "portal_shadow_duration_seconds_bucket",
    "portal_shadow_duration_seconds_sum",
    "portal_shadow_duration_seconds_count",
    "portal_rollbacks_total",
    "portal_uploads_interrupted",
    "portal_uploads_reconciled_total",
    "portal_upload_folder_free_bytes",
    "portal_upload_folder_free_ratio",
    "portal_flag_store_lost",
    "portal_flag_seen_version",
})
# Written by Prometheus itself for every scrape target (PortalScrapeTargetDown reads it).
SCRAPE_METRICS = frozenset({"up"})

PROMQL_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                             "and", "or", "unless", "offset", "inf", "nan"})


def promtool() -> str:
    """Path of promtool, or skip (locally) / fail (CI)."""
    path = shutil.which("promtool")
    if path is None:
        unavailable("promtool not found on PATH (apt-get install prometheus; .ci/run installs it)")
    return path


def run_promtool(*args: str, cwd: Path = ROOT) -> str:
    """Run promtool; fail the test with its whole output unless it exits 0."""
    command = [promtool(), *args]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    output = f"$ {' '.join(command)}  (in {cwd})\n{done.stdout}{done.stderr}"
    assert done.returncode == 0, output
    return output


# -- reading the files --------------------------------------------------------------------------

def rules() -> list[dict[str, str]]:
    """Each rule in rules.yml as {"record"|"alert": name, "expr": ..., "for": ..., "severity": ..., ...}.

    A reader for the plain block style rules.yml is written in (promtool validates the YAML
    itself): `key: value` lines, and `|` / `>-` block scalars made of the more indented
    lines that follow. The project has no YAML library and does not need one for this.
    """
    found: list[dict[str, str]] = []
    lines = RULES.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = re.match(r"^(\s*)(?:- )?(\w+):\s*(.*?)\s*$", lines[i])
        i += 1
        if not match or lines[i - 1].lstrip().startswith("#"):
            continue
        indent, key, value = len(match.group(1)), match.group(2), match.group(3)
        if value in ("|", ">-", "|-", ">"):
            block = []
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                block.append(lines[i].strip())
                i += 1
            value = ("\n" if value.startswith("|") else " ").join(line for line in block if line)
        value = value.strip('"')
        if key in ("record", "alert"):
            found.append({key: value})
        elif found and key in ("expr", "for", "severity", "summary", "description", "runbook"):
            found[-1][key] = value
    return found


def recorded_names() -> set[str]:
    """Names of the recording rules."""
    return {rule["record"] for rule in rules() if "record" in rule}


def dashboard() -> dict:
    """The Grafana dashboard, parsed."""
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def dashboard_panels() -> list[dict]:
    """Every panel, rows' nested panels included."""
    panels = []
    for panel in dashboard()["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def dashboard_exprs() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and annotation query."""
    exprs = [(f"panel {p['title']!r} target {t['refId']}", t["expr"])
             for p in dashboard_panels() for t in p.get("targets", [])]
    exprs += [(f"annotation {a['name']!r}", a["expr"]) for a in dashboard()["annotations"]["list"] if "expr" in a]
    return exprs


def metric_names(expr: str) -> set[str]:
    """The metric (series) names a PromQL expression reads."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)  # label lists
    names = set()
    for match in re.finditer(r"(?<![\w:.$])[A-Za-z_:][\w:]*", text):
        if text[match.end():].lstrip().startswith("("):
            continue  # a function or an aggregation
        if match.group().lower() not in PROMQL_KEYWORDS:
            names.add(match.group())
    return names


def grafana_to_promql(expr: str) -> str:
    """A dashboard query with Grafana's variables replaced by values Prometheus accepts."""
    return (expr.replace("$__rate_interval", "5m").replace("$__range", "6h")
            .replace("$__interval", "1m").replace("${route}", ".*").replace("$route", ".*"))


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors for a Markdown file's headings."""
    anchors = set()
    for line in markdown.splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors


# -- promtool -----------------------------------------------------------------------------------

def test_rules_file_passes_promtool_check():
    output = run_promtool("check", "rules", str(RULES.relative_to(ROOT)))
    assert "SUCCESS" in output, output


def test_example_scrape_config_passes_promtool_check_and_loads_the_rules():
    # rule_files is relative to the config's folder, so the check works from the repo root.
    output = run_promtool("check", "config", str(CONFIG.relative_to(ROOT)))
    assert "SUCCESS: 1 rule files found" in output, output
    assert "rules.yml" in output, output


def test_rule_unit_tests_pass():
    files = sorted(RULE_TESTS.glob("*.yml"))
    assert files, f"no promtool unit tests in {RULE_TESTS}"
    output = run_promtool("test", "rules", *(str(f.relative_to(ROOT)) for f in files))
    assert output.count("SUCCESS") == len(files), output


def test_dashboard_queries_are_valid_promql(tmp_path):
    # promtool has no bare "parse this query"; a rules file of recording rules does the same.
    lines = ["groups:", "  - name: dashboard-queries", "    rules:"]
    for number, (_, expr) in enumerate(dashboard_exprs()):
        lines.append(f"      - record: dashboard_query_{number}")
        lines.append(f"        expr: {json.dumps(grafana_to_promql(expr))}")
    queries = tmp_path / "dashboard_queries.yml"
    queries.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run_promtool("check", "rules", str(queries), cwd=tmp_path)


# -- metric names -------------------------------------------------------------------------------

def test_metric_name_reader_finds_series_not_functions_or_labels():
    expr = ('sum by (route, path) (rate(portal_ingest_requests_total{error_type=~"a|b"}[5m]))\n'
            '/ ignoring (path) (route:x:rate5m > 20 / 300) and on (route) up{job="arb-portal"} == 0')
    assert metric_names(expr) == {"portal_ingest_requests_total", "route:x:rate5m", "up"}


def test_rules_read_only_exported_metrics_and_recorded_series():
    allowed = EXPORTED_METRICS | SCRAPE_METRICS | recorded_names()
    read = {name: metric_names(rule["expr"]) for rule in rules() for name in [rule.get("record") or rule["alert"]]}
    assert read, "no rules read from rules.yml"
    unknown = {name: sorted(names - allowed) for name, names in read.items() if names - allowed}
    assert not unknown, f"rules read series the app does not export: {unknown}"
    assert all(read.values()), f"a rule reads no series: {[n for n, names in read.items() if not names]}"


def test_dashboard_reads_only_exported_metrics_and_recorded_series():
    allowed = EXPORTED_METRICS | recorded_names()
    exprs = dashboard_exprs()
    assert exprs, "no queries in the dashboard"
    unknown = {where: sorted(metric_names(expr) - allowed) for where, expr in exprs if metric_names(expr) - allowed}
    assert not unknown, f"dashboard queries read unknown series: {unknown}"
    assert all(metric_names(expr) for _, expr in exprs)


# -- rules: labels, annotations, runbooks --------------------------------------------------------

def test_every_alert_has_a_severity_a_wait_and_a_runbook_in_docs():
    alerts = [rule for rule in rules() if "alert" in rule]
    assert len(alerts) >= 5
    anchors = heading_anchors(MONITORING_DOC.read_text(encoding="utf-8"))
    for alert in alerts:
        assert alert.get("severity") in ("critical", "warning", "info"), alert
        assert alert.get("for"), f"{alert['alert']} has no for:"
        assert alert.get("summary") and alert.get("description"), alert
        doc, _, anchor = alert.get("runbook", "").partition("#")
        assert doc == "docs/monitoring.md", alert
        assert anchor in anchors, f"{alert['alert']}: no heading #{anchor} in docs/monitoring.md"


def test_comparison_alerts_hold_for_ten_minutes_with_a_traffic_guard():
    alerts = {rule["alert"]: rule for rule in rules() if "alert" in rule}
    for name in ("PortalRefactoredServerErrorRateHigher", "PortalRefactoredLatencyP95Higher",
                 "PortalRefactoredRejectionRateHigher"):
        assert "route:portal_ingest_requests:min_path_rate5m >= 20 / 300" in alerts[name]["expr"], name
        assert alerts[name]["for"] in ("10m", "30m"), name
    assert "> 0.05" in alerts["PortalRefactoredServerErrorRateHigher"]["expr"]
    assert "> 1.2" in alerts["PortalRefactoredLatencyP95Higher"]["expr"]


# -- dashboard ----------------------------------------------------------------------------------

def test_dashboard_has_datasource_and_route_variables():
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["route"]["type"] == "query"
    assert "portal_ingest_requests_total" in variables["route"]["definition"]
    assert 36 <= dashboard()["schemaVersion"] <= 41


def test_every_dashboard_query_uses_the_datasource_variable():
    for panel in dashboard_panels():
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_dashboard_panel_ids_are_unique_and_panels_do_not_overlap():
    panels = dashboard_panels()
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    cells = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        here = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & here, f"{p['title']!r} overlaps another panel"
        cells |= here


@pytest.mark.parametrize("title_part, series", [
    ("Upload rate", "route_path:portal_ingest_requests:rate5m"),
    ("Success rate", "route_path:portal_ingest_success:ratio_rate5m"),
    ("Server-side error rate", "route_path:portal_ingest_server_errors:ratio_rate5m"),
    ("Client-side rejection rate", "route_path:portal_ingest_rejections:ratio_rate5m"),
    ("p50 / p95 / p99", "route_path:portal_ingest_duration_seconds:p99_5m"),
    ("Rollout percent", "portal_flag_rollout_percent"),
    ("Route decisions", "portal_route_decisions_total"),
    ("Flag store fallbacks", "portal_flag_fallbacks_total"),
    ("Rollbacks", "portal_rollbacks_total"),
    ("Shadow mismatch rate", "portal_shadow_runs_total"),
])
def test_dashboard_has_the_panel(title_part, series):
    matching = [p for p in dashboard_panels() if title_part in p["title"]]
    assert matching, f"no panel titled like {title_part!r}"
    assert any(series in metric_names(t["expr"]) for p in matching for t in p["targets"]), title_part


# -- the app really exports what the rules read --------------------------------------------------

def test_the_app_exports_every_series_the_rules_and_dashboard_read():
    from prometheus_client import CollectorRegistry, generate_latest

    from app.harness.metrics import FlagCollector, Metrics, PortalCollector
    from app.ingest.reconcile import ReconcileReport
    from flags import open_service

    service = open_service("memory://")
    service.ensure_flags()
    service.rollback(actor="ops-test", reason="a rollback to count")
    registry = CollectorRegistry()
    Metrics(registry)
    registry.register(FlagCollector(lambda: service))
    registry.register(PortalCollector(lambda: (10, 100), lambda: ReconcileReport(interrupted_now=2), lambda: ()))
    exposition = generate_latest(registry).decode()
    exported = {line.split("{")[0].split(" ")[0] for line in exposition.splitlines() if line and not line.startswith("#")}

    read = set().union(*(metric_names(rule["expr"]) for rule in rules()),
                       *(metric_names(expr) for _, expr in dashboard_exprs()))
    expected = read & EXPORTED_METRICS
    assert expected, "the rules and the dashboard read none of the app's series"
    assert not expected - exported, f"read but not exported by app.harness.metrics: {sorted(expected - exported)}"
