"""`flags/` stays free of Flask and of the `app` package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_every_flags_module_loads_neither_flask_nor_app():
    code = (
        "import sys, flags, flags.sql_store, flags.redis_store\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'app', 'werkzeug'))\n"
        "assert not leaked, leaked\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
