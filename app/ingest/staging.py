"""Staged uploads: JSON files awaiting a person's review, and the review itself.

A staged file `staging/id_<id>_ts_<UTC timestamp>.json` holds the parsed payload and
`base_misc_json`, the incidence as it was when the upload was staged (null when it did
not exist). Confirming applies only the confirmed fields, and only while the incidence
still equals that base; either path's staged files are read the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from app.ingest.errors import MalformedStaged, StagedNotFound
from app.ingest.files import FileStore
from app.ingest.merge import is_empty, is_logged_change

FORMAT = "arb-staged-upload/1"
NAME_PATTERN = re.compile(r"id_(\d{1,18})_ts_(\d{8}_\d{6}_\d{6})(?:_(\d{1,3}))?\.json")


@dataclass(frozen=True)
class StagedUpload:
    """One staged upload as read back from its file."""

    filename: str
    id_incidence: int
    staged_at: dt.datetime
    staged_by: str
    ingest_path: str
    upload_id: int | None
    original_filename: str
    sector: str | None
    payload: dict
    base_misc_json: dict | None


@dataclass(frozen=True)
class ReviewRow:
    """One field in the review: stored value, staged value, whether it needs confirming."""

    key: str
    old: object
    new: object
    changed: bool
    confirmable: bool


@dataclass(frozen=True)
class Review:
    """The field-by-field comparison of a staged upload with the incidence now."""

    staged: StagedUpload
    rows: tuple[ReviewRow, ...]
    stale: bool
    warnings: tuple = ()  # the upload's parse warnings (`FieldWarning`s), from its record

    @property
    def confirmable_keys(self) -> tuple[str, ...]:
        """Fields a reviewer may confirm: changed and not empty."""
        return tuple(r.key for r in self.rows if r.confirmable)

    @property
    def changed_rows(self) -> tuple[ReviewRow, ...]:
        """The rows whose value would change, in form order (the page lists them first)."""
        return tuple(r for r in self.rows if r.changed)

    @property
    def unchanged_rows(self) -> tuple[ReviewRow, ...]:
        """The rows equal to what is stored."""
        return tuple(r for r in self.rows if not r.changed)

    @property
    def sector_change(self) -> tuple[object, object] | None:
        """(stored, uploaded) when the upload would switch the incidence's stored sector."""
        row = next((r for r in self.rows if r.key == "sector"), None)
        if row is None or not row.confirmable or row.old in (None, ""):
            return None
        return row.old, row.new


def staged_name(id_incidence: int, now: dt.datetime, attempt: int = 0) -> str:
    """`id_<id>_ts_<UTC timestamp>.json` (with a counter after a same-microsecond clash)."""
    stamp = f"{now.astimezone(dt.timezone.utc):%Y%m%d_%H%M%S_%f}"
    suffix = f"_{attempt}" if attempt else ""
    return f"id_{id_incidence}_ts_{stamp}{suffix}.json"


def write_staged(files: FileStore, *, id_incidence: int, payload: dict, base_misc_json: dict | None,
                 sector: str | None, user: str, ingest_path: str, upload_id: int | None,
                 original_filename: str, now: dt.datetime) -> str:
    """Write the staged file and return its name."""
    document = {
        "format": FORMAT,
        "id_incidence": id_incidence,
        "staged_at": now.astimezone(dt.timezone.utc).isoformat(),
        "staged_by": user,
        "ingest_path": ingest_path,
        "upload_id": upload_id,
        "original_filename": original_filename,
        "sector": sector,
        "payload": payload,
        "base_misc_json": base_misc_json,
    }
    content = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
    for attempt in range(100):
        name = staged_name(id_incidence, now, attempt)
        try:
            files.create_exclusive(files.staging, name, content)
            return name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free staged file name for incidence {id_incidence}")


def _path_for(files: FileStore, id_incidence: int, filename: str, folder: Path | None = None) -> Path:
    match = NAME_PATTERN.fullmatch(filename)
    if not match or int(match.group(1)) != id_incidence:
        raise StagedNotFound(f"{filename!r} is not a staged upload of incidence {id_incidence}")
    return (folder or files.staging) / filename


def _parse(filename: str, raw: bytes) -> StagedUpload:
    try:
        doc = json.loads(raw)
        if doc.get("format") != FORMAT:
            raise MalformedStaged(f"{filename}: unknown format {doc.get('format')!r}")
        payload, base = doc["payload"], doc["base_misc_json"]
        if not isinstance(payload, dict) or not (base is None or isinstance(base, dict)):
            raise MalformedStaged(f"{filename}: payload or base_misc_json is not an object")
        return StagedUpload(
            filename=filename,
            id_incidence=int(doc["id_incidence"]),
            staged_at=dt.datetime.fromisoformat(doc["staged_at"]),
            staged_by=str(doc.get("staged_by") or ""),
            ingest_path=str(doc.get("ingest_path") or ""),
            upload_id=doc.get("upload_id"),
            original_filename=str(doc.get("original_filename") or ""),
            sector=doc.get("sector"),
            payload=payload,
            base_misc_json=base,
        )
    except MalformedStaged:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MalformedStaged(f"{filename}: {type(exc).__name__}: {exc}") from None


def read_staged(files: FileStore, id_incidence: int, filename: str) -> StagedUpload:
    """Read one staged upload; raises `StagedNotFound` or `MalformedStaged`."""
    path = _path_for(files, id_incidence, filename)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise StagedNotFound(f"staged upload {filename} does not exist (already confirmed or discarded?)") from None
    staged = _parse(filename, raw)
    if staged.id_incidence != id_incidence:
        raise MalformedStaged(f"{filename}: holds incidence {staged.id_incidence}, not {id_incidence}")
    return staged


def list_staged(files: FileStore) -> tuple[list[StagedUpload], list[tuple[str, str]]]:
    """Staged uploads newest first, and the malformed files apart as (name, why)."""
    good, malformed = [], []
    try:
        entries = list(os.scandir(files.staging))
    except FileNotFoundError:
        return [], []
    for entry in entries:
        if not entry.is_file() or entry.name.startswith("."):
            continue  # temporaries of writes in progress (files.PARTIAL_PREFIX) are not staged uploads
        if not NAME_PATTERN.fullmatch(entry.name):
            malformed.append((entry.name, "the name is not id_<id>_ts_<timestamp>.json"))
            continue
        try:
            good.append(_parse(entry.name, Path(entry.path).read_bytes()))
        except MalformedStaged as exc:
            malformed.append((entry.name, str(exc)))
        except FileNotFoundError:  # confirmed or discarded while listing
            continue
    good.sort(key=lambda s: (s.staged_at, s.filename), reverse=True)
    malformed.sort()
    return good, malformed


def review(staged: StagedUpload, current_misc_json: dict | None) -> Review:
    """Compare the staged payload with the incidence as stored now."""
    current = current_misc_json or {}
    rows = []
    for key, new in staged.payload.items():
        old = current.get(key)
        changed = is_logged_change(old, new)
        rows.append(ReviewRow(key, old, new, changed, changed and not is_empty(new)))
    return Review(staged, tuple(rows), stale=current_misc_json != staged.base_misc_json)


def move_to_processed(files: FileStore, staged: StagedUpload) -> Path:
    """Move a confirmed staged file to `processed/` (atomic; fails if it is gone)."""
    source = _path_for(files, staged.id_incidence, staged.filename)
    target = files.processed / staged.filename
    try:
        os.rename(source, target)
    except FileNotFoundError:
        raise StagedNotFound(f"staged upload {staged.filename} was confirmed or discarded meanwhile") from None
    return target


def was_confirmed(files: FileStore, id_incidence: int, filename: str) -> bool:
    """True when the staged upload is in `processed/` (it was confirmed)."""
    try:
        return _path_for(files, id_incidence, filename, files.processed).exists()
    except StagedNotFound:
        return False


def move_back(files: FileStore, staged: StagedUpload) -> None:
    """Undo `move_to_processed` (the database refused the confirm)."""
    os.rename(files.processed / staged.filename, files.staging / staged.filename)


def discard(files: FileStore, id_incidence: int, filename: str) -> None:
    """Delete a staged file; raises `StagedNotFound` if it is not there."""
    path = _path_for(files, id_incidence, filename)
    try:
        path.unlink()
    except FileNotFoundError:
        raise StagedNotFound(f"staged upload {filename} does not exist (already confirmed or discarded?)") from None
