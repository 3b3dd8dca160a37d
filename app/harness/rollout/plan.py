"""A rollout plan: the steps a flag goes through, how long each bakes, what must hold.

    Plan(flag="refactored_upload", steps=(25, 50, 75, 100), bake_s=7200, min_uploads=200)

Frozen and validated in its constructor. The false-rollback budget `alpha` is split evenly
over every (tested step, statistical gate) pair (Bonferroni), so the chance that a healthy
rollout is rolled back anywhere in the plan stays at or below `alpha`. The last step, 100%,
is not tested: no original traffic is left to compare with, so reaching it completes the plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.harness.names import ROUTE_FLAGS
from app.harness.rollout.errors import PlanInvalid

GATES = ("errors", "latency", "srm", "shadow")
STATISTICAL_GATES = ("errors", "latency", "srm")  # the shadow gate is a fixed budget, not a test
ROLLBACK_MODES = ("kill", "step_back")
DEFAULT_STEPS = (25.0, 50.0, 75.0, 100.0)
FLAG_ROUTES = {flag: route for route, flag in ROUTE_FLAGS.items()}


@dataclass(frozen=True)
class Plan:
    """Steps, bake time, data needed per step, gates, and what a failing gate does."""

    flag: str
    steps: tuple[float, ...] = DEFAULT_STEPS
    bake_s: float = 7200.0
    min_uploads: int = 200
    gates: tuple[str, ...] = GATES
    rollback: str = "kill"
    alpha: float = 0.05
    error_margin: float = 0.05  # the roadmap's trigger: the observed gap must exceed this to roll back
    error_tolerance: float = 0.0  # the test's null: refactored no worse than original (A/A is the null; see docs/rollout.md)
    latency_ratio: float = 1.2  # refactored p95 may be this much above original's
    shadow_max_rate: float = 0.01  # mismatches per shadowed upload tolerated
    settle_s: float = 3.0  # after a percent change, while every worker picks it up (<= 1 s measured)
    baseline_s: float = 3600.0  # original uploads before a step that fix its latency threshold
    tau_errors: float = 0.10  # mixture spread: tau^2 = V(z^2 - 1) at the 25% step's first minute (docs/rollout.md)
    tau_latency: float = 0.15
    epoch_s: float = 600.0  # the errors and latency tests also run on each 10-minute epoch alone
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.flag not in FLAG_ROUTES:
            raise PlanInvalid(self.flag, f"unknown flag {self.flag!r}: plans run on {', '.join(FLAG_ROUTES)}")
        steps = tuple(float(s) for s in self.steps)
        object.__setattr__(self, "steps", steps)
        if not steps:
            raise PlanInvalid(self.flag, "a plan needs at least one step")
        if any(not 0 < s <= 100 for s in steps):
            raise PlanInvalid(self.flag, f"steps must be percents in (0, 100]: {format_steps(steps)}")
        if any(b <= a for a, b in zip(steps, steps[1:])):
            raise PlanInvalid(self.flag, f"steps must increase: {format_steps(steps)}")
        if self.bake_s < 0:
            raise PlanInvalid(self.flag, "bake time must not be negative")
        if self.min_uploads < 1:
            raise PlanInvalid(self.flag, "min uploads must be at least 1")
        unknown = [g for g in self.gates if g not in GATES]
        if unknown:
            raise PlanInvalid(self.flag, f"unknown gate(s) {', '.join(unknown)}: gates are {', '.join(GATES)}")
        if self.rollback not in ROLLBACK_MODES:
            raise PlanInvalid(self.flag, f"rollback must be one of {', '.join(ROLLBACK_MODES)}")
        if self.epoch_s <= 0:
            raise PlanInvalid(self.flag, "epoch must be positive")
        if not 0 < self.alpha < 1:
            raise PlanInvalid(self.flag, "alpha must be between 0 and 1")

    @property
    def route(self) -> str:
        """The upload route this flag chooses the path for."""
        return FLAG_ROUTES[self.flag]

    @property
    def tested_steps(self) -> int:
        """Steps below 100%, where both paths serve and can be compared."""
        return sum(1 for s in self.steps if s < 100)

    @property
    def alpha_per_test(self) -> float:
        """alpha / (tested steps x statistical gates in the plan)."""
        tests = max(1, self.tested_steps) * max(1, sum(1 for g in self.gates if g in STATISTICAL_GATES))
        return self.alpha / tests

    def to_dict(self) -> dict:
        """The plan's parameters, JSON-ready."""
        return {"flag": self.flag, "steps": list(self.steps), "bake_s": self.bake_s, "min_uploads": self.min_uploads,
                "gates": list(self.gates), "rollback": self.rollback, "alpha": self.alpha,
                "error_margin": self.error_margin, "error_tolerance": self.error_tolerance, "latency_ratio": self.latency_ratio,
                "shadow_max_rate": self.shadow_max_rate, "settle_s": self.settle_s, "baseline_s": self.baseline_s,
                "tau_errors": self.tau_errors, "tau_latency": self.tau_latency, "epoch_s": self.epoch_s}

    @classmethod
    def from_dict(cls, data: dict) -> Plan:
        """Rebuild a plan from `to_dict` output."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "extra"}
        known["steps"] = tuple(known.get("steps", DEFAULT_STEPS))
        known["gates"] = tuple(known.get("gates", GATES))
        return cls(**known)


def format_steps(steps) -> str:
    """`25,50,75,100`."""
    return ",".join(f"{s:g}" for s in steps)


def parse_steps(text: str, flag: str | None = None) -> tuple[float, ...]:
    """`25,50,75,100` -> (25.0, 50.0, 75.0, 100.0); a clear PlanInvalid otherwise."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise PlanInvalid(flag, f"steps must be comma-separated percents, e.g. 25,50,75,100 (got {text!r})") from None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(text: str) -> float:
    """`2h`, `30m`, `45s`, `1.5d`, `90` (seconds) -> seconds."""
    match = _DURATION.match(str(text))
    if not match:
        raise PlanInvalid(None, f"a duration is a number with an optional unit ms, s, m, h or d (got {text!r})")
    return float(match.group(1)) * _UNITS[match.group(2)]
