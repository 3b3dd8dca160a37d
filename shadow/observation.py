"""One path's run in an experiment: its outcome or its exception, and how long it took."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Observation:
    """Immutable: the path, what it returned (or raised), and its monotonic duration."""

    path: str
    outcome: object | None = None
    exception: BaseException | None = None
    duration: float = 0.0
    timed_out: bool = False

    @property
    def raised(self) -> bool:
        """True when the path raised instead of returning an outcome."""
        return self.exception is not None


def observe(path: str, run: Callable[[], object], clock: Callable[[], float] = time.monotonic) -> Observation:
    """Run `run`, timing it; an exception is stored on the observation, not raised."""
    started = clock()
    try:
        outcome = run()
    except Exception as exc:  # the candidate's failure is data for the experiment
        return Observation(path, None, exc, clock() - started)
    return Observation(path, outcome, None, clock() - started)
