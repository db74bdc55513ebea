"""E1 rate limiting: decide whether an authenticated key is over its limit (scoring contract §4.3, production P9).

The decision is the legacy one (:mod:`scorer_lambda.domain.rate_limit`) on the legacy Lambdas' own counters, so a
partner's limit holds across both sides during a split. What differs is failure: when the counter store fails or
is slow the request is **allowed** (fail open, deliberate difference 23; the legacy side answers 500), with one
warning line, and the connection is opened anew on the next request. Rate limiting is never a reason for an
error answer or for a request to wait more than ``BUDGET_SECONDS``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from .domain.rate_limit import counter_key, is_over_limit, parse_rate, window_for
from .settings import CELERY_BROKER_URL, Settings, SettingsError

logger = logging.getLogger(__name__)

BUDGET_SECONDS = 0.25  # P9: more than this spent on the counter store allows the request


class CounterStore(Protocol):
    def hit(self, key: str, ttl_seconds: int, deadline: float) -> int | None: ...

    def close(self) -> None: ...


class RateLimiter:
    """One per application (per process in Lambda, per thread in the local server), like the database holder."""

    def __init__(self, store: CounterStore | None, *, budget_seconds: float = BUDGET_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._budget = budget_seconds
        self._monotonic = monotonic

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """Disabled unless ``RATELIMIT_ENABLE``; enabled, the Redis client is imported and the URL checked now.

        Cold start is the place for both: the import is paid once in the init phase rather than by a request, and a
        URL redis-py cannot use stops the process with a message that names the variable, never its value (P7).
        """
        if not settings.ratelimit_enable or not settings.celery_broker_url:
            return cls(None)
        from .redis_counters import RedisCounterStore  # imports redis-py: only when rate limiting is enabled

        try:
            store = RedisCounterStore(settings.celery_broker_url)
        except Exception as exc:  # ValueError, TypeError, RedisError…: the message may quote the URL
            raise SettingsError(f"{CELERY_BROKER_URL} is not a usable Redis URL ({type(exc).__name__})") from None
        return cls(store)

    @property
    def enabled(self) -> bool:
        return self._store is not None

    def is_limited(self, prefix: str, rate_limit: str | None, now: datetime) -> bool:
        """Count this request of the key ``prefix`` and say whether it must be answered 429.

        Unlimited keys (NULL or ``''``) and a disabled limiter never touch the store. A value that is not a rate is
        the key's misconfiguration, not the caller's fault: allowed, with a warning.
        """
        if self._store is None or not rate_limit:  # NULL or '': unlimited
            return False
        rate = parse_rate(rate_limit)
        if rate is None:
            logger.warning("rate_limit of an API key is not a rate; request allowed",
                           extra={"api_key_prefix": prefix, "rate_limit": rate_limit})
            return False
        key = counter_key(rate, prefix, window_for(prefix, rate.period, int(now.timestamp())))
        started = self._monotonic()
        try:
            count = self._store.hit(key, rate.ttl_seconds, started + self._budget)
        except Exception as exc:
            # The store has dropped its connection; the next request reconnects. Only the class is logged: redis-py
            # messages name the host, and nothing here may carry the URL or its password.
            self._allowed("rate-limit counter store failed; request allowed", started, type(exc).__name__)
            return False
        if self._monotonic() - started > self._budget:
            self._allowed("rate-limit counter store answered too late; request allowed", started, None)
            return False
        return count is not None and is_over_limit(rate, count)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def _allowed(self, message: str, started: float, error_class: str | None) -> None:
        elapsed_ms = round((self._monotonic() - started) * 1000, 1)
        logger.warning(message, extra={"error_class": error_class, "elapsed_ms": elapsed_ms})
