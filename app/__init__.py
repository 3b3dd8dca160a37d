"""The ARB Feedback Portal's upload ingestion, original and refactored, behind the harness."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from app.config import Settings, load_settings

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["create_app"]


def create_app(test_config: Mapping[str, object] | None = None, settings: Settings | None = None) -> Flask:
    """Build the portal: settings, its collaborators (`app.compose`), pages and APIs.

    `settings` defaults to the `HARNESS_*` environment; `test_config` overrides fields.
    The database schema is not migrated here (several workers start at once): run
    `harness db upgrade` first, as `harness serve` does.
    """
    # Imported here so that the domain packages (`app.workbook`, `app.ingest`) load
    # without Flask: `shadow/` and `flags/` use them and must stay free of it.
    from flask import Flask

    from app import compose, web
    from app.web import slow_clients

    if settings is None:
        settings = load_settings()
    if test_config:
        settings = settings.with_overrides(test_config)
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config["SECRET_KEY"] = settings.secret_key
    # Werkzeug refuses a larger body from its Content-Length, before reading it.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings.is_production
    compose.attach(app, compose.build_services(settings))
    web.init_app(app)
    slow_clients.init_app(app, settings.request_body_timeout)
    return app
