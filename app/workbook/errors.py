"""Why a workbook could not be read.

    WorkbookError                 (code, message; the upload is kept, nothing is written)
    ├── NotAWorkbook              not an .xlsx at all (PDF, CSV, old .xls, random bytes)
    ├── CorruptWorkbook           an .xlsx whose zip or XML is broken or truncated
    ├── UnsafeWorkbook            over a configured limit or built to exhaust the server
    │                             (zip bomb, XML entity declarations, too many cells)
    └── UnreadableForm            a sound workbook that is not an ARB feedback form
                                  (no `_json_schema` sheet, unknown schema, missing tab)
"""

from __future__ import annotations


class WorkbookError(Exception):
    """Base: `code` is a stable machine name, `message` is what the user is told."""

    code = "workbook_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotAWorkbook(WorkbookError):
    """The bytes are not an Excel .xlsx workbook."""

    code = "not_a_workbook"


class CorruptWorkbook(WorkbookError):
    """The .xlsx container or its XML is damaged."""

    code = "corrupt_workbook"


class UnsafeWorkbook(WorkbookError):
    """The workbook exceeds a safety limit (decompressed size, ratio, cells, entities)."""

    code = "unsafe_workbook"


class UnreadableForm(WorkbookError):
    """The workbook is not a feedback form this portal knows how to read."""

    code = "unreadable_form"
