"""The two ingestion paths by name: each offers `process` and `evaluate` with one signature."""

from __future__ import annotations

from typing import Protocol

from app.ingest import original, refactored
from app.ingest.context import IngestContext
from app.ingest.intake import KeptUpload
from app.ingest.outcome import ORIGINAL, REFACTORED, BaseLookup, Outcome, Upload
from app.workbook.inspection import Limits


class IngestionPath(Protocol):
    """What the web layer and the shadow runner call on either path."""

    def process(self, ctx: IngestContext, upload: Upload, route: str, kept: KeptUpload | None = None) -> Outcome:
        """Run the direct or staged workflow, writing its effects (`kept`: a retry's upload, kept and recorded)."""
        ...

    def evaluate(self, limits: Limits, upload: Upload, route: str, base_lookup: BaseLookup) -> Outcome:
        """What the workflow would do against `base_lookup`, writing nothing."""
        ...


IMPLEMENTATIONS: dict[str, IngestionPath] = {ORIGINAL: original, REFACTORED: refactored}  # type: ignore[dict-item]
