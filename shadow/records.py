"""Mismatch records: every mismatch kept in the database, with counts per field.

Tables (created by the store if missing, in the portal's database):
`shadow_mismatches` (one row per mismatched run: time, route, control and candidate path,
user, incidence, the differing fields with both values, truncated) and
`shadow_mismatch_fields` (one row per differing field, for counts per field).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    desc,
    func,
    insert,
    select,
)

from shadow.result import Result

MAX_VALUE_CHARS = 500
metadata = MetaData()
mismatches = Table(
    "shadow_mismatches", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("route", String(16), nullable=False),
    Column("control_path", String(16), nullable=False),
    Column("candidate_path", String(16), nullable=False),
    Column("user", String(255)),
    Column("id_incidence", BigInteger),
    Column("differences", JSON, nullable=False),
)
mismatch_fields = Table(
    "shadow_mismatch_fields", metadata,
    Column("mismatch_id", Integer, ForeignKey("shadow_mismatches.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("route", String(16), nullable=False),
    Column("field", String(255), nullable=False, index=True),
)


def truncate(value: Any) -> Any:
    """A value as stored: JSON scalars as they are, long text and documents cut to 500 characters."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + f"... ({len(text)} characters)"


@dataclass(frozen=True)
class MismatchRecord:
    """One stored mismatch."""

    id: int
    at: dt.datetime
    route: str
    control_path: str
    candidate_path: str
    user: str | None
    id_incidence: int | None
    differences: list[dict]

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"id": self.id, "at": self.at.isoformat(), "route": self.route, "control_path": self.control_path,
                "candidate_path": self.candidate_path, "user": self.user, "id_incidence": self.id_incidence,
                "differences": self.differences}


class MismatchStore:
    """Stores mismatches and answers summaries; `record` is a shadow-runner publisher."""

    def __init__(self, engine: Engine | str, clock=lambda: dt.datetime.now(dt.timezone.utc)) -> None:
        self._owns_engine = isinstance(engine, str)
        self.engine = create_engine(engine) if isinstance(engine, str) else engine
        self._clock = clock
        try:
            metadata.create_all(self.engine, checkfirst=True)
        except Exception:  # noqa: BLE001 - another worker created them first, or the database is down
            pass  # writes fail loudly later if the tables really are missing

    def close(self) -> None:
        """Release pooled connections (only for a store that made its own engine)."""
        if self._owns_engine:
            self.engine.dispose()

    def record(self, result: Result) -> int | None:
        """Keep `result` if it is a mismatch; returns the record id."""
        if result.kind != "mismatch":
            return None
        outcome = result.control.outcome
        differences = [{"field": d.field, "control": truncate(d.control), "candidate": truncate(d.candidate)}
                       for d in result.mismatched]
        with self.engine.begin() as conn:
            record_id = conn.execute(insert(mismatches).values(
                at=self._clock(), route=result.route, control_path=result.control.path,
                candidate_path=result.candidate.path, user=(result.user or "")[:255],
                id_incidence=getattr(outcome, "id_incidence", None), differences=differences,
            )).inserted_primary_key[0]
            conn.execute(insert(mismatch_fields), [
                {"mismatch_id": record_id, "route": result.route, "field": d.field[:255]} for d in result.mismatched
            ])
        return record_id

    def summary(self, route: str | None = None) -> dict:
        """Total mismatches and counts per field, most frequent first."""
        with self.engine.connect() as conn:
            total_query = select(func.count()).select_from(mismatches)
            field_query = (select(mismatch_fields.c.field, func.count().label("n"))
                           .group_by(mismatch_fields.c.field).order_by(desc("n"), mismatch_fields.c.field))
            if route:
                total_query = total_query.where(mismatches.c.route == route)
                field_query = field_query.where(mismatch_fields.c.route == route)
            total = conn.execute(total_query).scalar_one()
            by_field = [{"field": f, "count": n} for f, n in conn.execute(field_query)]
            last = conn.execute(select(func.max(mismatches.c.at))).scalar_one()
        return {"mismatches": total, "by_field": by_field, "last_at": last.isoformat() if last else None}

    def recent(self, limit: int = 20, route: str | None = None) -> list[MismatchRecord]:
        """The newest mismatches first."""
        query = select(mismatches).order_by(mismatches.c.id.desc()).limit(max(1, min(limit, 1000)))
        if route:
            query = query.where(mismatches.c.route == route)
        with self.engine.connect() as conn:
            return [MismatchRecord(**row._mapping) for row in conn.execute(query)]

    def get(self, record_id: int) -> MismatchRecord | None:
        """One mismatch in full, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(mismatches).where(mismatches.c.id == record_id)).first()
        return None if row is None else MismatchRecord(**row._mapping)
