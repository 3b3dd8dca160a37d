"""Outcomes reduced to what two paths must agree on, with the caller's volatile fields removed.

The caller names the fields that differ between any two runs by construction (the app's
list lives in `app/ingest/parity.py`, each with its reason); nothing else is dropped.
What stays, for the portal: success, error type and code and message, incidence id,
sector, parsed payload, warnings, and the persistence effect.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import fields
from typing import Any


def normalise(outcome: Any, volatile: Collection[str] = ()) -> dict[str, Any]:
    """A plain dict of the outcome's comparable fields; field changes become a sorted list."""
    data = {}
    for f in fields(outcome):
        if f.name in volatile:
            continue
        value = getattr(outcome, f.name)
        if f.name == "changes":
            value = sorted(([c.key, c.old, c.new] for c in value), key=lambda c: c[0])
        elif f.name == "warnings":
            value = [str(w) for w in value]  # the text each warning reads as
        data[f.name] = value
    return data
