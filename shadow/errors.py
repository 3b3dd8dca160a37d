"""What can go wrong inside a shadow run (never reaching the user).

    ShadowError                     base; carries the route and the candidate path
    ├── CandidateTimeout            the candidate did not finish within the run's timeout
    └── ShadowSkipped               the run was not started (pool and queue full, closed)

An exception raised by the candidate itself is not wrapped: it is stored on the
candidate's `Observation` and makes the result `error`.
"""

from __future__ import annotations


class ShadowError(Exception):
    """Base of the shadow runner's own errors."""

    def __init__(self, message: str, route: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.route = route
        self.path = path


class CandidateTimeout(ShadowError):
    """The candidate path ran past its timeout."""


class ShadowSkipped(ShadowError):
    """The run was shed (queue full) or the runner is closed."""
