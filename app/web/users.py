"""Who is uploading: the authenticating proxy's header when trusted, else an anonymous id.

The anonymous id lives in Flask's signed session cookie, so one browser keeps one id
(and, once the router lands, one path) across requests.
"""

from __future__ import annotations

import re
import secrets

from flask import request, session

from app.compose import current_services

_USER = re.compile(r"[\w.@+-]{1,255}")
ANON_PREFIX = "anon-"


def current_user() -> str:
    """The user id for audit rows and routing."""
    settings = current_services().settings
    if settings.trust_user_header:
        header = request.headers.get(settings.user_header, "").strip()
        if header and _USER.fullmatch(header):
            return header
    anon = session.get("anon_id")
    if not anon:
        anon = session["anon_id"] = f"{ANON_PREFIX}{secrets.token_hex(8)}"
    return anon


def user_label(user: str | None) -> str:
    """A short label for pages: `anonymous (3f9c2a)` for an anonymous id, else the name."""
    if not user:
        return "unknown"
    if user.startswith(ANON_PREFIX):
        return f"anonymous ({user[len(ANON_PREFIX):][:6]})"
    return user
