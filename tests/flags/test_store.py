"""Choosing a store from one URL, and what each store leaves in its database."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text

from flags import InvalidStoreUrl, MemoryFlagStore, open_store, open_service
from flags.redis_store import RedisFlagStore
from flags.sql_store import SqlFlagStore


def test_memory_url_gives_a_memory_store():
    assert isinstance(open_store("memory://"), MemoryFlagStore)


def test_the_sql_store_shares_the_portal_database_through_flag_prefixed_tables(tmp_path):
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE incidences (id_incidence INTEGER PRIMARY KEY, misc_json TEXT)"))
        conn.execute(text("INSERT INTO incidences VALUES (1, '{}')"))
    service = open_service(url)
    service.ensure_flags()
    assert isinstance(service.store, SqlFlagStore)
    assert set(inspect(engine).get_table_names()) == {"incidences", "flag_features", "flag_audit"}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidences")).scalar() == 1
    service.close()
    engine.dispose()


def test_the_sqlite_store_creates_its_folder(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'new' / 'deeper' / 'flags.db'}")
    assert store.read(["refactored_upload"]) == {}
    assert (tmp_path / "new" / "deeper" / "flags.db").exists()
    store.close()


@pytest.mark.parametrize("url", ["mongodb://localhost/x", "", "not a url", "http://example.com", "sqlite+nodriver:///x.db"])
def test_an_unsupported_or_malformed_url_is_refused_with_the_url_named(url):
    with pytest.raises(InvalidStoreUrl):
        open_store(url)


def test_a_redis_url_takes_a_key_prefix_and_hides_the_password():
    store = open_store("redis://:s3cret@127.0.0.1:6379/2?prefix=staging:flags")
    assert isinstance(store, RedisFlagStore)
    assert store.prefix == "staging:flags"
    assert store.audit_key == "staging:flags:audit"
    assert "s3cret" not in store.description
    store.close()


@pytest.mark.parametrize("store_url", [pytest.param("redis", marks=pytest.mark.redis)], indirect=True)
def test_two_redis_prefixes_on_one_server_do_not_see_each_other(store_url, clock):
    other_url = store_url.replace("prefix=", "prefix=other:", 1)
    assert other_url != store_url
    first, second = open_service(store_url, clock=clock), open_service(other_url, clock=clock)
    first.ensure_flags()
    second.ensure_flags()
    first.set_percent("refactored_upload", 100, actor="ops")
    assert second.get("refactored_upload").percent == 0
    assert [e.action for e in second.history(flag="refactored_upload")] == ["create"]
    client = second.store._redis
    for key in client.scan_iter(match=f"{second.store.prefix}:*"):
        client.delete(key)
    first.close()
    second.close()
