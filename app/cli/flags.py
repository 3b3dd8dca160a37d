"""`harness flags ...` and `harness rollback`: the operator's command line for feature flags.

The commands build the flag service from `load_settings()` themselves (no Flask app
context), print a short human table (or `--json`), and exit non-zero on misuse:
2 for an unknown flag or a bad value, 1 when the configuration is broken or the flag
store cannot be reached.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

import click

from app.cli.common import settings
from flags import (
    ACTIONS,
    ALL_FLAGS,
    AuditEntry,
    FlagError,
    FlagService,
    FlagState,
    InvalidValue,
    StoreUnavailable,
    UnknownFlag,
    open_service,
)
from flags.audit import with_os_user

__all__ = ["flags_group", "rollback_command"]


class FlagUsageError(click.ClickException):
    """A bad flag name or value on the command line (exit code 2)."""

    exit_code = 2


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "cli"


def _open() -> FlagService:
    service = open_service(settings().flag_store_url)
    click.get_current_context().call_on_close(service.close)
    return service


def _operator_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn flag errors into clear messages and exit codes."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (UnknownFlag, InvalidValue) as error:
            raise FlagUsageError(str(error)) from None
        except StoreUnavailable as error:
            raise click.ClickException(str(error)) from None
        except FlagError as error:
            raise click.ClickException(str(error)) from None

    return run


def _recorded_actor(ctx: click.Context, param: click.Parameter, actor: str) -> str:
    """The actor as the audit log keeps it: the operating-system user beside a given --actor."""
    actor = (actor or "").strip()
    if not actor:
        raise click.BadParameter("an actor is required", ctx=ctx, param=param)
    return with_os_user(actor, _default_actor())


actor_option = click.option(
    "--actor", default=_default_actor, callback=_recorded_actor, show_default="your login name",
    help="Who is making the change (audit log; your login name is recorded beside it).",
)
reason_option = click.option("--reason", default=None, help="Why (kept in the audit log; at most 1,000 characters).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def _state_line(state: FlagState) -> str:
    switch = "KILLED" if state.killed else "active"
    updated = state.updated_at.strftime("%Y-%m-%d %H:%M:%S") if state.updated_at else "-"
    return (
        f"{state.name:<26} {state.percent:>8g}% {switch:<7} {len(state.allow):>6} {len(state.deny):>6}"
        f"  {updated:<19}  {state.updated_by or '-'}"
    )


def _echo_state(state: FlagState, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(state.to_dict(), indent=2))
        return
    click.echo(f"flag:         {state.name}")
    click.echo(f"percent:      {state.percent:g}%")
    click.echo(f"kill switch:  {'KILLED (' + (state.kill_reason or '') + ')' if state.killed else 'off (flag active)'}")
    click.echo(f"allow list:   {', '.join(sorted(state.allow)) or '-'}")
    click.echo(f"deny list:    {', '.join(sorted(state.deny)) or '-'}")
    click.echo(f"version:      {state.version}")
    updated = state.updated_at.isoformat() if state.updated_at else "-"
    click.echo(f"updated:      {updated} by {state.updated_by or '-'}")


def _entry_line(entry: AuditEntry) -> str:
    reason = f"  ({entry.reason})" if entry.reason else ""
    return (
        f"{entry.at.strftime('%Y-%m-%d %H:%M:%S')}  {entry.actor:<12} {entry.flag:<26} {entry.action:<8}"
        f" {json.dumps(entry.old)} -> {json.dumps(entry.new)}{reason}"
    )


@click.group("flags")
def flags_group() -> None:
    """Feature flags: list, show, set the rollout percent, allow/deny users, kill, resume, history."""


@flags_group.command("list")
@json_option
@_operator_errors
def list_command(as_json: bool) -> None:
    """List every flag with its percent, kill switch and list sizes."""
    states = _open().list_flags()
    if as_json:
        click.echo(json.dumps([state.to_dict() for state in states], indent=2))
        return
    click.echo(f"{'FLAG':<26} {'PERCENT':>9} {'SWITCH':<7} {'ALLOW':>6} {'DENY':>6}  {'UPDATED (UTC)':<19}  BY")
    for state in states:
        click.echo(_state_line(state))


@flags_group.command("show")
@click.argument("name")
@json_option
@_operator_errors
def show_command(name: str, as_json: bool) -> None:
    """Show one flag in full."""
    _echo_state(_open().get(name), as_json)


@flags_group.command("set")
@click.argument("name")
@click.option("--percent", required=True, help="Rollout percent, 0 to 100 (fractions like 12.5 allowed).")
@actor_option
@reason_option
@_operator_errors
def set_command(name: str, percent: str, actor: str, reason: str | None) -> None:
    """Set the sticky rollout percent of a flag."""
    state = _open().set_percent(name, percent, actor=actor, reason=reason)
    click.echo(f"{state.name}: rollout {state.percent:g}%")


def _list_command(verb: str, method: str, summary: str) -> None:
    @flags_group.command(verb, help=summary)
    @click.argument("name")
    @click.argument("users", nargs=-1, required=True)
    @actor_option
    @reason_option
    @_operator_errors
    def command(name: str, users: tuple[str, ...], actor: str, reason: str | None) -> None:
        state = getattr(_open(), method)(name, list(users), actor=actor, reason=reason)
        click.echo(f"{state.name}: allow {len(state.allow)} user(s), deny {len(state.deny)} user(s)")


_list_command("allow", "allow", "Add users to a flag's allow list (on unless denied or killed).")
_list_command("deny", "deny", "Add users to a flag's deny list (always off).")
_list_command("unallow", "unallow", "Remove users from a flag's allow list.")
_list_command("undeny", "undeny", "Remove users from a flag's deny list.")


@flags_group.command("kill")
@click.argument("name")
@click.option("--reason", required=True, help="Why (required; kept in the audit log; at most 1,000 characters).")
@actor_option
@_operator_errors
def kill_command(name: str, reason: str, actor: str) -> None:
    """Kill switch: turn a flag off for everyone; percent and lists are kept for resume."""
    service = _open()
    state = service.kill(name, actor=actor, reason=reason)
    click.echo(f"{state.name}: KILLED; every process decides off within {service.ttl:g} s")


@flags_group.command("resume")
@click.argument("name")
@actor_option
@reason_option
@_operator_errors
def resume_command(name: str, actor: str, reason: str | None) -> None:
    """Lift the kill switch: the same users as before are on again."""
    state = _open().resume(name, actor=actor, reason=reason)
    click.echo(f"{state.name}: active again at {state.percent:g}%")


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidValue(value, f"--since must be an ISO date or time, got {value!r}") from None


@flags_group.command("history")
@click.option("--flag", "flag", default=None, type=click.Choice(ALL_FLAGS), help="Only this flag.")
@click.option("--actor", default=None, help="Only changes by this actor.")
@click.option("--action", default=None, type=click.Choice(ACTIONS), help="Only this kind of change.")
@click.option("--since", default=None, help="Only changes at or after this ISO time (UTC if no zone).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@json_option
@_operator_errors
def history_command(flag: str | None, actor: str | None, action: str | None, since: str | None, limit: int, as_json: bool) -> None:
    """The audit log, newest first."""
    entries = _open().history(flag=flag, actor=actor, action=action, since=_parse_since(since), limit=limit)
    if as_json:
        click.echo(json.dumps([entry.to_dict() for entry in entries], indent=2))
        return
    if not entries:
        click.echo("no changes recorded")
    for entry in entries:
        click.echo(_entry_line(entry))


@click.command("rollback")
@click.option("--reason", required=True, help="Why (required; kept in the audit log; at most 1,000 characters).")
@actor_option
@_operator_errors
def rollback_command(reason: str, actor: str) -> None:
    """Send everyone back to the original path: kill every refactored_* flag at once."""
    service = _open()
    states = service.rollback(actor=actor, reason=reason)
    click.echo(f"rolled back: {', '.join(state.name for state in states)} KILLED")
    click.echo(f"every process decides original within {service.ttl:g} s; `harness flags resume NAME` to undo")


@flags_group.command("restore")
@actor_option
@click.option("--reason", required=True, help="Why (kept in the audit log).")
@_operator_errors
def restore_command(actor: str, reason: str) -> None:
    """Write the last known flag state back to a store that lost it (restarted empty, wiped)."""
    from app.compose import flag_loss_guard

    guard = flag_loss_guard(settings())
    if guard is None:
        raise click.ClickException("a memory:// flag store keeps no state to restore")
    service = open_service(settings().flag_store_url, loss_guard=guard)
    click.get_current_context().call_on_close(service.close)
    baseline = guard.baseline()
    if not baseline:
        raise click.ClickException("no last known flag state in this instance folder (flag_state.json): nothing to restore")
    service.reload()
    lost = service.store_loss()
    click.echo("the store lost: " + ("; ".join(lost) if lost else "nothing against the last known state"))
    # The audit log was wiped with the flags when it holds nothing from before the last known change.
    newest_known = max((state.updated_at for state in baseline.values() if state.updated_at), default=None)
    audit_wiped = newest_known is not None and not any(
        entry.at <= newest_known for entry in service.history(limit=1000))
    written = service.restore(actor=actor, reason=reason)
    for state in written:
        click.echo(f"restored {_state_line(state)}")
    if not written:
        click.echo("nothing to restore: the store holds the last known state")
    if audit_wiped:
        click.echo("note: the store's audit log was wiped with the flags (nothing from before the last known change); "
                   "the history before the loss is gone", err=True)
