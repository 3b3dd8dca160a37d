"""Writing a benchmark's figures: JSON for machines, Markdown for people, and the console."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def publish(out: str | Path, figures: dict[str, Any], markdown: str) -> None:
    """Write `out` (JSON, with the machine) and its `.md` twin, and print the Markdown."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figures.setdefault("machine", machine())
    out.write_text(json.dumps(figures, indent=2, default=str))
    out.with_suffix(".md").write_text(markdown + "\n")
    print(markdown)
    print(f"\nwritten to {out} and {out.with_suffix('.md')}")
