"""The collaborators an ingestion path works with, passed in (tests build their own)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from app.ingest.database import Database
from app.ingest.files import FileStore
from app.ingest.models import utcnow
from app.workbook.inspection import Limits


@dataclass(frozen=True)
class IngestContext:
    """Database, folders, safety limits and clock for one portal instance."""

    db: Database
    files: FileStore
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], dt.datetime] = utcnow
