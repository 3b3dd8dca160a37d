"""`harness guard`: the kill-only rollback guard over every instance's `/metrics`."""

from __future__ import annotations

import click

from app.cli.common import settings


@click.command("guard")
@click.option("--metrics-url", "urls", multiple=True,
              help="a portal instance's /metrics (repeat for every instance; they are summed)")
@click.option("--gates", "use_gates", is_flag=True,
              help="use the rollout controller's sequential gates on the database's upload records instead")
@click.option("--interval", type=click.FloatRange(1, 3600), default=30, show_default=True, help="seconds between scrapes")
@click.option("--window", type=click.FloatRange(30), default=300, show_default=True, help="seconds compared")
@click.option("--hold", type=click.FloatRange(0), default=600, show_default=True,
              help="seconds a regression must last before the rollback")
@click.option("--min-requests", type=click.IntRange(1), default=20, show_default=True,
              help="uploads each path needs in the window")
@click.option("--iterations", type=click.IntRange(1), default=None, help="stop after this many scrapes (default: run until stopped)")
@click.option("--prometheus", default=None, metavar="URL",
              help="with --gates: the gates read this Prometheus server instead of the database")
def guard_command(urls: tuple[str, ...], use_gates: bool, interval: float, window: float, hold: float,
                  min_requests: int, iterations: int | None, prometheus: str | None) -> None:
    """Roll a route back when its refactored path regresses (server errors +5 points, p95 x1.2)."""
    import time
    import urllib.request

    if use_gates == bool(urls):
        raise click.UsageError("give --metrics-url (fixed thresholds over /metrics) or --gates (sequential gates "
                               "over the database), one of the two")
    if prometheus and not use_gates:
        raise click.UsageError("--prometheus goes with --gates")
    if use_gates:
        _gate_guard(interval, iterations, prometheus)
        return

    from app.harness.rollback_guard import RegressionGuard, Thresholds, run_once
    from flags import open_service

    flags = open_service(settings().flag_store_url)
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


def _gate_guard(interval: float, iterations: int | None, prometheus: str | None = None) -> None:
    """The kill-only guard on the rollout gates (flags moved by hand, no plan)."""
    import time

    from app.compose import open_database
    from app.harness.rollout.guard import GateGuard
    from app.harness.rollout.runner import gate_source, utc_now
    from app.harness.rollout.store import SqlStore
    from flags import open_service

    config = settings()
    database = open_database(config)
    flags = open_service(config.flag_store_url)
    source = gate_source(database.engine, prometheus)
    guard = GateGuard(flags, source, utc_now, SqlStore(database.engine))
    click.echo(f"rollback guard on the sequential gates from {source.name} every {interval:g} s (flags under a plan are left to "
               "the rollout controller)")
    count = 0
    try:
        while iterations is None or count < iterations:
            try:
                for line in guard.tick():
                    click.echo(line)
            except Exception as exc:  # noqa: BLE001 - the database away: nothing is rolled back, try again
                click.echo(f"guard tick failed: {exc}", err=True)
            count += 1
            if iterations is None or count < iterations:
                time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        flags.close()
        database.dispose()
