"""HTTP: the portal's pages and JSON (uploads, staged review, incidences), health, metrics, admin."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every blueprint and error handler, and what the templates share."""
    from app.forms import datetime_fields, field_labels
    from app.ingest.field_warnings import describe
    from app.web import admin, display, errors, health, incidences, metrics, recent_uploads, retry, security, staged, timefmt, uploads
    from app.web.users import user_label

    for blueprint in (uploads.blueprint(), staged.bp, retry.bp, incidences.bp, recent_uploads.bp, health.bp, metrics.bp,
                      *admin.blueprints()):
        app.register_blueprint(blueprint)
    errors.init_app(app)
    app.before_request(admin.limit_body)  # before the CSRF check reads the form
    security.init_app(app)
    timefmt.init_app(app)
    app.jinja_env.filters["user_label"] = user_label
    app.jinja_env.globals["describe_warning"] = describe
    # Pages show each field's question from the forms next to its name.
    app.jinja_env.globals["field_labels"] = field_labels()
    # Stored date fields as staff read them: California local time with the zone named.
    dates = datetime_fields()
    app.jinja_env.filters["field_value"] = lambda value, key: display.field_value(value, key, dates)
