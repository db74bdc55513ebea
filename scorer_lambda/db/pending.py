"""Statements sent in batches: deferred results, several statements to one round trip.

A ``Batch`` binds its statements' parameters client-side with psycopg (``ClientCursor.mogrify``) and sends them as
one simple-protocol query. Nothing is ever prepared (production contract P1.1), so the server parses and plans
every statement of every request; the simple protocol spares it the unnamed-statement bookkeeping of the extended
protocol and spares the client psycopg's per-statement pipeline work: a read round trip of the scorer costs about a
third less than the same statements in a psycopg pipeline. A failure stops the rest of the batch and does not say
which statement failed; the scoring run asks the server when it needs to know (a savepoint, ``pipeline.py``).

RDS Proxy pins the session of any statement whose text is longer than 16 KB, and client-side binding puts the values
in the text: a batch that would be longer goes out as a psycopg pipeline instead (extended protocol, values bound by
the server, same round trip, same all-or-nothing failure).
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypeVar

import psycopg
from psycopg.pq import ExecStatus

T = TypeVar("T")

# The longest query text sent; RDS Proxy pins the session for a statement text over 16 KB (16384 bytes).
MAX_QUERY_TEXT_BYTES = 16_000


class Pending(Generic[T]):
    """A statement's parsed result; the first ``result()`` sends the batch if it has not gone yet."""

    __slots__ = ("_batch", "_cursor", "_value")

    def __init__(self, batch: Batch) -> None:
        self._batch = batch
        self._cursor: psycopg.Cursor[Any] | None = None  # its own cursor when the batch went out as a pipeline
        self._value: T

    def result(self) -> T:
        self._batch.send()
        return self._value

    def has_succeeded(self) -> bool:
        """Whether the server ran this statement (after a failure, known per statement only in a pipeline)."""
        if self._cursor is not None:
            result = self._cursor.pgresult
            return result is not None and result.status in (ExecStatus.COMMAND_OK, ExecStatus.TUPLES_OK)
        return self._batch.sent_and_succeeded


class Batch:
    """Statements sent in one round trip, on leaving the ``with`` block (or at the first ``result()``): as one
    simple-protocol query with parameters bound client-side by psycopg (``ClientCursor.mogrify``, never formatted
    by hand), or as a pipeline with server-side parameters when ``pipelined`` or when the text would be too long.

    Without an explicit BEGIN in it, the server runs a batch as one implicit transaction.
    """

    def __init__(self, conn: psycopg.Connection[Any], *, pipelined: bool = False) -> None:
        self._conn = conn
        # A pipeline keeps each statement's outcome after a failure (``Pending.has_succeeded``).
        self._pipelined = pipelined
        self._statements: list[tuple[str, Any, Callable[[psycopg.Cursor[Any]], Any], Pending[Any]]] = []
        self._sent = False
        self._error: psycopg.Error | None = None

    @property
    def error(self) -> psycopg.Error | None:
        """The error that stopped the batch, once sent."""
        return self._error

    @property
    def sent_and_succeeded(self) -> bool:
        return self._sent and self._error is None

    def add(self, query: str, params: Any, parse: Callable[[psycopg.Cursor[Any]], T]) -> Pending[T]:
        if self._sent:
            raise RuntimeError("statement added to a batch already sent")
        pending: Pending[T] = Pending(self)
        self._statements.append((query, params, parse, pending))
        return pending

    def send(self) -> None:
        """Run the batch (once); raises the error of the statement that failed, after which none ran."""
        if self._sent:
            if self._error is not None:
                raise self._error
            return
        self._sent = True
        if not self._statements:
            return
        cursor = None if self._pipelined else self._client_cursor()
        # A newline before each separator: a statement ending in a comment cannot swallow it.
        text = None if cursor is None else \
            "\n;\n".join(cursor.mogrify(query, params) for query, params, _, _ in self._statements)
        try:
            if cursor is not None and text is not None and len(text.encode()) <= MAX_QUERY_TEXT_BYTES:
                cursor.execute(text)
            else:
                cursor = None
                self._send_as_pipeline()
        except psycopg.Error as exc:
            self._error = exc
            raise
        for index, (_, _, parse, pending) in enumerate(self._statements):
            if cursor is None:
                pending._value = parse(pending._cursor)  # type: ignore[arg-type]  # set by _send_as_pipeline
                continue
            if index:
                cursor.nextset()
            pending._value = parse(cursor)

    def _client_cursor(self) -> psycopg.ClientCursor[Any]:
        reused = getattr(self._conn, "batch_cursor", None)  # the scorer's connections keep one (db/connection.py)
        return reused() if reused is not None else psycopg.ClientCursor(self._conn)

    def _send_as_pipeline(self) -> None:
        """The same statements with server-side parameters, one cursor each, in one round trip."""
        with self._conn.pipeline():
            for query, params, _, pending in self._statements:
                pending._cursor = self._conn.cursor()
                pending._cursor.execute(query, params)

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.send()
        elif not self._sent:  # abandoned: never sent, and its results never come
            self._sent = True
            self._error = psycopg.InterfaceError("the batch was abandoned before it was sent")


# Where a query function sends its statement: a batch, or a connection (then it is a batch of its own, sent at once).
Executor = psycopg.Connection[Any] | Batch


def run(target: Executor, query: str, params: Any, parse: Callable[[psycopg.Cursor[Any]], T]) -> Pending[T]:
    if isinstance(target, Batch):
        return target.add(query, params, parse)
    batch = Batch(target)
    pending = batch.add(query, params, parse)
    batch.send()
    return pending


def nothing(cursor: psycopg.Cursor[Any]) -> None:
    return None


def first_column(cursor: psycopg.Cursor[Any]) -> list[Any]:
    return [row[0] for row in cursor.fetchall()]


def scalar(cursor: psycopg.Cursor[Any]) -> Any:
    row = cursor.fetchone()
    return None if row is None else row[0]
