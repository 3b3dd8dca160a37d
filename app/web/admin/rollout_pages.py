"""The admin rollout page: each flag's plan, step, bake left, gates and history; pause, resume, abort.

Changes go through `app.harness.rollout.operations`, the same functions `harness rollout`
calls, so each leaves a `Decision` with the signed-in admin as actor. Abort needs a reason
and a confirmation step, as the kill switch does.
"""

from __future__ import annotations

from flask import flash, g, redirect, request, url_for
from sqlalchemy.exc import SQLAlchemyError

from app.compose import current_services
from app.harness.rollout import operations
from app.harness.rollout.errors import RolloutError
from app.harness.rollout.plan import FLAG_ROUTES, Plan
from app.harness.rollout.runner import utc_now
from app.harness.rollout.store import SqlStore
from app.web.admin.pages import _confirmed, _page, _reason_required, bp
from app.web.admin.session import require_admin
from flags import FlagError

HISTORY_LIMIT = 20


def _store() -> SqlStore:
    return SqlStore(current_services().db.engine)


def _bake_left(state, now) -> float | None:
    if state.status != "running" or state.step_started_at is None:
        return None
    return max(0.0, state.plan.bake_s - (now - state.step_started_at).total_seconds())


def _plain(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def _flatten(value, prefix: str = "") -> list[tuple[str, str]]:
    """Nested figures as (dotted name, plain value) pairs, in their order."""
    if isinstance(value, dict):
        pairs = []
        for key, inner in value.items():
            pairs += _flatten(inner, f"{prefix}{key}.")
        return pairs
    if isinstance(value, (list, tuple)):
        return [(prefix.rstrip("."), ", ".join(_plain(v) for v in value))]
    return [(prefix.rstrip("."), _plain(value))]


def gate_view(gate: dict) -> dict:
    """One gate's evidence as the page shows it: verdict, why, and its figures as name = value."""
    details = {k: v for k, v in gate.items() if k not in ("gate", "verdict", "reason") and v not in (None, {}, [])}
    return {"gate": gate.get("gate", "?"), "verdict": gate.get("verdict", "?"), "reason": gate.get("reason", ""),
            "figures": _flatten(details)}


def _rollout_view(status: int = 200, error: str | None = None):
    now = utc_now()
    try:
        store = _store()
        rows = []
        for flag in FLAG_ROUTES:
            state = store.latest(flag)
            decisions = store.decisions(flag, HISTORY_LIMIT, plan_id=state.id) if state else []
            gates = ((state.last_evaluation or {}).get("evidence") or {}).get("gates", []) if state else []
            rows.append({"flag": flag, "state": state, "decisions": decisions, "gates": [gate_view(g) for g in gates],
                         "bake_left": _bake_left(state, now) if state else None})
    except SQLAlchemyError:
        return _page("rollout.html", 503, rows=[], error="the rollout store (database) is unavailable")
    return _page("rollout.html", status, rows=rows, error=error)


@bp.get("/rollout")
@require_admin()
def rollout_page():
    """Every flag's latest plan: steps, bake, current step, time left, gates, recent decisions."""
    return _rollout_view()


def _act(flag: str, action):
    if flag not in FLAG_ROUTES:
        return _page("message.html", 404, title="Nothing changed", message=f"unknown flag {flag!r}")
    try:
        message = action()
    except (RolloutError, FlagError) as error:
        return _rollout_view(400, error=f"{error}; nothing was changed")
    except SQLAlchemyError:
        return _rollout_view(503, error="the rollout store (database) is unavailable; nothing was changed")
    flash(message, "success")
    return redirect(url_for("admin_pages.rollout_page"), 303)


class _AskConfirm(Exception):
    pass


@bp.post("/rollout/<flag>/<any(start, pause, resume, abort):verb>")
@require_admin(write=True)
def rollout_action(flag: str, verb: str):
    """Start (default steps), pause, resume or abort (reason and confirmation) a plan."""
    services = current_services()

    def action():
        store, now = _store(), utc_now()
        if verb == "start":
            state = operations.start(store, services.flags, Plan(flag), now, g.admin_actor)
            return f"{flag}: plan started ({', '.join(f'{s:g}%' for s in state.plan.steps)})."
        if verb == "pause":
            reason = (request.form.get("reason") or "").strip() or None
            if reason is not None:
                reason = _reason_required()
            operations.pause(store, flag, now, g.admin_actor, reason)
            return f"{flag}: plan paused."
        if verb == "resume":
            state = operations.resume(store, services.flags, flag, now, g.admin_actor)
            return f"{flag}: plan resumed at step {state.step_index + 1} ({state.percent:g}%)."
        reason = _reason_required()
        if not _confirmed():
            store.active(flag)  # no active plan is refused before asking
            raise _AskConfirm(reason)
        operations.abort(store, flag, now, g.admin_actor, reason)
        return f"{flag}: plan aborted; the flag is left where it is."

    try:
        return _act(flag, action)
    except _AskConfirm as ask:
        return _page("confirm.html", what="abort", flag=flag, reason=str(ask),
                     action=url_for("admin_pages.rollout_action", flag=flag, verb="abort"),
                     back=url_for("admin_pages.rollout_page"))
