"""`harness serve`: migrate, prepare the folders, then run the portal under gunicorn."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from app.cli.common import settings as load


def _reconcile_at_start(settings, database, files) -> None:
    """One reconcile pass before the workers start (the workers then run one periodically)."""
    from app.compose import open_reconciler, workbook_limits
    from app.ingest.context import IngestContext

    report = open_reconciler(settings, IngestContext(database, files, workbook_limits(settings))).run_once()
    if report is not None:
        click.echo(f"  reconciled: {len(report.journals_recorded)} journalled file(s) recorded, "
                   f"{len(report.interrupted)} upload(s) interrupted, {len(report.fixed)} record(s) fixed; "
                   f"{report.interrupted_now} interrupted in all (harness uploads interrupted)")


@click.command("serve")
@click.option("--workers", type=int, default=None, help="gunicorn worker processes (default HARNESS_WORKERS)")
def serve_command(workers: int | None) -> None:
    """Migrate the database, prepare the folders, and serve the portal with gunicorn."""
    from app.compose import open_database, open_files
    from app.config import MULTIPROC_ENV
    from app.harness.metrics import prepare_multiprocess_dir

    settings = load()
    database = open_database(settings)
    database.upgrade()
    files = open_files(settings)
    _reconcile_at_start(settings, database, files)
    database.dispose()
    # Every worker writes its metric values here; emptied so a restart starts from zero.
    # prometheus_client reads the variable when the workers import it.
    os.environ[MULTIPROC_ENV] = prepare_multiprocess_dir(settings.metrics_dir or settings.instance_path / "prometheus")
    bind = f"{settings.host}:{settings.port}"
    click.echo(f"ARB Feedback Portal on http://{bind}/  (upload form at http://{bind}/upload)")
    click.echo(f"  database: {database.engine.url.render_as_string(hide_password=True)}")
    click.echo(f"  uploads:  {settings.upload_folder}")
    click.echo(f"  metrics:  http://{bind}/metrics   flags: {settings.flag_store_url.split('@')[-1]}")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    argv = [str(gunicorn), *gunicorn_options(settings, workers), "app.wsgi:application"]
    os.execv(argv[0], argv)


def gunicorn_options(settings, workers: int | None = None) -> list[str]:
    """gunicorn's command line for this instance.

    `gthread` workers with `threads` threads each, so slow clients hold a thread, not a
    worker (and `slow_clients` frees it after the body deadline); request line and header
    limits; a control socket of this instance's own in its instance folder (gunicorn's
    default is one path per user, which every instance shares and the first to stop deletes),
    or none when that path is too long for a Unix socket.
    """
    control = settings.instance_path / f"gunicorn-{settings.port}.ctl"
    control_options = ["--control-socket", str(control)] if len(str(control)) < 100 else ["--no-control-socket"]
    return ["--bind", f"{settings.host}:{settings.port}", "--workers", str(workers or settings.workers),
            "--worker-class", "gthread", "--threads", str(settings.threads),
            "--timeout", "60", "--graceful-timeout", "20", "--keep-alive", "5",
            "--limit-request-line", "8190", "--limit-request-fields", "100", "--limit-request-field_size", "8190",
            *control_options, "--access-logfile", "-", "--config", "python:app.gunicorn_conf"]
