"""The ARB feedback-form schemas: which cell holds which field, of which type.

Definitions live in `definitions/<schema>.json` (this project's format, derived once from
the ARB reference files by `tools/import_arb_forms.py`).
"""

from app.forms.schema import (
    FieldSpec,
    FormSchema,
    UnknownSchema,
    all_schemas,
    datetime_fields,
    field_labels,
    get_schema,
    resolve_schema_name,
)

__all__ = ["FieldSpec", "FormSchema", "UnknownSchema", "all_schemas", "datetime_fields", "field_labels", "get_schema", "resolve_schema_name"]
