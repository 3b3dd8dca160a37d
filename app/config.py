"""Configuration: one frozen `Settings` built from `HARNESS_*` environment variables.

Defaults give the embedded setup (SQLite for data and flags, files under the instance
folder). Production points the same code at PostgreSQL and Redis; with
`HARNESS_ENV=production` the settings that must never fall back to a default (secret
key, database URL) are required and a missing one stops start-up with a clear message.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

MIB = 1024 * 1024
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class AdminToken:
    """A bearer token for the admin API, with the actor name written to the audit log."""

    actor: str
    token: str = field(repr=False)
    can_write: bool = True


@dataclass(frozen=True)
class Settings:
    """Everything the portal and the harness read from configuration."""

    instance_path: Path
    database_url: str
    flag_store_url: str
    upload_folder: Path
    secret_key: str = field(repr=False)
    environment: str = "development"
    admin_tokens: tuple[AdminToken, ...] = ()
    user_header: str = "X-Portal-User"
    trust_user_header: bool = False
    max_upload_bytes: int = 20 * MIB
    max_decompressed_bytes: int = 64 * MIB
    max_compression_ratio: int = 200
    max_cells: int = 250_000
    max_sheet_area: int = 2_000_000
    shadow_processes: int = 1
    shadow_workers: int = 1
    shadow_queue: int = 4
    shadow_timeout: float = 10.0
    shadow_same_path: bool = False
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2
    threads: int = 12
    request_body_timeout: float = 30.0
    # Deadlines on every dependency (issue 17): a stuck one costs a request at most these.
    db_timeout: float = 3.0
    db_connect_timeout: int = 2
    db_idle_in_transaction_timeout: float = 10.0
    flag_store_timeout: float = 0.5
    # The reconciler: `received` rows older than this are `interrupted`; how often it runs.
    interrupted_after: float = 300.0
    reconcile_interval: float = 60.0
    upload_fsync: bool = True
    # prometheus_client's multiprocess folder: it picks its value storage from this
    # variable when imported, so `harness serve` sets it before the workers start.
    metrics_dir: str | None = None
    # Rehearsal fault injection (app/harness/faults.py): None is off; a string (even
    # empty) allows it, starting with those faults. Refused in production.
    faults: str | None = None
    # The rollout controller (app/harness/rollout/): seconds between ticks; 0 keeps it out
    # of `harness serve` (then `harness rollout run` drives plans from its own process).
    rollout_interval_s: int = 10
    rollout_prometheus_url: str | None = None  # the in-serve controller's gates read Prometheus, not the database

    @property
    def is_production(self) -> bool:
        """True when running with `HARNESS_ENV=production`."""
        return self.environment == "production"

    def with_overrides(self, overrides: Mapping[str, object]) -> Settings:
        """A copy with the given fields replaced (tests and the app factory use it)."""
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **dict(overrides))  # type: ignore[arg-type]


def parse_admin_tokens(raw: str) -> tuple[AdminToken, ...]:
    """Parse `HARNESS_ADMIN_TOKENS`: comma-separated `actor:rw:TOKEN` or `actor:ro:TOKEN`."""
    tokens = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        parts = item.split(":", 2)
        if len(parts) != 3 or parts[1] not in ("rw", "ro") or not parts[0] or not parts[2]:
            raise ConfigError(
                "HARNESS_ADMIN_TOKENS entries must look like actor:rw:TOKEN or actor:ro:TOKEN"
            )
        actor, mode, token = parts
        if len(token) < 16:
            raise ConfigError(f"HARNESS_ADMIN_TOKENS: the token for {actor!r} is shorter than 16 characters")
        tokens.append(AdminToken(actor=actor, token=token, can_write=mode == "rw"))
    return tuple(tokens)


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


MIN_SECRET = 32


def _checked_secret(value: str, source: str) -> str:
    """The key, refused when empty, blank or short; the message names where it came from."""
    key = value.strip()
    if not key:
        raise ConfigError(f"the secret key in {source} is empty or blank; set a random key of at least "
                          f"{MIN_SECRET} characters")
    if len(key) < MIN_SECRET:
        raise ConfigError(f"the secret key in {source} is shorter than {MIN_SECRET} characters")
    return key


def _instance_secret(instance_path: Path) -> str:
    """A random per-installation key kept in the instance folder (never a fixed default).

    Written whole or not at all (a temporary file, flushed, then linked under its name), so
    a full disk at first start leaves no empty key file; a key file that is empty or blank
    anyway (edited by hand) stops start-up with a message naming it.
    """
    path = instance_path / "secret_key"
    try:
        return _checked_secret(path.read_text(), str(path))
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    partial = instance_path / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(key)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(partial, path)  # never replaces a key another worker wrote first
        except FileExistsError:
            return _checked_secret(path.read_text(), str(path))
        finally:
            partial.unlink(missing_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot write the generated secret key to {path}: {error.strerror or error}; "
                          "free space there or set HARNESS_SECRET_KEY") from None
    return key


def _flag_store_url(env: Mapping[str, str], database_url: str) -> str:
    """The flag store URL, refused here when malformed, so `harness serve` stops before gunicorn starts."""
    from flags import InvalidStoreUrl, check_store_url

    url = env.get("HARNESS_FLAG_STORE_URL") or database_url
    try:
        check_store_url(url)
    except InvalidStoreUrl as error:
        if env.get("HARNESS_FLAG_STORE_URL"):
            raise ConfigError(f"HARNESS_FLAG_STORE_URL: {error}") from None
        raise ConfigError(f"HARNESS_FLAG_STORE_URL is unset, so the flag store is HARNESS_DATABASE_URL: {error}") from None
    return url


def load_settings(env: Mapping[str, str] | None = None, instance_path: Path | None = None) -> Settings:
    """Build `Settings` from the environment; raises `ConfigError` on bad values."""
    env = os.environ if env is None else env
    environment = env.get("HARNESS_ENV", "development")
    if environment not in ("development", "production", "test"):
        raise ConfigError(f"HARNESS_ENV must be development, production or test, got {environment!r}")
    instance = Path(env.get("HARNESS_INSTANCE_PATH") or instance_path or Path.cwd() / "instance").resolve()

    database_url = env.get("HARNESS_DATABASE_URL", "")
    if not database_url:
        if environment == "production":
            raise ConfigError("HARNESS_DATABASE_URL is required when HARNESS_ENV=production")
        database_url = f"sqlite:///{instance / 'portal.db'}"
    secret_key = env.get("HARNESS_SECRET_KEY")
    if secret_key is not None:  # set, even to "": it must be a real key
        secret_key = _checked_secret(secret_key, "HARNESS_SECRET_KEY")
    elif environment == "production":
        raise ConfigError("HARNESS_SECRET_KEY is required when HARNESS_ENV=production")
    else:
        secret_key = _instance_secret(instance)

    faults = env.get("HARNESS_FAULTS")
    if faults is not None and environment == "production":
        raise ConfigError("HARNESS_FAULTS is refused when HARNESS_ENV=production (fault injection is for rehearsals)")

    return Settings(
        instance_path=instance,
        database_url=database_url,
        flag_store_url=_flag_store_url(env, database_url),
        upload_folder=Path(env.get("HARNESS_UPLOAD_FOLDER") or instance / "uploads").resolve(),
        secret_key=secret_key,
        environment=environment,
        admin_tokens=parse_admin_tokens(env.get("HARNESS_ADMIN_TOKENS", "")),
        user_header=env.get("HARNESS_USER_HEADER", "X-Portal-User"),
        trust_user_header=_bool(env, "HARNESS_TRUST_USER_HEADER", False),
        max_upload_bytes=_int(env, "HARNESS_MAX_UPLOAD_MB", 20) * MIB,
        max_decompressed_bytes=_int(env, "HARNESS_MAX_DECOMPRESSED_MB", 64) * MIB,
        max_compression_ratio=_int(env, "HARNESS_MAX_COMPRESSION_RATIO", 200, minimum=2),
        max_cells=_int(env, "HARNESS_MAX_CELLS", 250_000, minimum=100),
        max_sheet_area=_int(env, "HARNESS_MAX_SHEET_AREA", 2_000_000, minimum=10_000),
        shadow_processes=_int(env, "HARNESS_SHADOW_PROCESSES", 1, minimum=0),
        shadow_workers=_int(env, "HARNESS_SHADOW_WORKERS", 1),
        shadow_queue=_int(env, "HARNESS_SHADOW_QUEUE", 4, minimum=0),
        shadow_timeout=float(_int(env, "HARNESS_SHADOW_TIMEOUT_S", 10)),
        shadow_same_path=_bool(env, "HARNESS_SHADOW_SAME_PATH", False),
        host=env.get("HARNESS_HOST", "127.0.0.1"),
        port=_int(env, "HARNESS_PORT", 5000),
        workers=_int(env, "HARNESS_WORKERS", 2),
        threads=_int(env, "HARNESS_THREADS", 12),
        request_body_timeout=float(_int(env, "HARNESS_REQUEST_BODY_TIMEOUT_S", 30, minimum=0)),
        db_timeout=float(_int(env, "HARNESS_DB_TIMEOUT_S", 3)),
        db_connect_timeout=_int(env, "HARNESS_DB_CONNECT_TIMEOUT_S", 2, minimum=2),
        db_idle_in_transaction_timeout=float(_int(env, "HARNESS_DB_IDLE_TX_TIMEOUT_S", 10)),
        flag_store_timeout=_int(env, "HARNESS_FLAG_STORE_TIMEOUT_MS", 500, minimum=10) / 1000,
        interrupted_after=float(_int(env, "HARNESS_INTERRUPTED_AFTER_S", 300)),
        reconcile_interval=float(_int(env, "HARNESS_RECONCILE_INTERVAL_S", 60, minimum=0)),
        upload_fsync=_bool(env, "HARNESS_UPLOAD_FSYNC", True),
        metrics_dir=env.get(MULTIPROC_ENV) or None,
        faults=faults,
        rollout_interval_s=_int(env, "HARNESS_ROLLOUT_INTERVAL_S", 10, minimum=0),
        rollout_prometheus_url=(env.get("HARNESS_ROLLOUT_PROMETHEUS_URL") or "").strip() or None,
    )
