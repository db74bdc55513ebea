"""One PostgreSQL connection per warm container, safe behind RDS Proxy and bounded in time (production contract
P1, P2.1).

* No session state: statements are never prepared server-side (``prepare_threshold=None``), so RDS Proxy never
  pins the connection and PgBouncer in transaction mode works; everything else is transaction-scoped.
* Failure isolation: after a failure that may leave the kept connection in an unknown state it is closed, and the
  next request opens a new one; an open transaction is never carried into the next request.
* Bounded time: connecting takes at most 5 s; a request's database I/O ends at its deadline, when a watchdog shuts
  the socket down (a silent network never answers, so only the client can end the wait).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.abc import PQGen
from psycopg.pq import TransactionStatus

from ..errors import DatabaseFailure
from ..metrics import DbMeter
from .failures import is_session_unsafe

T = TypeVar("T")
logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5
# How long one request may use the database (P2.1: a silent connection is detected within 10 s); the function's
# timeout is 30 s, so the answer still leaves well before it.
REQUEST_IO_SECONDS = 10.0
# libpq's own detection for a network that drops packets: unacknowledged data and unanswered keepalives.
_CONNECT_OPTIONS: dict[str, Any] = {
    "autocommit": True,
    "connect_timeout": CONNECT_TIMEOUT_SECONDS,
    "prepare_threshold": None,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
    "tcp_user_timeout": int(REQUEST_IO_SECONDS * 1000),
}


# psycopg's generators that end in a wait for the server: ``_execute_gen`` outside a pipeline (a batch's query, or
# a statement with its Sync: one ReadyForQuery each), and, should a pipeline be used, its sync or exit and a flush
# that waits for queued results. The scorer uses nothing else of psycopg that talks to the server (no
# ``transaction()``, ``commit()``, ``stream()`` or COPY); the round-trip test checks the count against the wire.
_ROUND_TRIP_GENERATORS = frozenset({"_sync_gen", "_exit_gen", "_fetch_gen"})


class MeteredConnection(psycopg.Connection[Any]):
    """A psycopg connection that adds its time in the driver and its round trips to the request's ``DbMeter``.

    Every network exchange of psycopg goes through ``wait``: two clock reads and a name lookup per call, no I/O.
    """

    meter: DbMeter
    _batch_cursor: psycopg.ClientCursor[Any] | None = None

    def batch_cursor(self) -> psycopg.ClientCursor[Any]:
        """The client-side-binding cursor of this connection's batches, made once: a cursor's first execute sets up
        its adapters, which costs about 10 µs per batch when every batch makes its own."""
        if self._batch_cursor is None:
            self._batch_cursor = psycopg.ClientCursor(self)
        return self._batch_cursor

    def wait(self, gen: PQGen[T], interval: float = 0.1, timeout: float | None = None) -> T:
        meter = self.meter
        name = gen.gi_code.co_name  # type: ignore[attr-defined]  # a generator object
        if name in _ROUND_TRIP_GENERATORS or (name == "_execute_gen" and self._pipeline is None):
            meter.round_trips += 1
        started = time.perf_counter()
        try:
            return super().wait(gen, interval, timeout)
        finally:
            meter.seconds += time.perf_counter() - started


class DeadlinePassed(psycopg.OperationalError):
    """The request's database time is used up; the connection was cut and is not used again in this request."""


class Database:
    """Owns the process's connection (``autocommit=True``; transactions are explicit blocks)."""

    def __init__(self, url: str, *, request_io_seconds: float = REQUEST_IO_SECONDS) -> None:
        self._url = url
        self._conn: psycopg.Connection[Any] | None = None
        self._discard = False
        self._watchdog = _Watchdog(request_io_seconds)
        # The current request's database cost (P10), reset by the application at the start of every request.
        self.meter = DbMeter()

    def begin_request(self) -> None:
        """Start the request's database deadline (armed until ``release``)."""
        self._watchdog.arm(self._current_connection)

    def connection(self) -> psycopg.Connection[Any]:
        if self._watchdog.has_fired():
            raise DeadlinePassed("database deadline of the request passed")
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                logger.warning("database connection lost; reconnecting")
                self._conn.close()
            self._conn = None
            started = time.perf_counter()
            try:
                conn = MeteredConnection.connect(self._url, **_CONNECT_OPTIONS)
            finally:  # a connection attempt waits on the server too: its time counts, and its startup exchange
                self.meter.seconds += time.perf_counter() - started
                self.meter.round_trips += 1
            conn.meter = self.meter
            self._conn = conn
        return self._conn

    def first_read(self, read: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run a request's first (read-only) database step, reconnecting once if the kept connection died.

        A server-side close is only noticed on first use; retrying a read that wrote nothing is safe.
        """
        conn = self.connection()
        try:
            return read(conn)
        except psycopg.OperationalError:
            if not conn.broken or self._watchdog.has_fired():
                raise
            logger.warning("database connection broken on first use; reconnecting once")
            return read(self.connection())

    def note_failure(self, exc: BaseException) -> None:
        """Remember a failure that may have left the connection in an unknown state: it is closed at release.

        A ``DatabaseFailure`` (B1/B2/B7, COMMIT, the ERROR write, a cache write) always counts: a failed COMMIT
        or a pipeline that failed midway is not worth the risk of reusing.
        """
        if isinstance(exc, DatabaseFailure) or is_session_unsafe(exc):
            self._discard = True

    def release(self) -> None:
        """End of request: stop the deadline, then leave the connection idle or close it (no round trip unless a
        transaction is still open)."""
        self._watchdog.disarm()
        conn, discard = self._conn, self._discard
        self._discard = False
        if conn is None:
            return
        if discard or conn.closed or conn.broken:
            self.close()
            return
        status = conn.info.transaction_status
        if status is TransactionStatus.IDLE:
            return
        if status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            try:
                conn.execute("ROLLBACK")
                return
            except psycopg.Error as exc:
                logger.warning("rollback after a failure did not succeed", extra={"error_class": type(exc).__name__})
        self.close()  # ACTIVE or UNKNOWN: a desynchronised protocol state is never reused

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _current_connection(self) -> psycopg.Connection[Any] | None:
        return self._conn


class _Watchdog:
    """One daemon thread per process that cuts the socket of a request whose database deadline has passed.

    Arming and disarming cost a lock; no thread is started per request, and the thread is only woken when it was
    idle with no deadline (a later deadline is picked up when its current wait ends).
    """

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._lock = threading.Condition()
        self._deadline: float | None = None
        self._fired = False
        self._connection: Callable[[], psycopg.Connection[Any] | None] = lambda: None
        self._thread: threading.Thread | None = None
        self._idle = False  # waiting with no deadline: must be notified of a new one

    def arm(self, connection: Callable[[], psycopg.Connection[Any] | None]) -> None:
        with self._lock:
            self._connection = connection
            self._deadline = time.monotonic() + self._seconds
            self._fired = False
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="db-deadline", daemon=True)
                self._thread.start()
            elif self._idle:
                self._lock.notify()

    def disarm(self) -> None:
        with self._lock:
            self._deadline = None
            self._fired = False

    def has_fired(self) -> bool:
        return self._fired

    def _run(self) -> None:
        with self._lock:
            while True:
                if self._deadline is None:
                    self._idle = True
                    self._lock.wait()
                    self._idle = False
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._lock.wait(remaining)
                    continue
                self._deadline = None
                self._fired = True
                _cut(self._connection())


def _cut(conn: psycopg.Connection[Any] | None) -> None:
    """Shut the socket down so a blocked wait returns at once with a lost connection (OperationalError)."""
    if conn is None or conn.closed:
        return
    logger.error("database deadline passed; cutting the connection", extra={"deadline_s": REQUEST_IO_SECONDS})
    try:
        fd = conn.pgconn.socket
        cut = socket.socket(fileno=socket.dup(fd))
    except (OSError, psycopg.Error):
        return
    try:
        cut.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        cut.close()
