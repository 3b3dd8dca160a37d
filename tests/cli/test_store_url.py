"""A malformed flag store URL is refused when the settings load, naming the variable, so
`harness serve` stops before gunicorn starts (instead of every worker failing to boot)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import ConfigError, load_settings

HARNESS = Path(sys.executable).with_name("harness")
MALFORMED = [
    ("redis://127.0.0.1:notaport/0", "Port could not be cast"),
    ("redis://127.0.0.1:6379/zero", "the database must be a number"),
    ("redis://127.0.0.1:6379/0?prefix=", "prefix must not be empty"),
    ("redis://127.0.0.1:6379/0?socket_timeout=soon", "socket_timeout"),
    ("postgresql+psycopg://portal@db:port/portal", "bad SQL flag store URL"),
    ("postgresql+nodriver://portal@db/portal", "bad SQL flag store URL"),
    ("mongodb://db/flags", "unsupported flag store 'mongodb'"),
    ("127.0.0.1:6379", "must look like scheme://"),
]


@pytest.mark.parametrize("url, reason", MALFORMED)
def test_a_malformed_flag_store_url_is_refused_naming_the_variable(tmp_path, url, reason):
    with pytest.raises(ConfigError, match="HARNESS_FLAG_STORE_URL") as refused:
        load_settings({"HARNESS_INSTANCE_PATH": str(tmp_path), "HARNESS_FLAG_STORE_URL": url})
    assert reason in str(refused.value)


def test_without_its_own_url_the_flag_store_is_the_database_and_the_message_says_so(tmp_path):
    with pytest.raises(ConfigError, match="HARNESS_FLAG_STORE_URL is unset, so the flag store is HARNESS_DATABASE_URL"):
        load_settings({"HARNESS_INSTANCE_PATH": str(tmp_path), "HARNESS_DATABASE_URL": "postgresql+psycopg://u@db:x/p"})


@pytest.mark.parametrize("url", ["memory://", "sqlite:///instance/portal.db", "redis://cache:6379/0?prefix=harness:flags",
                                 "rediss://:secret@cache:6380/2", "postgresql+psycopg://portal:pw@db:5432/portal"])
def test_good_urls_load_without_connecting_to_anything(tmp_path, url):
    assert load_settings({"HARNESS_INSTANCE_PATH": str(tmp_path), "HARNESS_FLAG_STORE_URL": url}).flag_store_url == url


def test_harness_serve_stops_before_gunicorn_with_the_variable_named(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_", "PROMETHEUS_"))}
    env.update(HARNESS_INSTANCE_PATH=str(tmp_path / "instance"), HARNESS_FLAG_STORE_URL="redis://127.0.0.1:notaport/0",
               HARNESS_PORT="5299")
    result = subprocess.run([str(HARNESS), "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "configuration error: HARNESS_FLAG_STORE_URL" in result.stderr
    assert "ARB Feedback Portal on" not in result.stdout  # the banner comes just before gunicorn
    assert "gunicorn" not in result.stdout + result.stderr.lower()
    assert not (tmp_path / "instance" / "prometheus").exists()  # nothing was prepared for workers
