"""`harness rehearse`: a staged rollout with an injected regression, start to rollback, on one machine.

    harness rehearse [--steps 25,50,75,100] [--bake 30s] [--inject-at 2] [--fault errors|latency]
                     [--users 50] [--out results/rehearsal]

1. starts the portal on the embedded default (SQLite in a fresh instance folder, gunicorn,
   fault injection allowed, the rollout controller ticking every 2 s);
2. drives Locust load on the routed endpoints (`loadtests/locustfile.py`, thousands of
   distinct user ids) in its own process;
3. starts a plan on `refactored_upload` with short bakes; when the `--inject-at` step is
   applied, injects the fault on the refactored direct path (`PUT /admin/api/faults`);
4. shows every decision and the gates' verdicts as they happen, until the plan ends;
5. writes `timeline.svg` and `timeline.json` (percent, per-path error rate and p95, gates,
   the fault, the rollback), `rehearsal.json`, and the A/B report when `harness report` is
   installed (`report/`).

Exit 0 when the controller behaved: every step before the fault passed without a rollback,
and the plan was rolled back at the injected step, after the fault, by the gate the fault
should trip. Exit 1 otherwise, 2 when the rehearsal could not run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
FLAG = "refactored_upload"
EXPECTED_GATE = {"errors": "errors gate failed", "latency": "latency gate failed"}


class RehearsalError(click.ClickException):
    """The rehearsal could not run (exit 2)."""

    exit_code = 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen | None, sig=signal.SIGTERM, wait: float = 20) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(wait)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    except ProcessLookupError:
        pass


def _wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RehearsalError(f"the portal exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise RehearsalError(f"the portal did not answer /healthz within {timeout:.0f} s; see {log}")


def _request(method: str, url: str, token: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def _guard_rollbacks(url: str) -> float | None:
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
            text = response.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    for line in text.splitlines():
        if line.startswith("portal_rollbacks_total{") and f'flag="{FLAG}"' in line and 'trigger="guard"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _echo(line: str, err: bool = False) -> None:
    click.echo(f"[{time.strftime('%H:%M:%S')}] {line}", err=err)


@click.command("rehearse")
@click.option("--steps", default="25,50,75,100", show_default=True, help="the plan's percents")
@click.option("--bake", default="30s", show_default=True, help="bake time per step")
@click.option("--min-uploads", type=click.IntRange(1), default=40, show_default=True, help="uploads per path per step")
@click.option("--inject-at", type=click.IntRange(1), default=2, show_default=True,
              help="the step (1-based) at which the regression starts")
@click.option("--fault", type=click.Choice(["errors", "latency"]), default="errors", show_default=True)
@click.option("--error-rate", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="with --fault errors: share of refactored direct uploads that fail")
@click.option("--delay-ms", type=click.IntRange(1), default=400, show_default=True,
              help="with --fault latency: added to each refactored direct upload")
@click.option("--users", type=click.IntRange(1), default=40, show_default=True, help="concurrent Locust users")
@click.option("--user-ids", type=click.IntRange(1), default=5000, show_default=True, help="distinct portal users")
@click.option("--spawn-rate", type=float, default=10, show_default=True)
@click.option("--warmup", type=click.FloatRange(0), default=20, show_default=True,
              help="seconds of load on the original path before the plan (the latency baseline)")
@click.option("--workers", type=click.IntRange(1), default=2, show_default=True, help="gunicorn workers")
@click.option("--timeout", default="15m", show_default=True, help="give up after this long")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("results/rehearsal"),
              show_default=True)
def rehearse_command(steps: str, bake: str, min_uploads: int, inject_at: int, fault: str, error_rate: float,
                     delay_ms: int, users: int, user_ids: int, spawn_rate: float, warmup: float, workers: int,
                     timeout: str, out: Path) -> None:
    """Rehearse a staged rollout: load, a plan, an injected regression, the rollback, the report."""
    from app.harness.rollout.errors import RolloutError
    from app.harness.rollout.plan import Plan, parse_duration, parse_steps

    if os.environ.get("HARNESS_ENV") == "production":
        raise RehearsalError("harness rehearse injects faults: refused with HARNESS_ENV=production")
    try:
        plan = Plan(FLAG, steps=parse_steps(steps, FLAG), bake_s=parse_duration(bake), min_uploads=min_uploads,
                    gates=("errors", "latency", "srm"), settle_s=3.0, baseline_s=3600.0)
        limit_s = parse_duration(timeout)
    except RolloutError as error:
        raise RehearsalError(error.message) from None
    if inject_at > len(plan.steps) or plan.steps[inject_at - 1] >= 100:
        raise RehearsalError(f"--inject-at {inject_at}: choose a step below 100% (1..{plan.tested_steps})")
    if not (ROOT / "loadtests" / "locustfile.py").exists():
        raise RehearsalError(f"loadtests/locustfile.py not found under {ROOT}: run from a checkout of the project")
    out = out.resolve()
    instance = out / "instance"
    shutil.rmtree(instance, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    port, token = _free_port(), secrets.token_urlsafe(24)
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    env.update(HARNESS_INSTANCE_PATH=str(instance), HARNESS_HOST="127.0.0.1", HARNESS_PORT=str(port),
               HARNESS_WORKERS=str(workers), HARNESS_TRUST_USER_HEADER="true", HARNESS_FAULTS="",
               HARNESS_ADMIN_TOKENS=f"rehearsal:rw:{token}", HARNESS_ROLLOUT_INTERVAL_S="2",
               HARNESS_SHADOW_PROCESSES="0")
    database_url = f"sqlite:///{instance / 'portal.db'}"
    server = locust = None
    started = time.monotonic()
    try:
        _echo(f"portal: starting on {url} ({workers} workers, SQLite in {instance})")
        server_log = out / "server.log"
        with server_log.open("w") as log:
            server = subprocess.Popen([str(Path(sys.executable).with_name("harness")), "serve"], env=env, cwd=out,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_healthy(url, server, server_log)
        _echo(f"load: {users} Locust users as {user_ids} distinct portal users on the routed endpoints")
        locust_env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))}
        with (out / "locust.log").open("w") as log:
            locust = subprocess.Popen(
                [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"), "--headless",
                 "--host", url, "--users", str(users), "--spawn-rate", str(spawn_rate), "--run-time",
                 f"{int(limit_s + warmup + 60)}s", "--tags", "routed", "--only-summary", "--user-ids", str(user_ids)],
                cwd=ROOT, env=locust_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _echo(f"warm-up: {warmup:g} s on the original path (the latency baseline)")
        time.sleep(warmup)
        result = _drive(database_url, url, token, plan, inject_at, fault, error_rate, delay_ms, limit_s, locust)
        rollbacks = _guard_rollbacks(url)
    finally:
        _stop(locust, signal.SIGINT)
        if server is not None and server.poll() is None and result_fault_set(locals()):
            try:
                _request("DELETE", f"{url}/admin/api/faults", token)
            except (urllib.error.URLError, OSError):
                pass
        _stop(server)
    result["guard_rollbacks_metric"] = rollbacks
    _finish(result, database_url, env, out, plan, started)


def result_fault_set(scope: dict) -> bool:
    """Whether the rehearsal got far enough to inject a fault (so it is reset)."""
    return bool(scope.get("result", {}) and scope["result"].get("fault_at"))


def _drive(database_url: str, url: str, token: str, plan, inject_at: int, fault: str, error_rate: float,
           delay_ms: int, limit_s: float, locust: subprocess.Popen) -> dict:
    """Start the plan, inject the fault at its step, follow the controller until the plan ends."""
    from sqlalchemy import create_engine

    from app.harness.rollout import operations
    from app.harness.rollout.runner import utc_now
    from app.harness.rollout.store import SqlStore
    from flags import open_service

    engine = create_engine(database_url)
    flags = open_service(database_url)
    store = SqlStore(engine)
    try:
        state = operations.start(store, flags, plan, utc_now(), "rehearsal")
        _echo(f"plan {state.id}: steps {','.join(f'{s:g}' for s in plan.steps)}, bake {plan.bake_s:g} s, "
              f"min {plan.min_uploads} uploads per path; fault ({fault}) at step {inject_at}")
        spec = ({"refactored.direct.error_rate": error_rate} if fault == "errors"
                else {"refactored.direct.delay_ms": float(delay_ms)})
        seen: set[int] = set()
        evaluations: list = []
        fault_at = None
        last_progress = 0.0
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            state = store.latest(plan.flag)
            for decision in reversed(store.decisions(plan.flag, 20, plan_id=state.id)):
                if decision.id not in seen:
                    seen.add(decision.id)
                    _echo(f"{decision.action.upper():<8} step {decision.step_index + 1} "
                          f"({decision.percent if decision.percent is not None else '-'}%): {decision.reason}")
            evaluation = state.last_evaluation or {}
            if evaluation.get("verdicts"):
                at = dt.datetime.fromisoformat(evaluation["at"])
                if not evaluations or evaluations[-1][0] != at:
                    evaluations.append((at, evaluation["verdicts"]))
                if time.monotonic() - last_progress >= 6 and state.active:
                    last_progress = time.monotonic()
                    verdicts = " ".join(f"{g}={v}" for g, v in evaluation["verdicts"].items())
                    _echo(f"  step {state.step_index + 1} at {state.percent:g}%: {verdicts}")
            if (fault_at is None and state.active and state.step_index + 1 == inject_at
                    and state.step_started_at is not None):
                _request("PUT", f"{url}/admin/api/faults", token, {"faults": spec})
                fault_at = utc_now()
                _echo(f"FAULT    injected on the refactored direct path: {spec}")
            if not state.active:
                break
            if locust.poll() is not None:
                _echo("Locust stopped early: see locust.log", err=True)
                break
            time.sleep(1.0)
        state = store.latest(plan.flag)
        decisions = list(reversed(store.decisions(plan.flag, 10_000, plan_id=state.id)))
        return {"state": state, "decisions": decisions, "evaluations": evaluations, "fault_at": fault_at,
                "fault": fault, "spec": spec, "inject_at": inject_at, "plan_start": state.created_at}
    finally:
        flags.close()
        engine.dispose()


def _judge(result: dict) -> tuple[bool, list[str]]:
    state, decisions, fault_at = result["state"], result["decisions"], result["fault_at"]
    problems = []
    rollbacks = [d for d in decisions if d.action == "rollback"]
    if fault_at is None:
        problems.append("the fault was never injected (the plan did not reach the step)")
    early = [d for d in rollbacks if fault_at is None or d.at < fault_at]
    if early:
        problems.append(f"false rollback before the fault: {early[0].reason}")
    if state.status != "rolled_back":
        problems.append(f"the plan ended {state.status}, not rolled back")
    elif rollbacks:
        last = rollbacks[-1]
        if last.step_index + 1 != result["inject_at"]:
            problems.append(f"rolled back at step {last.step_index + 1}, not at the injected step {result['inject_at']}")
        if EXPECTED_GATE[result["fault"]] not in last.reason:
            problems.append(f"rolled back, but not by the {result['fault']} gate: {last.reason}")
    return not problems, problems


def _finish(result: dict, database_url: str, env: dict, out: Path, plan, started: float) -> None:
    from sqlalchemy import create_engine, select

    from app.harness.names import SERVER_ERRORS
    from app.harness.rollout.timeline import build, plot
    from app.ingest.models import UploadedFile

    behaved, problems = _judge(result)
    decisions, fault_at = result["decisions"], result["fault_at"]
    start = result["plan_start"]
    rollback = next((d for d in decisions if d.action == "rollback"), None)
    detection = (rollback.at - fault_at).total_seconds() if rollback and fault_at and rollback.at >= fault_at else None
    engine = create_engine(database_url)
    u = UploadedFile.__table__.c
    with engine.connect() as conn:
        rows = conn.execute(select(u.created_at, u.ingest_path, u.error_type, u.duration_seconds).where(
            u.route == "direct", u.created_at >= start, u.decision_reason != "pinned")).all()
    engine.dispose()

    def aware(value):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value

    uploads = [(aware(r[0]), r[1], r[2] in SERVER_ERRORS, r[3]) for r in rows]
    timeline = build(start, decisions, result["evaluations"], uploads, fault_at)
    title = (f"rehearsal: {result['fault']} fault at step {result['inject_at']}"
             + (f", rolled back {detection:.0f} s later" if detection is not None else ", no rollback"))
    svg = plot(timeline, out / "timeline.svg", title)
    (out / "timeline.json").write_text(json.dumps(timeline.to_dict(), indent=2, default=str))
    report_note = _report(env, out, start)
    summary = {"behaved": behaved, "problems": problems, "status": result["state"].status,
               "rolled_back_at_step": rollback.step_index + 1 if rollback else None,
               "detection_s": detection, "fault": result["spec"], "fault_at": fault_at.isoformat() if fault_at else None,
               "uploads": len(uploads), "guard_rollbacks_metric": result.get("guard_rollbacks_metric"),
               "plan": plan.to_dict(), "decisions": [d.to_dict() for d in decisions], "report": report_note,
               "elapsed_s": round(time.monotonic() - started, 1)}
    (out / "rehearsal.json").write_text(json.dumps(summary, indent=2, default=str))
    _echo(f"timeline: {svg}  ({len(uploads)} routed direct uploads)")
    _echo(f"A/B report: {report_note}")
    if detection is not None:
        _echo(f"rolled back {detection:.1f} s after the fault; portal_rollbacks_total{{trigger=\"guard\"}} = "
              f"{result.get('guard_rollbacks_metric')}")
    if behaved:
        _echo("the controller behaved: steps passed while healthy, rolled back at the injected step")
        return
    for problem in problems:
        _echo(f"PROBLEM: {problem}", err=True)
    sys.exit(1)


def _report(env: dict, out: Path, start: dt.datetime) -> str:
    """Run `harness report` over the rehearsal when this build has it; say so when not."""
    from app.cli import main

    if "report" not in main.commands:
        return "not written: `harness report` is not part of this build (the timeline stands alone)"
    command = [str(Path(sys.executable).with_name("harness")), "report", "--from", start.isoformat(),
               "--to", dt.datetime.now(dt.UTC).isoformat(), "--route", "direct", "--out", str(out / "report"), "--quiet"]
    done = subprocess.run(command, env=env, cwd=out, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return f"harness report failed ({done.returncode}): {done.stderr.strip()[-300:]}"
    return f"{out / 'report'} ({done.stdout.strip().splitlines()[-1] if done.stdout.strip() else 'written'})"
