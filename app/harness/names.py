"""The names the harness's parts share: which flag routes which upload, whose fault an
error is, how decisions and rollbacks are labelled, and who acts when no person does.

Label values come from these small fixed sets (never a user id, a file name or a message),
so metrics, alert rules, dashboards, the guard and the analysis all read the same words.
"""

from __future__ import annotations

from app.ingest.outcome import (
    CONFLICT,
    CONVERSION_FAILED,
    DATABASE_ERROR,
    DIRECT,
    FILE_ERROR,
    MISSING_ID,
    PROCESSING_ERROR,
    STAGED,
    STORAGE_ERROR,
    VALIDATION_ERROR,
)
from flags.names import REFACTORED_STAGED_UPLOAD, REFACTORED_UPLOAD, SHADOW_STAGED_UPLOAD, SHADOW_UPLOAD

# Which flag chooses the path of each routed upload, and which samples its shadow runs.
ROUTE_FLAGS = {DIRECT: REFACTORED_UPLOAD, STAGED: REFACTORED_STAGED_UPLOAD}
SHADOW_FLAGS = {DIRECT: SHADOW_UPLOAD, STAGED: SHADOW_STAGED_UPLOAD}

# Whose fault an unsuccessful upload is: the user's file or action refused (4xx), or the
# portal failing (5xx). Alerts and the guard compare only the portal's own failures.
CLIENT_ERRORS = (FILE_ERROR, CONVERSION_FAILED, MISSING_ID, VALIDATION_ERROR, CONFLICT)
# `storage_error`: the upload folder's disk is full or failing (issue 17), the portal's fault.
SERVER_ERRORS = (DATABASE_ERROR, PROCESSING_ERROR, STORAGE_ERROR)
UPLOAD_ERROR_TYPES = (FILE_ERROR, CONVERSION_FAILED, MISSING_ID, VALIDATION_ERROR, DATABASE_ERROR, PROCESSING_ERROR,
                      STORAGE_ERROR)

# What the upload reconciler did to records (`portal_uploads_reconciled`).
RECONCILE_ACTIONS = ("recorded", "interrupted", "fixed")

# Which reasons can send a request down which path (the flag service's reasons, plus the
# router's own fail-safe).
STORE_FALLBACK = "store_fallback"
DECISIONS = {"refactored": ("allow_list", "percentage"), "original": ("kill_switch", "deny_list", "off", STORE_FALLBACK)}
FALLBACK_SOURCES = ("last_known", "safe_default")

# Who turned a kill switch on: a person (`manual`) or the harness itself (`guard`).
ROLLBACK_TRIGGERS = ("manual", "guard")
GUARD_ACTOR = "rollback-guard"
# The staged rollout controller (app/harness/rollout/); its rollbacks (a kill, or a step
# back to a lower percent, whose audit reason starts with ROLLOUT_ROLLBACK) count as
# trigger="guard" in portal_rollbacks_total, as the guard's kills do.
ROLLOUT_ACTOR = "rollout-controller"
ROLLOUT_ROLLBACK = "rollout rollback"
AUTOMATIC_ACTORS = (GUARD_ACTOR, ROLLOUT_ACTOR)
