"""Prometheus itself, scraping both instances, fires the rollback alert when fault injection
makes the refactored path fail server-side (the shipped rules, only `for:` shortened)."""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.request

import pytest

from loadtests.stack.client import firing_alerts, post, prometheus_query
from tests.stack.conftest import FAST_ALERT, FAST_FOR, report

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

FAULT = "refactored.direct.error_rate=0.5"
# Recording and alert groups every 5 s, scrapes every 5 s, `for: 10s`: about 30 s expected.
ALERT_WAIT_S = 150


@pytest.fixture(scope="module")
def stack_portal_env() -> dict[str, str]:
    """A rehearsal stack: fault injection allowed (refused with HARNESS_ENV=production)."""
    return {"HARNESS_ENV": "development", "HARNESS_FAULTS": ""}


def _admin(stack, method: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"{stack.nginx_url}/admin/api/faults", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {stack.admin_token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _traffic(stack, samples, stop: threading.Event, answers: list) -> None:
    for target, sample in zip(itertools.cycle(["/upload_original", "/upload_refactored"]), itertools.cycle(samples)):
        if stop.is_set():
            return
        answers.append(post(stack.nginx_url, target, sample.body, sample.content_type, timeout=30).status)
        time.sleep(0.05)


def _firing(stack) -> list[dict]:
    return [a for a in firing_alerts(stack.prometheus_url) if a["labels"].get("alertname") == FAST_ALERT]


def test_prometheus_fires_the_refactored_server_error_alert_under_injected_faults(stack, good_samples):
    """With half the refactored direct uploads failing, the alert fires for the direct route only."""
    assert _firing(stack) == []
    assert _admin(stack, "PUT", {"spec": FAULT})["spec"] == FAULT
    started = time.monotonic()
    stop, answers = threading.Event(), []
    threads = [threading.Thread(target=_traffic, args=(stack, good_samples, stop, answers)) for _ in range(2)]
    for thread in threads:
        thread.start()
    firing = []
    try:
        while time.monotonic() - started < ALERT_WAIT_S and not firing:
            time.sleep(2)
            firing = _firing(stack)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        _admin(stack, "DELETE")
    waited = time.monotonic() - started
    difference = prometheus_query(stack.prometheus_url,
                                  "route:portal_ingest_server_errors:ratio_rate5m_refactored_minus_original")
    report(f"{FAST_ALERT} fired {waited:.0f} s after {FAULT} was put in force (for: {FAST_FOR} in the test "
           f"override, groups every 5 s); uploads sent {len(answers)}, answered 503: {answers.count(503)}; "
           f"refactored-minus-original server error ratio: "
           f"{ {d['metric'].get('route'): round(float(d['value'][1]), 3) for d in difference} }")
    assert firing, f"{FAST_ALERT} did not fire within {ALERT_WAIT_S} s"
    assert {alert["labels"]["route"] for alert in firing} == {"direct"}
    assert answers.count(503) > 0 and set(answers) <= {200, 503}
