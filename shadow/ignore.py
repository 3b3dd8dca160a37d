"""Accepted differences: a mismatch on a field an ignore rule covers counts as `ignored`.

The rules come from one reviewed file, `app/ingest/parity.py` (`INTENDED_DIFFERENCES`),
the same list the parity tests hold both paths to; each entry names the outcome field,
when it applies and why. Extra rules can be added in code (tests, one-off incidents),
each with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shadow.compare import FieldDiff
from shadow.observation import Observation

ORIGINAL, REFACTORED = "original", "refactored"


@dataclass(frozen=True)
class IgnoreRule:
    """Ignore a difference on `field` when `applies(original outcome, refactored outcome)`."""

    field: str
    reason: str
    applies: Callable[[object, object], bool]

    def covers(self, difference: FieldDiff, control: Observation, candidate: Observation) -> bool:
        """True when this rule accepts `difference` between these two observations."""
        if difference.top != self.field or control.outcome is None or candidate.outcome is None:
            return False
        by_path = {control.path: control.outcome, candidate.path: candidate.outcome}
        if set(by_path) != {ORIGINAL, REFACTORED}:
            return False  # an A/A run accepts no difference
        return bool(self.applies(by_path[ORIGINAL], by_path[REFACTORED]))


class IgnoreRules:
    """An ordered set of rules."""

    def __init__(self, rules: Iterable[IgnoreRule] = ()) -> None:
        self.rules = tuple(rules)

    @classmethod
    def reviewed(cls) -> IgnoreRules:
        """The project's reviewed list (`app/ingest/parity.py`)."""
        from app.ingest.parity import INTENDED_DIFFERENCES

        return cls(IgnoreRule(d.field, d.reason, d.applies) for d in INTENDED_DIFFERENCES)

    def with_rule(self, rule: IgnoreRule) -> IgnoreRules:
        """A copy with one more rule."""
        return IgnoreRules((*self.rules, rule))

    def rule_for(self, difference: FieldDiff, control: Observation, candidate: Observation) -> IgnoreRule | None:
        """The first rule covering `difference`, if any."""
        return next((r for r in self.rules if r.covers(difference, control, candidate)), None)
