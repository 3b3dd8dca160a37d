"""The result of one experiment: match, mismatch, ignored, error or timeout, decided once."""

from __future__ import annotations

from dataclasses import dataclass, field

from shadow.compare import FieldDiff, diff
from shadow.ignore import ErrorHook, IgnoreRules
from shadow.normalise import normalise
from shadow.observation import Observation

MATCH, MISMATCH, IGNORED, ERROR, TIMEOUT, SKIPPED = "match", "mismatch", "ignored", "error", "timeout", "skipped"
KINDS = (MATCH, MISMATCH, IGNORED, ERROR, TIMEOUT, SKIPPED)


@dataclass(frozen=True)
class Result:
    """Control and candidate observations compared; `kind` and the differences are computed
    in `compare` and never change."""

    route: str
    user: str
    control: Observation
    candidate: Observation
    kind: str
    mismatched: tuple[FieldDiff, ...] = ()
    ignored: tuple[tuple[FieldDiff, str], ...] = field(default=())

    @classmethod
    def compare(cls, route: str, user: str, control: Observation, candidate: Observation, rules: IgnoreRules,
                on_error: ErrorHook | None = None) -> Result:
        """Compare the two observations under `rules` (a raising rule goes to `on_error`)."""
        if candidate.timed_out:
            return cls(route, user, control, candidate, TIMEOUT)
        if candidate.raised or control.raised:
            return cls(route, user, control, candidate, ERROR)
        mismatched, ignored = [], []
        volatile = rules.volatile
        for difference in diff(normalise(control.outcome, volatile), normalise(candidate.outcome, volatile)):
            rule = rules.rule_for(difference, control, candidate, on_error)
            if rule is None:
                mismatched.append(difference)
            else:
                ignored.append((difference, rule.reason))
        kind = MISMATCH if mismatched else IGNORED if ignored else MATCH
        return cls(route, user, control, candidate, kind, tuple(mismatched), tuple(ignored))

    @property
    def fields(self) -> tuple[str, ...]:
        """Names of the mismatched fields."""
        return tuple(d.field for d in self.mismatched)
