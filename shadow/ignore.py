"""What a comparison leaves out: volatile fields, and accepted differences by rule.

Both come from the caller (for the portal, the one reviewed file `app/ingest/parity.py`,
which the parity tests read too): `volatile` names fields that differ between any two
runs by construction and are never compared; each `IgnoreRule` accepts a difference on
one field when its predicate holds, with its reason. A mismatch a rule covers counts as
`ignored`. A rule that raises covers nothing (the difference stays a mismatch) and the
error goes to the caller's error hook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from shadow.compare import FieldDiff
from shadow.observation import Observation

ORIGINAL, REFACTORED = "original", "refactored"
ErrorHook = Callable[[str, BaseException], None]


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
    """An ordered set of rules, plus the volatile fields (name -> why) never compared."""

    def __init__(self, rules: Iterable[IgnoreRule] = (), volatile: Mapping[str, str] | None = None) -> None:
        self.rules = tuple(rules)
        self.volatile = MappingProxyType(dict(volatile or {}))

    def with_rule(self, rule: IgnoreRule) -> IgnoreRules:
        """A copy with one more rule."""
        return IgnoreRules((*self.rules, rule), self.volatile)

    def rule_for(self, difference: FieldDiff, control: Observation, candidate: Observation,
                 on_error: ErrorHook | None = None) -> IgnoreRule | None:
        """The first rule covering `difference`, if any; a raising rule is reported and skipped."""
        for rule in self.rules:
            try:
                if rule.covers(difference, control, candidate):
                    return rule
            except Exception as exc:  # noqa: BLE001 - a broken rule must not lose the diff
                if on_error is not None:
                    on_error("ignore", exc)
        return None
