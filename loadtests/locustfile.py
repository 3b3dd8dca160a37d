"""Locust load test of the portal's uploads: the direct and the staged workflow, routed and pinned.

    locust -f loadtests/locustfile.py --host http://127.0.0.1:5000            # web UI
    python -m loadtests.run --users 20 --run-time 2m                          # headless, see run.py

Users upload workbooks generated for every schema before the load starts (a pool, so
generation is not measured), drawn by a configurable mix of good, bad-values, blank-id
and not-a-workbook files (`--mix good=60,bad=20,blank_id=10,not_workbook=10`). Every
upload (or staged round trip) is sent as one of `--user-ids` distinct portal users
(`X-Portal-User`; the portal must trust it: HARNESS_TRUST_USER_HEADER=true), so the
router's sticky rollout buckets all get traffic.

- `DirectUploader`: `POST /upload` (routed; tags direct, routed) and the pinned
  `/upload_original` and `/upload_refactored` in turn (tags direct, pinned).
- `StagedReviewer`: `POST /upload_staged` (routed) or the pinned staged endpoints, then
  `GET /review_staged/...`, a pause, then `POST /confirm_staged/...` with the fields the
  review offers, or (`--discard-share` of the time) `POST /discard_staged_update/...`.
- Each simulated browser first fetches its CSRF token (`GET /csrf_token`) and sends it
  with every POST, as the portal's own pages do.

`--tags routed` is what a rollout rehearsal wants (only the user-facing endpoints);
`--tags direct` or `--tags staged` one workflow. Stepped load: add `loadtests/shape.py`
to `-f` (see that file).

Answers are judged by `loadtests.expectations`: an expected refusal (422 missing_id for
a blank id, 415/422 for a PDF, 409 on a confirm that lost a race) is a success in
Locust's statistics and an `expected_error` in the exact summary; any other answer (5xx,
wrong status or error type, wrong path, timeout) is a Locust failure. `--samples-file`
writes every request's record for `loadtests.summary` (run.py does this).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from locust import FastHttpUser, between, events, tag, task

from loadtests.csrf import HEADER as CSRF_HEADER
from loadtests.csrf import TOKEN_PATH
from loadtests.expectations import (
    DIRECT, ORIGINAL, REFACTORED, STAGED, Verdict, classify_confirm, classify_discard, classify_review,
    classify_upload, confirmable_keys,
)
from loadtests.workbooks import DEFAULT_MIX, Picker, Sample, build_pool, parse_mix

REVIEW_NAME = "/review_staged/[id]/[file]"
CONFIRM_NAME = "/confirm_staged/[id]/[file]"
DISCARD_NAME = "/discard_staged_update/[id]/[file]"


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    group = parser.add_argument_group("portal load test")
    group.add_argument("--mix", default=DEFAULT_MIX, help="weights of good, bad, blank_id, not_workbook files")
    group.add_argument("--user-ids", type=int, default=5000, help="distinct X-Portal-User ids drawn from")
    group.add_argument("--discard-share", type=float, default=0.3, help="share of staged uploads discarded, not confirmed")
    group.add_argument("--pool-per-schema", type=int, default=4, help="workbooks generated per schema and variant")
    group.add_argument("--pool-seed", type=int, default=1)
    group.add_argument("--think-time", type=float, default=0.5, help="each user waits 0..this many seconds between tasks")
    group.add_argument("--request-timeout", type=float, default=30.0, help="seconds; a slower answer is a failure")
    group.add_argument("--samples-file", default="", help="write every request's record here (JSON) at the end")


class LoadState:
    """What users share in one Locust process: the pool, the options, every request's record."""

    def __init__(self, options):
        self.mix = parse_mix(options.mix)
        self.pool = build_pool(options.pool_per_schema, options.pool_seed,
                               kinds=tuple(k for k, w in self.mix.items() if w > 0))
        self.user_ids = max(1, options.user_ids)
        self.discard_share = options.discard_share
        self.samples_file = options.samples_file
        self.records: list[dict] = []
        self.started: float | None = None
        self.stopped: float | None = None

    def record(self, name: str, workflow: str, step: str, verdict: Verdict, ms: float, kind: str | None = None) -> None:
        """Keep one request's verdict and time."""
        self.records.append({"name": name, "workflow": workflow, "step": step, "kind": kind, "path": verdict.path,
                             "outcome": verdict.outcome, "reason": verdict.reason, "ms": ms})

    def write(self) -> None:
        """Write the records (and the measured window) to `--samples-file`, if one was named."""
        if not self.samples_file:
            return
        started = self.started or time.time()
        stopped = self.stopped or time.time()
        Path(self.samples_file).parent.mkdir(parents=True, exist_ok=True)
        Path(self.samples_file).write_text(json.dumps(
            {"started": started, "stopped": stopped, "mix": self.mix, "user_ids": self.user_ids,
             "pool": {k: len(v) for k, v in self.pool.items()}, "records": self.records}))


@events.init.add_listener
def _init(environment, **_) -> None:
    options = environment.parsed_options
    if options is None:  # imported by a tool, not run by Locust
        return
    environment.portal_load = LoadState(options)
    PortalUser.network_timeout = PortalUser.connection_timeout = options.request_timeout
    PortalUser.wait_time = between(0, max(0.0, options.think_time))


@events.test_start.add_listener
def _started(environment, **_) -> None:
    # Tags are applied just before this event: `--tags staged` leaves DirectUploader without
    # tasks, and Locust would still spawn it (idle, logging errors). Spawn only classes with work.
    with_tasks = [cls for cls in environment.user_classes if cls.tasks]
    if with_tasks:
        environment.user_classes = with_tasks
    environment.portal_load.started = time.time()


@events.test_stop.add_listener
def _stopped(environment, **_) -> None:
    environment.portal_load.stopped = time.time()


@events.quitting.add_listener
def _quitting(environment, **_) -> None:
    state = getattr(environment, "portal_load", None)
    if state is not None:
        state.write()


def _body(response) -> dict | None:
    try:
        value = json.loads(response.content or b"null")
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def _error(response) -> str | None:
    """Why there is no answer (connection error, timeout); None when there is a status.
    (FastHttp also sets `error` on a 4xx, which is an answer to judge.)"""
    error = getattr(response, "error", None)
    if error is None or response.status_code:
        return None
    return f"{type(error).__name__}: {error}"


class PortalUser(FastHttpUser):
    """A browser session of the portal; each task acts as one portal user drawn from the ids."""

    abstract = True
    wait_time = between(0, 0.5)

    def on_start(self) -> None:
        self.state: LoadState = self.environment.portal_load
        # The portal refuses a form post without its session's CSRF token: fetch it once
        # (the client keeps the session cookie) and send it with every POST.
        response = self.client.get(TOKEN_PATH, name=TOKEN_PATH, headers={"Accept": "application/json"})
        self.csrf_token = (_body(response) or {}).get("csrf_token", "")
        self.rng = random.Random()
        self.picker = Picker(self.state.pool, self.state.mix, self.rng)
        self.pinned_turn = self.rng.randrange(2)

    def portal_user(self) -> str:
        """A user id from the population: spreads uploads over the rollout buckets."""
        return f"loadtest-user-{self.rng.randrange(self.state.user_ids):05d}"

    def next_pinned(self, route: str) -> tuple[str, str]:
        """(endpoint, path): the pinned endpoints in turn, so both paths get equal load."""
        self.pinned_turn ^= 1
        path = (ORIGINAL, REFACTORED)[self.pinned_turn]
        return (f"/upload_{path}" if route == DIRECT else f"/upload_staged_{path}"), path

    def headers(self, user: str, **extra: str) -> dict:
        """The headers the authenticating proxy and a JSON client would send (and the CSRF token)."""
        return {"X-Portal-User": user, "Accept": "application/json", CSRF_HEADER: self.csrf_token, **extra}

    def upload(self, endpoint: str, route: str, pinned: str | None, user: str, sample: Sample) -> tuple[Verdict, dict | None]:
        """POST one sample and judge the answer."""
        with self.client.post(endpoint, data=sample.body, name=endpoint, catch_response=True,
                              headers=self.headers(user, **{"Content-Type": sample.content_type})) as response:
            body = _body(response)
            verdict = classify_upload(sample.kind, route, response.status_code, body,
                                      header_path=response.headers.get("X-Ingest-Path") if response.headers else None,
                                      pinned_path=pinned, id_incidence=sample.id_incidence, error=_error(response))
            self._settle(response, verdict)
        self.state.record(endpoint, route, "upload", verdict, response.request_meta["response_time"], sample.kind)
        return verdict, body

    def _settle(self, response, verdict: Verdict) -> None:
        if verdict.is_failure:
            response.failure(verdict.reason)
        else:
            response.success()


class DirectUploader(PortalUser):
    """Uploads feedback forms that are saved at once."""

    @tag(DIRECT, "routed")
    @task(3)
    def upload_routed(self) -> None:
        """`POST /upload`: the router picks the path for this user."""
        self.upload("/upload", DIRECT, None, self.portal_user(), self.picker.pick())

    @tag(DIRECT, "pinned")
    @task(1)
    def upload_pinned(self) -> None:
        """The pinned direct endpoints, in turn."""
        endpoint, path = self.next_pinned(DIRECT)
        self.upload(endpoint, DIRECT, path, self.portal_user(), self.picker.pick())


class StagedReviewer(PortalUser):
    """Stages uploads, reviews them, then confirms the offered fields or discards."""

    @tag(STAGED, "routed")
    @task(3)
    def staged_routed(self) -> None:
        """`POST /upload_staged` (routed), then review and confirm or discard."""
        self.staged_round_trip("/upload_staged", None)

    @tag(STAGED, "pinned")
    @task(1)
    def staged_pinned(self) -> None:
        """The pinned staged endpoints in turn, then review and confirm or discard."""
        endpoint, path = self.next_pinned(STAGED)
        self.staged_round_trip(endpoint, path)

    def staged_round_trip(self, endpoint: str, pinned: str | None) -> None:
        """Upload; if staged, review, think, and confirm or discard as the same user."""
        user = self.portal_user()
        verdict, body = self.upload(endpoint, STAGED, pinned, user, self.picker.pick())
        if verdict.outcome != "ok":
            return
        where = f"{body['id_incidence']}/{body['staged_filename']}"
        with self.client.get(f"/review_staged/{where}", name=REVIEW_NAME, headers=self.headers(user),
                             catch_response=True) as response:
            review = _body(response)
            verdict = classify_review(response.status_code, review, error=_error(response))
            self._settle(response, verdict)
        self.state.record(REVIEW_NAME, STAGED, "review", verdict, response.request_meta["response_time"])
        if verdict.is_failure:
            return
        self.wait()  # the reviewer reads the changes; other uploads may change the incidence meanwhile
        keys = confirmable_keys(review)
        # Nothing changed: the review offers discard only (a confirm of nothing is refused).
        if not keys or self.rng.random() < self.state.discard_share:
            name, step, url, payload, judge = DISCARD_NAME, "discard", f"/discard_staged_update/{where}", None, classify_discard
        else:
            name, step, url, payload, judge = (CONFIRM_NAME, "confirm", f"/confirm_staged/{where}",
                                               {"confirm": keys}, classify_confirm)
        with self.client.post(url, name=name, json=payload, headers=self.headers(user), catch_response=True) as response:
            verdict = judge(response.status_code, _body(response), error=_error(response))
            self._settle(response, verdict)
        self.state.record(name, STAGED, step, verdict, response.request_meta["response_time"])
