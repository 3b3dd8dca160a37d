"""A plan's persisted state and the decisions it records: frozen values, JSON-ready.

Statuses: `running` -> (`paused` <-> `running`) -> `completed` | `rolled_back` | `aborted`.
`step_started_at` is None until the controller has applied the current step's percent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from app.harness.rollout.gates import LatencyBaseline
from app.harness.rollout.plan import Plan

RUNNING, PAUSED, COMPLETED, ROLLED_BACK, ABORTED = "running", "paused", "completed", "rolled_back", "aborted"
ACTIVE = (RUNNING, PAUSED)
STATUSES = (RUNNING, PAUSED, COMPLETED, ROLLED_BACK, ABORTED)


@dataclass(frozen=True)
class RolloutState:
    """Where a plan is: its step, since when, the flag version it last wrote, why paused."""

    plan: Plan
    status: str = RUNNING
    step_index: int = 0
    step_started_at: dt.datetime | None = None
    flag_version: int | None = None
    baseline: LatencyBaseline | None = None
    latency_since: dt.datetime | None = None
    reason: str | None = None
    created_at: dt.datetime | None = None
    created_by: str | None = None
    updated_at: dt.datetime | None = None
    last_evaluation: dict | None = None  # the latest tick's gates, shown by `status`
    id: int | None = None

    @property
    def flag(self) -> str:
        """The plan's flag."""
        return self.plan.flag

    @property
    def percent(self) -> float:
        """The current step's percent."""
        return self.plan.steps[self.step_index]

    @property
    def active(self) -> bool:
        """Running or paused."""
        return self.status in ACTIVE

    def evolve(self, **changes) -> RolloutState:
        """A copy with the changes."""
        return replace(self, **changes)

    def to_dict(self) -> dict:
        """JSON-ready (status --json)."""
        return {"id": self.id, "flag": self.flag, "status": self.status, "step": self.step_index + 1,
                "steps": list(self.plan.steps), "percent": self.percent,
                "step_started_at": _iso(self.step_started_at), "flag_version": self.flag_version,
                "baseline": self.baseline.to_dict() if self.baseline else None,
                "latency_since": _iso(self.latency_since), "reason": self.reason,
                "created_at": _iso(self.created_at), "created_by": self.created_by, "updated_at": _iso(self.updated_at),
                "plan": self.plan.to_dict(), "last_evaluation": self.last_evaluation}


@dataclass(frozen=True)
class Decision:
    """One thing the controller (or a person, through the CLI) did to a plan, and why."""

    flag: str
    at: dt.datetime
    action: str  # start | step | hold | rollback | complete | pause | resume | abort
    step_index: int
    percent: float | None
    reason: str
    actor: str
    evidence: dict = field(default_factory=dict)
    plan_id: int | None = None
    id: int | None = None

    def to_dict(self) -> dict:
        """JSON-ready (history --json)."""
        return {"id": self.id, "plan_id": self.plan_id, "flag": self.flag, "at": _iso(self.at), "action": self.action,
                "step": self.step_index + 1, "percent": self.percent, "reason": self.reason, "actor": self.actor,
                "evidence": self.evidence}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None
