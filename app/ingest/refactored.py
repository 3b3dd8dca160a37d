"""The refactored ingestion path: small steps, each returning a frozen result object.

    save_upload -> convert_upload -> validate_id -> decide (plan against a base state)
                -> persist_direct (merge into `incidences`) or persist_staged (staged file)

The workbook is parsed once, in memory, by the lean reader (`app.workbook.lean`: just the
cells the form needs, openpyxl's values, an empty cell apart from an empty string), after
the guard has checked it. Errors are precise (see `outcome`). Deciding never writes, so `evaluate` can run the
whole path against any base state without side effects (the shadow runner uses it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.ingest import field_warnings, intake, staging
from app.ingest.context import IngestContext
from app.ingest.errors import DatabaseUnavailable
from app.ingest.field_warnings import FieldWarning
from app.ingest.files import SavedFile
from app.ingest.merge import MergePlan, plan_merge
from app.ingest.outcome import (
    CONVERSION_FAILED,
    DATABASE_ERROR,
    DIRECT,
    FILE_ERROR,
    PROCESSING_ERROR,
    REFACTORED,
    STAGED,
    STORAGE_ERROR,
    BaseLookup,
    Failure,
    Outcome,
    Upload,
)
from app.ingest.payload import build_payload, check_id
from app.ingest.persistence import DIRECT_UPLOAD_COMMENT, apply_merge, load_misc_json
from app.workbook.errors import WorkbookError
from app.workbook.inspection import Limits, inspect_workbook
from app.workbook.parse import METADATA_SHEET, SCHEMA_SHEET, ParsedWorkbook, parse_workbook
from app.workbook.lean import LeanReader

USUAL_SHEETS = ("Feedback Form", SCHEMA_SHEET, METADATA_SHEET)


@dataclass(frozen=True)
class StepResult:
    """Common shape of every step's result."""

    success: bool
    failure: Failure | None = None

    @property
    def error_type(self) -> str | None:
        """The established error type when the step failed."""
        return self.failure.error_type if self.failure else None

    @property
    def error_message(self) -> str | None:
        """What the user is told when the step failed."""
        return self.failure.message if self.failure else None


@dataclass(frozen=True)
class SaveResult(StepResult):
    """The upload kept on disk and recorded."""

    saved: SavedFile | None = None
    upload_id: int | None = None


@dataclass(frozen=True)
class ConversionResult(StepResult):
    """The workbook parsed in memory."""

    parsed: ParsedWorkbook | None = None


@dataclass(frozen=True)
class IdResult(StepResult):
    """The incidence id the upload is for."""

    id_incidence: int | None = None


@dataclass(frozen=True)
class UploadDecision(StepResult):
    """Everything decided before writing: payload, id, and the plan against a base state."""

    id_incidence: int | None = None
    sector: str | None = None
    payload: dict | None = None
    plan: MergePlan | None = None
    warnings: tuple[FieldWarning, ...] = ()


@dataclass(frozen=True)
class UploadResult(StepResult):
    """The direct upload's result (the old code base's `UploadResult`)."""

    upload_id: int | None = None
    saved_filename: str | None = None
    decision: UploadDecision | None = None
    applied: MergePlan | None = None

    def outcome(self) -> Outcome:
        """As the harness's common `Outcome`."""
        return _outcome(DIRECT, self.success, self.failure, self.decision, self.upload_id, self.saved_filename,
                        plan=self.applied)


@dataclass(frozen=True)
class StagingResult(StepResult):
    """The staged upload's result (the old code base's `StagingResult`)."""

    upload_id: int | None = None
    saved_filename: str | None = None
    decision: UploadDecision | None = None
    staged_filename: str | None = None

    def outcome(self) -> Outcome:
        """As the harness's common `Outcome`."""
        return _outcome(STAGED, self.success, self.failure, self.decision, self.upload_id, self.saved_filename,
                        staged_filename=self.staged_filename)


def _outcome(route: str, success: bool, failure: Failure | None, decision: UploadDecision | None, upload_id: int | None,
             saved_filename: str | None, plan: MergePlan | None = None, staged_filename: str | None = None) -> Outcome:
    d = decision or UploadDecision(False)
    plan = plan or d.plan
    data = dict(
        id_incidence=d.id_incidence, sector=d.sector, payload=d.payload, upload_id=upload_id,
        saved_filename=saved_filename, warnings=d.warnings,
        base_misc_json=plan.base_misc_json if plan else None,
    )
    if route == DIRECT and plan is not None:
        data.update(merged_misc_json=plan.merged_misc_json, changes=plan.changes)
    if route == STAGED:
        data.update(staged_filename=staged_filename)
    if not success:
        # Users read it as a sentence after "The upload was not accepted.", as on the original path.
        return Outcome.failed(REFACTORED, route, replace(failure, message=as_sentence(failure.message)), **data)
    return Outcome(REFACTORED, route, True, **data)


def as_sentence(message: str) -> str:
    """The message with a capital first letter (steps phrase their reasons as clauses)."""
    return message[:1].upper() + message[1:]


# -- the steps ------------------------------------------------------------------------------


def save_upload(ctx: IngestContext, upload: Upload, route: str, kept: intake.KeptUpload | None = None) -> SaveResult:
    """Keep the file under a safe name and record it, before any processing (a retry: kept already)."""
    try:
        kept = intake.keep(ctx, upload, route, REFACTORED, kept)
    except intake.UploadNotRecorded as exc:
        return SaveResult(False, Failure(DATABASE_ERROR, "database_unavailable",
                                         f"the upload was kept as {exc.saved.name} but could not be recorded: {exc}"),
                          exc.saved)
    except OSError as exc:
        # The portal's disk, not the user's file: a server-side error (nothing partial is left).
        return SaveResult(False, Failure(STORAGE_ERROR, "save_failed", f"the file could not be stored ({exc.strerror or exc})"))
    return SaveResult(True, None, kept.saved, kept.upload_id)


def convert_upload(data: bytes, limits: Limits) -> ConversionResult:
    """Check the workbook, then parse it once, in memory."""
    if not data:
        return ConversionResult(False, Failure(FILE_ERROR, "empty_file", "the uploaded file is empty"))
    try:
        # Check just the parts the fast reader opens; a tab outside the usual three is
        # checked when the parser first asks for it.
        inspect_workbook(data, limits, sheets=USUAL_SHEETS)
        reader = LeanReader(data, lambda sheet: inspect_workbook(data, limits, sheets=(sheet,)), USUAL_SHEETS,
                            max_shared_strings=limits.max_shared_strings, max_styles=limits.max_styles)
        return ConversionResult(True, parsed=parse_workbook(reader))
    except WorkbookError as exc:
        return ConversionResult(False, Failure(CONVERSION_FAILED, exc.code, exc.message))


def validate_id(parsed: ParsedWorkbook) -> IdResult:
    """The incidence id must be a positive whole number."""
    check = check_id(parsed.raw_form.get("id_incidence"))
    if check.failure:
        return IdResult(False, check.failure)
    return IdResult(True, id_incidence=check.id_incidence)


def decide(data: bytes, limits: Limits, base_lookup: BaseLookup | None) -> UploadDecision:
    """Parse, validate and plan the merge against `base_lookup(id)`; writes nothing.

    Without `base_lookup` no plan is made (a direct upload plans under the row lock)."""
    conversion = convert_upload(data, limits)
    if not conversion.success:
        return UploadDecision(False, conversion.failure)
    parsed = conversion.parsed
    warnings = field_warnings.from_parse(parsed.warnings)
    payload = build_payload(parsed)
    identified = validate_id(parsed)
    if not identified.success:
        return UploadDecision(False, identified.failure, sector=payload["sector"], payload=payload, warnings=warnings)
    if base_lookup is None:
        return UploadDecision(True, None, identified.id_incidence, payload["sector"], payload, None, warnings)
    try:
        base = base_lookup(identified.id_incidence)
    except DatabaseUnavailable as exc:
        return UploadDecision(False, Failure(DATABASE_ERROR, "database_unavailable", f"the incidence could not be read: {exc}"),
                        id_incidence=identified.id_incidence, sector=payload["sector"], payload=payload, warnings=warnings)
    plan = plan_merge(identified.id_incidence, base, payload)
    return UploadDecision(True, None, identified.id_incidence, payload["sector"], payload, plan, warnings)


def persist_direct(ctx: IngestContext, upload: Upload, decision: UploadDecision, upload_id: int | None) -> MergePlan:
    """Merge into `incidences` under a row lock, log each changed field, mark the upload processed."""
    return apply_merge(ctx.db, decision.id_incidence, decision.payload, sector=decision.sector, user=upload.user,
                       comments=upload.comments or DIRECT_UPLOAD_COMMENT, now=ctx.clock(), upload_id=upload_id,
                       started=upload.started)


def persist_staged(ctx: IngestContext, upload: Upload, decision: UploadDecision, upload_id: int | None) -> str:
    """Write the staged file holding the payload and the base it was planned against."""
    return staging.write_staged(
        ctx.files, id_incidence=decision.id_incidence, payload=decision.payload,
        base_misc_json=decision.plan.base_misc_json, sector=decision.sector, user=upload.user,
        ingest_path=REFACTORED, upload_id=upload_id, original_filename=upload.filename, now=ctx.clock(),
    )


# -- public entry points --------------------------------------------------------------------


def upload_and_process_file(ctx: IngestContext, upload: Upload, kept: intake.KeptUpload | None = None) -> UploadResult:
    """Direct upload: save, record, convert, validate, merge, log."""
    upload = intake.timed(upload)
    saved = save_upload(ctx, upload, DIRECT, kept)
    if not saved.success:
        return UploadResult(False, saved.failure)
    name = saved.saved.name
    decision = decide(upload.data, ctx.limits, None)  # the plan is made under the row lock
    if not decision.success:
        intake.mark_failed(ctx, saved.upload_id, decision.failure, decision.id_incidence, sector=decision.sector,
                           started=upload.started)
        return UploadResult(False, decision.failure, saved.upload_id, name, decision)
    try:
        applied = persist_direct(ctx, upload, decision, saved.upload_id)
    except DatabaseUnavailable as exc:
        failure = Failure(DATABASE_ERROR, "database_unavailable", f"the incidence could not be saved: {exc}")
        intake.mark_failed(ctx, saved.upload_id, failure, decision.id_incidence, sector=decision.sector,
                           started=upload.started)
        return UploadResult(False, failure, saved.upload_id, name, decision)
    return UploadResult(True, None, saved.upload_id, name, decision, applied)


def stage_uploaded_file_for_review(ctx: IngestContext, upload: Upload,
                                   kept: intake.KeptUpload | None = None) -> StagingResult:
    """Staged upload: save, record, convert, validate, write a staged file for review."""
    upload = intake.timed(upload)
    saved = save_upload(ctx, upload, STAGED, kept)
    if not saved.success:
        return StagingResult(False, saved.failure)
    name = saved.saved.name
    decision = decide(upload.data, ctx.limits, lambda id_: load_misc_json(ctx.db, id_))
    if not decision.success:
        intake.mark_failed(ctx, saved.upload_id, decision.failure, decision.id_incidence, sector=decision.sector,
                           started=upload.started)
        return StagingResult(False, decision.failure, saved.upload_id, name, decision)
    try:
        staged_filename = persist_staged(ctx, upload, decision, saved.upload_id)
    except OSError as exc:
        failure = Failure(STORAGE_ERROR, "staging_failed", f"the staged file could not be written ({exc.strerror or exc})")
        intake.mark_failed(ctx, saved.upload_id, failure, decision.id_incidence, sector=decision.sector,
                           started=upload.started)
        return StagingResult(False, failure, saved.upload_id, name, decision)
    intake.settle(ctx, saved.upload_id, "staged", staged_filename, id_incidence=decision.id_incidence,
                  sector=decision.sector, started=upload.started)
    return StagingResult(True, None, saved.upload_id, name, decision, staged_filename)


def process(ctx: IngestContext, upload: Upload, route: str, kept: intake.KeptUpload | None = None) -> Outcome:
    """Run the direct or staged workflow and return its `Outcome` (`kept`: a retry's upload)."""
    if route == DIRECT:
        return upload_and_process_file(ctx, upload, kept).outcome()
    return stage_uploaded_file_for_review(ctx, upload, kept).outcome()


def evaluate(limits: Limits, upload: Upload, route: str, base_lookup: BaseLookup) -> Outcome:
    """What this path would do with `upload` against `base_lookup`, writing nothing."""
    decision = decide(upload.data, limits, base_lookup)
    result_type = UploadResult if route == DIRECT else StagingResult
    return result_type(decision.success, decision.failure, decision=decision).outcome()
