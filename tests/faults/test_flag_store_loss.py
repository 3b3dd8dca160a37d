"""A Redis flag store restarted without persistence (every flag gone, the audit log too)
is noticed: decisions keep the last known state, /readyz says degraded, a metric says so,
a process started after the loss knows it too, and `harness flags restore` brings it back."""

from __future__ import annotations

import logging
import os

from click.testing import CliRunner

from app import create_app
from app.cli import main
from app.compose import services_of
from flags import REFACTORED_UPLOAD
from tests.conftest import make_settings

USERS = [f"user-{i}" for i in range(400)]


def _app(tmp_path, sqlite_url, redis_url):
    app = create_app(settings=make_settings(tmp_path, sqlite_url, flag_store_url=redis_url))
    app.config["TESTING"] = True
    return app


def _on(service) -> int:
    return sum(service.decide(REFACTORED_UPLOAD, user).enabled for user in USERS)


def test_a_redis_flag_store_restarted_empty_is_noticed_kept_and_restored(tmp_path, sqlite_url, own_redis, caplog):
    url = own_redis.url + "?prefix=loss"
    with caplog.at_level(logging.WARNING):
        app = _app(tmp_path, sqlite_url, url)
    assert "keeps nothing across a restart" in caplog.text  # persistence off: warned at start
    services = services_of(app)
    flags = services.flags
    flags.set_percent(REFACTORED_UPLOAD, 40, actor="ops", reason="step 2")
    assert flags.reload()
    before = _on(flags)
    assert 100 < before < 220 and flags.store_loss() == ()

    own_redis.restart()  # no persistence: every key gone
    assert flags.reload()
    lost = flags.store_loss()
    print(f"detected after the restart: {lost}")
    assert lost and REFACTORED_UPLOAD in " ".join(lost)
    assert _on(flags) == before  # the router keeps the last known state, not 0%
    client = app.test_client()
    ready = client.get("/readyz").get_json()
    print(f"/readyz: {ready}")
    assert ready["ok"] and ready["status"] == "degraded" and ready["flag_state"].startswith("degraded")
    assert "portal_flag_store_lost 1.0" in client.get("/metrics").get_data(as_text=True)

    # A process started after the loss (its ensure_flags recreates every flag at 0%) knows it too.
    late = _app(tmp_path, sqlite_url, url)
    assert services_of(late).flags.store_loss() and _on(services_of(late).flags) == before
    services_of(late).close()

    env = {"HARNESS_INSTANCE_PATH": str(tmp_path / "instance"), "HARNESS_FLAG_STORE_URL": url,
           "HARNESS_DATABASE_URL": sqlite_url, "HARNESS_SECRET_KEY": "s" * 40}
    result = CliRunner().invoke(main, ["flags", "restore", "--actor", "ops", "--reason", "redis restarted empty"],
                                                env={**os.environ, **env})
    print(result.output, result.stderr)
    assert result.exit_code == 0, result.output
    assert f"restored {REFACTORED_UPLOAD}" in result.output and "audit log was wiped" in result.stderr
    assert flags.reload() and flags.store_loss() == ()
    assert flags.get(REFACTORED_UPLOAD).percent == 40 and _on(flags) == before
    assert client.get("/readyz").get_json()["status"] == "ok"
    assert [e.action for e in flags.history(flag=REFACTORED_UPLOAD, limit=5)][0] == "restore"
    services.close()


def test_a_store_with_persistence_on_gives_no_warning(tmp_path, sqlite_url, own_folder, caplog):
    from tests.own_servers import OwnRedis

    server = OwnRedis(own_folder / "persistent", persistence=True).start()
    try:
        with caplog.at_level(logging.WARNING):
            app = _app(tmp_path, sqlite_url, server.url + "?prefix=kept")
        assert "keeps nothing across a restart" not in caplog.text
        services_of(app).close()
    finally:
        server.stop()
