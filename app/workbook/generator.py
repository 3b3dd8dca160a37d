"""Write feedback-form workbooks in the real ARB layout, for tests, load tests and demos.

The layout is the templates': a visible `Feedback Form` sheet with each label at its
schema's label cell and each answer at its value cell; very hidden `_json_schema` and
`_json_metadata` sheets with their key/value tables under a header on row 14; workbook
defined names `jinja_<field>` pointing at the value cells; list validations for dropdowns.

`generate_workbook` returns the bytes with the values written and the parse result the
portal must produce for them (`expected`), stated by the generator from what it wrote.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import string
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

from app.forms import FieldSpec, FormSchema, get_schema
from app.forms.schema import PLEASE_SELECT

VARIANTS = ("good", "bad", "blank_id")
TABLE_HEADER_ROW = 14
_FIRST_NAMES = ("Dana", "Michael", "Laura", "Sarah", "John", "Elena", "Ravi", "Mei", "Carlos", "Aisha")
_LAST_NAMES = ("Ochoa", "Tanaka", "Kim", "Hollingsworth", "Doe", "Martinez", "Patel", "Chen", "Nguyen", "Brooks")
_WORDS = (
    "valve flange gasket compressor separator tank inspection repaired monitored leak vent flare "
    "pressure survey crew replaced torqued verified sensor reading site well cover lagoon pipeline"
).split()
_BAD_NUMBERS = ("about 32", "seventy-two point dog", "∞ ppmv", "left of davis", "n/a")
_BAD_DATES = ("yesterday", "13th month of Smarch", "2025-June-15ish", "06/AB/CD", "whenever Bob showed up")


@dataclass(frozen=True)
class GeneratedWorkbook:
    """A generated workbook: its bytes, what was written, and the parse it must produce."""

    schema: str
    variant: str
    data: bytes
    written: dict
    expected: dict

    @property
    def id_incidence(self) -> int | None:
        """The incidence id the workbook carries (None for the blank-id variant)."""
        return self.expected.get("id_incidence")


def _sentence(rng: random.Random, words: int = 8) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _realistic(spec: FieldSpec, rng: random.Random, id_incidence: int) -> object:
    name = spec.name
    if name == "id_incidence":
        return id_incidence
    if spec.choices:
        return rng.choice(spec.choices)
    if spec.value_type == "int":
        return rng.randint(1, 99_999)
    if spec.value_type == "float":
        if name.startswith("lat"):
            return round(rng.uniform(32.5, 41.9), 6)
        if name.startswith("long"):
            return round(rng.uniform(-124.4, -114.2), 6)
        return round(rng.uniform(0.1, 500), 2)
    if spec.value_type == "datetime":
        start = dt.datetime(2024, 1, 1)
        return start + dt.timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60))
    if name == "contact_name":
        return f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
    if name == "contact_phone":
        return f"({rng.randint(200, 999)}) 555-{rng.randint(0, 9999):04d}"
    if name == "contact_email":
        return f"{rng.choice(_FIRST_NAMES).lower()}.{rng.choice(_LAST_NAMES).lower()}@example.com"
    if name == "id_message":
        return f"{rng.randint(100, 999)}-{rng.randint(1, 999):03d}"
    if name.startswith("id_"):
        return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(10))
    return _sentence(rng, rng.randint(3, 14))


def _bad(spec: FieldSpec, rng: random.Random, good: object) -> tuple[object, object]:
    """(value to write, value the portal must parse) for the bad-values variant."""
    if spec.name == "id_incidence":
        return good, good
    if spec.value_type in ("int", "float"):
        return rng.choice(_BAD_NUMBERS), None
    if spec.value_type == "datetime":
        return rng.choice(_BAD_DATES), None
    if spec.choices:
        return PLEASE_SELECT, PLEASE_SELECT
    # Free text with stray white space and characters from outside Latin-1.
    text = f"{good} ✓ “quoted” 💨"
    return f"  {text}   ", text


def _values_for(schema: FormSchema, variant: str, rng: random.Random, id_incidence: int, given: dict | None) -> tuple[dict, dict]:
    written, expected = {}, {}
    by_cell: dict[str, str] = {}
    for spec in schema.fields:
        # Two fields may share one cell (generic: id_arb and id_arb_swis); they read alike.
        twin = by_cell.setdefault(spec.value_cell, spec.name)
        if twin != spec.name:
            written[spec.name], expected[spec.name] = written[twin], expected[twin]
            continue
        if given is not None and spec.name in given:
            value = given[spec.name]
        else:
            value = _realistic(spec, rng, id_incidence)
        parsed = value
        if variant == "bad" and (given is None or spec.name not in given):
            value, parsed = _bad(spec, rng, value)
        if variant == "blank_id" and spec.name == "id_incidence":
            value, parsed = None, None
        written[spec.name] = value
        expected[spec.name] = parsed
    return written, expected


def _write_table(ws, title: str, header: tuple[str, str], rows: dict) -> None:
    ws["B2"] = title
    ws.cell(TABLE_HEADER_ROW, 2, header[0])
    ws.cell(TABLE_HEADER_ROW, 3, header[1])
    for offset, (key, value) in enumerate(rows.items(), start=1):
        ws.cell(TABLE_HEADER_ROW + offset, 2, key)
        ws.cell(TABLE_HEADER_ROW + offset, 3, value)


def render_workbook(schema: FormSchema, written: dict, metadata: dict | None = None, schema_label: str | None = None) -> bytes:
    """Write `written` (field -> cell value) into a workbook in the ARB layout."""
    wb = Workbook()
    form = wb.active
    form.title = schema.sheet
    form["B2"] = "CARB Methane Plume Detection"
    form["B3"] = f"Follow-up Form: {schema.sector} Sector"
    lists = wb.create_sheet("_dropdowns")
    lists.sheet_state = "veryHidden"
    list_column = 1
    for spec in schema.fields:
        form[spec.label_cell] = spec.label
        value = written.get(spec.name)
        cell = form[spec.value_cell]
        cell.value = value
        if isinstance(value, dt.datetime):
            cell.number_format = "mm/dd/yyyy hh:mm"
        if spec.choices:
            options = (PLEASE_SELECT, *spec.choices)
            for row, option in enumerate(options, start=1):
                lists.cell(row, list_column, option)
            letter = lists.cell(1, list_column).column_letter
            validation = DataValidation(type="list", formula1=f"_dropdowns!${letter}$1:${letter}${len(options)}", allow_blank=True)
            validation.add(spec.value_cell)
            form.add_data_validation(validation)
            list_column += 1
        column, row = spec.value_cell.rstrip(string.digits), spec.value_cell.lstrip(string.ascii_uppercase)
        wb.defined_names[f"jinja_{spec.name}"] = DefinedName(
            f"jinja_{spec.name}", attr_text=f"'{schema.sheet}'!${column}${row}"
        )
    schema_sheet = wb.create_sheet("_json_schema")
    schema_sheet.sheet_state = "veryHidden"
    _write_table(schema_sheet, "JSON Schema Tab", ("Tab Name", "JSON Formatting Schema"), {schema.sheet: schema_label or schema.name})
    meta_sheet = wb.create_sheet("_json_metadata")
    meta_sheet.sheet_state = "veryHidden"
    _write_table(meta_sheet, "JSON Metadata Tab", ("Key", "Value"), metadata if metadata is not None else {"sector": schema.sector})
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def generate_workbook(
    schema_name: str,
    variant: str = "good",
    *,
    values: dict | None = None,
    seed: int | None = None,
    id_incidence: int | None = None,
) -> GeneratedWorkbook:
    """A workbook for `schema_name`: `values` where given, realistic random values elsewhere.

    Variants: `good`; `bad` (text in number and date fields, "Please Select" in dropdowns,
    padded text); `blank_id` (no incidence id). The id is random unless given.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    schema = get_schema(schema_name)
    rng = random.Random(seed)
    if id_incidence is None:
        id_incidence = rng.randint(1_000_000, 9_999_999)
    written, expected = _values_for(schema, variant, rng, id_incidence, values)
    return GeneratedWorkbook(schema.name, variant, render_workbook(schema, written), written, expected)
