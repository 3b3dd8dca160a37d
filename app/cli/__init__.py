"""The `harness` command line, one module per command group:

    harness serve                 migrate, then run gunicorn on HARNESS_HOST:HARNESS_PORT  (serve.py)
    harness db upgrade            bring the database schema up to date                    (db.py)
    harness generate ...          write feedback-form workbooks                           (generate.py)
    harness flags ... / rollback  feature flags, the kill switch, rollback everything     (flags.py)
    harness shadow ...            shadow-run mismatches                                   (shadow.py)
    harness guard ...             the kill-only rollback guard                            (guard.py)
    harness report ...            the A/B comparison report with a verdict                (report.py)
    harness rollout ...           staged rollout plans and their controller               (rollout.py)
    harness rehearse              load, a plan, an injected regression, the rollback      (rehearse.py)
    harness uploads ...           reconcile upload records, retry interrupted uploads      (uploads.py)
"""

from __future__ import annotations

import click

from app.cli.db import db_group
from app.cli.flags import flags_group, rollback_command
from app.cli.generate import generate_command
from app.cli.guard import guard_command
from app.cli.report import report_command
from app.cli.rehearse import rehearse_command
from app.cli.rollout import rollout_group
from app.cli.serve import serve_command
from app.cli.shadow import shadow_group
from app.cli.uploads import uploads_group

COMMANDS = (serve_command, db_group, generate_command, flags_group, rollback_command, shadow_group, guard_command,
            report_command, rollout_group, rehearse_command, uploads_group)


@click.group()
def main() -> None:
    """ARB upload-ingestion migration harness."""


for _command in COMMANDS:
    main.add_command(_command)
