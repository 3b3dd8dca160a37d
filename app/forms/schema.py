"""Form schemas as immutable value objects, loaded once from the packaged definitions."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

DEFINITIONS = Path(__file__).with_name("definitions")
VALUE_TYPES = ("int", "float", "str", "datetime")
PLEASE_SELECT = "Please Select"

# Old schema names still found in workbooks in circulation.
ALIASES = {
    "energy_v00_01": "energy_v01_00",
    "generic_v00_01": "generic_v01_00",
}


class UnknownSchema(LookupError):
    """A workbook names a schema this portal does not know."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown form schema {name!r}")
        self.name = name


@cache
def cell_position(ref: str) -> tuple[int, int]:
    """`D32` -> (32, 4): 1-based row and column."""
    match = re.fullmatch(r"([A-Z]{1,3})(\d+)", ref)
    if not match:
        raise ValueError(f"not a cell reference: {ref!r}")
    letters, row = match.groups()
    col = 0
    for ch in letters:
        col = col * 26 + (ord(ch) - ord("A") + 1)
    return int(row), col


@dataclass(frozen=True)
class FieldSpec:
    """One field of a form: its label and value cells, value type and dropdown choices."""

    name: str
    label: str
    label_cell: str
    value_cell: str
    value_type: str
    choices: tuple[str, ...] | None = None

    @property
    def is_dropdown(self) -> bool:
        """True when the form offers a fixed list of answers for this field."""
        return self.choices is not None


@dataclass(frozen=True)
class FormSchema:
    """A feedback-form schema: its sector, the sheet it reads and its fields in form order."""

    name: str
    sector: str
    sheet: str
    fields: tuple[FieldSpec, ...]
    contingent_choices: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = ()

    @property
    def field_names(self) -> tuple[str, ...]:
        """Field names in form order."""
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> FieldSpec:
        """The field called `name` (KeyError if the form has none)."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @cached_property
    def last_row(self) -> int:
        """The last worksheet row any field of this form uses."""
        return max(max(cell_position(f.value_cell)[0], cell_position(f.label_cell)[0]) for f in self.fields)


def _load(path: Path) -> FormSchema:
    raw = json.loads(path.read_text(encoding="utf-8"))
    fields = []
    for f in raw["fields"]:
        if f["type"] not in VALUE_TYPES:
            raise ValueError(f"{path.name}: field {f['name']} has unknown type {f['type']!r}")
        choices = tuple(f["choices"]) if f.get("choices") is not None else None
        fields.append(FieldSpec(f["name"], f["label"], f["label_cell"], f["value_cell"], f["type"], choices))
    contingent = tuple(
        (field, tuple((key, tuple(values)) for key, values in table.items()))
        for field, table in raw.get("contingent_choices", {}).items()
    )
    return FormSchema(raw["schema"], raw["sector"], raw["sheet"], tuple(fields), contingent)


@cache
def _registry() -> dict[str, FormSchema]:
    schemas = {}
    for path in sorted(DEFINITIONS.glob("*.json")):
        schema = _load(path)
        schemas[schema.name] = schema
    return schemas


def resolve_schema_name(name: str) -> str:
    """The current name for `name`, following old aliases."""
    return ALIASES.get(name, name)


def get_schema(name: str) -> FormSchema:
    """The schema called `name` (or one of its old aliases); raises `UnknownSchema`."""
    try:
        return _registry()[resolve_schema_name(name)]
    except KeyError:
        raise UnknownSchema(name) from None


def all_schemas() -> tuple[FormSchema, ...]:
    """Every schema the portal accepts, in name order."""
    return tuple(_registry().values())


@cache
def field_labels() -> dict[str, str]:
    """Each field name's question as the forms ask it (from the first schema that has it)."""
    labels: dict[str, str] = {}
    for schema in _registry().values():
        for spec in schema.fields:
            labels.setdefault(spec.name, " ".join(spec.label.split()))
    return labels


def datetime_fields() -> frozenset[str]:
    """The names of the fields that hold a date and time in any form."""
    return frozenset(spec.name for schema in _registry().values() for spec in schema.fields
                     if spec.value_type == "datetime")
