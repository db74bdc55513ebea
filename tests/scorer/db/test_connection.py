"""The kept connection: no session state, a bounded request, failure isolation (production contract P1, P2.1)."""

from __future__ import annotations

import time

import psycopg
import pytest
from psycopg import errors as pg_errors

from scorer_lambda.db.connection import Database, DeadlinePassed
from scorer_lambda.db.failures import is_data_failure, is_session_unsafe
from scorer_lambda.errors import DatabaseFailure


def test_statements_are_never_prepared(db_url: str) -> None:
    database = Database(db_url)
    try:
        conn = database.connection()
        for _ in range(8):
            conn.execute("SELECT 1 WHERE %s::int > 0", (1,))
        prepared = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
        assert prepared == (0,), "no server-side prepared statement: RDS Proxy never pins the connection"
    finally:
        database.close()


def test_the_request_deadline_cuts_a_waiting_connection_and_the_next_request_reconnects(db_url: str) -> None:
    database = Database(db_url, request_io_seconds=0.5)
    try:
        database.begin_request()
        first_pid = database.connection().info.backend_pid
        started = time.perf_counter()
        with pytest.raises(psycopg.OperationalError):
            database.connection().execute("SELECT pg_sleep(20)")
        assert time.perf_counter() - started < 3, "cut at the deadline, not after the statement"
        with pytest.raises(DeadlinePassed):
            database.connection()
        database.release()
        database.begin_request()
        assert database.connection().execute("SELECT 1").fetchone() == (1,)
        assert database.connection().info.backend_pid != first_pid
        database.release()
    finally:
        database.close()


def test_an_unsafe_failure_closes_the_connection_at_release(db_url: str) -> None:
    database = Database(db_url)
    try:
        database.begin_request()
        conn = database.connection()
        database.note_failure(DatabaseFailure(pg_errors.AdminShutdown("terminating")))
        database.release()
        assert conn.closed, "closed after a class 57P error"
        database.begin_request()
        conn = database.connection()
        database.note_failure(pg_errors.UniqueViolation("duplicate"))
        database.release()
        assert not conn.closed, "a constraint error leaves the session usable"
    finally:
        database.close()


def test_an_open_transaction_is_rolled_back_at_release(db_url: str) -> None:
    database = Database(db_url)
    try:
        database.begin_request()
        conn = database.connection()
        conn.execute("BEGIN")
        conn.execute("CREATE TABLE left_behind (id int)")
        database.release()
        assert not conn.closed
        found = conn.execute("SELECT to_regclass('left_behind')").fetchone()
        assert found == (None,), "the open transaction was rolled back, not carried into the next request"
    finally:
        database.close()


@pytest.mark.parametrize(("error", "unsafe", "data"), [
    (pg_errors.AdminShutdown("x"), True, False),
    (pg_errors.InvalidSqlStatementName("x"), True, False),
    (pg_errors.ConnectionFailure("x"), True, False),
    (psycopg.OperationalError("client-side, no SQLSTATE"), True, False),
    (pg_errors.LockNotAvailable("x"), False, False),
    (pg_errors.QueryCanceled("x"), False, False),
    (pg_errors.DeadlockDetected("x"), False, False),
    (pg_errors.StringDataRightTruncation("x"), False, True),
    (pg_errors.CheckViolation("x"), False, True),
])
def test_failure_classification(error: psycopg.Error, unsafe: bool, data: bool) -> None:
    assert is_session_unsafe(error) is unsafe
    assert is_data_failure(error) is data
