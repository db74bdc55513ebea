"""One PostgreSQL connection per warm container, reopened when it was dropped (style guide 2.10)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from . import tx

T = TypeVar("T")
logger = logging.getLogger(__name__)
# Well inside the function's 30 s timeout: an unreachable database answers DB Error instead of a Lambda timeout.
CONNECT_TIMEOUT_SECONDS = 10


class Database:
    """Owns the process's connection (``autocommit=True``; transactions are explicit blocks)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.Connection[Any] | None = None

    def connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                logger.warning("database connection lost; reconnecting")
                self._conn.close()
            self._conn = psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        return self._conn

    def first_read(self, read: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run a request's first (read-only) database step, reconnecting once if the kept connection died.

        A server-side close is only noticed on first use; retrying a read that wrote nothing is safe.
        """
        conn = self.connection()
        try:
            return read(conn)
        except psycopg.OperationalError:
            if not conn.broken:
                raise
            logger.warning("database connection broken on first use; reconnecting once")
            return read(self.connection())

    def release(self) -> None:
        """End-of-request safety net: never carry an open transaction into the next invocation (no round trip
        unless one is open)."""
        if self._conn is not None:
            tx.ensure_idle(self._conn)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
