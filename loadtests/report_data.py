"""Fill a portal database with simulated upload records, fast: SQLite through one
`executemany`, PostgreSQL through `COPY`. Used by the report benchmark and the report's tests."""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
from sqlalchemy.engine import Engine

COLUMNS = ("original_filename", "status", "error_type", "route", "ingest_path", "user", "created_at", "updated_at",
           "duration_seconds", "sector", "decision_reason")


def _timestamps(epoch: np.ndarray) -> list[str]:
    """UTC text as SQLAlchemy writes it on SQLite (and PostgreSQL accepts with a zone)."""
    micro = np.round(epoch * 1e6).astype("int64").astype("datetime64[us]")
    return [s.replace("T", " ") for s in np.datetime_as_string(micro, unit="us")]


def _rows(columns: Mapping[str, np.ndarray]):
    stamps = _timestamps(columns["at"])
    return zip(("form.xlsx",) * len(stamps), columns["status"], columns["error_type"], columns["route"],
               columns["path"], columns["user"], stamps, stamps, columns["duration"].tolist(), columns["sector"],
               columns["reason"])


def fill_uploads(engine: Engine, columns: Mapping[str, np.ndarray]) -> int:
    """Insert simulated uploads (`app.harness.analysis.simulate` columns); returns how many."""
    n = len(columns["at"])
    names = ", ".join(f'"{c}"' for c in COLUMNS)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            buffer = io.StringIO()
            for row in _rows(columns):
                buffer.write("\t".join("\\N" if v is None else (f"{v}+00" if i in (6, 7) else str(v))
                                       for i, v in enumerate(row)))
                buffer.write("\n")
            with cursor.copy(f"COPY uploaded_files ({names}) FROM STDIN") as copy:
                copy.write(buffer.getvalue())
            cursor.execute("ANALYZE uploaded_files")
        else:
            marks = ", ".join("?" * len(COLUMNS))
            cursor.executemany(f"INSERT INTO uploaded_files ({names}) VALUES ({marks})", _rows(columns))
            cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return n
