"""The portal's collaborators for one app: settings, database, folders, ingestion context."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from app.config import Settings
from app.db import Database
from app.ingest.context import IngestContext
from app.ingest.files import FileStore
from app.workbook.guard import Limits


@dataclass(frozen=True)
class Portal:
    """What request handlers need, built once per app."""

    settings: Settings
    db: Database
    files: FileStore
    ingest: IngestContext


def build_portal(settings: Settings) -> Portal:
    """Connect the database and prepare the folders named by `settings`."""
    db = Database(settings.database_url)
    files = FileStore(settings.upload_folder)
    files.ensure()
    limits = Limits(
        max_decompressed_bytes=settings.max_decompressed_bytes,
        max_compression_ratio=settings.max_compression_ratio,
        max_cells=settings.max_cells,
        max_sheet_area=settings.max_sheet_area,
    )
    return Portal(settings, db, files, IngestContext(db, files, limits))


def init_app(app: Flask, portal: Portal) -> None:
    """Attach `portal` to `app`."""
    app.extensions["portal"] = portal


def current_portal() -> Portal:
    """The portal of the app handling the current request."""
    return current_app.extensions["portal"]
