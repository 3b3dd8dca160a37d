"""The original ingestion path: the legacy portal's monolith, kept as it behaved.

One function does everything in order: save the file, record it, convert the workbook
to a JSON file on disk (openpyxl), parse the workbook a second time for the import-audit
log, read the JSON file back, check the id, then write. Its error reporting is coarse:
a file it cannot read is reported as a missing id. The guard in front of openpyxl is
the one addition (the legacy code hung on zip bombs); its refusals are reported in the
legacy way too.

For the shadow runner the same steps can run against a given base state with the JSON
conversion in a scratch folder, writing nothing else (`evaluate`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from pathlib import Path

from app.ingest import field_warnings, intake, staging
from app.ingest.context import IngestContext
from app.ingest.errors import DatabaseUnavailable
from app.ingest.field_warnings import FieldWarning
from app.ingest.files import write_whole
from app.ingest.merge import plan_merge
from app.ingest.outcome import (
    DATABASE_ERROR,
    DIRECT,
    FILE_ERROR,
    MISSING_ID,
    ORIGINAL,
    PROCESSING_ERROR,
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
from app.workbook import legacy_cells
from app.workbook.inspection import Limits, inspect_workbook
from app.workbook.parse import ParsedWorkbook, parse_workbook
from app.workbook.readers import OpenpyxlReader

audit_log = logging.getLogger("portal.import_audit")
COARSE_MISSING_ID = Failure(
    MISSING_ID, "missing_id",
    "No valid incidence id (id_incidence) was found in the uploaded file. "
    "Please upload a completed feedback form with its Incidence/Emission ID.",
)


def _encode(value: object) -> object:
    # Time and duration cells only reach the raw cell values (a date field drops them).
    if isinstance(value, dt.datetime):
        return {"__type__": "datetime.datetime", "value": value.isoformat()}
    if isinstance(value, dt.time):
        return {"__type__": "datetime.time", "value": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"__type__": "datetime.timedelta", "value": value.total_seconds()}
    raise TypeError(f"cannot serialise {type(value).__name__}")


_DECODERS = {
    "datetime.datetime": dt.datetime.fromisoformat,
    "datetime.time": dt.time.fromisoformat,
    "datetime.timedelta": lambda seconds: dt.timedelta(seconds=seconds),
}


def _decode(obj: dict) -> object:
    decoder = _DECODERS.get(obj.get("__type__"))
    return decoder(obj["value"]) if decoder else obj


def convert_excel_to_json(data: bytes, json_path: Path, limits) -> Path:
    """Write the workbook's parse to `json_path` in the legacy `_metadata_/_data_` layout."""
    inspect_workbook(data, limits)
    parsed = parse_workbook(OpenpyxlReader(data), legacy_cells.coerce)
    document = {
        "_metadata_": {"File created at": dt.datetime.now(dt.timezone.utc).isoformat(), "Serialized with": "original.convert_excel_to_json"},
        "_data_": {
            "metadata": parsed.metadata,
            "schemas": parsed.schemas,
            "tab_contents": parsed.tab_contents,
            "raw_contents": parsed.raw_contents,
        },
    }
    write_whole(json_path, json.dumps(document, default=_encode, ensure_ascii=False).encode("utf-8"))
    return json_path


def log_import_audit(data: bytes, source_name: str) -> tuple[FieldWarning, ...]:
    """The legacy import-audit log: parse the workbook again and log what each cell held;
    its warnings are also shown to the user (the portal's pages are the same on both paths)."""
    parsed = parse_workbook(OpenpyxlReader(data), legacy_cells.coerce)
    for tab, fields in parsed.tab_contents.items():
        audit_log.info("import audit %s: tab %r schema %s, %d fields", source_name, tab, parsed.schemas[tab], len(fields))
    for warning in parsed.warnings:
        audit_log.info("import audit %s: %s.%s: %s", source_name, warning.tab, warning.field, warning.message)
    return field_warnings.from_parse(parsed.warnings)


def read_json_back(json_path: Path) -> ParsedWorkbook:
    """Load the JSON conversion (datetimes restored)."""
    document = json.loads(json_path.read_text(encoding="utf-8"), object_hook=_decode)["_data_"]
    return ParsedWorkbook(document["metadata"], document["schemas"], document["tab_contents"], (), document["raw_contents"])


def _convert_and_check(data: bytes, source_name: str, json_path: Path, limits
                       ) -> tuple[ParsedWorkbook | None, int | None, Failure | None, tuple[FieldWarning, ...]]:
    try:
        convert_excel_to_json(data, json_path, limits)
        warnings = log_import_audit(data, source_name)
        parsed = read_json_back(json_path)
    except WorkbookError as exc:
        audit_log.info("import audit %s: conversion failed: %s", source_name, exc.message)
        return None, None, COARSE_MISSING_ID, ()
    except OSError as exc:  # the JSON conversion could not be written: the portal's fault, not the file's
        return None, None, Failure(STORAGE_ERROR, "save_failed", f"Error converting file: {exc.strerror or exc}"), ()
    check = check_id(parsed.raw_form.get("id_incidence"))
    if check.failure:
        return parsed, None, COARSE_MISSING_ID, warnings
    return parsed, check.id_incidence, None, warnings


def _payload_and_sector(parsed: ParsedWorkbook | None) -> tuple[dict | None, str | None]:
    if parsed is None:
        return None, None
    payload = build_payload(parsed)
    return payload, payload["sector"]


def _run(ctx: IngestContext, upload: Upload, route: str, kept: intake.KeptUpload | None = None) -> Outcome:
    """The monolith: every step in one function, as the legacy portal had it."""
    upload = intake.timed(upload)
    try:
        kept = intake.keep(ctx, upload, route, ORIGINAL, kept)
    except intake.UploadNotRecorded as exc:
        return Outcome.failed(ORIGINAL, route, Failure(DATABASE_ERROR, "database_unavailable", f"Database error: {exc}"),
                              saved_filename=exc.saved.name)
    except OSError as exc:
        return Outcome.failed(ORIGINAL, route, Failure(STORAGE_ERROR, "save_failed", f"Error saving file: {exc.strerror or exc}"))
    saved, upload_id = kept.saved, kept.upload_id

    def fail(failure: Failure, **data) -> Outcome:
        intake.mark_failed(ctx, upload_id, failure, data.get("id_incidence"), sector=data.get("sector"),
                           started=upload.started)
        return Outcome.failed(ORIGINAL, route, failure, upload_id=upload_id, saved_filename=saved.name, **data)

    json_path = ctx.files.json_dir / f"{saved.name}.json"
    parsed, id_incidence, failure, warnings = _convert_and_check(upload.data, saved.name, json_path, ctx.limits)
    payload, sector = _payload_and_sector(parsed)
    if failure:
        return fail(failure, sector=sector, payload=payload, warnings=warnings)
    try:
        if route == DIRECT:
            plan = apply_merge(ctx.db, id_incidence, payload, sector=sector, user=upload.user,
                               comments=upload.comments or DIRECT_UPLOAD_COMMENT, now=ctx.clock(), upload_id=upload_id,
                               started=upload.started)
        else:
            plan = plan_merge(id_incidence, load_misc_json(ctx.db, id_incidence), payload)
    except DatabaseUnavailable as exc:
        return fail(Failure(DATABASE_ERROR, "database_unavailable", f"Database error: {exc}"),
                    id_incidence=id_incidence, sector=sector, payload=payload, warnings=warnings)
    staged_filename = None
    if route == STAGED:
        try:
            staged_filename = staging.write_staged(
                ctx.files, id_incidence=id_incidence, payload=payload, base_misc_json=plan.base_misc_json, sector=sector,
                user=upload.user, ingest_path=ORIGINAL, upload_id=upload_id, original_filename=upload.filename,
                now=ctx.clock(),
            )
        except OSError as exc:
            return fail(Failure(STORAGE_ERROR, "staging_failed", f"Error staging file: {exc.strerror or exc}"),
                        id_incidence=id_incidence, sector=sector, payload=payload, warnings=warnings)
        intake.settle(ctx, upload_id, "staged", staged_filename, id_incidence=id_incidence, sector=sector,
                      started=upload.started)
    return _success(route, id_incidence, sector, payload, plan, upload_id, saved.name, staged_filename, warnings)


def _success(route, id_incidence, sector, payload, plan, upload_id, saved_name, staged_filename, warnings) -> Outcome:
    extra = {"merged_misc_json": plan.merged_misc_json, "changes": plan.changes} if route == DIRECT else {}
    return Outcome(ORIGINAL, route, True, id_incidence=id_incidence, sector=sector, payload=payload,
                   base_misc_json=plan.base_misc_json, staged_filename=staged_filename, upload_id=upload_id,
                   saved_filename=saved_name, warnings=warnings, **extra)


def upload_and_process_file(ctx: IngestContext, upload: Upload) -> Outcome:
    """Direct upload, the legacy way."""
    return _run(ctx, upload, DIRECT)


def stage_uploaded_file_for_review(ctx: IngestContext, upload: Upload) -> Outcome:
    """Staged upload, the legacy way."""
    return _run(ctx, upload, STAGED)


def process(ctx: IngestContext, upload: Upload, route: str, kept: intake.KeptUpload | None = None) -> Outcome:
    """Run the direct or staged workflow and return its `Outcome` (`kept`: a retry's upload)."""
    return _run(ctx, upload, route, kept)


def evaluate(limits: Limits, upload: Upload, route: str, base_lookup: BaseLookup) -> Outcome:
    """What the legacy path would do against `base_lookup`; its JSON file goes to a scratch folder."""
    with tempfile.TemporaryDirectory(prefix="original-eval-") as scratch:
        parsed, id_incidence, failure, warnings = _convert_and_check(upload.data, "shadow", Path(scratch) / "upload.json", limits)
    payload, sector = _payload_and_sector(parsed)
    if failure:
        return Outcome.failed(ORIGINAL, route, failure, sector=sector, payload=payload, warnings=warnings)
    try:
        plan = plan_merge(id_incidence, base_lookup(id_incidence), payload)
    except DatabaseUnavailable as exc:
        return Outcome.failed(ORIGINAL, route, Failure(DATABASE_ERROR, "database_unavailable", f"Database error: {exc}"),
                              id_incidence=id_incidence, sector=sector, payload=payload, warnings=warnings)
    return _success(route, id_incidence, sector, payload, plan, None, None, None, warnings)
