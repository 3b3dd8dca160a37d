"""Readers with one interface: openpyxl (the legacy portal's, the original path's) and
python-calamine (fast, but it cannot tell an empty cell from an empty string; kept for
comparison in the benchmark). The refactored path's lean reader is `app.workbook.lean`.

Each gives rows of cell values, 1-based, normalized (`cells.normalize_cell`) unless asked
for raw ones. None follows a sheet's declared dimension: rows are read until the caller
stops asking.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from app.workbook.cells import normalize_cell
from app.workbook.errors import CorruptWorkbook, UnsafeWorkbook

_DECLARED_SIZE_EXCEEDED = "larger than its declared uncompressed size"


def _calamine_error(exc: Exception, what: str) -> Exception:
    """calamine's error as a workbook error; a part inflating past its size is a zip bomb."""
    if _DECLARED_SIZE_EXCEEDED in str(exc):
        return UnsafeWorkbook(f"a part of the workbook decompresses to more than it declares (a zip bomb); {what}",
                              code="zip_bomb")
    return CorruptWorkbook(f"{what} ({type(exc).__name__})")

Row = tuple[object, ...]


class WorkbookReader(Protocol):
    """What the parser needs from a workbook."""

    sheet_names: tuple[str, ...]

    def rows(self, sheet: str, first_row: int, max_col: int, normalized: bool = True) -> Iterator[Row]:
        """Rows from `first_row` on (1-based), each with columns 1..`max_col`; with
        `normalized=False` the cells are as the library gave them (normalise the ones used)."""
        ...


def _pad(values: list[object], max_col: int) -> Row:
    values = values[:max_col]
    return tuple(values) + (None,) * (max_col - len(values))


class OpenpyxlReader:
    """The legacy reader: `openpyxl.load_workbook(data_only=True)` (cached formula values)."""

    def __init__(self, data: bytes) -> None:
        import openpyxl  # imported here: the refactored path never pays for it

        try:
            with warnings.catch_warnings():
                # The ARB templates carry data-validation extensions openpyxl cannot keep.
                warnings.simplefilter("ignore", UserWarning)
                self._wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
        except Exception as exc:  # openpyxl raises many types for damaged files
            raise CorruptWorkbook(f"the workbook could not be opened ({type(exc).__name__})") from exc
        self.sheet_names = tuple(self._wb.sheetnames)

    def rows(self, sheet: str, first_row: int, max_col: int, normalized: bool = True) -> Iterator[Row]:
        """Rows from `first_row` on."""
        ws = self._wb[sheet]
        for row in ws.iter_rows(min_row=first_row, max_col=max_col, values_only=True):
            yield _pad([normalize_cell(v) for v in row] if normalized else list(row), max_col)


class CalamineReader:
    """The fast reader (Rust calamine); reads only the sheets and rows asked for.

    `sheet_guard(name)` runs before a sheet not in `checked` is first read (the upload
    guard for that sheet: calamine loads a whole sheet into a dense grid).
    """

    def __init__(self, data: bytes, sheet_guard: Callable[[str], None] | None = None,
                 checked: Iterable[str] = ()) -> None:
        from python_calamine import CalamineWorkbook

        self._sheet_guard = sheet_guard
        self._checked = set(checked)
        try:
            self._wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        except Exception as exc:  # calamine's own error types, and zip/IO errors
            raise _calamine_error(exc, "the workbook could not be opened") from exc
        self.sheet_names = tuple(self._wb.sheet_names)

    def rows(self, sheet: str, first_row: int, max_col: int, normalized: bool = True) -> Iterator[Row]:
        """Rows from `first_row` on; rows above the sheet's data are empty."""
        if self._sheet_guard is not None and sheet not in self._checked:
            self._sheet_guard(sheet)
            self._checked.add(sheet)
        try:
            ws = self._wb.get_sheet_by_name(sheet)
        except Exception as exc:
            raise _calamine_error(exc, f"sheet {sheet!r} could not be read") from exc
        # python-calamine's iter_rows pads the rows above the data (positions are absolute
        # from row 1) but starts each row at the first used column.
        lead = [None] * (ws.start[1] if ws.start is not None else 0)
        for row_number, values in enumerate(ws.iter_rows(), start=1):
            if row_number >= first_row:
                cells = values[: max(0, max_col - len(lead))]
                yield _pad(lead + ([normalize_cell(v) for v in cells] if normalized else cells), max_col)
