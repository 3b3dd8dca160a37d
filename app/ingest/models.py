"""The portal's tables: incidences, their field-change audit trail, and every upload."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, DateTime, Float, Index, Integer, MetaData, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

FACILITY_LENGTH = 255
# JSONB on PostgreSQL (indexable, compared by value), JSON text elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> dt.datetime:
    """The current time in UTC, timezone-aware."""
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (Alembic needs them)."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Incidence(Base):
    """One notified methane plume; `misc_json` holds all form data, `sector` included."""

    __tablename__ = "incidences"

    id_incidence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    misc_json: Mapped[dict] = mapped_column(JSONDocument, nullable=False, default=dict)
    sector: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    updated_by: Mapped[str | None] = mapped_column(String(255))
    # A copy of misc_json's facility_name, so /incidences can search and list it quickly.
    facility_name: Mapped[str | None] = mapped_column(String(FACILITY_LENGTH))

    __table_args__ = (
        Index("ix_incidences_updated", "updated_at", "id_incidence"),
        Index("ix_incidences_sector_updated", "sector", "updated_at", "id_incidence"),
    )


class PortalUpdate(Base):
    """One changed field of one incidence: who changed it, when, from what to what."""

    __tablename__ = "portal_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    timestamp: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    user: Mapped[str] = mapped_column(String(255), nullable=False)
    comments: Mapped[str | None] = mapped_column(Text)
    id_incidence: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)


class UploadedFile(Base):
    """Every upload, recorded before any processing; `status` says how it ended.

    The record is also the evidence an A/B comparison reads: route, path, why the router
    chose it (`decision_reason`), user, outcome (`status`, `error_type`), `sector`, when
    (`created_at`) and how long the portal took (`duration_seconds`, from the moment it
    began handling the request to the write that settled the record).
    """

    __tablename__ = "uploaded_files"
    # Window queries (the report, the rollout gates): a time range, then route and path.
    # One kept file, one record; the reconciler finds rows by status and age (migration 0005).
    __table_args__ = (
        Index("ix_uploaded_files_window", "created_at", "route", "ingest_path"),
        Index("uq_uploaded_files_path", "path", unique=True),
        Index("ix_uploaded_files_status_updated_at", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    path: Mapped[str | None] = mapped_column(Text)
    original_filename: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    error_type: Mapped[str | None] = mapped_column(String(32))
    route: Mapped[str] = mapped_column(String(16), nullable=False)
    ingest_path: Mapped[str] = mapped_column(String(16), nullable=False)
    user: Mapped[str | None] = mapped_column(String(255))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    id_incidence: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # Parse warnings as `app.ingest.field_warnings` records them (null: none).
    warnings: Mapped[list | None] = mapped_column(JSONDocument)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    sector: Mapped[str | None] = mapped_column(String(100))
    decision_reason: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        # /uploads lists newest first, filtered by status, route or path (keyset on id).
        Index("ix_uploaded_files_status_id", "status", "id"),
        Index("ix_uploaded_files_route_path_id", "route", "ingest_path", "id"),
        Index("ix_uploaded_files_path_id", "ingest_path", "id"),
    )


class HarnessFault(Base):
    """One injected fault for rehearsals (`refactored.direct.error_rate` = 0.3), shared by every
    worker through the database; empty (no fault) unless a rehearsal sets one."""

    __tablename__ = "harness_faults"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    updated_by: Mapped[str | None] = mapped_column(String(255))
