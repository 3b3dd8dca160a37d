"""Admin: bearer-token authentication and the JSON APIs for ops (flags, shadow runs, rehearsal faults, rollout plans)."""

from __future__ import annotations

from flask import Blueprint


def blueprints() -> tuple[Blueprint, ...]:
    """Every admin blueprint, in the order they are registered."""
    from app.web.admin import faults_api, flags_api, rollout_api, shadow_api

    return (flags_api.bp, shadow_api.bp, faults_api.bp, rollout_api.bp)
