"""Signed-in admin pages: an admin token exchanged for a short-lived session cookie.

`/admin/login` takes one of the `HARNESS_ADMIN_TOKENS`; the actor and whether it may
write come from that token. The answer sets `harness_admin`, a cookie apart from the
portal's session: signed with the secret key, HttpOnly, SameSite=Strict, Secure in
production, scoped to `/admin`, expiring after `SESSION_SECONDS`. It carries the actor,
the write right, and a keyed fingerprint of the token, so removing a token from the
configuration ends its sessions at the next request. The token itself is never stored.

Pages use `require_admin(write=...)`: no valid session redirects to the sign-in page
(with `next`), a read-only actor asking to change something gets 403. The bearer-token
JSON APIs (`auth.require_token`) never read this cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import g, redirect, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.compose import current_services
from app.config import AdminToken
from app.web.respond import error_response

__all__ = ["COOKIE", "SESSION_SECONDS", "AdminSession", "current_admin", "require_admin", "safe_next"]

COOKIE = "harness_admin"
SESSION_SECONDS = 8 * 3600
_SALT = "harness-admin-session"


@dataclass(frozen=True)
class AdminSession:
    """Who is signed in to the admin pages, and until when."""

    actor: str
    can_write: bool
    expires_at: float


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_services().settings.secret_key, salt=_SALT)


def _fingerprint(token: AdminToken) -> str:
    key = current_services().settings.secret_key.encode()
    return hmac.new(key, token.token.encode(), hashlib.sha256).hexdigest()[:32]


def sign_in(response, token: AdminToken) -> AdminSession:
    """Set the session cookie for `token` on `response`."""
    expires = time.time() + SESSION_SECONDS
    value = _serializer().dumps({"a": token.actor, "w": token.can_write, "f": _fingerprint(token), "e": expires})
    response.set_cookie(
        COOKIE, value, max_age=SESSION_SECONDS, path="/admin", httponly=True, samesite="Strict",
        secure=current_services().settings.is_production,
    )
    return AdminSession(token.actor, token.can_write, expires)


def sign_out(response) -> None:
    """Clear the session cookie."""
    response.delete_cookie(COOKIE, path="/admin", httponly=True, samesite="Strict",
                           secure=current_services().settings.is_production)


def current_admin() -> AdminSession | None:
    """The signed-in admin of this request, or None (no, expired, forged or revoked cookie)."""
    if "admin_session" in g:
        return g.admin_session
    found = None
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data = _serializer().loads(raw, max_age=SESSION_SECONDS)
        except BadSignature:
            data = None
        if isinstance(data, dict) and data.get("e", 0) > time.time():
            live = {_fingerprint(token): token for token in current_services().settings.admin_tokens}
            token = live.get(data.get("f"))
            if token is not None and token.actor == data.get("a"):
                found = AdminSession(token.actor, token.can_write, float(data["e"]))
    g.admin_session = found
    return found


def safe_next(target: str | None) -> str:
    """Where to go after signing in: an admin page of this site, never another site."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/admin/") and "\\" not in target:
            return target
    return url_for("admin_pages.index")


def require_admin(write: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a page: a signed-in admin (one that may write when `write`), else redirect or 403."""
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any):
            admin = current_admin()
            if admin is None:
                query = request.query_string.decode("utf-8", "replace")
                target = (request.path + (f"?{query}" if query else "")) if request.method == "GET" else None
                return redirect(url_for("admin_pages.login", next=target), 303)
            if write and not admin.can_write:
                return error_response(403, f"{admin.actor} is signed in read-only: nothing was changed.",
                                      code="forbidden")
            g.admin_actor = admin.actor
            return view(*args, **kwargs)

        return guarded

    return decorate
