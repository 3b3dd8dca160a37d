"""Inspect an upload before any spreadsheet library touches it.

An .xlsx is a zip of XML parts. Before a reader parses it, the guard checks, in this
order and without trusting the sizes the zip declares:

1. the bytes are a zip (not a PDF, CSV, an old .xls or random bytes) holding the parts
   every workbook has;
2. the declared sizes are within limits (entries, total decompressed size, ratio);
3. every XML part the reader will open declares no DTD in its prolog (so no entity
   expansion, the "billion laughs");
4. the worksheets the reader will open, decompressed here with a hard cap, really are the
   size they declare (a zip bomb that lies in its headers is caught), hold no more cells
   and rows than allowed (a sheet of a million rows is refused before a reader spends
   minutes on it) and span no more than the allowed area: calamine builds a dense grid,
   so a single cell at ZZ200000 would cost it gigabytes.

Other parts are not decompressed in full: both readers' zip libraries stop at a part's
declared size (Python's zipfile reads no further; calamine's fails with "larger than its
declared uncompressed size", reported as a zip bomb), and the declared sizes are checked
in step 2.

`sheets=None` checks every worksheet (openpyxl reads them all); a tuple of sheet names
checks just those (calamine reads only the sheets asked for), which is cheaper.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import NamedTuple

from app.workbook import safexml
from app.workbook.errors import CorruptWorkbook, NotAWorkbook, UnsafeWorkbook

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_REQUIRED_PARTS = ("[Content_Types].xml", "xl/workbook.xml")
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")
_CHUNK = 64 * 1024
_XML_SUFFIXES = (".xml", ".rels", ".vml")
_ROW_REF = re.compile(rb'<row r="(\d{1,8})"')
# Only cells past column Z are matched: the widest column is what matters, and a form's
# cells are almost all in A..Z (matching every cell cost as much as the rest of the scan).
_WIDE_CELL_COLUMN = re.compile(rb'<c r="([A-Z]{2,3})\d')
# The parts calamine opens besides the sheets it is asked for.
_READER_PARTS = frozenset(
    {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/sharedStrings.xml", "xl/styles.xml"}
)


# Parts a reader loads whole, inflated here in full and their entries counted against a limit
# (`Limits` field): the shared strings and the cell styles.
_BOUNDED_PARTS = {
    "xl/sharedStrings.xml": ((b"<si>", b"<si "), "max_shared_strings"),
    "xl/styles.xml": ((b"<xf>", b"<xf "), "max_styles"),
}


class Entry(NamedTuple):
    """One zip entry as its central directory states it (the fields Entry names)."""

    filename: str
    compress_type: int
    flag_bits: int
    compress_size: int
    file_size: int
    header_offset: int
    crc: int = 0


_END_RECORD = struct.Struct("<4s4H2LH")
_CENTRAL_HEADER = struct.Struct("<4s6H3L5H2L")


def read_directory(data: bytes) -> list[Entry]:
    """The zip's central directory, read directly (much cheaper than `zipfile.ZipFile`)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + _END_RECORD.size > len(data):
        raise CorruptWorkbook("the workbook is damaged or truncated (its zip directory cannot be read)")
    _, _, _, _, count, size, offset, _ = _END_RECORD.unpack_from(data, end)
    if count == 0xFFFF or offset == 0xFFFFFFFF:  # zip64: let the standard library read it
        return _read_directory_zip64(data)
    if offset + size > end:
        raise CorruptWorkbook("the workbook is damaged or truncated (its zip directory is out of place)")
    entries, position = [], offset
    for _ in range(count):
        if position + _CENTRAL_HEADER.size > end:
            raise CorruptWorkbook("the workbook is damaged or truncated (its zip directory is cut short)")
        fields = _CENTRAL_HEADER.unpack_from(data, position)
        if fields[0] != b"PK\x01\x02":
            raise CorruptWorkbook("the workbook is damaged (its zip directory is corrupt)")
        flags, method, name_len, extra_len, comment_len = fields[3], fields[4], fields[10], fields[11], fields[12]
        raw_name = data[position + _CENTRAL_HEADER.size : position + _CENTRAL_HEADER.size + name_len]
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        entries.append(Entry(name, method, flags, fields[8], fields[9], fields[16], fields[7]))
        position += _CENTRAL_HEADER.size + name_len + extra_len + comment_len
    return entries


def _read_directory_zip64(data: bytes) -> list[Entry]:
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise CorruptWorkbook("the workbook is damaged or truncated (its zip directory cannot be read)") from None
    return [Entry(i.filename, i.compress_type, i.flag_bits, i.compress_size, i.file_size, i.header_offset, i.CRC)
            for i in infos]


@dataclass(frozen=True)
class Limits:
    """Safety limits for one workbook (from configuration)."""

    max_decompressed_bytes: int = 64 * 1024 * 1024
    max_compression_ratio: int = 200
    max_cells: int = 250_000
    max_entries: int = 5_000
    # rows x columns of a sheet's used range (a dense reader allocates all of it)
    max_sheet_area: int = 2_000_000
    # Shared strings and cell styles a reader loads whole (a form has a few hundred of each;
    # Excel itself allows 64,000 cell styles).
    max_shared_strings: int = 250_000
    max_styles: int = 64_000
    # Parts below this size compress poorly anyway; the ratio check starts above it.
    ratio_floor_bytes: int = 1024 * 1024


def _not_a_workbook(data: bytes) -> NotAWorkbook:
    head = data[:8]
    if head == _OLE_MAGIC:
        return NotAWorkbook(
            "the file is an old-format .xls or a password-protected workbook; "
            "please save it as an unprotected Excel workbook (.xlsx) and upload again",
            code="legacy_or_encrypted",
        )
    if head.startswith(b"%PDF"):
        return NotAWorkbook("the file is a PDF, not an Excel workbook (.xlsx)")
    return NotAWorkbook("the file is not an Excel workbook (.xlsx)")


def raw_stream(data: bytes, info: Entry) -> bytes:
    """The compressed bytes of one entry, located through its local header."""
    start = info.header_offset
    header = data[start : start + _LOCAL_HEADER.size]
    if len(header) < _LOCAL_HEADER.size:
        raise CorruptWorkbook("the workbook is truncated (a part's header is missing)")
    fields = _LOCAL_HEADER.unpack(header)
    if fields[0] != _ZIP_MAGIC:
        raise CorruptWorkbook("the workbook's zip structure is damaged")
    name_len, extra_len = fields[9], fields[10]
    begin = start + _LOCAL_HEADER.size + name_len + extra_len
    raw = data[begin : begin + info.compress_size]
    if len(raw) < info.compress_size:
        raise CorruptWorkbook("the workbook is truncated")
    return raw


class _PartScan:
    """Decompress one part with a hard cap, checking for a DTD and counting cells."""

    def __init__(self, info: Entry, cap: int, count_cells: bool, keep: bool = False, tags: tuple[bytes, ...] = ()) -> None:
        self.info = info
        self.cap = cap
        self.count_cells = count_cells
        self.tags = tags
        self.tagged = 0
        self.size = 0
        self.cells = 0
        self.max_row = 0
        self.max_col = 0
        self.content = bytearray() if keep else None
        self._head = b""
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        """Account for a decompressed chunk."""
        self.size += len(chunk)
        if self.size > self.cap:
            raise UnsafeWorkbook(
                f"part {self.info.filename} decompresses to more than it declares or than allowed "
                "(a zip bomb); the workbook was not read",
                code="zip_bomb",
            )
        if len(self._head) < 2048:
            self._head = (self._head + chunk)[:2048]
            if b"<!DOCTYPE" in self._head or b"<!ENTITY" in self._head:
                raise UnsafeWorkbook(
                    f"part {self.info.filename} declares XML entities, which workbooks never do; "
                    "the workbook was not read",
                    code="xml_entities",
                )
        if self.content is not None:
            self.content += chunk
        if self.tags:
            window = self._tail + chunk
            self.tagged += sum(window.count(tag) for tag in self.tags)
            self._tail = chunk[-8:]
        if self.count_cells:
            # The window repeats the previous chunk's end so nothing split across two
            # chunks is missed (a cell counted twice only makes the check stricter).
            window = self._tail + chunk
            # Rows count too: a sheet of a million empty rows costs a reader as much.
            self.cells += window.count(b"<c ") + window.count(b"<c>") + window.count(b"<row ")
            # Every row number counts: a crafted sheet need not keep its rows in order.
            rows = _ROW_REF.findall(window)
            if rows:
                self.max_row = max(self.max_row, max(map(int, rows)))
            if b'<c r="' in window:
                wide = _WIDE_CELL_COLUMN.findall(window)
                widest = max(_column_number(c) for c in set(wide)) if wide else 26
                self.max_col = max(self.max_col, widest)
            self._tail = chunk[-24:]


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + (ch - 64)
    return number


def _scan_part(data: bytes, info: Entry, cap: int, count_cells: bool, prefix_only: bool = False,
               keep: bool = False, tags: tuple[bytes, ...] = ()) -> _PartScan:
    scan = _PartScan(info, cap, count_cells, keep, tags)
    raw = raw_stream(data, info)
    if prefix_only and info.compress_type == zipfile.ZIP_DEFLATED:
        try:
            scan.feed(zlib.decompressobj(-zlib.MAX_WBITS).decompress(raw[:_CHUNK], 2048))
        except zlib.error as exc:
            raise CorruptWorkbook(f"part {info.filename} is damaged ({exc})") from None
        return scan
    if info.compress_type == zipfile.ZIP_STORED:
        scan.feed(raw)
        return scan
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise CorruptWorkbook(f"part {info.filename} uses a compression Excel does not write")
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        for offset in range(0, len(raw), _CHUNK):
            pending = raw[offset : offset + _CHUNK]
            while pending:
                # max_length keeps a single tiny chunk from expanding without bound.
                scan.feed(inflater.decompress(pending, _CHUNK))
                pending = inflater.unconsumed_tail
        scan.feed(inflater.flush())
    except zlib.error as exc:
        raise CorruptWorkbook(f"part {info.filename} is damaged ({exc})") from None
    return scan


def inspect_workbook(data: bytes, limits: Limits, sheets: tuple[str, ...] | None = None) -> None:
    """Raise a `WorkbookError` unless `data` is a sound .xlsx within `limits`; with `sheets`,
    only the parts a reader of just those sheets opens are decompressed and checked."""
    if not data.startswith(_ZIP_MAGIC):
        raise _not_a_workbook(data)
    infos = read_directory(data)
    names = {info.filename for info in infos}
    if not all(part in names for part in _REQUIRED_PARTS):
        raise NotAWorkbook("the file is a zip archive but not an Excel workbook (.xlsx)")
    if len(infos) > limits.max_entries:
        raise UnsafeWorkbook(f"the workbook has {len(infos)} parts, more than the {limits.max_entries} allowed")
    declared = sum(info.file_size for info in infos)
    if declared > limits.max_decompressed_bytes:
        raise UnsafeWorkbook(
            f"the workbook would decompress to {declared:,} bytes, more than the "
            f"{limits.max_decompressed_bytes:,} allowed",
            code="zip_bomb",
        )
    for info in infos:
        if info.flag_bits & 0x1:
            raise NotAWorkbook("the workbook is encrypted; please upload an unprotected copy")
        if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_compression_ratio * max(info.compress_size, 1):
            raise UnsafeWorkbook(
                f"part {info.filename} is compressed more than {limits.max_compression_ratio}:1 "
                "(a zip bomb or a sheet of millions of empty rows)",
                code="zip_bomb",
            )

    budget = limits.max_decompressed_bytes
    by_name = {info.filename: info for info in infos}
    # Map the sheet names to their parts through workbook.xml and its relationships, as the
    # readers do (a sheet need not live under xl/worksheets/).
    workbook = _scan_part(data, by_name["xl/workbook.xml"], by_name["xl/workbook.xml"].file_size, False, keep=True)
    budget -= workbook.size
    rels_info = by_name.get("xl/_rels/workbook.xml.rels")
    if rels_info is None and sheets is not None:
        raise CorruptWorkbook("the workbook has no xl/_rels/workbook.xml.rels part")
    rels = _scan_part(data, rels_info, rels_info.file_size, False, keep=True) if rels_info is not None else None
    budget -= rels.size if rels is not None else 0
    wanted_sheets = _sheet_parts(bytes(workbook.content), bytes(rels.content) if rels is not None else None, sheets) & names
    if sheets is None:
        wanted_sheets |= {n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml")}

    cells = 0
    for info in infos:
        name = info.filename
        if not name.endswith(_XML_SUFFIXES) or name in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
            continue
        is_sheet = name in wanted_sheets
        if sheets is not None and not is_sheet and name not in _READER_PARTS:
            continue  # the fast reader never opens this part
        # Worksheets, shared strings and styles in full (cells, area, entries, real size); other
        # parts only their prolog (a DTD).
        bounded = _BOUNDED_PARTS.get(name)
        scan = _scan_part(data, info, min(info.file_size, budget), count_cells=is_sheet,
                          prefix_only=not is_sheet and bounded is None, tags=bounded[0] if bounded else ())
        budget -= scan.size
        if bounded and scan.tagged > getattr(limits, bounded[1]):
            raise UnsafeWorkbook(
                f"part {name} has more than {getattr(limits, bounded[1]):,} entries; feedback forms have a few "
                "hundred, so it was not read",
                code="too_many_cells",
            )
        cells += scan.cells
        if cells > limits.max_cells:
            raise UnsafeWorkbook(
                f"the workbook has more than {limits.max_cells:,} cells; feedback forms have a few "
                "hundred, so it was not read",
                code="too_many_cells",
            )
        if scan.max_row * max(scan.max_col, 1) > limits.max_sheet_area:
            raise UnsafeWorkbook(
                f"a sheet of the workbook spans {scan.max_row:,} rows by {scan.max_col:,} columns, more than "
                f"a feedback form could; it was not read",
                code="too_many_cells",
            )


def _sheet_parts(workbook_xml: bytes, rels_xml: bytes | None, sheets) -> set[str]:
    """The zip part names of the named sheets (all of them for `sheets=None`), mapped as the
    lean reader maps them (`safexml.sheet_parts`), so the guard checks what a reader opens."""
    workbook = safexml.parse(safexml.WORKBOOK_PART, workbook_xml)
    rels = safexml.parse(safexml.WORKBOOK_RELS_PART, rels_xml) if rels_xml is not None else None
    parts = safexml.sheet_parts(workbook, rels)
    return {part for name, part in parts.items() if part and (sheets is None or name in sheets)}
