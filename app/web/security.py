"""What every answer of the portal carries against cross-site attacks: CSRF tokens and headers.

- **CSRF**: Flask-WTF's `CSRFProtect` checks every POST, PUT, PATCH and DELETE of the
  portal and the admin pages, whatever its content type (a cross-site `<form>` post, an
  empty one, a `text/plain` body): without a valid token it is 400 and the view never
  runs. Pages put the token in their forms (`csrf_field()`); scripts and JSON clients
  `GET /csrf_token` once and send it back as the `X-CSRFToken` header with the session
  cookie they were given. The bearer-token JSON APIs under `/admin/api/` are exempt:
  they accept no cookie, so a browser cannot be tricked into authenticating there.
- **Headers** on every answer: a Content-Security-Policy that allows no inline script
  (scripts come from `/static`; the one inline `<style>` of the base page carries a
  per-request nonce), `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff` and a
  same-origin referrer policy.
"""

from __future__ import annotations

import secrets

from flask import Flask, current_app, g, jsonify, request
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from markupsafe import Markup, escape

from app.web.respond import error_response

__all__ = ["API_PREFIX", "CSRF_HEADER", "TOKEN_PATH", "csp_nonce", "init_app"]

API_PREFIX = "/admin/api/"
TOKEN_PATH = "/csrf_token"
CSRF_HEADER = "X-CSRFToken"
# A page left open over a working day still posts; a stolen token dies with its session.
TOKEN_SECONDS = 12 * 3600

class _HeaderFirstCSRF(CSRFProtect):
    """`CSRFProtect` that reads the `X-CSRFToken` header before the form.

    A script's token is checked without parsing its body: a forged POST is refused before
    a byte of it is read, and an upload's own view (which times and records it, even when
    it is too large) runs before the form is parsed.
    """

    def _get_csrf_token(self):
        for header in current_app.config["WTF_CSRF_HEADERS"]:
            token = request.headers.get(header)
            if token:
                return token
        return super()._get_csrf_token()


csrf = _HeaderFirstCSRF()


def csp_nonce() -> str:
    """This request's nonce for the base page's inline `<style>` (no inline script is allowed)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


def csrf_field() -> Markup:
    """The hidden input every changing form carries."""
    return Markup(f'<input type="hidden" name="csrf_token" value="{escape(generate_csrf())}">')


def _policy() -> str:
    style = "'self'"
    if g.get("csp_nonce"):
        style += f" 'nonce-{g.csp_nonce}'"
    return "; ".join((
        "default-src 'self'", "script-src 'self'", f"style-src {style}", "img-src 'self' data:",
        "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'",
    ))


def init_app(app: Flask) -> None:
    """CSRF checks before every changing request (but the bearer APIs), headers after every answer."""
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", TOKEN_SECONDS)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked below, so the API prefix is exempt wholesale
    csrf.init_app(app)

    @app.before_request
    def check_csrf():
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and not request.path.startswith(API_PREFIX):
            csrf.protect()

    @app.errorhandler(CSRFError)
    def refused(error: CSRFError):
        return error_response(400, f"{error.description} Nothing was changed: reload the page and try again.",
                              code="csrf_failed")

    @app.get(TOKEN_PATH)
    def csrf_token():
        """A token for scripts and JSON clients (send it back as X-CSRFToken with the session cookie)."""
        return jsonify({"csrf_token": generate_csrf(), "header": CSRF_HEADER})

    @app.after_request
    def headers(response):
        # A response that set its own, stricter policy (a written report: no script at all) keeps it.
        response.headers.setdefault("Content-Security-Policy", _policy())
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    app.jinja_env.globals["csrf_field"] = csrf_field
    app.jinja_env.globals["csp_nonce"] = csp_nonce
