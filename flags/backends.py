"""Which flag store a URL names: the one place that knows every backend.

`open_store(url)` picks the store from one URL: `memory://`, `sqlite:///path`,
`postgresql+psycopg://...` (any SQLAlchemy URL) or `redis://host:port/db?prefix=...`.
The concrete stores import `flags.store`; this module imports them, lazily, so a
deployment without Redis never loads the Redis client.
"""

from __future__ import annotations

from flags.errors import InvalidStoreUrl
from flags.store import FlagStore, MemoryFlagStore

__all__ = ["open_store"]


def open_store(url: str, **options: object) -> FlagStore:
    """The store a URL names: memory://, any SQLAlchemy URL (sqlite, postgresql) or redis://."""
    if not isinstance(url, str) or "://" not in url and not url.startswith("sqlite:"):
        raise InvalidStoreUrl(str(url), f"flag store URL must look like scheme://..., got {url!r}")
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        return MemoryFlagStore()
    if scheme in ("redis", "rediss", "unix"):
        from flags.redis_store import RedisFlagStore

        return RedisFlagStore.from_url(url, **options)  # type: ignore[arg-type]
    if scheme.split("+", 1)[0] in ("sqlite", "postgresql", "postgres"):
        from flags.sql_store import SqlFlagStore

        return SqlFlagStore.from_url(url, **options)  # type: ignore[arg-type]
    raise InvalidStoreUrl(
        url, f"unsupported flag store {scheme!r}: use memory://, sqlite:///path, postgresql+psycopg://... or redis://"
    )
