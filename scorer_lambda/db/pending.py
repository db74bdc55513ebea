"""Deferred query results, so several statements can share one round trip.

Two ways to send them:

* a psycopg pipeline (extended protocol): statements queued with ``conn.pipeline()`` go out together, each with
  its own result or error, so a caller can tell how far a failed round trip got (``has_succeeded``);
* a ``Batch`` (simple protocol): the statements are bound client-side by psycopg and sent as one query text. The
  server parses and plans them without the unnamed-statement bookkeeping of the extended protocol, which matters
  because nothing is ever prepared (production contract P1.1): a read round trip costs about a third less. A
  failure stops the rest of the batch and tells nothing of which statement failed, so batches carry the round
  trips whose failure is a failure of the whole round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypeVar

import psycopg
from psycopg.pq import ExecStatus

T = TypeVar("T")


class Pending(Generic[T]):
    """A statement already sent or queued; ``result()`` reads and parses its rows."""

    __slots__ = ()

    def result(self) -> T:
        raise NotImplementedError

    def has_succeeded(self) -> bool:
        """Whether the server ran the statement successfully (readable even after a later one failed)."""
        raise NotImplementedError


class _Queued(Pending[T]):
    """A statement sent through a cursor; in pipeline mode the first ``result()`` flushes the queue and waits for
    the server once, and the results of every statement queued before it arrive in the same round trip."""

    __slots__ = ("_cursor", "_parse")

    def __init__(self, cursor: psycopg.Cursor[Any], parse: Callable[[psycopg.Cursor[Any]], T]) -> None:
        self._cursor = cursor
        self._parse = parse

    def result(self) -> T:
        return self._parse(self._cursor)

    def has_succeeded(self) -> bool:
        result = self._cursor.pgresult
        return result is not None and result.status in (ExecStatus.COMMAND_OK, ExecStatus.TUPLES_OK)


class _Batched(Pending[T]):
    __slots__ = ("_batch", "_value")

    def __init__(self, batch: Batch) -> None:
        self._batch = batch
        self._value: T

    def result(self) -> T:
        self._batch.send()
        return self._value

    def has_succeeded(self) -> bool:
        return self._batch.succeeded


class Batch:
    """Statements sent as one simple-protocol query: one round trip, sent on leaving the ``with`` block (or at the
    first ``result()``). Parameters are bound client-side by psycopg (``ClientCursor.mogrify``), never formatted
    by hand.

    Without an explicit BEGIN in it, the server runs a batch as one implicit transaction.
    """

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._statements: list[tuple[str, Any, Callable[[psycopg.Cursor[Any]], Any], _Batched[Any]]] = []
        self._sent = False
        self._error: psycopg.Error | None = None
        self.succeeded = False

    def add(self, query: str, params: Any, parse: Callable[[psycopg.Cursor[Any]], T]) -> Pending[T]:
        if self._sent:
            raise RuntimeError("statement added to a batch already sent")
        pending: _Batched[T] = _Batched(self)
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
            self.succeeded = True
            return
        cursor = psycopg.ClientCursor(self._conn)
        try:
            # A newline before each separator: a statement ending in a comment cannot swallow it.
            cursor.execute("\n;\n".join(cursor.mogrify(query, params) for query, params, _, _ in self._statements))
        except psycopg.Error as exc:
            self._error = exc
            raise
        for index, (_, _, parse, pending) in enumerate(self._statements):
            if index:
                cursor.nextset()
            pending._value = parse(cursor)
        self.succeeded = True

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.send()


# Where a query function sends its statement: a connection (alone or in its pipeline) or a batch.
Executor = psycopg.Connection[Any] | Batch


def run(target: Executor, query: str, params: Any, parse: Callable[[psycopg.Cursor[Any]], T]) -> Pending[T]:
    if isinstance(target, Batch):
        return target.add(query, params, parse)
    return _Queued(target.cursor().execute(query, params), parse)


def nothing(cursor: psycopg.Cursor[Any]) -> None:
    return None


def first_column(cursor: psycopg.Cursor[Any]) -> list[Any]:
    return [row[0] for row in cursor.fetchall()]


def scalar(cursor: psycopg.Cursor[Any]) -> Any:
    row = cursor.fetchone()
    return None if row is None else row[0]
