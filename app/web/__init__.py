"""HTTP: the portal's pages and JSON (uploads, staged review, incidences), health, metrics, admin."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every blueprint and error handler, and what the templates share."""
    from app.forms import field_labels
    from app.web import admin, errors, health, incidences, metrics, staged, uploads

    for blueprint in (uploads.blueprint(), staged.bp, incidences.bp, health.bp, metrics.bp, *admin.blueprints()):
        app.register_blueprint(blueprint)
    errors.init_app(app)
    # Pages show each field's question from the forms next to its name.
    app.jinja_env.globals["field_labels"] = field_labels()
