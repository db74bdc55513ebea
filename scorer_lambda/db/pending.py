"""Deferred query results, so several statements can share one pipeline round trip."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import psycopg
from psycopg.pq import ExecStatus

T = TypeVar("T")


class Pending(Generic[T]):
    """A statement already sent (or queued in pipeline mode); ``result()`` reads and parses its rows.

    In pipeline mode the first ``result()`` flushes the queue and waits for the server once; the results of
    every statement queued before it arrive in the same round trip.
    """

    __slots__ = ("_cursor", "_parse")

    def __init__(self, cursor: psycopg.Cursor[Any], parse: Callable[[psycopg.Cursor[Any]], T]) -> None:
        self._cursor = cursor
        self._parse = parse

    def result(self) -> T:
        return self._parse(self._cursor)

    def has_succeeded(self) -> bool:
        """Whether the server ran the statement successfully (readable even after a later one failed)."""
        result = self._cursor.pgresult
        return result is not None and result.status in (ExecStatus.COMMAND_OK, ExecStatus.TUPLES_OK)


def run(conn: psycopg.Connection[Any], query: str, params: Any,
        parse: Callable[[psycopg.Cursor[Any]], T]) -> Pending[T]:
    return Pending(conn.cursor().execute(query, params), parse)


def nothing(cursor: psycopg.Cursor[Any]) -> None:
    return None


def first_column(cursor: psycopg.Cursor[Any]) -> list[Any]:
    return [row[0] for row in cursor.fetchall()]


def scalar(cursor: psycopg.Cursor[Any]) -> Any:
    row = cursor.fetchone()
    return None if row is None else row[0]
