"""`harness shadow`: read the shadow runs' mismatch records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click

from app.cli.common import settings


@contextmanager
def _store() -> Iterator:
    from shadow import MismatchStore

    database_url = settings().database_url
    try:
        store = MismatchStore(database_url)
    except Exception as exc:  # noqa: BLE001 - unreachable database
        raise click.ClickException(f"database unreachable: {str(exc).splitlines()[0]}") from None
    try:
        yield store
    finally:
        store.close()


@click.group("shadow")
def shadow_group() -> None:
    """Shadow-run mismatches between the original and refactored paths."""


@shadow_group.command()
@click.option("--route", type=click.Choice(["direct", "staged"]), default=None)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def summary(route: str | None, as_json: bool) -> None:
    """Total mismatches and counts per field."""
    with _store() as store:
        data = store.summary(route)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"mismatches: {data['mismatches']}" + (f"  (last {data['last_at']})" if data["last_at"] else ""))
    for row in data["by_field"]:
        click.echo(f"  {row['count']:>6}  {row['field']}")


@shadow_group.command()
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--route", type=click.Choice(["direct", "staged"]), default=None)
def recent(limit: int, route: str | None) -> None:
    """The newest mismatches, one line each."""
    with _store() as store:
        records = store.recent(limit, route)
    if not records:
        click.echo("no mismatches recorded")
    for r in records:
        fields = ", ".join(d["field"] for d in r.differences[:6]) + (" ..." if len(r.differences) > 6 else "")
        click.echo(f"#{r.id}  {r.at:%Y-%m-%d %H:%M:%S}  {r.route:<6} control={r.control_path:<10} "
                   f"incidence={r.id_incidence}  {fields}")


@shadow_group.command()
@click.argument("record_id", type=int)
def show(record_id: int) -> None:
    """One mismatch in full."""
    with _store() as store:
        record = store.get(record_id)
    if record is None:
        raise click.ClickException(f"no mismatch #{record_id}")
    click.echo(json.dumps(record.to_dict(), indent=2, ensure_ascii=False))
