"""The rollout rules as pure functions: user-id normalisation, sticky buckets, evaluation.

Why not flipper's `ConsistentHashPercentageBucketer`: it scores a user k/100 and enables
when score <= percentage (one point too many, bucket 0 always on), leaves the flag name
out of the hash (every flag enables the same users first) and hashes `1` and `"1"`
differently. Here a user's bucket is a 64-bit BLAKE2b hash of (flag, normalised user id)
reduced to one of `BUCKETS` = 1,000,000 slots, and the user is on when
`bucket < percent * 10_000`. That is exact to the slot, sticky (same inputs, same bucket),
monotonic (on at p implies on at every q > p) and independent per flag.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal, InvalidOperation
from hashlib import blake2b

from flags.decision import Reason
from flags.errors import InvalidPercent, InvalidUserId
from flags.state import FlagState

__all__ = [
    "BUCKETS",
    "bucket",
    "evaluate",
    "is_in_rollout",
    "normalise_user_id",
    "parse_percent",
]

BUCKETS = 1_000_000
SLOTS_PER_PERCENT = BUCKETS // 100
MAX_DECIMALS = 4


def normalise_user_id(user_id: object) -> str:
    """The canonical string for a user id: `1`, `"1"` and `" 1 "` are the same user."""
    if user_id is None or isinstance(user_id, bool):
        raise InvalidUserId(user_id, f"user id must be a string or an integer, got {user_id!r}")
    if isinstance(user_id, int):
        return str(user_id)
    if isinstance(user_id, float) and user_id.is_integer():
        return str(int(user_id))
    if isinstance(user_id, bytes):
        try:
            user_id = user_id.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidUserId(user_id, "user id bytes are not UTF-8") from None
    if not isinstance(user_id, str):
        raise InvalidUserId(user_id, f"user id must be a string or an integer, got {type(user_id).__name__}")
    text = unicodedata.normalize("NFC", user_id.strip())
    if not text:
        raise InvalidUserId(user_id, "user id is empty")
    return text


def bucket(flag: str, user: str) -> int:
    """The user's sticky slot for this flag, in 0..BUCKETS-1 (user already normalised)."""
    digest = blake2b(f"{flag}\x1f{user}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def is_in_rollout(flag: str, user: str, percent: float) -> bool:
    """True when the user's slot falls under the rollout percent."""
    if percent <= 0:
        return False
    if percent >= 100:
        return True
    return bucket(flag, user) < round(percent * SLOTS_PER_PERCENT)


def parse_percent(value: object) -> float:
    """Validate a rollout percent (number or numeric string) in 0..100, at most 4 decimals."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise InvalidPercent(value, f"percent must be a number from 0 to 100, got {value!r}")
    try:
        exact = Decimal(str(value).strip().removesuffix("%"))
    except InvalidOperation:
        raise InvalidPercent(value, f"percent must be a number from 0 to 100, got {value!r}") from None
    if not exact.is_finite() or not 0 <= exact <= 100:
        raise InvalidPercent(value, f"percent must be from 0 to 100, got {value!r}")
    if exact != exact.quantize(Decimal(1).scaleb(-MAX_DECIMALS)):
        raise InvalidPercent(value, f"percent takes at most {MAX_DECIMALS} decimals, got {value!r}")
    return float(exact)


def evaluate(state: FlagState, user: str | None) -> tuple[bool, str]:
    """Apply kill switch -> deny -> allow -> sticky percentage -> off; returns (enabled, reason).

    `user` is a normalised id, or None when the caller had no usable id: such a request
    only follows the kill switch and a 100% rollout.
    """
    if state.killed:
        return False, Reason.KILL_SWITCH
    if user is None:
        if state.percent >= 100:
            return True, Reason.PERCENTAGE
        return False, Reason.OFF
    if user in state.deny:
        return False, Reason.DENY_LIST
    if user in state.allow:
        return True, Reason.ALLOW_LIST
    if is_in_rollout(state.name, user, state.percent):
        return True, Reason.PERCENTAGE
    return False, Reason.OFF
