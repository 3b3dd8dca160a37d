"""Bearer-token authentication for the admin APIs (flags, shadow).

Tokens come from `HARNESS_ADMIN_TOKENS`, each with the actor name written to audit logs;
there is no default token: with none configured every admin request is refused (401).
A missing or wrong token is 401, a read-only token asking to write 403. Tokens are
compared in constant time against every configured token. These APIs read no cookie.

Every admin request (API and pages) carries at most `MAX_BODY_BYTES`: a larger body is
400 with a message before anything reads it (`limit_body`).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, request

from app.compose import current_services
from app.config import AdminToken
from app.web.respond import error_response

__all__ = ["MAX_BODY_BYTES", "api_error", "limit_body", "match_token", "require_token"]

MAX_BODY_BYTES = 64 * 1024


def match_token(presented: str, tokens: tuple[AdminToken, ...]) -> AdminToken | None:
    """The configured token equal to `presented`, compared in constant time against all."""
    found = None
    candidate = presented.encode("utf-8")
    for token in tokens:
        if hmac.compare_digest(candidate, token.token.encode("utf-8")) and found is None:
            found = token
    return found


def api_error(status: int, error: str, message: str, **extra: Any):
    """The admin APIs' JSON error answer (`error_response` in its API form)."""
    return error_response(status, message, code=error, api=True, **extra)


def limit_body():
    """App `before_request`, ahead of the CSRF check: an admin request's body past `MAX_BODY_BYTES` is 400."""
    if not request.path.startswith("/admin"):
        return None
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        message = f"the request body is {length} bytes; admin requests carry at most {MAX_BODY_BYTES} bytes; nothing was changed"
        return error_response(400, message, code="body_too_large", api=request.path.startswith("/admin/api/"))
    # A body without a length (chunked) is cut at the same bound when read.
    request.max_content_length = MAX_BODY_BYTES
    return None


def require_token(write: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a view: require a configured bearer token (one that may write when `write`)."""
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any):
            tokens = current_services().settings.admin_tokens
            if not tokens:
                return api_error(401, "unauthorized", "no admin tokens are configured (set HARNESS_ADMIN_TOKENS)")
            scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
            token = match_token(presented.strip(), tokens) if scheme.lower() == "bearer" and presented.strip() else None
            if token is None:
                return api_error(401, "unauthorized", "a valid bearer token is required")
            if write and not token.can_write:
                return api_error(403, "forbidden", f"token for {token.actor!r} is read-only")
            g.flag_actor = g.admin_actor = token.actor
            return view(*args, **kwargs)

        return guarded

    return decorate
