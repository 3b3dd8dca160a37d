"""Every dependency call has a deadline: a frozen PostgreSQL or Redis (SIGSTOP, so
connections neither answer nor refuse) costs a request a stated bound, not a worker."""

from __future__ import annotations

import time

from app import create_app
from app.compose import services_of
from app.workbook.generator import generate_workbook
from tests.conftest import make_settings, post_file

# The stated bound: connect timeout (2 s) + statement deadline (3 s), plus slack for a loaded machine.
STUCK_DB_BOUND_S = 5.0
SLACK_S = 3.0
READYZ_BOUND_S = 2.0


def _app(tmp_path, database_url, **overrides):
    app = create_app(settings=make_settings(tmp_path, database_url, **overrides))
    app.config["TESTING"] = True
    return app


def _settle(client) -> None:
    """Wait until the readiness checks stuck on the frozen server have returned (their
    connections are then closed by the app, not left to the garbage collector)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and client.get("/readyz").status_code != 200:
        time.sleep(0.2)


def _timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_a_frozen_postgresql_gives_a_503_within_the_bound_with_the_file_kept(tmp_path, own_postgres):
    app = _app(tmp_path, own_postgres.url)
    client = app.test_client()
    workbook = generate_workbook("oil_and_gas_v01_00", seed=3, id_incidence=1002100)
    assert post_file(client, "/upload_refactored", workbook.data).status_code == 200  # the pool holds a connection
    own_postgres.freeze()
    try:
        for url in ("/upload_refactored", "/upload_original"):
            response, seconds = _timed(lambda: post_file(client, url, workbook.data, filename="frozen.xlsx"))
            print(f"{url} with PostgreSQL frozen: {response.status_code} in {seconds:.2f} s (bound {STUCK_DB_BOUND_S} s)")
            assert response.status_code == 503
            assert seconds < STUCK_DB_BOUND_S + SLACK_S
            body = response.get_json()
            assert body["error_type"] == "database_error"
            assert "127.0.0.1" not in body["error_message"] and str(own_postgres.port) not in body["error_message"]
        kept = sorted(p.name for p in services_of(app).files.root.glob("frozen_ts_*.xlsx"))
        assert len(kept) == 2  # both files kept (and journalled) although the database never answered
        ready, seconds = _timed(lambda: client.get("/readyz"))
        print(f"/readyz with PostgreSQL frozen: {ready.status_code} in {seconds:.2f} s: {ready.get_json()}")
        assert ready.status_code == 503 and seconds < READYZ_BOUND_S
        health, seconds = _timed(lambda: client.get("/healthz"))
        print(f"/healthz with PostgreSQL frozen: {health.status_code} in {seconds * 1000:.1f} ms")
        assert health.status_code == 200 and seconds < 1.0
    finally:
        own_postgres.thaw()
    response, seconds = _timed(lambda: post_file(client, "/upload_refactored", workbook.data))
    print(f"after SIGCONT: {response.status_code} in {seconds:.2f} s")
    assert response.status_code == 200
    _settle(client)
    services_of(app).close()


def test_a_frozen_redis_flag_store_costs_no_upload_and_readyz_answers_in_time(tmp_path, sqlite_url, own_redis):
    app = _app(tmp_path, sqlite_url, flag_store_url=own_redis.url + "?prefix=fault")
    client = app.test_client()
    workbook = generate_workbook("energy_v01_00", seed=4, id_incidence=1002101)
    own_redis.freeze()
    try:
        response, seconds = _timed(lambda: post_file(client, "/upload", workbook.data))
        print(f"/upload with the Redis flag store frozen: {response.status_code} in {seconds:.2f} s")
        assert response.status_code == 200 and seconds < 2.0
        ready, seconds = _timed(lambda: client.get("/readyz"))
        print(f"/readyz with Redis frozen: {ready.status_code} in {seconds:.2f} s: {ready.get_json()}")
        assert ready.status_code == 503 and seconds < READYZ_BOUND_S
        assert ready.get_json()["database"] == "ok"
        again, seconds = _timed(lambda: client.get("/readyz"))
        print(f"/readyz again: {again.status_code} in {seconds:.2f} s")
        assert again.status_code == 503 and seconds < READYZ_BOUND_S
    finally:
        own_redis.thaw()
    _settle(client)
    services_of(app).close()


def test_a_frozen_sql_flag_store_costs_no_upload(tmp_path, sqlite_url, own_postgres):
    app = _app(tmp_path, sqlite_url, flag_store_url=own_postgres.url)
    client = app.test_client()
    workbook = generate_workbook("energy_v01_00", seed=5, id_incidence=1002102)
    own_postgres.freeze()
    try:
        response, seconds = _timed(lambda: post_file(client, "/upload", workbook.data))
        print(f"/upload with the PostgreSQL flag store frozen: {response.status_code} in {seconds:.2f} s")
        assert response.status_code == 200 and seconds < 2.0
        ready, seconds = _timed(lambda: client.get("/readyz"))
        print(f"/readyz with the PostgreSQL flag store frozen: {ready.status_code} in {seconds:.2f} s")
        assert ready.status_code == 503 and seconds < READYZ_BOUND_S
    finally:
        own_postgres.thaw()
    _settle(client)
    services_of(app).close()
