"""Derive the project's form definitions from the ARB reference files (run by hand, rarely).

Reads `../shared/arb_forms/schemas/*.json` (field -> label, cells, type, dropdown flag),
the templates' data-validation lists (the dropdown values, which openpyxl drops on load)
and `dropdowns.json`, and writes `app/forms/definitions/<schema>.json` in this project's
own compact format. The portal never reads `../shared` at run time.

    python tools/import_arb_forms.py [../shared/arb_forms]
"""

from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path

import openpyxl
from defusedxml import ElementTree

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "app" / "forms" / "definitions"
NS = {
    "main": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "x14": "http://schemas.microsoft.com/office/spreadsheetml/2009/9/main",
    "xm": "http://schemas.microsoft.com/office/excel/2006/main",
}
TEMPLATES = {
    "oil_and_gas_v01_00": ("oil_and_gas_operator_feedback_v070.xlsx", "Oil and Gas"),
    "landfill_v01_00": ("landfill_operator_feedback_v070.xlsx", "Landfill"),
    "landfill_v01_01": ("landfill_operator_feedback_v071.xlsx", "Landfill"),
    "energy_v01_00": ("energy_operator_feedback_v003.xlsx", "Energy"),
    "dairy_digester_v01_00": ("dairy_digester_operator_feedback_v006.xlsx", "Dairy Digester"),
    "generic_v01_00": ("generic_operator_feedback_v002.xlsx", "Generic"),
}


def _validation_lists(template: Path) -> dict[str, tuple[list[str], bool]]:
    """Map value cell (e.g. D43) -> (allowed values, whether they came from a spill range)."""
    wb = openpyxl.load_workbook(template, data_only=True)
    sheet_xml = _sheet_xml_for(template, "Feedback Form")
    root = ElementTree.fromstring(sheet_xml)
    lists: dict[str, tuple[list[str], bool]] = {}
    for dv in root.iter(f"{{{NS['x14']}}}dataValidation"):
        formula = dv.find("x14:formula1/xm:f", NS)
        sqref = dv.find("xm:sqref", NS)
        if formula is None or sqref is None or dv.get("type") != "list":
            continue
        text = formula.text or ""
        spill = re.fullmatch(r"_xlfn\.ANCHORARRAY\('?([^'!]+)'?!\$?([A-Z]+)\$?(\d+)\)", text)
        match = re.fullmatch(r"'?([^'!]+)'?!\$?([A-Z]+)\$?(\d+):\$?([A-Z]+)\$?(\d+)", text)
        if spill:  # a dynamic-array spill: read down from the anchor until the first blank
            sheet, col, first = spill.groups()
            ws = wb[sheet]
            values, row = [], int(first)
            while ws[f"{col}{row}"].value not in (None, ""):
                values.append(ws[f"{col}{row}"].value)
                row += 1
        elif match:
            sheet, col, first, _, last = match.groups()
            ws = wb[sheet]
            values = [ws[f"{col}{row}"].value for row in range(int(first), int(last) + 1)]
        else:
            continue
        values = [str(v).strip() for v in values if v not in (None, "")]
        for ref in (sqref.text or "").split():
            for cell in _expand(ref):
                lists[cell] = (values, bool(spill))
    return lists


def _expand(ref: str) -> list[str]:
    """`D54:D55` -> [D54, D55] (single-column ranges, as the templates use)."""
    if ":" not in ref:
        return [ref]
    first, last = ref.split(":")
    col = re.match(r"[A-Z]+", first).group()
    return [f"{col}{row}" for row in range(int(first[len(col):]), int(last[len(col):]) + 1)]


def _sheet_xml_for(template: Path, title: str) -> bytes:
    with zipfile.ZipFile(template) as zf:
        wb_root = ElementTree.fromstring(zf.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
        rid = next(
            s.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id")
            for s in wb_root.iter(f"{{{NS['main']}}}sheet")
            if s.get("name") == title
        )
        target = next(r.get("Target") for r in rels if r.get("Id") == rid)
        return zf.read("xl/" + target.lstrip("/").removeprefix("xl/"))


def main(source: Path) -> None:
    dropdowns = json.loads((source / "dropdowns.json").read_text())
    OUT.mkdir(parents=True, exist_ok=True)
    for schema, (template_name, sector) in TEMPLATES.items():
        raw = json.loads((source / "schemas" / f"{schema}.json").read_text())["_data_"]
        lists = _validation_lists(source / "templates" / template_name)
        fields = []
        for name, spec in raw.items():
            value_cell = spec["value_address"].replace("$", "")
            choices = None
            if spec["is_drop_down"]:
                # A plain range in the template is authoritative; a spill range's cached
                # values are partial (they depend on other answers), so dropdowns.json wins.
                template_values, from_spill = lists.get(value_cell, ([], False))
                if template_values and not from_spill:
                    choices = template_values
                else:
                    choices = dropdowns["independent"].get(name) or template_values
                if not choices:
                    raise SystemExit(f"{schema}.{name}: dropdown without values")
                choices = [c for c in choices if c != "Please Select"]
            fields.append(
                {
                    "name": name,
                    "label": spec["label"],
                    "label_cell": spec["label_address"].replace("$", ""),
                    "value_cell": value_cell,
                    "type": spec["value_type"]["__class__"],
                    "choices": choices,
                }
            )
        definition = {"schema": schema, "sector": sector, "sheet": "Feedback Form", "fields": fields}
        if schema.startswith("landfill") or schema.startswith("dairy"):
            definition["contingent_choices"] = {
                "emission_cause": dropdowns["contingent"]["emission_cause_contingent_on_emission_location"]
            }
        (OUT / f"{schema}.json").write_text(json.dumps(definition, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {schema}: {len(fields)} fields, {sum(1 for f in fields if f['choices'])} dropdowns")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared" / "arb_forms"))
