"""The lean reader: just the cells of the sheets asked for, straight from the sheet XML.

It gives exactly the values openpyxl's full load (`data_only=True`) gives, an empty cell
(`None`) apart from a cell holding an empty string (`""`), which python-calamine cannot
tell apart. It reads only the parts it needs (workbook, its relationships, the styles'
number formats, the shared strings, the sheets asked for), each once.

XML safety, defusedxml's rules at C speed (`safexml`): each part's prolog goes through
expat with defusedxml's handlers, then the body through the C ElementTree parser.
The upload guard has already bounded every part the reader opens
(`inspection.inspect_workbook`): real sizes, cells, sheet area, the number of shared
strings and styles; the reader checks both counts again and never inflates a part past
the size it declares.

openpyxl's rules it follows (`openpyxl/worksheet/_reader.py`, `parse_cell`):
- a `<v>` that is absent or empty is `None`; `t="s"` indexes the shared strings (so an
  empty shared string is `""`); `t="inlineStr"` is the text of `<is>` (`""` when empty,
  `None` without `<is>`); `t="b"` a bool; `t="str"` and `t="e"` the text; `t="d"` ISO 8601;
- numbers: `int` unless the text holds `.`, `e` or `E`; a number in a date or time style
  becomes a datetime, time or timedelta (`openpyxl.utils.datetime.from_excel`, 1904 epoch
  when the workbook says so), `"#VALUE!"` when out of range;
- a cell without `r` follows the previous one; the last of two cells at one place wins.
"""

from __future__ import annotations

import re
import zlib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator

from app.workbook import safexml
from app.workbook.errors import CorruptWorkbook, UnsafeWorkbook
from app.workbook.inspection import Entry, raw_stream, read_directory
from app.workbook.safexml import MAIN, REL

_C, _V, _ROW, _IS, _T, _R, _SI = (MAIN + n for n in ("c", "v", "row", "is", "t", "r", "si"))
_SHEET_DATA, _WORKBOOK_PR = MAIN + "sheetData", MAIN + "workbookPr"
_NUM_FMTS, _NUM_FMT, _CELL_XFS = MAIN + "numFmts", MAIN + "numFmt", MAIN + "cellXfs"
_SHARED_STRINGS_TYPE = REL + "/sharedStrings"
_STYLES_TYPE = REL + "/styles"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# A styled cell holding nothing, as Excel writes most of a form's cells.
_EMPTY_CELL = re.compile(rb'<c r="[A-Z]{1,3}[0-9]{1,7}" s="([0-9]{1,5})"/>')

Row = tuple[object, ...]
_xml = safexml.parse


def _coordinate(ref: str) -> tuple[int, int]:
    """'D32' -> (32, 4), as openpyxl's `coordinate_to_tuple` (absolute '$' refs too)."""
    if "$" in ref:
        ref = ref.replace("$", "")
    split = len(ref) - len(ref.lstrip(_LETTERS))
    if not 0 < split <= 3 or not ref[split:].isdigit():
        raise CorruptWorkbook(f"a cell has an invalid reference {ref!r}")
    column = 0
    for ch in ref[:split]:
        column = column * 26 + (ord(ch) - 64)
    return int(ref[split:]), column


def _without_empty_cells(content: bytes) -> tuple[bytes, int]:
    """The sheet without its styled empty cells, and the highest style they used.

    Most of a form's cells (1,200 of 1,400 in the templates) are styled and empty, and
    walking them is most of the reader's time; they hold nothing, so removing them in C
    first halves it. Safe where no `<![CDATA[` could hide such text (none is removed then)
    and every cell names its position (else a cell after a removed one would be counted
    from the wrong column). `<` cannot stand in XML text or attribute values, so outside
    CDATA each match is an element. The one effect: a sheet that repeats a position
    (invalid; Excel never writes one) keeps the earlier value where openpyxl's later empty
    cell would clear it."""
    if b"<![CDATA[" in content or b"<c>" in content or content.count(b"<c ") != content.count(b'<c r="'):
        return content, 0
    styles = set(_EMPTY_CELL.findall(content))
    if not styles:
        return content, 0
    return _EMPTY_CELL.sub(b"", content), max(int(style) for style in styles)


def _rich_text(element: ET.Element) -> str:
    """An `<is>` or `<si>`'s text as openpyxl's `Text.content`: the plain `<t>` (the last
    one), then each run's `<t>`; phonetic runs left out."""
    plain, runs = None, []
    for child in element:
        if child.tag == _T:
            plain = child.text
        elif child.tag == _R:
            text = None
            for part in child:
                if part.tag == _T:
                    text = part.text
            if text is not None:
                runs.append(text)
    if not runs:
        return plain or ""
    return (plain or "") + "".join(runs)


def _sheet_cells(root: ET.Element) -> tuple[dict[tuple[int, int], tuple[str, int, str]], int]:
    """The cells that hold something, (row, col) -> (t, s, text), and the highest style used."""
    cells: dict[tuple[int, int], tuple[str, int, str]] = {}
    by_ref: dict[str, tuple[int, int]] = {}
    max_style = 0
    sheet_data = root.find(_SHEET_DATA)
    if sheet_data is None:
        return cells, max_style
    row_number = 0
    for row in sheet_data.iter(_ROW):
        ref = row.get("r")
        if ref:
            try:
                row_number = int(ref)
            except ValueError:
                number = float(ref)
                if not number.is_integer():
                    raise CorruptWorkbook(f"{ref} is not a valid row number") from None
                row_number = int(number)
        else:
            row_number += 1
        col = 0
        pending = None  # the last cell reference, turned into a column only when needed
        for cell in row:
            if cell.tag != _C:
                continue
            ref = cell.get("r")
            style = cell.get("s")
            if style:
                style_id = int(style)
                if style_id > max_style:
                    max_style = style_id
            else:
                style_id = 0
            if ref:
                pending = ref
                if not len(cell):  # nothing in it (most of a form's cells: styled, empty)
                    if ref in by_ref:
                        cells.pop(by_ref.pop(ref), None)  # a later empty cell replaces an earlier one
                    continue
                at = _coordinate(ref)
                by_ref[ref] = at
            else:
                if pending is not None:
                    col = _coordinate(pending)[1]
                    pending = None
                col += 1
                at = (row_number, col)
            kind = cell.get("t", "n")
            text = None
            if kind == "inlineStr":
                inline = cell.find(_IS)
                if inline is not None:
                    text = _rich_text(inline)
            else:
                text = cell.findtext(_V) or None  # openpyxl: an absent or empty <v> is None
            if text is None:
                cells.pop(at, None)
            else:
                cells[at] = (kind, style_id, text)
    return cells, max_style


class LeanReader:
    """Reads just the cells asked for, with openpyxl's values, from the sheet XML.

    `sheet_guard(name)` runs before a sheet not in `checked` is first read (the upload
    guard for that sheet), as for the calamine reader.
    """

    def __init__(self, data: bytes, sheet_guard: Callable[[str], None] | None = None, checked: Iterable[str] = (),
                 max_shared_strings: int = 250_000, max_styles: int = 64_000) -> None:
        self._data = data
        self._sheet_guard = sheet_guard
        self._checked = set(checked)
        self._max_shared_strings = max_shared_strings
        self._max_styles = max_styles
        self._entries: dict[str, Entry] = {e.filename: e for e in read_directory(data)}
        self._sheets: dict[str, dict] = {}
        self._strings: list[str] | None = None
        self._styles: tuple[int, frozenset[int], frozenset[int]] | None = None
        sheets, self._date1904 = self._workbook()
        targets, self._shared_strings_part, self._styles_part = self._relationships()
        self._sheet_parts = {name: targets.get(rid) for name, rid in sheets}
        self.sheet_names = tuple(name for name, _ in sheets)

    # -- parts -------------------------------------------------------------------------------

    def _part(self, name: str) -> bytes:
        """A part inflated, never past the size it declares; checked against its CRC."""
        info = self._entries.get(name)
        if info is None:
            raise CorruptWorkbook(f"the workbook has no {name} part")
        raw = raw_stream(self._data, info)
        if info.compress_type == 0:
            content = raw
        elif info.compress_type == 8:
            inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            try:
                content = inflater.decompress(raw, info.file_size + 1)
            except zlib.error as exc:
                raise CorruptWorkbook(f"part {name} is damaged ({exc})") from None
            if len(content) > info.file_size:
                raise UnsafeWorkbook(f"part {name} decompresses to more than it declares (a zip bomb); "
                                     "the workbook was not read", code="zip_bomb")
        else:
            raise CorruptWorkbook(f"part {name} uses a compression Excel does not write")
        if len(content) != info.file_size or zlib.crc32(content) != info.crc:
            raise CorruptWorkbook(f"part {name} is damaged (its size or checksum is wrong)")
        return content

    def _workbook(self) -> tuple[list[tuple[str, str]], bool]:
        root = _xml(safexml.WORKBOOK_PART, self._part(safexml.WORKBOOK_PART))
        properties = root.find(_WORKBOOK_PR)
        date1904 = properties is not None and properties.get("date1904", "false").lower() in ("1", "true")
        return safexml.sheets(root), date1904

    def _relationships(self) -> tuple[dict[str, str], str | None, str | None]:
        name = safexml.WORKBOOK_RELS_PART
        rels = _xml(name, self._part(name)) if name in self._entries else None
        targets, by_type = safexml.relationships(rels)
        return targets, by_type.get(_SHARED_STRINGS_TYPE), by_type.get(_STYLES_TYPE)

    def _shared_strings(self) -> list[str]:
        """The shared strings as openpyxl's `read_string_table` gives them."""
        if self._strings is None:
            strings: list[str] = []
            part = self._shared_strings_part
            if part is not None and part in self._entries:
                items = _xml(part, self._part(part)).findall(_SI)
                if len(items) > self._max_shared_strings:
                    raise UnsafeWorkbook(f"the workbook has more than {self._max_shared_strings:,} shared strings; "
                                         "it was not read", code="too_many_cells")
                strings = [_rich_text(si).replace("x005F_", "") for si in items]
            self._strings = strings
        return self._strings

    def _date_styles(self) -> tuple[int, frozenset[int], frozenset[int]]:
        """(number of cell styles, styles in a date format, styles in a timedelta format)."""
        if self._styles is None:
            from openpyxl.styles.numbers import builtin_format_code, is_date_format, is_timedelta_format

            part = self._styles_part
            if part is not None and part in self._entries:
                root = _xml(part, self._part(part))
                numbers = root.find(_NUM_FMTS)
                xfs = root.find(_CELL_XFS)
                try:
                    custom = {int(n.get("numFmtId", 0)): n.get("formatCode", "")
                              for n in (numbers if numbers is not None else ()) if n.tag == _NUM_FMT}
                    ids = [int(xf.get("numFmtId", 0)) for xf in (xfs if xfs is not None else ())]
                except ValueError as exc:
                    raise CorruptWorkbook(f"part {part} is damaged ({exc})") from None
                if len(ids) > self._max_styles:
                    raise UnsafeWorkbook(f"the workbook has more than {self._max_styles:,} cell styles; it was not read",
                                         code="too_many_cells")
            else:
                custom, ids = {}, [0]  # openpyxl's default stylesheet
            formats = [custom[n] if n in custom else builtin_format_code(n) for n in ids]
            self._styles = (len(ids), frozenset(i for i, f in enumerate(formats) if is_date_format(f)),
                            frozenset(i for i, f in enumerate(formats) if is_timedelta_format(f)))
        return self._styles

    # -- cells -------------------------------------------------------------------------------

    def _cells(self, sheet: str) -> dict:
        cells = self._sheets.get(sheet)
        if cells is not None:
            return cells
        if sheet not in self._sheet_parts:
            raise CorruptWorkbook(f"the workbook has no sheet {sheet!r}")
        if self._sheet_guard is not None and sheet not in self._checked:
            self._sheet_guard(sheet)
            self._checked.add(sheet)
        part = self._sheet_parts[sheet]
        if part is None or part not in self._entries:
            raise CorruptWorkbook(f"sheet {sheet!r} has no part in the workbook")
        # The prolog is checked on what the XML parser gets: after the empty cells are removed.
        content, empty_max_style = _without_empty_cells(self._part(part))
        try:
            found, max_style = _sheet_cells(_xml(part, content))
        except ValueError as exc:  # a style that is not a number
            raise CorruptWorkbook(f"sheet {sheet!r} is damaged ({exc})") from None
        max_style = max(max_style, empty_max_style)
        count, dates, timedeltas = self._date_styles()
        if max_style >= count:
            raise CorruptWorkbook(f"sheet {sheet!r} refers to a cell style the workbook does not have")
        try:
            cells = {at: self._value(kind, style, text, dates, timedeltas) for at, (kind, style, text) in found.items()}
        except (ValueError, IndexError, OverflowError, TypeError) as exc:
            raise CorruptWorkbook(f"sheet {sheet!r} holds a cell openpyxl cannot read ({type(exc).__name__})") from None
        self._sheets[sheet] = cells
        return cells

    def _value(self, kind: str, style: int, text: str, dates: frozenset[int], timedeltas: frozenset[int]) -> object:
        if kind == "n":
            number = float(text) if ("." in text or "e" in text or "E" in text) else int(text)
            if style in dates:
                from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH, from_excel

                try:
                    return from_excel(number, MAC_EPOCH if self._date1904 else WINDOWS_EPOCH,
                                      timedelta=style in timedeltas)
                except (OverflowError, ValueError):
                    return "#VALUE!"
            return number
        if kind == "s":
            return self._shared_strings()[int(text)]
        if kind == "b":
            return bool(int(text))
        if kind == "d":
            from openpyxl.utils.datetime import from_ISO8601

            return from_ISO8601(text)
        return text  # inlineStr, str, e (the error's text) and anything else, as openpyxl

    def cell(self, sheet: str, row: int, column: int) -> object:
        """One cell's value (`None` when it holds nothing)."""
        return self._cells(sheet).get((row, column))

    def rows(self, sheet: str, first_row: int, max_col: int, normalized: bool = True) -> Iterator[Row]:
        """Rows from `first_row` on, each with columns 1..`max_col`; rows past the data are empty."""
        from app.workbook.cells import normalize_cell

        cells = self._cells(sheet)
        last_row = max((row for row, _ in cells), default=0)
        for row in range(first_row, last_row + 1):
            values = tuple(cells.get((row, col)) for col in range(1, max_col + 1))
            yield tuple(normalize_cell(v) for v in values) if normalized else values
