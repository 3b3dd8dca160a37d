"""`harness generate`: feedback-form workbooks in the real ARB layout, for tests and load."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("generate")
@click.option("--schema", "schemas", multiple=True, help="schema name (repeatable; default: all six)")
@click.option("--variant", type=click.Choice(["good", "bad", "blank_id"]), default="good", show_default=True)
@click.option("--count", type=click.IntRange(1, 10_000), default=1, show_default=True, help="workbooks per schema")
@click.option("--seed", type=int, default=None, help="random seed for repeatable values")
@click.option("--id", "id_incidence", type=click.IntRange(1), default=None, help="incidence id to write")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("generated"), show_default=True)
def generate_command(schemas: tuple[str, ...], variant: str, count: int, seed: int | None, id_incidence: int | None,
                     out_dir: Path) -> None:
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
