"""The ARB Feedback Portal's upload ingestion, original and refactored, behind the harness."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask

from app.config import Settings, load_settings

__all__ = ["create_app"]


def create_app(test_config: Mapping[str, object] | None = None, settings: Settings | None = None) -> Flask:
    """Build the portal: settings, database, folders, blueprints, CLI."""
    app = Flask(__name__, instance_relative_config=True)
    if settings is None:
        settings = load_settings(instance_path=None)
    if test_config:
        settings = settings.with_overrides(test_config)
    app.config["HARNESS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    # Werkzeug refuses larger bodies before they are read whole.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    app.instance_path = str(settings.instance_path)
    return app
