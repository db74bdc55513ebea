"""Statements sent together as one simple-protocol query (``Batch``), on a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from scorer_lambda.db import tx
from scorer_lambda.db.connection import Database
from scorer_lambda.db.pending import MAX_QUERY_TEXT_BYTES, Batch, first_column, nothing, run, scalar


@pytest.fixture
def database(db_url: str) -> Any:
    database = Database(db_url)
    yield database
    database.close()


def test_a_batch_is_one_round_trip_and_each_statement_gets_its_own_result(database: Database) -> None:
    conn = database.connection()
    database.meter.reset()
    with Batch(conn) as batch:
        one = run(batch, "SELECT %(n)s::int + 1", {"n": 1}, scalar)
        rows = run(batch, "SELECT x FROM generate_series(1, %s) AS x ORDER BY x", (3,), first_column)
        none = run(batch, "SELECT 1 WHERE false", None, scalar)
        began = tx.begin(batch)
        tx.bound_lock_waits(batch)
        timeout = run(batch, "SELECT current_setting('lock_timeout')", None, scalar)
        tx.commit(batch)
    assert database.meter.round_trips == 1
    assert (one.result(), rows.result(), none.result(), began.result(), timeout.result()) == (2, [1, 2, 3], None,
                                                                                             None, "3s")
    assert conn.execute("SELECT current_setting('lock_timeout')").fetchone() == ("0",), \
        "SET LOCAL-style state ends with the batch's transaction"


def test_the_first_result_sends_a_batch_that_is_still_open(database: Database) -> None:
    conn = database.connection()
    batch = Batch(conn)
    pending = run(batch, "SELECT 42", None, scalar)
    assert pending.result() == 42
    with pytest.raises(RuntimeError):
        run(batch, "SELECT 1", None, scalar)


def test_values_are_bound_by_the_driver_never_spliced(database: Database, db: psycopg.Connection[Any]) -> None:
    hostile = ["'; DROP TABLE registry_event; --", "back\\slash", "quote'\"", "$1 %s %(x)s", "ünïcødé ✓", "E'\\x41'"]
    moment = datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC)
    with Batch(database.connection()) as batch:
        texts = run(batch, "SELECT unnest(%(values)s::text[])", {"values": hostile}, first_column)
        document = run(batch, "SELECT %s::jsonb", (Jsonb({"k": hostile}),), scalar)
        when = run(batch, "SELECT %s::timestamptz", (moment,), scalar)
        numbers = run(batch, "SELECT %s::bigint[]", ([2**40, -1, 0],), scalar)
        empty = run(batch, "SELECT cardinality(%s::text[])", ([],), scalar)
    assert texts.result() == hostile
    assert document.result() == {"k": hostile}
    assert when.result() == moment
    assert numbers.result() == [2**40, -1, 0]
    assert empty.result() == 0
    assert db.execute("SELECT to_regclass('registry_event') IS NOT NULL").fetchone() == (True,)


def test_a_statement_ending_in_a_comment_does_not_swallow_the_next(database: Database) -> None:
    with Batch(database.connection()) as batch:
        first = run(batch, "SELECT 1 -- a trailing comment", None, scalar)
        second = run(batch, "SELECT 2", None, scalar)
    assert (first.result(), second.result()) == (1, 2)


# A value this long makes the batch's text too long for RDS Proxy: it goes out with server-side parameters.
BIG = "x" * MAX_QUERY_TEXT_BYTES


def test_a_batch_too_long_for_rds_proxy_sends_its_values_apart_in_one_round_trip(database: Database) -> None:
    conn = database.connection()
    database.meter.reset()
    with Batch(conn) as batch:
        length = run(batch, "SELECT length(%s::text)", (BIG,), scalar)
        text = run(batch, "SELECT octet_length(current_query())", None, scalar)
        rows = run(batch, "SELECT x FROM generate_series(1, %s) AS x ORDER BY x", (3,), first_column)
    assert database.meter.round_trips == 1
    assert (length.result(), rows.result()) == (len(BIG), [1, 2, 3])
    assert text.result() < 100, "the server saw the statement's own text, not the values"


def test_a_short_batch_is_one_query_text(database: Database) -> None:
    with Batch(database.connection()) as batch:
        run(batch, "SELECT %s::text", ("a value",), scalar)
        text = run(batch, "SELECT current_query()", None, scalar)
    assert "'a value'" in text.result() and "current_query()" in text.result()


@pytest.mark.parametrize("padding", ["", BIG], ids=["one query text", "server-side parameters"])
def test_a_failing_statement_stops_the_batch_and_its_error_is_raised(database: Database, db: psycopg.Connection[Any],
                                                                    padding: str) -> None:
    conn = database.connection()
    batch = Batch(conn)
    run(batch, "SELECT length(%s::text)", (padding,), scalar)
    before = run(batch, "INSERT INTO account_addresslist (name) VALUES ('before') RETURNING id", None, scalar)
    run(batch, "SELECT 1 / %s", (0,), scalar)
    after = run(batch, "INSERT INTO account_addresslist (name) VALUES ('after')", None, nothing)
    with pytest.raises(pg_errors.DivisionByZero), batch:
        pass
    for pending in (before, after):
        with pytest.raises(pg_errors.DivisionByZero):
            pending.result()
    # Without an explicit BEGIN the batch is one implicit transaction: the statement before the failure is undone.
    assert db.execute("SELECT count(*) FROM account_addresslist").fetchone() == (0,)
    assert conn.execute("SELECT 1").fetchone() == (1,), "the connection stays usable"


def test_a_failure_inside_an_explicit_transaction_leaves_it_to_the_caller(database: Database) -> None:
    conn = database.connection()
    with pytest.raises(pg_errors.UndefinedTable), Batch(conn) as batch:
        tx.begin(batch)
        run(batch, "SELECT * FROM no_such_table", None, nothing)
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
    tx.ensure_idle(conn)
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_a_batch_left_by_an_exception_is_never_sent(database: Database) -> None:
    conn = database.connection()
    database.meter.reset()
    with pytest.raises(KeyError), Batch(conn) as batch:
        pending = run(batch, "SELECT 1", None, scalar)
        raise KeyError("the caller gave up")
    assert database.meter.round_trips == 0
    with pytest.raises(psycopg.InterfaceError):
        pending.result()
    assert database.meter.round_trips == 0, "an abandoned batch is never sent later"


def test_an_empty_batch_costs_no_round_trip(database: Database) -> None:
    conn = database.connection()
    database.meter.reset()
    with Batch(conn):
        pass
    assert database.meter.round_trips == 0


def test_a_statement_on_a_connection_is_a_batch_of_its_own_sent_at_once(database: Database) -> None:
    conn = database.connection()
    database.meter.reset()
    pending = run(conn, "SELECT %s::int * 2", (21,), scalar)
    assert database.meter.round_trips == 1
    assert pending.result() == 42
    with pytest.raises(pg_errors.UndefinedTable):
        run(conn, "SELECT * FROM no_such_table", None, nothing)


def test_a_batch_prepares_nothing(database: Database) -> None:
    conn = database.connection()
    for _ in range(8):
        with Batch(conn) as batch:
            run(batch, "SELECT %s::int", (1,), scalar)
        run(conn, "SELECT %s::int", (1,), scalar)
    assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)


def test_batches_on_the_scorers_connection_share_one_cursor_and_read_their_own_results(database: Database) -> None:
    conn = database.connection()
    cursor = conn.batch_cursor()
    with Batch(conn) as batch:
        first = run(batch, "SELECT 1", None, scalar)
        rows = run(batch, "SELECT x FROM generate_series(1, 3) AS x ORDER BY x", None, first_column)
    with pytest.raises(pg_errors.DivisionByZero):
        run(conn, "SELECT 1 / 0", None, scalar)
    second = run(conn, "SELECT 2", None, scalar)
    assert (first.result(), rows.result(), second.result()) == (1, [1, 2, 3], 2), "results are read as each batch runs"
    assert conn.batch_cursor() is cursor
