"""The CSRF token a script needs to post the portal's forms (upload, confirm, discard).

The portal refuses a changing request without its session's token (400). A script asks
once: `GET /csrf_token` answers `{"csrf_token": ...}` and sets the session cookie; every
POST then sends that cookie and the token as `X-CSRFToken`. One session may be shared
by many threads and requests (the token stays valid for 12 hours).

    session = CsrfSession.fetch("http://127.0.0.1:5000")
    headers = {**session.headers, "Content-Type": ...}
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

TOKEN_PATH = "/csrf_token"
HEADER = "X-CSRFToken"


def token_from(status: int, body: bytes, set_cookies: list[str]) -> tuple[str, str]:
    """(token, Cookie header value) from the answer to `GET /csrf_token`."""
    if status != 200:
        raise RuntimeError(f"GET {TOKEN_PATH} answered {status}")
    token = json.loads(body)["csrf_token"]
    jar: SimpleCookie = SimpleCookie()
    for header in set_cookies:
        jar.load(header)
    return token, "; ".join(f"{name}={morsel.value}" for name, morsel in jar.items())


@dataclass(frozen=True)
class CsrfSession:
    """A portal session (its cookie) and the CSRF token that goes with it."""

    token: str
    cookie: str

    @property
    def headers(self) -> dict[str, str]:
        """The headers every changing request of this session sends."""
        return {HEADER: self.token, "Cookie": self.cookie}

    @classmethod
    def fetch(cls, base_url: str, timeout: float = 10.0, headers: dict[str, str] | None = None) -> CsrfSession:
        """Ask the portal at `base_url` for a session and its token."""
        parts = urlsplit(base_url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
        try:
            connection.request("GET", TOKEN_PATH, headers={"Accept": "application/json", **(headers or {})})
            response = connection.getresponse()
            body = response.read()
            return cls(*token_from(response.status, body, response.headers.get_all("Set-Cookie") or []))
        finally:
            connection.close()
