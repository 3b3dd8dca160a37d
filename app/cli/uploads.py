"""`harness uploads reconcile|retry|interrupted`: no file without a record, no record in limbo.

    harness uploads reconcile [--older-than S]   one reconcile pass now (app.ingest.reconcile), its report
    harness uploads interrupted                  the uploads waiting for a retry
    harness uploads retry ID [ID...]             re-process interrupted uploads (applied at most once)
"""

from __future__ import annotations

import click

from app.cli.common import settings as load


def _context():
    from app.compose import open_database, open_files, workbook_limits
    from app.ingest.context import IngestContext

    settings = load()
    return settings, IngestContext(open_database(settings), open_files(settings), workbook_limits(settings))


@click.group("uploads")
def uploads_group() -> None:
    """Upload records: reconcile them with the files kept, retry interrupted ones."""


@uploads_group.command("reconcile")
@click.option("--older-than", type=float, default=None,
              help="age in seconds after which a received upload is interrupted (default HARNESS_INTERRUPTED_AFTER_S)")
def reconcile_command(older_than: float | None) -> None:
    """Record journalled files, mark stale received uploads interrupted, fix records whose file is gone."""
    from app.ingest.errors import DatabaseUnavailable
    from app.ingest.reconcile import reconcile

    settings, ctx = _context()
    try:
        report = reconcile(ctx, settings.interrupted_after if older_than is None else older_than)
    except DatabaseUnavailable as exc:
        raise click.ClickException(f"database unavailable: {exc}") from None
    finally:
        ctx.db.dispose()
    for line in report.lines():
        click.echo(line)
    click.echo(f"took {report.seconds:.2f} s")


@uploads_group.command("interrupted")
@click.option("--limit", type=int, default=50, show_default=True)
def interrupted_command(limit: int) -> None:
    """List uploads in status interrupted, oldest first."""
    from sqlalchemy import select

    from app.ingest.intake import INTERRUPTED
    from app.ingest.reconcile import UPLOADS

    _, ctx = _context()
    with ctx.db.transaction() as conn:
        rows = conn.execute(select(UPLOADS.c.id, UPLOADS.c.created_at, UPLOADS.c.route, UPLOADS.c.ingest_path,
                                   UPLOADS.c.path, UPLOADS.c.description)
                            .where(UPLOADS.c.status == INTERRUPTED).order_by(UPLOADS.c.id).limit(limit)).all()
    ctx.db.dispose()
    for row in rows:
        click.echo(f"{row.id}\t{row.created_at:%Y-%m-%d %H:%M:%S %Z}\t{row.route}/{row.ingest_path}\t{row.path}\t{row.description}")
    click.echo(f"{len(rows)} interrupted upload(s)")


@uploads_group.command("retry")
@click.argument("upload_ids", nargs=-1, type=int, required=True)
def retry_command(upload_ids: tuple[int, ...]) -> None:
    """Re-process interrupted uploads from their kept files (idempotent: applied at most once)."""
    from app.ingest.errors import DatabaseUnavailable, NotRetryable
    from app.ingest.implementations import IMPLEMENTATIONS
    from app.ingest.reconcile import retry

    _, ctx = _context()
    failed = 0
    try:
        for upload_id in upload_ids:
            try:
                result = retry(ctx, upload_id, IMPLEMENTATIONS)
            except NotRetryable as exc:
                click.echo(f"upload {upload_id}: not retried: {exc}", err=True)
                failed += 1
                continue
            if result.already:
                click.echo(f"upload {upload_id}: nothing to do, it is {result.already}")
            elif result.outcome.success:
                o = result.outcome
                click.echo(f"upload {upload_id}: {o.route} upload processed by the {o.path} path "
                           f"(incidence {o.id_incidence}{', staged as ' + o.staged_filename if o.staged_filename else ''})")
            else:
                o = result.outcome
                click.echo(f"upload {upload_id}: processed, refused: {o.error_type}: {o.error_message}")
    except DatabaseUnavailable as exc:
        raise click.ClickException(f"database unavailable: {exc}") from None
    finally:
        ctx.db.dispose()
    if failed:
        raise SystemExit(1)
