"""The guard refuses what is not a sound workbook before a reader touches it, quickly."""

from __future__ import annotations

import io
import time
import zipfile

import pytest

from app.workbook import hostile
from app.workbook.errors import CorruptWorkbook, NotAWorkbook, UnsafeWorkbook
from app.workbook.generator import generate_workbook
from app.workbook.inspection import Limits, inspect_workbook
from app.workbook.parse import parse_workbook
from app.workbook.lean import LeanReader
from app.workbook.readers import CalamineReader, OpenpyxlReader

CASES = [
    ("pdf", NotAWorkbook, "not_a_workbook"),
    ("csv", NotAWorkbook, "not_a_workbook"),
    ("random_binary", NotAWorkbook, "not_a_workbook"),
    ("legacy_xls", NotAWorkbook, "legacy_or_encrypted"),
    ("truncated", CorruptWorkbook, "corrupt_workbook"),
    ("corrupt_zip", CorruptWorkbook, "corrupt_workbook"),
    ("zip_bomb", UnsafeWorkbook, "zip_bomb"),
    ("lying_zip_bomb", UnsafeWorkbook, "zip_bomb"),
    ("entity_bomb", UnsafeWorkbook, "xml_entities"),
    ("million_rows", UnsafeWorkbook, "too_many_cells"),
    ("far_away_cell", UnsafeWorkbook, "too_many_cells"),
]


@pytest.mark.parametrize("builder, error, code", CASES)
def test_hostile_uploads_are_refused_with_a_reason_in_well_under_a_second(builder, error, code):
    data = getattr(hostile, builder)()
    started = time.perf_counter()
    with pytest.raises(error) as refused:
        inspect_workbook(data, Limits())
    # About a second at worst alone; generous because the machine is shared (3.8 s seen under load 9.5).
    assert time.perf_counter() - started < 10.0
    assert refused.value.code == code
    assert refused.value.message


def test_a_zip_that_is_not_a_workbook_is_refused():
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(NotAWorkbook, match="zip archive"):
        inspect_workbook(buffer.getvalue(), Limits())


def test_a_real_workbook_passes_and_limits_are_configurable():
    data = generate_workbook("generic_v01_00", seed=1).data
    inspect_workbook(data, Limits())
    with pytest.raises(UnsafeWorkbook) as small:
        inspect_workbook(data, Limits(max_cells=100))
    assert small.value.code == "too_many_cells"
    with pytest.raises(UnsafeWorkbook):
        inspect_workbook(data, Limits(max_decompressed_bytes=10_000))
    with pytest.raises(UnsafeWorkbook):
        inspect_workbook(data, Limits(max_entries=3))


def test_a_million_row_dimension_alone_is_harmless_and_parses_fast():
    data = hostile.dimension_only_million_rows()
    started = time.perf_counter()
    inspect_workbook(data, Limits())
    for reader in (OpenpyxlReader, LeanReader, CalamineReader):
        assert parse_workbook(reader(data)).form["id_incidence"] == 4242
    assert time.perf_counter() - started < 5.0


def test_the_shared_templates_pass_the_guard():
    from tests.conftest import shared_forms

    for template in sorted((shared_forms() / "templates").glob("*.xlsx")):
        inspect_workbook(template.read_bytes(), Limits())


def test_a_far_away_cell_is_caught_even_before_the_other_rows():
    with pytest.raises(UnsafeWorkbook) as refused:
        inspect_workbook(hostile.far_away_cell(first=True), Limits(), sheets=("Feedback Form",))
    assert refused.value.code == "too_many_cells" and "200,000 rows" in refused.value.message


@pytest.mark.parametrize("reader_type", [LeanReader, CalamineReader], ids=["lean", "calamine"])
def test_a_tab_outside_the_usual_three_is_checked_before_the_fast_reader_opens_it(reader_type):
    checked = []

    def guard(sheet):
        checked.append(sheet)
        inspect_workbook(hostile.far_away_cell(), Limits(), sheets=(sheet,))

    reader = reader_type(hostile.far_away_cell(), guard, checked=("_json_schema",))
    next(reader.rows("_json_schema", 1, 3))
    with pytest.raises(UnsafeWorkbook):
        next(reader.rows("Feedback Form", 1, 4))
    assert checked == ["Feedback Form"]


def test_the_direct_zip_directory_reader_agrees_with_zipfile():
    import io
    import zipfile

    from app.workbook.inspection import read_directory

    data = generate_workbook("dairy_digester_v01_00", seed=2).data
    expected = [(i.filename, i.file_size, i.compress_size, i.header_offset) for i in zipfile.ZipFile(io.BytesIO(data)).infolist()]
    assert [(e.filename, e.file_size, e.compress_size, e.header_offset) for e in read_directory(data)] == expected


def test_openpyxl_parses_xml_through_defusedxml_even_without_the_guard():
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML is True
    with pytest.raises(CorruptWorkbook):
        parse_workbook(OpenpyxlReader(hostile.entity_bomb()))


def test_a_lying_bomb_in_the_styles_is_refused_by_the_guard():
    data = hostile.lying_zip_bomb("xl/styles.xml")
    started = time.perf_counter()
    with pytest.raises(UnsafeWorkbook) as err:
        inspect_workbook(data, Limits(), sheets=("Feedback Form", "_json_schema", "_json_metadata"))
    assert err.value.code == "zip_bomb"
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize("reader", [OpenpyxlReader, LeanReader], ids=["openpyxl", "lean"])
def test_a_lying_bomb_is_stopped_by_the_readers_even_without_the_guard(reader):
    data = hostile.lying_zip_bomb("xl/styles.xml")
    started = time.perf_counter()
    with pytest.raises((UnsafeWorkbook, CorruptWorkbook)):
        parse_workbook(reader(data))
    # The readers stop at the declared size (an unbounded inflate runs far longer); generous: the machine is shared.
    assert time.perf_counter() - started < 15.0


def test_too_many_shared_strings_or_styles_are_refused_before_a_reader_loads_them():
    from app.forms import get_schema
    from app.workbook.rawbook import form_workbook

    data = form_workbook(get_schema("energy_v01_00"), {"id_incidence": 7})
    with pytest.raises(UnsafeWorkbook) as err:
        inspect_workbook(data, Limits(max_shared_strings=3), sheets=("Feedback Form",))
    assert "sharedStrings" in err.value.message
    with pytest.raises(UnsafeWorkbook) as err:
        inspect_workbook(data, Limits(max_styles=1))
    assert "styles" in err.value.message
    with pytest.raises(UnsafeWorkbook):
        parse_workbook(LeanReader(data, max_shared_strings=3))


def test_the_lean_reader_refuses_a_dtd_anywhere_in_the_prolog():
    """The guard looks at a part's first 2 KB; the reader's expat check covers the whole prolog."""
    from app.workbook.rawbook import Cell, write_workbook

    data = write_workbook({"S": {(1, 1): Cell("shared", "x")}})
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    padded = sheet.replace(b"?>\n", b"?>\n" + b"<!-- " + b"x" * 4000 + b' -->\n<!DOCTYPE worksheet [<!ENTITY a "b">]>', 1)
    crafted = hostile._replace_part(data, "xl/worksheets/sheet1.xml", padded)
    inspect_workbook(crafted, Limits(), sheets=("S",))  # past the guard's look
    with pytest.raises(UnsafeWorkbook) as err:
        LeanReader(crafted).cell("S", 1, 1)
    assert err.value.code == "xml_entities"


def test_the_guard_finds_a_sheet_as_the_readers_do_whatever_its_markup():
    """Single quotes, the id before the name, a part outside xl/worksheets/: the guard maps
    sheets through the same XML parse as the lean reader, so the far-away cell is still caught."""
    data = hostile.far_away_cell()
    archive = zipfile.ZipFile(io.BytesIO(data))
    workbook = archive.read("xl/workbook.xml").decode()
    rels = archive.read("xl/_rels/workbook.xml.rels").decode()
    import re

    sheet = re.search(r'<sheet name="Feedback Form" sheetId="(\d+)"[^>]*r:id="(rId\d+)"[^>]*/>', workbook)
    assert sheet, workbook
    workbook = workbook.replace(sheet.group(0), f"<sheet r:id='{sheet.group(2)}' sheetId='{sheet.group(1)}' name='Feedback Form'/>")
    target = re.search(rf'Id="{sheet.group(2)}"[^>]*Target="([^"]+)"', rels) or re.search(rf'Target="([^"]+)"[^>]*Id="{sheet.group(2)}"', rels)
    old_part = "xl/" + target.group(1).lstrip("/").removeprefix("xl/")
    rels = rels.replace(target.group(1), "elsewhere/form.xml")
    moved = hostile._replace_part(data, "xl/workbook.xml", workbook.encode())
    moved = hostile._replace_part(moved, "xl/_rels/workbook.xml.rels", rels.encode())
    content = zipfile.ZipFile(io.BytesIO(moved)).read(old_part)
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(moved)) as src, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr("xl/elsewhere/form.xml" if info.filename == old_part else info.filename,
                         content if info.filename == old_part else src.read(info.filename))
    crafted = buffer.getvalue()
    assert LeanReader(crafted).sheet_names  # the reader would open it
    with pytest.raises(UnsafeWorkbook) as refused:
        inspect_workbook(crafted, Limits(), sheets=("Feedback Form",))
    assert refused.value.code == "too_many_cells"
