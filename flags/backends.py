"""Which flag store a URL names: the one place that knows every backend.

`open_store(url)` picks the store from one URL: `memory://`, `sqlite:///path`,
`postgresql+psycopg://...` (any SQLAlchemy URL) or `redis://host:port/db?prefix=...`;
`check_store_url(url)` refuses a malformed one without connecting to anything (the
settings call it, so `harness serve` stops before gunicorn starts). The concrete stores
import `flags.store`; this module imports them, lazily, so a deployment without Redis
never loads the Redis client.
"""

from __future__ import annotations

from flags.errors import InvalidStoreUrl
from flags.store import FlagStore, MemoryFlagStore

__all__ = ["check_store_url", "open_store"]

REDIS_SCHEMES = ("redis", "rediss", "unix")
SQL_SCHEMES = ("sqlite", "postgresql", "postgres")


def _scheme(url: object) -> str:
    if not isinstance(url, str) or "://" not in url and not url.startswith("sqlite:"):
        raise InvalidStoreUrl(str(url), f"flag store URL must look like scheme://..., got {url!r}")
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory" or scheme in REDIS_SCHEMES or scheme.split("+", 1)[0] in SQL_SCHEMES:
        return scheme
    raise InvalidStoreUrl(
        url, f"unsupported flag store {scheme!r}: use memory://, sqlite:///path, postgresql+psycopg://... or redis://"
    )


def open_store(url: str, **options: object) -> FlagStore:
    """The store a URL names: memory://, any SQLAlchemy URL (sqlite, postgresql) or redis://."""
    scheme = _scheme(url)
    if scheme == "memory":
        return MemoryFlagStore()
    if scheme in REDIS_SCHEMES:
        from flags.redis_store import RedisFlagStore

        return RedisFlagStore.from_url(url, **options)  # type: ignore[arg-type]
    from flags.sql_store import SqlFlagStore

    return SqlFlagStore.from_url(url, **options)  # type: ignore[arg-type]


def check_store_url(url: str) -> None:
    """Raise `InvalidStoreUrl` unless `url` names a store that could be opened; connects to nothing."""
    scheme = _scheme(url)
    if scheme in REDIS_SCHEMES:
        from flags.redis_store import RedisFlagStore

        RedisFlagStore.check_url(url)
    elif scheme != "memory":
        from flags.sql_store import SqlFlagStore

        SqlFlagStore.check_url(url)
