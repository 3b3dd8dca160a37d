"""The test client every test uses: it sends a CSRF token, as the portal's pages and scripts do.

A browser gets the token in the form it submits; a script fetches `GET /csrf_token` once
and sends it back as `X-CSRFToken` with the session cookie. `CsrfClient` does the latter,
through real requests, before its first changing request (and again after cookies were
cleared). Tests about CSRF itself use `raw_client(app)`, which sends no token.
"""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from app.web.security import API_PREFIX, CSRF_HEADER, TOKEN_PATH

CHANGING = ("POST", "PUT", "PATCH", "DELETE")


class CsrfClient(FlaskClient):
    """A Flask test client that fetches and sends the CSRF token on changing requests."""

    _csrf: tuple[object, str] | None = None

    def token(self) -> str:
        """The token for this client's session (fetched with a GET the first time)."""
        session = self.get_cookie(self.application.config.get("SESSION_COOKIE_NAME", "session"))
        key = session.value if session is not None else None
        if self._csrf is None or session is None:
            response = super().open(TOKEN_PATH, method="GET")
            self._csrf = (key, response.get_json()["csrf_token"])
        return self._csrf[1]

    def open(self, *args, **kwargs):
        method = (kwargs.get("method") or "GET").upper()
        path = args[0] if args and isinstance(args[0], str) else kwargs.get("path", "/")
        headers = dict(kwargs.pop("headers", None) or {})
        if method in CHANGING and not str(path).startswith(API_PREFIX) and CSRF_HEADER not in headers:
            headers[CSRF_HEADER] = self.token()
        return super().open(*args, headers=headers, **kwargs)


def raw_client(app: Flask) -> FlaskClient:
    """A test client that sends no CSRF token (an attacker's forged request)."""
    return FlaskClient(app, app.response_class, use_cookies=True)
