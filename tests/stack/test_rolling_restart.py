"""A rolling restart under upload traffic through nginx (the zero-downtime upgrade of
docs/deployment.md): drained from nginx first, every upload succeeds and is recorded once.
(Without draining, the connections queued at the instance when its listening socket
closes are reset and nginx answers them 502: 4 to 6 uploads over two restarts with three
clients, measured while writing this test; nothing processed is lost, but it is not zero
downtime.)"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter

import pytest

from loadtests.stack.client import post, upstreams_of_request
from tests.stack.conftest import last_upload_id, nginx_access_log, report, uploads_recorded

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

CLIENTS = 3


def _send(base_url: str, samples, stop: threading.Event, answers: list) -> None:
    for sample in samples:
        if stop.is_set():
            return
        answers.append(post(base_url, "/upload_refactored", sample.body, sample.content_type,
                            user=f"roll-{uuid.uuid4().hex[:8]}", timeout=30))


def _restart_each_under_traffic(stack, state, good_samples, drain: bool) -> tuple[list, list[float]]:
    stop, answers = threading.Event(), []
    threads = [threading.Thread(target=_send, args=(state.nginx_url, itertools.cycle(good_samples[n:] + good_samples[:n]),
                                                    stop, answers)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    timings = []
    try:
        time.sleep(2)
        for index in range(1, len(state.portal_urls) + 1):
            started = time.monotonic()
            stack.restart_instance(state, index, drain=drain)
            timings.append(time.monotonic() - started)
            time.sleep(2)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return answers, timings


def test_restarting_the_instances_one_at_a_time_drained_from_nginx_fails_no_upload(running_stack, db, good_samples):
    """Drain, SIGTERM (graceful), start, undrain, instance by instance: all 200, each a processed record."""
    stack, state = running_stack
    before = last_upload_id(db)
    answers, timings = _restart_each_under_traffic(stack, state, good_samples, drain=True)
    statuses = Counter(a.status for a in answers)
    rows = {row["id"]: row for row in uploads_recorded(db, before)}
    report(f"rolling restart (drained) of {len(timings)} instances under {CLIENTS} clients: {len(answers)} uploads "
           f"{dict(statuses)}; each restart took {', '.join(f'{t:.1f} s' for t in timings)}")
    assert statuses == Counter({200: len(answers)}), [a.error or a.body for a in answers if a.status != 200][:5]
    assert sorted(a.upload_id for a in answers) == sorted(rows) and {r["status"] for r in rows.values()} == {"processed"}
    upstreams = upstreams_of_request(nginx_access_log(state))
    last = [upstreams[a.request_id][-1] for a in sorted(answers, key=lambda a: a.sent)[-20:]]
    assert set(last) == {url.removeprefix("http://") for url in state.portal_urls}, "both instances serve again"

