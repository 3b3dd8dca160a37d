"""Confirming or discarding a staged upload (either path's), as one operation each."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from app.ingest import field_warnings, intake, staging
from app.ingest.context import IngestContext
from app.ingest.errors import MalformedStaged, NotConfirmable, NothingConfirmed, StagedConflict, StagedNotFound
from app.ingest.outcome import FieldChange
from app.ingest.persistence import apply_confirmed, load_misc_json, load_warnings


@dataclass(frozen=True)
class ConfirmResult:
    """What a confirm applied."""

    staged: staging.StagedUpload
    applied: tuple[str, ...]
    changes: tuple[FieldChange, ...]


def load_review(ctx: IngestContext, id_incidence: int, filename: str) -> staging.Review:
    """The staged upload compared with the incidence as stored now."""
    staged = staging.read_staged(ctx.files, id_incidence, filename)
    result = staging.review(staged, load_misc_json(ctx.db, id_incidence))
    if isinstance(staged.upload_id, int):
        recorded = load_warnings(ctx.db, [staged.upload_id]).get(staged.upload_id)
        result = replace(result, warnings=field_warnings.from_record(recorded))
    return result


def confirm(ctx: IngestContext, id_incidence: int, filename: str, confirmed: Iterable[str], user: str) -> ConfirmResult:
    """Apply the confirmed fields; raises `StagedConflict` (nothing written) if the incidence
    changed since staging, `NotConfirmable` for a field that cannot be confirmed,
    `NothingConfirmed` when no field was named (the upload stays staged, nothing is stamped)."""
    try:
        staged = staging.read_staged(ctx.files, id_incidence, filename)
    except StagedNotFound:
        if staging.was_confirmed(ctx.files, id_incidence, filename):
            raise StagedConflict(id_incidence) from None  # someone confirmed it a moment ago: 409, as for its base
        raise
    offered = {row.key for row in staging.review(staged, staged.base_misc_json).rows if row.confirmable}
    keys = tuple(dict.fromkeys(confirmed))
    if not keys:
        raise NothingConfirmed("no field was ticked, so nothing was saved; tick the fields to confirm, "
                               "or discard the upload")
    refused = [k for k in keys if k not in offered]
    if refused:
        raise NotConfirmable(f"these fields cannot be confirmed (unchanged, empty or unknown): {', '.join(refused[:10])}")
    updates = {k: staged.payload[k] for k in keys}
    moved = []

    def move_file() -> None:
        staging.move_to_processed(ctx.files, staged)
        moved.append(True)

    try:
        changes = _apply(
            ctx.db, id_incidence, base_misc_json=staged.base_misc_json, updates=updates, sector=staged.sector,
            user=user, comments=f"confirmed staged upload {filename}", now=ctx.clock(), before_commit=move_file,
        )
    except BaseException:
        if moved:  # the database refused after the file moved: put it back for another try
            staging.move_back(ctx.files, staged)
        raise
    intake.settle(ctx, staged.upload_id, "confirmed", f"{len(keys)} field(s) confirmed by {user}",
                  id_incidence=staged.id_incidence)
    return ConfirmResult(staged, keys, changes)


def _apply(*args, **kwargs):
    """apply_confirmed, with "the staged file was moved meanwhile" answered as the conflict it is."""
    try:
        return apply_confirmed(*args, **kwargs)
    except StagedNotFound:
        raise StagedConflict(args[1]) from None


def discard(ctx: IngestContext, id_incidence: int, filename: str, user: str) -> staging.StagedUpload | None:
    """Delete a staged upload; its upload record says it was discarded."""
    try:
        staged = staging.read_staged(ctx.files, id_incidence, filename)
    except MalformedStaged:
        staged = None  # a damaged staged file can still be thrown away
    staging.discard(ctx.files, id_incidence, filename)
    if staged is not None:
        intake.settle(ctx, staged.upload_id, "discarded", f"discarded by {user}", id_incidence=staged.id_incidence)
    return staged


__all__ = ["ConfirmResult", "confirm", "discard", "load_review"]
