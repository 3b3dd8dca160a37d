"""`harness db upgrade`: create or migrate the database schema."""

from __future__ import annotations

import click

from app.cli.common import settings


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest revision."""
    from app.compose import open_database
    from app.ingest.errors import DatabaseUnavailable

    database = open_database(settings())
    try:
        database.ping()
        database.upgrade()
    except DatabaseUnavailable as exc:
        raise click.ClickException(f"database unreachable: {exc}") from None
    finally:
        database.dispose()
    click.echo(f"database schema up to date ({database.engine.url.render_as_string(hide_password=True)})")
