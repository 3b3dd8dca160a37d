"""What can go wrong with rollout plans, in one tree:

    RolloutError                 anything the rollout controller refuses, with the flag it concerns
    ├── PlanInvalid              a plan that cannot run: unknown flag, steps not increasing, bad bake...
    ├── PlanConflict             a plan is already running (or paused) for that flag
    ├── NoPlan                   no running or paused plan for that flag
    └── PlanStateError           the plan's state does not allow it (resume a plan that is not paused...)
"""

from __future__ import annotations


class RolloutError(Exception):
    """A rollout operation refused; `flag` says which."""

    def __init__(self, flag: str | None, message: str) -> None:
        super().__init__(message)
        self.flag = flag
        self.message = message


class PlanInvalid(RolloutError):
    """The plan cannot run as given."""


class PlanConflict(RolloutError):
    """Another plan is already active on the flag."""


class NoPlan(RolloutError):
    """No active plan on the flag."""


class PlanStateError(RolloutError):
    """The plan's state does not allow this operation."""
