"""Simulated upload records for tests, calibration and benchmarks: users split by a
rollout percent, each path with its own error rates and latency. Pure; the generator
comes in, time is given, nothing sleeps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.ingest.outcome import ORIGINAL, REFACTORED

SECTORS = ("Energy", "Landfill", "Oil & Gas", "Dairy", "Generic")


@dataclass(frozen=True)
class PathBehaviour:
    """How one simulated path behaves."""

    server_error_rate: float = 0.01
    client_error_rate: float = 0.05
    median_seconds: float = 0.05
    spread: float = 0.5  # sigma of the log-normal duration


@dataclass(frozen=True)
class Scenario:
    """A window of simulated traffic on one route."""

    uploads: int
    percent: float = 50.0
    users: int = 2_000
    original: PathBehaviour = PathBehaviour()
    refactored: PathBehaviour = PathBehaviour()
    route: str = "direct"
    start: float = 1_780_000_000.0
    seconds: float = 3600.0
    # Share of users whose split is forced to one path regardless of the percent (an SRM).
    skew: float = 0.0


def simulate(scenario: Scenario, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Columns (`samples.COLUMNS` names) of `scenario.uploads` simulated uploads."""
    s = scenario
    slot = rng.random(s.users)
    on_refactored = slot < s.percent / 100.0
    if s.skew:
        on_refactored |= rng.random(s.users) < s.skew
    who = rng.integers(0, s.users, s.uploads)
    refactored = on_refactored[who]
    path = np.where(refactored, REFACTORED, ORIGINAL).astype(object)
    server = np.where(refactored, s.refactored.server_error_rate, s.original.server_error_rate)
    client = np.where(refactored, s.refactored.client_error_rate, s.original.client_error_rate)
    draw = rng.random(s.uploads)
    status = np.where(draw < server, "failed", np.where(draw < server + client, "failed", "processed")).astype(object)
    error_type = np.where(draw < server, "processing_error",
                          np.where(draw < server + client, "validation_error", None)).astype(object)
    median = np.where(refactored, s.refactored.median_seconds, s.original.median_seconds)
    spread = np.where(refactored, s.refactored.spread, s.original.spread)
    duration = median * np.exp(rng.standard_normal(s.uploads) * spread)
    users = np.array([f"user-{i}" for i in range(s.users)], dtype=object)
    return {
        "at": np.sort(s.start + rng.random(s.uploads) * s.seconds),
        "route": np.full(s.uploads, s.route, dtype=object),
        "path": path,
        "status": status,
        "error_type": error_type,
        "duration": duration,
        "sector": np.array(SECTORS, dtype=object)[rng.integers(0, len(SECTORS), s.uploads)],
        "user": users[who],
        "reason": np.where(refactored, "percentage", "off").astype(object),
    }
