"""Where plans, their state, their decisions and the controller lease live.

`SqlStore` keeps them in the portal's database (the tables of `records.py`, migration
0004), so every worker and instance sees one truth and a controller that dies loses
nothing. `MemoryStore` is the same contract in a dict, for simulations.

The lease is one row: a controller acquires it with one conditional UPDATE (free, expired,
or already its own) and renews it on every tick; only the holder acts.
"""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import Engine, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.harness.rollout import records as r
from app.harness.rollout.errors import NoPlan, PlanConflict
from app.harness.rollout.gates import LatencyBaseline
from app.harness.rollout.plan import Plan
from app.harness.rollout.state import ACTIVE, RUNNING, Decision, RolloutState


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _baseline(data: dict | None) -> LatencyBaseline | None:
    return LatencyBaseline(**data) if data else None


class SqlStore:
    """Plans, decisions and the lease in the portal's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- plans --------------------------------------------------------------------------

    def create(self, plan: Plan, now: dt.datetime, actor: str) -> RolloutState:
        """Persist a new running plan; PlanConflict when the flag already has an active one."""
        state = RolloutState(plan=plan, status=RUNNING, created_at=now, created_by=actor, updated_at=now)
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(r.plans.c.id).where(r.plans.c.flag == plan.flag,
                                                           r.plans.c.status.in_(ACTIVE))).first():
                    raise PlanConflict(plan.flag, f"a plan is already active on {plan.flag}: see `harness rollout "
                                       f"status {plan.flag}`; abort it first")
                plan_id = conn.execute(insert(r.plans).values(**self._row(state))).inserted_primary_key[0]
                state = state.evolve(id=plan_id)
                conn.execute(insert(r.decisions).values(**self._decision_row(Decision(
                    plan.flag, now, "start", 0, None, f"plan started by {actor}: steps "
                    + ",".join(f"{s:g}" for s in plan.steps), actor, {"plan": plan.to_dict()}, plan_id))))
        except IntegrityError:  # the partial unique index: another start won the race
            raise PlanConflict(plan.flag, f"a plan is already active on {plan.flag}") from None
        return state

    def active_plans(self) -> list[RolloutState]:
        """Running and paused plans, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(r.plans).where(r.plans.c.status.in_(ACTIVE)).order_by(r.plans.c.id)).mappings()
            return [self._state(row) for row in rows]

    def latest(self, flag: str) -> RolloutState | None:
        """The flag's newest plan, active or not."""
        with self.engine.connect() as conn:
            row = conn.execute(select(r.plans).where(r.plans.c.flag == flag).order_by(r.plans.c.id.desc())
                               .limit(1)).mappings().first()
            return self._state(row) if row else None

    def active(self, flag: str) -> RolloutState:
        """The flag's active plan; NoPlan when there is none."""
        with self.engine.connect() as conn:
            row = conn.execute(select(r.plans).where(r.plans.c.flag == flag, r.plans.c.status.in_(ACTIVE))).mappings().first()
        if row is None:
            raise NoPlan(flag, f"no running or paused plan on {flag} (`harness rollout start {flag}` starts one)")
        return self._state(row)

    def save(self, state: RolloutState, decision: Decision | None) -> None:
        """Write the plan's state and, if given, append the decision, in one transaction."""
        with self.engine.begin() as conn:
            values = self._row(state)
            values.pop("created_at", None)
            conn.execute(update(r.plans).where(r.plans.c.id == state.id).values(**values))
            if decision is not None:
                conn.execute(insert(r.decisions).values(**self._decision_row(decision, state.id)))

    def decisions(self, flag: str, limit: int = 50, plan_id: int | None = None) -> list[Decision]:
        """The flag's decisions, newest first."""
        query = select(r.decisions).where(r.decisions.c.flag == flag)
        if plan_id is not None:
            query = query.where(r.decisions.c.plan_id == plan_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(r.decisions.c.id.desc()).limit(limit)).mappings()
            return [Decision(row["flag"], _utc(row["at"]), row["action"], row["step_index"], row["percent"], row["reason"],
                             row["actor"], row["evidence"] or {}, row["plan_id"], row["id"]) for row in rows]

    # -- the lease ----------------------------------------------------------------------

    def acquire_lease(self, holder: str, now: dt.datetime, ttl_s: float) -> bool:
        """Take or renew the lease until now + ttl; False when another live holder has it."""
        c = r.lease.c
        with self.engine.begin() as conn:
            result = conn.execute(update(r.lease).where(
                c.name == r.LEASE_NAME, or_(c.holder.is_(None), c.holder == holder, c.expires_at < now))
                .values(holder=holder, expires_at=now + dt.timedelta(seconds=ttl_s),
                        acquired_at=_acquired(c, holder, now)))
            if result.rowcount == 0 and conn.execute(select(c.name).where(c.name == r.LEASE_NAME)).first() is None:
                conn.execute(insert(r.lease).values(name=r.LEASE_NAME, holder=holder, acquired_at=now,
                                                    expires_at=now + dt.timedelta(seconds=ttl_s)))
                return True
            return result.rowcount == 1

    def release_lease(self, holder: str) -> None:
        """Give the lease up if held (a clean shutdown)."""
        with self.engine.begin() as conn:
            conn.execute(update(r.lease).where(and_(r.lease.c.name == r.LEASE_NAME, r.lease.c.holder == holder))
                         .values(holder=None, expires_at=None))

    def lease(self) -> dict:
        """Who holds the lease and until when."""
        with self.engine.connect() as conn:
            row = conn.execute(select(r.lease).where(r.lease.c.name == r.LEASE_NAME)).mappings().first()
        if row is None:
            return {"holder": None, "acquired_at": None, "expires_at": None}
        return {"holder": row["holder"], "acquired_at": _iso(_utc(row["acquired_at"])),
                "expires_at": _iso(_utc(row["expires_at"]))}

    # -- rows ---------------------------------------------------------------------------

    @staticmethod
    def _row(state: RolloutState) -> dict:
        return {"flag": state.flag, "plan": state.plan.to_dict(), "status": state.status, "step_index": state.step_index,
                "step_started_at": state.step_started_at, "flag_version": state.flag_version,
                "baseline": state.baseline.to_dict() if state.baseline else None, "latency_since": state.latency_since,
                "reason": state.reason, "last_evaluation": state.last_evaluation, "created_at": state.created_at,
                "created_by": state.created_by, "updated_at": state.updated_at or state.created_at}

    @staticmethod
    def _state(row) -> RolloutState:
        return RolloutState(plan=Plan.from_dict(row["plan"]), status=row["status"], step_index=row["step_index"],
                            step_started_at=_utc(row["step_started_at"]), flag_version=row["flag_version"],
                            baseline=_baseline(row["baseline"]), latency_since=_utc(row["latency_since"]),
                            reason=row["reason"], created_at=_utc(row["created_at"]), created_by=row["created_by"],
                            updated_at=_utc(row["updated_at"]), last_evaluation=row["last_evaluation"], id=row["id"])

    @staticmethod
    def _decision_row(decision: Decision, plan_id: int | None = None) -> dict:
        return {"plan_id": plan_id if plan_id is not None else decision.plan_id, "flag": decision.flag, "at": decision.at,
                "action": decision.action, "step_index": decision.step_index, "percent": decision.percent,
                "reason": decision.reason, "actor": decision.actor, "evidence": decision.evidence}


def _acquired(c, holder: str, now: dt.datetime):
    from sqlalchemy import case

    return case((c.holder == holder, c.acquired_at), else_=now)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


class MemoryStore:
    """The same contract in memory (simulations; one process)."""

    def __init__(self) -> None:
        self._plans: dict[int, RolloutState] = {}
        self._decisions: list[Decision] = []
        self._ids = itertools.count(1)
        self._lease: tuple[str | None, dt.datetime | None] = (None, None)

    def create(self, plan: Plan, now: dt.datetime, actor: str) -> RolloutState:
        """See SqlStore.create."""
        if any(s.flag == plan.flag and s.active for s in self._plans.values()):
            raise PlanConflict(plan.flag, f"a plan is already active on {plan.flag}")
        state = RolloutState(plan=plan, created_at=now, created_by=actor, updated_at=now, id=next(self._ids))
        self._plans[state.id] = state
        self._decisions.append(Decision(plan.flag, now, "start", 0, None, f"plan started by {actor}", actor, {}, state.id))
        return state

    def active_plans(self) -> list[RolloutState]:
        """See SqlStore.active_plans."""
        return [s for s in self._plans.values() if s.active]

    def latest(self, flag: str) -> RolloutState | None:
        """See SqlStore.latest."""
        found = [s for s in self._plans.values() if s.flag == flag]
        return found[-1] if found else None

    def active(self, flag: str) -> RolloutState:
        """See SqlStore.active."""
        for state in self._plans.values():
            if state.flag == flag and state.active:
                return state
        raise NoPlan(flag, f"no running or paused plan on {flag}")

    def save(self, state: RolloutState, decision: Decision | None) -> None:
        """See SqlStore.save."""
        self._plans[state.id] = state
        if decision is not None:
            self._decisions.append(decision)

    def decisions(self, flag: str, limit: int = 50, plan_id: int | None = None) -> list[Decision]:
        """See SqlStore.decisions."""
        found = [d for d in self._decisions if d.flag == flag and (plan_id is None or d.plan_id == plan_id)]
        return list(reversed(found))[:limit]

    def acquire_lease(self, holder: str, now: dt.datetime, ttl_s: float) -> bool:
        """See SqlStore.acquire_lease."""
        current, expires = self._lease
        if current in (None, holder) or expires is None or expires < now:
            self._lease = (holder, now + dt.timedelta(seconds=ttl_s))
            return True
        return False

    def release_lease(self, holder: str) -> None:
        """See SqlStore.release_lease."""
        if self._lease[0] == holder:
            self._lease = (None, None)

    def lease(self) -> dict:
        """See SqlStore.lease."""
        return {"holder": self._lease[0], "expires_at": _iso(self._lease[1])}
