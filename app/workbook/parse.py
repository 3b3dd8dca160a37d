"""Parse an ARB feedback workbook into metadata, schema per tab and tab contents.

The `_json_schema` sheet names the schema of each tab (a key/value table under the
`Tab Name | JSON Formatting Schema` header, read until the first blank key); the
`_json_metadata` sheet holds key/value pairs such as `sector`. Each field is read from
its schema's value cell and cast by the cell rules the caller names (`cells`, the
refactored path's, by default; `legacy_cells` for the original path); a label that
differs from the schema's or a failed cast is a warning, never an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice

from app.forms import FormSchema, UnknownSchema, get_schema
from app.forms.schema import cell_position
from app.workbook.cells import SKIPPED, clean_text, coerce, normalize_cell
from app.workbook.errors import UnreadableForm
from app.workbook.readers import WorkbookReader

SCHEMA_SHEET = "_json_schema"
METADATA_SHEET = "_json_metadata"
# Header row of the key/value tables is 14 in every template; look a little further
# in case a future template moves it.
HEADER_SEARCH_ROWS = 60
MAX_TABLE_ROWS = 1_000
# Excel's own limit for one cell; a crafted file can hold more.
MAX_TEXT_LENGTH = 32_767

CellRules = Callable[[object, str], tuple[object, "str | None"]]


@dataclass(frozen=True)
class ParseWarning:
    """Something odd about one field that did not stop the upload."""

    tab: str
    field: str
    message: str
    # What a reviewer is shown: the kind (`label`, `cast`, `cut`), the cell, what it held,
    # and the field's type (for `cast`).
    kind: str = ""
    cell: str | None = None
    typed: object = None
    value_type: str | None = None


@dataclass(frozen=True)
class ParsedWorkbook:
    """The parse result: what the old portal's JSON conversion held, plus warnings."""

    metadata: dict
    schemas: dict
    tab_contents: dict
    warnings: tuple[ParseWarning, ...] = ()
    raw_contents: dict | None = None  # tab -> field -> cell value before casting

    @property
    def raw_form(self) -> dict:
        """Cell values of the form tab before casting (the id check needs them)."""
        return (self.raw_contents or {}).get(self.form_tab, {})

    @property
    def form_tab(self) -> str:
        """The tab that holds the incidence (the first tab `_json_schema` lists)."""
        return next(iter(self.schemas))

    @property
    def form(self) -> dict:
        """Field values of the form tab."""
        return self.tab_contents[self.form_tab]

    @property
    def sector(self) -> str | None:
        """The sector the workbook declares (metadata), else its schema's sector."""
        declared = self.metadata.get("sector")
        if isinstance(declared, str) and declared:
            return declared
        return get_schema(self.schemas[self.form_tab]).sector


def _key_value_table(reader: WorkbookReader, sheet: str, header: str) -> dict:
    """Read the key/value table under `header` in column B until the first blank key."""
    rows = reader.rows(sheet, 1, 3)
    for _, row in zip(range(HEADER_SEARCH_ROWS), rows):
        if isinstance(row[1], str) and clean_text(row[1]) == header:
            break
    else:
        raise UnreadableForm(
            f"the {sheet} sheet has no '{header}' header: this is not an ARB feedback form",
            code="no_schema_table",
        )
    table = {}
    for row in islice(rows, MAX_TABLE_ROWS):
        key = row[1]
        if key is None or (isinstance(key, str) and not clean_text(key)):
            break
        value = row[2]
        table[clean_text(str(key))] = clean_text(value) if isinstance(value, str) else value
    return table


def _read_form(reader: WorkbookReader, tab: str, schema: FormSchema,
               rules: CellRules) -> tuple[dict, dict, list[ParseWarning]]:
    positions = {f.name: (cell_position(f.label_cell), cell_position(f.value_cell)) for f in schema.fields}
    max_col = max(max(lc[1], vc[1]) for lc, vc in positions.values())
    # Raw rows: only the cells the schema names are normalised (a form's grid is mostly other text).
    grid = list(islice(reader.rows(tab, 1, max_col, normalized=False), schema.last_row))
    grid += [(None,) * max_col] * (schema.last_row - len(grid))

    contents, raw, warnings = {}, {}, []
    for spec in schema.fields:
        (label_row, label_col), (value_row, value_col) = positions[spec.name]
        label = normalize_cell(grid[label_row - 1][label_col - 1])
        if label != spec.label and not (isinstance(label, str) and clean_text(label) == clean_text(spec.label)):
            warnings.append(ParseWarning(tab, spec.name, f"label cell {spec.label_cell} reads {label!r}, expected {spec.label!r}",
                                         "label", spec.label_cell, label))
        cell = grid[value_row - 1][value_col - 1]
        raw[spec.name] = normalize_cell(cell)  # the id check's view, the same for every reader
        value, failure = rules(cell, spec.value_type)
        if value is SKIPPED:  # the legacy leaves the field out (see legacy_cells)
            warnings.append(ParseWarning(tab, spec.name, f"{spec.value_cell}: a date with a time zone; left out, the "
                                         "stored value is kept", "skipped", spec.value_cell, cell, spec.value_type))
            continue
        if failure:
            warnings.append(ParseWarning(tab, spec.name, f"{spec.value_cell}: {failure}; stored as empty",
                                         "cast", spec.value_cell, cell, spec.value_type))
        if isinstance(value, str) and len(value) > MAX_TEXT_LENGTH:
            warnings.append(ParseWarning(tab, spec.name, f"text longer than {MAX_TEXT_LENGTH} characters was cut",
                                         "cut", spec.value_cell, len(value)))
            value = value[:MAX_TEXT_LENGTH]
        contents[spec.name] = value
    return contents, raw, warnings


def parse_workbook(reader: WorkbookReader, rules: CellRules = coerce) -> ParsedWorkbook:
    """Parse a workbook with the cell `rules`; raises `UnreadableForm` when it is not a known
    feedback form."""
    if SCHEMA_SHEET not in reader.sheet_names:
        raise UnreadableForm(
            "the workbook has no _json_schema sheet, so it is not an ARB feedback form; "
            "please fill in a current template from the portal",
            code="no_schema_sheet",
        )
    tabs = _key_value_table(reader, SCHEMA_SHEET, "Tab Name")
    if not tabs:
        raise UnreadableForm("the _json_schema sheet lists no tab to read", code="no_schema_table")
    metadata = _key_value_table(reader, METADATA_SHEET, "Key") if METADATA_SHEET in reader.sheet_names else {}

    schemas, contents, raw, warnings = {}, {}, {}, []
    for tab, schema_name in tabs.items():
        try:
            schema = get_schema(str(schema_name))
        except UnknownSchema:
            raise UnreadableForm(
                f"the workbook uses form schema {schema_name!r}, which this portal does not know; "
                "please fill in a current template from the portal",
                code="unknown_schema",
            ) from None
        if tab not in reader.sheet_names:
            raise UnreadableForm(f"the workbook has no {tab!r} sheet although _json_schema lists it", code="missing_tab")
        schemas[tab] = schema.name
        contents[tab], raw[tab], tab_warnings = _read_form(reader, tab, schema, rules)
        warnings.extend(tab_warnings)
    return ParsedWorkbook(metadata, schemas, contents, tuple(warnings), raw)
