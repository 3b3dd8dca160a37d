"""HTTP: pages and JSON for uploads, staged review, incidences and health."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every blueprint and error handler."""
    from app.web import errors, health, incidences, staged, uploads

    app.register_blueprint(uploads.bp)
    app.register_blueprint(staged.bp)
    app.register_blueprint(incidences.bp)
    app.register_blueprint(health.bp)
    errors.init_app(app)

    from app.forms import field_labels

    # Pages show each field's question from the forms next to its name.
    app.jinja_env.globals["field_labels"] = field_labels()
