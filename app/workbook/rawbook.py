"""Write a workbook cell by cell, each cell in the exact XML kind asked for.

openpyxl cannot write some kinds a real workbook holds: it writes `""` as an inline
string with no text, which reads back as an empty cell. The legacy-rules corpus and the
readers' differential test need every kind, so this writer spells them out:

| `Cell.kind`    | XML                                             | openpyxl reads      |
| -------------- | ----------------------------------------------- | ------------------- |
| `styled_empty` | `<c r s="1"/>`                                  | `None`              |
| `shared`       | `t="s"`, the text in the shared strings         | the text, `""` too  |
| `rich_shared`  | `t="s"`, the text split into two rich-text runs | the text            |
| `inline`       | `t="inlineStr"`, `<is><t>text</t></is>`         | the text, `""` too  |
| `formula_str`  | `t="str"`, `<f>` and the cached `<v>`           | the text; `""` None |
| `number`       | `<v>text</v>`                                   | int, or float if `.`/`e` |
| `date`         | the serial in a `m/d/yy h:mm` style             | datetime            |
| `time`         | the serial in a `h:mm` style                    | time                |
| `bool`         | `t="b"`, `<v>0|1</v>`                           | bool                |
| `error`        | `t="e"`, `<v>#N/A</v>`                          | the error's text    |
| `iso_date`     | `t="d"`, `<v>2024-06-25T14:30:00</v>`           | datetime            |
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from app.forms import FormSchema

KINDS = ("styled_empty", "shared", "rich_shared", "inline", "formula_str", "number", "date", "time", "bool", "error",
         "iso_date")
_STYLE = {"styled_empty": 1, "date": 2, "time": 3}  # cellXfs below: 0 general, 1 general, 2 m/d/yy h:mm, 3 h:mm
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
TABLE_HEADER_ROW = 14


@dataclass(frozen=True)
class Cell:
    """One cell as written: its kind and its text (the number's digits, the string...)."""

    kind: str
    text: str = ""


def as_cell(value: object) -> Cell | None:
    """The usual cell for a Python value (`None`: no cell at all)."""
    if value is None or isinstance(value, Cell):
        return value
    if isinstance(value, bool):
        return Cell("bool", "1" if value else "0")
    if isinstance(value, (int, float)):
        return Cell("number", repr(value))
    if isinstance(value, dt.datetime):
        return Cell("date", repr((value - _EXCEL_EPOCH) / dt.timedelta(days=1)))
    return Cell("shared", str(value))


def _column_letters(column: int) -> str:
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _text_element(text: str) -> str:
    return f'<t xml:space="preserve">{escape(text)}</t>'


class _Strings:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, xml: str) -> int:
        self.items.append(xml)
        return len(self.items) - 1


def _cell_xml(ref: str, cell: Cell, strings: _Strings) -> str:
    kind, text = cell.kind, cell.text
    style = f' s="{_STYLE[kind]}"' if kind in _STYLE else ""
    if kind == "styled_empty":
        return f'<c r="{ref}"{style}/>'
    if kind == "shared":
        return f'<c r="{ref}" t="s"><v>{strings.add(_text_element(text))}</v></c>'
    if kind == "rich_shared":
        half = len(text) // 2
        runs = f"<r><rPr><b/></rPr>{_text_element(text[:half])}</r><r>{_text_element(text[half:])}</r>"
        return f'<c r="{ref}" t="s"><v>{strings.add(runs)}</v></c>'
    if kind == "inline":
        return f'<c r="{ref}" t="inlineStr"><is>{_text_element(text)}</is></c>'
    if kind == "formula_str":
        return f'<c r="{ref}" t="str"><f>TRIM({quoteattr(text)[1:-1]})</f><v>{escape(text)}</v></c>'
    if kind in ("number", "date", "time"):
        return f'<c r="{ref}"{style}><v>{escape(text)}</v></c>'
    if kind == "bool":
        return f'<c r="{ref}" t="b"><v>{text}</v></c>'
    if kind == "error":
        return f'<c r="{ref}" t="e"><v>{escape(text or "#N/A")}</v></c>'
    if kind == "iso_date":
        return f'<c r="{ref}" t="d"><v>{escape(text)}</v></c>'
    raise ValueError(f"unknown cell kind {kind!r}")


def _sheet_xml(cells: dict[tuple[int, int], Cell], strings: _Strings) -> str:
    rows: dict[int, list[str]] = {}
    for (row, column), cell in sorted(cells.items()):
        rows.setdefault(row, []).append(_cell_xml(f"{_column_letters(column)}{row}", cell, strings))
    body = "".join(f'<row r="{row}">{"".join(xml)}</row>' for row, xml in sorted(rows.items()))
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f"<sheetData>{body}</sheetData></worksheet>")


_STYLES = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
           '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
           '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
           '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
           '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
           '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyFill="1"/>'
           '<xf numFmtId="22" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
           '<xf numFmtId="20" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
           '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
           '</styleSheet>')


def write_workbook(sheets: dict[str, dict[tuple[int, int], Cell]], hidden: tuple[str, ...] = (),
                   date1904: bool = False) -> bytes:
    """An .xlsx holding `sheets` (name -> (row, column) -> cell), in the order given; dates
    counted from 1904 when `date1904` (old Mac workbooks)."""
    strings = _Strings()
    sheet_xml = [_sheet_xml(cells, strings) for cells in sheets.values()]
    names = list(sheets)
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel_ns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    states = {name: ' state="veryHidden"' if name in hidden else "" for name in names}
    sheet_entries = "".join(f'<sheet name={quoteattr(name)} sheetId="{n}"{states[name]} r:id="rId{n}"/>'
                            for n, name in enumerate(names, start=1))
    epoch = ' date1904="1"' if date1904 else ""
    workbook = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook {ns} xmlns:r="{rel_ns}">'
                f'<workbookPr{epoch}/><bookViews><workbookView activeTab="0"/></bookViews><sheets>{sheet_entries}</sheets></workbook>')
    rels = "".join(f'<Relationship Id="rId{n}" Type="{rel_ns}/worksheet" Target="worksheets/sheet{n}.xml"/>'
                   for n in range(1, len(names) + 1))
    rels += (f'<Relationship Id="rId{len(names) + 1}" Type="{rel_ns}/styles" Target="styles.xml"/>'
             f'<Relationship Id="rId{len(names) + 2}" Type="{rel_ns}/sharedStrings" Target="sharedStrings.xml"/>')
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    main = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{main}.worksheet+xml"/>'
                        for n in range(1, len(names) + 1))
    content_types = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                     '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                     '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                     '<Default Extension="xml" ContentType="application/xml"/>'
                     f'<Override PartName="/xl/workbook.xml" ContentType="{main}.sheet.main+xml"/>{overrides}'
                     f'<Override PartName="/xl/styles.xml" ContentType="{main}.styles+xml"/>'
                     f'<Override PartName="/xl/sharedStrings.xml" ContentType="{main}.sharedStrings+xml"/></Types>')
    shared = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
              f'<sst {ns} count="{len(strings.items)}" uniqueCount="{len(strings.items)}">'
              + "".join(f"<si>{item}</si>" for item in strings.items) + "</sst>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", content_types)
        z.writestr("_rels/.rels", f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{pkg}">'
                   f'<Relationship Id="rId1" Type="{rel_ns}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", workbook)
        z.writestr("xl/_rels/workbook.xml.rels", f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                   f'<Relationships xmlns="{pkg}">{rels}</Relationships>')
        z.writestr("xl/styles.xml", _STYLES)
        z.writestr("xl/sharedStrings.xml", shared)
        for n, xml in enumerate(sheet_xml, start=1):
            z.writestr(f"xl/worksheets/sheet{n}.xml", xml)
    return buffer.getvalue()


def _at(ref: str) -> tuple[int, int]:
    from app.forms.schema import cell_position

    return cell_position(ref)


def form_workbook(schema: FormSchema, values: dict[str, object], metadata: dict | None = None) -> bytes:
    """A feedback form for `schema` in the ARB layout (labels, `_json_schema`, `_json_metadata`)
    with each field's value cell as given: a `Cell`, a plain value (`as_cell`), or absent."""
    form: dict[tuple[int, int], Cell] = {(2, 2): Cell("shared", "CARB Methane Plume Detection")}
    for spec in schema.fields:
        form[_at(spec.label_cell)] = Cell("shared", spec.label)
        cell = as_cell(values.get(spec.name))
        if cell is not None:
            form[_at(spec.value_cell)] = cell

    def table(title: str, header: tuple[str, str], rows: dict) -> dict[tuple[int, int], Cell]:
        cells = {(2, 2): Cell("shared", title), (TABLE_HEADER_ROW, 2): Cell("shared", header[0]),
                 (TABLE_HEADER_ROW, 3): Cell("shared", header[1])}
        for offset, (key, value) in enumerate(rows.items(), start=1):
            cells[(TABLE_HEADER_ROW + offset, 2)] = Cell("shared", key)
            cells[(TABLE_HEADER_ROW + offset, 3)] = as_cell(value)
        return cells

    sheets = {
        schema.sheet: form,
        "_json_schema": table("JSON Schema Tab", ("Tab Name", "JSON Formatting Schema"), {schema.sheet: schema.name}),
        "_json_metadata": table("JSON Metadata Tab", ("Key", "Value"),
                                metadata if metadata is not None else {"sector": schema.sector}),
    }
    return write_workbook(sheets, hidden=("_json_schema", "_json_metadata"))
