"""The Redis flag store: flipper's `RedisFeatureFlagStore` plus batch read, WATCH/MULTI
updates and an audit list.

Keys, under a prefix (URL query `?prefix=...`, default `harness:flags`, so test runs and
environments can share one Redis without touching each other's keys):

- `<prefix>:features/<flag>`: flipper's serialized item (flipper's own key layout);
- `<prefix>:audit`: a list of JSON audit entries, newest first (LPUSH).

An update WATCHes the flag keys, reads, and writes states and audit entries in one
MULTI/EXEC; a concurrent write aborts the EXEC and the update is retried.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flipper.contrib.redis import RedisFeatureFlagStore
from redis import ConnectionPool, Redis
from redis.exceptions import RedisError, WatchError

from flags.audit import AuditEntry, AuditQuery
from flags.errors import InvalidStoreUrl, StoreUnavailable
from flags.state import FlagState
from flags.store import Change, FlagStore, check_versions, retrying

__all__ = ["DEFAULT_PREFIX", "RedisFlagStore"]

DEFAULT_PREFIX = "harness:flags"
# History is filtered client-side; this bounds how far back one listing looks.
AUDIT_SCAN_LIMIT = 10_000


class RedisFlagStore(RedisFeatureFlagStore, FlagStore):
    """Flags as flipper items in Redis, with an audit list beside them."""

    def __init__(self, redis: Redis, prefix: str = DEFAULT_PREFIX, description: str = "redis") -> None:
        super().__init__(redis, base_key=f"{prefix}:features")
        self.prefix = prefix
        self.audit_key = f"{prefix}:audit"
        self.description = description

    @classmethod
    def from_url(cls, url: str, timeout: float = 0.5) -> RedisFlagStore:
        """A store for `redis://host:port/db?prefix=...` with short socket timeouts."""
        client_url, prefix, description = _parse(url)
        try:
            client = Redis.from_url(client_url, socket_timeout=timeout, socket_connect_timeout=timeout)
        except ValueError as error:
            raise InvalidStoreUrl(url, f"bad redis flag store URL: {error}") from None
        return cls(client, prefix=prefix, description=description)

    @staticmethod
    def check_url(url: str) -> None:
        """Raise `InvalidStoreUrl` for a malformed URL (nothing is connected)."""
        client_url, _, _ = _parse(url)
        try:
            ConnectionPool.from_url(client_url)
        except ValueError as error:
            raise InvalidStoreUrl(url, f"bad redis flag store URL: {error}") from None

    def persistence_off(self) -> bool | None:
        """True when this Redis keeps nothing across a restart (no RDB snapshots, no AOF):
        a restart then resets every flag. None when it cannot tell (CONFIG refused, unreachable)."""
        try:
            save = self._redis.config_get("save").get("save", "")
            appendonly = self._redis.config_get("appendonly").get("appendonly", "no")
        except RedisError:
            return None
        return not str(save).strip() and str(appendonly).lower() == "no"

    def close(self) -> None:
        """Close the connection pool."""
        self._redis.close()

    def read(self, names: Sequence[str]) -> dict[str, FlagState]:
        """The named flags' states in one MGET."""
        names = list(names)
        if not names:
            return {}
        try:
            raws = self._redis.mget([self._key_name(name) for name in names])
        except RedisError as error:
            raise StoreUnavailable(self.description, "read", error) from error
        return {name: FlagState.deserialize(raw) for name, raw in zip(names, raws) if raw}

    def update(self, names: Sequence[str], change: Change) -> list[FlagState]:
        """WATCH the flags, apply `change`, write states and audit in one MULTI/EXEC."""
        keys = {name: self._key_name(name) for name in names}

        def attempt() -> list[FlagState]:
            with self._redis.pipeline() as pipe:
                pipe.watch(*keys.values())
                raws = pipe.mget(list(keys.values()))
                current: dict[str, FlagState | None] = {
                    name: FlagState.deserialize(raw) if raw else None for name, raw in zip(keys, raws)
                }
                new_states, entries = change(current)
                check_versions(current, new_states)
                pipe.multi()
                for state in new_states:
                    pipe.set(keys[state.name], state.serialize())
                if entries:
                    # LPUSH a b leaves b at the head: push oldest first so the list reads newest first.
                    pipe.lpush(self.audit_key, *[entry.to_json() for entry in entries])
                pipe.execute()
                return list(new_states)

        try:
            return retrying(self.description, attempt, WatchError)
        except RedisError as error:
            raise StoreUnavailable(self.description, "update", error) from error

    def history(self, query: AuditQuery) -> list[AuditEntry]:
        """Audit entries matching the query, newest first (looks at the last 10,000)."""
        try:
            raws = self._redis.lrange(self.audit_key, 0, AUDIT_SCAN_LIMIT - 1)
        except RedisError as error:
            raise StoreUnavailable(self.description, "history", error) from error
        found: list[AuditEntry] = []
        for raw in raws:
            entry = AuditEntry.from_dict(json.loads(raw))
            if query.matches(entry):
                found.append(entry)
                if len(found) >= query.limit:
                    break
        return found


def _parse(url: str) -> tuple[str, str, str]:
    """(URL for the Redis client, key prefix, description without credentials)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        raise InvalidStoreUrl(url, f"bad redis flag store URL: {error}") from None
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((value for key, value in query if key == "prefix"), DEFAULT_PREFIX)
    if not prefix:
        raise InvalidStoreUrl(url, "redis flag store: prefix must not be empty")
    database = parts.path.lstrip("/")
    if parts.scheme != "unix" and database and not database.isdigit():
        raise InvalidStoreUrl(url, f"redis flag store: the database must be a number, got {database!r}")
    rest = urlencode([(key, value) for key, value in query if key != "prefix"])
    client_url = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment))
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return client_url, prefix, f"{parts.scheme}://{netloc}{parts.path} (prefix {prefix})"
