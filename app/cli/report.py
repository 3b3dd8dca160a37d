"""`harness report`: the A/B comparison of the two paths over a window, with a verdict.

    harness report --since 24h [--route direct|staged] [--out results/report/] [--prometheus URL]
    harness report --from 2026-12-03T08:00Z --to 2026-12-03T20:00Z

Writes ab-report.html, ab-report.json and ab-report.md into --out and prints the verdict
per route. Exit status 0 whatever the verdict (tools read `verdict` in the JSON), 1 on a
usage or configuration error.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import click

from app.cli.common import settings


class _Progress:
    """Progress on stderr for long runs (quiet for the first two seconds)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.started = time.monotonic()
        self.last = 0.0

    def say(self, text: str) -> None:
        now = time.monotonic()
        if not self.quiet and now - self.started > 2 and now - self.last > 1:
            click.echo(f"[{now - self.started:5.1f}s] {text}", err=True)
            self.last = now



def _window(since: str | None, start: str | None, end: str | None, now: dt.datetime):
    from app.harness.analysis.window import Window, parse_time

    try:
        if since and (start or end):
            raise ValueError("give --since or --from/--to, not both")
        if start:
            return Window(parse_time(start), parse_time(end) if end else now)
        if end:
            raise ValueError("--to needs --from")
        return Window.since(since or "24h", now)
    except ValueError as error:
        raise click.UsageError(str(error)) from None


@click.command("report")
@click.option("--since", default=None, help="the window ending now, e.g. 30m, 24h (default), 7d")
@click.option("--from", "start", default=None, help="window start, ISO 8601 (UTC unless it says)")
@click.option("--to", "end", default=None, help="window end, ISO 8601 (default now)")
@click.option("--route", type=click.Choice(["direct", "staged"]), default=None, help="one route (default both)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("results/report"),
              show_default=True, help="folder for ab-report.html|json|md")
@click.option("--prometheus", default=None, help="a Prometheus server's URL: shadow run rates and PromQL figures")
@click.option("--seed", type=int, default=0, show_default=True, help="the bootstrap's random seed")
@click.option("--quiet", is_flag=True, help="no progress lines")
def report_command(since, start, end, route, out, prometheus, seed, quiet) -> None:
    """Compare original and refactored over a window: statistics, plots, a verdict."""
    from app.compose import open_database, open_flags
    from app.harness.analysis import loading
    from app.harness.analysis.render import write_all
    from app.harness.analysis.report import build_report

    now = dt.datetime.now(dt.timezone.utc)
    window = _window(since, start, end, now)
    config = settings()
    progress = _Progress(quiet)
    db = open_database(config)
    sources = {"database": db.engine.url.render_as_string(hide_password=True)}
    try:
        try:
            samples = loading.load_samples(db.engine, window, route, progress.say)
            mismatches = loading.load_mismatches(db.engine, window, route)
        except Exception as exc:  # noqa: BLE001 - unreachable or unmigrated database
            raise click.ClickException(f"could not read the uploads: {str(exc).splitlines()[0]}") from None
        flags = open_flags(config)
        try:
            percents = {r: loading.load_percent_history(flags, r, window) for r in samples}
        finally:
            flags.close()
        shadow_runs = None
        extra = {}
        if prometheus:
            from app.harness.analysis.prometheus import PrometheusError, PrometheusSource

            progress.say(f"querying Prometheus at {prometheus}")
            source = PrometheusSource(prometheus)
            try:
                shadow_runs = {r: source.shadow_runs(r, window) for r in samples}
                extra = {r: source.figures(r, window) for r in samples}
                samples = source.fill_missing(samples, window)
            except PrometheusError as error:
                raise click.ClickException(str(error)) from None
            sources["prometheus"] = prometheus
        progress.say("computing the statistics")
        report = build_report(samples, window, now=now, seed=seed, percents=percents, mismatches=mismatches,
                              shadow_runs=shadow_runs, sources=sources)
        if extra:
            report.sources["prometheus_figures"] = extra
        paths = write_all(report, out, progress.say)
    finally:
        db.dispose()
    for name, verdict in report.verdicts.items():
        uploads = report.comparisons[name].uploads
        click.echo(f"{name}: {verdict.verdict} ({uploads} uploads)")
        for reason in verdict.reasons:
            click.echo(f"  - {reason}")
    click.echo(f"verdict: {report.verdict}")
    click.echo(f"wrote {', '.join(str(p) for p in paths.values())}")
    sys.stdout.flush()
