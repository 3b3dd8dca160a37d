"""The `harness` command line: serve the portal, migrate the database, generate workbooks.

    harness serve                 migrate, then run gunicorn on HARNESS_HOST:HARNESS_PORT
    harness db upgrade            bring the database schema up to date
    harness generate ...          write feedback-form workbooks (good, bad, blank-id, hostile)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from app.config import ConfigError, load_settings
from app.flags_cli import flags_group, rollback_command
from app.shadow_cli import shadow_group


def _settings():
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


@click.group()
def main() -> None:
    """ARB upload-ingestion migration harness."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest revision."""
    from app.db import Database, DatabaseUnavailable

    settings = _settings()
    database = Database(settings.database_url)
    try:
        database.ping()
        database.upgrade()
    except DatabaseUnavailable as exc:
        raise click.ClickException(f"database unreachable: {exc}") from None
    finally:
        database.dispose()
    click.echo(f"database schema up to date ({database.engine.url.render_as_string(hide_password=True)})")


@main.command()
@click.option("--workers", type=int, default=None, help="gunicorn worker processes (default HARNESS_WORKERS)")
def serve(workers: int | None) -> None:
    """Migrate the database, prepare the folders, and serve the portal with gunicorn."""
    from app.db import Database
    from app.ingest.files import FileStore
    from app.metrics import MULTIPROC_ENV, prepare_multiprocess_dir

    settings = _settings()
    database = Database(settings.database_url)
    database.upgrade()
    database.dispose()
    FileStore(settings.upload_folder).ensure()
    # Every worker writes its metric values here; emptied so a restart starts from zero.
    os.environ[MULTIPROC_ENV] = prepare_multiprocess_dir(settings.instance_path / "prometheus")
    bind = f"{settings.host}:{settings.port}"
    click.echo(f"ARB Feedback Portal on http://{bind}/  (upload form at http://{bind}/upload)")
    click.echo(f"  database: {database.engine.url.render_as_string(hide_password=True)}")
    click.echo(f"  uploads:  {settings.upload_folder}")
    click.echo(f"  metrics:  http://{bind}/metrics   flags: {settings.flag_store_url.split('@')[-1]}")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    argv = [str(gunicorn), "--bind", bind, "--workers", str(workers or settings.workers),
            "--timeout", "60", "--graceful-timeout", "20", "--access-logfile", "-",
            "--config", "python:app.gunicorn_conf", "app.wsgi:application"]
    os.execv(argv[0], argv)


@main.command()
@click.option("--schema", "schemas", multiple=True, help="schema name (repeatable; default: all six)")
@click.option("--variant", type=click.Choice(["good", "bad", "blank_id"]), default="good", show_default=True)
@click.option("--count", type=click.IntRange(1, 10_000), default=1, show_default=True, help="workbooks per schema")
@click.option("--seed", type=int, default=None, help="random seed for repeatable values")
@click.option("--id", "id_incidence", type=click.IntRange(1), default=None, help="incidence id to write")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("generated"), show_default=True)
def generate(schemas: tuple[str, ...], variant: str, count: int, seed: int | None, id_incidence: int | None, out_dir: Path) -> None:
    """Write feedback-form workbooks in the real ARB layout with realistic values."""
    from app.forms import UnknownSchema, all_schemas, get_schema
    from app.workbook.generator import generate_workbook

    try:
        names = [get_schema(name).name for name in schemas] or [s.name for s in all_schemas()]
    except UnknownSchema as exc:
        known = ", ".join(s.name for s in all_schemas())
        raise click.ClickException(f"{exc}; known schemas: {known}") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        for n in range(count):
            workbook = generate_workbook(name, variant, seed=None if seed is None else seed + n, id_incidence=id_incidence)
            path = out_dir / f"{name}_{variant}_{n + 1:04d}.xlsx"
            path.write_bytes(workbook.data)
            click.echo(f"{path}  id_incidence={workbook.id_incidence}")


main.add_command(flags_group)
main.add_command(rollback_command)
main.add_command(shadow_group)


@main.command()
@click.option("--metrics-url", "urls", multiple=True, required=True,
              help="a portal instance's /metrics (repeat for every instance; they are summed)")
@click.option("--interval", type=click.FloatRange(1, 3600), default=30, show_default=True, help="seconds between scrapes")
@click.option("--window", type=click.FloatRange(30), default=300, show_default=True, help="seconds compared")
@click.option("--hold", type=click.FloatRange(0), default=600, show_default=True,
              help="seconds a regression must last before the rollback")
@click.option("--min-requests", type=click.IntRange(1), default=20, show_default=True,
              help="uploads each path needs in the window")
@click.option("--iterations", type=click.IntRange(1), default=None, help="stop after this many scrapes (default: run until stopped)")
def guard(urls: tuple[str, ...], interval: float, window: float, hold: float, min_requests: int, iterations: int | None) -> None:
    """Roll a route back when its refactored path regresses (server errors +5 points, p95 x1.2)."""
    import time
    import urllib.request

    from app.guard import RegressionGuard, Thresholds, run_once
    from flags import open_service

    settings = _settings()
    flags = open_service(settings.flag_store_url)
    regression_guard = RegressionGuard(Thresholds(window_s=window, hold_s=hold, min_requests=min_requests))

    def fetch() -> list[str]:
        texts = []
        for url in urls:
            with urllib.request.urlopen(url, timeout=10) as response:
                texts.append(response.read().decode("utf-8"))
        return texts

    click.echo(f"rollback guard watching {len(urls)} instance(s) every {interval:g} s "
               f"(window {window:g} s, hold {hold:g} s, min {min_requests} uploads per path)")
    count = 0
    try:
        while iterations is None or count < iterations:
            for line in run_once(regression_guard, fetch, flags, time.monotonic()):
                click.echo(line)
            count += 1
            if iterations is None or count < iterations:
                time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        flags.close()
