"""Confirming or discarding a staged upload (either path's), as one operation each."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.db import DatabaseUnavailable
from app.ingest import staging
from app.ingest.context import IngestContext
from app.ingest.outcome import FieldChange
from app.ingest.persistence import StagedConflict, apply_confirmed, finish_upload, load_misc_json


class NotConfirmable(ValueError):
    """A field asked for is not one the review offers for confirmation."""


@dataclass(frozen=True)
class ConfirmResult:
    """What a confirm applied."""

    staged: staging.StagedUpload
    applied: tuple[str, ...]
    changes: tuple[FieldChange, ...]


def load_review(ctx: IngestContext, id_incidence: int, filename: str) -> staging.Review:
    """The staged upload compared with the incidence as stored now."""
    staged = staging.read_staged(ctx.files, id_incidence, filename)
    return staging.review(staged, load_misc_json(ctx.db, id_incidence))


def confirm(ctx: IngestContext, id_incidence: int, filename: str, confirmed: Iterable[str], user: str) -> ConfirmResult:
    """Apply the confirmed fields; raises `StagedConflict` (nothing written) if the incidence
    changed since staging, `NotConfirmable` for a field that cannot be confirmed."""
    staged = staging.read_staged(ctx.files, id_incidence, filename)
    offered = {row.key for row in staging.review(staged, staged.base_misc_json).rows if row.confirmable}
    keys = tuple(dict.fromkeys(confirmed))
    refused = [k for k in keys if k not in offered]
    if refused:
        raise NotConfirmable(f"these fields cannot be confirmed (unchanged, empty or unknown): {', '.join(refused[:10])}")
    updates = {k: staged.payload[k] for k in keys}
    moved = []

    def move_file() -> None:
        staging.move_to_processed(ctx.files, staged)
        moved.append(True)

    try:
        changes = apply_confirmed(
            ctx.db, id_incidence, base_misc_json=staged.base_misc_json, updates=updates, sector=staged.sector,
            user=user, comments=f"confirmed staged upload {filename}", now=ctx.clock(), before_commit=move_file,
        )
    except BaseException:
        if moved:  # the database refused after the file moved: put it back for another try
            staging.move_back(ctx.files, staged)
        raise
    _mark(ctx, staged, "confirmed", f"{len(keys)} field(s) confirmed by {user}")
    return ConfirmResult(staged, keys, changes)


def discard(ctx: IngestContext, id_incidence: int, filename: str, user: str) -> staging.StagedUpload | None:
    """Delete a staged upload; its upload record says it was discarded."""
    try:
        staged = staging.read_staged(ctx.files, id_incidence, filename)
    except staging.MalformedStaged:
        staged = None  # a damaged staged file can still be thrown away
    staging.discard(ctx.files, id_incidence, filename)
    if staged is not None:
        _mark(ctx, staged, "discarded", f"discarded by {user}")
    return staged


def _mark(ctx: IngestContext, staged: staging.StagedUpload, status: str, description: str) -> None:
    if staged.upload_id is None:
        return
    try:
        finish_upload(ctx.db, staged.upload_id, status=status, now=ctx.clock(), description=description,
                      id_incidence=staged.id_incidence)
    except DatabaseUnavailable:
        pass


__all__ = ["ConfirmResult", "NotConfirmable", "StagedConflict", "confirm", "discard", "load_review"]
