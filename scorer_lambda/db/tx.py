"""Explicit transaction statements, queued like any other statement so they share pipeline round trips.

psycopg's ``transaction()`` blocks sync the pipeline at every boundary (one extra round trip each); a scoring run
instead queues BEGIN / SAVEPOINT / COMMIT itself and rolls back explicitly on failure.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from .pending import Executor, Pending, nothing, run

logger = logging.getLogger(__name__)


def begin(conn: Executor) -> Pending[None]:
    return run(conn, "BEGIN", None, nothing)


def commit(conn: Executor) -> Pending[None]:
    return run(conn, "COMMIT", None, nothing)


# P2.2: a row or advisory lock held elsewhere (a legacy Lambda, a stuck session) fails the request after this long.
LOCK_TIMEOUT = "3s"


def bound_lock_waits(conn: Executor) -> Pending[None]:
    """Bound every lock wait of this transaction (transaction-scoped, so no session state for the proxy)."""
    return run(conn, "SELECT set_config('lock_timeout', %s, true)", (LOCK_TIMEOUT,), nothing)


def relax_durability(conn: Executor) -> Pending[None]:
    """Let this transaction's COMMIT return before its WAL record reaches disk (for best-effort rows only)."""
    return run(conn, "SET LOCAL synchronous_commit TO off", None, nothing)


def savepoint(conn: Executor, name: str) -> Pending[None]:
    return run(conn, f"SAVEPOINT {_identifier(name)}", None, nothing)


def rollback_to(conn: Executor, name: str) -> Pending[None]:
    return run(conn, f"ROLLBACK TO SAVEPOINT {_identifier(name)}", None, nothing)


def ensure_idle(conn: psycopg.Connection[Any]) -> None:
    """Roll back whatever transaction a failure left open, so the kept connection is clean for the next request."""
    if conn.closed or conn.broken:
        return
    if conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
        try:
            conn.execute("ROLLBACK")
        except psycopg.Error:
            logger.warning("rollback after a failure did not succeed", exc_info=True)


def _identifier(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"not a plain identifier: {name!r}")
    return name
