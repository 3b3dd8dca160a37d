"""Configuration from HARNESS_* variables: safe defaults, no production secret defaults."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from app.cli import main
from app.config import ConfigError, load_settings, parse_admin_tokens


def test_defaults_give_the_embedded_setup(tmp_path):
    settings = load_settings({"HARNESS_INSTANCE_PATH": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path}/portal.db"
    assert settings.flag_store_url == settings.database_url
    assert settings.upload_folder == tmp_path / "uploads"
    assert settings.admin_tokens == () and settings.trust_user_header is False
    assert settings.max_upload_bytes == 20 * 1024 * 1024


def test_the_secret_key_is_random_per_instance_and_kept(tmp_path):
    first = load_settings({"HARNESS_INSTANCE_PATH": str(tmp_path / "a")}).secret_key
    again = load_settings({"HARNESS_INSTANCE_PATH": str(tmp_path / "a")}).secret_key
    other = load_settings({"HARNESS_INSTANCE_PATH": str(tmp_path / "b")}).secret_key
    assert first == again != other and len(first) >= 48
    assert oct((tmp_path / "a" / "secret_key").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("missing", ["HARNESS_SECRET_KEY", "HARNESS_DATABASE_URL"])
def test_production_refuses_to_start_without_its_secrets(tmp_path, missing):
    env = {"HARNESS_ENV": "production", "HARNESS_INSTANCE_PATH": str(tmp_path),
           "HARNESS_SECRET_KEY": "k" * 40, "HARNESS_DATABASE_URL": "postgresql+psycopg://db/portal"}
    del env[missing]
    with pytest.raises(ConfigError, match=missing):
        load_settings(env)


@pytest.mark.parametrize("env, message", [
    ({"HARNESS_MAX_UPLOAD_MB": "lots"}, "HARNESS_MAX_UPLOAD_MB"),
    ({"HARNESS_MAX_CELLS": "5"}, "HARNESS_MAX_CELLS"),
    ({"HARNESS_MAX_SHEET_AREA": "-1"}, "HARNESS_MAX_SHEET_AREA"),
    ({"HARNESS_TRUST_USER_HEADER": "maybe"}, "HARNESS_TRUST_USER_HEADER"),
    ({"HARNESS_ENV": "staging"}, "HARNESS_ENV"),
    ({"HARNESS_SECRET_KEY": "short"}, "HARNESS_SECRET_KEY"),
    ({"HARNESS_ADMIN_TOKENS": "alice:admin:tok"}, "HARNESS_ADMIN_TOKENS"),
    ({"HARNESS_ADMIN_TOKENS": "alice:rw:short"}, "shorter than 16"),
])
def test_malformed_settings_stop_start_up_naming_the_variable(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings({"HARNESS_INSTANCE_PATH": str(tmp_path), **env})


def test_admin_tokens_carry_actor_and_write_permission():
    tokens = parse_admin_tokens("alice:rw:" + "a" * 20 + ", bob:ro:" + "b" * 20)
    assert [(t.actor, t.can_write) for t in tokens] == [("alice", True), ("bob", False)]
    assert "a" * 20 not in repr(tokens)


def test_settings_overrides_reject_unknown_names(tmp_path):
    settings = load_settings({"HARNESS_INSTANCE_PATH": str(tmp_path)})
    assert settings.with_overrides({"port": 8080}).port == 8080
    with pytest.raises(ConfigError, match="nope"):
        settings.with_overrides({"nope": 1})


def test_db_upgrade_command_creates_the_schema(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_INSTANCE_PATH", str(tmp_path))
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "database schema up to date" in result.output and (tmp_path / "portal.db").exists()


def test_commands_report_configuration_errors_plainly(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("HARNESS_MAX_CELLS", "x")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code != 0 and "HARNESS_MAX_CELLS" in result.output


def test_db_upgrade_reports_an_unreachable_database(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("HARNESS_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code != 0 and "database unreachable" in result.output


@pytest.mark.parametrize("value", ["", " " * 40, "\t\n"])
def test_an_empty_or_blank_secret_key_in_the_environment_is_refused_naming_it(tmp_path, value):
    with pytest.raises(ConfigError, match="HARNESS_SECRET_KEY is empty or blank"):
        load_settings({"HARNESS_INSTANCE_PATH": str(tmp_path), "HARNESS_SECRET_KEY": value})
    with pytest.raises(ConfigError, match="HARNESS_SECRET_KEY is empty or blank"):
        load_settings({"HARNESS_ENV": "production", "HARNESS_INSTANCE_PATH": str(tmp_path),
                       "HARNESS_DATABASE_URL": "postgresql+psycopg://db/portal", "HARNESS_SECRET_KEY": value})


@pytest.mark.parametrize("content", ["", "   \n"])
def test_an_empty_or_blank_secret_key_file_is_refused_naming_the_file(tmp_path, content):
    (tmp_path / "secret_key").write_text(content)
    with pytest.raises(ConfigError, match=f"{tmp_path / 'secret_key'} is empty or blank"):
        load_settings({"HARNESS_INSTANCE_PATH": str(tmp_path)})


def test_the_generated_secret_key_is_written_whole_with_no_temporary_left(tmp_path):
    key = load_settings({"HARNESS_INSTANCE_PATH": str(tmp_path)}).secret_key
    assert (tmp_path / "secret_key").read_text() == key and len(key) >= 32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]
