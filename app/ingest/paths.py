"""The two implementations by name; each offers `process` and `evaluate` with one signature."""

from __future__ import annotations

from types import ModuleType

from app.ingest import original, refactored
from app.ingest.outcome import ORIGINAL, REFACTORED

IMPLEMENTATIONS: dict[str, ModuleType] = {ORIGINAL: original, REFACTORED: refactored}
