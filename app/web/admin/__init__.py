"""Admin: bearer-token authentication and the JSON APIs for ops (flags, shadow runs)."""

from __future__ import annotations

from flask import Blueprint


def blueprints() -> tuple[Blueprint, ...]:
    """Every admin blueprint, in the order they are registered."""
    from app.web.admin import flags_api, shadow_api

    return (flags_api.bp, shadow_api.bp)
