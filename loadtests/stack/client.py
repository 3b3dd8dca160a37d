"""Talk to a running stack the way its users and operators do: uploads over HTTP, /metrics
scrapes, the Prometheus API, and the two access logs (nginx's and each instance's).

Plain functions over plain data, shared by tests/stack/ and loadtests/bench_stack.py.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from loadtests.csrf import CsrfSession

REQUESTS_METRIC = "portal_ingest_requests"
_GUNICORN_LINE = re.compile(r"pid=<?(\d+)>? rid=(\S+) path=(\S+)")
_NGINX_LINE = re.compile(r"rid=(\S+) upstream=(.+?) upstream_status=")


@dataclass(frozen=True)
class Answer:
    """One HTTP exchange as the client saw it (status 0: no answer at all)."""

    status: int
    body: dict | None
    request_id: str | None
    path: str | None
    error: str | None
    sent: float
    received: float

    @property
    def upload_id(self) -> int | None:
        """The upload's record id, when the portal answered with one."""
        return (self.body or {}).get("upload_id")


_CSRF: dict[str, CsrfSession] = {}


def _csrf_headers(base_url: str, timeout: float) -> dict[str, str]:
    """The session cookie and CSRF token for `base_url` (fetched once; every instance shares the secret key)."""
    session = _CSRF.get(base_url)
    if session is None:
        try:
            session = _CSRF[base_url] = CsrfSession.fetch(base_url, timeout)
        except (OSError, http.client.HTTPException, RuntimeError, ValueError):
            return {}  # the POST below answers for itself (down, or refused without a token)
    return session.headers


def post(base_url: str, target: str, body: bytes = b"", content_type: str | None = None, user: str = "stack-user",
         request_id: str | None = None, timeout: float = 30.0) -> Answer:
    """POST `body` to `target` (with the portal's CSRF token) on one connection of its own; never raises."""
    url = urllib.parse.urlsplit(base_url)
    headers = {"X-Portal-User": user, "Accept": "application/json", "Connection": "close",
               **_csrf_headers(base_url, min(timeout, 10.0))}
    if content_type:
        headers["Content-Type"] = content_type
    if request_id:
        headers["X-Request-Id"] = request_id
    sent = time.monotonic()
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return Answer(response.status, parsed if isinstance(parsed, dict) else None,
                      response.getheader("X-Request-Id") or request_id, response.getheader("X-Ingest-Path"), None,
                      sent, time.monotonic())
    except (OSError, http.client.HTTPException) as error:
        return Answer(0, None, request_id, None, f"{type(error).__name__}: {error}", sent, time.monotonic())
    finally:
        connection.close()


def get_text(url: str, timeout: float = 10.0) -> str:
    """The body of a GET (raises on an error status)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def requests_by_labels(exposition: str) -> Counter:
    """portal_ingest_requests_total per (route, path, outcome, error_type) in one exposition."""
    totals: Counter = Counter()
    for family in text_string_to_metric_families(exposition):
        if family.name != REQUESTS_METRIC:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                labels = sample.labels
                totals[(labels["route"], labels["path"], labels["outcome"], labels["error_type"])] += sample.value
    return totals


def scrape_requests(portal_urls: list[str]) -> Counter:
    """portal_ingest_requests_total summed over every instance's own /metrics."""
    total: Counter = Counter()
    for url in portal_urls:
        total.update(requests_by_labels(get_text(f"{url}/metrics")))
    return total


def prometheus_query(prometheus_url: str, query: str) -> list[dict]:
    """The result vector of an instant PromQL query."""
    data = json.loads(get_text(f"{prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': query})}"))
    return data["data"]["result"]


def firing_alerts(prometheus_url: str) -> list[dict]:
    """Alerts Prometheus itself holds as firing (its /api/v1/alerts)."""
    data = json.loads(get_text(f"{prometheus_url}/api/v1/alerts"))
    return [alert for alert in data["data"]["alerts"] if alert["state"] == "firing"]


def worker_of_request(log_paths: list[Path]) -> dict[str, tuple[int, str]]:
    """request id -> (worker pid, ingestion path) from the instances' gunicorn access logs."""
    found: dict[str, tuple[int, str]] = {}
    for path in log_paths:
        for line in Path(path).read_text(errors="replace").splitlines():
            match = _GUNICORN_LINE.search(line)
            if match and match.group(2) != "-":
                found[match.group(2)] = (int(match.group(1)), match.group(3))
    return found


def request_count_by_id(log_paths: list[Path]) -> Counter:
    """How many times each request id appears in the instances' access logs (served how often)."""
    counts: Counter = Counter()
    for path in log_paths:
        for line in Path(path).read_text(errors="replace").splitlines():
            match = _GUNICORN_LINE.search(line)
            if match and match.group(2) != "-":
                counts[match.group(2)] += 1
    return counts


def upstreams_of_request(nginx_log: Path) -> dict[str, list[str]]:
    """request id -> the instances nginx tried, in order, from its access log."""
    found = {}
    for line in Path(nginx_log).read_text(errors="replace").splitlines():
        match = _NGINX_LINE.search(line)
        if match:
            found[match.group(1)] = [part.strip() for part in match.group(2).replace(" : ", ", ").split(",")]
    return found
