"""Per-key rate limits on E1: rate parsing, window and counter key, exactly as the legacy Lambdas derive them.

The legacy V2 Lambda counts with django-ratelimit 4.1 in the Django cache (the Redis named by
``CELERY_BROKER_URL``). The scorer counts **in the same Redis keys** (production contract P9), so that a partner's
limit holds across both sides while traffic is split; every function here reproduces the library's derivation
bit for bit (``_split_rate``, ``_get_window``, ``_make_cache_key``) and Django's cache key format. No I/O.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass

# django-ratelimit's regular expression, matched at the start of the value (``re.match``): "125/15m" and also
# "125/15mx" are valid; "15m", " 125/15m" and "" are not.
_RATE_RE = re.compile(r"([\d]+)/([\d]*)([smhd])?")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# The legacy decorators count every V2 key in the group "registry" (group names are part of the hashed key).
GROUP = "registry"
# Django's cache key is "<KEY_PREFIX>:<VERSION>:<key>" with the defaults "" and 1; "rl:" is
# RATELIMIT_CACHE_PREFIX's default.
CACHE_KEY_PREFIX = ":1:rl:"
# django-ratelimit keeps a counter this many seconds past its window (EXPIRATION_FUDGE).
EXPIRATION_FUDGE_SECONDS = 5


@dataclass(frozen=True)
class Rate:
    """``count`` requests per ``period`` seconds."""

    count: int
    period: int

    @property
    def ttl_seconds(self) -> int:
        """Lifetime of a counter in Redis: its window plus the library's fudge."""
        return self.period + EXPIRATION_FUDGE_SECONDS


def parse_rate(rate_limit: str) -> Rate | None:
    """``_split_rate``: ``count/[n]unit``, the unit ``s`` when absent, ``n`` multiplies it when present.

    None for a value the expression does not match, or one with a zero-length period (``5/0m``), for which the
    library would raise: the key is misconfigured and the caller allows the request (P9).
    """
    match = _RATE_RE.match(rate_limit)
    if match is None:
        return None
    count, multiplier, unit = match.groups()
    period = _UNIT_SECONDS[unit or "s"]
    if multiplier:
        period *= int(multiplier)
    if period <= 0:
        return None
    return Rate(int(count), period)


def window_for(prefix: str, period: int, timestamp: int) -> int:
    """``_get_window``: the end of the fixed window that holds ``timestamp`` (integer seconds).

    Windows are ``period`` long and shifted per key by ``crc32(prefix) % period`` so that all keys do not reset
    at the same instant; the returned value is the first instant of the form ``k·period + offset`` at or after
    ``timestamp`` (so the window covers ``(w - period, w]``). A one-second period has no offset.
    """
    if period == 1:
        return timestamp
    start = timestamp - timestamp % period + zlib.crc32(prefix.encode("utf-8")) % period
    return start + period if start < timestamp else start


def counter_key(rate: Rate, prefix: str, window: int) -> str:
    """``_make_cache_key`` under Django's key format: ``:1:rl:`` + sha256 of group, normalised rate, prefix, window.

    The rate enters in its normalised form ``<count>/<seconds>s``, so ``125/15m`` and ``125/900s`` share counters,
    as on the legacy side.
    """
    parts = f"{GROUP}{rate.count}/{rate.period}s{prefix}{window}"
    return CACHE_KEY_PREFIX + hashlib.sha256(parts.encode("utf-8")).hexdigest()


def is_over_limit(rate: Rate, count: int) -> bool:
    """A request is rejected iff the counter, after counting it, exceeds the limit (rejected requests count too)."""
    return count > rate.count
