"""Metrics as an operator reads them at /metrics: every series from the start, uploads
counted by route, path and outcome, client rejections told apart from server failures."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from app.compose import services_of
from app.harness.metrics import Metrics
from app.harness.names import CLIENT_ERRORS, SERVER_ERRORS
from app.ingest.outcome import DIRECT, Failure, Outcome
from app.workbook import hostile
from app.workbook.generator import generate_workbook
from tests.conftest import post_file


def scrape(client) -> dict[tuple[str, tuple], float]:
    """Every sample at /metrics as {(name, sorted labels): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_every_series_is_exported_as_zero_from_the_start(client):
    samples = scrape(client)
    for route in ("direct", "staged"):
        for path in ("original", "refactored"):
            assert value(samples, "portal_ingest_requests_total", route=route, path=path, outcome="success", error_type="none") == 0
            for error_type in ("file_error", "conversion_failed", "missing_id", "validation_error", "database_error", "processing_error"):
                assert value(samples, "portal_ingest_requests_total", route=route, path=path, outcome="error", error_type=error_type) == 0
            assert value(samples, "portal_ingest_duration_seconds_count", route=route, path=path) == 0
            assert value(samples, "portal_shadow_runs_total", route=route, primary=path, result="mismatch") == 0
    assert value(samples, "portal_route_decisions_total", flag="refactored_upload", path="refactored", reason="percentage") == 0
    assert value(samples, "portal_flag_rollout_percent", flag="refactored_upload") == 0
    assert value(samples, "portal_flag_enabled", flag="shadow_upload") == 0
    assert value(samples, "portal_rollbacks_total", flag="refactored_staged_upload", trigger="guard") == 0
    assert value(samples, "portal_flag_fallbacks_total", flag="refactored_upload", source="safe_default") == 0


def test_uploads_are_counted_by_route_path_and_outcome(client):
    good = generate_workbook("oil_and_gas_v01_00", seed=1).data
    post_file(client, "/upload_refactored", good)
    post_file(client, "/upload_refactored", good)
    post_file(client, "/upload_staged_original", good)
    post_file(client, "/upload_refactored", hostile.pdf())
    post_file(client, "/upload_original", hostile.pdf())
    post_file(client, "/upload_refactored", generate_workbook("energy_v01_00", "blank_id", seed=2).data)
    client.post("/upload_staged_refactored", data={}, headers={"Accept": "application/json"})  # no file
    samples = scrape(client)
    count = lambda **kw: value(samples, "portal_ingest_requests_total", **kw)  # noqa: E731
    assert count(route="direct", path="refactored", outcome="success", error_type="none") == 2
    assert count(route="staged", path="original", outcome="success", error_type="none") == 1
    assert count(route="direct", path="refactored", outcome="error", error_type="conversion_failed") == 1
    assert count(route="direct", path="original", outcome="error", error_type="missing_id") == 1  # legacy coarse error
    assert count(route="direct", path="refactored", outcome="error", error_type="missing_id") == 1
    assert count(route="staged", path="refactored", outcome="error", error_type="file_error") == 1
    assert value(samples, "portal_ingest_duration_seconds_count", route="direct", path="refactored") == 4
    assert value(samples, "portal_ingest_duration_seconds_sum", route="direct", path="refactored") > 0


def test_no_label_carries_a_user_file_name_or_message(client):
    post_file(client, "/upload_refactored", hostile.pdf(), filename="secret-name.pdf", headers={"X-Portal-User": "dana@x"})
    text = client.get("/metrics").get_data(as_text=True)
    assert "secret-name" not in text and "dana" not in text and "PDF" not in text
    labels = set(re.findall(r'(\w+)="', text))
    assert labels <= {"route", "path", "outcome", "error_type", "flag", "reason", "source", "primary", "result", "trigger", "field", "le", "action"}


def test_client_rejections_and_server_failures_are_told_apart():
    metrics = Metrics()
    metrics.observe_upload(Outcome.failed("refactored", DIRECT, Failure("validation_error", "invalid_id", "x")), 0.01)
    metrics.observe_upload(Outcome.failed("refactored", DIRECT, Failure("database_error", "database_unavailable", "x")), 0.01)
    metrics.observe_upload(Outcome.failed("refactored", DIRECT, Failure("weird", "weird", "x")), 0.01)
    get = lambda t: metrics.registry.get_sample_value(  # noqa: E731
        "portal_ingest_requests_total", {"route": "direct", "path": "refactored", "outcome": "error", "error_type": t})
    assert (get("validation_error"), get("database_error"), get("processing_error")) == (1, 1, 1)
    assert set(CLIENT_ERRORS).isdisjoint(SERVER_ERRORS)


def test_flag_gauges_follow_the_flag_store(app, client):
    flags = services_of(app).flags
    flags.set_percent("refactored_upload", 25, actor="ops")
    flags.set_percent("shadow_upload", 12.5, actor="ops")
    samples = scrape(client)
    assert value(samples, "portal_flag_rollout_percent", flag="refactored_upload") == 25
    assert value(samples, "portal_flag_rollout_percent", flag="shadow_upload") == 12.5
    assert value(samples, "portal_flag_enabled", flag="refactored_upload") == 1
    flags.kill("refactored_upload", actor="ops", reason="drill")
    samples = scrape(client)
    assert value(samples, "portal_flag_enabled", flag="refactored_upload") == 0
    assert value(samples, "portal_flag_rollout_percent", flag="refactored_upload") == 25  # kept for resume
