"""Inspect an upload before any spreadsheet library touches it.

An .xlsx is a zip of XML parts. Before a reader parses it, the guard checks, in this
order and without trusting the sizes the zip declares:

1. the bytes are a zip (not a PDF, CSV, an old .xls or random bytes) holding the parts
   every workbook has;
2. the declared sizes are within limits (entries, total decompressed size, ratio);
3. every XML part, decompressed here with a hard cap, really is the size it declares
   (a zip bomb that lies in its headers is caught), declares no DTD (so no entity
   expansion, the "billion laughs"), and the worksheets hold no more cells than allowed
   (a sheet with a million rows is refused before a reader would spend minutes on it).
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

from app.workbook.errors import CorruptWorkbook, NotAWorkbook, UnsafeWorkbook

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_REQUIRED_PARTS = ("[Content_Types].xml", "xl/workbook.xml")
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")
_CHUNK = 64 * 1024
_XML_SUFFIXES = (".xml", ".rels", ".vml")
_FULLY_CHECKED = frozenset(
    {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/sharedStrings.xml", "xl/styles.xml"}
)


@dataclass(frozen=True)
class Limits:
    """Safety limits for one workbook (from configuration)."""

    max_decompressed_bytes: int = 64 * 1024 * 1024
    max_compression_ratio: int = 200
    max_cells: int = 250_000
    max_entries: int = 5_000
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


def _raw_stream(data: bytes, info: zipfile.ZipInfo) -> bytes:
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

    def __init__(self, info: zipfile.ZipInfo, cap: int, count_cells: bool) -> None:
        self.info = info
        self.cap = cap
        self.count_cells = count_cells
        self.size = 0
        self.cells = 0
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
        if self.count_cells:
            window = self._tail + chunk
            # Rows count too: a sheet of a million empty rows costs a reader as much.
            self.cells += window.count(b"<c ") + window.count(b"<c>") + window.count(b"<row ")
            self._tail = chunk[-4:]


def _scan_part(data: bytes, info: zipfile.ZipInfo, cap: int, count_cells: bool, prefix_only: bool) -> _PartScan:
    scan = _PartScan(info, cap, count_cells)
    raw = _raw_stream(data, info)
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


def inspect_workbook(data: bytes, limits: Limits) -> None:
    """Raise a `WorkbookError` unless `data` is a sound .xlsx within `limits`."""
    if not data.startswith(_ZIP_MAGIC):
        raise _not_a_workbook(data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise CorruptWorkbook("the workbook is damaged or truncated (its zip directory cannot be read)") from None
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
    cells = 0
    for info in infos:
        if not info.filename.endswith(_XML_SUFFIXES):
            continue
        is_sheet = info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
        # Parts the fast reader opens are decompressed in full here: its zip library
        # does not stop at the declared size. Python's zipfile (openpyxl) does, so for
        # the other parts the declared-size checks above hold and a prefix suffices.
        full = is_sheet or info.filename in _FULLY_CHECKED
        scan = _scan_part(data, info, min(info.file_size, budget), count_cells=is_sheet, prefix_only=not full)
        budget -= scan.size
        cells += scan.cells
        if cells > limits.max_cells:
            raise UnsafeWorkbook(
                f"the workbook has more than {limits.max_cells:,} cells; feedback forms have a few "
                "hundred, so it was not read",
                code="too_many_cells",
            )
