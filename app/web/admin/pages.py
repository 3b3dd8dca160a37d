"""The admin pages under /admin: sign-in, flags, one flag, rollback everything, shadow (rollout and reports beside).

Views translate forms to `flags.FlagService` calls, as the JSON API does, and render
templates in `app/templates/admin/`. Every page needs a signed-in admin (`session.py`);
every change needs one that may write, a CSRF token (`app.web.security`), and for the
kill switch, resume and rollback a confirmation step. A refused value answers 400 with
the page and the message; nothing is changed.
"""

from __future__ import annotations

import time

from flask import Blueprint, flash, g, make_response, redirect, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError

from app.compose import current_services
from app.harness.names import ROUTE_FLAGS
from app.ingest.models import utcnow
from app.web.admin import readings
from app.web.admin.auth import match_token
from app.web.admin.session import current_admin, require_admin, safe_next, sign_in, sign_out
from flags import REFACTORED_FLAGS, FlagError, InvalidValue, StoreUnavailable, UnknownFlag
from flags.service import MAX_REASON_LENGTH

__all__ = ["bp"]

bp = Blueprint("admin_pages", __name__, url_prefix="/admin")
FLAG_ROUTES = {flag: route for route, flag in ROUTE_FLAGS.items()}
LIST_VERBS = {"allow": "Add to the allow list", "deny": "Add to the deny list",
              "unallow": "Remove from the allow list", "undeny": "Remove from the deny list"}
MAX_TOKEN_LENGTH = 1000
HISTORY_LIMIT = 100


@bp.app_context_processor
def _admin_context():
    if not request.path.startswith("/admin"):
        return {}
    return {"admin": current_admin()}


def _page(template: str, status: int = 200, **context):
    return make_response(render_template(f"admin/{template}", **context), status)


def _refused(error: FlagError) -> tuple[str, int]:
    if isinstance(error, UnknownFlag):
        return str(error), 404
    if isinstance(error, StoreUnavailable):
        return "the flag store is unavailable; nothing was changed", 503
    return f"{error}; nothing was changed", 400


# -- signing in and out ------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form; a valid admin token starts a session."""
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_admin() is not None:
            return redirect(target, 303)
        return _page("login.html", next=target)
    presented = (request.form.get("token") or "").strip()
    tokens = current_services().settings.admin_tokens
    if len(presented) > MAX_TOKEN_LENGTH:
        return _page("login.html", 400, next=target, error=f"an admin token is at most {MAX_TOKEN_LENGTH} characters")
    token = match_token(presented, tokens) if presented and tokens else None
    if token is None:
        message = "no admin tokens are configured (set HARNESS_ADMIN_TOKENS)" if not tokens else "that token is not valid"
        return _page("login.html", 401, next=target, error=message)
    response = redirect(target, 303)
    sign_in(response, token)
    return response


@bp.post("/logout")
def logout():
    """End the session."""
    response = redirect(url_for("admin_pages.login"), 303)
    sign_out(response)
    return response


# -- flags -------------------------------------------------------------------------------


@bp.get("/")
@require_admin()
def index():
    """The flags page is the admin's start page."""
    return redirect(url_for("admin_pages.flags_page"), 303)


@bp.get("/flags")
@require_admin()
def flags_page():
    """Every flag: percent, killed or live, list sizes, users routed each way, last change."""
    services = current_services()
    try:
        states = services.flags.list_flags()
        last = {state.name: next(iter(services.flags.history(flag=state.name, limit=1)), None) for state in states}
    except StoreUnavailable:
        return _page("flags.html", 503, states=[], last={}, routed={}, error="the flag store is unavailable")
    try:
        routed = readings.routed_users(services.db, utcnow())
    except SQLAlchemyError:  # the flags still show; the counts say they are unavailable
        routed = {}
    return _page("flags.html", states=states, last=last, routed=routed, flag_routes=FLAG_ROUTES,
                 ttl=services.flags.ttl)


def _flag_page(name: str, status: int = 200, error: str | None = None):
    service = current_services().flags
    actor = (request.args.get("actor") or "").strip()[:200] or None
    state = service.get(name)
    history = service.history(flag=name, actor=actor, limit=HISTORY_LIMIT)
    actors = sorted({entry.actor for entry in service.history(flag=name, limit=HISTORY_LIMIT)})
    return _page("flag.html", status, state=state, history=history, actor=actor, actors=actors, error=error,
                 suggested=readings.next_step(state.percent), steps=readings.DEFAULT_STEPS, verbs=LIST_VERBS,
                 route=FLAG_ROUTES.get(name), ttl=service.ttl)


@bp.get("/flags/<name>")
@require_admin()
def flag_page(name: str):
    """One flag: its settings, the forms that change them, its audit history (filter by actor)."""
    try:
        return _flag_page(name)
    except FlagError as error:
        message, status = _refused(error)
        return _page("message.html", status, title="Flag not shown", message=message)


def _change(name: str, change):
    """Run `change()` on the flag, then back to its page; a refused value re-renders it with 400."""
    try:
        message = change()
    except FlagError as error:
        text, status = _refused(error)
        if isinstance(error, UnknownFlag):
            return _page("message.html", status, title="Nothing changed", message=text)
        return _flag_page(name, status, error=text)
    flash(message, "success")
    return redirect(url_for("admin_pages.flag_page", name=name), 303)


@bp.post("/flags/<name>/percent")
@require_admin(write=True)
def set_percent(name: str):
    """Set the rollout percent."""
    def change():
        state = current_services().flags.set_percent(name, request.form.get("percent", ""), actor=g.admin_actor,
                                                     reason=request.form.get("reason"))
        return f"{state.name}: rollout {state.percent:g}%."
    return _change(name, change)


def _users(raw: str) -> list[str]:
    users = [part for part in raw.replace(",", " ").split() if part]
    if not users:
        raise InvalidValue(raw, "give at least one user id (separated by spaces, commas or new lines)")
    return users


@bp.post("/flags/<name>/list")
@require_admin(write=True)
def change_list(name: str):
    """Add users to, or remove them from, the allow or deny list."""
    def change():
        verb = request.form.get("verb", "")
        if verb not in LIST_VERBS:
            raise InvalidValue(verb, f"choose one of: {', '.join(LIST_VERBS)}")
        users = _users(request.form.get("users", ""))
        state = getattr(current_services().flags, verb)(name, users, actor=g.admin_actor,
                                                        reason=request.form.get("reason"))
        return f"{state.name}: allow list {len(state.allow)}, deny list {len(state.deny)}."
    return _change(name, change)


def _confirmed() -> bool:
    return request.form.get("confirm") == "yes"


def _reason_required() -> str:
    reason = (request.form.get("reason") or "").strip()
    if not reason:
        raise InvalidValue(reason, "a reason is required")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidValue(reason[:40], f"reason is {len(reason)} characters; at most {MAX_REASON_LENGTH} are kept")
    return reason


@bp.post("/flags/<name>/<any(kill, resume):switch>")
@require_admin(write=True)
def switch(name: str, switch: str):
    """Kill or resume: first a confirmation page, then (confirm=yes) the change."""
    def change():
        service = current_services().flags
        reason = _reason_required()
        if not _confirmed():
            service.get(name)  # an unknown flag is refused before asking
            raise _Confirm(reason)
        if switch == "kill":
            state = service.kill(name, actor=g.admin_actor, reason=reason)
            return f"{state.name}: KILLED. Every worker decides off within {service.ttl:g} s."
        state = service.resume(name, actor=g.admin_actor, reason=reason)
        return f"{state.name}: live again at {state.percent:g}%."
    try:
        return _change(name, change)
    except _Confirm as ask:
        return _page("confirm.html", what=switch, flag=name, reason=ask.reason,
                     action=url_for("admin_pages.switch", name=name, switch=switch),
                     back=url_for("admin_pages.flag_page", name=name))


class _Confirm(Exception):
    """The change is valid but not confirmed yet."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@bp.post("/rollback")
@require_admin(write=True)
def rollback():
    """Kill every refactored flag at once (after a confirmation), and say how fast workers saw it."""
    back = safe_next(request.form.get("back"))
    try:
        reason = _reason_required()
    except InvalidValue as error:
        return _page("message.html", 400, title="Nothing rolled back", message=f"{error}; nothing was changed")
    if not _confirmed():
        return _page("confirm.html", what="rollback", flag=None, reason=reason, flags=REFACTORED_FLAGS,
                     action=url_for("admin_pages.rollback"), back=back)
    service = current_services().flags
    started = time.perf_counter()
    try:
        states = service.rollback(actor=g.admin_actor, reason=reason)
    except FlagError as error:
        message, status = _refused(error)
        return _page("message.html", status, title="Nothing rolled back", message=message)
    measured = readings.measure_rollback(service, current_services().settings.metrics_dir, states, started)
    return _page("rolled_back.html", states=states, written=measured.written, seen=measured.seen, ttl=service.ttl,
                 reach=measured.every_worker, limit=measured.limit)


# -- shadow (rollout: rollout_pages.py, reports: reports_pages.py) ------------------------------------------------------------


@bp.get("/shadow")
@require_admin()
def shadow_page():
    """Shadow results by route, the fields that mismatch most, and one mismatch in full."""
    services = current_services()
    route = request.args.get("route") if request.args.get("route") in ("direct", "staged") else None
    store = services.shadowing.store
    record = None
    wanted = request.args.get("mismatch", "")
    if wanted.isdigit():
        record = store.get(int(wanted))
    recent = store.recent(20, route)
    if record is None and wanted == "" and recent:
        record = recent[0]
    return _page("shadow.html", route=route, results=readings.shadow_results(services.metrics, services.settings.metrics_dir),
                 summary=store.summary(route), recent=recent, record=record, wanted=wanted)
