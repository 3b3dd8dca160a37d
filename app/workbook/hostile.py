"""Bad uploads, built on demand: what the portal must refuse cleanly (tests, load tests, QA).

Each builder returns bytes. Expensive ones are cached per process.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
from functools import cache

from app.workbook.generator import generate_workbook

FORM_SHEET_PART = "xl/worksheets/sheet1.xml"


def pdf() -> bytes:
    """A small, valid-looking PDF."""
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def csv() -> bytes:
    """A CSV export of a form, which users sometimes upload instead of the workbook."""
    return b"id_incidence,facility_name,contact_email\n1002051,ClearSky,dana@example.com\n"


def random_binary(size: int = 4096, seed: int = 7) -> bytes:
    """Random bytes (a renamed binary)."""
    return random.Random(seed).randbytes(size)


def legacy_xls() -> bytes:
    """The start of an OLE2 compound file: an old .xls or a password-protected .xlsx."""
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)


@cache
def _base_form() -> bytes:
    return generate_workbook("oil_and_gas_v01_00", seed=1, id_incidence=4242).data


def truncated() -> bytes:
    """A real workbook cut in half (an interrupted upload)."""
    data = _base_form()
    return data[: len(data) // 2]


def corrupt_zip() -> bytes:
    """A real workbook whose zip directory is overwritten with junk."""
    data = bytearray(_base_form())
    directory = data.rfind(b"PK\x01\x02")
    data[directory : directory + 64] = b"\x00" * 64
    return bytes(data)


def _replace_part(data: bytes, part: str, content: bytes, level: int = 6) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as target:
        for info in source.infolist():
            target.writestr(info.filename, content if info.filename == part else source.read(info.filename))
    return out.getvalue()


@cache
def zip_bomb(decompressed_mb: int = 200) -> bytes:
    """A workbook whose form sheet decompresses to `decompressed_mb` MB of white space."""
    head = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    body = head + b" " * (decompressed_mb * 1024 * 1024) + b"</sheetData></worksheet>"
    return _replace_part(_base_form(), FORM_SHEET_PART, body, level=9)


@cache
def lying_zip_bomb(part: str = FORM_SHEET_PART) -> bytes:
    """A zip bomb whose headers declare a tiny size for the huge part (fools size checks)."""
    if part == FORM_SHEET_PART:
        data = bytearray(zip_bomb(100))
    else:
        head = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        data = bytearray(_replace_part(_base_form(), part, head + b" " * (100 * 1024 * 1024) + b"</styleSheet>", level=9))
    name = part.encode()
    for signature, size_offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            name_offset = 30 if signature == b"PK\x03\x04" else 46
            if data[start + name_offset : start + name_offset + len(name)] == name:
                data[start + size_offset : start + size_offset + 4] = struct.pack("<I", 40_000)
            start += 4
    return bytes(data)


def entity_bomb() -> bytes:
    """A form whose sheet XML declares the "billion laughs" entities and uses them."""
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10)]
    doctype = ("<!DOCTYPE worksheet [" + "".join(entities) + "]>").encode()
    sheet = zipfile.ZipFile(io.BytesIO(_base_form())).read(FORM_SHEET_PART)
    prolog_end = sheet.index(b"?>") + 2 if sheet.startswith(b"<?xml") else 0
    sheet = sheet[:prolog_end] + doctype + sheet[prolog_end:]
    sheet = sheet.replace(b"</sheetData>", b'<row r="200"><c r="A200" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData>', 1)
    return _replace_part(_base_form(), FORM_SHEET_PART, sheet)


@cache
def million_rows() -> bytes:
    """A form whose sheet declares a million rows and holds a million empty row elements."""
    original = zipfile.ZipFile(io.BytesIO(_base_form())).read(FORM_SHEET_PART)
    closing = original.index(b"</sheetData>")
    rows = b"".join(b'<row r="%d"/>' % n for n in range(100, 1_000_100))
    sheet = original[:closing] + rows + original[closing:]
    sheet = sheet.replace(b'<dimension ref="A1:', b'<dimension ref="A1:XFD1048576" x="', 1)
    return _replace_part(_base_form(), FORM_SHEET_PART, sheet)


def dimension_only_million_rows() -> bytes:
    """A valid form whose sheet merely declares a million-row dimension (must parse fast)."""
    original = zipfile.ZipFile(io.BytesIO(_base_form())).read(FORM_SHEET_PART)
    start = original.index(b"<dimension ref=")
    end = original.index(b"/>", start) + 2
    sheet = original[:start] + b'<dimension ref="A1:XFD1048576"/>' + original[end:]
    return _replace_part(_base_form(), FORM_SHEET_PART, sheet)


def without_schema_sheet() -> bytes:
    """A plain workbook with a sheet of data and no `_json_schema` sheet."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = "id_incidence"
    wb.active["B1"] = 1002051
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def unknown_schema() -> bytes:
    """A form whose `_json_schema` names a schema the portal does not know."""
    from app.forms import get_schema
    from app.workbook.generator import render_workbook

    good = generate_workbook("landfill_v01_00", seed=3)
    return render_workbook(get_schema("landfill_v01_00"), good.written, schema_label="landfill_v09_99")


def with_id(value: object, schema: str = "energy_v01_00") -> bytes:
    """A good form whose id cell holds `value` exactly (zero, negative, text, float...)."""
    good = generate_workbook(schema, seed=5)
    from app.forms import get_schema
    from app.workbook.generator import render_workbook

    return render_workbook(get_schema(schema), {**good.written, "id_incidence": value})


def huge_text(length: int = 100_000) -> bytes:
    """A form whose notes cell holds more text than Excel allows (crafted, not typed)."""
    marker = "HUGE-TEXT-MARKER"
    good = generate_workbook("energy_v01_00", values={"additional_notes": marker}, seed=12)
    source = zipfile.ZipFile(io.BytesIO(good.data))
    part = next(name for name in source.namelist() if marker.encode() in source.read(name))
    content = source.read(part).replace(marker.encode(), b"x" * length)
    return _replace_part(good.data, part, content)


def far_away_cell(first: bool = False) -> bytes:
    """A valid form plus one cell at ZZ200000: a dense reader would allocate 140 million
    cells. With `first`, the far row comes before the others (out of order)."""
    original = zipfile.ZipFile(io.BytesIO(_base_form())).read(FORM_SHEET_PART)
    far = b'<row r="200000"><c r="ZZ200000" t="n"><v>1</v></c></row>'
    if first:
        sheet = original.replace(b"<sheetData>", b"<sheetData>" + far, 1)
    else:
        sheet = original.replace(b"</sheetData>", far + b"</sheetData>", 1)
    return _replace_part(_base_form(), FORM_SHEET_PART, sheet)
