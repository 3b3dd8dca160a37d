"""Admin: the pages for ops (session sign-in, `pages.py`) and the JSON APIs (bearer tokens): flags, shadow runs, rehearsal faults, rollout plans."""

from __future__ import annotations

from flask import Blueprint

from app.web.admin.auth import limit_body

__all__ = ["blueprints", "limit_body"]


def blueprints() -> tuple[Blueprint, ...]:
    """Every admin blueprint, in the order they are registered."""
    from app.web.admin import faults_api, flags_api, pages, reports_pages, rollout_api, rollout_pages, shadow_api  # noqa: F401

    return (pages.bp, flags_api.bp, shadow_api.bp, faults_api.bp, rollout_api.bp)
