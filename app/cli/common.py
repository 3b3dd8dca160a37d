"""What every command shares: the settings, loaded once per invocation, or a clear error."""

from __future__ import annotations

import click

from app.config import ConfigError, Settings, load_settings


def settings() -> Settings:
    """The `HARNESS_*` settings; a malformed one stops the command with its message (exit 1)."""
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None
