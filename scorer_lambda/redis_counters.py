"""The rate-limit counter store: one kept Redis connection per process, every use bounded by a deadline (P9).

Imported only when rate limiting is enabled (by :mod:`scorer_lambda.rate_limiter`): redis-py costs about 35 ms
of import time, which a cold start with rate limiting off must not pay.

* Counting is what django-ratelimit does through Django's cache, so both sides move the same counters:
  ``SET key 1 NX EX ttl`` (Django's ``cache.add``); when the key already existed, ``INCR key``. Values are plain
  integers, as Django's Redis cache stores integers.
* The connection is opened on first use and kept, like the database connection (:mod:`scorer_lambda.db.connection`);
  after any failure it is closed and dropped, and the next request opens a new one.
* Bounded time: the caller passes a deadline (a ``time.monotonic()`` instant). Connecting waits at most until the
  deadline, and every reply is awaited with the time that is left (``can_read(timeout)``), so a Redis that is
  down, unreachable, hung or paused costs at most the budget (measured: 250-252 ms; refused: under 1 ms). Not
  covered: the DNS lookup of a new connection (``getaddrinfo`` takes no timeout; the VPC resolver answers in well
  under a millisecond), and a handshake (TLS, AUTH, SELECT) whose every step answers just before its own timeout
  (each step may wait for the time that was left when the connection was started).
* The connection speaks RESP2 (no ``HELLO``, which Redis before 6 lacks) and skips ``CLIENT SETINFO``, so a new
  connection costs no round trip beyond TCP (and TLS, AUTH and SELECT where the URL asks for them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from redis.connection import AbstractConnection, Connection, parse_url

# Timeouts a connection is built with; every use replaces them by the time left before the caller's deadline.
DEFAULT_TIMEOUT_SECONDS = 0.25


class CounterStoreTimeout(TimeoutError):
    """The counter store did not answer before the request's deadline."""


class RedisCounterStore:
    """Counters in the Redis named by a ``redis://`` / ``rediss://`` URL (``CELERY_BROKER_URL``)."""

    def __init__(self, url: str, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        """Parse the URL and build (not open) one connection, so unusable options fail at cold start (P7).

        Raises whatever redis-py raises for a URL it cannot use (ValueError, TypeError for an unknown option,
        RedisError for a bad TLS option); the caller reports it without the value, which holds the password.
        """
        options: dict[str, Any] = parse_url(url)
        self._connection_class: type[AbstractConnection] = options.pop("connection_class", Connection)
        options.update(protocol=2, lib_name=None, lib_version=None, health_check_interval=0,
                       socket_timeout=DEFAULT_TIMEOUT_SECONDS, socket_connect_timeout=DEFAULT_TIMEOUT_SECONDS)
        self._options = options
        self._monotonic = monotonic
        self._new_connection()  # construction only: no I/O
        self._conn: AbstractConnection | None = None

    def hit(self, key: str, ttl_seconds: int, deadline: float) -> int | None:
        """Count one request on ``key``; returns the count after it, or None when the key vanished mid-way.

        ``SET NX EX`` creates the window's counter at 1 with its lifetime; when it existed, ``INCR`` counts. If the
        key expired between the two commands, ``INCR`` has just created it again at 1 without a lifetime: it is
        given one (a counter must never outlive its window) and the request is allowed, as the contract says.
        Any failure closes and drops the connection before it propagates.
        """
        try:
            conn = self._conn if self._conn is not None else self._connect(deadline)
            if self._command(conn, deadline, "SET", key, 1, "NX", "EX", ttl_seconds) is not None:
                return 1  # b"OK": this request opened the window's counter
            count = int(self._command(conn, deadline, "INCR", key))
            if count == 1:
                self._command(conn, deadline, "EXPIRE", key, ttl_seconds)
                return None
            return count
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.disconnect()  # never raises: socket errors on shutdown and close are swallowed

    def _new_connection(self) -> AbstractConnection:
        return self._connection_class(**self._options)

    def _remaining(self, deadline: float) -> float:
        remaining = deadline - self._monotonic()
        if remaining <= 0:
            raise CounterStoreTimeout("rate-limit budget spent")
        return remaining

    def _connect(self, deadline: float) -> AbstractConnection:
        conn = self._new_connection()
        # TCP connect, and each step of the handshake (TLS, AUTH, SELECT) after it, waits at most the time left.
        conn.socket_connect_timeout = conn.socket_timeout = self._remaining(deadline)
        conn.connect()
        self._conn = conn
        return conn

    def _command(self, conn: AbstractConnection, deadline: float, *args: Any) -> Any:
        # Replies are a few bytes: once the first of them is readable the rest is there too, so waiting for
        # readability with the time left bounds the whole command.
        conn.send_command(*args)
        if not conn.can_read(timeout=self._remaining(deadline)):
            raise CounterStoreTimeout("counter store did not answer within the rate-limit budget")
        return conn.read_response()
