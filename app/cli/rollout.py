"""`harness rollout`: staged rollout plans and the controller that runs them.

    harness rollout start FLAG [--steps 25,50,75,100] [--bake 2h] [--min-uploads 200] [--rollback kill|step-back]
    harness rollout status [FLAG] [--json]
    harness rollout pause FLAG [--reason TEXT]      harness rollout resume FLAG
    harness rollout abort FLAG --reason TEXT        harness rollout history FLAG [--json]
    harness rollout run [--interval 10]             the controller in this process (also inside `harness serve`)

Misuse (unknown flag, steps not increasing, a plan already active, nothing to pause)
exits 2 with the reason; an unreachable database exits 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from app.cli.common import settings
from app.cli.flags import actor_option, json_option

GATE_HELP = "gates, comma-separated: errors, latency, srm, shadow (default all)"


class RolloutUsageError(click.ClickException):
    """A plan refused: bad arguments, or the plan's state does not allow it (exit code 2)."""

    exit_code = 2


def _errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Rollout errors become their message and exit 2; a database failure exits 1."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        from app.harness.rollout.errors import RolloutError
        from flags import FlagError

        try:
            return command(*args, **kwargs)
        except RolloutError as error:
            raise RolloutUsageError(error.message) from None
        except FlagError as error:
            raise RolloutUsageError(str(error)) from None
        except SQLAlchemyError as error:
            raise click.ClickException(f"database unavailable or not migrated (`harness db upgrade`): "
                                       f"{str(error).splitlines()[0]}") from None

    return run


class _Context:
    """The store and flag service a command works with, closed when the command ends."""

    def __init__(self) -> None:
        from app.compose import open_database
        from app.harness.rollout.store import SqlStore
        from flags import open_service

        config = settings()
        self.db = open_database(config)
        self.store = SqlStore(self.db.engine)
        self.flags = open_service(config.flag_store_url)
        self.settings = config
        click.get_current_context().call_on_close(self.close)

    def close(self) -> None:
        self.flags.close()
        self.db.dispose()


def _now():
    from app.harness.rollout.runner import utc_now

    return utc_now()


def _check_flag(flag: str) -> None:
    from app.harness.rollout.plan import FLAG_ROUTES

    if flag not in FLAG_ROUTES:
        raise RolloutUsageError(f"unknown flag {flag!r}: plans run on {', '.join(FLAG_ROUTES)}")


@click.group("rollout")
def rollout_group() -> None:
    """Staged rollout plans: steps, bake times, peeking-safe gates, automatic rollback."""


@rollout_group.command("start")
@click.argument("flag")
@click.option("--steps", default="25,50,75,100", show_default=True, help="percents, increasing, comma-separated")
@click.option("--bake", default="2h", show_default=True, help="time each step holds before it may advance (45s, 30m, 2h)")
@click.option("--min-uploads", type=int, default=200, show_default=True, help="uploads each path needs per step")
@click.option("--rollback", "rollback_mode", type=click.Choice(["kill", "step-back"]), default="kill", show_default=True,
              help="on a failing gate: kill switch, or back to the previous step's percent")
@click.option("--gates", default="errors,latency,srm,shadow", show_default=True, help=GATE_HELP)
@click.option("--alpha", type=float, default=0.05, show_default=True, help="false-rollback budget for the whole plan")
@actor_option
@_errors
def start_command(flag: str, steps: str, bake: str, min_uploads: int, rollback_mode: str, gates: str, alpha: float,
                  actor: str) -> None:
    """Start a plan on FLAG; the controller applies its first step on its next tick."""
    from app.harness.rollout import operations
    from app.harness.rollout.plan import Plan, format_steps, parse_duration, parse_steps

    _check_flag(flag)
    plan = Plan(flag, steps=parse_steps(steps, flag), bake_s=parse_duration(bake), min_uploads=min_uploads,
                rollback=rollback_mode.replace("-", "_"), alpha=alpha,
                gates=tuple(g.strip() for g in gates.split(",") if g.strip()))
    ctx = _Context()
    state = operations.start(ctx.store, ctx.flags, plan, _now(), actor)
    click.echo(f"plan {state.id} on {flag}: steps {format_steps(plan.steps)}, bake {plan.bake_s:g} s, "
               f"min {plan.min_uploads} uploads per path per step, rollback by {plan.rollback.replace('_', ' ')}, "
               f"gates {', '.join(plan.gates)}")
    if ctx.settings.rollout_interval_s <= 0:
        click.echo("the controller is off in `harness serve` (HARNESS_ROLLOUT_INTERVAL_S=0): run `harness rollout run`")


def _status_lines(state, lease: dict, now) -> list[str]:
    plan = state.plan
    lines = [f"{state.flag}: {state.status}, step {state.step_index + 1}/{len(plan.steps)} at {state.percent:g}% "
             f"(plan {state.id}, started by {state.created_by} at {state.created_at:%Y-%m-%d %H:%M:%S})"]
    if state.step_started_at is None and state.active:
        lines.append("  waiting for the controller to apply the step")
    elif state.step_started_at is not None:
        lines.append(f"  step applied {state.step_started_at:%H:%M:%S}, baking {(now - state.step_started_at).total_seconds():.0f}"
                     f"/{plan.bake_s:g} s")
    if state.reason:
        lines.append(f"  {state.reason}")
    evaluation = state.last_evaluation or {}
    for gate in evaluation.get("evidence", {}).get("gates", []):
        lines.append(f"  {gate['gate']:<8} {gate['verdict'].upper():<6} {gate['reason']}")
    if evaluation.get("evidence", {}).get("window"):
        window = evaluation["evidence"]["window"]
        lines.append(f"  window {window['start'][11:19]}..{window['end'][11:19]} from {window['source']} "
                     f"(evaluated {evaluation['at'][11:19]})")
    if state.active:
        holder, expires = lease.get("holder"), lease.get("expires_at")
        lapsed = expires is not None and expires < now.isoformat()
        if holder and not lapsed:
            lines.append(f"  controller: {holder} (lease until {expires})")
        else:
            lines.append("  controller: none holds the lease: nothing is acting on this plan"
                         + (f" (the last holder, {holder}, stopped renewing it at {expires})" if holder else ""))
    return lines


@rollout_group.command("status")
@click.argument("flag", required=False)
@json_option
@_errors
def status_command(flag: str | None, as_json: bool) -> None:
    """Each plan's step, its gates (with figures) and who is running it."""
    from app.harness.rollout.plan import FLAG_ROUTES

    if flag is not None:
        _check_flag(flag)
    ctx = _Context()
    states = [s for s in (ctx.store.latest(name) for name in ([flag] if flag else FLAG_ROUTES)) if s is not None]
    lease = ctx.store.lease()
    if as_json:
        click.echo(json.dumps({"plans": [s.to_dict() for s in states], "lease": lease}, indent=2))
        return
    if not states:
        click.echo("no rollout plans" + (f" on {flag}" if flag else ""))
        return
    now = _now()
    for state in states:
        for line in _status_lines(state, lease, now):
            click.echo(line)


@rollout_group.command("pause")
@click.argument("flag")
@click.option("--reason", default=None, help="why (kept with the plan's decisions)")
@actor_option
@_errors
def pause_command(flag: str, reason: str | None, actor: str) -> None:
    """Stop the controller acting on FLAG's plan; the flag stays where it is."""
    from app.harness.rollout import operations

    _check_flag(flag)
    state = operations.pause(_Context().store, flag, _now(), actor, reason)
    click.echo(f"{flag}: {state.reason} (flag left at {state.percent:g}%)")


@rollout_group.command("resume")
@click.argument("flag")
@actor_option
@_errors
def resume_command(flag: str, actor: str) -> None:
    """Continue FLAG's paused plan: its current step is re-applied and baked again."""
    from app.harness.rollout import operations

    _check_flag(flag)
    ctx = _Context()
    state = operations.resume(ctx.store, ctx.flags, flag, _now(), actor)
    click.echo(f"{flag}: running again at step {state.step_index + 1} ({state.percent:g}%)")


@rollout_group.command("abort")
@click.argument("flag")
@click.option("--reason", required=True, help="why the plan ends")
@actor_option
@_errors
def abort_command(flag: str, reason: str, actor: str) -> None:
    """End FLAG's plan; the flag stays as it is (`harness flags kill` to roll back)."""
    from app.harness.rollout import operations

    _check_flag(flag)
    state = operations.abort(_Context().store, flag, _now(), actor, reason)
    click.echo(f"{flag}: plan {state.id} aborted; the flag stays at {state.percent:g}%")


@rollout_group.command("history")
@click.argument("flag")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@json_option
@_errors
def history_command(flag: str, limit: int, as_json: bool) -> None:
    """FLAG's rollout decisions, newest first, each with its evidence."""
    _check_flag(flag)
    decisions = _Context().store.decisions(flag, limit)
    if as_json:
        click.echo(json.dumps([d.to_dict() for d in decisions], indent=2))
        return
    if not decisions:
        click.echo(f"no rollout decisions on {flag}")
    for d in decisions:
        percent = f"{d.percent:g}%" if d.percent is not None else "-"
        click.echo(f"{d.at:%Y-%m-%d %H:%M:%S}  plan {d.plan_id}  step {d.step_index + 1} {percent:>5}  "
                   f"{d.action:<8} {d.actor:<18} {d.reason}")
        for gate in d.evidence.get("gates", []):
            test = gate.get("test") or {}
            stat = f" log LR {test['log_lr']:.2f}/{test['bound']:.2f}" if test else ""
            click.echo(f"      {gate['gate']:<8} {gate['verdict']:<5} n={gate['samples']}{stat}")


@rollout_group.command("run")
@click.option("--interval", type=click.FloatRange(0.1, 3600), default=None,
              help="seconds between ticks (default HARNESS_ROLLOUT_INTERVAL_S, 10)")
@click.option("--iterations", type=click.IntRange(1), default=None, help="stop after this many ticks")
@click.option("--prometheus", default=None, metavar="URL",
              help="gates read this Prometheus server (default HARNESS_ROLLOUT_PROMETHEUS_URL, else the database)")
@_errors
def run_command(interval: float | None, iterations: int | None, prometheus: str | None) -> None:
    """Run the controller in this process (under the same lease as `harness serve`'s)."""
    import time

    from app.harness.rollout.runner import build_controller, lease_for

    config = settings()
    every = interval or float(config.rollout_interval_s or 10)
    ctx = _Context()

    def echo(decision) -> None:
        click.echo(f"{decision.at:%H:%M:%S} {decision.flag} step {decision.step_index + 1} "
                   f"{decision.action}: {decision.reason}")

    controller = build_controller(ctx.db.engine, ctx.flags, kind="run", lease_s=lease_for(every), on_decision=echo,
                                  prometheus_url=prometheus or config.rollout_prometheus_url)
    click.echo(f"rollout controller {controller.holder}: ticking every {every:g} s, gates from {controller.source.name}")
    count = 0
    held = None
    try:
        while iterations is None or count < iterations:
            controller.tick()
            now_held = controller.store.lease().get("holder") == controller.holder
            if now_held != held:
                click.echo("holding the lease: acting" if now_held else "another controller holds the lease: standing by")
                held = now_held
            count += 1
            if iterations is None or count < iterations:
                time.sleep(every)
    except KeyboardInterrupt:
        pass
    finally:
        controller.release()
