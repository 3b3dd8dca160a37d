"""The admin pages of features built beside this one: the rollout controller and the A/B reports.

Each slot is a small function the page calls. While its module has not landed it answers
`Missing` and the page says "not available yet"; when the module is there but not wired
here it says so too. Wiring a slot is the integrator's few lines inside these functions:
read the module's state and return a `Panel` of plain rows (the templates render any).

    rollout:  app.harness.rollout  (issue 12: plans, current step, bake left, gates, pause/resume/abort)
    reports:  app.harness.analysis (issue 11: the latest A/B report, make a new one)
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

__all__ = ["MODULES", "Missing", "Panel", "reports_panel", "rollout_panel"]

MODULES = {"rollout": "app.harness.rollout", "reports": "app.harness.analysis"}


@dataclass(frozen=True)
class Missing:
    """A slot whose feature is not there yet (or not wired to the page)."""

    module: str
    landed: bool = False


@dataclass(frozen=True)
class Panel:
    """What a wired slot shows: a heading per section, rows of (label, value), and actions."""

    sections: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    actions: tuple[tuple[str, str], ...] = field(default=())  # (label, POST URL): buttons for writers


def _landed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def rollout_panel() -> Panel | Missing:
    """The rollout controller's plans and state, or `Missing`."""
    module = MODULES["rollout"]
    # Wiring point: when app.harness.rollout lands, build a Panel from its status here.
    return Missing(module, landed=_landed(module))


def reports_panel() -> Panel | Missing:
    """The latest A/B report and how to make a new one, or `Missing`."""
    module = MODULES["reports"]
    # Wiring point: when app.harness.analysis lands, build a Panel from the latest report here.
    return Missing(module, landed=_landed(module))
