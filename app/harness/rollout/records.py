"""The rollout tables (created by migration 0004):

- `rollout_plans`: one row per plan, its parameters and its current state (status, step,
  since when, the flag version the controller last wrote, the latency baseline, the latest
  evaluation). At most one active (running or paused) plan per flag: a partial unique index.
- `rollout_decisions`: every decision with its evidence (gates, figures, statistics,
  sample sizes, window, source), append-only.
- `rollout_lease`: one row; the controller holding it (until `expires_at`) is the one that acts.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text, text

metadata = MetaData()

ACTIVE_WHERE = text("status IN ('running', 'paused')")

plans = Table(
    "rollout_plans", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("flag", String(64), nullable=False),
    Column("plan", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("step_index", Integer, nullable=False),
    Column("step_started_at", DateTime(timezone=True)),
    Column("flag_version", Integer),
    Column("baseline", JSON),
    Column("latency_since", DateTime(timezone=True)),
    Column("reason", Text),
    Column("last_evaluation", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(255)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ux_rollout_plans_active_flag", plans.c.flag, unique=True,
      sqlite_where=ACTIVE_WHERE, postgresql_where=ACTIVE_WHERE)
Index("ix_rollout_plans_flag_created", plans.c.flag, plans.c.created_at)

decisions = Table(
    "rollout_decisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan_id", Integer, ForeignKey("rollout_plans.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("flag", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("action", String(16), nullable=False),
    Column("step_index", Integer, nullable=False),
    Column("percent", Float),
    Column("reason", Text, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("evidence", JSON, nullable=False),
)

lease = Table(
    "rollout_lease", metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(255)),
    Column("acquired_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
)

LEASE_NAME = "controller"
