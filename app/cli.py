"""The `harness` command line: serve the portal, manage the database, generate workbooks."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup


def _create_app():
    from app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """ARB upload-ingestion migration harness."""
