"""`harness report` end to end: uploads through the app, then the command writes the three
files with the verdict; usage errors are clear; a Prometheus server is queried over HTTP."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from click.testing import CliRunner

from app import create_app
from app.cli import main
from app.compose import services_of
from app.workbook.generator import generate_workbook
from tests.conftest import make_settings, post_file


@pytest.fixture
def portal_env(tmp_path, sqlite_url, monkeypatch):
    """A portal database with a few uploads on both paths, and the environment naming it."""
    app = create_app(settings=make_settings(tmp_path, sqlite_url))
    client = app.test_client()
    for seed in range(6):
        data = generate_workbook("energy_v01_00", seed=seed).data
        post_file(client, "/upload_original", data)
        post_file(client, "/upload_refactored", data)
    post_file(client, "/upload_staged_refactored", generate_workbook("landfill_v01_00", seed=9).data)
    services_of(app).close()
    for key in ("HARNESS_ENV", "HARNESS_FAULTS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HARNESS_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HARNESS_FLAG_STORE_URL", "memory://")
    monkeypatch.setenv("HARNESS_INSTANCE_PATH", str(tmp_path / "instance"))
    return tmp_path


def test_the_report_writes_html_json_and_markdown_with_a_verdict(portal_env):
    out = portal_env / "report"
    result = CliRunner().invoke(main, ["report", "--since", "1h", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "direct: inconclusive (12 uploads)" in result.output and "verdict: inconclusive" in result.output
    doc = json.loads((out / "ab-report.json").read_text())
    assert doc["verdict"] == "inconclusive"
    direct = doc["routes"]["direct"]
    assert direct["verdict"] == "inconclusive" and direct["reasons"]
    assert direct["figures"]["original"]["uploads"] == 6 and direct["figures"]["refactored"]["uploads"] == 6
    assert direct["figures"]["original"]["latency_seconds"]["p50"]["value"] > 0  # durations were recorded
    assert direct["figures"]["decisions"] == {"pinned": {"original": 6, "refactored": 6}}
    assert doc["routes"]["staged"]["figures"]["refactored"]["uploads"] == 1
    assert "# A/B report: **inconclusive**" in (out / "ab-report.md").read_text()
    html = (out / "ab-report.html").read_text()
    assert html.count("<svg") == 8
    assert not any(f'{attr}="http' in html for attr in ("src", "href")) and "<link" not in html  # opens offline


def test_one_route_and_a_from_to_window(portal_env):
    out = portal_env / "one"
    result = CliRunner().invoke(main, ["report", "--from", "2020-01-01T00:00:00Z", "--to", "2020-01-02T00:00:00Z",
                                       "--route", "staged", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "ab-report.json").read_text())
    assert list(doc["routes"]) == ["staged"] and doc["routes"]["staged"]["figures"]["original"]["uploads"] == 0
    assert doc["window"]["seconds"] == 86400


@pytest.mark.parametrize("args, says", [
    (["--since", "1h", "--from", "2026-01-01"], "not both"),
    (["--since", "soon"], "not a duration"),
    (["--to", "2026-01-01"], "--to needs --from"),
    (["--from", "2026-01-02", "--to", "2026-01-01"], "before it starts"),
])
def test_a_bad_window_is_a_usage_error(portal_env, args, says):
    result = CliRunner().invoke(main, ["report", *args, "--out", str(portal_env / "x")])
    assert result.exit_code == 2 and says in result.output


class _FakePrometheus(BaseHTTPRequestHandler):
    queries: list[str] = []

    def do_GET(self):  # noqa: N802 - the http.server API
        query = parse_qs(urlparse(self.path).query)["query"][0]
        self.queries.append(query)
        if "portal_shadow_runs_total" in query:
            result = [{"metric": {"result": "match"}, "value": [0, "90"]},
                      {"metric": {"result": "mismatch"}, "value": [0, "2"]},
                      {"metric": {"result": "ignored"}, "value": [0, "8"]}]
        elif "histogram_quantile" in query:
            result = [{"metric": {"path": "original"}, "value": [0, "0.25"]},
                      {"metric": {"path": "refactored"}, "value": [0, "0.02"]}]
        else:
            result = [{"metric": {"path": "original", "outcome": "success", "error_type": "none"}, "value": [0, "40"]},
                      {"metric": {"path": "refactored", "outcome": "error", "error_type": "processing_error"},
                       "value": [0, "3"]}]
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_prometheus_figures_and_shadow_rates_come_over_http(portal_env):
    server = HTTPServer(("127.0.0.1", 0), _FakePrometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        out = portal_env / "prom"
        url = f"http://127.0.0.1:{server.server_port}"
        result = CliRunner().invoke(main, ["report", "--since", "1h", "--out", str(out), "--prometheus", url, "--quiet"])
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "ab-report.json").read_text())
    shadow = doc["routes"]["direct"]["figures"]["shadow"]["runs"]
    assert shadow["rates"] == {"match": 0.9, "mismatch": 0.02, "ignored": 0.08}
    assert doc["sources"]["prometheus"] == url
    assert doc["sources"]["prometheus_figures"]["direct"]["latency_seconds"]["original"]["p95"] == 0.25
    assert any('increase(portal_ingest_requests_total{route="direct"}[3600s])' in q for q in _FakePrometheus.queries)
    # the staged route had no database uploads on the original path but has some: the database is kept
    assert doc["routes"]["staged"]["figures"]["refactored"]["uploads"] == 1


def test_an_unreachable_prometheus_is_a_clear_error(portal_env):
    result = CliRunner().invoke(main, ["report", "--since", "1h", "--out", str(portal_env / "p"),
                                       "--prometheus", "http://127.0.0.1:9", "--quiet"])
    assert result.exit_code == 1 and "Prometheus at http://127.0.0.1:9 did not answer" in result.output
